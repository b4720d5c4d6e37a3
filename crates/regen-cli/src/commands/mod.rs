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

/// Plans the batch `io` names: its shard only, when `--shard`, or a Slurm job array or a
/// Kubernetes Indexed Job (with `--shards`) in the environment, says so (once, on stderr).
fn plan(io: &Io) -> anyhow::Result<(Vec<Job>, batch::Refused)> {
    let shard = match &io.shard {
        Some(s) => {
            if io.shards.is_some() {
                return Err(Error::arg(
                    "give --shard K/N or --shards N (with JOB_COMPLETION_INDEX), not both",
                )
                .into());
            }
            Some(batch::Shard::parse(s)?)
        }
        None => match batch::Shard::from_env(|v| std::env::var(v).ok(), io.shards)? {
            Some((shard, line)) => {
                eprintln!("note: {line}");
                Some(shard)
            }
            None if io.shards.is_some() => {
                return Err(Error::arg(
                    "--shards N needs JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) in the environment; elsewhere use --shard K/N",
                )
                .into());
            }
            None => None,
        },
    };
    Ok(batch::plan_shard(&io.inputs, &io.output, shard)?)
}

/// Runs the planned `jobs` the way every image batch runs: the output options of `io`,
/// progress on stderr when there is more than one file, Ctrl-C stopping it between files
/// (a second Ctrl-C ends it at once), and the summary. `bad` are the inputs the plan refused.
fn run_batch(
    io: &Io,
    jobs: &[Job],
    bad: batch::Refused,
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
    bad: batch::Refused,
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
    Ok(finish(bad, outcome, io.json))
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
fn finish(bad: batch::Refused, o: Outcome, json: bool) -> ExitCode {
    for e in bad.iter().map(|(_, e)| e).chain(&o.errors) {
        eprintln!("error: {e}");
    }
    let failed = bad.len() + o.errors.len();
    if json {
        // One final line a workflow can collect from every shard.
        let paths: Vec<String> = bad
            .iter()
            .map(|(p, _)| p)
            .chain(&o.failed)
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        let line = serde_json::json!({
            "done": o.done,
            "skipped": o.skipped,
            "failed": failed,
            "not_started": o.not_started,
            "bytes_in": o.bytes_in,
            "bytes_out": o.bytes_out,
            "seconds": (o.seconds * 1000.0).round() / 1000.0,
            "failed_paths": paths,
        });
        println!("{line}");
    }
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
