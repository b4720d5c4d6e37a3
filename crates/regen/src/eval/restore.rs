//! `regen eval restore`: the damaged input, classical baselines and the model on the same
//! inputs, each with mean PSNR, mean SSIM and seconds. The baselines depend on the damage:
//! Gaussian and median filters for noise; the harmonic fill for missing regions; Wiener
//! deconvolution and Richardson-Lucy with the true kernel for blur.

use std::path::Path;
use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use crate::classical::{
    gaussian_filter, harmonic_fill, median_filter, richardson_lucy, wiener_mirrored,
};
use crate::corrupt::resize::{Kernel, upscale};
use crate::corrupt::{Corruption, Degradation, Sigma, Task};
use crate::data::{Image, load_folder};
use crate::error::{Error, Result};
use crate::metrics::{mod_crop, psnr, psnr_y, ssim_image, ssim_y};
use crate::pad::{crop, mirror_pad};
use crate::restore::{Condition, NON_BLIND_DEBLURRER, Restorer};

/// One method's scores.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// Method name.
    pub method: String,
    /// Its parameter, if any (chosen as the best of a small grid on this very data, which
    /// flatters the baseline, not the model).
    pub param: String,
    /// Mean PSNR in dB.
    pub psnr: f64,
    /// Mean SSIM.
    pub ssim: f64,
    /// Total seconds for all images.
    pub seconds: f64,
}

/// The whole evaluation.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Noise sigma (0-255) for denoising, the noise after blurring for deblurring, 0 else.
    pub sigma: f32,
    /// The damage, in words.
    pub damage: String,
    /// Number of images.
    pub images: usize,
    /// One row per method.
    pub rows: Vec<Row>,
}

fn score(outs: &[Image], clean: &[Image]) -> (f64, f64) {
    let (mut p, mut s) = (0.0, 0.0);
    for (o, c) in outs.iter().zip(clean) {
        p += psnr(&o.data, &c.data);
        s += ssim_image(o, c);
    }
    (p / clean.len() as f64, s / clean.len() as f64)
}

/// A baseline over one `h` x `w` plane and its mask (inpainting only).
type PlaneFilter = Box<dyn Fn(&[f32], Option<&[f32]>, usize, usize) -> Vec<f32>>;

fn per_plane(img: &Image, mask: Option<&[f32]>, f: &PlaneFilter) -> Image {
    let mut out = img.clone();
    for c in 0..img.color_channels() {
        let p = f(img.plane(c), mask, img.height, img.width);
        out.plane_mut(c).copy_from_slice(&p);
    }
    out
}

fn clamped(v: Vec<f32>) -> Vec<f32> {
    v.into_iter().map(|x| x.clamp(0.0, 1.0)).collect()
}

/// The classical baselines for `damage`, each with the parameter grid it is tuned over.
/// Richardson-Lucy is handled apart (one run serves every iteration count).
fn baselines(damage: &Corruption) -> Vec<(&'static str, Vec<(String, PlaneFilter)>)> {
    match damage {
        Corruption::Inpaint { .. } => {
            let f: PlaneFilter = Box::new(|x, m, h, w| match m {
                Some(m) => harmonic_fill(x, m, h, w),
                None => x.to_vec(),
            });
            vec![("harmonic fill", vec![(String::new(), f)])]
        }
        Corruption::Blur { blur, .. } => {
            let k = blur.kernel(&mut crate::rng::Rng::new(0));
            let grid = [3e-4, 1e-3, 2e-3, 3e-3, 5e-3, 0.01, 0.02, 0.03, 0.1, 0.3]
                .into_iter()
                .map(|b| {
                    let k = k.clone();
                    let f: PlaneFilter =
                        Box::new(move |x, _, h, w| clamped(wiener_mirrored(x, h, w, &k, b)));
                    (format!("balance {b}"), f)
                })
                .collect();
            vec![("wiener", grid)]
        }
        _ => {
            let gauss = [0.5, 0.75, 1.0, 1.5, 2.0, 3.0]
                .into_iter()
                .map(|sg| {
                    let f: PlaneFilter = Box::new(move |x, _, h, w| gaussian_filter(x, h, w, sg));
                    (format!("sigma {sg}"), f)
                })
                .collect();
            let median = [3usize, 5, 7]
                .into_iter()
                .map(|k| {
                    let f: PlaneFilter = Box::new(move |x, _, h, w| median_filter(x, h, w, k));
                    (format!("{k}x{k}"), f)
                })
                .collect();
            vec![("gaussian filter", gauss), ("median filter", median)]
        }
    }
}

/// Richardson-Lucy with the true kernel, best of several iteration counts.
fn richardson_lucy_row(
    damage: &Corruption,
    inputs: &[(Image, Option<Vec<f32>>)],
    clean: &[Image],
) -> Option<Row> {
    let Corruption::Blur { blur, .. } = damage else {
        return None;
    };
    let k = blur.kernel(&mut crate::rng::Rng::new(0));
    // Past 80: with little noise the best count can lie beyond it.
    let counts = [5usize, 10, 20, 40, 60, 80, 120, 160];
    let most = counts[counts.len() - 1];
    let t = Instant::now();
    // outs[j][i]: image i after counts[j] iterations.
    let mut outs: Vec<Vec<Image>> = vec![Vec::new(); counts.len()];
    // Images in parallel (on the `--threads` pool): 160 iterations over BSD68 take minutes.
    let per_image: Vec<Vec<Image>> = inputs
        .par_iter()
        .map(|(img, _)| {
            let mut per: Vec<Image> = vec![img.clone(); counts.len()];
            let (h, w, r) = (img.height, img.width, k.size);
            for c in 0..img.color_channels() {
                let padded = mirror_pad(img.plane(c), h, w, r);
                richardson_lucy(&padded, h + 2 * r, w + 2 * r, &k, most, |it, est| {
                    if let Some(j) = counts.iter().position(|&n| n == it) {
                        per[j]
                            .plane_mut(c)
                            .copy_from_slice(&clamped(crop(est, h, w, r)));
                    }
                });
            }
            per
        })
        .collect();
    for per in per_image {
        for (j, p) in per.into_iter().enumerate() {
            outs[j].push(p);
        }
    }
    let seconds = t.elapsed().as_secs_f64();
    counts
        .iter()
        .zip(&outs)
        .map(|(n, o)| {
            let (psnr, ssim) = score(o, clean);
            Row {
                method: "richardson-lucy".into(),
                param: format!("{n} iterations"),
                psnr,
                ssim,
                // One run of `most` iterations produced every count; charge its time to each.
                seconds,
            }
        })
        .max_by(|a, b| a.psnr.total_cmp(&b.psnr))
}

/// The models `regen eval restore` scores for `task`: `model` or the shipped default and,
/// for deblurring without a named model, the shipped non-blind deblurrer beside the blind
/// one. Each is given the true kernel of each image by [`eval_restore`].
pub fn models_for(
    model: Option<&str>,
    task: Task,
    ensemble: bool,
    damage: &Corruption,
) -> Result<Vec<Restorer>> {
    let first = match damage {
        Corruption::Downscale { scale, degradation } => {
            // Without a model, the shipped upscaler made for this damage, if there is one.
            let own = match degradation {
                Degradation::Bicubic => format!("upscale-x{scale}"),
                Degradation::Real => format!("upscale-photo-x{scale}"),
            };
            let model = model.or(crate::shipped::find(&own).map(|m| m.name));
            Restorer::for_task(model, Some(task), false, Some(*scale))?
        }
        _ => Restorer::load_for(model, Some(task))?,
    };
    let mut models = vec![first];
    if task == Task::Deblur && model.is_none() {
        models.push(Restorer::load_for(Some(NON_BLIND_DEBLURRER), Some(task))?);
    }
    for m in &mut models {
        m.ensemble = ensemble;
    }
    Ok(models)
}

/// `regen eval restore`: the models for `task` ([`models_for`]) and the baselines on the
/// images of the folder `data`, damaged by `damage` (image i with seed `seed + i`). Files
/// that are not images are skipped, each passed to `note`.
pub fn eval_folder(
    model: Option<&str>,
    task: Task,
    ensemble: bool,
    data: &Path,
    damage: &Corruption,
    seed: u64,
    note: impl Fn(&Error),
) -> Result<Report> {
    let models = models_for(model, task, ensemble, damage)?;
    let (clean, skipped) = test_images(data)?;
    if let Corruption::Downscale { scale, .. } = damage {
        // Cropped to a multiple of the scale and shaved by it, SSIM's 11x11 window must fit.
        let need = (11 + 2 * scale).div_ceil(*scale) * scale;
        if let Some(i) = clean.iter().position(|c| c.height.min(c.width) < need) {
            return Err(Error::arg(format!(
                "--data {}: image {} of {}x{} pixels is too small to score at x{scale} (at least {need}x{need})",
                data.display(),
                i + 1,
                clean[i].width,
                clean[i].height
            )));
        }
    }
    skipped.iter().for_each(note);
    let models: Vec<&Restorer> = models.iter().collect();
    Ok(eval_restore(&models, &clean, damage, seed))
}

/// The clean test images of a folder, and the files in it that are not images (skipped).
/// Images under 11x11 pixels, too small for SSIM's window, are refused.
pub fn test_images(dir: &Path) -> Result<(Vec<Image>, Vec<Error>)> {
    let loaded = load_folder(dir)?;
    if let Some((p, _)) = loaded
        .images
        .iter()
        .find(|(_, i)| i.height < 11 || i.width < 11)
    {
        return Err(Error::bad_file(
            p,
            "smaller than 11x11 pixels, too small for SSIM",
        ));
    }
    let images = loaded.images.into_iter().map(|(_, i)| i).collect();
    Ok((images, loaded.errors))
}

/// Damages each clean image with `damage` (image i with seed `seed + i`, then rounded to 8
/// bits, exactly as `regen corrupt --seed seed` writes them), and scores every method on
/// the result.
/// A non-blind deblurring model is given each image's true kernel, as the deconvolution
/// baselines are; a blind one is not. The first model's row is `regen model`, a non-blind
/// one's `regen non-blind`.
pub fn eval_restore(
    models: &[&Restorer],
    clean: &[Image],
    damage: &Corruption,
    seed: u64,
) -> Report {
    if let Corruption::Downscale { scale, .. } = damage {
        return eval_upscale(models, clean, damage, *scale, seed);
    }
    let corrupted: Vec<_> = clean
        .iter()
        .enumerate()
        .map(|(i, img)| damage.apply(img, seed.wrapping_add(i as u64)))
        .collect();
    let inputs: Vec<(Image, Option<Vec<f32>>)> = corrupted
        .iter()
        .map(|c| {
            (
                c.image.quantized_8bit(),
                c.mask.as_ref().map(|m| m.data.clone()),
            )
        })
        .collect();
    let damaged: Vec<Image> = inputs.iter().map(|(i, _)| i.clone()).collect();
    let (p, s) = score(&damaged, clean);
    let mut rows = vec![Row {
        method: "damaged input".into(),
        param: String::new(),
        psnr: p,
        ssim: s,
        seconds: 0.0,
    }];
    for (name, grid) in baselines(damage) {
        let mut best: Option<Row> = None;
        for (label, f) in &grid {
            let t = Instant::now();
            let outs: Vec<Image> = inputs
                .iter()
                .map(|(n, m)| per_plane(n, m.as_deref(), f))
                .collect();
            let seconds = t.elapsed().as_secs_f64();
            let (psnr, ssim) = score(&outs, clean);
            if best.as_ref().is_none_or(|b| psnr > b.psnr) {
                best = Some(Row {
                    method: name.into(),
                    param: label.clone(),
                    psnr,
                    ssim,
                    seconds,
                });
            }
        }
        rows.extend(best);
    }
    rows.extend(richardson_lucy_row(damage, &inputs, clean));

    for (i, model) in models.iter().enumerate() {
        // A model with a noise level input runs twice: as a user runs it (the level
        // estimated from each image) and told each image's true level.
        let told = clean.iter().any(|c| model.takes_sigma_for(c))
            && corrupted.iter().all(|c| c.sigma.is_some());
        for tell in [false, true].into_iter().filter(|&t| !t || told) {
            let t = Instant::now();
            let outs: Vec<Image> = inputs
                .iter()
                .zip(&corrupted)
                .map(|((n, m), c)| {
                    let kernel = if model.non_blind() {
                        c.kernel.as_ref()
                    } else {
                        None
                    };
                    let cond = Condition {
                        mask: m.as_deref(),
                        kernel,
                        sigma: if tell { c.sigma } else { None },
                    };
                    model.restore(n, &cond)
                })
                .collect();
            let secs = t.elapsed().as_secs_f64();
            let (p, s) = score(&outs, clean);
            let method = match (model.non_blind() && i > 0, tell) {
                (true, _) => "regen non-blind",
                (false, true) => "regen told sigma",
                (false, false) => "regen model",
            };
            let mut param = model.task().to_string();
            if model.ensemble {
                param.push_str(" x8");
            }
            rows.push(Row {
                method: method.into(),
                param,
                psnr: p,
                ssim: s,
                seconds: secs,
            });
        }
    }
    let (sigma, words) = match damage {
        Corruption::Gaussian {
            sigma: Sigma::Fixed(s),
        } => (*s, format!("Gaussian noise sigma {s}")),
        Corruption::Blur { blur, noise } => {
            let n = match noise {
                Sigma::Fixed(s) => *s,
                Sigma::Range(_, hi) => *hi,
            };
            (n, format!("{blur:?} blur plus noise sigma {n}"))
        }
        Corruption::Inpaint { mask } => (0.0, format!("missing pixels: {mask:?}")),
        other => (0.0, format!("{other:?}")),
    };
    Report {
        sigma,
        damage: words,
        images: clean.len(),
        rows,
    }
}

/// The super-resolution protocol: each image cropped to a multiple of `scale`
/// ([`mod_crop`]), shrunk by `damage` (image i with seed `seed + i`) and rounded to 8 bits;
/// bicubic and Lanczos3 upscaling (MATLAB's `imresize`) and each model enlarge it back;
/// outputs rounded to 8 bits; PSNR and SSIM on the luminance with `scale` pixels shaved
/// from each border ([`psnr_y`]).
fn eval_upscale(
    models: &[&Restorer],
    clean: &[Image],
    damage: &Corruption,
    scale: usize,
    seed: u64,
) -> Report {
    let hr: Vec<Image> = clean.iter().map(|c| mod_crop(c, scale)).collect();
    let lr: Vec<Image> = hr
        .iter()
        .enumerate()
        .map(|(i, c)| {
            damage
                .apply(c, seed.wrapping_add(i as u64))
                .image
                .quantized_8bit()
        })
        .collect();
    let score = |outs: &[Image]| {
        let n = hr.len() as f64;
        let (mut p, mut s) = (0.0, 0.0);
        for (o, c) in outs.iter().zip(&hr) {
            p += psnr_y(o, c, scale);
            s += ssim_y(o, c, scale);
        }
        (p / n, s / n)
    };
    let mut rows = Vec::new();
    let mut row = |method: &str, param: String, run: &dyn Fn(&Image) -> Image| {
        let t = Instant::now();
        let outs: Vec<Image> = lr.iter().map(|i| run(i).quantized_8bit()).collect();
        let seconds = t.elapsed().as_secs_f64();
        let (psnr, ssim) = score(&outs);
        rows.push(Row {
            method: method.into(),
            param,
            psnr,
            ssim,
            seconds,
        });
    };
    row("bicubic", String::new(), &|i| {
        upscale(i, scale, Kernel::Cubic)
    });
    row("lanczos", "lanczos3".into(), &|i| {
        upscale(i, scale, Kernel::Lanczos3)
    });
    for model in models {
        let mut param = format!("x{}", model.descriptor().scale);
        if model.ensemble {
            param.push_str(" x8");
        }
        row("regen model", param, &|i| {
            model.restore(i, &Condition::default())
        });
    }
    Report {
        sigma: 0.0,
        damage: format!(
            "shrunk x{scale} ({damage:?}); scored on luminance (Y), {scale} pixels shaved, outputs rounded to 8 bits"
        ),
        images: clean.len(),
        rows,
    }
}

impl Report {
    /// A plain-text table.
    pub fn table(&self) -> String {
        let mut s = format!(
            "{} images, {} (inputs rounded to 8 bits)\n{:<16} {:<15} {:>10} {:>8} {:>9}\n",
            self.images, self.damage, "method", "param", "PSNR dB", "SSIM", "seconds"
        );
        for r in &self.rows {
            s.push_str(&format!(
                "{:<16} {:<15} {:>10.2} {:>8.4} {:>9.2}\n",
                r.method, r.param, r.psnr, r.ssim, r.seconds
            ));
        }
        s
    }
}
