//! A progress bar on stderr for long operations (large messages, batches of users), drawn from
//! the daemon's `progress` notifications.
//!
//! Only for a person watching: never when stderr is not a terminal, never with `--json`, and
//! for messages only for inputs over [`THRESHOLD`] bytes, which finish too fast for a bar to
//! help.

use mailseal_protocol::Progress;
use std::io::Write;

/// Inputs at least this large get a progress bar (4 MiB).
pub const THRESHOLD: u64 = 4 << 20;

const WIDTH: usize = 30;

/// Draws and finally clears a one-line bar.
#[derive(Debug, Default)]
pub struct Bar {
    drawn: bool,
    /// What `done` and `total` count: bytes, or things of this name.
    things: Option<&'static str>,
}

impl Bar {
    /// A bar for progress that counts `things` ("users") rather than bytes.
    pub fn counting(things: &'static str) -> Self {
        Self {
            drawn: false,
            things: Some(things),
        }
    }

    /// Redraws the bar for `progress`.
    pub fn update(&mut self, progress: &Progress) {
        let line = render(progress.done, progress.total, self.things);
        let mut stderr = std::io::stderr().lock();
        let _ = write!(stderr, "\r{line}");
        let _ = stderr.flush();
        self.drawn = true;
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        if self.drawn {
            // Erase the bar so that the report printed after it starts on a clean line.
            let _ = write!(std::io::stderr(), "\r{:width$}\r", "", width = WIDTH + 40);
        }
    }
}

/// `[#########                     ] 30% 300.0/1000.0 MiB`, or `… 30% 3/10 users`.
fn render(done: u64, total: u64, things: Option<&str>) -> String {
    let fraction = if total == 0 {
        1.0
    } else {
        done as f64 / total as f64
    };
    let filled = ((fraction * WIDTH as f64) as usize).min(WIDTH);
    let mib = |bytes: u64| bytes as f64 / f64::from(1 << 20);
    let amount = match things {
        Some(things) => format!("{done}/{total} {things}"),
        None => format!("{:.1}/{:.1} MiB", mib(done), mib(total)),
    };
    format!(
        "[{}{}] {:>3.0}% {amount}",
        "#".repeat(filled),
        " ".repeat(WIDTH - filled),
        fraction * 100.0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_fill_with_progress() {
        assert_eq!(
            render(0, 10 << 20, None),
            format!("[{}]   0% 0.0/10.0 MiB", " ".repeat(WIDTH))
        );
        assert_eq!(
            render(5 << 20, 10 << 20, None),
            format!("[{}{}]  50% 5.0/10.0 MiB", "#".repeat(15), " ".repeat(15))
        );
        assert_eq!(
            render(1, 0, None),
            format!("[{}] 100% 0.0/0.0 MiB", "#".repeat(WIDTH))
        );
        assert_eq!(
            render(3, 12, Some("users")),
            format!("[{}{}]  25% 3/12 users", "#".repeat(7), " ".repeat(23))
        );
    }
}
