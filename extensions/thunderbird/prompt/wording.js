// Wording of the passphrase / PIN prompt (kept apart from the DOM so that it can be tested).

/** {title, why, note, placeholder} for a prompt request {kind, key_id, token, emails, retry}. */
export function promptWording(request) {
  const note = request.retry ? request.retry : "";
  if (request.kind === "pin") {
    return {
      title: "Smart card PIN",
      why: `Sending this message needs your smart card "${request.token}". Enter its PIN.`,
      note,
      placeholder: "PIN",
    };
  }
  const whose = request.emails?.length ? ` for ${request.emails.join(", ")}` : "";
  return {
    title: "Unlock your Mailseal key",
    why: `Sending this message needs your key${whose}, which is locked. Enter its passphrase.`,
    note,
    placeholder: "Passphrase",
  };
}
