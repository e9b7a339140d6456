/* The send path's one privileged piece (an Experiment API, chrome context).
 *
 * Thunderbird's message writer (MimeMessage.sys.mjs) hands a message to the object in
 * `gMsgCompose.compFields.composeSecure` when that object says it `requiresCryptoEncapsulation`:
 * the top-level header fields go straight to the output, then `beginCryptoEncapsulation`, then
 * the MIME entity (its Content-* fields, blank line, body) in `mimeCryptoWriteBlock` calls, then
 * `finishCryptoEncapsulation`, which must write the protected content to the output before it
 * returns. Thunderbird's own S/MIME is such an object; this is ours. It collects the entity and,
 * in `finishCryptoEncapsulation`, asks the background page (onEncapsulate → the daemon's
 * smime.sign / smime.encrypt / smime.sign_encrypt through the native-messaging host) for the
 * replacement and writes it. The call is synchronous for Thunderbird, so the event loop turns
 * while the background page and the daemon work. Every decision stays with the daemon; every
 * piece of message text handling is in the background page's lib/compose.js (unit-tested).
 */

/* global ExtensionCommon, ExtensionAPI, Services, Cr, Components, ChromeUtils */
"use strict";

var { ExtensionUtils } = ChromeUtils.importESModule("resource://gre/modules/ExtensionUtils.sys.mjs");
var { MailServices } = ChromeUtils.importESModule("resource:///modules/MailServices.sys.mjs");

// How long a send waits for the daemon before it fails (a hung daemon must not hang Thunderbird).
const ENCAPSULATE_TIMEOUT_MS = 120_000;

/** Our nsIMsgComposeSecure: what Thunderbird calls while it writes the message file. */
class MailsealComposeSecure {
  constructor(choice, encapsulate) {
    this.choice = { sign: !!choice.sign, encrypt: !!choice.encrypt };
    this.encapsulate = encapsulate;
    this.QueryInterface = ChromeUtils.generateQI(["nsIMsgComposeSecure"]);
    this.wrappedJSObject = this;
    this.reset();
  }

  reset() {
    this.stream = null;
    this.blocks = [];
    this.headers = "";
    this.recipients = [];
    this.from = "";
    this.isDraft = false;
  }

  // Thunderbird copies its own S/MIME toggles onto whatever object is installed; ours are the
  // add-on's choice, so those writes are ignored.
  get signMessage() {
    return this.choice.sign;
  }
  set signMessage(_value) {}
  get requireEncryptMessage() {
    return this.choice.encrypt;
  }
  set requireEncryptMessage(_value) {}
  get signFormat() {
    return "";
  }
  set signFormat(_value) {}

  requiresCryptoEncapsulation(_identity, _compFields) {
    return this.choice.sign || this.choice.encrypt;
  }

  beginCryptoEncapsulation(stream, recipients, compFields, headers, _identity, _sendReport, isDraft) {
    this.reset();
    this.stream = stream;
    this.headers = headers ?? "";
    this.isDraft = !!isDraft;
    this.recipients = addresses(recipients);
    this.from = addresses(compFields.from)[0] ?? "";
  }

  mimeCryptoWriteBlock(block, length) {
    this.blocks.push(block.length === length ? block : block.slice(0, length));
  }

  finishCryptoEncapsulation(abort, sendReport) {
    const entity = this.blocks.join("");
    const stream = this.stream;
    const isDraft = this.isDraft;
    const request = {
      choice: { ...this.choice },
      headers: this.headers,
      entity,
      recipients: this.recipients,
      from: this.from,
    };
    this.reset();
    if (abort || !stream) {
      return;
    }
    if (isDraft) {
      // Drafts stay on this computer: written as composed (Thunderbird encrypts its own drafts
      // only with its own S/MIME keys, which Mailseal does not use).
      stream.write(entity, entity.length);
      return;
    }
    let outcome = null;
    Promise.resolve()
      .then(() => this.encapsulate(request))
      .then(
        (value) => (outcome = value ?? { error: "the Mailseal add-on gave no answer" }),
        (error) => (outcome = { error: String(error?.message ?? error) }),
      );
    const deadline = Date.now() + ENCAPSULATE_TIMEOUT_MS;
    Services.tm.spinEventLoopUntil("mailseal:finishCryptoEncapsulation", () => outcome !== null || Date.now() > deadline);
    if (outcome === null) {
      outcome = { error: "Mailseal did not answer in time; the message was not sent" };
    }
    if (outcome.error || typeof outcome.part !== "string") {
      const reason = `Mailseal: ${outcome.error || "no message came back"}`;
      try {
        sendReport.errMessage = reason;
      } catch (_) {
        // an older nsIMsgSendReport: the exception's message still says it
      }
      throw Components.Exception(reason, Cr.NS_ERROR_FAILURE);
    }
    stream.write(outcome.part, outcome.part.length);
  }

  // Certificate look-ups of Thunderbird's own S/MIME: Thunderbird asks its own object for these.
  haveValidCertForEmail(_email) {
    return false;
  }
  getCertDBKeyForEmail(_email) {
    return "";
  }
  cacheValidCertForEmail(_email, _certDBKey) {}
  asyncFindCertByEmailAddr(_email, _callback) {
    throw Components.Exception("not Mailseal's business", Cr.NS_ERROR_NOT_IMPLEMENTED);
  }
}

/** The addresses in a header value (display names and groups dropped). */
function addresses(header) {
  if (!header) {
    return [];
  }
  return MailServices.headerParser
    .parseDecodedHeader(header)
    .flatMap((mailbox) => (mailbox.group ? mailbox.group : [mailbox]))
    .map((mailbox) => mailbox.email)
    .filter(Boolean);
}

this.mailsealCompose = class extends ExtensionCommon.ExtensionAPI {
  constructor(extension) {
    super(extension);
    this.listeners = new Set();
    this.originals = new WeakMap(); // compose window → Thunderbird's own composeSecure
  }

  /** Hands a request to the background page's listener and resolves with its answer. */
  async encapsulate(request) {
    const [fire] = this.listeners;
    if (!fire) {
      return { error: "the Mailseal add-on is not listening (is it still starting?)" };
    }
    return fire.async(request);
  }

  getAPI(context) {
    const api = this;
    return {
      mailsealCompose: {
        async setSecurity(tabId, choice) {
          const tab = context.extension.tabManager.get(tabId);
          const window = tab?.nativeTab;
          const compose = window?.gMsgCompose;
          if (!compose) {
            throw new ExtensionUtils.ExtensionError(`tab ${tabId} is not a compose tab`);
          }
          const fields = compose.compFields;
          const current = fields.composeSecure?.wrappedJSObject;
          if (!api.originals.has(window) && !(current instanceof MailsealComposeSecure)) {
            api.originals.set(window, fields.composeSecure);
          }
          if (choice.sign || choice.encrypt) {
            fields.composeSecure = new MailsealComposeSecure(choice, (request) => api.encapsulate(request));
          } else if (api.originals.has(window)) {
            fields.composeSecure = api.originals.get(window);
          }
          return { sign: !!choice.sign, encrypt: !!choice.encrypt };
        },
        onEncapsulate: new ExtensionCommon.EventManager({
          context,
          name: "mailsealCompose.onEncapsulate",
          register: (fire) => {
            api.listeners.add(fire);
            return () => api.listeners.delete(fire);
          },
        }).api(),
      },
    };
  }
};
