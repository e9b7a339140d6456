//! Test PKI for verification and path tests: CAs, intermediates and user certificates made,
//! and messages signed, by the real `openssl` in a temporary directory.

use crate::{TempPki, openssl, parse_pem};
use cms::cert::IssuerAndSerialNumber;
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::EncapsulatedContentInfo;
use const_oid::ObjectIdentifier;
use const_oid::db::{rfc5911, rfc5912, rfc8410};
use der::asn1::{OctetString, SetOfVec};
use der::{Any, Decode, Encode, Tag, TagNumber};
use spki::AlgorithmIdentifierOwned;
use std::cell::Cell;
use x509_cert::Certificate;

/// Key types to make.
#[derive(Debug, Clone, Copy)]
pub enum Key {
    /// RSA with this many bits.
    Rsa(u32),
    /// ECDSA P-256.
    P256,
    /// ECDSA P-384.
    P384,
    /// Ed25519.
    Ed25519,
}

/// Extensions of a CA certificate.
pub const CA: &str = "basicConstraints=critical,CA:TRUE\n\
    keyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n";

/// Extensions of a signing certificate for `{email}`, as CAs issue them.
pub fn user_extensions(email: &str) -> String {
    format!(
        "subjectAltName=email:{email}\nkeyUsage=critical,digitalSignature\n\
         extendedKeyUsage=emailProtection\nsubjectKeyIdentifier=hash\n\
         authorityKeyIdentifier=keyid\n"
    )
}

/// A directory where every certificate `NAME` has `NAME.pem` and `NAME.key`.
pub struct Pki {
    dir: TempPki,
    serial: Cell<u32>,
}

impl Default for Pki {
    fn default() -> Self {
        Self::new()
    }
}

impl Pki {
    /// An empty PKI.
    pub fn new() -> Self {
        Self {
            dir: TempPki::new(),
            serial: Cell::new(1),
        }
    }

    /// Runs openssl in the directory.
    pub fn openssl(&self, args: &[&str]) -> Vec<u8> {
        openssl(self.dir.dir(), args)
    }

    /// Writes a file into the directory.
    pub fn write(&self, file: &str, data: &[u8]) {
        std::fs::write(self.dir.dir().join(file), data).unwrap();
    }

    /// Reads a file from the directory.
    pub fn read(&self, file: &str) -> Vec<u8> {
        std::fs::read(self.dir.dir().join(file)).unwrap()
    }

    fn new_key(&self, name: &str, key: Key) {
        let key_file = format!("{name}.key");
        let bits;
        let mut args = vec!["genpkey", "-out", &key_file, "-algorithm"];
        match key {
            Key::Rsa(n) => {
                bits = format!("rsa_keygen_bits:{n}");
                args.extend(["RSA", "-pkeyopt", &bits]);
            }
            Key::P256 => args.extend(["EC", "-pkeyopt", "ec_paramgen_curve:P-256"]),
            Key::P384 => args.extend(["EC", "-pkeyopt", "ec_paramgen_curve:P-384"]),
            Key::Ed25519 => args.push("ED25519"),
        }
        self.openssl(&args);
    }

    /// A self-signed CA `CN=<subject>` with an RSA-2048 key, valid for ten years.
    pub fn root(&self, name: &str, subject: &str) -> Certificate {
        self.certify(name, None, Key::Rsa(2048), subject, 3650, CA)
    }

    /// A certificate `name` for `subject` (an openssl `-subj`, e.g. `/CN=Alice`) with a new
    /// `key`, signed by the certificate `issuer` (self-signed when `None`), valid for `days`
    /// from now, with the extensions `ext` (openssl extension-file lines).
    pub fn certify(
        &self,
        name: &str,
        issuer: Option<&str>,
        key: Key,
        subject: &str,
        days: u32,
        ext: &str,
    ) -> Certificate {
        self.new_key(name, key);
        let (key_file, csr, pem, ext_file) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
            format!("{name}.ext"),
        );
        self.write(&ext_file, ext.as_bytes());
        self.openssl(&[
            "req", "-new", "-key", &key_file, "-subj", subject, "-out", &csr,
        ]);
        let serial = self.serial.replace(self.serial.get() + 1).to_string();
        let days = days.to_string();
        let mut args = vec![
            "x509",
            "-req",
            "-in",
            &csr,
            "-days",
            &days,
            "-set_serial",
            &serial,
            "-extfile",
            &ext_file,
            "-out",
            &pem,
        ];
        let (ca, ca_key);
        match issuer {
            Some(issuer) => {
                (ca, ca_key) = (format!("{issuer}.pem"), format!("{issuer}.key"));
                args.extend(["-CA", &ca, "-CAkey", &ca_key]);
            }
            None => args.extend(["-signkey", &key_file]),
        }
        self.openssl(&args);
        self.cert(name)
    }

    /// A user certificate for `email` issued by `issuer`, valid for a year.
    pub fn user(&self, name: &str, issuer: &str, key: Key, email: &str) -> Certificate {
        let subject = format!("/CN={name}");
        self.certify(
            name,
            Some(issuer),
            key,
            &subject,
            365,
            &user_extensions(email),
        )
    }

    /// The certificate `name`.
    pub fn cert(&self, name: &str) -> Certificate {
        parse_pem(&self.read(&format!("{name}.pem")))
    }

    /// `openssl cms -sign -binary` of `content` by the certificate `signer` with the extra
    /// arguments `extra` (defaults: detached, DER output).
    pub fn sign(&self, signer: &str, content: &[u8], extra: &[&str]) -> Vec<u8> {
        self.write("content.bin", content);
        let (cert, key) = (format!("{signer}.pem"), format!("{signer}.key"));
        let mut args = vec![
            "cms",
            "-sign",
            "-binary",
            "-in",
            "content.bin",
            "-signer",
            &cert,
            "-inkey",
            &key,
            "-out",
            "signed.out",
        ];
        if !extra.contains(&"-outform") {
            args.extend(["-outform", "DER"]);
        }
        args.extend(extra);
        self.openssl(&args);
        self.read("signed.out")
    }

    /// SignedData made by hand with an Ed25519 key, for what OpenSSL 3.0's CMS cannot make:
    /// Ed25519 signatures (it refuses them) and signed attributes in any order. `attributes`
    /// are DER Attributes (see [`attribute`]), signed in the order given; the signature
    /// comes from `openssl pkeyutl -rawin`.
    pub fn ed25519_signed(
        &self,
        signer: &str,
        content: &[u8],
        encapsulate: bool,
        attributes: &[Vec<u8>],
    ) -> Vec<u8> {
        let tlv = |tag: Tag, body: &[u8]| Any::new(tag, body).unwrap().to_der().unwrap();
        let cert = self.cert(signer);
        let attrs = attributes.concat();
        // Without signed attributes the signature covers the content itself (RFC 8419 §3.1).
        if attributes.is_empty() {
            self.write("tbs.der", content);
        } else {
            self.write("tbs.der", &tlv(Tag::Set, &attrs));
        }
        let key = format!("{signer}.key");
        self.openssl(&[
            "pkeyutl", "-sign", "-rawin", "-inkey", &key, "-in", "tbs.der", "-out", "sig.bin",
        ]);
        let sid = IssuerAndSerialNumber {
            issuer: cert.tbs_certificate().issuer().clone(),
            serial_number: cert.tbs_certificate().serial_number().clone(),
        };
        let digest = AlgorithmIdentifierOwned {
            oid: rfc5912::ID_SHA_512,
            parameters: None,
        };
        let signed_attrs = if attributes.is_empty() {
            Vec::new()
        } else {
            tlv(TagNumber(0).context_specific(true), &attrs)
        };
        let signer_info = [
            CmsVersion::V1.to_der().unwrap(),
            sid.to_der().unwrap(),
            digest.to_der().unwrap(),
            signed_attrs,
            AlgorithmIdentifierOwned {
                oid: rfc8410::ID_ED_25519,
                parameters: None,
            }
            .to_der()
            .unwrap(),
            OctetString::new(self.read("sig.bin"))
                .unwrap()
                .to_der()
                .unwrap(),
        ]
        .concat();
        // SignedData (RFC 5652 §5.1) written out field by field: the signed attributes must
        // stay in the order given, which a SET OF type would sort.
        let econtent = encapsulate.then(|| Any::encode_from(&OctetString::new(content).unwrap()));
        let encap = EncapsulatedContentInfo {
            econtent_type: rfc5911::ID_DATA,
            econtent: econtent.map(Result::unwrap),
        };
        let data = tlv(
            Tag::Sequence,
            &[
                CmsVersion::V1.to_der().unwrap(),
                tlv(Tag::Set, &digest.to_der().unwrap()),
                encap.to_der().unwrap(),
                tlv(TagNumber(0).context_specific(true), &cert.to_der().unwrap()),
                tlv(Tag::Set, &tlv(Tag::Sequence, &signer_info)),
            ]
            .concat(),
        );
        ContentInfo {
            content_type: rfc5911::ID_SIGNED_DATA,
            content: Any::from_der(&data).unwrap(),
        }
        .to_der()
        .unwrap()
    }
}

/// A DER Attribute (RFC 5652 §5.3) with one value.
pub fn attribute(oid: ObjectIdentifier, value: &impl Encode) -> Vec<u8> {
    x509_cert::attr::Attribute {
        oid,
        values: SetOfVec::try_from(vec![Any::from_der(&value.to_der().unwrap()).unwrap()]).unwrap(),
    }
    .to_der()
    .unwrap()
}

/// contentType (id-data), messageDigest (SHA-512 of `content`) and signingTime (now), in
/// DER order.
pub fn ed25519_attributes(content: &[u8]) -> Vec<Vec<u8>> {
    let now = x509_cert::time::Time::now().unwrap();
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA512, content);
    let digest = OctetString::new(digest.as_ref()).unwrap();
    vec![
        attribute(rfc5911::ID_CONTENT_TYPE, &rfc5911::ID_DATA),
        attribute(rfc5911::ID_SIGNING_TIME, &now),
        attribute(rfc5911::ID_MESSAGE_DIGEST, &digest),
    ]
}
