//! The `openssl cms` command lines for the users of a [`Ca`](crate::ca::Ca) directory
//! (`NAME.pem`, `NAME.key`, `ca.pem`), written once for the end-to-end tests, where openssl is
//! a correspondent with another implementation, and for the bench, where it is the baseline
//! the daemon is measured against: both must run openssl the same way. They are owned, for
//! callers that add to them (`-out`, `-from`, …) or keep them as pipelines.

/// Signs the file `input` as the user `signer`, with the CA certificate in the signature
/// (S/MIME output, detached, as a mail client sends it).
pub fn sign(signer: &str, input: &str) -> Vec<String> {
    owned(&[
        "cms",
        "-sign",
        "-in",
        input,
        "-signer",
        &format!("{signer}.pem"),
        "-inkey",
        &format!("{signer}.key"),
        "-certfile",
        "ca.pem",
    ])
}

/// Verifies the signed S/MIME message in the file `input` against the CA; the signed content
/// on standard output.
pub fn verify(input: &str) -> Vec<String> {
    owned(&["cms", "-verify", "-in", input, "-CAfile", "ca.pem"])
}

/// Decrypts the encrypted S/MIME message in the file `input` as the user `recipient`.
pub fn decrypt(recipient: &str, input: &str) -> Vec<String> {
    owned(&[
        "cms",
        "-decrypt",
        "-in",
        input,
        "-recip",
        &format!("{recipient}.pem"),
        "-inkey",
        &format!("{recipient}.key"),
    ])
}

fn owned(args: &[&str]) -> Vec<String> {
    args.iter().map(|arg| (*arg).to_owned()).collect()
}
