// The add-on's background page: the read path (every displayed message goes to the daemon's
// `smime.open`, what it says is shown in the message display action, and a message it decrypted
// is shown in the message pane) and the send path
// (the compose action's Sign / Encrypt choice, installed on the compose window before sending
// through the composeSecurity Experiment, whose message text goes to `smime.sign` /
// `smime.encrypt` / `smime.sign_encrypt`). Nothing is decided here: keys, certificates,
// algorithms and trust are the daemon's.

import { encode } from "./lib/base64.js";
import {
  bareAddress,
  choiceTitle,
  daemonRequest,
  defaultChoice,
  enforcePolicy,
  protectedPart,
  recipientReport,
  uniqueAddresses,
} from "./lib/compose.js";
import { Daemon, DaemonError } from "./lib/daemon.js";
import { decryptedView } from "./lib/display.js";
import { binaryStringToBytes, stripMozillaHeaders } from "./lib/message.js";
import { describe, describeError } from "./lib/status.js";
import { withUnlock } from "./lib/unlock.js";

const daemon = new Daemon(() => messenger.runtime.connectNative("mailseal"));

// ---------------------------------------------------------------------------------------------
// Read path

const statusByTab = new Map();
const displayedByTab = new Map(); // tab id → a number per display, so a slow answer for a message
// no longer shown does not overwrite the verdict of the one that is

// Thunderbird would otherwise try (and fail) to decrypt with its own keys and hide the message.
messenger.mailsealReading.takeOverDecryption().catch((error) => console.error("Mailseal:", error));

/** The daemon's `smime.open` of a displayed message: what to show, and the opened message. */
async function check(message) {
  try {
    const raw = await messenger.messages.getRaw(message.id, { decrypt: false });
    const bytes = binaryStringToBytes(stripMozillaHeaders(raw));
    const opened = await daemon.call("smime.open", { message: encode(bytes) });
    return { status: describe(opened), opened };
  } catch (error) {
    return { status: { level: "error", title: describeError(error), details: [] }, opened: null };
  }
}

/** Shows the decrypted message in the message pane, where Thunderbird shows only smime.p7m. */
async function showDecrypted(tabId, opened, status) {
  const shown = await daemon.call("mime.display", { message: opened.message });
  const view = decryptedView(shown, `Mailseal: decrypted for you — ${status.title}`);
  await messenger.tabs.executeScript(tabId, { file: "/display/render.js" });
  await messenger.tabs.sendMessage(tabId, { type: "mailseal.renderDecrypted", view });
}

messenger.messageDisplay.onMessageDisplayed.addListener(async (tab, message) => {
  const display = (displayedByTab.get(tab.id) ?? 0) + 1;
  displayedByTab.set(tab.id, display);
  statusByTab.delete(tab.id);
  await messenger.messageDisplayAction.setTitle({ tabId: tab.id, title: "Mailseal: checking…" });
  await messenger.messageDisplayAction.setBadgeText({ tabId: tab.id, text: "" });
  const { status, opened } = await check(message);
  if (displayedByTab.get(tab.id) !== display) {
    return;
  }
  statusByTab.set(tab.id, status);
  await messenger.messageDisplayAction.setTitle({ tabId: tab.id, title: status.title });
  const badge = { valid: "✔", invalid: "✘", unknown: "?", encrypted: "🔒", error: "!" }[status.level] ?? "";
  await messenger.messageDisplayAction.setBadgeText({ tabId: tab.id, text: badge });
  if (opened?.layers.some((layer) => layer.kind === "encrypted")) {
    await showDecrypted(tab.id, opened, status).catch((error) => console.error("Mailseal: cannot show the decrypted message:", error));
  }
});

// ---------------------------------------------------------------------------------------------
// Send path

const choiceByTab = new Map(); // compose tab id → {sign, encrypt} the user set in the popup

/** Whether the user has an identity in the daemon for `from`, and which. */
async function ownIdentity(from) {
  const address = bareAddress(from).toLowerCase();
  const { identities } = await daemon.call("identity.list", {});
  return identities.find((identity) => identity.certificate.emails.includes(address)) ?? null;
}

/** `cert.find` for each address (or, from an older daemon, `cert.list`). */
async function findCertificates(addresses) {
  return Promise.all(
    addresses.map(async (email) => {
      try {
        return { email, result: await daemon.call("cert.find", { email }) };
      } catch (error) {
        if (error instanceof DaemonError && error.kind === "unknown_method") {
          const { certificates } = await daemon.call("cert.list", { email });
          const current = certificates.find((c) => c.days_to_expiry >= 0) ?? null;
          return { email, result: { certificate: current, source: current ? "store" : null, candidates: [] } };
        }
        return { email, error: describeError(error) };
      }
    }),
  );
}

/** What the compose action knows about this compose tab, for its popup and for sending. */
async function composeState(tabId) {
  const details = await messenger.compose.getComposeDetails(tabId);
  const addresses = uniqueAddresses([...details.to, ...details.cc, ...details.bcc].map(bareAddress));
  const state = { from: bareAddress(details.from ?? ""), chosen: choiceByTab.get(tabId) ?? null, policy: null };
  try {
    const [identity, found, policy] = await Promise.all([
      ownIdentity(details.from ?? ""),
      findCertificates(addresses),
      daemon.call("policy.compose", { from: details.from ?? "", recipients: addresses }),
    ]);
    state.identity = identity ? { key_id: identity.key_id, state: identity.state, location: identity.location } : null;
    state.recipients = recipientReport(found);
    state.policy = policy;
    state.suggested = defaultChoice(policy);
  } catch (error) {
    state.error = describeError(error);
    state.recipients = [];
    state.suggested = null;
  }
  state.choice = state.chosen ?? state.suggested;
  if (state.choice && state.policy) {
    state.choice = enforcePolicy(state.choice, state.policy);
  }
  return state;
}

async function showChoice(tabId, choice, problem) {
  const title = problem ? `Mailseal: ${problem}` : choiceTitle(choice);
  const badge = problem ? "!" : choice.encrypt ? "🔒" : choice.sign ? "✔" : "";
  await messenger.composeAction.setTitle({ tabId, title });
  await messenger.composeAction.setBadgeText({ tabId, text: badge });
}

messenger.compose.onBeforeSend.addListener(async (tab) => {
  const state = await composeState(tab.id);
  // When the company policy could not be asked, nothing leaves in clear (the policy may require
  // protection for these recipients): the message is at least handed to the daemon for signing,
  // and the send then stops with the daemon's reason (e.g. "Mailseal is not running") in
  // Thunderbird's send error if it cannot be done.
  const choice = state.policy ? state.choice : { sign: true, encrypt: !!state.choice?.encrypt };
  await messenger.mailsealCompose.setSecurity(tab.id, choice);
  await showChoice(tab.id, choice, state.error);
  return {};
});

// Passphrase and PIN prompts: a small window of the add-on's; its answer comes back as a message.
const prompts = new Map(); // prompt id → {resolve, windowId}
let nextPrompt = 1;

async function askSecret(request) {
  const id = nextPrompt++;
  const answered = new Promise((resolve) => prompts.set(id, { resolve, windowId: null }));
  const url = messenger.runtime.getURL(`prompt/unlock.html?request=${encodeURIComponent(JSON.stringify({ ...request, id }))}`);
  const window = await messenger.windows.create({ type: "popup", url, width: 440, height: 260, allowScriptsToClose: true });
  if (prompts.has(id)) {
    prompts.get(id).windowId = window.id;
  }
  return answered;
}

function answerPrompt(id, answer) {
  const prompt = prompts.get(id);
  if (prompt) {
    prompts.delete(id);
    prompt.resolve(answer);
    if (prompt.windowId !== null) {
      messenger.windows.remove(prompt.windowId).catch(() => {}); // it may have closed itself
    }
  }
}

messenger.windows.onRemoved.addListener((windowId) => {
  for (const [id, prompt] of prompts) {
    if (prompt.windowId === windowId) {
      answerPrompt(id, { cancelled: true });
    }
  }
});

async function keyEmails(keyId) {
  const { identities } = await daemon.call("identity.list", {});
  return identities.find((identity) => identity.key_id === keyId)?.certificate.emails ?? [];
}

// Thunderbird is writing the message: the daemon signs and/or encrypts it (asking for a
// passphrase or PIN first when it needs one), or says why not, and the send stops.
messenger.mailsealCompose.onEncapsulate.addListener(async (request) => {
  try {
    const { method, params } = daemonRequest(request);
    const result = await withUnlock(() => daemon.call(method, params), { daemon, ask: askSecret, describeKey: keyEmails });
    return { part: protectedPart(atob(result.message)) };
  } catch (error) {
    return { error: describeError(error) };
  }
});

messenger.tabs.onRemoved.addListener((tabId) => {
  choiceByTab.delete(tabId);
  statusByTab.delete(tabId);
  displayedByTab.delete(tabId);
});

// ---------------------------------------------------------------------------------------------
// Popups

messenger.runtime.onMessage.addListener((request) => {
  switch (request?.type) {
    case "status":
      return Promise.resolve(statusByTab.get(request.tabId) ?? null);
    case "composeState":
      return composeState(request.tabId);
    case "promptAnswer":
      answerPrompt(request.id, request.cancelled ? { cancelled: true } : { secret: String(request.secret ?? "") });
      return Promise.resolve(true);
    case "setChoice": {
      const choice = { sign: !!request.choice.sign, encrypt: !!request.choice.encrypt };
      choiceByTab.set(request.tabId, choice);
      return showChoice(request.tabId, choice).then(() => choice);
    }
    default:
      return undefined;
  }
});
