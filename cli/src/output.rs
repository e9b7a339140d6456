//! Printing results: JSON for scripts, a short readable form for people.

use mailseal_protocol::methods::CertificateInfo;
use serde::Serialize;

/// Prints `value` as one line of JSON, or as the human form.
pub fn print<T: Serialize>(json: bool, value: &T, human: impl FnOnce(&T) -> String) {
    if json {
        println!(
            "{}",
            serde_json::to_string(value).expect("results serialize")
        );
    } else {
        print!("{}", human(value));
    }
}

/// A certificate in a few lines, indented under a heading.
pub fn certificate(info: &CertificateInfo) -> String {
    let expiry = if info.days_to_expiry < 0 {
        format!("EXPIRED {} days ago", -info.days_to_expiry)
    } else {
        format!("{} days left", info.days_to_expiry)
    };
    format!(
        "  emails:      {}\n  subject:     {}\n  issuer:      {}\n  valid until: {} ({expiry})\n  key:         {}\n  fingerprint: {}\n",
        if info.emails.is_empty() {
            "(none)".to_owned()
        } else {
            info.emails.join(", ")
        },
        info.subject,
        info.issuer,
        info.not_after,
        info.key_algorithm,
        info.fingerprint,
    )
}
