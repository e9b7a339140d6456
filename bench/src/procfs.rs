//! What `/proc` says about a process: resident memory (now and peak) and CPU time used.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// A `kB` field (`VmRSS`, `VmHWM`) of `/proc/<pid>/status`, in bytes.
pub fn status_bytes(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        let kb: u64 = rest.trim().trim_end_matches("kB").trim().parse().ok()?;
        Some(kb * 1024)
    })
}

/// Resets the peak resident set size (`VmHWM`) of `pid` to its current size by writing `5` to
/// `/proc/<pid>/clear_refs` (Linux ≥ 4.0); false where that is not allowed.
pub fn reset_peak(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

/// Clock ticks per second of the times in `/proc/<pid>/stat` (`getconf CLK_TCK`, else 100).
pub fn clock_ticks() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .filter(|&ticks| ticks > 0)
        .unwrap_or(100)
}

/// CPU time (user + system) of a process and of its waited-for children, from
/// `/proc/<pid>/stat` (or `/proc/self/stat`); every thread, including exited ones, counts.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuTimes {
    /// The process's own threads.
    pub own: Duration,
    /// Children it has waited for.
    pub children: Duration,
}

impl CpuTimes {
    /// Reads the times of `/proc/<which>/stat` (`which` is a pid or `self`).
    pub fn read(which: &str, ticks: u64) -> Option<Self> {
        let stat = std::fs::read_to_string(Path::new("/proc").join(which).join("stat")).ok()?;
        // The command name may contain spaces and parentheses: fields start after the last ')'.
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        // Fields 14–17 of proc(5) (utime, stime, cutime, cstime) are 11–14 after the name.
        let tick = |i: usize| -> Option<u64> { fields.get(i)?.parse().ok() };
        let to_time = |t: u64| Duration::from_secs_f64(t as f64 / ticks as f64);
        Some(Self {
            own: to_time(tick(11)? + tick(12)?),
            children: to_time(tick(13)? + tick(14)?),
        })
    }

    /// The time spent between `earlier` and `self`.
    pub fn since(self, earlier: Self) -> Self {
        Self {
            own: self.own.saturating_sub(earlier.own),
            children: self.children.saturating_sub(earlier.children),
        }
    }
}

/// CPU time all cores of the machine spent busy (user, nice, system, irq, softirq, steal in
/// the first line of /proc/stat), summed over cores.
pub fn machine_busy(ticks: u64) -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    let busy: u64 = [0, 1, 2, 5, 6, 7]
        .iter()
        .filter_map(|&i| fields.get(i))
        .sum();
    Some(Duration::from_secs_f64(busy as f64 / ticks as f64))
}

/// Samples `VmRSS` of a process every few milliseconds and keeps the largest value, for when
/// the kernel's own peak cannot be reset.
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl RssSampler {
    /// Starts sampling `pid` every 5 ms.
    pub fn start(pid: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(status_bytes(pid, "VmRSS").unwrap_or(0)));
        let thread = {
            let (stop, peak) = (Arc::clone(&stop), Arc::clone(&peak));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(rss) = status_bytes(pid, "VmRSS") {
                        peak.fetch_max(rss, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
        };
        Self {
            stop,
            peak,
            thread: Some(thread),
        }
    }

    /// Stops sampling and returns the largest `VmRSS` seen, in bytes.
    pub fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.peak.load(Ordering::Relaxed)
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
