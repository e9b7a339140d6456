//! `mailseal demo`: the whole product in one step, for a newcomer. In a temporary directory it
//! makes a throwaway CA and two users, starts a daemon for each, has Alice sign and encrypt a
//! message to Bob, has Bob open it, and prints what each step produced.

use crate::exit::CliError;
use crate::mail::describe_layers;
use mailseal_protocol::methods::{cert, key, smime};
use mailseal_protocol::{Client, Secret};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, SanType,
};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn failed(what: &str) -> impl Fn(rcgen::Error) -> CliError + '_ {
    move |e| CliError::Local(format!("demo: cannot make {what}: {e}"))
}

/// A demo user: a certificate and PKCS#8 key issued by the demo CA.
struct User {
    email: &'static str,
    certificate_pem: String,
    key_pem: String,
}

fn issue(
    ca: &CertifiedIssuer<'_, KeyPair>,
    name: &str,
    email: &'static str,
) -> Result<User, CliError> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(failed("a key"))?;
    let mut params =
        CertificateParams::new(Vec::<String>::new()).map_err(failed("a certificate"))?;
    params.distinguished_name.push(DnType::CommonName, name);
    params.subject_alt_names = vec![SanType::Rfc822Name(
        email.try_into().map_err(failed("an address"))?,
    )];
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyAgreement,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::EmailProtection];
    let certificate = params
        .signed_by(&key, ca)
        .map_err(failed("a certificate"))?;
    Ok(User {
        email,
        certificate_pem: certificate.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// A daemon started for the demo; stopped when dropped.
struct DemoDaemon {
    child: Child,
    socket: PathBuf,
}

impl DemoDaemon {
    fn start(home: &Path, ca_file: &Path) -> Result<Self, CliError> {
        std::fs::create_dir_all(home).map_err(|e| CliError::Local(format!("demo: {e}")))?;
        let config = home.join("config.toml");
        std::fs::write(
            &config,
            format!("trusted_ca_files = [{:?}]\nlog_level = \"warn\"\n", ca_file),
        )
        .map_err(|e| CliError::Local(format!("demo: {e}")))?;
        let exe = std::env::current_exe().map_err(|e| CliError::Local(format!("demo: {e}")))?;
        let daemon = exe.with_file_name(if cfg!(windows) {
            "mailseald.exe"
        } else {
            "mailseald"
        });
        let socket = home.join("run").join("mailseal.sock");
        let child = Command::new(&daemon)
            .arg("--config")
            .arg(&config)
            .arg("serve")
            .arg("--socket")
            .arg(&socket)
            .arg("--data-dir")
            .arg(home.join("data"))
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| {
                CliError::Local(format!("demo: cannot start {}: {e}", daemon.display()))
            })?;
        Ok(Self { child, socket })
    }

    async fn client(&self) -> Result<Client, CliError> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match Client::connect(&self.socket).await {
                Ok(client) => return Ok(client),
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

impl Drop for DemoDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn set_up(
    daemon: &DemoDaemon,
    me: &User,
    ca_pem: &str,
    other: &User,
) -> Result<Client, CliError> {
    let mut client = daemon.client().await?;
    let chain = format!("{}{ca_pem}", me.certificate_pem);
    let imported = client
        .call::<key::ImportPkcs8>(&key::ImportPkcs8Params {
            key: me.key_pem.as_bytes().to_vec().into(),
            certificates: chain.into_bytes().into(),
            passphrase: Secret::new("demo passphrase".into()),
        })
        .await?;
    println!("  {}: own identity {}", me.email, imported.identity.key_id);
    client
        .call::<cert::Import>(&cert::ImportParams {
            data: other.certificate_pem.as_bytes().to_vec().into(),
        })
        .await?;
    println!("  {}: knows the certificate of {}", me.email, other.email);
    Ok(client)
}

/// Runs the demo.
pub async fn run() -> Result<(), CliError> {
    let dir = tempfile::tempdir().map_err(|e| CliError::Local(format!("demo: {e}")))?;
    println!("Mailseal demo in {}", dir.path().display());

    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(failed("the CA key"))?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(failed("the CA"))?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Mailseal Demo CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).map_err(failed("the CA"))?;
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).map_err(|e| CliError::Local(format!("demo: {e}")))?;
    let alice = issue(&ca, "Alice Example", "alice@example.com")?;
    let bob = issue(&ca, "Bob Example", "bob@example.com")?;
    println!(
        "1. A throwaway CA issued certificates (ECDSA P-256) to {} and {}",
        alice.email, bob.email
    );

    let alice_daemon = DemoDaemon::start(&dir.path().join("alice"), &ca_file)?;
    let bob_daemon = DemoDaemon::start(&dir.path().join("bob"), &ca_file)?;
    println!("2. Started a mailseald for each of them");
    let mut alice_client = set_up(&alice_daemon, &alice, &ca.pem(), &bob).await?;
    let mut bob_client = set_up(&bob_daemon, &bob, &ca.pem(), &alice).await?;

    let message = "From: Alice Example <alice@example.com>\r\nTo: Bob Example <bob@example.com>\r\nSubject: Quarterly numbers\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHi Bob,\r\nthe numbers are in. Grüße, Alice\r\n";
    let sealed = alice_client
        .call::<smime::SignEncrypt>(&smime::SignEncryptParams {
            message: message.as_bytes().to_vec().into(),
            output: None,
            progress: false,
            key_id: None,
            recipients: None,
            content_encryption: None,
            triple_wrap: false,
            rsa_pss: false,
            rsa_oaep: false,
        })
        .await?;
    let sealed = sealed.message.into_inline().unwrap_or_default();
    let sent = String::from_utf8_lossy(&sealed).into_owned();
    let content_type = sent
        .lines()
        .find(|l| l.starts_with("Content-Type"))
        .unwrap_or_default()
        .to_owned();
    println!(
        "3. Alice's daemon signed and encrypted her message: {} bytes, {content_type}",
        sent.len()
    );

    let opened = bob_client
        .call::<smime::Open>(&smime::IncomingParams {
            message: sealed.into(),
            output: None,
            progress: false,
        })
        .await?;
    println!("4. Bob's daemon opened it:");
    for line in describe_layers(&opened).lines() {
        println!("   {line}");
    }
    println!("5. What Bob reads:");
    for line in String::from_utf8_lossy(opened.message.inline().unwrap_or_default()).lines() {
        println!("   | {line}");
    }
    Ok(())
}
