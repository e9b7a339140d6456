// Preparing a message as Thunderbird stores it for the daemon.

/**
 * Thunderbird adds its own bookkeeping headers (X-Mozilla-Status, X-Mozilla-Keys, …) to stored
 * messages; they were not there when the message was signed, so they are taken out before the
 * daemon sees it. Only header lines at the top are touched, never the body.
 */
export function stripMozillaHeaders(raw) {
  const end = raw.search(/\r?\n\r?\n/);
  const head = end === -1 ? raw : raw.slice(0, end);
  const rest = end === -1 ? "" : raw.slice(end);
  const lines = head.split(/(?<=\n)/);
  const kept = [];
  let dropping = false;
  for (const line of lines) {
    const continuation = /^[ \t]/.test(line);
    if (!continuation) {
      dropping = /^X-Mozilla-[A-Za-z0-9-]*:/i.test(line) || /^From - /.test(line);
    }
    if (!dropping) {
      kept.push(line);
    }
  }
  return kept.join("") + rest;
}

/** The message's bytes as UTF-8 text was given to us by messages.getRaw (a binary string). */
export function binaryStringToBytes(raw) {
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    bytes[i] = raw.charCodeAt(i) & 0xff;
  }
  return bytes;
}
