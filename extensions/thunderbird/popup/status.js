// Shows the daemon's report for the message in this tab.
const [tab] = await messenger.tabs.query({ active: true, currentWindow: true });
const status = await messenger.runtime.sendMessage({ type: "status", tabId: tab.id });
document.getElementById("title").textContent = status?.title ?? "Not checked yet";
document.getElementById("details").textContent = (status?.details ?? []).join("\n");
