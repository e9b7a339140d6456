import assert from "node:assert/strict";
import { test } from "node:test";
import {
  bareAddress,
  choiceTitle,
  daemonRequest,
  defaultChoice,
  enforcePolicy,
  methodFor,
  protectedPart,
  recipientReport,
  splitHeader,
  uniqueAddresses,
} from "../lib/compose.js";
import { policyLines, recipientLines } from "../compose/view.js";

// What Thunderbird's message writer hands the compose-security object for a plain-text message.
const HEADERS =
  "Message-ID: <1@example.com>\r\nDate: Mon, 23 Nov 2026 21:04:22 +0000\r\nMIME-Version: 1.0\r\n" +
  "To: Bob <bob@example.com>,\r\n Carol <carol@example.com>\r\nSubject: plan\r\nContent-Language: en-US\r\n" +
  "From: Ann <ann@example.com>\r\n";
const ENTITY = "Content-Type: text/plain; charset=UTF-8; format=flowed\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGr\u00fc\u00dfe\r\n";

test("the method follows the choice", () => {
  assert.equal(methodFor({ sign: true, encrypt: true }), "smime.sign_encrypt");
  assert.equal(methodFor({ sign: true, encrypt: false }), "smime.sign");
  assert.equal(methodFor({ sign: false, encrypt: true }), "smime.encrypt");
  assert.equal(methodFor({ sign: false, encrypt: false }), null);
  assert.throws(() => daemonRequest({ choice: {}, headers: HEADERS, entity: ENTITY }), /neither/);
});

test("the daemon gets the message's own headers, without Content-* fields, then the entity", () => {
  const request = daemonRequest({
    choice: { sign: true, encrypt: true },
    headers: HEADERS,
    entity: ENTITY,
    recipients: ["bob@example.com", "carol@example.com", "BOB@example.com", "dave@example.com"],
  });
  assert.equal(request.method, "smime.sign_encrypt");
  assert.deepEqual(request.params.recipients, ["bob@example.com", "carol@example.com", "dave@example.com"]);
  const message = atob(request.params.message);
  assert.ok(message.startsWith("Message-ID: <1@example.com>\r\n"));
  assert.ok(message.includes("To: Bob <bob@example.com>,\r\n Carol <carol@example.com>\r\n"), "folded fields stay whole");
  assert.ok(!message.includes("Content-Language"), "Content-* fields of the top level stay out");
  assert.ok(message.endsWith("From: Ann <ann@example.com>\r\n" + ENTITY), "the entity follows, bytes unchanged");
});

test("signing alone names no recipients; bare LF headers are made CRLF", () => {
  const request = daemonRequest({
    choice: { sign: true },
    headers: "From: ann@example.com\nSubject: x\n",
    entity: ENTITY,
    recipients: ["bob@example.com"],
  });
  assert.equal(request.method, "smime.sign");
  assert.equal(request.params.recipients, undefined);
  assert.equal(atob(request.params.message), "From: ann@example.com\r\nSubject: x\r\n" + ENTITY);
});

test("what goes into the message is the daemon's Content-* fields and body", () => {
  const body = "MIIRiAYJKoZIhvcNAQcDoIIReTCCEXUCAQAx\r\nggKMMIIBQgIBADAq\r\n";
  const daemonMessage =
    "Message-ID: <1@example.com>\r\nFrom: Ann <ann@example.com>\r\nMIME-Version: 1.0\r\n" +
    'Content-Type: application/pkcs7-mime; smime-type=enveloped-data;\r\n name="smime.p7m"\r\n' +
    "Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"smime.p7m\"\r\n\r\n" +
    body;
  assert.equal(
    protectedPart(daemonMessage),
    'Content-Type: application/pkcs7-mime; smime-type=enveloped-data;\r\n name="smime.p7m"\r\n' +
      "Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"smime.p7m\"\r\n\r\n" +
      body,
  );
  assert.throws(() => protectedPart("From: a@b\r\n\r\nbody"), /no Content-Type/);
});

test("a multipart/signed answer keeps its body byte for byte", () => {
  const body = "This is a signed message.\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b--\r\n";
  const part = protectedPart(`From: a@example.com\nContent-Type: multipart/signed; boundary="b"\n\n${body}`);
  assert.equal(part, `Content-Type: multipart/signed; boundary="b"\r\n\r\n${body}`);
});

test("header splitting", () => {
  assert.deepEqual(splitHeader("A: 1\r\n\tmore\r\nB: 2\r\n\r\nbody\r\n\r\nmore"), {
    fields: ["A: 1\r\n\tmore\r\n", "B: 2\r\n"],
    body: "body\r\n\r\nmore",
  });
  assert.deepEqual(splitHeader("\r\nbody only"), { fields: [], body: "body only" });
  assert.deepEqual(splitHeader("A: 1\n"), { fields: ["A: 1\n"], body: "" });
});

test("addresses", () => {
  assert.equal(bareAddress("Bob Example <bob@example.com>"), "bob@example.com");
  assert.equal(bareAddress(" bob@example.com "), "bob@example.com");
  assert.deepEqual(uniqueAddresses(["a@x", " A@X ", "", "b@x"]), ["a@x", "b@x"]);
});

test("the recipient check says who can receive encrypted mail and why not", () => {
  const report = recipientReport([
    {
      email: "bob@example.com",
      result: { certificate: { not_after: "2027-11-23T19:00:00Z" }, source: "directory", candidates: [] },
    },
    {
      email: "carol@example.com",
      result: { certificate: null, source: null, candidates: [{ usable: false, reason: "expired on 2021-01-01T00:00:00Z" }] },
    },
    { email: "dave@example.com", result: { certificate: null, source: null, candidates: [] } },
    { email: "eve@example.com", error: "Mailseal is not running" },
  ]);
  assert.deepEqual(
    report.map((r) => [r.email, r.usable, r.reason]),
    [
      ["bob@example.com", true, "certificate (directory), valid until 2027-11-23"],
      ["carol@example.com", false, "no usable certificate: expired on 2021-01-01T00:00:00Z"],
      ["dave@example.com", false, "no certificate known"],
      ["eve@example.com", false, "Mailseal is not running"],
    ],
  );
  assert.deepEqual(recipientReport([]), []);
  assert.deepEqual(recipientLines(report.slice(0, 2)), [
    { ok: true, text: "✔ bob@example.com: certificate (directory), valid until 2027-11-23" },
    { ok: false, text: "✘ carol@example.com: no usable certificate: expired on 2021-01-01T00:00:00Z" },
  ]);
  assert.deepEqual(recipientLines([]), [{ ok: false, text: "No recipients yet." }]);
});

const POLICY = {
  sign: { default: true, required: false, reason: "signing is on by default" },
  encrypt: { default: false, required: true, reason: "company policy requires encryption for mail to example.com" },
};

test("the default choice is the policy's, and what it requires is always sent", () => {
  assert.deepEqual(defaultChoice(POLICY), { sign: true, encrypt: false });
  assert.deepEqual(enforcePolicy({ sign: false, encrypt: false }, POLICY), { sign: false, encrypt: true });
  assert.deepEqual(enforcePolicy({ sign: true, encrypt: true }, POLICY), { sign: true, encrypt: true });
  assert.deepEqual(enforcePolicy({ sign: false, encrypt: false }, null), { sign: false, encrypt: false }, "no answer: the choice as it is");
  assert.deepEqual(policyLines(POLICY), ["Required: company policy requires encryption for mail to example.com."]);
  assert.deepEqual(policyLines(null), []);
  assert.equal(choiceTitle({ sign: true, encrypt: true }), "Mailseal: signed and encrypted");
  assert.equal(choiceTitle({ sign: false, encrypt: false }), "Mailseal: neither signed nor encrypted");
});
