//! `regen eval restore`: the noisy input, classical filters and the model on the same
//! inputs, each with mean PSNR, mean SSIM and seconds.

use std::time::Instant;

use serde::Serialize;

use crate::classical::{gaussian_filter, median_filter};
use crate::corrupt::{Corruption, Sigma};
use crate::data::Image;
use crate::metrics::{psnr, ssim};
use crate::restore::Restorer;

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
    /// Noise sigma (0-255).
    pub sigma: f32,
    /// Number of images.
    pub images: usize,
    /// One row per method.
    pub rows: Vec<Row>,
}

fn score(outs: &[Image], clean: &[Image]) -> (f64, f64) {
    let (mut p, mut s) = (0.0, 0.0);
    for (o, c) in outs.iter().zip(clean) {
        p += psnr(&o.data, &c.data);
        let cc = c.color_channels();
        s += (0..cc)
            .map(|k| ssim(o.plane(k), c.plane(k), c.height, c.width))
            .sum::<f64>()
            / cc as f64;
    }
    (p / clean.len() as f64, s / clean.len() as f64)
}

/// A filter over one `h` x `w` plane.
type PlaneFilter = Box<dyn Fn(&[f32], usize, usize) -> Vec<f32>>;

fn per_plane(img: &Image, f: &PlaneFilter) -> Image {
    let mut out = img.clone();
    for c in 0..img.color_channels() {
        let p = f(img.plane(c), img.height, img.width);
        out.plane_mut(c).copy_from_slice(&p);
    }
    out
}

/// The classical baselines, each with the parameter grid it is tuned over.
fn baselines() -> Vec<(&'static str, Vec<(String, PlaneFilter)>)> {
    let gauss = [0.5, 0.75, 1.0, 1.5, 2.0, 3.0]
        .into_iter()
        .map(|sg| {
            let f: PlaneFilter = Box::new(move |x, h, w| gaussian_filter(x, h, w, sg));
            (format!("sigma {sg}"), f)
        })
        .collect();
    let median = [3usize, 5, 7]
        .into_iter()
        .map(|k| {
            let f: PlaneFilter = Box::new(move |x, h, w| median_filter(x, h, w, k));
            (format!("{k}x{k}"), f)
        })
        .collect();
    vec![("gaussian filter", gauss), ("median filter", median)]
}

/// Adds Gaussian noise of `sigma` to each clean image (image i with seed `seed + i`, then
/// rounded to 8 bits, exactly as `regen corrupt --seed seed` writes them), and scores
/// every method on the result.
pub fn eval_restore(model: &Restorer, clean: &[Image], sigma: f32, seed: u64) -> Report {
    let c = Corruption::Gaussian {
        sigma: Sigma::Fixed(sigma),
    };
    let noisy: Vec<Image> = clean
        .iter()
        .enumerate()
        .map(|(i, img)| {
            c.apply(img, seed.wrapping_add(i as u64))
                .image
                .quantized_8bit()
        })
        .collect();
    let (p, s) = score(&noisy, clean);
    let mut rows = vec![Row {
        method: "noisy input".into(),
        param: String::new(),
        psnr: p,
        ssim: s,
        seconds: 0.0,
    }];
    for (name, grid) in baselines() {
        let mut best: Option<Row> = None;
        for (label, f) in &grid {
            let t = Instant::now();
            let outs: Vec<Image> = noisy.iter().map(|n| per_plane(n, f)).collect();
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

    let t = Instant::now();
    let outs: Vec<Image> = noisy.iter().map(|n| model.restore(n)).collect();
    let secs = t.elapsed().as_secs_f64();
    let (p, s) = score(&outs, clean);
    rows.push(Row {
        method: "regen model".into(),
        param: if model.ensemble {
            format!("{} x8", model.card.task)
        } else {
            model.card.task.clone()
        },
        psnr: p,
        ssim: s,
        seconds: secs,
    });
    Report {
        sigma,
        images: clean.len(),
        rows,
    }
}

impl Report {
    /// A plain-text table.
    pub fn table(&self) -> String {
        let mut s = format!(
            "{} images, Gaussian noise sigma {} (inputs rounded to 8 bits)\n{:<16} {:<10} {:>10} {:>8} {:>9}\n",
            self.images, self.sigma, "method", "param", "PSNR dB", "SSIM", "seconds"
        );
        for r in &self.rows {
            s.push_str(&format!(
                "{:<16} {:<10} {:>10.2} {:>8.4} {:>9.2}\n",
                r.method, r.param, r.psnr, r.ssim, r.seconds
            ));
        }
        s
    }
}
