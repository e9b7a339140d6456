//! A mail gateway's use of the engine: sign and encrypt a message for a sender, then open it
//! again and print every check, with `mailseal-smime` and `mailseal-keys` alone — no daemon,
//! no socket, no configuration file. A submission proxy or a gateway that signs outgoing
//! mail links the engine the same way.
//!
//! ```text
//! cargo run -p mailseal-smime --example gateway -- IDENTITY.p12 PASSWORD_FILE MESSAGE.eml [CA.pem]
//! cargo run -p mailseal-smime --example gateway      # a throwaway identity and message
//! ```
//!
//! With an identity of your own, pass the CA certificate that issued it, or the signature
//! reads as unknown: the example trusts only the anchors it is given, as a gateway must.
//! `cargo test` runs it once with a throwaway identity (see the test at the end).

use mailseal_keys::pkcs12::{self, Pkcs12Identity, PrivateKeyDer, WriteEncryption};
use mailseal_keys::software::SoftwareKey;
use mailseal_keys::{KeyId, backend::RsaPadding};
use mailseal_smime::envelope::{OwnKey, Recipient};
use mailseal_smime::message::{OpenContext, encrypt_message, open_message, sign_message};
use mailseal_smime::report::{ContentEncryption, Layer, SignatureMode, Verdict};
use mailseal_smime::sign::Signer;
use mailseal_smime::{Issuers, Revocation, RevocationPolicy, Scratch};
use std::error::Error;
use std::io::Cursor;
use std::time::{Duration, SystemTime};
use x509_cert::Certificate;
use x509_cert::der::{Decode, DecodePem};

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let verdict = match args.as_slice() {
        [] => {
            let (identity, ca) = throwaway_identity()?;
            run(&identity, MESSAGE, &[ca])?
        }
        [p12, password_file, message, rest @ ..] if rest.len() <= 1 => {
            let password = std::fs::read_to_string(password_file)?;
            let identity = pkcs12::parse(&std::fs::read(p12)?, password.trim_end().as_bytes())?;
            let anchors = match rest.first() {
                Some(pem) => vec![Certificate::from_pem(std::fs::read(pem)?)?],
                None => Vec::new(),
            };
            let identity = (identity.private_key, identity.certificate, identity.chain);
            run(&identity, &std::fs::read(message)?, &anchors)?
        }
        _ => return Err("usage: gateway [IDENTITY.p12 PASSWORD_FILE MESSAGE.eml [CA.pem]]".into()),
    };
    if verdict != Verdict::Valid {
        std::process::exit(8);
    }
    Ok(())
}

/// A private key, its certificate and the chain above it, as a PKCS#12 file holds them.
type Identity = (PrivateKeyDer, Certificate, Vec<Certificate>);

const MESSAGE: &[u8] = b"From: ann@example.com\r\nTo: ann@example.com\r\n\
    Subject: Quarterly figures\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
    Signed and encrypted by a gateway.\r\n";

/// Signs `message` as the identity, encrypts it to the same identity, opens the result and
/// prints what was found. The verdict of the signature is returned.
fn run(
    (key_der, certificate, chain): &Identity,
    message: &[u8],
    anchors: &[Certificate],
) -> Result<Verdict, Box<dyn Error>> {
    let key = SoftwareKey::from_pkcs8(key_der)?;
    let scratch = Scratch::new(std::env::temp_dir());
    let now = SystemTime::now();

    // Sign (multipart/signed), then encrypt the signed message (AES-256-GCM).
    let signer = Signer {
        key: &key,
        certificate,
        chain,
        rsa_pss: false,
    };
    let mut signed = Vec::new();
    let len = message.len() as u64;
    let mode = SignatureMode::Detached;
    sign_message(
        &mut Cursor::new(message),
        len,
        &signer,
        mode,
        now,
        &scratch,
        &mut signed,
    )?;
    let recipient = Recipient {
        certificate,
        rsa_padding: RsaPadding::Pkcs1v15,
    };
    let mut encrypted = Vec::new();
    let (len, algorithm) = (signed.len() as u64, ContentEncryption::Aes256Gcm);
    encrypt_message(
        &mut Cursor::new(&signed),
        len,
        &[recipient],
        algorithm,
        &mut encrypted,
    )?;

    // Open it as the recipient: decrypt with the key, verify against the trust anchors.
    let own = [OwnKey {
        key_id: KeyId::of_certificate(certificate),
        certificate,
        key: Some(&key),
    }];
    let known: Vec<&Certificate> = chain.iter().collect();
    let context = OpenContext {
        own_keys: &own,
        anchors,
        // A gateway inside the company may check revocation too; this example stays offline.
        revocation: &Revocation::new(RevocationPolicy::Off, Duration::from_secs(5)),
        issuers: &Issuers::new(Duration::from_secs(5), false),
        known_certs: &known,
        now,
    };
    let mut opened_message = Vec::new();
    let len = encrypted.len() as u64;
    let opened = open_message(
        &mut Cursor::new(&encrypted),
        len,
        &context,
        &scratch,
        &mut opened_message,
    )?;

    let mut verdict = Verdict::Invalid;
    for layer in &opened.layers {
        match layer {
            Layer::Encrypted { algorithm, key_id } => {
                println!("encrypted with {algorithm:?} to key {key_id}");
            }
            Layer::Signed { mode, signatures } => {
                for report in signatures {
                    verdict = report.verdict();
                    println!("signed ({mode:?}): {verdict:?}");
                    for check in report.checks() {
                        println!("  {:?}: {:?} — {}", check.name, check.outcome, check.reason);
                    }
                }
            }
        }
    }
    println!("{} bytes out, {} in", encrypted.len(), opened_message.len());
    Ok(verdict)
}

/// A CA and an identity for ann@example.com made on the spot, handed through a PKCS#12 file
/// as a real identity would be; and the CA's certificate, to trust.
fn throwaway_identity() -> Result<(Identity, Certificate), Box<dyn Error>> {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair, KeyUsagePurpose, SanType,
    };
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Example CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(DnType::CommonName, "Ann Example");
    params.subject_alt_names = vec![SanType::Rfc822Name("ann@example.com".try_into()?)];
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyAgreement,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::EmailProtection];
    let cert = params.signed_by(&key, &ca)?;
    let password = b"a throwaway password";
    let p12 = pkcs12::write(
        &Pkcs12Identity {
            key: &PrivateKeyDer::new(key.serialize_der()),
            certificate: cert.der(),
            chain: &[ca.der().to_vec()],
            friendly_name: "ann@example.com",
            iterations: 2048,
            encryption: WriteEncryption::Modern,
        },
        password,
    )?;
    let contents = pkcs12::parse(&p12, password)?;
    let anchor = Certificate::from_der(ca.der())?;
    let identity = (contents.private_key, contents.certificate, contents.chain);
    Ok((identity, anchor))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_gateway_signs_encrypts_and_opens_a_valid_message() {
        let (identity, ca) = super::throwaway_identity().unwrap();
        let verdict = super::run(&identity, super::MESSAGE, &[ca]).unwrap();
        assert_eq!(verdict, mailseal_smime::report::Verdict::Valid);
        // Trusting nothing, the same message cannot be valid: the chain check is what decides.
        let verdict = super::run(&identity, super::MESSAGE, &[]).unwrap();
        assert_ne!(verdict, mailseal_smime::report::Verdict::Valid);
    }
}
