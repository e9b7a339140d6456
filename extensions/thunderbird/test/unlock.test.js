import assert from "node:assert/strict";
import { test } from "node:test";
import { DaemonError } from "../lib/daemon.js";
import { withUnlock } from "../lib/unlock.js";
import { promptWording } from "../prompt/wording.js";

const error = (kind, data = {}) => new DaemonError({ code: 1, message: kind, data: { kind, ...data } });

/** A daemon whose `call`s are answered by `answers[method]` (a function or a list of them). */
function fakeDaemon(answers) {
  const calls = [];
  return {
    calls,
    async call(method, params) {
      calls.push([method, params]);
      const answer = Array.isArray(answers[method]) ? answers[method].shift() : answers[method];
      return answer(params);
    },
  };
}

test("a locked key: the passphrase is asked for, the key unlocked and the operation run again", async () => {
  let locked = true;
  const daemon = fakeDaemon({
    "key.unlock": [
      () => {
        throw error("wrong_password");
      },
      () => {
        locked = false;
        return { key_id: "ab", unlocked_for_seconds: 600 };
      },
    ],
  });
  const asked = [];
  const result = await withUnlock(
    async () => {
      if (locked) {
        throw error("key_locked", { key_id: "ab" });
      }
      return "signed";
    },
    {
      daemon,
      ask: async (request) => (asked.push(request), { secret: asked.length === 1 ? "wrong" : "right" }),
      describeKey: async () => ["ann@example.com"],
    },
  );
  assert.equal(result, "signed");
  assert.deepEqual(
    asked.map((r) => [r.kind, r.key_id, r.emails, r.retry]),
    [
      ["passphrase", "ab", ["ann@example.com"], ""],
      ["passphrase", "ab", ["ann@example.com"], "That passphrase was wrong; try again."],
    ],
  );
  assert.deepEqual(daemon.calls.map((c) => c[1].passphrase), ["wrong", "right"]);
});

test("a card's PIN goes to token.login; cancelling gives the daemon's error back", async () => {
  const daemon = fakeDaemon({ "token.login": () => ({ token: "Ann's card", logged_in_for_seconds: 600 }) });
  let loggedIn = false;
  const operation = async () => {
    if (!loggedIn) {
      loggedIn = daemon.calls.length > 0;
      if (!loggedIn) {
        throw error("pin_required", { token: "Ann's card" });
      }
    }
    return "ok";
  };
  assert.equal(await withUnlock(operation, { daemon, ask: async () => ({ secret: "123456" }) }), "ok");
  assert.deepEqual(daemon.calls, [["token.login", { token: "Ann's card", pin: "123456" }]]);

  const refused = await withUnlock(
    async () => {
      throw error("pin_required", { token: "Ann's card" });
    },
    { daemon, ask: async () => ({ cancelled: true }) },
  ).catch((e) => e);
  assert.equal(refused.kind, "pin_required");
});

test("other errors pass straight through, and prompts are limited", async () => {
  const notFound = await withUnlock(
    async () => {
      throw error("cert_not_found");
    },
    { daemon: fakeDaemon({}), ask: async () => assert.fail("no prompt") },
  ).catch((e) => e);
  assert.equal(notFound.kind, "cert_not_found");

  let prompts = 0;
  const daemon = fakeDaemon({
    "key.unlock": () => {
      throw error("wrong_password");
    },
  });
  const stillLocked = await withUnlock(
    async () => {
      throw error("key_locked", { key_id: "ab" });
    },
    { daemon, ask: async () => (prompts++, { secret: "x" }) },
    2,
  ).catch((e) => e);
  assert.equal(stillLocked.kind, "key_locked");
  assert.equal(prompts, 2);
});

test("prompt wording", () => {
  assert.match(promptWording({ kind: "pin", token: "Ann's card" }).why, /"Ann's card"/);
  const key = promptWording({ kind: "passphrase", emails: ["ann@example.com"], retry: "That passphrase was wrong; try again." });
  assert.match(key.why, /for ann@example.com/);
  assert.equal(key.note, "That passphrase was wrong; try again.");
});
