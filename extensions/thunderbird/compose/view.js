// Wording for the compose popup (kept apart from the DOM so that it can be tested).

/** One line per recipient: who can receive encrypted mail, who cannot and why. */
export function recipientLines(recipients) {
  if (recipients.length === 0) {
    return [{ ok: false, text: "No recipients yet." }];
  }
  return recipients.map((r) => ({
    ok: r.usable,
    text: r.usable ? `✔ ${r.email}: ${r.reason}` : `✘ ${r.email}: ${r.reason}`,
  }));
}

/** Why a toggle is locked on, in the company policy's words (from `policy.compose`). */
export function policyLines(policy) {
  if (!policy) {
    return [];
  }
  return [policy.sign, policy.encrypt].filter((toggle) => toggle.required).map((toggle) => `Required: ${toggle.reason}.`);
}
