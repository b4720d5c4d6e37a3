//! `regen eval noise`: how well [`crate::classical::estimate_sigma`] finds known noise
//! levels. Each clean image gets Gaussian noise of each sigma exactly as `regen corrupt`
//! adds it (image i with seed `seed + i`, clipped and rounded to 8 bits), and the estimate
//! from the noisy image alone is compared with the true sigma.

use std::path::Path;

use serde::Serialize;

use crate::classical::estimate_sigma;
use crate::corrupt::{Corruption, Sigma};
use crate::error::{Error, Result};

/// The estimates at one true sigma.
#[derive(Clone, Debug, Serialize)]
pub struct NoiseRow {
    /// The true sigma (0-255).
    pub sigma: f32,
    /// Mean estimate over the images.
    pub mean: f64,
    /// Mean of |estimate - sigma| / sigma over the images.
    pub rel_error: f64,
    /// Largest |estimate - sigma| / sigma.
    pub worst: f64,
}

/// Every sigma's row, and the mean relative error over all of them.
#[derive(Clone, Debug, Serialize)]
pub struct NoiseReport {
    /// Number of images.
    pub images: usize,
    /// One row per sigma.
    pub rows: Vec<NoiseRow>,
    /// Mean relative error over every image and sigma.
    pub rel_error: f64,
}

/// Estimates the noise of the images in `data` at each of `sigmas`.
pub fn eval_noise(data: &Path, sigmas: &[f32], seed: u64) -> Result<NoiseReport> {
    if sigmas.is_empty() || sigmas.iter().any(|&s| s.is_nan() || s <= 0.0) {
        return Err(Error::arg("--sigmas: each must be a positive number"));
    }
    let (clean, _) = super::restore::test_images(data)?;
    let mut rows = Vec::new();
    for &sigma in sigmas {
        let damage = Corruption::Gaussian {
            sigma: Sigma::Fixed(sigma),
        };
        damage.validate()?;
        let errs: Vec<(f64, f64)> = clean
            .iter()
            .enumerate()
            .map(|(i, img)| {
                let noisy = damage
                    .apply(img, seed.wrapping_add(i as u64))
                    .image
                    .quantized_8bit();
                let planes: Vec<&[f32]> = (0..noisy.color_channels())
                    .map(|c| noisy.plane(c))
                    .collect();
                let est = estimate_sigma(&planes, noisy.height, noisy.width) as f64;
                (est, (est - sigma as f64).abs() / sigma as f64)
            })
            .collect();
        let n = errs.len() as f64;
        rows.push(NoiseRow {
            sigma,
            mean: errs.iter().map(|e| e.0).sum::<f64>() / n,
            rel_error: errs.iter().map(|e| e.1).sum::<f64>() / n,
            worst: errs.iter().map(|e| e.1).fold(0.0, f64::max),
        });
    }
    let rel_error = rows.iter().map(|r| r.rel_error).sum::<f64>() / rows.len().max(1) as f64;
    Ok(NoiseReport {
        images: clean.len(),
        rows,
        rel_error,
    })
}

impl NoiseReport {
    /// A plain-text table.
    pub fn table(&self) -> String {
        let mut s = format!(
            "{} images, Gaussian noise (inputs rounded to 8 bits), sigma estimated by patch PCA\n{:>8} {:>10} {:>10} {:>10}\n",
            self.images, "sigma", "estimate", "error %", "worst %"
        );
        for r in &self.rows {
            s.push_str(&format!(
                "{:>8} {:>10.2} {:>10.1} {:>10.1}\n",
                r.sigma,
                r.mean,
                100.0 * r.rel_error,
                100.0 * r.worst
            ));
        }
        s.push_str(&format!(
            "mean error over all: {:.1}%\n",
            100.0 * self.rel_error
        ));
        s
    }
}
