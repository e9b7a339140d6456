// The send path's text handling: what the daemon is asked when Thunderbird sends a message with
// Mailseal's security, and what of its answer goes into the message. The privileged Experiment
// (experiments/composeSecurity) only carries these strings between Thunderbird and here.
//
// Message text is carried as "binary strings" (one character per byte), the way Thunderbird's
// message writer hands it out and takes it back; btoa/atob turn them into the protocol's base64.

/** The daemon method for a sign/encrypt choice, or null when neither is chosen. */
export function methodFor(choice) {
  if (choice.sign && choice.encrypt) {
    return "smime.sign_encrypt";
  }
  if (choice.sign) {
    return "smime.sign";
  }
  if (choice.encrypt) {
    return "smime.encrypt";
  }
  return null;
}

/**
 * Splits a message (or entity) into its header fields, each with its folded continuation lines,
 * and the rest after the blank line (`body`, without the blank line). Line ends are kept.
 */
export function splitHeader(text) {
  const match = /\r?\n\r?\n/.exec(text);
  let head;
  let body;
  if (match) {
    head = text.slice(0, match.index + match[0].indexOf("\n") + 1);
    body = text.slice(match.index + match[0].length);
  } else if (/^\r?\n/.test(text)) {
    head = "";
    body = text.replace(/^\r?\n/, "");
  } else {
    head = text;
    body = "";
  }
  const fields = [];
  for (const line of head.split(/(?<=\n)/)) {
    if (line === "") {
      continue;
    }
    if (/^[ \t]/.test(line) && fields.length > 0) {
      fields[fields.length - 1] += line;
    } else {
      fields.push(line);
    }
  }
  return { fields, body };
}

const isContentField = (field) => /^content-[a-z0-9-]*:/i.test(field);
const withCrlf = (field) => field.replace(/\r?\n/g, "\r\n").replace(/(\r\n)?$/, "\r\n");

/**
 * The request for the daemon: the message's own header fields (without Content-* fields, which
 * belong to the entity being protected) followed by the entity. `request` is what the
 * Experiment collected: {choice, headers, entity, recipients}.
 */
export function daemonRequest(request) {
  const method = methodFor(request.choice);
  if (!method) {
    throw new Error("neither signing nor encryption was chosen");
  }
  const { fields } = splitHeader(request.headers.replace(/(\r?\n)?$/, "\r\n\r\n"));
  const outer = fields
    .filter((field) => !isContentField(field))
    .map(withCrlf)
    .join("");
  const params = { message: btoa(outer + request.entity) };
  if (request.choice.encrypt) {
    params.recipients = uniqueAddresses(request.recipients ?? []);
  }
  return { method, params };
}

/**
 * What replaces the message's content: the Content-* header fields of the daemon's message, a
 * blank line and its body. The other header fields the daemon returns are the ones Thunderbird
 * already wrote.
 */
export function protectedPart(message) {
  const { fields, body } = splitHeader(message);
  const content = fields.filter(isContentField);
  if (!content.some((field) => /^content-type:/i.test(field))) {
    throw new Error("the daemon's message has no Content-Type");
  }
  return content.map(withCrlf).join("") + "\r\n" + body;
}

/** Addresses once each, compared without case, in their first spelling. */
export function uniqueAddresses(addresses) {
  const seen = new Set();
  const unique = [];
  for (const address of addresses) {
    const key = address.trim().toLowerCase();
    if (key && !seen.has(key)) {
      seen.add(key);
      unique.push(address.trim());
    }
  }
  return unique;
}

/** The bare address in "Name <addr>" or "addr". */
export function bareAddress(text) {
  const angle = /<([^<>]*)>\s*$/.exec(text);
  return (angle ? angle[1] : text).trim();
}

/**
 * Who can receive encrypted mail, from the daemon's `cert.find` answers: a list of
 * {email, usable, reason}.
 */
export function recipientReport(found) {
  const recipients = found.map(({ email, result, error }) => {
    if (error) {
      return { email, usable: false, reason: error };
    }
    if (result?.certificate) {
      const where = result.source ? ` (${result.source})` : "";
      const until = result.certificate.not_after ? `, valid until ${result.certificate.not_after.slice(0, 10)}` : "";
      return { email, usable: true, reason: `certificate${where}${until}` };
    }
    const rejected = (result?.candidates ?? []).map((c) => c.reason).filter(Boolean);
    return {
      email,
      usable: false,
      reason: rejected.length ? `no usable certificate: ${rejected.join("; ")}` : "no certificate known",
    };
  });
  return recipients;
}

/**
 * The choice when the user made none: the defaults of the daemon's `policy.compose` answer
 * (the company's rules applied to this message).
 */
export function defaultChoice(policy) {
  return { sign: !!policy.sign.default, encrypt: !!policy.encrypt.default };
}

/**
 * What is sent: the user's choice with every protection the policy requires switched on, so
 * that a message the company requires encrypted never leaves in clear (if it cannot be
 * encrypted, the daemon refuses and the send stops with its reason).
 */
export function enforcePolicy(choice, policy) {
  return {
    sign: !!choice.sign || !!policy?.sign.required,
    encrypt: !!choice.encrypt || !!policy?.encrypt.required,
  };
}

/** The compose action's one line for a choice. */
export function choiceTitle(choice) {
  const method = methodFor(choice);
  return {
    "smime.sign_encrypt": "Mailseal: signed and encrypted",
    "smime.sign": "Mailseal: signed",
    "smime.encrypt": "Mailseal: encrypted",
  }[method] ?? "Mailseal: neither signed nor encrypted";
}
