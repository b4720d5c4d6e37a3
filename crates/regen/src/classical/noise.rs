//! Estimating the level of white Gaussian noise from the noisy image alone, so that a
//! denoiser with a noise level map still works blind.
//!
//! The method is the patch-PCA estimator of Chen, Zhu and Heng ("An Efficient Statistical
//! Method for Image Noise Level Estimation", ICCV 2015), run on weak-texture patches as
//! Liu, Tanaka and Okutomi do ("Single-Image Noise Level Estimation for Blind Denoising",
//! TIP 2013). Natural image patches lie close to a low-dimensional subspace, so the
//! covariance of 7x7 patches (all colour channels together) has a few large eigenvalues
//! carrying the picture and many small ones that are the noise variance alone. Those noise
//! eigenvalues are spread symmetrically around sigma^2, so their mean equals their median;
//! picture eigenvalues pull the mean above the median. The estimate drops the largest
//! eigenvalues one by one until the rest are as often above their mean as below it, and
//! takes the square root of that mean.
//!
//! Fine texture (a striped shirt, grass) also reaches into the small eigenvalues and makes
//! low noise look higher, so the estimate is refined on the patches that look like noise
//! alone at the current estimate: those whose sum of squared neighbour differences is
//! below what 99% of pure-noise patches of that sigma stay under (found by simulating
//! noise, not from a formula). Patches whose mean lies within 2.5 sigma of black or white
//! are left out as well, since clipping there has taken some of the noise away.
//!
//! Colour images are estimated channel by channel and the three averaged: one estimate
//! over 3x7x7 patches was tried and found far worse (on Kodak24 at sigma 50 it gave
//! 27.6 where each channel alone gave 48.5-49.2), as clipping in one channel makes the
//! noise of the joint patches unequal across their dimensions.

use crate::rng::Rng;

/// Patch side of the estimator.
const PATCH: usize = 7;
/// Most patch values used (patches times values per patch): a regular grid of patches, so
/// big photos cost no more than small ones.
const MAX_VALUES: usize = 3_000_000;
/// Refinement rounds on weak-texture patches.
const ROUNDS: usize = 4;
/// Fewest patches a refinement round may use; with fewer it keeps the estimate it has.
const MIN_PATCHES: usize = 300;

/// The sigma (0-255 scale) of white Gaussian noise in an image given as its colour planes
/// (each `h` x `w`, values in [0, 1]); 0 for an image smaller than one patch.
pub fn estimate_sigma(planes: &[&[f32]], h: usize, w: usize) -> f32 {
    let each = planes.iter().map(|p| estimate_plane(p, h, w));
    each.sum::<f32>() / planes.len().max(1) as f32
}

/// The noise sigma (0-255) of one plane.
fn estimate_plane(plane: &[f32], h: usize, w: usize) -> f32 {
    if h < PATCH || w < PATCH {
        return 0.0;
    }
    let (ny, nx) = (h - PATCH + 1, w - PATCH + 1);
    let d = PATCH * PATCH;
    let most = (MAX_VALUES / d).max(1);
    let stride = (((ny * nx) as f64 / most as f64).sqrt().ceil() as usize).max(1);
    let mut values: Vec<f32> = Vec::new();
    let (mut texture, mut means, mut unsaturated) = (Vec::new(), Vec::new(), Vec::new());
    for y in (0..ny).step_by(stride) {
        for x in (0..nx).step_by(stride) {
            let start = values.len();
            for dy in 0..PATCH {
                values.extend_from_slice(&plane[(y + dy) * w + x..][..PATCH]);
            }
            let patch = &values[start..];
            texture.push(roughness(patch));
            means.push(patch.iter().map(|&v| v as f64).sum::<f64>() / d as f64);
            unsaturated.push(patch.iter().all(|&v| v > 0.0 && v < 1.0));
        }
    }
    let all: Vec<usize> = (0..texture.len()).collect();
    // A first estimate from the patches with no pixel at black or white: a bright sky
    // clipped by the noise looks like a flat area with weak noise, and would otherwise
    // pull the estimate, and with it the refinement, far too low.
    let mut first: Vec<usize> = all.iter().copied().filter(|&i| unsaturated[i]).collect();
    if first.len() < MIN_PATCHES {
        first = all.clone();
    }
    let mut var = pca_noise_variance(&values, d, &first);
    let q99 = pure_noise_roughness_q99();
    for _ in 0..ROUNDS {
        let limit = q99 * var;
        let margin = 2.5 * var.sqrt();
        let weak = |i: &usize| texture[*i] < limit;
        let unclipped = |i: &usize| means[*i] > margin && means[*i] < 1.0 - margin;
        let mut pick: Vec<usize> = all
            .iter()
            .copied()
            .filter(|i| weak(i) && unclipped(i))
            .collect();
        if pick.len() < MIN_PATCHES {
            pick = first.iter().copied().filter(weak).collect();
        }
        if pick.len() < MIN_PATCHES {
            break;
        }
        let next = pca_noise_variance(&values, d, &pick);
        let done = (next - var).abs() <= 1e-4 * var;
        var = next;
        if done {
            break;
        }
    }
    (var.max(0.0).sqrt() * 255.0) as f32
}

/// Sum of squared differences between horizontal and vertical neighbours in a 7x7 patch.
fn roughness(patch: &[f32]) -> f64 {
    let mut s = 0.0f64;
    for y in 0..PATCH {
        for x in 0..PATCH {
            let v = patch[y * PATCH + x] as f64;
            if x + 1 < PATCH {
                s += (patch[y * PATCH + x + 1] as f64 - v).powi(2);
            }
            if y + 1 < PATCH {
                s += (patch[(y + 1) * PATCH + x] as f64 - v).powi(2);
            }
        }
    }
    s
}

/// The 99th percentile of [`roughness`] for patches of pure unit-variance noise, from
/// 5,000 simulated patches (seeded, so always the same).
fn pure_noise_roughness_q99() -> f64 {
    static Q99: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *Q99.get_or_init(|| {
        let mut rng = Rng::new(0x0051_610a);
        let mut patch = [0.0f32; PATCH * PATCH];
        let mut r: Vec<f64> = (0..5000)
            .map(|_| {
                patch.iter_mut().for_each(|v| *v = rng.normal() as f32);
                roughness(&patch)
            })
            .collect();
        r.sort_by(f64::total_cmp);
        r[r.len() * 99 / 100]
    })
}

/// The noise variance of the patches `pick` (each `d` values in `values`): the covariance's
/// eigenvalues, reduced by [`noise_variance`].
fn pca_noise_variance(values: &[f32], d: usize, pick: &[usize]) -> f64 {
    // Covariance in f64: tens of thousands of patches of values near 1 lose f32's digits.
    let mut sum = vec![0.0f64; d];
    let mut cov = vec![0.0f64; d * d];
    let mut v = vec![0.0f64; d];
    for &p in pick {
        for (a, &b) in v.iter_mut().zip(&values[p * d..(p + 1) * d]) {
            *a = b as f64;
        }
        for i in 0..d {
            sum[i] += v[i];
            let vi = v[i];
            for (c, &vj) in cov[i * d..i * d + i + 1].iter_mut().zip(&v[..=i]) {
                *c += vi * vj;
            }
        }
    }
    let n = pick.len() as f64;
    for i in 0..d {
        for j in 0..=i {
            let c = cov[i * d + j] / n - sum[i] * sum[j] / (n * n);
            cov[i * d + j] = c;
            cov[j * d + i] = c;
        }
    }
    let (mut eig, _) = crate::metrics::symmetric_eigen(&cov, d);
    eig.sort_by(f64::total_cmp);
    noise_variance(&eig)
}

/// The noise variance among ascending eigenvalues: the mean of the smallest k, for the
/// largest k at which as many of them lie above that mean as below it.
fn noise_variance(ascending: &[f64]) -> f64 {
    for k in (1..=ascending.len()).rev() {
        let part = &ascending[..k];
        let mean = part.iter().sum::<f64>() / k as f64;
        let above = part.iter().filter(|&&l| l > mean).count();
        let below = part.iter().filter(|&&l| l < mean).count();
        if above >= below {
            return mean;
        }
    }
    ascending.first().copied().unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// A smooth picture (gradients and a few soft shapes) with noise of known sigma, not
    /// clipped: the estimate is within 5% from sigma 5 to 50, gray and colour.
    #[test]
    fn finds_the_sigma_of_added_noise() {
        let (h, w) = (160, 200);
        let base = |c: usize, y: usize, x: usize| {
            let (fy, fx) = (y as f32 / h as f32, x as f32 / w as f32);
            let blob = (-((fx - 0.4).powi(2) + (fy - 0.5).powi(2)) * 20.0).exp();
            0.2 + 0.3 * fx + 0.2 * fy * (c as f32 + 1.0) / 3.0 + 0.3 * blob
        };
        for channels in [1usize, 3] {
            for sigma in [5.0f32, 15.0, 25.0, 50.0] {
                let mut rng = Rng::new(sigma as u64);
                let planes: Vec<Vec<f32>> = (0..channels)
                    .map(|c| {
                        (0..h * w)
                            .map(|i| base(c, i / w, i % w) + sigma / 255.0 * rng.normal() as f32)
                            .collect()
                    })
                    .collect();
                let refs: Vec<&[f32]> = planes.iter().map(Vec::as_slice).collect();
                let est = estimate_sigma(&refs, h, w);
                assert!(
                    (est - sigma).abs() < 0.05 * sigma,
                    "{channels} channels, sigma {sigma}: estimated {est}"
                );
            }
        }
        assert_eq!(estimate_sigma(&[&[0.5; 30]], 5, 6), 0.0);
    }
}
