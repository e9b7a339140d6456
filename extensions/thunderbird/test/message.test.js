import assert from "node:assert/strict";
import { test } from "node:test";
import { binaryStringToBytes, stripMozillaHeaders } from "../lib/message.js";

test("Thunderbird's bookkeeping headers are removed, nothing else", () => {
  const stored =
    "From - Mon Nov 23 10:00:00 2026\r\nX-Mozilla-Status: 0001\r\nX-Mozilla-Status2: 00000000\r\nX-Mozilla-Keys:\r\n  folded\r\n" +
    "From: Ann <ann@example.com>\r\nSubject: hi\r\nX-Mailer: other\r\n\r\nX-Mozilla-Status: stays in the body\r\n";
  assert.equal(
    stripMozillaHeaders(stored),
    "From: Ann <ann@example.com>\r\nSubject: hi\r\nX-Mailer: other\r\n\r\nX-Mozilla-Status: stays in the body\r\n",
  );
  assert.equal(stripMozillaHeaders("Subject: x\n\nbody"), "Subject: x\n\nbody");
});

test("binary strings become bytes", () => {
  assert.deepEqual([...binaryStringToBytes("A\u00ff\u0000")], [65, 255, 0]);
});
