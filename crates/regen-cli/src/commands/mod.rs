//! One module per subcommand: turn typed arguments into library calls and print what they
//! return. Decisions (defaults, checks, reports) belong to the library.

pub mod corrupt;
pub mod eval;
pub mod generate;
pub mod models;
pub mod restore;
pub mod serve;
pub mod train;

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use regen::batch::{self, Job, Outcome, Progress};
use regen::data::{Image, SaveOptions};
use regen::{Error, Result};

use crate::args::Io;

/// Runs the planned `jobs` the way every image batch runs: the output options of `io`,
/// progress on stderr when there is more than one file, Ctrl-C stopping it between files
/// (a second Ctrl-C ends it at once), and the summary. `bad` are the inputs the plan refused.
fn run_batch(
    io: &Io,
    jobs: &[Job],
    bad: Vec<Error>,
    mut f: impl FnMut(usize, &Image) -> Result<Image>,
) -> anyhow::Result<ExitCode> {
    run_batch_writing(io, jobs, bad, |i, img, output, save| {
        f(i, img)?.save_with(output, save)
    })
}

/// As [`run_batch`], for work that writes each output file itself.
fn run_batch_writing(
    io: &Io,
    jobs: &[Job],
    bad: Vec<Error>,
    f: impl FnMut(usize, &Image, &Path, &SaveOptions) -> Result<()>,
) -> anyhow::Result<ExitCode> {
    let opts = batch::Options {
        save: SaveOptions {
            jpeg_quality: io.quality,
            keep_metadata: !io.strip_metadata,
        },
        skip_existing: io.skip_existing,
    };
    let stop = Arc::new(AtomicBool::new(false));
    // The conditional exit first: it fires only once the flag is already set.
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(sig, 130, Arc::clone(&stop))?;
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
    }
    let tty = std::io::stderr().is_terminal();
    let mut show = |p: Progress| {
        if jobs.len() > 1 {
            let line = progress_line(&p);
            if tty {
                eprint!("\r{line}\x1b[K");
                if p.finished == p.total {
                    eprintln!();
                }
            } else {
                eprintln!("{line}");
            }
        }
    };
    let outcome = batch::run_writing(jobs, &opts, &|| stop.load(Ordering::Relaxed), &mut show, f);
    if tty && outcome.not_started > 0 {
        eprintln!();
    }
    Ok(finish(bad, outcome))
}

/// `12/200 files, 0:41 elapsed, about 10:51 left`.
fn progress_line(p: &Progress) -> String {
    let clock = |s: f64| {
        let s = s.round() as u64;
        format!("{}:{:02}", s / 60, s % 60)
    };
    let left = p
        .left_s
        .map(|s| format!(", about {} left", clock(s)))
        .unwrap_or_default();
    format!(
        "{}/{} files, {} elapsed{left}",
        p.finished,
        p.total,
        clock(p.elapsed_s)
    )
}

/// Prints the batch's failures and, when anything was not done, one summary line. Exit 130
/// when it was interrupted, 2 when any input failed, else 0.
fn finish(bad: Vec<Error>, o: Outcome) -> ExitCode {
    for e in bad.iter().chain(&o.errors) {
        eprintln!("error: {e}");
    }
    let failed = bad.len() + o.errors.len();
    let skipped = if o.skipped > 0 {
        format!(", {} skipped (output exists)", o.skipped)
    } else {
        String::new()
    };
    if o.not_started > 0 {
        eprintln!(
            "interrupted: {} done, {failed} failed{skipped}, {} not started",
            o.done, o.not_started
        );
        ExitCode::from(130)
    } else if failed > 0 {
        eprintln!("{} done, {failed} failed{skipped}", o.done);
        ExitCode::from(2)
    } else {
        if o.skipped > 0 {
            eprintln!("{} done{skipped}", o.done);
        }
        ExitCode::SUCCESS
    }
}

/// Writes `text` to stdout. Unlike `print!`, a closed pipe (`regen ... | head`) comes back
/// as an error, which `main` ends on quietly, instead of a panic.
fn print(text: &str) -> anyhow::Result<ExitCode> {
    // Of several MPI ranks, rank 0 alone speaks for the job.
    if !regen::dist::is_root() {
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Prints `value` as pretty JSON, or else `table`.
fn report<T: serde::Serialize>(
    json: bool,
    value: &T,
    table: impl FnOnce() -> String,
) -> anyhow::Result<ExitCode> {
    if json {
        print(&(serde_json::to_string_pretty(value)? + "\n"))
    } else {
        print(&table())
    }
}
