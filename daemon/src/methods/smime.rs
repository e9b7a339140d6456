//! `smime.sign`, `smime.encrypt`, `smime.sign_encrypt`, `smime.decrypt`, `smime.verify`,
//! `smime.open`: choose identities and recipients, then run the engine where it costs least
//! (see [`Weight`]).

use super::{Weight, blocking, run_work};
use crate::certs::find;
use crate::own_identities::{KeyHome, OwnIdentity};
use crate::rpc_error::{ToRpc, rpc};
use crate::state::Daemon;
use crate::transfer::streams;
use crate::transfer::{Caller, Sink, Source, open_payload};
use crate::wire::{FromWire, ToWire};
use mailseal_keys::backend::{Hash, PrivateKeyOps, RsaPadding};
use mailseal_mime::canonical::{self, Span};
use mailseal_mime::mime;
use mailseal_mime::scratch::Scratch;
use mailseal_pkix::describe::{Fingerprint, Period, period};
use mailseal_protocol::methods::smime::{
    EncryptParams, IncomingParams, MessageResult, OpenedResult, SignEncryptParams, SignParams,
};
use mailseal_protocol::methods::transfer::{Delivered, Output, Payload};
use mailseal_protocol::{ErrorKind, RpcError};
use mailseal_smime::envelope::{EnvelopeError, OwnKey, Recipient};
use mailseal_smime::harvest;
use mailseal_smime::message::{
    MessageError, OpenContext, encrypt_message, open_message, sign_message,
};
use mailseal_smime::report::{ContentEncryption, Layer, SignatureMode};
use mailseal_smime::sign::Signer;
use std::io::{Read, Seek, Write};
use std::sync::Arc;
use std::time::SystemTime;
use x509_cert::Certificate;

/// Signs with the chosen identity, streaming the message through.
pub async fn sign(
    daemon: Arc<Daemon>,
    caller: Caller,
    params: SignParams,
) -> Result<MessageResult, RpcError> {
    let sink = Sink::new(params.output.as_ref(), &caller.session)?;
    let scratch = scratch(&daemon);
    if message_weight(&params.message, params.output.as_ref()) == Weight::Heavy {
        // One trip to the blocking pool for the whole request, files and streams included.
        let message = blocking(move || {
            let (head, source) = open_with_head(&caller, params.message, params.progress)?;
            let (identity, key) = signing_identity(&daemon, params.key_id.as_deref(), &head)?;
            let signing = Signing::new(&identity, &key, params.rsa_pss, &scratch);
            signing.deliver(source, FromWire::from_wire(params.mode), sink)
        })
        .await?;
        return Ok(MessageResult { message });
    }
    let (head, source) = open_with_head(&caller, params.message, params.progress)?;
    let (identity, key) = signing_identity(&daemon, params.key_id.as_deref(), &head)?;
    let message = run_work(&caller.session, key_weight(&identity), move || {
        let signing = Signing::new(&identity, &key, params.rsa_pss, &scratch);
        signing.deliver(source, FromWire::from_wire(params.mode), sink)
    })
    .await?;
    Ok(MessageResult { message })
}

/// The largest message whose work is light (see [`Weight`]): signing or checking 128 KiB
/// takes about a millisecond.
const LIGHT_BYTES: usize = 128 * 1024;

/// Light for a small message in the request answered in the reply; heavy when a file or a
/// stream is read or written (the disk may wait) or the message is long.
fn message_weight(message: &Payload, output: Option<&Output>) -> Weight {
    match message {
        Payload::Inline(bytes) if output.is_none() && bytes.as_slice().len() <= LIGHT_BYTES => {
            Weight::Light
        }
        _ => Weight::Heavy,
    }
}

/// Light for a key in this process (an RSA-3072 signature takes 0.6 ms); heavy for a smart
/// card, which may wait on its reader.
fn key_weight(identity: &OwnIdentity) -> Weight {
    match identity.home {
        KeyHome::Software => Weight::Light,
        KeyHome::Token { .. } => Weight::Heavy,
    }
}

/// Opening a message may decrypt with any own key, known only once the message is read:
/// heavy whenever a card is present.
fn opening_weight(daemon: &Daemon) -> Weight {
    if daemon.tokens.any_present() {
        Weight::Heavy
    } else {
        Weight::Light
    }
}

/// Encrypts to the recipients and the sender, streaming the message through.
pub async fn encrypt(
    daemon: Arc<Daemon>,
    caller: Caller,
    params: EncryptParams,
) -> Result<MessageResult, RpcError> {
    let weight = message_weight(&params.message, params.output.as_ref());
    let mut sink = Sink::new(params.output.as_ref(), &caller.session)?;
    let (head, mut source) = opened_with_head(&caller, params.message, params.progress).await?;
    let addressees = Addressees::gather(
        &daemon,
        &head,
        params.recipients,
        params.content_encryption.map(FromWire::from_wire),
        params.rsa_oaep,
    )
    .await?;
    // The recipients' revocation is judged with the encryption, in one piece of work whatever
    // the number of recipients.
    let message = run_work(&caller.session, weight, move || {
        let plan = addressees.settle(&daemon)?;
        let len = source.len();
        plan.run(&mut source, len, &mut sink)?;
        sink.finish()
    })
    .await?;
    Ok(MessageResult { message })
}

/// Signs, encrypts, and optionally signs again, each step streaming into a spool for the next.
pub async fn sign_encrypt(
    daemon: Arc<Daemon>,
    caller: Caller,
    params: SignEncryptParams,
) -> Result<MessageResult, RpcError> {
    let weight = message_weight(&params.message, params.output.as_ref());
    let mut sink = Sink::new(params.output.as_ref(), &caller.session)?;
    let (head, mut source) = opened_with_head(&caller, params.message, params.progress).await?;
    let (identity, key) = signing_identity(&daemon, params.key_id.as_deref(), &head)?;
    let weight = weight.max(key_weight(&identity));
    let addressees = Addressees::gather(
        &daemon,
        &head,
        params.recipients,
        params.content_encryption.map(FromWire::from_wire),
        params.rsa_oaep,
    )
    .await?;
    let scratch = scratch(&daemon);
    let message = run_work(&caller.session, weight, move || {
        let plan = addressees.settle(&daemon)?;
        let signing = Signing::new(&identity, &key, params.rsa_pss, &scratch);
        let len = source.len();
        let mut signed = scratch.spool();
        signing.run(&mut source, len, SignatureMode::Detached, &mut signed)?;
        let signed_len = rewound(&mut signed)?;
        if params.triple_wrap {
            let mut encrypted = scratch.spool();
            plan.run(&mut signed, signed_len, &mut encrypted)?;
            let encrypted_len = rewound(&mut encrypted)?;
            signing.run(
                &mut encrypted,
                encrypted_len,
                SignatureMode::Detached,
                &mut sink,
            )?;
        } else {
            plan.run(&mut signed, signed_len, &mut sink)?;
        }
        sink.finish()
    })
    .await?;
    Ok(MessageResult { message })
}

/// The length of what was written to `spool`, which is then read from its start.
fn rewound(spool: &mut (impl Seek + ?Sized)) -> Result<u64, RpcError> {
    let len = spool
        .stream_position()
        .map_err(MessageError::Io)
        .map_err(rpc)?;
    spool.rewind().map_err(MessageError::Io).map_err(rpc)?;
    Ok(len)
}

/// [`open_with_head`] where it costs least: in place for a message inside the request (only
/// memory is read), on the blocking pool for a file or a stream.
async fn opened_with_head(
    caller: &Caller,
    message: Payload,
    progress: bool,
) -> Result<(Vec<u8>, Source), RpcError> {
    if matches!(message, Payload::Inline(_)) {
        return open_with_head(caller, message, progress);
    }
    let caller = caller.clone();
    blocking(move || open_with_head(&caller, message, progress)).await
}

/// Opens the request's message and reads its header block, which chooses the identity and
/// the recipients; blocks on files and streams.
fn open_with_head(
    caller: &Caller,
    message: Payload,
    progress: bool,
) -> Result<(Vec<u8>, Source), RpcError> {
    let mut source = open_input(caller, message, progress)?;
    let len = source.len();
    let (head, _) = canonical::read_head(&mut source, Span::whole(len))
        .map_err(MessageError::from)
        .map_err(rpc)?;
    Ok((head, source))
}

/// Decrypts an encrypted message (and reports any signature inside).
pub async fn decrypt(
    daemon: Arc<Daemon>,
    caller: Caller,
    params: IncomingParams,
) -> Result<OpenedResult, RpcError> {
    open_checked(daemon, caller, params, |layers| match layers.first() {
        Some(Layer::Encrypted { .. }) => Ok(()),
        _ => Err(not_applicable("the message is not encrypted")),
    })
    .await
}

/// Verifies a signed message.
pub async fn verify(
    daemon: Arc<Daemon>,
    caller: Caller,
    params: IncomingParams,
) -> Result<OpenedResult, RpcError> {
    open_checked(daemon, caller, params, |layers| {
        if layers.iter().any(|l| matches!(l, Layer::Signed { .. })) {
            Ok(())
        } else {
            Err(not_applicable("the message is not signed"))
        }
    })
    .await
}

/// Takes every layer off and harvests signers' certificates.
pub async fn open(
    daemon: Arc<Daemon>,
    caller: Caller,
    params: IncomingParams,
) -> Result<OpenedResult, RpcError> {
    open_checked(daemon, caller, params, |_| Ok(())).await
}

/// Opens the message and delivers it only if `check` accepts its layers, so that a refused
/// message writes no output file and leaves no stream. The whole request is one piece of work
/// (see [`Weight`]).
async fn open_checked(
    daemon: Arc<Daemon>,
    caller: Caller,
    params: IncomingParams,
    check: impl FnOnce(&[Layer]) -> Result<(), RpcError> + Send + 'static,
) -> Result<OpenedResult, RpcError> {
    let sink = Sink::new(params.output.as_ref(), &caller.session)?;
    let weight =
        message_weight(&params.message, params.output.as_ref()).max(opening_weight(&daemon));
    let session = Arc::clone(&caller.session);
    run_work(&session, weight, move || {
        let source = open_input(&caller, params.message, params.progress)?;
        let (sink, layers) = open_layers(&daemon, source, sink)?;
        check(&layers)?;
        let message = sink.finish()?;
        Ok(OpenedResult {
            message,
            layers: layers.into_iter().map(ToWire::to_wire).collect(),
        })
    })
    .await
}

/// Opens the request's message wherever it is; blocks on files and streams.
fn open_input(caller: &Caller, message: Payload, progress: bool) -> Result<Source, RpcError> {
    let reporter = caller.reporter(progress);
    open_payload(message, &caller.session, "params.message", reporter)
}

/// Where the engine keeps intermediate results: beside the streams, private to the user.
fn scratch(daemon: &Daemon) -> Scratch {
    Scratch::new(streams::dir(&daemon.data_dir))
}

/// An own identity with its key when it is usable now.
type IdentityWithKey = (OwnIdentity, Option<Arc<dyn PrivateKeyOps>>);

/// Takes every layer off the message into `sink` and harvests signers' certificates; blocks
/// (keys, certificate stores, revocation fetches).
fn open_layers(
    daemon: &Daemon,
    mut source: Source,
    mut sink: Sink,
) -> Result<(Sink, Vec<Layer>), RpcError> {
    let identities: Vec<IdentityWithKey> = daemon
        .own_identities()
        .into_iter()
        .map(|i| {
            let key = daemon.usable_key(&i).ok();
            (i, key)
        })
        .collect();
    let own_keys: Vec<OwnKey<'_>> = identities
        .iter()
        .map(|(identity, key)| OwnKey {
            key_id: identity.key_id,
            certificate: &identity.certificate,
            key: key.as_deref(),
        })
        .collect();
    let stored = daemon.certs.shared();
    let mut known_certs: Vec<&Certificate> = stored.iter().map(|cert| &**cert).collect();
    for (identity, _) in &identities {
        known_certs.push(&identity.certificate);
        known_certs.extend(&identity.chain);
    }
    let context = OpenContext {
        own_keys: &own_keys,
        anchors: &daemon.anchors,
        revocation: &daemon.revocation,
        issuers: &daemon.issuers,
        known_certs: &known_certs,
        now: SystemTime::now(),
    };
    let len = source.len();
    let opened =
        open_message(&mut source, len, &context, &scratch(daemon), &mut sink).map_err(|error| {
            match &error {
                // Say what the user must do for this key: a passphrase, or a card's PIN.
                MessageError::Envelope(EnvelopeError::Locked { key_id }) => identities
                    .iter()
                    .find(|(identity, _)| identity.key_id == *key_id)
                    .and_then(|(identity, _)| daemon.usable_key(identity).err())
                    .map_or_else(|| error.to_rpc(), RpcError::from),
                _ => error.to_rpc(),
            }
        })?;
    harvest::keep_signers(&daemon.certs, opened.harvest).map_err(rpc)?;
    Ok((sink, opened.layers))
}

fn not_applicable(why: &str) -> RpcError {
    RpcError::new(
        ErrorKind::bad_input("params.message"),
        format!("params.message: {why}"),
    )
}

/// Who signs and how, for every signature of one request.
struct Signing<'a> {
    identity: &'a OwnIdentity,
    key: &'a Arc<dyn PrivateKeyOps>,
    rsa_pss: bool,
    scratch: &'a Scratch,
}

impl<'a> Signing<'a> {
    fn new(
        identity: &'a OwnIdentity,
        key: &'a Arc<dyn PrivateKeyOps>,
        rsa_pss: bool,
        scratch: &'a Scratch,
    ) -> Self {
        Self {
            identity,
            key,
            rsa_pss,
            scratch,
        }
    }

    /// Signs the whole of `source` in `mode` into `sink` and delivers the result.
    fn deliver(
        &self,
        mut source: Source,
        mode: SignatureMode,
        mut sink: Sink,
    ) -> Result<Delivered, RpcError> {
        let len = source.len();
        self.run(&mut source, len, mode, &mut sink)?;
        sink.finish()
    }

    /// Signs the `len` bytes of `input` in `mode` into `out`.
    fn run<R: Read + Seek, W: Write>(
        &self,
        input: &mut R,
        len: u64,
        mode: SignatureMode,
        out: &mut W,
    ) -> Result<(), RpcError> {
        let signer = Signer {
            key: self.key.as_ref(),
            certificate: &self.identity.certificate,
            chain: &self.identity.chain,
            rsa_pss: self.rsa_pss,
        };
        sign_message(
            input,
            len,
            &signer,
            mode,
            SystemTime::now(),
            self.scratch,
            out,
        )
        .map_err(rpc)
    }
}

/// The identity to sign with and its unlocked key: `key_id`, else the identity whose valid
/// certificate names the From address.
fn signing_identity(
    daemon: &Daemon,
    key_id: Option<&str>,
    message: &[u8],
) -> Result<(OwnIdentity, Arc<dyn PrivateKeyOps>), RpcError> {
    let identity = match key_id {
        Some(id) => {
            let wanted = super::key::parse_key_id(id)?;
            daemon
                .own_identities()
                .into_iter()
                .find(|i| i.key_id == wanted)
                .ok_or_else(|| super::key::key_not_found(id))?
        }
        None => own_identity_for(daemon, &sender(message)?)?,
    };
    if !is_current(&identity.certificate, SystemTime::now()) {
        return Err(RpcError::new(
            ErrorKind::bad_input("params.key_id"),
            format!(
                "the certificate of key {} is not valid now (expired or not yet valid); an own certificate outside its validity never signs",
                identity.key_id
            ),
        ));
    }
    let key = daemon.usable_key(&identity)?;
    Ok((identity, key))
}

fn sender(message: &[u8]) -> Result<String, RpcError> {
    mime::parse(message)
        .addresses(&["From"])
        .into_iter()
        .next()
        .ok_or_else(|| {
            RpcError::new(
                ErrorKind::bad_input("params.message"),
                "params.message has no From address; give key_id",
            )
        })
}

fn is_current(cert: &Certificate, now: SystemTime) -> bool {
    matches!(period(cert, now), Period::Within(_))
}

/// The user's own identity for `address`, never one whose certificate has expired.
fn own_identity_for(daemon: &Daemon, address: &str) -> Result<OwnIdentity, RpcError> {
    daemon
        .signing_identity_for(address, SystemTime::now())
        .ok_or_else(|| {
            RpcError::new(
                ErrorKind::CertNotFound { query: address.to_owned() },
                format!("no identity of yours has a valid certificate for {address}; import one with key.import_pkcs12"),
            )
        })
}

/// Everything decided before encrypting: who gets the message and with which algorithm, so
/// that a missing recipient fails the request before any work is done.
struct EncryptionPlan {
    recipients: Vec<Certificate>,
    algorithm: ContentEncryption,
    rsa_padding: RsaPadding,
}

/// The recipients of a message before their certificates' revocation is judged: the
/// request's asynchronous part (the directory) done, the blocking part
/// ([`Addressees::settle`]) still to do.
struct Addressees {
    sender: Certificate,
    found: Vec<(String, find::Gathered)>,
    algorithm: Option<ContentEncryption>,
    rsa_padding: RsaPadding,
}

impl Addressees {
    /// The recipients named in `recipients`, else in the message's To, Cc and Bcc, and the
    /// sender's own identity for its copy, with every recipient's candidates gathered.
    async fn gather(
        daemon: &Arc<Daemon>,
        message: &[u8],
        recipients: Option<Vec<String>>,
        algorithm: Option<ContentEncryption>,
        rsa_oaep: bool,
    ) -> Result<Self, RpcError> {
        let addresses: Vec<String> = match recipients {
            Some(list) => list.iter().map(|a| a.trim().to_ascii_lowercase()).collect(),
            None => mime::parse(message).addresses(&["To", "Cc", "Bcc"]),
        };
        if addresses.is_empty() {
            return Err(RpcError::new(
                ErrorKind::bad_input("params.recipients"),
                "no recipients: the message has no To, Cc or Bcc and params.recipients is empty",
            ));
        }
        let sender = own_identity_for(daemon, &sender(message)?)?.certificate;
        let now = SystemTime::now();
        let mut found = Vec::with_capacity(addresses.len());
        for address in addresses {
            // The same choice `cert.find` shows, with its reasons when there is none.
            let gathered = find::gather(daemon, &address, now).await;
            found.push((address, gathered));
        }
        Ok(Self {
            sender,
            found,
            algorithm,
            rsa_padding: if rsa_oaep {
                RsaPadding::Oaep(Hash::Sha256)
            } else {
                RsaPadding::Pkcs1v15
            },
        })
    }

    /// Judges every recipient's certificate (revocation included) and decides the plan, or
    /// fails naming every recipient without a usable certificate. Blocks.
    fn settle(self, daemon: &Daemon) -> Result<EncryptionPlan, RpcError> {
        let now = SystemTime::now();
        let material = find::PathMaterial::of(daemon);
        let intermediates = material.certificates();
        let mut certificates = vec![self.sender];
        let mut missing = Vec::new();
        let mut announced = Vec::with_capacity(self.found.len());
        for (address, gathered) in self.found {
            let finding = gathered.settle(daemon, &intermediates, now);
            match finding.best() {
                Some(best) => {
                    let cert = best.certificate.clone();
                    announced.push(daemon.certs.capabilities(&Fingerprint::of(&cert)));
                    certificates.push(cert);
                }
                None => missing.push((address, finding.why_none())),
            }
        }
        if !missing.is_empty() {
            let list: Vec<&str> = missing
                .iter()
                .map(|(address, _)| address.as_str())
                .collect();
            let why: Vec<String> = missing
                .iter()
                .map(|(address, why)| format!("{address} ({why})"))
                .collect();
            return Err(RpcError::new(
                ErrorKind::CertNotFound {
                    query: list.join(", "),
                },
                format!(
                    "no valid encryption certificate for {}; nothing was encrypted",
                    why.join(", ")
                ),
            ));
        }
        certificates.dedup_by_key(|c| Fingerprint::of(c));
        let algorithm = self
            .algorithm
            .unwrap_or_else(|| ContentEncryption::common(announced.iter().map(Option::as_deref)));
        Ok(EncryptionPlan {
            recipients: certificates,
            algorithm,
            rsa_padding: self.rsa_padding,
        })
    }
}

impl EncryptionPlan {
    fn run<R: Read + Seek, W: Write>(
        &self,
        message: &mut R,
        len: u64,
        out: &mut W,
    ) -> Result<(), RpcError> {
        let recipients: Vec<Recipient<'_>> = self
            .recipients
            .iter()
            .map(|certificate| Recipient {
                certificate,
                rsa_padding: self.rsa_padding,
            })
            .collect();
        encrypt_message(message, len, &recipients, self.algorithm, out).map_err(rpc)
    }
}
