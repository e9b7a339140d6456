//! The bodies of Mailseal's fuzz targets, one function per target, each taking the fuzzer's
//! bytes as an attacker would send them. A target must never panic, hang or grow without
//! bound, whatever the bytes; a wrong answer to nonsense is fine as long as it is an error.
//!
//! The functions live here rather than in `fuzz_targets/` so that `tests/corpus.rs` can replay
//! the seed corpora through them on stable Rust.
#![forbid(unsafe_code)]

use mailseal_protocol::methods::{self, Method};
use mailseal_smime::envelope::OwnKey;
use mailseal_smime::message::{OpenContext, open_message};
use mailseal_smime::{Issuers, Revocation, RevocationPolicy, Scratch};
use std::io::Cursor;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};
use x509_cert::Certificate;
use x509_cert::der::Decode;

/// Protocol frames as the daemon reads them from a client: split at newlines under the frame
/// limit, each parsed as a JSON-RPC request and its parameters decoded as the method's type.
pub fn frame(data: &[u8]) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut reader = mailseal_protocol::FrameReader::new(data, 64 * 1024);
        let mut frame = Vec::new();
        while let Ok(true) = reader.read_frame(&mut frame).await {
            if let Ok(request) = mailseal_protocol::Request::parse(&frame) {
                decode_params(&request.method, request.params);
            }
            frame.clear();
        }
    });
}

/// Decodes `params` as the parameters of `method`, for every method of the protocol's table.
macro_rules! decode_every_method {
    ($($namespace:ident::$method:ident => $($audience:ident)|+,)*) => {
        fn decode_params(method: &str, params: serde_json::Value) {
            $(
                if method == <methods::$namespace::$method as Method>::NAME {
                    let _ = serde_json::from_value::<
                        <methods::$namespace::$method as Method>::Params,
                    >(params);
                    return;
                }
            )*
        }
    };
}
mailseal_protocol::for_each_method!(decode_every_method);

/// A message as a sender wrote it: parsed, its addresses read, its parts walked, and its
/// entity canonicalized for signing and encrypting (what `smime.sign` does first).
pub fn mime(data: &[u8]) {
    use mailseal_mime::canonical::{self, Span};
    let entity = mailseal_mime::mime::parse(data);
    let _ = entity.addresses(&["From", "To", "Cc"]);
    let _ = entity.content_type().param("boundary");
    let _ = entity.decoded_body();
    let len = data.len() as u64;
    let _ = canonical::canonical_len(&mut Cursor::new(data), Span::whole(len));
    let _ = canonical::canonicalize(
        &mut Cursor::new(data),
        Span::whole(len),
        &mut std::io::sink(),
    );
}

/// A received message opened as `smime.open` does, with nothing to decrypt with and one trust
/// anchor: every S/MIME layer (multipart/signed, opaque SignedData, EnvelopedData,
/// AuthEnvelopedData, in BER or DER, nested) is read, verified and reported.
pub fn open(data: &[u8]) {
    let fixtures = fixtures();
    let no_keys: [OwnKey<'_>; 0] = [];
    let known: Vec<&Certificate> = vec![&fixtures.issuer];
    let context = OpenContext {
        own_keys: &no_keys,
        anchors: std::slice::from_ref(&fixtures.issuer),
        revocation: &fixtures.revocation,
        issuers: &fixtures.issuers,
        known_certs: &known,
        now: SystemTime::now(),
    };
    let scratch = Scratch::new(fixtures.scratch.path().to_owned());
    let len = data.len() as u64;
    let _ = open_message(
        &mut Cursor::new(data),
        len,
        &context,
        &scratch,
        &mut std::io::sink(),
    );
}

/// BER as it comes in CMS from other clients, normalized to DER under both profiles.
pub fn ber(data: &[u8]) {
    use mailseal_pkix::ber::{Profile, to_der};
    let _ = to_der(data, Profile::SIGNED_DATA);
    let _ = to_der(data, Profile::ENVELOPED_DATA);
}

/// Certificates as messages, files and the directory bring them: read (PEM or DER), described,
/// and put through path validation with the fixed CA as trust anchor.
pub fn certificates(data: &[u8]) {
    use mailseal_pkix::describe;
    let Ok(certificates) = describe::parse_certificates(data) else {
        return;
    };
    let fixtures = fixtures();
    let all: Vec<&Certificate> = certificates.iter().collect();
    for cert in &certificates {
        let _ = describe::emails(cert);
        let _ = describe::key_algorithm(cert);
        let _ = describe::days_to_expiry(cert, SystemTime::now());
        let anchors = std::slice::from_ref(&fixtures.issuer);
        let _ = mailseal_pkix::path::validate(cert, &all, anchors, SystemTime::now());
    }
}

/// A CRL as a distribution point or a message serves it, checked against the fixed CA for the
/// fixed leaf.
pub fn crl(data: &[u8]) {
    use mailseal_pkix::revocation::crl;
    let fixtures = fixtures();
    if let Ok(list) = crl::parse_file(data, "fuzz") {
        let _ = crl::fresh_until(&list);
        let _ = crl::status(
            &list,
            "fuzz",
            &fixtures.leaf,
            &fixtures.issuer,
            SystemTime::now(),
        );
    }
}

/// An OCSP responder's answer about the fixed leaf.
pub fn ocsp(data: &[u8]) {
    use mailseal_pkix::revocation::ocsp;
    let fixtures = fixtures();
    if let Ok(query) = ocsp::request(&fixtures.leaf, &fixtures.issuer) {
        let _ = ocsp::answer(
            &query,
            data,
            "http://fuzz",
            &fixtures.issuer,
            SystemTime::now(),
        );
    }
}

/// A PKCS#12 file as a user imports it, with a password.
pub fn pkcs12(data: &[u8]) {
    let _ = mailseal_keys::pkcs12::parse(data, b"password");
}

/// A configuration file, as the user's config or the company policy.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let fixtures = fixtures();
    let path = fixtures.scratch.path().join("config.toml");
    std::fs::write(&path, text).unwrap();
    let _ = mailseal_daemon::config::Config::load_layered(None, Some(&path));
}

/// Native-messaging frames from the add-on, as the bridge reads them.
pub fn native_messaging(data: &[u8]) {
    use mailseal_daemon::native_host::framing::read_message;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut reader = data;
        while let Ok(Some(_)) = read_message(&mut reader, 64 * 1024).await {}
    });
}

/// What the targets check against, made once per process: a CA, a leaf it issued, and the
/// engine's offline revocation and issuer lookups.
struct Fixtures {
    issuer: Certificate,
    leaf: Certificate,
    revocation: Revocation,
    issuers: Issuers,
    scratch: tempfile::TempDir,
}

fn fixtures() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
        let leaf = CertificateParams::new(Vec::<String>::new()).unwrap();
        let leaf = leaf.signed_by(&KeyPair::generate().unwrap(), &ca).unwrap();
        Fixtures {
            issuer: Certificate::from_der(ca.der()).unwrap(),
            leaf: Certificate::from_der(leaf.der()).unwrap(),
            // Off: a fuzzer must not reach for the network.
            revocation: Revocation::new(RevocationPolicy::Off, Duration::from_secs(1)),
            issuers: Issuers::new(Duration::from_secs(1), false),
            scratch: tempfile::tempdir().unwrap(),
        }
    })
}
