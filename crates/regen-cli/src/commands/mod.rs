//! One module per subcommand: turn typed arguments into library calls and print what they
//! return. Decisions (defaults, checks, reports) belong to the library.

pub mod corrupt;
pub mod eval;
pub mod generate;
pub mod restore;
pub mod train;

use std::io::Write;
use std::process::ExitCode;

use regen::Error;

/// Prints batch failures; exit code 2 if there were any.
fn finish(done: usize, errors: Vec<Error>) -> ExitCode {
    for e in &errors {
        eprintln!("error: {e}");
    }
    if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!("{done} done, {} failed", errors.len());
        ExitCode::from(2)
    }
}

/// Writes `text` to stdout. Unlike `print!`, a closed pipe (`regen ... | head`) comes back
/// as an error, which `main` ends on quietly, instead of a panic.
fn print(text: &str) -> anyhow::Result<ExitCode> {
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
