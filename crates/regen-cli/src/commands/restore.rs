//! `regen restore`.

use std::process::ExitCode;

use anyhow::Result;
use regen::data::load_mask;
use regen::restore::{Condition, Restorer};
use regen::{Error, batch};

use crate::args::RestoreArgs;

pub fn restore(a: RestoreArgs) -> Result<ExitCode> {
    if let Some(t) = a.tile
        && t < 16
    {
        return Err(Error::arg(format!("--tile {t}: must be at least 16")).into());
    }
    let kernel = regen::corrupt::blur::known_kernel(a.blur, a.blur_sigma, a.length, a.angle)?;
    let mut model = Restorer::for_task(a.model.as_deref(), a.task, kernel.is_some(), a.scale)?;
    regen::restore::check_mask(model.task(), a.mask.as_deref())?;
    if let Some(t) = a.tile {
        model.tile = t;
    }
    model.ensemble = a.ensemble;
    if let Some(m) = a.margin {
        model.margin = m;
    }
    if let Some(sigma) = a.sigma {
        model.check_sigma(sigma, a.model.as_deref())?;
    }
    let cond = Condition {
        kernel: kernel.as_ref(),
        sigma: a.sigma,
        ..Default::default()
    };
    let (jobs, bad) = super::plan(&a.io)?;
    let n = jobs.len();
    super::run_batch_writing(&a.io, &jobs, bad, |i, img, output, save| match &a.mask {
        Some(m) => {
            let path = batch::side_path(m, &jobs[i], &a.io.output, n);
            let mask = load_mask(&path, img.height, img.width)?;
            let cond = Condition {
                mask: Some(&mask),
                ..cond
            };
            model.restore_to(img, &cond, output, save)
        }
        None => model.restore_to(img, &cond, output, save),
    })
}
