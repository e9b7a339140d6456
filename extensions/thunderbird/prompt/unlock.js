// Asks for the passphrase of a locked key or the PIN of a smart card, for a message being sent.
// The secret goes to the background page, which hands it to the daemon (key.unlock /
// token.login) and forgets it; this window closes.
import { promptWording } from "./wording.js";

const params = new URLSearchParams(location.search);
const request = JSON.parse(params.get("request") ?? "{}");
const wording = promptWording(request);
document.title = wording.title;
document.getElementById("title").textContent = wording.title;
document.getElementById("why").textContent = wording.why;
document.getElementById("note").textContent = wording.note;
const secret = document.getElementById("secret");
secret.placeholder = wording.placeholder;

let answered = false;
async function answer(value) {
  answered = true;
  await messenger.runtime.sendMessage({ type: "promptAnswer", id: request.id, ...value });
  window.close();
}
document.getElementById("form").addEventListener("submit", (event) => {
  event.preventDefault();
  answer({ secret: secret.value });
});
document.getElementById("cancel").addEventListener("click", () => answer({ cancelled: true }));
window.addEventListener("beforeunload", () => {
  if (!answered) {
    messenger.runtime.sendMessage({ type: "promptAnswer", id: request.id, cancelled: true });
  }
});
document.body.dataset.ready = "true"; // filled in (the end-to-end test waits for this)
secret.focus();
