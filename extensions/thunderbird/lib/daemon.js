// The add-on's line to the user's mailseald, through the native-messaging host
// (`mailseald native-host`, see protocol/README.md "Native messaging").
//
// Requests are Mailseal protocol requests (JSON-RPC 2.0); replies over Thunderbird's 1 MiB
// limit arrive in chunks whose base64 slices concatenate into the whole reply. Every decision is
// the daemon's: this file only carries requests and replies.

import { decode } from "./base64.js";

/** A protocol error from the daemon (or the host), with its machine-readable kind. */
export class DaemonError extends Error {
  constructor(error) {
    super(error.message);
    this.name = "DaemonError";
    this.code = error.code;
    this.data = error.data ?? {};
    this.kind = this.data.kind ?? "unknown";
  }
}

/**
 * A connection to the daemon over a native-messaging port. `connect` opens the port: in
 * Thunderbird `() => messenger.runtime.connectNative("mailseal")`; in tests, a fake port.
 */
export class Daemon {
  constructor(connect) {
    this.connect = connect;
    this.port = null;
    this.nextId = 1;
    this.pending = new Map(); // id → {resolve, reject, chunks}
  }

  /** Calls a protocol method and resolves with its result, or rejects with a DaemonError. */
  call(method, params = {}) {
    const port = this.open();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, chunks: [] });
      port.postMessage({ jsonrpc: "2.0", id, method, params });
    });
  }

  open() {
    if (this.port) {
      return this.port;
    }
    const port = this.connect();
    port.onMessage.addListener((message) => this.receive(message));
    port.onDisconnect.addListener(() => this.disconnected());
    this.port = port;
    return port;
  }

  receive(message) {
    const waiting = this.pending.get(message.id);
    if (!waiting) {
      return; // a reply to a request we gave up on
    }
    if (message.chunk) {
      waiting.chunks[message.chunk.index] = message.chunk.data;
      if (waiting.chunks.filter((c) => c !== undefined).length < message.chunk.count) {
        return;
      }
      const bytes = decode(waiting.chunks.join(""));
      message = JSON.parse(new TextDecoder().decode(bytes));
    }
    this.pending.delete(message.id);
    if (message.error) {
      waiting.reject(new DaemonError(message.error));
    } else {
      waiting.resolve(message.result);
    }
  }

  disconnected() {
    this.port = null;
    const error = new DaemonError({
      code: -32003,
      message: "the Mailseal helper stopped; is mailseald installed?",
      data: { kind: "daemon_unavailable" },
    });
    for (const waiting of this.pending.values()) {
      waiting.reject(error);
    }
    this.pending.clear();
  }
}
