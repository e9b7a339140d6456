//! The signed content as verification sees it: hashed while it streams past on its way to the
//! next layer, by every digest algorithm the SignerInfos name, so that it is read once and never
//! held.

use aws_lc_rs::digest;
use mailseal_keys::backend::Hash;
use std::io::{self, Write};

/// The most content kept whole for the one kind of signature that covers the content itself
/// rather than a digest (pure Ed25519 without signed attributes, RFC 8419 §3.1); beyond it such
/// a signature fails as too long to check.
pub const MAX_WHOLE: usize = 16 << 20;

/// What the SignerInfos need computed over the content.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Needs {
    /// Each digest algorithm, once.
    pub hashes: Vec<Hash>,
    /// Whether a signature covers the content itself.
    pub whole: bool,
}

/// A pass-through [`Write`] that hashes the content as it goes to `out`; made by
/// [`super::Signed::hashing`].
pub struct Hashing<W> {
    out: W,
    contexts: Vec<(Hash, digest::Context)>,
    /// The content so far, while a signature needs it whole and it is short enough.
    whole: Option<Vec<u8>>,
    too_long: bool,
}

impl<W: Write> Hashing<W> {
    pub(super) fn new(out: W, needs: &Needs) -> Self {
        Self {
            out,
            contexts: needs
                .hashes
                .iter()
                .map(|hash| (*hash, digest::Context::new(hash.aws())))
                .collect(),
            whole: needs.whole.then(Vec::new),
            too_long: false,
        }
    }

    /// The inner writer and what was learned about the content.
    pub fn finish(self) -> (W, SignedContent) {
        let digests = self
            .contexts
            .into_iter()
            .map(|(hash, context)| (hash, context.finish().as_ref().to_vec()))
            .collect();
        let whole = match (self.whole, self.too_long) {
            (_, true) => Whole::TooLong,
            (Some(content), false) => Whole::Kept(content),
            (None, false) => Whole::NotKept,
        };
        (self.out, SignedContent { digests, whole })
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        for (_, context) in &mut self.contexts {
            context.update(&buf[..n]);
        }
        if let Some(whole) = &mut self.whole {
            if whole.len() + n > MAX_WHOLE {
                self.whole = None;
                self.too_long = true;
            } else {
                whole.extend_from_slice(&buf[..n]);
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// The content's digests (and, when a signature covers it whole, the content).
#[derive(Debug)]
pub struct SignedContent {
    digests: Vec<(Hash, Vec<u8>)>,
    whole: Whole,
}

#[derive(Debug)]
enum Whole {
    NotKept,
    Kept(Vec<u8>),
    TooLong,
}

impl SignedContent {
    /// The digest by `hash`, if it was computed.
    pub(super) fn digest(&self, hash: Hash) -> Option<&[u8]> {
        self.digests
            .iter()
            .find(|(h, _)| *h == hash)
            .map(|(_, d)| d.as_slice())
    }

    /// The content itself, or why it is not at hand.
    pub(super) fn whole(&self) -> Result<&[u8], String> {
        match &self.whole {
            Whole::Kept(content) => Ok(content),
            Whole::TooLong => Err(format!(
                "the signature covers the content itself, which is longer than {} MiB: not checked",
                MAX_WHOLE >> 20
            )),
            Whole::NotKept => Err("the content was not kept for the signature".into()),
        }
    }
}
