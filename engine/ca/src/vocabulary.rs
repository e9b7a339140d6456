//! The CA's vocabulary: profiles, key types, usages, revocation reasons and issuance choices.
//!
//! The names (`as_str`, [`FromStr`]) are the ones stored in the CA database and written in
//! batch files; the daemon maps these types to its wire types in one place.

use std::fmt;
use std::str::FromStr;

/// A name that is not one of an enum's stored names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name:?} is not a known {what}")]
pub struct UnknownName {
    /// What was being named ("certificate kind", "usage", …).
    pub what: &'static str,
    /// The name as found.
    pub name: String,
}

/// Declares an enum whose variants each have one stored name, with `as_str`, `ALL`,
/// `Display` and `FromStr`, so a name is written in exactly one place.
macro_rules! named {
    ($(#[$meta:meta])* $name:ident, $what:literal {
        $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The stored name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownName;

            fn from_str(name: &str) -> Result<Self, UnknownName> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|value| value.as_str() == name)
                    .ok_or_else(|| UnknownName { what: $what, name: name.to_owned() })
            }
        }
    };
}

named! {
    /// Which S/MIME BR certificate profile (all in their *strict* variant).
    CertificateKind, "certificate kind" {
        /// Mailbox-validated: the mail address only (policy 2.23.140.1.5.1.3).
        Mailbox = "mailbox",
        /// Individual-validated: address and the person's name (2.23.140.1.5.4.3).
        Individual = "individual",
        /// Sponsor-validated: address, the person's name and the company (2.23.140.1.5.3.3).
        Organization = "organization",
    }
}

named! {
    /// Key types the CA generates or accepts.
    KeyAlgorithm, "key algorithm" {
        /// RSA, 2048-bit modulus.
        Rsa2048 = "rsa-2048",
        /// RSA, 3072-bit modulus.
        Rsa3072 = "rsa-3072",
        /// RSA, 4096-bit modulus.
        Rsa4096 = "rsa-4096",
        /// ECDSA/ECDH on P-256.
        EcP256 = "ec-p256",
        /// ECDSA/ECDH on P-384.
        EcP384 = "ec-p384",
    }
}

named! {
    /// What a certificate's key is for.
    Usage, "usage" {
        /// Signing and encryption with one key.
        Both = "both",
        /// Signing only (the signing half of a dual-key pair).
        Signing = "signing",
        /// Encryption only (the encryption half of a dual-key pair).
        Encryption = "encryption",
    }
}

named! {
    /// Why a certificate is revoked: the RFC 5280 reason codes the S/MIME BR allow.
    RevocationReason, "revocation reason" {
        /// No reason given.
        Unspecified = "unspecified",
        /// The private key was, or may have been, disclosed.
        KeyCompromise = "key_compromise",
        /// The person left the company or changed role.
        AffiliationChanged = "affiliation_changed",
        /// Replaced by a new certificate.
        Superseded = "superseded",
        /// No longer needed.
        CessationOfOperation = "cessation_of_operation",
        /// The right to the certificate was withdrawn.
        PrivilegeWithdrawn = "privilege_withdrawn",
    }
}

/// How a PKCS#12 file the CA writes is encrypted (its MAC is HMAC-SHA-256 either way).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Pkcs12Format {
    /// PBES2 with PBKDF2-HMAC-SHA-256 and AES-256-CBC: OpenSSL 3's default; Windows, macOS,
    /// Thunderbird and OpenSSL import it.
    #[default]
    Modern,
    /// PBES2 with PBKDF2-HMAC-SHA-1 and AES-128-CBC, the only PBES2 GnuPG 2.2's gpgsm reads.
    Gnupg22,
}

/// What issuing does when the address already has an active certificate of this kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum IfActive {
    /// Refuse ([`crate::PkiError::AlreadyActive`]).
    #[default]
    Fail,
    /// Issue nothing and return the active certificates.
    Skip,
    /// Revoke them (reason superseded) and issue anew, in one transaction.
    Replace,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stored_name_reads_back() {
        for kind in CertificateKind::ALL {
            assert_eq!(kind.as_str().parse::<CertificateKind>(), Ok(*kind));
        }
        for reason in RevocationReason::ALL {
            assert_eq!(reason.as_str().parse::<RevocationReason>(), Ok(*reason));
        }
        let err = "both-ways".parse::<Usage>().unwrap_err();
        assert_eq!(err.to_string(), "\"both-ways\" is not a known usage");
    }
}
