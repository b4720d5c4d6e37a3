//! `regen serve`.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use regen::Error;
use regen_serve::{Options, Server};

use crate::args::ServeArgs;

pub fn serve(a: ServeArgs) -> Result<ExitCode> {
    let max_upload = a
        .max_upload_mb
        .checked_mul(1 << 20)
        .filter(|&n| n > 0)
        .ok_or_else(|| {
            Error::arg(format!(
                "--max-upload-mb {}: must be 1 or more",
                a.max_upload_mb
            ))
        })?;
    let opts = Options {
        addr: std::net::SocketAddr::new(a.host, a.port),
        runs: a.runs,
        models: a.models,
        max_upload,
        queue: a.queue,
    };
    let server = Server::bind(&opts)?;
    let addr = server.local_addr();
    let url = if addr.ip().is_loopback() {
        format!("http://localhost:{}/", addr.port())
    } else {
        format!("http://{addr}/")
    };
    // The first line says where; tests and scripts read the port from it.
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "regen serve: listening on http://{addr}/ (open {url}; Ctrl-C stops)"
    )?;
    out.flush()?;
    drop(out);
    if !addr.ip().is_loopback() {
        eprintln!(
            "warning: listening on {}, not loopback: anyone who can reach this machine can use its models and read --runs",
            addr.ip()
        );
    }
    if a.open {
        open_browser(&url);
    }
    server.run()?;
    Ok(ExitCode::SUCCESS)
}

/// Opens `url` in the default browser; a machine without one gets a note, not an error.
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    if let Err(e) = std::process::Command::new(opener).arg(url).spawn() {
        eprintln!("note: could not open a browser ({opener}: {e}); open {url} yourself");
    }
}
