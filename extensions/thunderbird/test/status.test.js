import assert from "node:assert/strict";
import { test } from "node:test";
import { describe, describeError } from "../lib/status.js";

const check = (name, outcome, reason = "") => ({ name, outcome, reason });
const report = (verdict, checks) => ({
  verdict,
  signer: { emails: ["alice@example.com"] },
  signing_time: "2026-11-23T19:00:00Z",
  checks,
});

test("a valid signature inside encryption", () => {
  const status = describe({
    message: "",
    layers: [
      { kind: "encrypted", algorithm: "aes256-gcm", key_id: "ab" },
      { kind: "signed", mode: "detached", signatures: [report("valid", [check("signature", "pass"), check("address", "pass")])] },
    ],
  });
  assert.equal(status.level, "valid");
  assert.equal(status.title, "Encrypted; signed by alice@example.com");
  assert.ok(status.details.includes("Encrypted for you (aes256-gcm)"));
});

test("an invalid signature names the check that failed", () => {
  const status = describe({
    layers: [{ kind: "signed", mode: "opaque", signatures: [report("invalid", [check("signature", "pass"), check("digest", "fail", "changed")])] }],
  });
  assert.equal(status.level, "invalid");
  assert.match(status.title, /NOT valid \(message unchanged failed\)/);
  assert.ok(status.details.some((line) => line.includes("✘ message unchanged: changed")));
});

test("a revocation left unchecked under soft-fail is shown as such, not as passed", () => {
  const status = describe({
    layers: [{ kind: "signed", mode: "detached", signatures: [report("valid", [check("signature", "pass"), check("revocation", "not_checked", "no CRL distribution point or OCSP responder")])] }],
  });
  assert.equal(status.level, "valid");
  assert.ok(status.details.includes("  – certificate not revoked: no CRL distribution point or OCSP responder"), status.details);
});

test("plain mail and errors", () => {
  assert.equal(describe({ layers: [] }).level, "none");
  assert.match(describeError({ kind: "pin_required", data: { token: "Ann's card" }, message: "" }), /Ann's card/);
  assert.match(describeError({ kind: "daemon_unavailable", data: {}, message: "" }), /not running/);
});
