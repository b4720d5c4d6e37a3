//! `regen generate`, and the VAE's `reconstruct`, `interpolate` and `encode`.

use std::process::ExitCode;

use anyhow::Result;
use regen::Error;
use regen::data::{Dataset, Image, grid, save_numbered};
use regen::generate::Generator;

use crate::args::{EncodeArgs, GenerateArgs, InterpolateArgs, ReconstructArgs};

pub fn generate(a: GenerateArgs) -> Result<ExitCode> {
    if a.output.is_none() && a.grid.is_none() {
        return Err(
            Error::arg("give -o DIR for the images, --grid FILE for one picture, or both").into(),
        );
    }
    if a.n == 0 {
        return Err(Error::arg("-n 0: nothing to generate").into());
    }
    let images = Generator::load(&a.model)?.sample(a.n, a.class, a.seed)?;
    if let Some(dir) = &a.output {
        save_numbered(&images, dir)?;
    }
    if let Some(g) = &a.grid {
        grid(&images, (a.n as f64).sqrt().ceil() as usize).save(g)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A VAE: `spec` loaded, a GAN refused.
fn vae(spec: &str) -> Result<Generator> {
    let g = Generator::load(spec)?;
    g.vae()?;
    Ok(g)
}

pub fn reconstruct(a: ReconstructArgs) -> Result<ExitCode> {
    let g = vae(&a.model)?;
    let cls = a.class.map(|c| vec![c]);
    let (jobs, bad) = super::plan(&a.io)?;
    super::run_batch(&a.io, &jobs, bad, |_, img| {
        Ok(g.reconstruct(&[img], cls.as_deref())?.remove(0))
    })
}

pub fn interpolate(a: InterpolateArgs) -> Result<ExitCode> {
    let g = vae(&a.model)?;
    let (ia, ib) = (Image::load(&a.a)?, Image::load(&a.b)?);
    let strip = g.interpolate(&ia, &ib, a.steps, a.spherical, a.class)?;
    grid(&strip, strip.len()).save(&a.output)?;
    Ok(ExitCode::SUCCESS)
}

pub fn encode(a: EncodeArgs) -> Result<ExitCode> {
    let g = vae(&a.model)?;
    let csv = g.latent_csv(&Dataset::load(&a.data)?)?;
    regen::fsutil::write_atomic(&a.output, csv.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
