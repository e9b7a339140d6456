//! The CA key as rcgen's signer: any key behind the key trait (a sealed software key, or a
//! key on a PKCS#11 token) signs certificates and CRLs without rcgen ever holding it.

use mailseal_keys::backend::{Hash, KeyAlgorithm, PrivateKeyOps, SignatureScheme};
use rcgen::{PublicKeyData, SignatureAlgorithm, SigningKey, SubjectPublicKeyInfo};
use std::fmt;
use std::sync::Arc;

/// A CA key and the public key of its certificate.
pub struct CaSigner {
    key: Arc<dyn PrivateKeyOps>,
    public: SubjectPublicKeyInfo,
    scheme: SignatureScheme,
}

impl fmt::Debug for CaSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaSigner")
            .field("algorithm", &self.key.algorithm())
            .finish_non_exhaustive()
    }
}

impl CaSigner {
    /// Pairs `key` with its certificate's SubjectPublicKeyInfo (DER). Signatures are
    /// SHA-256 with RSA PKCS#1 v1.5 or ECDSA P-256, SHA-384 with ECDSA P-384, what every
    /// S/MIME client checks (the BR allow these).
    ///
    /// # Errors
    /// A message when the key type cannot sign certificates or the SPKI is unreadable.
    pub fn new(key: Arc<dyn PrivateKeyOps>, spki_der: &[u8]) -> Result<Self, rcgen::Error> {
        let public = SubjectPublicKeyInfo::from_der(spki_der)?;
        let scheme = match key.algorithm() {
            KeyAlgorithm::Rsa { .. } => SignatureScheme::RsaPkcs1(Hash::Sha256),
            KeyAlgorithm::EcP256 => SignatureScheme::Ecdsa(Hash::Sha256),
            KeyAlgorithm::EcP384 => SignatureScheme::Ecdsa(Hash::Sha384),
            KeyAlgorithm::Ed25519 | KeyAlgorithm::X25519 => {
                return Err(rcgen::Error::UnsupportedSignatureAlgorithm);
            }
        };
        Ok(Self {
            key,
            public,
            scheme,
        })
    }
}

impl PublicKeyData for CaSigner {
    fn der_bytes(&self) -> &[u8] {
        self.public.der_bytes()
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        match self.scheme {
            SignatureScheme::Ecdsa(Hash::Sha384) => &rcgen::PKCS_ECDSA_P384_SHA384,
            SignatureScheme::Ecdsa(_) => &rcgen::PKCS_ECDSA_P256_SHA256,
            _ => &rcgen::PKCS_RSA_SHA256,
        }
    }
}

impl SigningKey for CaSigner {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        self.key
            .sign(self.scheme, msg)
            .map_err(|_| rcgen::Error::RemoteKeyError)
    }
}
