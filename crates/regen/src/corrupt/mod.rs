//! Corruptions: pure functions of (image, parameters, seed). Training and `regen corrupt`
//! both go through [`Corruption::apply`], so test inputs are made exactly as training
//! inputs are.
//!
//! Every corruption returns a [`Corrupted`]: the damaged image plus an optional mask
//! (1 = pixel missing, set by inpainting) and the blur kernel (set by blur), which models
//! that take them get as extra input planes.
//!
//! A [`Task`] names the damage a model undoes; the damage each task is trained on by
//! default ([`Corruption::train_default`]) and tested on ([`Corruption::test_default`])
//! are defined here once.

pub mod blur;
pub mod mask;
pub mod real;
pub mod resize;

use serde::{Deserialize, Serialize};

use crate::data::Image;
use crate::error::{Error, Result};
use crate::rng::Rng;

/// A restoration task: which damage a model undoes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    /// Noise of any of the [`NoiseKind`]s.
    #[default]
    Denoise,
    /// Missing regions, given by a mask.
    Inpaint,
    /// Blur, plus a little noise.
    Deblur,
    /// A smaller image made larger (super-resolution); the scale is the model's.
    Upscale,
}

crate::choice::named!(Task, "task", "denoise, inpaint, deblur or upscale");

impl Task {
    /// Every task, in the order menus list them.
    pub const ALL: [Task; 4] = [Task::Denoise, Task::Inpaint, Task::Deblur, Task::Upscale];
}

/// The kinds of noise `regen corrupt` adds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoiseKind {
    /// Additive white Gaussian noise.
    Gaussian,
    /// Impulse noise.
    SaltPepper,
    /// Shot noise.
    Poisson,
}

crate::choice::named!(NoiseKind, "noise", "gaussian, salt-pepper or poisson");

/// How an image is made smaller for super-resolution.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Degradation {
    /// MATLAB's antialiased bicubic `imresize` alone, as the super-resolution benchmarks
    /// (Set5, Set14, BSD100) make their inputs: for clean images.
    #[default]
    Bicubic,
    /// Real-ESRGAN's second-order degradation (blur, resize, noise, JPEG, twice, then the
    /// final resize): for real photos ([`real::degrade`]).
    Real,
}

crate::choice::named!(Degradation, "degradation", "bicubic or real");

/// Upscaling factors regen's damage, training and evaluation take.
pub const SCALES: std::ops::RangeInclusive<usize> = 2..=4;

/// Checks an upscaling factor: one line naming it otherwise.
pub fn check_scale(scale: usize) -> Result<()> {
    if SCALES.contains(&scale) {
        Ok(())
    } else {
        Err(Error::arg(format!(
            "--scale {scale}: regen upscales by 2, 3 or 4"
        )))
    }
}

/// The test settings of the README and of validation during training: Gaussian blur of
/// sigma [`TEST_BLUR_SIGMA`] plus noise of sigma [`TEST_BLUR_NOISE`]; strokes over
/// [`TEST_COVERAGE`] of the image, [`TEST_STROKE_WIDTH`] of its side wide.
pub const TEST_BLUR_SIGMA: f32 = 1.6;
/// Noise sigma (0-255) after the test blur.
pub const TEST_BLUR_NOISE: f32 = 2.0;
/// Fraction of pixels missing in the test masks.
pub const TEST_COVERAGE: (f32, f32) = (0.10, 0.25);
/// Brush widths of the test masks, as fractions of the shorter side.
pub const TEST_STROKE_WIDTH: (f32, f32) = (0.03, 0.08);

/// Noise level on the 0-255 scale: fixed, or drawn uniformly per image (blind training).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Sigma {
    /// One sigma for every image.
    Fixed(f32),
    /// Uniform in `[lo, hi]`, drawn per image.
    Range(f32, f32),
}

impl Sigma {
    /// Parses `25` or `0-50` / `0..50`.
    pub fn parse(s: &str) -> Result<Sigma> {
        let num = |t: &str| {
            t.trim()
                .parse::<f32>()
                .map_err(|_| Error::arg(format!("--sigma {s}: not a number or a range like 0-50")))
        };
        // A leading '-' is a (negative) number, not a range separator.
        let range = s.split_once("..").or_else(|| {
            let cut = 1 + s.get(1..)?.find('-')?;
            Some((&s[..cut], &s[cut + 1..]))
        });
        let sigma = match range {
            Some((a, b)) => Sigma::Range(num(a)?, num(b)?),
            None => Sigma::Fixed(num(s)?),
        };
        sigma.validate()?;
        Ok(sigma)
    }

    /// Parses one sigma for evaluation, which compares methods at one noise level: a range
    /// is refused.
    pub fn parse_fixed(s: &str) -> Result<Sigma> {
        match Sigma::parse(s)? {
            Sigma::Range(..) => Err(Error::arg(
                "--sigma: evaluation needs one number, not a range",
            )),
            fixed => Ok(fixed),
        }
    }

    /// Checks the range: sigma is a standard deviation in 0..=255.
    pub fn validate(&self) -> Result<()> {
        let ok = |v: f32| v.is_finite() && (0.0..=255.0).contains(&v);
        match *self {
            Sigma::Fixed(v) if !ok(v) => Err(Error::arg(format!(
                "--sigma {v}: noise sigma must be between 0 and 255 (0-255 pixel scale)"
            ))),
            Sigma::Range(a, b) if !ok(a) || !ok(b) || a > b => Err(Error::arg(format!(
                "--sigma {a}-{b}: a sigma range must satisfy 0 <= low <= high <= 255"
            ))),
            _ => Ok(()),
        }
    }

    /// The sigma for one image (0-255 scale).
    pub fn draw(&self, rng: &mut Rng) -> f32 {
        match *self {
            Sigma::Fixed(v) => v,
            Sigma::Range(a, b) => a + (b - a) * rng.uniform() as f32,
        }
    }
}

/// A way of damaging an image.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Corruption {
    /// Additive white Gaussian noise, sigma on the 0-255 scale.
    Gaussian {
        /// Noise standard deviation.
        sigma: Sigma,
    },
    /// Impulse noise: each pixel becomes 0 or 1 with total probability `amount`.
    SaltPepper {
        /// Fraction of pixels hit, in [0, 1].
        amount: f32,
    },
    /// Shot noise: pixel value times `peak` photons, Poisson-sampled, divided back.
    Poisson {
        /// Photon count of a white pixel; lower is noisier.
        peak: f32,
    },
    /// Missing pixels (inpainting): the mask's pixels are set to 0 and the mask is returned.
    Inpaint {
        /// How the missing region is drawn.
        mask: mask::MaskKind,
    },
    /// Blur by a kernel, then additive Gaussian noise (sigma on the 0-255 scale).
    Blur {
        /// The kernel.
        blur: blur::BlurKind,
        /// Noise after blurring.
        noise: Sigma,
    },
    /// The image made `scale` times smaller (super-resolution's damage): the damaged image
    /// is `ceil(h / scale)` x `ceil(w / scale)`, every plane (alpha too) shrunk.
    Downscale {
        /// Shrinking factor, 2 to 4.
        scale: usize,
        /// How it is shrunk.
        #[serde(default)]
        degradation: Degradation,
    },
}

/// A corrupted image, and which pixels are missing where that applies.
#[derive(Clone, Debug)]
pub struct Corrupted {
    /// The damaged image, values in [0, 1]: the input's shape, or `scale` times smaller
    /// for [`Corruption::Downscale`].
    pub image: Image,
    /// 1 where a pixel is missing (inpainting); `None` for noise.
    pub mask: Option<Image>,
    /// The blur kernel used (blur), which a non-blind deblurring model is given.
    pub kernel: Option<blur::Kernel>,
    /// The sigma (0-255) of the Gaussian noise added (noise and blur), which a model with a
    /// noise level map is given in training.
    pub sigma: Option<f32>,
}

impl Corruption {
    /// The restoration task that undoes this corruption.
    pub fn task(&self) -> Task {
        match self {
            Corruption::Inpaint { .. } => Task::Inpaint,
            Corruption::Blur { .. } => Task::Deblur,
            Corruption::Downscale { .. } => Task::Upscale,
            _ => Task::Denoise,
        }
    }

    /// The corruption a blind model for `task` is trained on by default: Gaussian noise of
    /// sigma 0-50; free-form strokes over 5-30% of the image, 3-10% of its side wide; a
    /// Gaussian (sigma 0.5-3) or motion (3-15 px) blur plus noise of sigma 0-3; bicubic
    /// shrinking by 4.
    pub fn train_default(task: Task) -> Corruption {
        match task {
            Task::Upscale => Corruption::Downscale {
                scale: 4,
                degradation: Degradation::Bicubic,
            },
            Task::Denoise => Corruption::Gaussian {
                sigma: Sigma::Range(0.0, 50.0),
            },
            Task::Inpaint => Corruption::Inpaint {
                mask: mask::MaskKind::Strokes {
                    coverage: (0.05, 0.30),
                    width: (0.03, 0.10),
                },
            },
            Task::Deblur => Corruption::Blur {
                blur: blur::BlurKind::Random {
                    sigma: (0.5, 3.0),
                    length: (3.0, 15.0),
                    motion: 0.5,
                },
                noise: Sigma::Range(0.0, 3.0),
            },
        }
    }

    /// The damage `task` is tested on: Gaussian noise of `sigma` (denoise); strokes over
    /// [`TEST_COVERAGE`] (inpaint); a Gaussian blur of [`TEST_BLUR_SIGMA`] plus noise of
    /// [`TEST_BLUR_NOISE`] (deblur); bicubic shrinking by 4 (upscale).
    pub fn test_default(task: Task, sigma: f32) -> Corruption {
        match task {
            Task::Upscale => Corruption::train_default(task),
            Task::Denoise => Corruption::Gaussian {
                sigma: Sigma::Fixed(sigma),
            },
            Task::Inpaint => Corruption::Inpaint {
                mask: mask::MaskKind::strokes(TEST_COVERAGE),
            },
            Task::Deblur => Corruption::Blur {
                blur: blur::BlurKind::Gaussian {
                    sigma: TEST_BLUR_SIGMA,
                },
                noise: Sigma::Fixed(TEST_BLUR_NOISE),
            },
        }
    }

    /// The damage `regen eval restore` scores `task` on: Gaussian noise of `sigma`
    /// (required); strokes over `coverage`; `blur` plus noise of `sigma` (default
    /// [`TEST_BLUR_NOISE`]); shrinking by `scale` (required) with `degradation`.
    /// Evaluation compares at one noise level, so `sigma` is no range.
    pub fn for_eval(
        task: Task,
        sigma: Option<&str>,
        coverage: (f32, f32),
        blur: blur::BlurKind,
        (scale, degradation): (Option<usize>, Degradation),
    ) -> Result<Corruption> {
        let c = match task {
            Task::Upscale => Corruption::Downscale {
                scale: scale
                    .ok_or_else(|| Error::arg("--scale is required to evaluate upscaling"))?,
                degradation,
            },
            Task::Denoise => Corruption::Gaussian {
                sigma: Sigma::parse_fixed(
                    sigma.ok_or_else(|| Error::arg("--sigma is required to evaluate denoising"))?,
                )?,
            },
            Task::Inpaint => Corruption::Inpaint {
                mask: mask::MaskKind::strokes(coverage),
            },
            Task::Deblur => Corruption::Blur {
                blur,
                noise: match sigma {
                    Some(s) => Sigma::parse_fixed(s)?,
                    None => Sigma::Fixed(TEST_BLUR_NOISE),
                },
            },
        };
        c.validate()?;
        Ok(c)
    }

    /// Noise of `kind` with its parameter: `sigma` (a number or a range, 0-255 scale),
    /// `amount` (salt-and-pepper) or `peak` (Poisson); a missing one is named.
    pub fn noise(
        kind: NoiseKind,
        sigma: Option<&str>,
        amount: Option<f32>,
        peak: Option<f32>,
    ) -> Result<Corruption> {
        let need = |flag: &str, k: &str| Error::arg(format!("--{flag} is required for {k} noise"));
        Ok(match kind {
            NoiseKind::Gaussian => Corruption::Gaussian {
                sigma: Sigma::parse(sigma.ok_or_else(|| need("sigma", "Gaussian"))?)?,
            },
            NoiseKind::SaltPepper => Corruption::SaltPepper {
                amount: amount.ok_or_else(|| need("amount", "salt-pepper"))?,
            },
            NoiseKind::Poisson => Corruption::Poisson {
                peak: peak.ok_or_else(|| need("peak", "poisson"))?,
            },
        })
    }

    /// Checks the parameters.
    pub fn validate(&self) -> Result<()> {
        match self {
            Corruption::Gaussian { sigma } => sigma.validate(),
            Corruption::SaltPepper { amount } if !(0.0..=1.0).contains(amount) => Err(Error::arg(
                format!("--amount {amount}: must be between 0 and 1"),
            )),
            Corruption::Poisson { peak } if !(peak.is_finite() && *peak > 0.0) => Err(Error::arg(
                format!("--peak {peak}: must be a positive number"),
            )),
            Corruption::Inpaint { mask } => mask.validate(),
            Corruption::Blur { blur, noise } => {
                blur.validate()?;
                noise.validate()
            }
            Corruption::Downscale { scale, .. } => check_scale(*scale),
            _ => Ok(()),
        }
    }

    /// Damages the colour channels of `image` (alpha untouched, or shrunk with them by
    /// [`Corruption::Downscale`]), determined by `seed` alone. Results are clipped to
    /// [0, 1], as they are once saved to a file.
    pub fn apply(&self, image: &Image, seed: u64) -> Corrupted {
        if let Corruption::Downscale { scale, degradation } = self {
            let image = match degradation {
                Degradation::Bicubic => resize::bicubic_down(image, *scale),
                Degradation::Real => real::degrade(image, *scale, seed),
            };
            return Corrupted {
                image,
                mask: None,
                kernel: None,
                sigma: None,
            };
        }
        let mut rng = Rng::new(seed);
        let mut out = image.clone();
        let (h, w) = (image.height, image.width);
        let n = h * w;
        let data = &mut out.data[..image.color_channels() * n];
        let (mut missing, mut kernel, mut level) = (None, None, None);
        match self {
            Corruption::Gaussian { sigma } => {
                let s = sigma.draw(&mut rng) / 255.0;
                level = Some(s * 255.0);
                for v in data.iter_mut() {
                    *v = (*v + s * rng.normal() as f32).clamp(0.0, 1.0);
                }
            }
            Corruption::SaltPepper { amount } => {
                for v in data.iter_mut() {
                    let u = rng.uniform() as f32;
                    if u < amount / 2.0 {
                        *v = 0.0;
                    } else if u < *amount {
                        *v = 1.0;
                    }
                }
            }
            Corruption::Poisson { peak } => {
                for v in data.iter_mut() {
                    *v = (rng.poisson((*v * peak) as f64) as f32 / peak).clamp(0.0, 1.0);
                }
            }
            Corruption::Inpaint { mask } => {
                let m = mask.draw(h, w, &mut rng);
                punch(data, n, &m);
                missing = Some(Image::gray(h, w, m));
            }
            Corruption::Blur { blur, noise } => {
                let k = blur.kernel(&mut rng);
                let s = noise.draw(&mut rng) / 255.0;
                level = Some(s * 255.0);
                for plane in data.chunks_mut(n) {
                    let b = k.convolve(plane, h, w);
                    for (v, bv) in plane.iter_mut().zip(b) {
                        *v = (bv + s * rng.normal() as f32).clamp(0.0, 1.0);
                    }
                }
                kernel = Some(k);
            }
            Corruption::Downscale { .. } => unreachable!("shrunk above"),
        }
        Corrupted {
            image: out,
            mask: missing,
            kernel,
            sigma: level,
        }
    }

    /// Like [`Corruption::apply`] for a training patch: an inpainting mask is drawn for a
    /// `canvas` x `canvas` image and a window of the patch's size is cut from it, so that
    /// brush widths and hole sizes in small patches are those of whole photos (a mask drawn
    /// on a 64-pixel patch would have 2-6 pixel strokes). Windows that miss the strokes
    /// almost entirely are redrawn a few times, as they teach nothing. Other corruptions are
    /// exactly [`Corruption::apply`].
    pub fn apply_patch(&self, patch: &Image, seed: u64, canvas: usize) -> Corrupted {
        let Corruption::Inpaint { mask } = self else {
            return self.apply(patch, seed);
        };
        let (h, w) = (patch.height, patch.width);
        let (ch, cw) = (canvas.max(h), canvas.max(w));
        let mut rng = Rng::new(seed);
        let full = mask.draw(ch, cw, &mut rng);
        let mut m = Vec::new();
        for _ in 0..8 {
            let (y0, x0) = (rng.below(ch - h + 1), rng.below(cw - w + 1));
            m = (0..h)
                .flat_map(|y| {
                    full[(y0 + y) * cw + x0..(y0 + y) * cw + x0 + w]
                        .iter()
                        .copied()
                })
                .collect::<Vec<f32>>();
            if m.iter().sum::<f32>() >= 0.02 * (h * w) as f32 {
                break;
            }
        }
        let mut out = patch.clone();
        let n = h * w;
        let c = patch.color_channels();
        punch(&mut out.data[..c * n], n, &m);
        Corrupted {
            image: out,
            mask: Some(Image::gray(h, w, m)),
            kernel: None,
            sigma: None,
        }
    }
}

/// Sets the masked pixels of every plane to 0.
fn punch(data: &mut [f32], n: usize, mask: &[f32]) {
    for plane in data.chunks_mut(n) {
        for (v, &mv) in plane.iter_mut().zip(mask) {
            if mv > 0.5 {
                *v = 0.0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(v: f32) -> Image {
        Image::gray(64, 64, vec![v; 64 * 64])
    }

    #[test]
    fn gaussian_is_seeded_and_has_the_asked_sigma() {
        let c = Corruption::Gaussian {
            sigma: Sigma::Fixed(25.0),
        };
        let a = c.apply(&flat(0.5), 9).image;
        assert_eq!(a, c.apply(&flat(0.5), 9).image);
        assert_ne!(a, c.apply(&flat(0.5), 10).image);
        let n = a.data.len() as f32;
        let var = a.data.iter().map(|v| (v - 0.5).powi(2)).sum::<f32>() / n;
        let sd = var.sqrt() * 255.0;
        // 4096 samples: the sample sd is within ~3% of 25 with overwhelming probability.
        assert!((sd - 25.0).abs() < 1.0, "sd {sd}");
    }

    #[test]
    fn salt_and_pepper_hits_the_asked_fraction() {
        let c = Corruption::SaltPepper { amount: 0.2 };
        let a = c.apply(&flat(0.5), 1).image;
        let hit = a.data.iter().filter(|&&v| v != 0.5).count() as f32 / a.data.len() as f32;
        assert!((hit - 0.2).abs() < 0.02, "{hit}");
    }

    #[test]
    fn poisson_keeps_the_mean() {
        let c = Corruption::Poisson { peak: 30.0 };
        let a = c.apply(&flat(0.4), 1).image;
        let m = a.data.iter().sum::<f32>() / a.data.len() as f32;
        assert!((m - 0.4).abs() < 0.01, "{m}");
    }

    #[test]
    fn patch_masks_are_windows_of_a_photo_sized_mask() {
        let c = Corruption::Inpaint {
            mask: mask::MaskKind::Strokes {
                coverage: (0.1, 0.25),
                width: (0.03, 0.08),
            },
        };
        let patch = flat(0.5);
        let a = c.apply_patch(&patch, 3, 256).mask.expect("a mask");
        assert_eq!(a.data, c.apply_patch(&patch, 3, 256).mask.unwrap().data);
        // A stroke 3-8% of 256 pixels wide is at least 7 pixels wide somewhere; drawn on
        // the 64-pixel patch itself it would be at most 5.
        let widest_run = a
            .data
            .chunks(64)
            .map(|row| row.split(|&v| v < 0.5).map(<[f32]>::len).max().unwrap_or(0))
            .max()
            .unwrap();
        assert!(widest_run >= 7, "widest run {widest_run}");
        let same = c.apply_patch(&patch, 3, 64);
        assert_eq!(
            same.mask.unwrap().data,
            c.apply(&patch, 3).mask.unwrap().data
        );
        // Noise ignores the canvas.
        let g = Corruption::Gaussian {
            sigma: Sigma::Fixed(10.0),
        };
        assert_eq!(
            g.apply_patch(&patch, 1, 256).image,
            g.apply(&patch, 1).image
        );
    }

    #[test]
    fn inpaint_zeroes_the_masked_pixels_and_returns_the_mask() {
        let c = Corruption::Inpaint {
            mask: mask::MaskKind::CenterBox { frac: 0.5 },
        };
        let out = c.apply(&flat(0.5), 0);
        let m = out.mask.expect("a mask");
        for (v, mv) in out.image.data.iter().zip(&m.data) {
            assert_eq!(*v, if *mv > 0.5 { 0.0 } else { 0.5 });
        }
    }

    #[test]
    fn blur_keeps_a_flat_image_flat_and_softens_an_edge() {
        let c = Corruption::Blur {
            blur: blur::BlurKind::Gaussian { sigma: 1.6 },
            noise: Sigma::Fixed(0.0),
        };
        let out = c.apply(&flat(0.5), 0).image;
        assert!(out.data.iter().all(|v| (v - 0.5).abs() < 1e-5));
        let edge = Image::gray(
            8,
            16,
            (0..128).map(|i| ((i % 16) >= 8) as u8 as f32).collect(),
        );
        let b = c.apply(&edge, 0).image;
        assert!(b.data[7] > 0.1 && b.data[7] < 0.5 && b.data[8] > 0.5 && b.data[8] < 0.9);
    }

    #[test]
    fn sigma_parsing_and_validation() {
        assert_eq!(Sigma::parse("25").unwrap(), Sigma::Fixed(25.0));
        assert_eq!(Sigma::parse("0-50").unwrap(), Sigma::Range(0.0, 50.0));
        assert_eq!(Sigma::parse("0..50").unwrap(), Sigma::Range(0.0, 50.0));
        let e = Sigma::parse("-3").unwrap_err().to_string();
        assert!(e.contains("between 0 and 255"), "{e}");
        assert!(Sigma::parse("abc").is_err());
    }
}
