//! `regen models inspect`.

use std::process::ExitCode;

use anyhow::Result;

use crate::args::{ExportArgs, InspectArgs};

pub fn inspect(a: InspectArgs) -> Result<ExitCode> {
    let i = regen::inspect::inspect(&a.model)?;
    if a.json.json {
        println!("{}", serde_json::to_string_pretty(&i)?);
    } else {
        let lines = i.lines();
        let w = lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        for (k, v) in lines {
            println!("{k:<w$}  {v}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `regen export MODEL -o FILE.safetensors`.
pub fn export(a: ExportArgs) -> Result<ExitCode> {
    let (path, bytes) = regen::shipped::resolve(&a.model)?;
    let card = regen::checkpoint::read_card(&path, &bytes)?;
    let n = regen::published::export::export(&path, &card, &bytes, &a.output)?;
    println!(
        "wrote {} ({n} tensors, {} in spandrel's key layout)",
        a.output.display(),
        card.descriptor
            .restore_arch()
            .map(|r| r.name())
            .unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}
