//! Batch issuance: every user of a CSV file gets a key pair in a PKCS#12 file with a random
//! password of its own, both written into a private directory for IT to hand out; run again,
//! it issues only what is missing.
//!
//! These are the CA's rules, not a front end's, so they live here: the daemon serves them as
//! `ca.batch`, and any IT tool that links this crate makes the same files and gets the same
//! idempotence. The directory is the record of delivery: a user whose PKCS#12 file is in it
//! has their certificate and is skipped; a user with an active certificate but no file (a run
//! stopped between recording the certificate and writing the file) gets a new one, and the
//! undelivered one is revoked as superseded.

use crate::authority::Authority;
use crate::issue::{self, KeyRequest, Password, Replacing};
use crate::profile::Subject;
use crate::signer::CaSigner;
use crate::vocabulary::{
    CertificateKind, IfActive, KeyAlgorithm, Pkcs12Format, UnknownName, Usage,
};
use crate::{PkiError, crl};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use mailseal_files::{StoreError, create_private_dir, stage, write_atomically};
use rcgen::Issuer;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// The list of every file and password, written into the output directory at the end.
pub const PASSWORD_LIST: &str = "passwords.csv";

/// One user of a batch file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The line of the file it is on (1 is the header), for messages that point IT to it.
    pub line: usize,
    /// The mail address, as written.
    pub email: String,
    /// The person's name, if the row has one.
    pub name: Option<String>,
    /// The company, if the row has one.
    pub organization: Option<String>,
    /// The row's profile, or the batch's default.
    pub kind: CertificateKind,
}

/// Why a batch file cannot be used; nothing is issued from a file with any of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CsvError {
    /// No header, no rows.
    #[error("the file is empty")]
    Empty,
    /// The header names no `email` column.
    #[error("the header has no email column")]
    NoEmailColumn,
    /// A quoted field does not end on its line.
    #[error("line {line}: unterminated quote")]
    UnterminatedQuote {
        /// The line.
        line: usize,
    },
    /// A row's email field is empty.
    #[error("line {line}: no email")]
    NoEmail {
        /// The line.
        line: usize,
    },
    /// A row's kind is not a profile.
    #[error("line {line}: {source}")]
    UnknownKind {
        /// The line.
        line: usize,
        /// The name found.
        #[source]
        source: UnknownName,
    },
    /// An address appears twice for the same profile (in any case): which row is meant?
    #[error("line {line}: {email} appears twice (first on line {first})")]
    Duplicate {
        /// The second line.
        line: usize,
        /// The address.
        email: String,
        /// The first line.
        first: usize,
    },
}

/// Reads a batch file: RFC 4180 fields (quoted ones may hold commas and doubled quotes), a
/// header with `email` and optionally `name`, `organization` and `kind` in any order and case;
/// blank lines are ignored, and rows without a kind get `default_kind`.
///
/// # Errors
/// The first [`CsvError`] of the file.
pub fn parse(text: &str, default_kind: CertificateKind) -> Result<Vec<Row>, CsvError> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line))
        .filter(|(_, line)| !line.trim().is_empty());
    let (header_line, header) = lines.next().ok_or(CsvError::Empty)?;
    let header: Vec<String> = split(header, header_line)?
        .into_iter()
        .map(|name| name.trim().to_ascii_lowercase())
        .collect();
    let column = |name: &str| header.iter().position(|h| h == name);
    let email = column("email").ok_or(CsvError::NoEmailColumn)?;
    let (name, organization, kind) = (column("name"), column("organization"), column("kind"));
    let mut rows = Vec::new();
    let mut seen = HashMap::new();
    for (line, text) in lines {
        let fields = split(text, line)?;
        let get = |column: Option<usize>| {
            column
                .and_then(|i| fields.get(i))
                .map(|field| field.trim())
                .filter(|field| !field.is_empty())
                .map(str::to_owned)
        };
        let address = get(Some(email)).ok_or(CsvError::NoEmail { line })?;
        let kind = match get(kind) {
            None => default_kind,
            Some(name) => name
                .parse()
                .map_err(|source| CsvError::UnknownKind { line, source })?,
        };
        if let Some(first) = seen.insert((address.to_ascii_lowercase(), kind), line) {
            return Err(CsvError::Duplicate {
                line,
                email: address,
                first,
            });
        }
        rows.push(Row {
            line,
            email: address,
            name: get(name),
            organization: get(organization),
            kind,
        });
    }
    Ok(rows)
}

/// The fields of one CSV line.
fn split(text: &str, line: usize) -> Result<Vec<String>, CsvError> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            ('"', true) => quoted = false,
            ('"', false) if field.is_empty() => quoted = true,
            (',', false) => fields.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    if quoted {
        return Err(CsvError::UnterminatedQuote { line });
    }
    fields.push(field);
    Ok(fields)
}

/// A PKCS#12 password made for one user: 20 characters from a 32-letter alphabet without
/// look-alikes (100 bits from the system's generator), in groups of five for reading out on
/// the phone. Never printed, and wiped when dropped.
pub struct UserPassword(Zeroizing<String>);

impl UserPassword {
    /// A fresh password.
    ///
    /// # Errors
    /// [`RowError::Random`] if the system's random generator fails.
    pub fn generate() -> Result<Self, RowError> {
        const ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";
        let mut bytes = Zeroizing::new([0u8; 20]);
        SystemRandom::new()
            .fill(bytes.as_mut())
            .map_err(|_| RowError::Random)?;
        let mut text = Zeroizing::new(String::with_capacity(23));
        for (i, byte) in bytes.iter().enumerate() {
            if i > 0 && i % 5 == 0 {
                text.push('-');
            }
            text.push(char::from(ALPHABET[usize::from(byte & 31)]));
        }
        Ok(Self(text))
    }

    /// The password itself, for the PKCS#12 file and the file beside it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for UserPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UserPassword(…)")
    }
}

/// The name of a user's files in the output directory: the address in lower case (addresses
/// are the same person in any case), characters other than `@._-+` and ASCII letters and
/// digits as `_`, so that no address can name a file elsewhere.
pub fn file_stem(email: &str) -> String {
    email
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "@._-+".contains(c) {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// The output directory, which holds private keys and their passwords: created 0700, and
/// refused if it already exists and others can enter it.
#[derive(Debug)]
pub struct OutDir {
    path: PathBuf,
}

impl OutDir {
    /// Creates `path` (and its parents) or checks the existing one.
    ///
    /// # Errors
    /// [`BatchError::Exposed`] for a directory others can read; [`BatchError::OutDir`] if it
    /// cannot be created.
    pub fn prepare(path: &Path) -> Result<Self, BatchError> {
        create_private_dir(path)
            .map_err(StoreError::io("create", path))
            .map_err(BatchError::OutDir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path)
                .map_err(StoreError::io("read", path))
                .map_err(BatchError::OutDir)?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                return Err(BatchError::Exposed {
                    dir: path.to_owned(),
                    mode: mode & 0o777,
                });
            }
        }
        Ok(Self {
            path: path.to_owned(),
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn file(&self, stem: &str, extension: &str) -> PathBuf {
        self.path.join(format!("{stem}.{extension}"))
    }

    /// Writes [`PASSWORD_LIST`]: every PKCS#12 file in the directory with its password, for
    /// IT to hand out (the file by one channel, the password by another).
    fn write_password_list(&self) -> Result<(), StoreError> {
        let mut rows = Vec::new();
        let entries = std::fs::read_dir(&self.path).map_err(StoreError::io("read", &self.path))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|extension| extension != "p12") {
                continue;
            }
            let stem = path.file_stem().unwrap_or_default().to_string_lossy();
            let password_file = self.file(&stem, "password");
            let password = Zeroizing::new(
                std::fs::read_to_string(&password_file)
                    .map_err(StoreError::io("read", &password_file))?,
            );
            rows.push(Zeroizing::new(format!(
                "{stem},{stem}.p12,{}\n",
                password.trim_end()
            )));
        }
        rows.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        let header = "email,file,password\n";
        let mut text = Zeroizing::new(String::with_capacity(
            header.len() + rows.iter().map(|row| row.len()).sum::<usize>(),
        ));
        text.push_str(header);
        for row in &rows {
            text.push_str(row);
        }
        let list = self.path.join(PASSWORD_LIST);
        write_atomically(&list, text.as_bytes()).map_err(StoreError::io("write", &list))
    }
}

/// The keys a batch makes.
#[derive(Debug, Clone, Copy)]
pub struct Keys {
    /// The key type.
    pub algorithm: KeyAlgorithm,
    /// The PKCS#12 encryption.
    pub format: Pkcs12Format,
}

/// The one running a batch: told how far it has got, and asked whether to go on.
pub trait Watch {
    /// `done` of `total` users are handled; first called with 0 before the first.
    fn progress(&mut self, done: usize, total: usize);

    /// Whether to stop: asked before each user and once more just before a user's PKCS#12
    /// file is put in place, so that a batch whose requester has gone writes no file it would
    /// not have seen (that user's certificate is then replaced on the next run).
    fn stop(&self) -> bool;
}

/// What a batch did, user by user (addresses as in the file).
#[derive(Debug, Default)]
pub struct Summary {
    /// Issued, with their files written.
    pub issued: Vec<String>,
    /// Issued again because an earlier run recorded a certificate whose PKCS#12 file never
    /// reached the directory (that one is now revoked as superseded).
    pub reissued: Vec<String>,
    /// Already had an active certificate and its file.
    pub skipped: Vec<String>,
    /// Could not be issued; the batch went on with the others.
    pub failed: Vec<Failure>,
}

/// A user the batch could not issue to.
#[derive(Debug)]
pub struct Failure {
    /// The line of the file.
    pub line: usize,
    /// The address.
    pub email: String,
    /// Why.
    pub error: RowError,
}

/// Why one user of a batch failed. No variant carries a key or a password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RowError {
    /// Two addresses that differ only in characters a file name cannot hold would overwrite
    /// each other's keys.
    #[error(
        "its files would be the same as those of the user on line {first}; give each address once"
    )]
    SharedFiles {
        /// The line of the user who has the files.
        first: usize,
    },
    /// The CA refused or failed to issue (a profile's rule, the database, the key).
    #[error(transparent)]
    Issue(#[from] PkiError),
    /// A file could not be written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The system's random generator failed.
    #[error("the system's random generator failed")]
    Random,
}

/// Why a whole batch failed or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError {
    /// The output directory exists and others can read it.
    #[error("{} can be read by others (mode {mode:o}); use a new directory or chmod 700 it", dir.display())]
    Exposed {
        /// The directory.
        dir: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The output directory cannot be created or used.
    #[error(transparent)]
    OutDir(StoreError),
    /// The password list could not be written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// [`Watch::stop`] said stop; what was done is in the directory and the list.
    #[error("the batch stopped after {done} of {total} users; run it again to finish it")]
    Stopped {
        /// Users handled.
        done: usize,
        /// Users in the file.
        total: usize,
    },
}

/// How one user's turn ended.
enum Turn {
    Issued,
    Reissued,
    Skipped,
    /// Stopped before the PKCS#12 file was put in place.
    CalledOff,
}

/// Issues to every user of `rows` into `out`: a failure for one user is recorded in the
/// summary and the batch goes on; the password list is written at the end (also when
/// stopped).
///
/// # Errors
/// [`BatchError::Stopped`] when `watch` says stop; [`BatchError::Store`] if the password list
/// cannot be written.
pub fn run(
    authority: &Authority,
    issuer: &Issuer<'_, CaSigner>,
    rows: &[Row],
    keys: Keys,
    out: &OutDir,
    watch: &mut impl Watch,
) -> Result<Summary, BatchError> {
    let total = rows.len();
    let mut summary = Summary::default();
    // Which line's user each file name belongs to: two users must never share files.
    let mut stems: HashMap<String, usize> = HashMap::new();
    let mut stopped = None;
    watch.progress(0, total);
    for (done, row) in rows.iter().enumerate() {
        if watch.stop() {
            stopped = Some(done);
            break;
        }
        let stem = file_stem(&row.email);
        let turn = match stems.get(&stem) {
            Some(&first) => Err(RowError::SharedFiles { first }),
            None => {
                stems.insert(stem.clone(), row.line);
                issue_one(authority, issuer, row, &stem, keys, out, watch)
            }
        };
        match turn {
            Ok(Turn::Issued) => summary.issued.push(row.email.clone()),
            Ok(Turn::Reissued) => summary.reissued.push(row.email.clone()),
            Ok(Turn::Skipped) => summary.skipped.push(row.email.clone()),
            Ok(Turn::CalledOff) => {
                stopped = Some(done);
                break;
            }
            Err(error) => summary.failed.push(Failure {
                line: row.line,
                email: row.email.clone(),
                error,
            }),
        }
        watch.progress(done + 1, total);
    }
    out.write_password_list()?;
    match stopped {
        Some(done) => Err(BatchError::Stopped { done, total }),
        None => Ok(summary),
    }
}

/// One user: a certificate already delivered (its PKCS#12 file is in the directory) is kept;
/// one recorded by the CA whose file is missing is replaced. The password file is written
/// before the PKCS#12 file, so a PKCS#12 file in the directory always has its password beside
/// it.
fn issue_one(
    authority: &Authority,
    issuer: &Issuer<'_, CaSigner>,
    row: &Row,
    stem: &str,
    keys: Keys,
    out: &OutDir,
    watch: &impl Watch,
) -> Result<Turn, RowError> {
    let p12 = out.file(stem, "p12");
    let if_active = if p12.exists() {
        IfActive::Skip
    } else {
        IfActive::Replace
    };
    let subject = Subject::new(
        row.kind,
        &row.email,
        row.name.as_deref(),
        row.organization.as_deref(),
    )?;
    let password = UserPassword::generate()?;
    let outcome = issue::issue(
        authority,
        issuer,
        &subject,
        KeyRequest::Generate {
            algorithm: keys.algorithm,
            password: Password(password.expose()),
            usages: &[Usage::Both],
            format: keys.format,
        },
        Replacing::Active(if_active),
    )?;
    crl::publish_if_replaced(authority, issuer, &outcome)?;
    let replaced = !outcome.replaced.is_empty();
    let Some(pkcs12) = outcome.issued.into_iter().find_map(|issued| issued.pkcs12) else {
        return Ok(Turn::Skipped);
    };
    let password_file = out.file(stem, "password");
    let line = Zeroizing::new(format!("{}\n", password.expose()));
    write_atomically(&password_file, line.as_bytes())
        .map_err(StoreError::io("write", &password_file))?;
    let staged = stage(&p12, &pkcs12).map_err(StoreError::io("write", &p12))?;
    if watch.stop() {
        // Dropping the staged file removes it: the certificate stays undelivered.
        return Ok(Turn::CalledOff);
    }
    staged.commit().map_err(StoreError::io("write", &p12))?;
    Ok(if replaced {
        Turn::Reissued
    } else {
        Turn::Issued
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Result<Vec<Row>, CsvError> {
        parse(text, CertificateKind::Individual)
    }

    #[test]
    fn rows_have_quoted_commas_doubled_quotes_defaults_and_line_numbers() {
        let rows = parsed(
            "Email,Name,Organization,Kind\n\nann@example.com,\"Ann, Jr.\",\"Example \"\"Corp\"\"\",organization\r\nbob@example.com,Bob,,\n",
        )
        .unwrap();
        assert_eq!(
            rows,
            [
                Row {
                    line: 3,
                    email: "ann@example.com".into(),
                    name: Some("Ann, Jr.".into()),
                    organization: Some("Example \"Corp\"".into()),
                    kind: CertificateKind::Organization,
                },
                Row {
                    line: 4,
                    email: "bob@example.com".into(),
                    name: Some("Bob".into()),
                    organization: None,
                    kind: CertificateKind::Individual,
                },
            ]
        );
    }

    #[test]
    fn columns_may_come_in_any_order_and_only_email_is_required() {
        let rows = parsed("kind , EMAIL\nmailbox,ann@example.com\n").unwrap();
        assert_eq!(rows[0].email, "ann@example.com");
        assert_eq!(rows[0].kind, CertificateKind::Mailbox);
        assert_eq!(rows[0].name, None);
    }

    #[test]
    fn unusable_files_say_what_and_where() {
        assert_eq!(parsed(""), Err(CsvError::Empty));
        assert_eq!(parsed(" \n\n"), Err(CsvError::Empty));
        assert_eq!(parsed("name,kind\nAnn,\n"), Err(CsvError::NoEmailColumn));
        assert_eq!(
            parsed("email,name\nann@example.com,\"Ann\n"),
            Err(CsvError::UnterminatedQuote { line: 2 })
        );
        assert_eq!(
            parsed("email,name\nann@example.com,Ann\n ,Bob\n"),
            Err(CsvError::NoEmail { line: 3 })
        );
        let bad_kind = parsed("email,kind\nann@example.com,Individual\n").unwrap_err();
        assert!(matches!(bad_kind, CsvError::UnknownKind { line: 2, .. }));
        assert_eq!(
            bad_kind.to_string(),
            "line 2: \"Individual\" is not a known certificate kind"
        );
    }

    #[test]
    fn an_address_twice_for_one_profile_is_refused_in_any_case() {
        assert_eq!(
            parsed("email\na@x.org\n\nA@X.org\n"),
            Err(CsvError::Duplicate {
                line: 4,
                email: "A@X.org".into(),
                first: 2
            })
        );
        // One address may hold one certificate of each profile.
        let rows = parsed("email,kind\na@x.org,mailbox\na@x.org,individual\n").unwrap();
        assert_eq!(rows.len(), 2);
    }

    #[test]
    fn file_names_are_the_lowercase_address_with_nothing_that_leaves_the_directory() {
        assert_eq!(
            file_stem("Ann.Lee+mail@Example.com"),
            "ann.lee+mail@example.com"
        );
        assert_eq!(file_stem("../a/b c@x.org"), ".._a_b_c@x.org");
        assert_eq!(file_stem("a/b@x.org"), file_stem("a_b@x.org"));
    }

    #[test]
    fn passwords_differ_use_the_alphabet_and_never_print() {
        let a = UserPassword::generate().unwrap();
        let b = UserPassword::generate().unwrap();
        assert_ne!(a.expose(), b.expose());
        let groups: Vec<&str> = a.expose().split('-').collect();
        assert_eq!(groups.len(), 4);
        assert!(groups.iter().all(|group| group.len() == 5));
        assert!(
            a.expose()
                .chars()
                .all(|c| c == '-' || "abcdefghijkmnpqrstuvwxyz23456789".contains(c))
        );
        assert!(!format!("{a:?}").contains(a.expose()));
    }

    #[cfg(unix)]
    #[test]
    fn the_output_directory_is_private_or_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let out = OutDir::prepare(&dir.path().join("new/out")).unwrap();
        let mode = std::fs::metadata(out.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        let open = dir.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
        let refused = OutDir::prepare(&open).unwrap_err();
        assert!(
            refused
                .to_string()
                .contains("can be read by others (mode 755)"),
            "{refused}"
        );
    }

    /// Counts progress and says stop once `stop_after` PKCS#12 files are staged.
    struct Watcher {
        reported: Vec<(usize, usize)>,
        stop_after: Option<usize>,
        asked: std::cell::Cell<usize>,
    }

    impl Watcher {
        fn new(stop_after: Option<usize>) -> Self {
            Self {
                reported: Vec::new(),
                stop_after,
                asked: std::cell::Cell::new(0),
            }
        }
    }

    impl Watch for Watcher {
        fn progress(&mut self, done: usize, total: usize) {
            self.reported.push((done, total));
        }

        fn stop(&self) -> bool {
            // Asked before each user and before each file: every second question is a file's.
            self.asked.set(self.asked.get() + 1);
            self.stop_after
                .is_some_and(|n| self.asked.get() > 2 * n + 1)
        }
    }

    /// A fresh CA with an EC issuing key, and its issuer.
    fn authority(dir: &Path) -> (std::sync::Arc<Authority>, Issuer<'static, CaSigner>) {
        use crate::authority::{CaHandle, InitKeys, InitRequest, Settings};
        let handle = CaHandle::open(
            dir.join("ca"),
            Settings {
                aia_url: None,
                crl_url: Some("http://pki.example.com/issuing-ca.crl".into()),
                validity_days: 365,
                crl_days: 7,
                pkcs12_iterations: 2048,
            },
        )
        .unwrap();
        let authority = handle
            .init(&InitRequest {
                name: "Test",
                organization: None,
                keys: InitKeys::Software {
                    algorithm: KeyAlgorithm::EcP256,
                    password: b"ca",
                },
            })
            .unwrap();
        let issuer = authority.issuer(authority.unlock(b"ca").unwrap()).unwrap();
        (authority, issuer)
    }

    #[test]
    fn a_batch_issues_once_skips_what_was_delivered_and_replaces_what_was_not() {
        let dir = tempfile::tempdir().unwrap();
        let (authority, issuer) = authority(dir.path());
        let rows =
            parsed("email,name,kind\nann@x.org,Ann,\nbob@x.org,,\na/b@x.org,AB,\na_b@x.org,A B,\n")
                .unwrap();
        let keys = Keys {
            algorithm: KeyAlgorithm::EcP256,
            format: Pkcs12Format::Modern,
        };
        let out = OutDir::prepare(&dir.path().join("out")).unwrap();
        let mut watch = Watcher::new(None);
        let first = run(&authority, &issuer, &rows, keys, &out, &mut watch).unwrap();
        assert_eq!(first.issued, ["ann@x.org", "a/b@x.org"]);
        let failed: Vec<(usize, String)> = first
            .failed
            .iter()
            .map(|f| (f.line, f.error.to_string()))
            .collect();
        assert_eq!(failed[0].0, 3, "bob has no name: {failed:?}");
        assert!(failed[0].1.contains("name"), "{failed:?}");
        assert_eq!(failed[1].0, 5);
        assert!(failed[1].1.contains("line 4"), "{failed:?}");
        assert_eq!(watch.reported, [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]);
        let list = std::fs::read_to_string(out.path().join(PASSWORD_LIST)).unwrap();
        assert_eq!(list.lines().count(), 3, "{list}");

        let again = run(
            &authority,
            &issuer,
            &rows[..1],
            keys,
            &out,
            &mut Watcher::new(None),
        );
        assert_eq!(again.unwrap().skipped, ["ann@x.org"]);

        // Ann's file never reached IT: she gets a new certificate, the old one is revoked.
        let [old] = &authority
            .db
            .active("ann@x.org", CertificateKind::Individual)
            .unwrap()[..]
        else {
            panic!("one active certificate")
        };
        std::fs::remove_file(out.file("ann@x.org", "p12")).unwrap();
        let third = run(
            &authority,
            &issuer,
            &rows[..1],
            keys,
            &out,
            &mut Watcher::new(None),
        );
        assert_eq!(third.unwrap().reissued, ["ann@x.org"]);
        let old = authority.db.get(&old.serial).unwrap().unwrap();
        assert!(matches!(
            old.status,
            crate::db::StoredStatus::Revoked { .. }
        ));
    }

    #[test]
    fn a_stopped_batch_puts_no_file_in_place_and_the_next_run_replaces_the_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let (authority, issuer) = authority(dir.path());
        let rows = parsed("email\nann@x.org\nbob@x.org\ncy@x.org\n").unwrap();
        let rows: Vec<Row> = rows
            .into_iter()
            .map(|row| Row {
                kind: CertificateKind::Mailbox,
                ..row
            })
            .collect();
        let keys = Keys {
            algorithm: KeyAlgorithm::EcP256,
            format: Pkcs12Format::Modern,
        };
        let out = OutDir::prepare(&dir.path().join("out")).unwrap();
        // Stops when Bob's file is staged: Ann's is delivered, Bob's certificate is not.
        let stopped = run(
            &authority,
            &issuer,
            &rows,
            keys,
            &out,
            &mut Watcher::new(Some(1)),
        );
        assert!(
            matches!(stopped, Err(BatchError::Stopped { done: 1, total: 3 })),
            "{stopped:?}"
        );
        assert!(out.file("ann@x.org", "p12").exists());
        assert!(!out.file("bob@x.org", "p12").exists());
        let names = std::fs::read_dir(out.path()).unwrap().count();
        assert_eq!(
            names, 4,
            "ann's two files, bob's password, the list; no temp file"
        );
        assert_eq!(
            authority
                .db
                .active("bob@x.org", CertificateKind::Mailbox)
                .unwrap()
                .len(),
            1
        );
        let rerun = run(
            &authority,
            &issuer,
            &rows,
            keys,
            &out,
            &mut Watcher::new(None),
        )
        .unwrap();
        assert_eq!(rerun.skipped, ["ann@x.org"]);
        assert_eq!(rerun.reissued, ["bob@x.org"]);
        assert_eq!(rerun.issued, ["cy@x.org"]);
    }

    #[test]
    fn the_password_list_holds_each_delivered_file_with_its_password() {
        let dir = tempfile::tempdir().unwrap();
        let out = OutDir::prepare(&dir.path().join("out")).unwrap();
        for (stem, password) in [("bob@x.org", "bbbbb"), ("ann@x.org", "aaaaa")] {
            std::fs::write(out.file(stem, "p12"), b"p12").unwrap();
            std::fs::write(out.file(stem, "password"), format!("{password}\n")).unwrap();
        }
        // A password whose file never got written is not handed out.
        std::fs::write(out.file("eve@x.org", "password"), "eeeee\n").unwrap();
        out.write_password_list().unwrap();
        assert_eq!(
            std::fs::read_to_string(out.path().join(PASSWORD_LIST)).unwrap(),
            "email,file,password\nann@x.org,ann@x.org.p12,aaaaa\nbob@x.org,bob@x.org.p12,bbbbb\n"
        );
    }
}
