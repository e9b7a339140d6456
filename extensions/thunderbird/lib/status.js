// What the user sees about a message after the daemon opened it (`smime.open`): one line for the
// toolbar and the details for the popup. Wording only; every verdict is the daemon's.

const CHECK_WORDS = {
  signature: "signature",
  digest: "message unchanged",
  chain: "issued by a trusted authority",
  validity_at_signing: "certificate valid when signed",
  validity_now: "certificate valid now",
  key_usage: "key may sign",
  extended_key_usage: "certificate is for e-mail",
  address: "sender address matches the certificate",
  algorithms: "strong algorithms",
  revocation: "certificate not revoked",
};

/**
 * Summarises an `smime.open` result: `level` is "valid", "invalid", "unknown", "encrypted" or
 * "none"; `title` is one line; `details` are lines for the popup.
 */
export function describe(result) {
  const layers = result.layers ?? [];
  if (layers.length === 0) {
    return { level: "none", title: "Not signed or encrypted", details: [] };
  }
  const details = [];
  let encrypted = false;
  let worst = null;
  const rank = { valid: 0, unknown: 1, invalid: 2 };
  for (const layer of layers) {
    if (layer.kind === "encrypted") {
      encrypted = true;
      details.push(`Encrypted for you (${layer.algorithm})`);
    } else if (layer.kind === "signed") {
      for (const report of layer.signatures) {
        const who = report.signer?.emails?.join(", ") || "an unknown signer";
        details.push(`Signature by ${who}: ${report.verdict}`);
        for (const check of report.checks) {
          const mark = { pass: "✔", fail: "✘", not_checked: "–" }[check.outcome] ?? "?";
          details.push(`  ${mark} ${CHECK_WORDS[check.name] ?? check.name}: ${check.reason}`);
        }
        if (worst === null || rank[report.verdict] > rank[worst.verdict]) {
          worst = report;
        }
      }
    }
  }
  if (worst) {
    const who = worst.signer?.emails?.join(", ") || "an unknown signer";
    const lock = encrypted ? "Encrypted; " : "";
    if (worst.verdict === "valid") {
      return { level: "valid", title: `${lock}signed by ${who}`, details };
    }
    const failed = worst.checks.find((c) => c.outcome === "fail");
    const why = failed ? ` (${CHECK_WORDS[failed.name] ?? failed.name} failed)` : " (could not be fully checked)";
    return { level: worst.verdict, title: `${lock}signature NOT valid${why}`, details };
  }
  return { level: "encrypted", title: "Encrypted for you", details };
}

/** The words for a daemon error the user can act on. */
export function describeError(error) {
  switch (error.kind) {
    case "daemon_unavailable":
      return "Mailseal is not running: start it (systemctl --user start mailseald).";
    case "key_locked":
      return "Your key is locked: unlock it with `mailseal unlock`.";
    case "pin_required":
      return `Your smart card "${error.data.token}" needs its PIN.`;
    case "not_a_recipient":
      return "This message was not encrypted for any of your keys.";
    case "decryption_failed":
      return "The message could not be decrypted: it may have been damaged or tampered with.";
    default:
      return error.message;
  }
}
