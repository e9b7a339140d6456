//! The certificate matrix (RFC 5280 path validation, RFC 8550 usage rules, revocation by CRL
//! and OCSP) through the real daemon: every certificate made at test time with `openssl ca`
//! (root → intermediate → user, plus a name-constrained intermediate and a cross-certified
//! second root), CRLs served by a small HTTP server in this test on 127.0.0.1, OCSP answered
//! by a real `openssl ocsp` responder. Each case signs a message with `openssl cms` and checks
//! which check of the daemon's `smime.verify` report fails and why; recipients are judged by
//! `cert.find` and refused by `smime.encrypt`.

use mailseal_protocol::methods::cert::{self, FindResult};
use mailseal_protocol::methods::key;
use mailseal_protocol::methods::report::{CheckName, Outcome, SignatureReport, Verdict};
use mailseal_protocol::{Client, Secret};
use mailseal_test_support::openssl;
use mailseal_tests::rpc::{check, encrypt, only_signature, verify};
use mailseal_tests::{TestDaemon, daemon_error, mime};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The extensions every CA certificate here has.
const CA: &str = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n\
                  subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n";

/// The `openssl ca` configuration of the CA `name` (database under `name/`).
fn ca_config(name: &str) -> String {
    format!(
        "[ca]\ndefault_ca = CA_default\n[CA_default]\ndir = {name}\n\
         database = $dir/index.txt\nnew_certs_dir = $dir\nserial = $dir/serial\n\
         crlnumber = $dir/crlnumber\ncertificate = {name}.pem\nprivate_key = {name}.key\n\
         default_md = sha256\ndefault_crl_days = 1\npolicy = policy_any\n\
         unique_subject = no\n[policy_any]\ncommonName = supplied\n"
    )
}

/// How a user certificate tells where its revocation status is published.
#[derive(Clone, Copy)]
enum Published {
    /// On the intermediate's CRL.
    Crl,
    /// By the OCSP responder.
    Ocsp,
    /// By an "OCSP responder" that accepts connections and never answers.
    Silent,
    /// Nowhere.
    Nowhere,
}

/// The PKI of one test, its CRL server and its OCSP responder.
struct World {
    dir: tempfile::TempDir,
    crl_port: u16,
    ocsp_port: u16,
    /// Accepts connections (the kernel does) but is never read: a responder that hangs.
    silent: TcpListener,
    responder: Option<Child>,
}

impl World {
    /// Root A (trusted), Inter (under A, with A's CRL), an OCSP signer for Inter, a
    /// name-constrained intermediate, and Root B cross-certified by Root A.
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let crl_port = serve_files(dir.path().to_owned());
        let ocsp_port = free_port();
        let silent = TcpListener::bind("127.0.0.1:0").unwrap();
        let world = Self {
            dir,
            crl_port,
            ocsp_port,
            silent,
            responder: None,
        };
        world.root("rootA", "/CN=Root A");
        let crl_dp = format!("crlDistributionPoints=URI:http://127.0.0.1:{crl_port}/rootA.crl\n");
        world.issue(
            "rootA",
            "inter",
            "/CN=Inter",
            &format!("{CA}{crl_dp}"),
            None,
        );
        world.new_database("inter");
        let constrained =
            format!("{CA}{crl_dp}nameConstraints=critical,permitted;email:example.com\n");
        world.issue("rootA", "limited", "/CN=Limited", &constrained, None);
        world.new_database("limited");
        let ocsp = "keyUsage=critical,digitalSignature\nextendedKeyUsage=OCSPSigning\n";
        world.issue("inter", "ocsp", "/CN=Inter OCSP", ocsp, None);
        // Root B is trusted by no daemon here; Root A certifies Root B's key.
        world.root("rootB", "/CN=Root B");
        world.openssl(&[
            "req",
            "-new",
            "-key",
            "rootB.key",
            "-subj",
            "/CN=Root B",
            "-out",
            "cross.csr",
        ]);
        world.sign_request("rootA", "cross", CA, None);
        world
    }

    fn openssl(&self, args: &[&str]) -> Vec<u8> {
        openssl(self.dir.path(), args)
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    fn write(&self, file: &str, text: &str) {
        std::fs::write(self.path(file), text).unwrap();
    }

    fn new_database(&self, ca: &str) {
        std::fs::create_dir(self.path(ca)).unwrap();
        self.write(&format!("{ca}/index.txt"), "");
        self.write(&format!("{ca}/serial"), "1000\n");
        self.write(&format!("{ca}/crlnumber"), "01\n");
        self.write(&format!("{ca}.cnf"), &ca_config(ca));
    }

    fn root(&self, name: &str, subject: &str) {
        let (key, pem) = (format!("{name}.key"), format!("{name}.pem"));
        self.openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "30",
            "-subj",
            subject,
            "-keyout",
            &key,
            "-out",
            &pem,
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-addext",
            "subjectKeyIdentifier=hash",
        ]);
        self.new_database(name);
    }

    /// A new P-256 key and certificate `name` with `subject` and the extension lines `ext`,
    /// issued by `ca`; `dates` (start, end) instead of 30 days from now.
    fn issue(&self, ca: &str, name: &str, subject: &str, ext: &str, dates: Option<(&str, &str)>) {
        let (key, csr) = (format!("{name}.key"), format!("{name}.csr"));
        self.openssl(&[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            subject,
            "-keyout",
            &key,
            "-out",
            &csr,
        ]);
        self.sign_request(ca, name, ext, dates);
    }

    fn sign_request(&self, ca: &str, name: &str, ext: &str, dates: Option<(&str, &str)>) {
        let (csr, ext_file, pem, config) = (
            format!("{name}.csr"),
            format!("{name}.ext"),
            format!("{name}.pem"),
            format!("{ca}.cnf"),
        );
        self.write(&ext_file, ext);
        let mut args = vec![
            "ca", "-batch", "-notext", "-config", &config, "-in", &csr, "-extfile", &ext_file,
            "-out", &pem,
        ];
        match dates {
            Some((start, end)) => args.extend(["-startdate", start, "-enddate", end]),
            None => args.extend(["-days", "30"]),
        }
        self.openssl(&args);
    }

    /// A user `name` for `email` under `ca` with `usage` extension lines (keyUsage,
    /// extendedKeyUsage, anything else) and revocation information as `published`.
    fn user(&self, ca: &str, name: &str, email: &str, usage: &str, published: Published) {
        let revocation = match published {
            Published::Crl => format!(
                "crlDistributionPoints=URI:http://127.0.0.1:{}/{ca}.crl\n",
                self.crl_port
            ),
            Published::Ocsp => format!(
                "authorityInfoAccess=OCSP;URI:http://127.0.0.1:{}/\n",
                self.ocsp_port
            ),
            Published::Silent => format!(
                "authorityInfoAccess=OCSP;URI:http://127.0.0.1:{}/\n",
                self.silent.local_addr().unwrap().port()
            ),
            Published::Nowhere => String::new(),
        };
        let ext = format!(
            "subjectAltName=email:{email}\nsubjectKeyIdentifier=hash\n\
             authorityKeyIdentifier=keyid\n{usage}{revocation}"
        );
        self.issue(ca, name, &format!("/CN={name}"), &ext, None);
    }

    /// Revokes `name`'s certificate in `ca`'s database.
    fn revoke(&self, ca: &str, name: &str) {
        let (config, pem) = (format!("{ca}.cnf"), format!("{name}.pem"));
        self.openssl(&[
            "ca",
            "-config",
            &config,
            "-revoke",
            &pem,
            "-crl_reason",
            "keyCompromise",
        ]);
    }

    /// Publishes `ca`'s CRL (DER) where the CRL server serves it.
    fn publish_crl(&self, ca: &str) {
        let (config, pem, der) = (
            format!("{ca}.cnf"),
            format!("{ca}.crl.pem"),
            format!("{ca}.crl"),
        );
        self.openssl(&["ca", "-config", &config, "-gencrl", "-out", &pem]);
        self.openssl(&["crl", "-in", &pem, "-outform", "DER", "-out", &der]);
    }

    /// Starts `openssl ocsp` for Inter's database, answers signed by Inter's delegated
    /// responder, and waits until it says it listens (a probing connection would hang it: it
    /// serves one connection at a time and waits on a silent one).
    fn start_responder(&mut self) {
        let port = self.ocsp_port.to_string();
        let log = std::fs::File::create(self.path("ocsp.log")).unwrap();
        let child = Command::new("openssl")
            .args([
                "ocsp",
                "-index",
                "inter/index.txt",
                "-CA",
                "inter.pem",
                "-rsigner",
                "ocsp.pem",
                "-rkey",
                "ocsp.key",
                "-port",
                &port,
                "-nmin",
                "5",
                "-ignore_err",
            ])
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start openssl ocsp");
        self.responder = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !std::fs::read_to_string(self.path("ocsp.log"))
            .unwrap_or_default()
            .contains("waiting for OCSP client connections")
        {
            assert!(Instant::now() < deadline, "openssl ocsp does not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A message from `email` signed with `name`'s key by `openssl cms`, carrying the
    /// certificates `chain` (files) for the path.
    fn signed(&self, name: &str, email: &str, chain: &[&str]) -> Vec<u8> {
        self.sign(name, email, chain, &[])
    }

    /// As [`Self::signed`], the signature also carrying Inter's CRL (RFC 5652 `crls`), which
    /// `openssl cms -sign` (3.0) cannot add: it is put in by hand, as it is not signed over.
    fn signed_with_crl(&self, name: &str, email: &str, chain: &[&str]) -> Vec<u8> {
        let signed = self.sign(name, email, chain, &["-crlfeol"]);
        let (entity, signature) = mime::split_multipart_signed(&signed);
        let crl = std::fs::read(self.path("inter.crl")).unwrap();
        let headers = format!("From: {email}\r\nTo: ann@example.com\r\nSubject: matrix\r\n");
        mime::multipart_signed(&headers, &entity, &with_crl(&signature, &crl), "sha-256")
    }

    fn sign(&self, name: &str, email: &str, chain: &[&str], extra: &[&str]) -> Vec<u8> {
        let bundle: String = chain
            .iter()
            .map(|file| std::fs::read_to_string(self.path(file)).unwrap())
            .collect();
        self.write("chain.pem", &bundle);
        self.write(
            "content.txt",
            "Content-Type: text/plain\r\n\r\nsigned text\r\n",
        );
        let (cert, key) = (format!("{name}.pem"), format!("{name}.key"));
        let mut args = vec![
            "cms",
            "-sign",
            "-in",
            "content.txt",
            "-signer",
            &cert,
            "-inkey",
            &key,
            "-md",
            "sha256",
            "-from",
            email,
            "-to",
            "ann@example.com",
            "-subject",
            "matrix",
        ];
        if !chain.is_empty() {
            args.extend(["-certfile", "chain.pem"]);
        }
        args.extend(extra);
        self.openssl(&args)
    }

    /// The daemon config trusting Root A only, with the revocation `policy`.
    fn config(&self, policy: &str) -> String {
        format!(
            "trusted_ca_files = [{:?}]\nrevocation = \"{policy}\"\nrevocation_timeout_seconds = 1\n",
            self.path("rootA.pem")
        )
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if let Some(mut responder) = self.responder.take() {
            let _ = responder.kill();
            let _ = responder.wait();
        }
    }
}

/// The ContentInfo `der` (SignedData, definite lengths) with `crl` added as its `crls`
/// field, just before signerInfos.
fn with_crl(der: &[u8], crl: &[u8]) -> Vec<u8> {
    let info = children(body(der));
    let signed_data = body(body(info[1]));
    let mut fields = children(signed_data);
    let crls = tlv(0xA1, crl);
    fields.insert(fields.len() - 1, &crls);
    let signed_data = tlv(0x30, &fields.concat());
    tlv(0x30, &[info[0], &tlv(0xA0, &signed_data)].concat())
}

/// The header length and the body length of the DER element at the start of `der`.
fn header(der: &[u8]) -> (usize, usize) {
    match der[1] {
        short if short < 0x80 => (2, usize::from(short)),
        long => {
            let n = usize::from(long & 0x7f);
            let length = der[2..2 + n]
                .iter()
                .fold(0, |acc, b| (acc << 8) | usize::from(*b));
            (2 + n, length)
        }
    }
}

/// The contents of the DER element at the start of `der`.
fn body(der: &[u8]) -> &[u8] {
    let (head, length) = header(der);
    &der[head..head + length]
}

/// The whole elements (tag, length, contents) in `contents`, in order.
fn children(mut contents: &[u8]) -> Vec<&[u8]> {
    let mut elements = Vec::new();
    while !contents.is_empty() {
        let (head, length) = header(contents);
        elements.push(&contents[..head + length]);
        contents = &contents[head + length..];
    }
    elements
}

/// A DER element with `tag` around `contents`.
fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
    let length = contents.len();
    let mut out = vec![tag];
    if length < 0x80 {
        out.push(length as u8);
    } else {
        let bytes: Vec<u8> = length
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(contents);
    out
}

/// A port free a moment ago, for `openssl ocsp -port`, which takes no port 0.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Serves the files of `dir` over HTTP/1.0 on 127.0.0.1 (read at each request, so that a
/// CRL published later is what is served); returns the port.
fn serve_files(dir: PathBuf) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = Vec::new();
            let mut buffer = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buffer[..n]),
                }
            }
            let request = String::from_utf8_lossy(&request);
            let path = request.split(' ').nth(1).unwrap_or("/");
            let file = dir.join(path.trim_start_matches('/'));
            let answer = match std::fs::read(&file) {
                Ok(body) if !path.contains("..") => {
                    let mut answer = format!(
                        "HTTP/1.0 200 OK\r\nContent-Type: application/pkix-crl\r\n\
                         Content-Length: {}\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    answer.extend(body);
                    answer
                }
                _ => b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
            };
            let _ = stream.write_all(&answer);
        }
    });
    port
}

/// The one signature report of `message` as the daemon of `client` verifies it.
async fn report(client: &mut Client, message: &[u8]) -> SignatureReport {
    let opened = verify(client, message).await.unwrap();
    only_signature(&opened.layers).clone()
}

/// The report's verdict is invalid, the first failed check is `name`, and its reason
/// contains `reason`.
fn assert_fails(case: &str, report: &SignatureReport, name: CheckName, reason: &str) {
    assert_eq!(report.verdict(), Verdict::Invalid, "{case}: {report:#?}");
    let failed = report.first_failure().expect("a failed check");
    assert_eq!(failed.name, name, "{case}: {report:#?}");
    assert!(
        failed.reason.contains(reason),
        "{case}: {:?} does not contain {reason:?}",
        failed.reason
    );
}

fn assert_valid(case: &str, report: &SignatureReport) {
    assert_eq!(report.verdict(), Verdict::Valid, "{case}: {report:#?}");
}

/// The usual end-entity usage: signing, key agreement, mail.
const MAIL: &str =
    "keyUsage=critical,digitalSignature,keyAgreement\nextendedKeyUsage=emailProtection\n";

#[tokio::test]
async fn the_signature_matrix() {
    let mut world = World::new();
    let unknown_critical = format!("{MAIL}1.2.3.4=critical,ASN1:NULL\n");
    let cases: [(&str, &str); 9] = [
        ("valid", MAIL),
        ("expired", MAIL),
        ("future", MAIL),
        (
            "server",
            "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
        ),
        (
            "anyeku",
            "keyUsage=critical,digitalSignature\nextendedKeyUsage=anyExtendedKeyUsage\n",
        ),
        (
            "agreeonly",
            "keyUsage=critical,keyAgreement\nextendedKeyUsage=emailProtection\n",
        ),
        ("critical", &unknown_critical),
        ("crlrevoked", MAIL),
        ("ocsprevoked", MAIL),
    ];
    for (name, usage) in cases {
        let email = format!("{name}@example.com");
        let published = if name.starts_with("ocsp") {
            Published::Ocsp
        } else {
            Published::Crl
        };
        match name {
            "expired" | "future" => {
                let dates = if name == "expired" {
                    ("20200101000000Z", "20210101000000Z")
                } else {
                    ("20990101000000Z", "21000101000000Z")
                };
                let crl = format!(
                    "crlDistributionPoints=URI:http://127.0.0.1:{}/inter.crl\n",
                    world.crl_port
                );
                let ext = format!("subjectAltName=email:{email}\n{usage}{crl}");
                world.issue("inter", name, &format!("/CN={name}"), &ext, Some(dates));
            }
            _ => world.user("inter", name, &email, usage, published),
        }
    }
    world.user(
        "inter",
        "ocspgood",
        "ocspgood@example.com",
        MAIL,
        Published::Ocsp,
    );
    world.user("limited", "outsider", "eve@evil.test", MAIL, Published::Crl);
    world.user("limited", "insider", "in@example.com", MAIL, Published::Crl);
    world.user(
        "rootB",
        "carol",
        "carol@example.com",
        MAIL,
        Published::Nowhere,
    );
    world.user("inter", "hung", "hung@example.com", MAIL, Published::Silent);
    world.user(
        "inter",
        "carried",
        "carried@example.com",
        MAIL,
        Published::Nowhere,
    );
    world.user(
        "inter",
        "kept",
        "kept@example.com",
        MAIL,
        Published::Nowhere,
    );
    let published_at = |file: &str| {
        format!(
            "{MAIL}authorityInfoAccess=caIssuers;URI:http://127.0.0.1:{}/{file}\n",
            world.crl_port
        )
    };
    world.user(
        "inter",
        "orphan",
        "orphan@example.com",
        &published_at("inter.der"),
        Published::Crl,
    );
    world.user(
        "inter",
        "lost",
        "lost@example.com",
        &published_at("gone.der"),
        Published::Crl,
    );
    world.openssl(&[
        "x509",
        "-in",
        "inter.pem",
        "-outform",
        "DER",
        "-out",
        "inter.der",
    ]);
    world.revoke("inter", "carried");
    world.revoke("inter", "crlrevoked");
    world.revoke("inter", "ocsprevoked");
    for ca in ["rootA", "inter", "limited"] {
        world.publish_crl(ca);
    }
    world.start_responder();

    let config = format!("{}fetch_issuers = true\n", world.config("soft-fail"));
    let daemon = TestDaemon::start(&config);
    let mut client = daemon.client().await;
    let via_inter = ["inter.pem"];
    let signed =
        |name: &str, chain: &[&str]| world.signed(name, &format!("{name}@example.com"), chain);

    let valid = report(&mut client, &signed("valid", &via_inter)).await;
    assert_valid("valid", &valid);
    let chain = check(&valid, CheckName::Chain);
    assert_eq!(
        chain.reason,
        "chains to trust anchor 'CN=Root A' via 'CN=Inter'"
    );
    let revocation = check(&valid, CheckName::Revocation);
    assert_eq!(revocation.outcome, Outcome::Pass, "{revocation:?}");
    assert!(
        revocation
            .reason
            .starts_with("not on the CRL of 'CN=Inter' from http://127.0.0.1:")
            && revocation
                .reason
                .contains("CA certificate 'CN=Inter': not on the CRL of 'CN=Root A'"),
        "{}",
        revocation.reason
    );

    let expired = report(&mut client, &signed("expired", &via_inter)).await;
    assert_fails(
        "expired",
        &expired,
        CheckName::ValidityAtSigning,
        "after the certificate expired on 2021-01-01",
    );
    assert_eq!(
        check(&expired, CheckName::ValidityNow).reason,
        "certificate expired on 2021-01-01T00:00:00Z"
    );
    let future = report(&mut client, &signed("future", &via_inter)).await;
    assert_fails(
        "future",
        &future,
        CheckName::ValidityAtSigning,
        "before the certificate became valid on 2099-01-01",
    );
    assert_eq!(
        check(&future, CheckName::ValidityNow).reason,
        "certificate is not valid before 2099-01-01T00:00:00Z"
    );

    let server = report(&mut client, &signed("server", &via_inter)).await;
    assert_fails(
        "wrong EKU",
        &server,
        CheckName::ExtendedKeyUsage,
        "extendedKeyUsage allows only id-kp-serverAuth, not emailProtection",
    );
    let any = report(&mut client, &signed("anyeku", &via_inter)).await;
    assert_valid("anyExtendedKeyUsage", &any);
    assert_eq!(
        check(&any, CheckName::ExtendedKeyUsage).reason,
        "extendedKeyUsage allows anyExtendedKeyUsage"
    );
    let agree = report(&mut client, &signed("agreeonly", &via_inter)).await;
    assert_fails(
        "keyUsage without signing",
        &agree,
        CheckName::KeyUsage,
        "keyUsage allows only keyAgreement, not signing",
    );

    let outsider = world.signed("outsider", "eve@evil.test", &["limited.pem"]);
    let outsider = report(&mut client, &outsider).await;
    assert_fails(
        "name constraints",
        &outsider,
        CheckName::Chain,
        "'CN=outsider' violates the name constraints of 'CN=Limited': mail address eve@evil.test is not permitted",
    );
    let insider = world.signed("insider", "in@example.com", &["limited.pem"]);
    assert_valid(
        "inside the name constraints",
        &report(&mut client, &insider).await,
    );

    let critical = report(&mut client, &signed("critical", &via_inter)).await;
    assert_fails(
        "unknown critical extension",
        &critical,
        CheckName::Chain,
        "'CN=critical' has a critical extension that is not supported: 1.2.3.4",
    );

    let crl_revoked = report(&mut client, &signed("crlrevoked", &via_inter)).await;
    assert_fails(
        "revoked by CRL",
        &crl_revoked,
        CheckName::Revocation,
        "revoked on ",
    );
    let reason = &check(&crl_revoked, CheckName::Revocation).reason;
    assert!(
        reason.contains("reason: keyCompromise (CRL of 'CN=Inter' from http://127.0.0.1:"),
        "{reason}"
    );

    let ocsp_revoked = report(&mut client, &signed("ocsprevoked", &via_inter)).await;
    assert_fails(
        "revoked by OCSP",
        &ocsp_revoked,
        CheckName::Revocation,
        "revoked on ",
    );
    let reason = &check(&ocsp_revoked, CheckName::Revocation).reason;
    let responder = format!("the OCSP responder http://127.0.0.1:{}/", world.ocsp_port);
    assert!(
        reason.ends_with(&format!("reason: keyCompromise ({responder})")),
        "{reason}"
    );
    let ocsp_good = report(&mut client, &signed("ocspgood", &via_inter)).await;
    assert_valid("good by OCSP", &ocsp_good);
    let good = &check(&ocsp_good, CheckName::Revocation).reason;
    assert!(
        good.starts_with(&format!("{responder} says good")),
        "{good}"
    );

    // Without the intermediate in the message, it is fetched from where the signer's
    // certificate says it is published (authorityInfoAccess caIssuers).
    let orphan = report(&mut client, &signed("orphan", &[])).await;
    assert_valid("issuer fetched", &orphan);
    assert_eq!(
        check(&orphan, CheckName::Chain).reason,
        "chains to trust anchor 'CN=Root A' via 'CN=Inter'"
    );
    let lost = report(&mut client, &signed("lost", &[])).await;
    assert_fails(
        "issuer not fetched",
        &lost,
        CheckName::Chain,
        &format!(
            "CN=Inter is not a trusted CA, nor known (fetching its issuer failed: issuer server \
             127.0.0.1:{} answered 'HTTP/1.0 404 Not Found')",
            world.crl_port
        ),
    );

    // A certificate naming no CRL or responder, judged by the CRL its message carries.
    let with_crl =
        |name: &str| world.signed_with_crl(name, &format!("{name}@example.com"), &via_inter);
    let carried = report(&mut client, &with_crl("carried")).await;
    assert_fails(
        "revoked by a carried CRL",
        &carried,
        CheckName::Revocation,
        "revoked on ",
    );
    let reason = &check(&carried, CheckName::Revocation).reason;
    assert!(
        reason.ends_with("reason: keyCompromise (CRL of 'CN=Inter' from the message)"),
        "{reason}"
    );
    let kept = report(&mut client, &with_crl("kept")).await;
    assert_valid("not on the carried CRL", &kept);
    let reason = &check(&kept, CheckName::Revocation).reason;
    assert!(
        reason.starts_with("not on the CRL of 'CN=Inter' from the message"),
        "{reason}"
    );

    let hung = report(&mut client, &signed("hung", &via_inter)).await;
    assert_valid("responder down under soft-fail", &hung);
    let not_checked = check(&hung, CheckName::Revocation);
    assert_eq!(not_checked.outcome, Outcome::NotChecked);
    let port = world.silent.local_addr().unwrap().port();
    assert_eq!(
        not_checked.reason,
        format!("OCSP responder 127.0.0.1:{port} timed out")
    );

    // Carol's CA, Root B, is trusted only through Root A's cross-certificate; the message
    // carries both Root B certificates and the path search must take the cross one.
    let carol = report(&mut client, &signed("carol", &["rootB.pem", "cross.pem"])).await;
    assert_valid("cross-certified", &carol);
    assert_eq!(
        check(&carol, CheckName::Chain).reason,
        "chains to trust anchor 'CN=Root A' via 'CN=Root B'"
    );
    assert_eq!(
        check(&carol, CheckName::Revocation).reason,
        "'CN=carol' names no CRL distribution point or OCSP responder"
    );
    let without_cross = report(&mut client, &signed("carol", &["rootB.pem"])).await;
    assert_fails(
        "no cross-certificate",
        &without_cross,
        CheckName::Chain,
        "'CN=Root B' is a root certificate that is not trusted",
    );

    // Under hard-fail the same hung responder makes the signature invalid; under off the
    // revoked certificate is not even asked about.
    let hard = TestDaemon::start(&world.config("hard-fail"));
    let mut hard_client = hard.client().await;
    let hung = report(&mut hard_client, &signed("hung", &via_inter)).await;
    assert_fails(
        "responder down under hard-fail",
        &hung,
        CheckName::Revocation,
        &format!(
            "revocation could not be checked (the policy is hard-fail): OCSP responder 127.0.0.1:{port} timed out"
        ),
    );
    assert_valid(
        "good by CRL under hard-fail",
        &report(&mut hard_client, &signed("valid", &via_inter)).await,
    );
    // Without fetch_issuers (the default) the URL of an unverified certificate is not used.
    let orphan = report(&mut hard_client, &signed("orphan", &[])).await;
    assert_eq!(
        check(&orphan, CheckName::Chain).reason,
        "issuer CN=Inter is not a trusted CA, nor known"
    );
    // CRLs that IT places in `crl_dir` serve certificates that name no CRL or responder.
    std::fs::create_dir(world.path("crls")).unwrap();
    std::fs::copy(world.path("inter.crl.pem"), world.path("crls/inter.crl")).unwrap();
    world.write("crls/README", "not a CRL\n");
    let config = format!(
        "{}crl_dir = {:?}\n",
        world.config("hard-fail"),
        world.path("crls")
    );
    let local = TestDaemon::start(&config);
    let mut local_client = local.client().await;
    let listed = report(&mut local_client, &signed("carried", &via_inter)).await;
    let file = world.path("crls/inter.crl").display().to_string();
    assert_fails(
        "revoked by a CRL in crl_dir",
        &listed,
        CheckName::Revocation,
        &format!("reason: keyCompromise (CRL of 'CN=Inter' from {file})"),
    );
    let unlisted = report(&mut local_client, &signed("kept", &via_inter)).await;
    assert_valid("not on the CRL in crl_dir, under hard-fail", &unlisted);

    let off = TestDaemon::start(&world.config("off"));
    let mut off_client = off.client().await;
    let unasked = report(&mut off_client, &signed("crlrevoked", &via_inter)).await;
    assert_valid("revocation off", &unasked);
    let revocation = check(&unasked, CheckName::Revocation);
    assert_eq!(
        (revocation.outcome, revocation.reason.as_str()),
        (Outcome::NotChecked, "revocation checking is off")
    );
}

async fn find(client: &mut Client, email: &str) -> FindResult {
    client
        .call::<cert::Find>(&cert::FindParams {
            email: email.into(),
        })
        .await
        .unwrap()
}

/// Recipients whose certificate is revoked (by CRL or OCSP) or may not be used for
/// encryption are refused by `cert.find`, with the reason, and by `smime.encrypt`.
#[tokio::test]
async fn revoked_and_wrong_usage_recipients_are_refused() {
    let mut world = World::new();
    world.user("inter", "ann", "ann@example.com", MAIL, Published::Crl);
    world.user("inter", "bob", "bob@example.com", MAIL, Published::Crl);
    world.user("inter", "olga", "olga@example.com", MAIL, Published::Ocsp);
    let signing_only = "keyUsage=critical,digitalSignature\nextendedKeyUsage=emailProtection\n";
    world.user(
        "inter",
        "sid",
        "sid@example.com",
        signing_only,
        Published::Crl,
    );
    world.user("inter", "vic", "vic@example.com", MAIL, Published::Crl);
    world.revoke("inter", "bob");
    world.revoke("inter", "olga");
    for ca in ["rootA", "inter"] {
        world.publish_crl(ca);
    }
    world.start_responder();

    let daemon = TestDaemon::start(&world.config("soft-fail"));
    let mut client = daemon.client().await;
    world.openssl(&[
        "pkcs12",
        "-export",
        "-inkey",
        "ann.key",
        "-in",
        "ann.pem",
        "-certfile",
        "inter.pem",
        "-passout",
        "pass:pw",
        "-out",
        "ann.p12",
    ]);
    client
        .call::<key::ImportPkcs12>(&key::ImportPkcs12Params {
            data: std::fs::read(world.path("ann.p12")).unwrap().into(),
            password: Secret::new("pw".into()),
            passphrase: None,
        })
        .await
        .unwrap();
    // Inter is not imported: Ann's PKCS #12 brought it, and recipients' paths use it.
    let mut bundle = Vec::new();
    for name in ["bob", "olga", "sid", "vic"] {
        bundle.extend(std::fs::read(world.path(&format!("{name}.pem"))).unwrap());
    }
    client
        .call::<cert::Import>(&cert::ImportParams {
            data: bundle.into(),
        })
        .await
        .unwrap();

    for (email, reason) in [
        ("bob@example.com", "revoked: revoked on "),
        ("olga@example.com", "revoked: revoked on "),
        (
            "sid@example.com",
            "wrong key usage: keyUsage lacks keyAgreement",
        ),
    ] {
        let found = find(&mut client, email).await;
        assert!(found.certificate.is_none(), "{email}: {found:#?}");
        let candidate = &found.candidates[0];
        assert!(!candidate.usable);
        assert!(
            candidate.reason.starts_with(reason),
            "{email}: {}",
            candidate.reason
        );
        let message = format!(
            "From: ann@example.com\r\nTo: {email}\r\nSubject: x\r\nContent-Type: text/plain\r\n\r\nsecret\r\n"
        );
        let refused = daemon_error(encrypt(&mut client, message.as_bytes()).await);
        assert!(
            refused.message.contains(reason),
            "{email}: {}",
            refused.message
        );
    }
    let vic = find(&mut client, "vic@example.com").await;
    let best = &vic.candidates[0];
    assert!(best.usable, "{vic:#?}");
    assert!(best.reason.ends_with(", not revoked"), "{}", best.reason);
    let message = "From: ann@example.com\r\nTo: vic@example.com\r\nSubject: x\r\n\
                   Content-Type: text/plain\r\n\r\nsecret\r\n";
    encrypt(&mut client, message.as_bytes()).await.unwrap();
}
