//! Content-encryption algorithms (RFC 8551 §2.7): their OIDs, our order of preference, and the
//! one a set of recipients can all read — decided once here for every client.

use const_oid::ObjectIdentifier;
use const_oid::db::rfc5911;

/// Content encryption algorithm (RFC 8551 §2.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentEncryption {
    /// AES-128-GCM AuthEnvelopedData (RFC 5083, RFC 5084).
    Aes128Gcm,
    /// AES-256-GCM AuthEnvelopedData.
    Aes256Gcm,
    /// AES-128-CBC EnvelopedData.
    Aes128Cbc,
    /// AES-256-CBC EnvelopedData.
    Aes256Cbc,
}

impl ContentEncryption {
    /// Every algorithm, most preferred first: what we choose when recipients allow it, and
    /// the order we announce in SMIMECapabilities (RFC 8551 §2.5.2) so that correspondents
    /// pick GCM when they can. AES-192 is absent: there is no variant to report it with.
    pub const PREFERENCE: [Self; 4] = [
        Self::Aes256Gcm,
        Self::Aes128Gcm,
        Self::Aes256Cbc,
        Self::Aes128Cbc,
    ];

    /// The algorithm's OID (RFC 3565, RFC 5084).
    pub const fn oid(self) -> ObjectIdentifier {
        match self {
            Self::Aes128Cbc => rfc5911::ID_AES_128_CBC,
            Self::Aes256Cbc => rfc5911::ID_AES_256_CBC,
            Self::Aes128Gcm => rfc5911::ID_AES_128_GCM,
            Self::Aes256Gcm => rfc5911::ID_AES_256_GCM,
        }
    }

    /// The algorithm an OID names, if it is one we read.
    pub fn from_oid(oid: ObjectIdentifier) -> Option<Self> {
        Self::PREFERENCE.into_iter().find(|a| a.oid() == oid)
    }

    /// Whether this is an AEAD, carried in AuthEnvelopedData rather than EnvelopedData.
    pub fn is_authenticated(self) -> bool {
        matches!(self, Self::Aes128Gcm | Self::Aes256Gcm)
    }

    /// Whether a recipient can read this algorithm: what its signed mail announced in
    /// SMIMECapabilities (RFC 8551 §2.7.1.1), or, if we never saw any (`None`), the AES-CBC
    /// that every S/MIME client reads (GCM only once announced).
    pub fn readable_by(self, announced: Option<&[ObjectIdentifier]>) -> bool {
        match announced {
            Some(list) => list.contains(&self.oid()),
            None => !self.is_authenticated(),
        }
    }

    /// The most preferred algorithm that every recipient can read, given what each announced
    /// (see [`Self::readable_by`]); AES-128-CBC, which every S/MIME agent must support (RFC
    /// 8551 §2.7), when they have nothing better in common.
    pub fn common<'a>(announced: impl IntoIterator<Item = Option<&'a [ObjectIdentifier]>>) -> Self {
        let mut readable = Self::PREFERENCE.to_vec();
        for capabilities in announced {
            readable.retain(|algorithm| algorithm.readable_by(capabilities));
        }
        readable.first().copied().unwrap_or(Self::Aes128Cbc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_reads_back_from_its_oid() {
        for algorithm in ContentEncryption::PREFERENCE {
            assert_eq!(
                ContentEncryption::from_oid(algorithm.oid()),
                Some(algorithm)
            );
        }
        // AES-192-CBC is not one of ours.
        assert_eq!(ContentEncryption::from_oid(rfc5911::ID_AES_192_CBC), None);
    }

    #[test]
    fn the_common_algorithm_is_the_best_everyone_announced() {
        use ContentEncryption::*;
        let gcm_and_cbc = [rfc5911::ID_AES_128_GCM, rfc5911::ID_AES_256_CBC];
        let all = ContentEncryption::PREFERENCE.map(ContentEncryption::oid);
        // No recipient: the best we have.
        assert_eq!(ContentEncryption::common([]), Aes256Gcm);
        assert_eq!(ContentEncryption::common([Some(&all[..])]), Aes256Gcm);
        assert_eq!(
            ContentEncryption::common([Some(&all[..]), Some(&gcm_and_cbc[..])]),
            Aes128Gcm
        );
        // One recipient never announced anything: CBC, which every client reads.
        assert_eq!(
            ContentEncryption::common([Some(&gcm_and_cbc[..]), None]),
            Aes256Cbc
        );
        // Nothing in common: the algorithm everyone must read.
        let only_gcm = [rfc5911::ID_AES_256_GCM];
        let only_cbc = [rfc5911::ID_AES_256_CBC];
        assert_eq!(
            ContentEncryption::common([Some(&only_gcm[..]), Some(&only_cbc[..])]),
            Aes128Cbc
        );
    }
}
