//! Tests of the PKCS#12 reader, against files made by the real `openssl` at test time.

use super::*;
use der::asn1::{AnyRef, OctetStringRef};
use der::{Encode, Tag, Tagged};
use mailseal_test_support::{openssl, rfc9216};
use std::path::Path;

/// `req` arguments for a new P-256 key.
const EC: &str = "-newkey ec -pkeyopt ec_paramgen_curve:P-256";

/// Runs `openssl` in `dir` with the whitespace-separated `args`.
fn run(dir: &Path, args: &str) -> Vec<u8> {
    openssl(dir, &args.split_whitespace().collect::<Vec<_>>())
}

/// Makes `ca.pem`/`ca.key` (P-256) and `leaf.pem`/`leaf.key`, a leaf signed by that CA
/// with a new key made by the `req` arguments `newkey`.
fn ca_and_leaf(dir: &Path, newkey: &str) {
    let days = "req -x509 -nodes -days 30";
    run(
        dir,
        &format!("{days} -subj /CN=CA {EC} -keyout ca.key -out ca.pem"),
    );
    let signer = "-CA ca.pem -CAkey ca.key";
    run(
        dir,
        &format!("{days} -subj /CN=Leaf {signer} {newkey} -keyout leaf.key -out leaf.pem"),
    );
}

/// `openssl pkcs12 -export` of the leaf key, the leaf and the CA, with `extra` arguments.
fn export(dir: &Path, password: &str, extra: &str) -> Vec<u8> {
    let passout = format!("pass:{password}");
    let args = "pkcs12 -export -inkey leaf.key -in leaf.pem -certfile ca.pem -out out.p12";
    let mut args: Vec<&str> = args.split_whitespace().collect();
    args.extend(["-passout", &passout]);
    args.extend(extra.split_whitespace());
    openssl(dir, &args);
    std::fs::read(dir.join("out.p12")).unwrap()
}

/// The key in `file` as PKCS#8 DER (`openssl pkey -outform DER` would write RSA and EC
/// keys in their traditional forms).
fn pkcs8_der(dir: &Path, file: &str) -> Vec<u8> {
    openssl(
        dir,
        &[
            "pkcs8", "-topk8", "-nocrypt", "-outform", "DER", "-in", file,
        ],
    )
}

/// The (first) certificate in the PEM `file`.
fn certificate(dir: &Path, file: &str) -> Certificate {
    Certificate::from_der(&openssl(dir, &["x509", "-in", file, "-outform", "DER"])).unwrap()
}

/// The contents must be the leaf's key and certificate with the CA as chain.
fn assert_leaf_identity(dir: &Path, contents: &Pkcs12Contents) {
    assert_eq!(contents.private_key.as_bytes(), pkcs8_der(dir, "leaf.key"));
    assert_eq!(contents.certificate, certificate(dir, "leaf.pem"));
    assert_eq!(contents.chain, vec![certificate(dir, "ca.pem")]);
}

#[test]
fn kdf_matches_openssl_pkcs12kdf() {
    let dir = tempfile::tempdir().unwrap();
    let sha1 = &digest::SHA1_FOR_LEGACY_USE_ONLY;
    // The first two are the classic published vectors ("smeg"); the others cover the SHA-2
    // block sizes, several rounds of output, a non-ASCII password and the empty one.
    let cases = [
        (
            sha1,
            "SHA1",
            "smeg",
            "0a58cf64530d823f",
            1,
            Purpose::Key,
            24,
        ),
        (sha1, "SHA1", "smeg", "0a58cf64530d823f", 1, Purpose::Iv, 8),
        (
            &digest::SHA256,
            "SHA256",
            "secret",
            "0102030405060708",
            2048,
            Purpose::Mac,
            32,
        ),
        (
            &digest::SHA512,
            "SHA512",
            "pässwörd €",
            "ff",
            3,
            Purpose::Key,
            150,
        ),
        (
            &digest::SHA384,
            "SHA384",
            "",
            "00112233",
            7,
            Purpose::Mac,
            48,
        ),
    ];
    for (hash, name, password, salt, iterations, purpose, len) in cases {
        let bmp = kdf::bmp_password(password.as_bytes());
        let ours = kdf::derive(
            hash,
            &bmp,
            &hex::decode(salt).unwrap(),
            iterations,
            purpose,
            len,
        );
        let options = format!(
            "-kdfopt digest:{name} -kdfopt hexpass:{} -kdfopt hexsalt:{salt} -kdfopt iter:{iterations} -kdfopt id:{}",
            hex::encode(&*bmp),
            purpose as u8
        );
        let theirs = run(
            dir.path(),
            &format!("kdf -keylen {len} {options} PKCS12KDF"),
        );
        let theirs = String::from_utf8(theirs).unwrap().trim().replace(':', "");
        assert_eq!(hex::encode_upper(&*ours), theirs, "{name} {password:?}");
    }
}

#[test]
fn reads_openssl_default_exports_of_every_key_type() {
    let p384 = "-newkey ec -pkeyopt ec_paramgen_curve:P-384";
    for newkey in ["-newkey rsa:2048", EC, p384, "-newkey ed25519"] {
        let dir = tempfile::tempdir().unwrap();
        ca_and_leaf(dir.path(), newkey);
        // OpenSSL 3's default: PBES2 (PBKDF2-SHA256, AES-256-CBC), HMAC-SHA-256.
        let p12 = export(dir.path(), "secret", "");
        assert_leaf_identity(dir.path(), &parse(&p12, b"secret").unwrap());
    }
}

#[test]
fn reads_legacy_and_mixed_schemes_with_a_non_ascii_password() {
    let dir = tempfile::tempdir().unwrap();
    ca_and_leaf(dir.path(), EC);
    let password = "pässwörd €";
    for extra in [
        // Windows' old export: Triple DES everywhere, HMAC-SHA-1.
        "-keypbe PBE-SHA1-3DES -certpbe PBE-SHA1-3DES -macalg sha1",
        // OpenSSL 1.x's default: 40-bit RC2 for the certificates, 3DES for the key.
        "-legacy",
        "-legacy -keypbe PBE-SHA1-2DES -certpbe PBE-SHA1-RC2-128",
        "-keypbe aes-128-cbc -certpbe des-ede3-cbc -macalg sha512",
        "-keypbe aes-192-cbc -certpbe aes-256-cbc -macalg sha384",
        // A MAC without an iteration count (DEFAULT 1), PBKDF2 with one iteration.
        "-nomaciter -noiter",
        // A plain keyBag and unencrypted certificates.
        "-keypbe NONE -certpbe NONE",
    ] {
        let p12 = export(dir.path(), password, extra);
        let contents = parse(&p12, password.as_bytes()).unwrap_or_else(|e| panic!("{extra}: {e}"));
        assert_leaf_identity(dir.path(), &contents);
        let wrong = parse(&p12, "pässwörd".as_bytes());
        assert!(
            matches!(wrong, Err(Pkcs12Error::WrongPassword)),
            "{extra}: {wrong:?}"
        );
    }
}

#[test]
fn empty_password_and_missing_mac() {
    let dir = tempfile::tempdir().unwrap();
    ca_and_leaf(dir.path(), "-newkey ed25519");
    let p12 = export(dir.path(), "", "");
    assert_leaf_identity(dir.path(), &parse(&p12, b"").unwrap());
    assert!(matches!(parse(&p12, b"x"), Err(Pkcs12Error::WrongPassword)));

    let unprotected = export(dir.path(), "", "-nomac -keypbe NONE -certpbe NONE");
    assert_leaf_identity(dir.path(), &parse(&unprotected, b"").unwrap());

    let stripped = export(dir.path(), "secret", "-nomac");
    assert!(matches!(
        parse(&stripped, b"secret"),
        Err(Pkcs12Error::MissingMac)
    ));
}

/// Re-encodes DER as Windows and Java write BER: every constructed value with an
/// indefinite length, every OCTET STRING (or primitive `[0]`) above 32 bytes as a
/// constructed one in two segments. With `deep`, the DER SEQUENCEs those OCTET STRINGs
/// carry are re-encoded too.
fn to_ber(der: &[u8], deep: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = der;
    while let [tag, first_len, after @ ..] = rest {
        let (len, after) = if *first_len < 0x80 {
            (usize::from(*first_len), after)
        } else {
            let (digits, after) = after.split_at(usize::from(first_len - 0x80));
            (
                digits.iter().fold(0, |acc, b| acc << 8 | usize::from(*b)),
                after,
            )
        };
        let (content, next) = after.split_at(len);
        if tag & 0x20 != 0 {
            out.extend([*tag, 0x80]);
            out.extend(to_ber(content, deep));
            out.extend([0, 0]);
        } else if (*tag == 0x04 || *tag == 0x80) && content.len() > 32 {
            let inner = if deep && holds_typed_sequences(content) {
                to_ber(content, deep)
            } else {
                content.to_vec()
            };
            out.extend([tag | 0x20, 0x80]);
            for segment in inner.chunks(inner.len().div_ceil(2)) {
                out.extend(OctetStringRef::new(segment).unwrap().to_der().unwrap());
            }
            out.extend([0, 0]);
        } else {
            out.extend(&rest[..rest.len() - next.len()]);
        }
        rest = next;
    }
    out
}

/// Whether `content` is a SEQUENCE OF SEQUENCE { OBJECT IDENTIFIER, … }, as an
/// AuthenticatedSafe and a SafeContents are, and a certificate is not.
fn holds_typed_sequences(content: &[u8]) -> bool {
    Vec::<AnyRef<'_>>::from_der(content).is_ok_and(|items| {
        items
            .first()
            .is_some_and(|item| item.tag() == Tag::Sequence && item.value().first() == Some(&0x06))
    })
}

#[test]
fn reads_ber_with_indefinite_lengths_and_constructed_octet_strings() {
    let dir = tempfile::tempdir().unwrap();
    ca_and_leaf(dir.path(), EC);
    // (password, export arguments, whether to go inside the OCTET STRINGs): with a MAC, the
    // AuthenticatedSafe's bytes must stay as they are, so BER only outside it; without one,
    // BER all the way down to the encrypted parts, with plain and encrypted certificate bags.
    let cases = [
        ("secret", "", false),
        ("", "-nomac", true),
        ("", "-nomac -certpbe AES-256-CBC", true),
    ];
    for (password, extra, deep) in cases {
        let der = export(dir.path(), password, extra);
        let ber = to_ber(&der, deep);
        assert!(ber.len() > der.len(), "{extra}: nothing was re-encoded");
        // OpenSSL reads it too, so the test's BER is the real thing.
        std::fs::write(dir.path().join("ber.p12"), &ber).unwrap();
        let passin = format!("pass:{password}");
        openssl(
            dir.path(),
            &["pkcs12", "-in", "ber.p12", "-passin", &passin, "-noout"],
        );
        assert_leaf_identity(dir.path(), &parse(&ber, password.as_bytes()).unwrap());
    }
}

#[test]
fn damaged_input_is_an_error_and_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    ca_and_leaf(dir.path(), EC);
    let p12 = export(dir.path(), "secret", "");
    let garbage = [
        &b""[..],
        b"\x30",
        b"\x30\x80",
        b"not a PKCS#12 file at all",
        &p12[1..],
    ];
    for input in garbage
        .into_iter()
        .chain((0..p12.len()).map(|len| &p12[..len]))
    {
        let result = parse(input, b"secret");
        assert!(
            matches!(result, Err(Pkcs12Error::Malformed { .. })),
            "{input:?}: {result:?}"
        );
    }
    for position in (0..p12.len()).step_by(3) {
        let mut damaged = p12.clone();
        damaged[position] ^= 0x41;
        assert!(parse(&damaged, b"secret").is_err(), "flip at {position}");
    }
}

#[test]
fn the_certificate_is_found_by_public_key_not_by_place() {
    let dir = tempfile::tempdir().unwrap();
    ca_and_leaf(dir.path(), "-newkey ed25519");
    let key = PrivateKeyDer::new(pkcs8_der(dir.path(), "leaf.key"));
    let (ca, leaf) = (
        certificate(dir.path(), "ca.pem"),
        certificate(dir.path(), "leaf.pem"),
    );
    let found = split_identity(&key, vec![ca.clone(), leaf.clone()]).unwrap();
    assert_eq!(found, (leaf, vec![ca.clone()]));
    let none = split_identity(&key, vec![ca]);
    assert!(matches!(none, Err(Pkcs12Error::NoMatchingCertificate)));
}

#[test]
fn unsupported_and_corrupt_keys_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    ca_and_leaf(dir.path(), "-newkey ed448");
    let result = parse(&export(dir.path(), "secret", ""), b"secret");
    let ed448 = |oid: &str| oid == "1.3.101.113";
    assert!(
        matches!(&result, Err(Pkcs12Error::UnsupportedAlgorithm { oid, .. }) if ed448(oid)),
        "{result:?}"
    );

    ca_and_leaf(dir.path(), EC);
    let mut p12 = export(dir.path(), "", "-nomac -keypbe NONE -certpbe NONE");
    // Flip a bit of the private scalar in the plain key bag (ECPrivateKey: version 1, then
    // the scalar as a 32-byte OCTET STRING): it no longer fits its public key.
    let scalar_header = [0x02, 0x01, 0x01, 0x04, 0x20];
    let scalar = p12.windows(5).position(|w| w == scalar_header).unwrap() + 5;
    p12[scalar] ^= 1;
    let result = parse(&p12, b"");
    assert!(
        matches!(result, Err(Pkcs12Error::InvalidPrivateKey { .. })),
        "{result:?}"
    );
}

#[test]
fn debug_output_shows_no_key_material() {
    let dir = tempfile::tempdir().unwrap();
    ca_and_leaf(dir.path(), EC);
    let contents = parse(&export(dir.path(), "secret", ""), b"secret").unwrap();
    let key = contents.private_key.as_bytes();
    let expected = format!("PrivateKeyDer({} bytes, redacted)", key.len());
    assert_eq!(format!("{:?}", contents.private_key), expected);
    // Nor does the whole: no run of the key's middle (its secret scalar), as bytes or hex.
    let all = format!("{contents:?}").to_lowercase();
    let middle = &key[key.len() / 2..key.len() / 2 + 8];
    let as_list = format!("{middle:?}");
    assert!(!all.contains(as_list.trim_matches(['[', ']'])));
    assert!(!all.contains(&hex::encode(middle)));
}

#[test]
fn reads_rfc9216_identities() {
    let (Some(keys), Some(certs)) = (rfc9216("keys"), rfc9216("certs")) else {
        return;
    };
    let path = |dir: &Path, file: &str| dir.join(file).to_str().unwrap().to_owned();
    let work = tempfile::tempdir().unwrap();
    let rsa_ca = "Sample_LAMPS_RSA_Certification_Authority.selfsigned.pem";
    let ed_ca = "Sample_LAMPS_Ed25519_Certification_Authority.selfsigned.pem";
    // A key, its certificate, and the other certificates to put in the file: Bob's and
    // Dana's signing certificates are for other keys, so they must end up in the chain.
    let identities = [
        (
            "lamps-alice.p8.pem",
            "alice@smime.example.sig.pem",
            &[rsa_ca][..],
        ),
        (
            "lamps-bob.decrypt.p8.pem",
            "bob@smime.example.enc.pem",
            &["bob@smime.example.sig.pem", rsa_ca],
        ),
        (
            "lamps-carlos.p8.pem",
            "carlos@smime.example.sig.pem",
            &[ed_ca],
        ),
        (
            "lamps-dana.decrypt.p8.pem",
            "dana@smime.example.enc.pem",
            &["dana@smime.example.sig.pem", ed_ca],
        ),
    ];
    for (key, cert, others) in identities {
        let (key, cert) = (path(&keys, key), path(&certs, cert));
        let others: Vec<String> = others.iter().map(|other| path(&certs, other)).collect();
        let pem: Vec<u8> = others
            .iter()
            .flat_map(|other| std::fs::read(other).unwrap())
            .collect();
        std::fs::write(work.path().join("others.pem"), pem).unwrap();
        let export = [
            "pkcs12",
            "-export",
            "-passout",
            "pass:secret",
            "-out",
            "id.p12",
        ];
        let inputs = ["-inkey", &key, "-in", &cert, "-certfile", "others.pem"];
        openssl(work.path(), &[&export[..], &inputs].concat());

        let contents = parse(
            &std::fs::read(work.path().join("id.p12")).unwrap(),
            b"secret",
        )
        .unwrap();
        assert_eq!(
            contents.private_key.as_bytes(),
            pkcs8_der(work.path(), &key)
        );
        assert_eq!(contents.certificate, certificate(work.path(), &cert));
        let chain: Vec<_> = others
            .iter()
            .map(|other| certificate(work.path(), other))
            .collect();
        assert_eq!(contents.chain, chain);
    }
}
