// Runs in the message pane (injected by the background page once the daemon has decrypted the
// displayed message): puts the decrypted message, as the background's view describes it, in
// place of what Thunderbird could show (the encrypted smime.p7m attachment). Only DOM work here.
"use strict";

(() => {
  const ID = "mailseal-decrypted";

  function bytes(base64) {
    const binary = atob(base64);
    const out = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) {
      out[i] = binary.charCodeAt(i);
    }
    return out;
  }

  function render(view) {
    document.getElementById(ID)?.remove();
    const box = document.createElement("div");
    box.id = ID;
    box.style.cssText = "border:1px solid #4a7;border-radius:4px;margin:0 0 1em;padding:0.6em;background:#f6fff8";
    const banner = document.createElement("div");
    banner.className = "mailseal-banner";
    banner.style.cssText = "font-weight:bold;margin-bottom:0.5em";
    banner.textContent = view.banner;
    box.append(banner);
    if (view.srcdoc !== null) {
      const frame = document.createElement("iframe");
      frame.className = "mailseal-html";
      frame.setAttribute("sandbox", "");
      frame.srcdoc = view.srcdoc;
      frame.style.cssText = "width:100%;min-height:20em;border:0;background:white";
      box.append(frame);
    } else {
      const text = document.createElement("pre");
      text.className = "mailseal-text";
      text.style.cssText = "white-space:pre-wrap;font-family:inherit;margin:0";
      text.textContent = view.text;
      box.append(text);
    }
    if (view.attachments.length > 0) {
      const list = document.createElement("ul");
      list.className = "mailseal-attachments";
      for (const attachment of view.attachments) {
        const link = document.createElement("a");
        // Saved, never shown or run by type: the sender's content type is not trusted.
        const blob = new Blob([bytes(attachment.data)], { type: "application/octet-stream" });
        link.href = URL.createObjectURL(blob);
        link.download = attachment.filename;
        link.textContent = attachment.label;
        const item = document.createElement("li");
        item.append(link);
        list.append(item);
      }
      box.append(list);
    }
    document.body.prepend(box);
  }

  browser.runtime.onMessage.addListener((message) => {
    if (message?.type === "mailseal.renderDecrypted") {
      render(message.view);
      return Promise.resolve(true);
    }
    return undefined;
  });
})();
