//! Progress of one request, sent as `progress` notifications when the client asked.
//!
//! Progress counts the bytes of the input the engine has taken in: the furthest point it has
//! read to, as it may read the input in passes (`ca.batch` counts users instead). Notifications are sent at
//! most every [`STEP`] bytes (and at the start and end), so a huge message costs a few hundred
//! small frames, not one per read.

use super::Session;
use mailseal_protocol::{Id, Progress};
use std::sync::Arc;

/// The least progress worth a notification.
pub const STEP: u64 = 4 << 20;

/// Tells one client how far one of its requests has got; silent when the client did not ask.
#[derive(Debug)]
pub struct Reporter {
    target: Option<(Arc<Session>, Id)>,
    /// The least progress worth a notification.
    step: u64,
    done: u64,
    total: u64,
    reported: u64,
}

impl Reporter {
    /// A reporter for request `id`; `wanted` is the request's `progress` parameter.
    pub fn new(session: &Arc<Session>, id: &Id, wanted: bool) -> Self {
        Self {
            target: wanted.then(|| (Arc::clone(session), id.clone())),
            step: STEP,
            done: 0,
            total: 0,
            reported: 0,
        }
    }

    /// Reports every `step` units instead of every [`STEP`] bytes: for requests that count
    /// something other than bytes (`ca.batch` counts users, each worth a notification).
    pub fn every(self, step: u64) -> Self {
        Self { step, ..self }
    }

    /// Starts counting towards `total` units (bytes, unless [`Reporter::every`] says otherwise).
    pub fn start(&mut self, total: u64) {
        self.total = total;
        self.done = 0;
        self.reported = 0;
        self.send();
    }

    /// The engine has read the input up to `position` (it may read in passes; progress is the
    /// furthest point reached).
    pub fn reach(&mut self, position: u64) {
        let position = position.min(self.total);
        if position <= self.done {
            return;
        }
        self.done = position;
        if self.done - self.reported >= self.step || self.done == self.total {
            self.reported = self.done;
            self.send();
        }
    }

    fn send(&self) {
        if let Some((session, id)) = &self.target {
            session.offer(
                Progress {
                    id: id.clone(),
                    done: self.done,
                    total: self.total,
                }
                .to_frame(),
            );
        }
    }
}
