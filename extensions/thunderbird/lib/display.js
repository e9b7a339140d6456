// What the message pane shows of a message only the daemon could decrypt: Thunderbird itself
// shows such a message as one `smime.p7m` attachment. The daemon's `mime.display` answer is
// turned here into a view the display script (display/render.js) only has to put into the page.

// The HTML body goes into a sandboxed frame (no scripts, its own origin) whose policy also
// blocks every remote load: a decrypted message must not phone home or run code, as Thunderbird
// ensures for the messages it shows itself.
const HTML_POLICY =
  '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src data:; style-src \'unsafe-inline\'">';

/**
 * The HTML without `<meta http-equiv="refresh">`: a Content-Security-Policy does not govern
 * navigation, and a refresh would load a remote page into the frame when the message is shown.
 */
export function withoutRefresh(html) {
  return html.replace(/<meta\b[^>]*http-equiv\s*=\s*["']?\s*refresh[^>]*>/gi, "");
}

/** A byte count as people read it. */
export function formatSize(bytes) {
  if (bytes < 1024) {
    return `${bytes} bytes`;
  }
  const units = ["KB", "MB", "GB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/**
 * The view of a decrypted message: a banner line, then either `srcdoc` (the HTML body inside
 * its policy) or `text` (the plain body), and the attachments with their labels.
 */
export function decryptedView(shown, banner) {
  const view = { banner, text: null, srcdoc: null, attachments: [] };
  if (shown.html !== null && shown.html !== undefined) {
    view.srcdoc = HTML_POLICY + withoutRefresh(shown.html);
  } else {
    view.text = shown.text ?? "";
  }
  view.attachments = (shown.attachments ?? []).map((attachment) => ({
    filename: attachment.filename,
    data: attachment.data,
    label: `${attachment.filename} (${formatSize(attachment.size)})`,
  }));
  return view;
}
