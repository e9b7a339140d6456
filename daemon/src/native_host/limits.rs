//! What one add-on may do through the bridge beyond which methods it calls: how much it keeps
//! in streams, and how fast it may guess passphrases and PINs.
//!
//! The threat is the one of `allowed`: an add-on handling hostile mail, subverted. Through the
//! bridge it could write streams as fast as the disk takes them (200 MiB in 1.7 s) and try a
//! key's passphrase or a card's PIN 15–17 times a second. The daemon's own limits are sized for
//! local programs (the CLI, IT's scripts); an add-on needs far less, so the bridge, which every
//! add-on goes through, holds it to less:
//! - streams: at most [`MAX_STREAMS`] open and [`MAX_STREAM_BYTES`] in them together,
//!   counted from the daemon's own replies (`stream.write` returns the stream's length);
//! - guesses: after [`FREE_FAILURES`] `wrong_password`/`wrong_pin` answers in a row to
//!   `key.unlock` or `token.login`, each further failure makes the bridge refuse both for
//!   [`FIRST_WAIT`], doubling up to [`LONGEST_WAIT`] (1, 2, 4 … 60 s); a success starts over.
//!   While waiting the bridge answers at once with `limit_exceeded` and `retry_after_seconds`
//!   instead of holding the add-on's request, which would look like a hang. One count for
//!   every key and card, so that switching keys does not start a fresh count. A card's own
//!   retry counter still locks it after its few tries; this keeps a key in a file, which has
//!   none, from being guessed at the daemon's speed: about 60 guesses an hour instead of
//!   55,000.
//!
//! The limits are constants, not config keys: the bridge is started by Thunderbird, and what
//! holds a subverted add-on back should not be something the add-on's user session can edit.
//! Reaching them needs a connection the bridge made: when it connects again (the daemon
//! restarted or closed an idle connection), the daemon has dropped the old connection's
//! streams and the stream counts start over; the back-off does not.

use mailseal_protocol::{ErrorKind, RpcError};
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

/// Streams an add-on may have open: one message in and one out, many times over.
pub const MAX_STREAMS: usize = 16;

/// Bytes an add-on's open streams may hold together: a few messages with large attachments,
/// far from filling a disk.
pub const MAX_STREAM_BYTES: u64 = 512 * 1024 * 1024;

/// Wrong passphrases or PINs in a row before the bridge makes the add-on wait: typing errors.
pub const FREE_FAILURES: u32 = 3;

/// The first wait, after [`FREE_FAILURES`] failures in a row.
pub const FIRST_WAIT: Duration = Duration::from_secs(1);

/// The longest wait: enough to make guessing useless, short enough for a user who mistyped.
pub const LONGEST_WAIT: Duration = Duration::from_secs(60);

/// What the bridge knows of the add-on's streams and recent wrong guesses.
#[derive(Debug, Default)]
pub struct Limits {
    /// Open streams and their lengths, as the daemon last said.
    streams: HashMap<String, u64>,
    /// Wrong passphrases and PINs in a row.
    failures: u32,
    /// Until when `key.unlock` and `token.login` are refused.
    waiting_until: Option<Instant>,
}

/// What a request relayed to the daemon may change, to be learnt from its answer.
#[derive(Debug)]
pub enum Expect {
    /// Nothing the limits count.
    Nothing,
    /// A passphrase or PIN is being tried.
    Guess,
    /// A stream may be opened (`stream.open`, or an `smime.*` result into a stream).
    Open,
    /// A stream grows.
    Write(String),
    /// A stream is closed.
    Close(String),
}

impl Limits {
    /// Whether `method` may go to the daemon now: the refusal, or what to learn from the answer.
    pub fn check(&mut self, method: &str, params: &Value) -> Result<Expect, RpcError> {
        let stream = || {
            params
                .get("stream")
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        match method {
            "key.unlock" | "token.login" => {
                if let Some(until) = self.waiting_until {
                    let left = until.saturating_duration_since(Instant::now());
                    if !left.is_zero() {
                        let seconds = left.as_secs() + u64::from(left.subsec_nanos() > 0);
                        return Err(exceeded(
                            "bridge_unlock_backoff",
                            Some(seconds),
                            format!(
                                "{} wrong passphrases or PINs in a row; try again in {seconds} s",
                                self.failures
                            ),
                        ));
                    }
                }
                Ok(Expect::Guess)
            }
            "stream.open" => self.room_for_a_stream(),
            _ if params.pointer("/output/stream").is_some() => self.room_for_a_stream(),
            "stream.write" => {
                let Some(id) = stream() else {
                    return Ok(Expect::Nothing);
                };
                // Base64: three bytes for every four characters.
                let adding = params
                    .get("data")
                    .and_then(Value::as_str)
                    .map_or(0, |data| data.len() as u64 / 4 * 3);
                if self.bytes().saturating_add(adding) > MAX_STREAM_BYTES {
                    return Err(exceeded(
                        "bridge_max_stream_bytes",
                        None,
                        format!(
                            "an add-on's streams may hold {MAX_STREAM_BYTES} bytes together; close some first"
                        ),
                    ));
                }
                Ok(Expect::Write(id))
            }
            "stream.close" => Ok(stream().map_or(Expect::Nothing, Expect::Close)),
            _ => Ok(Expect::Nothing),
        }
    }

    /// Learns from the daemon's answer to a request [`Limits::check`] let through.
    pub fn learn(&mut self, expect: Expect, answer: Result<&Value, &RpcError>) {
        match (expect, answer) {
            (Expect::Nothing, _) => {}
            (Expect::Guess, Ok(_)) => {
                self.failures = 0;
                self.waiting_until = None;
            }
            (Expect::Guess, Err(error)) => {
                if matches!(
                    error.kind,
                    ErrorKind::WrongPassword | ErrorKind::WrongPin { .. }
                ) {
                    self.failures = self.failures.saturating_add(1);
                    if self.failures >= FREE_FAILURES {
                        let doublings = (self.failures - FREE_FAILURES).min(16);
                        let wait = (FIRST_WAIT * 2u32.pow(doublings)).min(LONGEST_WAIT);
                        self.waiting_until = Some(Instant::now() + wait);
                    }
                }
            }
            (Expect::Open, Ok(result)) => {
                let opened = result
                    .get("stream")
                    .map(|stream| (stream, Some(0)))
                    .or_else(|| {
                        let message = result.get("message")?;
                        Some((message.get("stream")?, message.get("bytes")?.as_u64()))
                    });
                if let Some((Value::String(id), bytes)) = opened {
                    self.streams.insert(id.clone(), bytes.unwrap_or(0));
                }
            }
            (Expect::Write(id), Ok(result)) => {
                if let Some(bytes) = result.get("bytes").and_then(Value::as_u64) {
                    self.streams.insert(id, bytes);
                }
            }
            (Expect::Close(id), _) => {
                self.streams.remove(&id);
            }
            (Expect::Open | Expect::Write(_), Err(_)) => {}
        }
    }

    /// The bridge connected to the daemon again: the old connection's streams are gone.
    pub fn reconnected(&mut self) {
        self.streams.clear();
    }

    fn room_for_a_stream(&self) -> Result<Expect, RpcError> {
        if self.streams.len() >= MAX_STREAMS {
            return Err(exceeded(
                "bridge_max_streams",
                None,
                format!("an add-on may have {MAX_STREAMS} streams open; close some first"),
            ));
        }
        Ok(Expect::Open)
    }

    fn bytes(&self) -> u64 {
        self.streams.values().sum()
    }
}

fn exceeded(limit: &str, retry_after_seconds: Option<u64>, message: String) -> RpcError {
    RpcError::new(
        ErrorKind::LimitExceeded {
            limit: limit.to_owned(),
            retry_after_seconds,
        },
        message,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refused_for(result: Result<Expect, RpcError>) -> (String, Option<u64>) {
        match result.map_err(|e| e.kind) {
            Err(ErrorKind::LimitExceeded {
                limit,
                retry_after_seconds,
            }) => (limit, retry_after_seconds),
            other => panic!("not refused: {other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn wrong_passphrases_make_the_add_on_wait_longer_each_time() {
        let mut limits = Limits::default();
        let unlock = json!({"key_id": "k", "passphrase": "guess"});
        let wrong = RpcError::new(ErrorKind::WrongPassword, "wrong");
        let guess = |limits: &mut Limits| {
            let expect = limits.check("key.unlock", &unlock);
            expect.map(|expect| limits.learn(expect, Err(&wrong)))
        };
        for _ in 0..FREE_FAILURES {
            guess(&mut limits).expect("typing errors are free");
        }
        // Then 1, 2, 4 … seconds, up to a minute; refused at once meanwhile.
        for wait in [1, 2, 4, 8, 16, 32, 60, 60] {
            let refused = refused_for(limits.check("token.login", &json!({"pin": "1"})));
            assert_eq!(refused, ("bridge_unlock_backoff".into(), Some(wait)));
            tokio::time::advance(Duration::from_secs(wait) - Duration::from_millis(1)).await;
            assert!(guess(&mut limits).is_err(), "still waiting");
            tokio::time::advance(Duration::from_millis(1)).await;
            guess(&mut limits).expect("the wait is over");
        }
        // A right passphrase starts over.
        tokio::time::advance(LONGEST_WAIT).await;
        let expect = limits.check("key.unlock", &unlock).unwrap();
        limits.learn(expect, Ok(&json!({"key_id": "k"})));
        for _ in 0..FREE_FAILURES {
            guess(&mut limits).unwrap();
        }
        // Other failures (an unknown key) are not guesses.
        tokio::time::advance(LONGEST_WAIT).await;
        let mut limits = Limits::default();
        let unknown = RpcError::new(ErrorKind::KeyNotFound { key_id: "k".into() }, "no");
        for _ in 0..10 {
            let expect = limits.check("key.unlock", &unlock).unwrap();
            limits.learn(expect, Err(&unknown));
        }
    }

    #[test]
    fn an_add_on_keeps_at_most_its_quota_in_streams() {
        let mut limits = Limits::default();
        for n in 0..MAX_STREAMS {
            let expect = limits.check("stream.open", &json!({})).unwrap();
            limits.learn(expect, Ok(&json!({"stream": format!("s{n}")})));
        }
        let refused = refused_for(limits.check("stream.open", &json!({})));
        assert_eq!(refused.0, "bridge_max_streams");
        let into_stream = json!({"message": "TQ==", "output": {"stream": true}});
        let refused = refused_for(limits.check("smime.sign", &into_stream));
        assert_eq!(refused.0, "bridge_max_streams");
        // Closing one makes room, for a result too.
        let expect = limits
            .check("stream.close", &json!({"stream": "s0"}))
            .unwrap();
        limits.learn(expect, Ok(&json!({"bytes": 0})));
        let expect = limits.check("smime.sign", &into_stream).unwrap();
        limits.learn(
            expect,
            Ok(&json!({"message": {"stream": "out", "bytes": MAX_STREAM_BYTES - 8}})),
        );
        // Bytes: the result's and what is written count together.
        let chunk = json!({"stream": "s1", "data": "AAAAAAAA"});
        let expect = limits.check("stream.write", &chunk).unwrap();
        limits.learn(expect, Ok(&json!({"bytes": 6})));
        let refused = refused_for(limits.check("stream.write", &chunk));
        assert_eq!(refused.0, "bridge_max_stream_bytes");
        // A new connection to the daemon has no streams.
        limits.reconnected();
        limits.check("stream.write", &chunk).unwrap();
    }
}
