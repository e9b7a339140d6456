//! The CA database: every certificate issued, its status and revocation, in SQLite under the
//! CA directory.
//!
//! Crash safety is SQLite's: write-ahead log with `synchronous = FULL`, so a committed
//! transaction survives a kill -9 or a power cut and an interrupted one leaves no trace. Each
//! issuance is one transaction (the new certificates, and the ones they replace), so the
//! database never holds half of one. A partial unique index allows one active certificate per
//! address, profile and usage: a batch run twice finds the first run's certificates and
//! issues nothing new, and two IT tools racing for the same user cannot both win.

use super::PkiError;
use crate::vocabulary::{CertificateKind, RevocationReason, UnknownName, Usage};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS certificates (
    serial       TEXT PRIMARY KEY,
    email        TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('mailbox', 'individual', 'organization')),
    usage        TEXT NOT NULL CHECK (usage IN ('both', 'signing', 'encryption')),
    name         TEXT,
    organization TEXT,
    subject      TEXT NOT NULL,
    not_before   INTEGER NOT NULL,
    not_after    INTEGER NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('active', 'superseded', 'revoked')),
    revoked_at   INTEGER,
    reason       TEXT,
    der          BLOB NOT NULL,
    CHECK ((status = 'revoked') = (revoked_at IS NOT NULL AND reason IS NOT NULL))
);
CREATE UNIQUE INDEX IF NOT EXISTS one_active
    ON certificates (email, kind, usage) WHERE status = 'active';
CREATE INDEX IF NOT EXISTS by_email ON certificates (email);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
";

/// A certificate's state as stored (expiry is computed when listing, not stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredStatus {
    /// Current.
    Active,
    /// Replaced by a renewal; valid until it expires.
    Superseded,
    /// Revoked, with when and why.
    Revoked {
        /// Unix seconds.
        at: i64,
        /// Why.
        reason: RevocationReason,
    },
}

/// One issued certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Serial, lowercase hex.
    pub serial: String,
    /// Address, lowercase.
    pub email: String,
    /// Profile.
    pub kind: CertificateKind,
    /// Key usage.
    pub usage: Usage,
    /// Holder's name, when the profile has one.
    pub name: Option<String>,
    /// Company, when the profile has one.
    pub organization: Option<String>,
    /// Subject DN (RFC 4514).
    pub subject: String,
    /// Unix seconds.
    pub not_before: i64,
    /// Unix seconds.
    pub not_after: i64,
    /// State.
    pub status: StoredStatus,
    /// The certificate, DER.
    pub der: Vec<u8>,
}

/// The open database; one connection, used by one request at a time.
#[derive(Debug)]
pub struct CaDb {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl CaDb {
    /// Opens (creating if needed) the database at `path`.
    ///
    /// # Errors
    /// [`PkiError::Database`] if SQLite cannot open or set it up.
    pub fn open(path: &Path) -> Result<Self, PkiError> {
        let fail = |source| PkiError::Database {
            path: path.to_owned(),
            source,
        };
        let conn = Connection::open(path).map_err(fail)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(fail)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(fail)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(fail)?;
        conn.execute_batch(SCHEMA).map_err(fail)?;
        #[cfg(unix)]
        restrict(path)?;
        Ok(Self {
            path: path.to_owned(),
            conn: Mutex::new(conn),
        })
    }

    fn fail(&self) -> impl Fn(rusqlite::Error) -> PkiError + '_ {
        move |source| PkiError::Database {
            path: self.path.clone(),
            source,
        }
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written (it rolls back),
        // so a poisoned lock is safe to take over.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The active certificates of an address and profile.
    pub fn active(&self, email: &str, kind: CertificateKind) -> Result<Vec<Record>, PkiError> {
        self.select(
            "WHERE email = ?1 AND kind = ?2 AND status = 'active' ORDER BY rowid",
            params![email, kind.as_str()],
        )
    }

    /// The certificate with this serial.
    pub fn get(&self, serial: &str) -> Result<Option<Record>, PkiError> {
        Ok(self
            .select("WHERE serial = ?1", params![serial])?
            .into_iter()
            .next())
    }

    /// Every certificate, or those of one address, oldest first.
    pub fn list(&self, email: Option<&str>) -> Result<Vec<Record>, PkiError> {
        match email {
            Some(email) => self.select("WHERE email = ?1 ORDER BY rowid", params![email]),
            None => self.select("ORDER BY rowid", params![]),
        }
    }

    /// The revoked certificates not yet expired at `now`: what a CRL lists.
    pub fn revoked(&self, now: i64) -> Result<Vec<Record>, PkiError> {
        self.select(
            "WHERE status = 'revoked' AND not_after >= ?1 ORDER BY rowid",
            params![now],
        )
    }

    fn select(&self, clause: &str, params: impl rusqlite::Params) -> Result<Vec<Record>, PkiError> {
        let conn = self.conn();
        let mut statement = conn
            .prepare(&format!(
                "SELECT serial, email, kind, usage, name, organization, subject, not_before,
                        not_after, status, revoked_at, reason, der FROM certificates {clause}"
            ))
            .map_err(self.fail())?;
        let rows = statement
            .query_map(params, row_to_record)
            .map_err(self.fail())?;
        rows.collect::<Result<_, _>>().map_err(self.fail())
    }

    /// Records newly issued certificates, and revokes (`replace`, reason superseded) or
    /// supersedes (`renew`) the ones they replace, all in one transaction.
    ///
    /// # Errors
    /// [`PkiError::AlreadyActive`] if an address already has an active certificate of the
    /// profile and usage (the unique index decides, so racing writers cannot both succeed).
    pub fn record_issue(
        &self,
        issued: &[Record],
        replaced: &[String],
        replaced_status: StoredStatus,
    ) -> Result<(), PkiError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(self.fail())?;
        for serial in replaced {
            // Only while still active: a revocation that landed since the caller looked (a
            // renewal generates keys in between) must not be turned back into "superseded".
            let (revoked_at, reason) = status_columns(replaced_status);
            let changed = tx
                .execute(
                    "UPDATE certificates SET status = ?2, revoked_at = ?3, reason = ?4
                     WHERE serial = ?1 AND status = 'active'",
                    params![serial, status_name(replaced_status), revoked_at, reason],
                )
                .map_err(self.fail())?;
            if changed == 0 {
                return Err(PkiError::NotActive {
                    serial: serial.clone(),
                    status: "revoked or superseded by now",
                });
            }
        }
        for record in issued {
            let (revoked_at, reason) = status_columns(record.status);
            let inserted = tx.execute(
                "INSERT INTO certificates (serial, email, kind, usage, name, organization,
                    subject, not_before, not_after, status, revoked_at, reason, der)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                params![
                    record.serial,
                    record.email,
                    record.kind.as_str(),
                    record.usage.as_str(),
                    record.name,
                    record.organization,
                    record.subject,
                    record.not_before,
                    record.not_after,
                    status_name(record.status),
                    revoked_at,
                    reason,
                    record.der,
                ],
            );
            if let Err(rusqlite::Error::SqliteFailure(e, _)) = &inserted
                && e.code == rusqlite::ErrorCode::ConstraintViolation
            {
                // Roll back and let go of the connection before asking who holds the place.
                drop(tx);
                drop(conn);
                let serial = self
                    .active(&record.email, record.kind)?
                    .into_iter()
                    .map(|r| r.serial)
                    .next()
                    .unwrap_or_default();
                return Err(PkiError::AlreadyActive {
                    email: record.email.clone(),
                    kind: record.kind.as_str(),
                    serial,
                });
            }
            inserted.map_err(self.fail())?;
        }
        tx.commit().map_err(self.fail())
    }

    /// Revokes an active or superseded certificate.
    pub fn revoke(&self, serial: &str, at: i64, reason: RevocationReason) -> Result<(), PkiError> {
        let conn = self.conn();
        set_status(&conn, serial, StoredStatus::Revoked { at, reason }).map_err(self.fail())
    }

    /// The next cRLNumber (1, 2, …), counted durably so that numbers never repeat.
    pub fn next_crl_number(&self) -> Result<u64, PkiError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(self.fail())?;
        let current: Option<i64> = tx
            .query_row(
                "SELECT value FROM counters WHERE name = 'crl_number'",
                [],
                |row| row.get(0),
            )
            .optional()
            .map_err(self.fail())?;
        let next = current.unwrap_or(0) + 1;
        tx.execute(
            "INSERT INTO counters (name, value) VALUES ('crl_number', ?1)
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            params![next],
        )
        .map_err(self.fail())?;
        tx.commit().map_err(self.fail())?;
        Ok(next.unsigned_abs())
    }

    /// SQLite's own consistency check (`PRAGMA integrity_check`), for tests and `ca list`.
    pub fn integrity_check(&self) -> Result<bool, PkiError> {
        let conn = self.conn();
        let answer: String = conn
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .map_err(self.fail())?;
        Ok(answer == "ok")
    }
}

fn set_status(conn: &Connection, serial: &str, status: StoredStatus) -> rusqlite::Result<()> {
    let (revoked_at, reason) = status_columns(status);
    conn.execute(
        "UPDATE certificates SET status = ?2, revoked_at = ?3, reason = ?4 WHERE serial = ?1",
        params![serial, status_name(status), revoked_at, reason],
    )
    .map(drop)
}

fn status_name(status: StoredStatus) -> &'static str {
    match status {
        StoredStatus::Active => "active",
        StoredStatus::Superseded => "superseded",
        StoredStatus::Revoked { .. } => "revoked",
    }
}

fn status_columns(status: StoredStatus) -> (Option<i64>, Option<&'static str>) {
    match status {
        StoredStatus::Revoked { at, reason } => (Some(at), Some(reason.as_str())),
        _ => (None, None),
    }
}

fn parse_enum<T: FromStr<Err = UnknownName>>(column: usize, text: String) -> rusqlite::Result<T> {
    text.parse().map_err(|e: UnknownName| {
        rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, e.into())
    })
}

fn row_to_record(row: &rusqlite::Row<'_>) -> rusqlite::Result<Record> {
    let status: String = row.get(9)?;
    let status = match status.as_str() {
        "active" => StoredStatus::Active,
        "superseded" => StoredStatus::Superseded,
        _ => StoredStatus::Revoked {
            at: row.get(10)?,
            reason: parse_enum(11, row.get(11)?)?,
        },
    };
    Ok(Record {
        serial: row.get(0)?,
        email: row.get(1)?,
        kind: parse_enum(2, row.get(2)?)?,
        usage: parse_enum(3, row.get(3)?)?,
        name: row.get(4)?,
        organization: row.get(5)?,
        subject: row.get(6)?,
        not_before: row.get(7)?,
        not_after: row.get(8)?,
        status,
        der: row.get(12)?,
    })
}

/// The database and its WAL files are the CA's records: owner only (the directory is 0700
/// too; this keeps them private if IT copies the directory elsewhere).
#[cfg(unix)]
fn restrict(path: &Path) -> Result<(), PkiError> {
    use std::os::unix::fs::PermissionsExt;
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        let file = PathBuf::from(file);
        match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !suffix.is_empty() => {}
            other => other.map_err(mailseal_files::StoreError::io("restrict", &file))?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(serial: &str, email: &str) -> Record {
        Record {
            serial: serial.into(),
            email: email.into(),
            kind: CertificateKind::Mailbox,
            usage: Usage::Both,
            name: None,
            organization: None,
            subject: format!("CN={email}"),
            not_before: 0,
            not_after: i64::MAX,
            status: StoredStatus::Active,
            der: vec![0x30, 0],
        }
    }

    /// A database in `dir` with one active certificate, serial 01 for a@example.com.
    fn with_one_active(dir: &Path) -> CaDb {
        let db = CaDb::open(&dir.join("ca.db")).unwrap();
        db.record_issue(
            &[record("01", "a@example.com")],
            &[],
            StoredStatus::Superseded,
        )
        .unwrap();
        db
    }

    #[test]
    fn one_active_certificate_per_address_and_replacement_in_one_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let db = with_one_active(dir.path());
        match db.record_issue(
            &[record("02", "a@example.com")],
            &[],
            StoredStatus::Superseded,
        ) {
            Err(PkiError::AlreadyActive { serial, .. }) => assert_eq!(serial, "01"),
            other => panic!("{other:?}"),
        }
        assert!(
            db.get("02").unwrap().is_none(),
            "nothing of the failed issue stays"
        );
        let revoked = StoredStatus::Revoked {
            at: 5,
            reason: RevocationReason::Superseded,
        };
        db.record_issue(&[record("03", "a@example.com")], &["01".into()], revoked)
            .unwrap();
        assert_eq!(db.get("01").unwrap().unwrap().status, revoked);
        assert_eq!(
            db.active("a@example.com", CertificateKind::Mailbox)
                .unwrap()[0]
                .serial,
            "03"
        );
        assert_eq!(db.revoked(0).unwrap().len(), 1);
        assert_eq!(db.next_crl_number().unwrap(), 1);
        drop(db);
        let db = CaDb::open(&dir.path().join("ca.db")).unwrap();
        assert_eq!(db.next_crl_number().unwrap(), 2);
        assert_eq!(db.list(None).unwrap().len(), 2);
        assert!(db.integrity_check().unwrap());
    }

    #[test]
    fn a_renewal_never_undoes_a_revocation_that_came_first() {
        let dir = tempfile::tempdir().unwrap();
        let db = with_one_active(dir.path());
        // Revoked while the renewal was making its key…
        let revoked = StoredStatus::Revoked {
            at: 7,
            reason: RevocationReason::KeyCompromise,
        };
        db.revoke("01", 7, RevocationReason::KeyCompromise).unwrap();
        // …the renewal's record then fails as a whole, and the revocation stands.
        match db.record_issue(
            &[record("02", "a@example.com")],
            &["01".into()],
            StoredStatus::Superseded,
        ) {
            Err(PkiError::NotActive { serial, .. }) => assert_eq!(serial, "01"),
            other => panic!("{other:?}"),
        }
        assert_eq!(db.get("01").unwrap().unwrap().status, revoked);
        assert!(db.get("02").unwrap().is_none());
    }
}
