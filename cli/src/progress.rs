//! A progress bar on stderr for long operations on large messages, drawn from the daemon's
//! `progress` notifications.
//!
//! Only for a person watching: never when stderr is not a terminal, never with `--json`, and
//! only for inputs over [`THRESHOLD`] bytes, which finish too fast for a bar to help.

use mailseal_protocol::Progress;
use std::io::Write;

/// Inputs at least this large get a progress bar (4 MiB).
pub const THRESHOLD: u64 = 4 << 20;

const WIDTH: usize = 30;

/// Draws and finally clears a one-line bar.
#[derive(Debug, Default)]
pub struct Bar {
    drawn: bool,
}

impl Bar {
    /// Redraws the bar for `progress`.
    pub fn update(&mut self, progress: &Progress) {
        let line = render(progress.done, progress.total);
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

/// `[#########                     ] 30% 300.0/1000.0 MiB`
fn render(done: u64, total: u64) -> String {
    let fraction = if total == 0 {
        1.0
    } else {
        done as f64 / total as f64
    };
    let filled = ((fraction * WIDTH as f64) as usize).min(WIDTH);
    let mib = |bytes: u64| bytes as f64 / f64::from(1 << 20);
    format!(
        "[{}{}] {:>3.0}% {:.1}/{:.1} MiB",
        "#".repeat(filled),
        " ".repeat(WIDTH - filled),
        fraction * 100.0,
        mib(done),
        mib(total)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_fill_with_progress() {
        assert_eq!(
            render(0, 10 << 20),
            format!("[{}]   0% 0.0/10.0 MiB", " ".repeat(WIDTH))
        );
        assert_eq!(
            render(5 << 20, 10 << 20),
            format!("[{}{}]  50% 5.0/10.0 MiB", "#".repeat(15), " ".repeat(15))
        );
        assert_eq!(
            render(1, 0),
            format!("[{}] 100% 0.0/0.0 MiB", "#".repeat(WIDTH))
        );
    }
}
