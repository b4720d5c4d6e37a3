//! Progress for long work: a bar redrawn in place on a terminal, plain lines at a steady
//! pace when output goes to a file (no carriage-return junk in logs).

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Reports progress of `total` steps on stderr.
pub struct Progress {
    total: u64,
    start_step: u64,
    started: Instant,
    last_line: Instant,
    tty: bool,
    /// Seconds between plain lines when not on a terminal.
    pub every: Duration,
    quiet: bool,
}

impl Progress {
    /// Starts at `start_step` of `total`; `quiet` prints nothing.
    pub fn new(start_step: u64, total: u64, quiet: bool) -> Self {
        let now = Instant::now();
        Progress {
            total,
            start_step,
            started: now,
            last_line: now,
            tty: std::io::stderr().is_terminal(),
            every: Duration::from_secs(15),
            quiet,
        }
    }

    /// Seconds per step since this run (or resume) started.
    pub fn secs_per_step(&self, step: u64) -> f64 {
        let done = step.saturating_sub(self.start_step).max(1);
        self.started.elapsed().as_secs_f64() / done as f64
    }

    /// Shows `step` with a status text; on a file only every `every` seconds unless `force`.
    pub fn update(&mut self, step: u64, status: &str, force: bool) {
        if self.quiet {
            return;
        }
        let sps = self.secs_per_step(step);
        let eta = fmt_duration(sps * self.total.saturating_sub(step) as f64);
        let mut err = std::io::stderr().lock();
        if self.tty {
            let width = 30;
            let filled = (width as u64 * step / self.total.max(1)) as usize;
            let _ = write!(
                err,
                "\r\x1b[2K[{}{}] {step}/{} {status} {:.2} s/step, {eta} left",
                "=".repeat(filled),
                " ".repeat(width - filled),
                self.total,
                sps
            );
            if force {
                let _ = writeln!(err);
            }
        } else if force || self.last_line.elapsed() >= self.every {
            let _ = writeln!(
                err,
                "step {step}/{} {status} {:.2} s/step, {eta} left",
                self.total, sps
            );
            self.last_line = Instant::now();
        }
    }

    /// A message on its own line.
    pub fn note(&self, msg: &str) {
        if self.quiet {
            return;
        }
        if self.tty {
            eprintln!("\r\x1b[2K{msg}");
        } else {
            eprintln!("{msg}");
        }
    }
}

/// `1h02m`, `3m05s` or `12s`.
pub fn fmt_duration(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}
