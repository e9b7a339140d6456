//! The same primitives as `openssl speed`, measured in this process with `aws-lc-rs`, the
//! library the daemon does its cryptography with: what the daemon's own crypto costs here.

use crate::speed::Limits;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair, UnparsedPublicKey};
use aws_lc_rs::{aead, agreement, digest};
use std::time::{Duration, Instant};

/// CPU time this thread has run, from /proc/thread-self/schedstat (nanoseconds on the CPU).
fn thread_cpu() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

/// Runs `op` for `seconds` of wall time; operations per second of this thread's CPU time (as
/// `openssl speed` counts), so that other load on the machine does not lower the rate; per
/// second of wall time where the CPU time cannot be read.
fn rate(seconds: f64, mut op: impl FnMut() -> Result<(), String>) -> Result<f64, String> {
    op()?;
    let wanted = Duration::from_secs_f64(seconds);
    let (start, cpu_start) = (Instant::now(), thread_cpu());
    let mut count = 0u64;
    while count == 0 || start.elapsed() < wanted {
        op()?;
        count += 1;
    }
    let elapsed = thread_cpu()
        .zip(cpu_start)
        .map(|(end, start)| end.saturating_sub(start))
        .filter(|cpu| !cpu.is_zero())
        .unwrap_or_else(|| start.elapsed());
    Ok(count as f64 / elapsed.as_secs_f64())
}

fn error<E: std::fmt::Debug>(what: &'static str) -> impl Fn(E) -> String {
    move |e| format!("aws-lc {what}: {e:?}")
}

/// Signatures and verifications per second of a fresh RSA key.
fn rsa(size: KeySize, seconds: f64) -> Result<(f64, f64), String> {
    let key = RsaKeyPair::generate(size).map_err(error("RSA key generation"))?;
    let rng = SystemRandom::new();
    let message = [0x5au8; 32];
    let mut sig = vec![0u8; key.public_modulus_len()];
    let sign = rate(seconds, || {
        key.sign(&signature::RSA_PKCS1_SHA256, &rng, &message, &mut sig)
            .map_err(error("RSA sign"))
    })?;
    let public = UnparsedPublicKey::new(
        &signature::RSA_PKCS1_2048_8192_SHA256,
        key.public_key().as_ref().to_vec(),
    );
    let verify = rate(seconds, || {
        public.verify(&message, &sig).map_err(error("RSA verify"))
    })?;
    Ok((sign, verify))
}

/// Measures every primitive for `seconds` each.
pub fn measure(seconds: f64) -> Result<Limits, String> {
    let mut limits = Limits::default();
    limits.rsa.insert(2048, rsa(KeySize::Rsa2048, seconds)?);
    limits.rsa.insert(3072, rsa(KeySize::Rsa3072, seconds)?);

    let rng = SystemRandom::new();
    let message = [0x5au8; 32];
    let ecdsa = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_ASN1_SIGNING)
        .map_err(error("ECDSA key generation"))?;
    let mut sig = ecdsa.sign(&rng, &message).map_err(error("ECDSA sign"))?;
    let ecdsa_sign = rate(seconds, || {
        sig = ecdsa.sign(&rng, &message).map_err(error("ECDSA sign"))?;
        Ok(())
    })?;
    let public = UnparsedPublicKey::new(
        &signature::ECDSA_P256_SHA256_ASN1,
        ecdsa.public_key().as_ref().to_vec(),
    );
    let ecdsa_verify = rate(seconds, || {
        public
            .verify(&message, sig.as_ref())
            .map_err(error("ECDSA verify"))
    })?;
    limits.ecdsa_p256 = (ecdsa_sign, ecdsa_verify);

    let ours = agreement::PrivateKey::generate(&agreement::ECDH_P256)
        .map_err(error("ECDH key generation"))?;
    let theirs = agreement::PrivateKey::generate(&agreement::ECDH_P256)
        .map_err(error("ECDH key generation"))?
        .compute_public_key()
        .map_err(error("ECDH public key"))?;
    limits.ecdh_p256 = rate(seconds, || {
        let peer = agreement::UnparsedPublicKey::new(&agreement::ECDH_P256, theirs.as_ref());
        agreement::agree(&ours, peer, "derive", |secret| Ok(secret[0])).map_err(error("ECDH"))?;
        Ok(())
    })?;

    let mut block = vec![0x5au8; 16384];
    let key = aead::LessSafeKey::new(
        aead::UnboundKey::new(&aead::AES_256_GCM, &[7u8; 32]).map_err(error("AES key"))?,
    );
    let aes = rate(seconds, || {
        let nonce = aead::Nonce::assume_unique_for_key([0u8; 12]);
        key.seal_in_place_separate_tag(nonce, aead::Aad::empty(), &mut block)
            .map(|_| ())
            .map_err(error("AES-256-GCM"))
    })?;
    limits.aes_256_gcm = aes * block.len() as f64;
    let sha = rate(seconds, || {
        std::hint::black_box(digest::digest(&digest::SHA256, &block));
        Ok(())
    })?;
    limits.sha256 = sha * block.len() as f64;
    limits.commands.push(format!(
        "aws-lc-rs in this process, {seconds} s per primitive, per second of its CPU time: RSA PKCS#1 v1.5 SHA-256 sign and verify of 32 bytes, ECDSA P-256 sign and verify, ECDH P-256 derive with a static key, AES-256-GCM seal and SHA-256 of 16 KiB blocks"
    ));
    Ok(limits)
}
