//! `regen models inspect`.

use std::process::ExitCode;

use anyhow::Result;

use crate::args::InspectArgs;

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
