// The read path: every displayed message goes to the daemon (`smime.open`), and what it says is
// shown in the message display action. Nothing is decided here.

import { encode } from "./lib/base64.js";
import { Daemon } from "./lib/daemon.js";
import { binaryStringToBytes, stripMozillaHeaders } from "./lib/message.js";
import { describe, describeError } from "./lib/status.js";

const daemon = new Daemon(() => messenger.runtime.connectNative("mailseal"));
const statusByTab = new Map();

async function check(tab, message) {
  try {
    const raw = await messenger.messages.getRaw(message.id, { decrypt: false });
    const bytes = binaryStringToBytes(stripMozillaHeaders(raw));
    const opened = await daemon.call("smime.open", { message: encode(bytes) });
    return describe(opened);
  } catch (error) {
    return { level: "error", title: describeError(error), details: [] };
  }
}

messenger.messageDisplay.onMessageDisplayed.addListener(async (tab, message) => {
  const status = await check(tab, message);
  statusByTab.set(tab.id, status);
  await messenger.messageDisplayAction.setTitle({ tabId: tab.id, title: status.title });
  const badge = { valid: "✔", invalid: "✘", unknown: "?", encrypted: "🔒", error: "!" }[status.level] ?? "";
  await messenger.messageDisplayAction.setBadgeText({ tabId: tab.id, text: badge });
});

messenger.runtime.onMessage.addListener((request) => {
  if (request?.type === "status") {
    return Promise.resolve(statusByTab.get(request.tabId) ?? null);
  }
  return undefined;
});
