import assert from "node:assert/strict";
import { test } from "node:test";
import { encode } from "../lib/base64.js";
import { Daemon, DaemonError } from "../lib/daemon.js";

/** A stand-in for Thunderbird's port: answers with what `reply(request)` returns. */
function fakePort(reply) {
  const listeners = { message: [], disconnect: [] };
  const port = {
    posted: [],
    onMessage: { addListener: (f) => listeners.message.push(f) },
    onDisconnect: { addListener: (f) => listeners.disconnect.push(f) },
    postMessage(request) {
      port.posted.push(request);
      for (const message of reply(request)) {
        queueMicrotask(() => listeners.message.forEach((f) => f(message)));
      }
    },
    disconnect: () => listeners.disconnect.forEach((f) => f()),
  };
  return port;
}

test("a result resolves and an error rejects with its kind", async () => {
  const port = fakePort((request) =>
    request.method === "daemon.ping"
      ? [{ jsonrpc: "2.0", id: request.id, result: {} }]
      : [{ jsonrpc: "2.0", id: request.id, error: { code: -32601, message: "unknown method", data: { kind: "unknown_method" } } }],
  );
  const daemon = new Daemon(() => port);
  assert.deepEqual(await daemon.call("daemon.ping"), {});
  const error = await daemon.call("daemon.fly").catch((e) => e);
  assert.ok(error instanceof DaemonError);
  assert.equal(error.kind, "unknown_method");
  assert.equal(port.posted[1].jsonrpc, "2.0");
  assert.notEqual(port.posted[0].id, port.posted[1].id);
});

test("a chunked reply is reassembled, even out of order", async () => {
  const whole = JSON.stringify({ jsonrpc: "2.0", id: 1, result: { message: "x".repeat(10_000) + "ü" } });
  const bytes = new TextEncoder().encode(whole);
  const size = 3 * 1000; // every slice but the last a multiple of 3 bytes, as the host sends them
  const chunks = [];
  for (let i = 0; i < bytes.length; i += size) {
    chunks.push(encode(bytes.subarray(i, i + size)));
  }
  const port = fakePort((request) =>
    chunks
      .map((data, index) => ({ jsonrpc: "2.0", id: request.id, chunk: { index, count: chunks.length, data } }))
      .reverse(),
  );
  const result = await new Daemon(() => port).call("smime.sign", {});
  assert.equal(result.message, "x".repeat(10_000) + "ü");
});

test("a closed port fails what is pending as daemon_unavailable and reconnects later", async () => {
  let opened = 0;
  let last;
  const daemon = new Daemon(() => {
    opened++;
    last = fakePort(() => []);
    return last;
  });
  const pending = daemon.call("smime.open", {});
  last.disconnect();
  const error = await pending.catch((e) => e);
  assert.equal(error.kind, "daemon_unavailable");
  daemon.call("daemon.ping").catch(() => {});
  assert.equal(opened, 2);
});
