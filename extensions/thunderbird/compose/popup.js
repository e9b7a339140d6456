// The compose action's popup: the Sign / Encrypt choice for this message and, for each
// recipient, whether the daemon has a certificate to encrypt to (and why not).
import { policyLines, recipientLines } from "./view.js";

const [tab] = await messenger.tabs.query({ active: true, currentWindow: true });
const state = await messenger.runtime.sendMessage({ type: "composeState", tabId: tab.id });
const sign = document.getElementById("sign");
const encrypt = document.getElementById("encrypt");
sign.checked = !!state.choice?.sign;
encrypt.checked = !!state.choice?.encrypt;
// What the company policy requires cannot be switched off here (and is enforced on send anyway).
sign.disabled = !!state.policy?.sign.required;
encrypt.disabled = !!state.policy?.encrypt.required;
document.getElementById("policy").textContent = policyLines(state.policy).join(" ");
document.getElementById("problem").textContent = state.error ?? (state.identity ? "" : `No key of yours for ${state.from || "the sender"}: signing is not possible.`);
const list = document.getElementById("recipients");
for (const line of recipientLines(state.recipients ?? [])) {
  const item = document.createElement("li");
  item.textContent = line.text;
  item.className = line.ok ? "yes" : "no";
  list.append(item);
}
const save = () =>
  messenger.runtime.sendMessage({ type: "setChoice", tabId: tab.id, choice: { sign: sign.checked, encrypt: encrypt.checked } });
sign.addEventListener("change", save);
encrypt.addEventListener("change", save);
document.body.dataset.ready = "true"; // filled in (the end-to-end test waits for this)
