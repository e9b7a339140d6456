import assert from "node:assert/strict";
import { test } from "node:test";
import { decryptedView, formatSize, withoutRefresh } from "../lib/display.js";

const SHOWN = {
  subject: "plan",
  text: "Grüße, the plan is attached.\r\n",
  html: null,
  attachments: [{ filename: "plan.csv", content_type: "text/csv", size: 2048, data: "d2hv" }],
};

test("a plain decrypted message is shown as text, with its attachments", () => {
  const view = decryptedView(SHOWN, "Mailseal: decrypted for you");
  assert.equal(view.banner, "Mailseal: decrypted for you");
  assert.equal(view.text, "Grüße, the plan is attached.\r\n");
  assert.equal(view.srcdoc, null);
  assert.deepEqual(view.attachments, [{ filename: "plan.csv", data: "d2hv", label: "plan.csv (2.0 KB)" }]);
});

test("an HTML body goes into a frame whose policy blocks scripts and remote content", () => {
  const view = decryptedView({ ...SHOWN, html: '<p>hi</p><img src="https://tracker.example/x.png">' }, "b");
  assert.equal(view.text, null, "the HTML is shown, not the text beside it");
  assert.ok(view.srcdoc.startsWith('<meta http-equiv="Content-Security-Policy" content="default-src \'none\';'), view.srcdoc);
  assert.ok(view.srcdoc.endsWith('<p>hi</p><img src="https://tracker.example/x.png">'));
});

test("a refresh that would load a remote page is taken out of the HTML", () => {
  assert.equal(withoutRefresh('<META HTTP-EQUIV="Refresh" content="0; url=https://x.example/">hi'), "hi");
  assert.equal(withoutRefresh("<meta http-equiv=refresh content='0;url=https://x.example/'><p>a</p>"), "<p>a</p>");
  assert.equal(withoutRefresh('<meta charset="utf-8"><p>b</p>'), '<meta charset="utf-8"><p>b</p>');
  const view = decryptedView({ html: '<meta http-equiv="refresh" content="0;url=https://t.example/">x', attachments: [] }, "b");
  assert.ok(!view.srcdoc.includes("t.example"), view.srcdoc);
});

test("a message without any body shows an empty text", () => {
  assert.equal(decryptedView({ text: null, html: null, attachments: [] }, "b").text, "");
});

test("sizes read as people read them", () => {
  assert.equal(formatSize(0), "0 bytes");
  assert.equal(formatSize(1023), "1023 bytes");
  assert.equal(formatSize(1536), "1.5 KB");
  assert.equal(formatSize(20 * 1024 * 1024), "20 MB");
});
