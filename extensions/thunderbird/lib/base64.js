// Base64 of bytes and back, the way the Mailseal protocol carries binary data (RFC 4648 §4).
// btoa/atob exist in Thunderbird and in Node 16+; they work on "binary strings".

/** Encodes a Uint8Array as base64. */
export function encode(bytes) {
  let binary = "";
  const step = 0x8000; // keeps String.fromCharCode's argument list small
  for (let i = 0; i < bytes.length; i += step) {
    binary += String.fromCharCode(...bytes.subarray(i, i + step));
  }
  return btoa(binary);
}

/** Decodes base64 into a Uint8Array. */
export function decode(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) {
    bytes[i] = binary.charCodeAt(i);
  }
  return bytes;
}
