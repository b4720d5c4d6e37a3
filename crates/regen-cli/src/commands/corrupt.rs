//! `regen corrupt`.

use std::process::ExitCode;

use anyhow::Result;
use regen::corrupt::mask::{MaskKind, parse_fraction_range};
use regen::corrupt::{Corruption, Sigma};
use regen::{Error, Task, batch};

use crate::args::CorruptArgs;

pub fn corrupt(a: CorruptArgs) -> Result<ExitCode> {
    let c = match a.task {
        Task::Denoise => Corruption::noise(a.noise, a.sigma.as_deref(), a.amount, a.peak)?,
        Task::Inpaint => {
            let coverage = parse_fraction_range("--coverage", &a.coverage)?;
            if a.masks.is_none() {
                return Err(
                    Error::arg("--task inpaint needs --masks: where to write the masks").into(),
                );
            }
            Corruption::Inpaint {
                mask: MaskKind::named(a.mask_kind, coverage),
            }
        }
        Task::Deblur => Corruption::Blur {
            blur: a.blur.kind(),
            noise: Sigma::parse(a.sigma.as_deref().unwrap_or("0"))?,
        },
        Task::Upscale => Corruption::Downscale {
            scale: a
                .scale
                .ok_or_else(|| Error::arg("--task upscale needs --scale: 2, 3 or 4"))?,
            degradation: a.degradation,
        },
    };
    c.validate()?;
    let (jobs, bad) = super::plan(&a.io)?;
    let n = jobs.len();
    super::run_batch(&a.io, &jobs, bad, |i, img| {
        let out = c.apply(img, a.seed.wrapping_add(i as u64));
        if let (Some(m), Some(dir)) = (&out.mask, &a.masks) {
            m.save(&batch::side_path(dir, &jobs[i], &a.io.output, n))?;
        }
        Ok(out.image)
    })
}
