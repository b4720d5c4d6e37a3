//! Structural similarity (Wang, Bovik, Sheikh and Simoncelli 2004) with the paper's
//! settings: an 11x11 Gaussian window of sigma 1.5, K1 = 0.01, K2 = 0.03, data range 1.
//! It follows scikit-image's `structural_similarity(gaussian_weights=True, sigma=1.5,
//! use_sample_covariance=False)`: the mean of the SSIM map over pixels at least 5 from the
//! border, where the window lies wholly inside the image.

/// The normalised 1-D Gaussian of `sigma` truncated at `radius` (as scipy's
/// `gaussian_filter` builds it).
pub fn gaussian_kernel(sigma: f64, radius: usize) -> Vec<f64> {
    let k: Vec<f64> = (0..=2 * radius)
        .map(|i| {
            let x = i as f64 - radius as f64;
            (-0.5 * x * x / (sigma * sigma)).exp()
        })
        .collect();
    let s: f64 = k.iter().sum();
    k.into_iter().map(|v| v / s).collect()
}

/// Separable 'valid' filtering: output is (h - 2r) x (w - 2r).
fn filter_valid(x: &[f64], h: usize, w: usize, k: &[f64]) -> Vec<f64> {
    let r = k.len() / 2;
    let (oh, ow) = (h - 2 * r, w - 2 * r);
    let mut rows = vec![0.0; h * ow];
    for y in 0..h {
        for xo in 0..ow {
            let mut s = 0.0;
            for (t, kv) in k.iter().enumerate() {
                s += kv * x[y * w + xo + t];
            }
            rows[y * ow + xo] = s;
        }
    }
    let mut out = vec![0.0; oh * ow];
    for yo in 0..oh {
        for xo in 0..ow {
            let mut s = 0.0;
            for (t, kv) in k.iter().enumerate() {
                s += kv * rows[(yo + t) * ow + xo];
            }
            out[yo * ow + xo] = s;
        }
    }
    out
}

/// Mean SSIM of two `h` x `w` planes with values in [0, 1]. Needs both sides >= 11.
pub fn ssim(a: &[f32], b: &[f32], h: usize, w: usize) -> f64 {
    assert_eq!(a.len(), h * w);
    assert_eq!(b.len(), h * w);
    assert!(h >= 11 && w >= 11, "ssim needs images of at least 11x11");
    let k = gaussian_kernel(1.5, 5);
    let a: Vec<f64> = a.iter().map(|&v| v as f64).collect();
    let b: Vec<f64> = b.iter().map(|&v| v as f64).collect();
    let prod = |p: &[f64], q: &[f64]| p.iter().zip(q).map(|(x, y)| x * y).collect::<Vec<_>>();
    let mu_a = filter_valid(&a, h, w, &k);
    let mu_b = filter_valid(&b, h, w, &k);
    let aa = filter_valid(&prod(&a, &a), h, w, &k);
    let bb = filter_valid(&prod(&b, &b), h, w, &k);
    let ab = filter_valid(&prod(&a, &b), h, w, &k);
    let (c1, c2) = (0.01f64.powi(2), 0.03f64.powi(2));
    let mut total = 0.0;
    for i in 0..mu_a.len() {
        let (ma, mb) = (mu_a[i], mu_b[i]);
        let va = aa[i] - ma * ma;
        let vb = bb[i] - mb * mb;
        let cov = ab[i] - ma * mb;
        total +=
            ((2.0 * ma * mb + c1) * (2.0 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
    }
    total / mu_a.len() as f64
}

/// SSIM of two images of the same shape: the mean over their colour channels (alpha left
/// out), as published colour tables score RGB.
pub fn ssim_image(a: &crate::data::Image, b: &crate::data::Image) -> f64 {
    let cc = b.color_channels();
    (0..cc)
        .map(|k| ssim(a.plane(k), b.plane(k), b.height, b.width))
        .sum::<f64>()
        / cc as f64
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The pair of test images used by the golden tests (see the Python below).
    pub(crate) fn golden_pair() -> (Vec<f32>, Vec<f32>) {
        let (h, w) = (24, 20);
        let mut a = Vec::new();
        let mut b = Vec::new();
        for i in 0..h {
            for j in 0..w {
                let av = ((i * 7 + j * 13) % 31) as f64 / 30.0;
                let bv = (av + (((i * j) % 5) as f64 - 2.0) / 50.0).clamp(0.0, 1.0);
                a.push(av as f32);
                b.push(bv as f32);
            }
        }
        (a, b)
    }

    /// Golden value from scikit-image 0.26.0:
    /// ```python
    /// import numpy as np
    /// from skimage.metrics import structural_similarity
    /// h, w = 24, 20
    /// i, j = np.mgrid[0:h, 0:w]
    /// a = ((i * 7 + j * 13) % 31) / 30.0
    /// b = np.clip(a + ((i * j) % 5 - 2) / 50.0, 0, 1)
    /// structural_similarity(a, b, data_range=1.0, gaussian_weights=True, sigma=1.5,
    ///                       use_sample_covariance=False)  # 0.9951246138993107
    /// ```
    #[test]
    fn matches_scikit_image() {
        let (a, b) = golden_pair();
        let s = ssim(&a, &b, 24, 20);
        // Inputs are stored as f32 (relative error ~6e-8); 1e-6 leaves room for that.
        assert!((s - 0.9951246138993107).abs() < 1e-6, "{s}");
    }

    #[test]
    fn identical_images_score_one() {
        let (a, _) = golden_pair();
        assert!((ssim(&a, &a, 24, 20) - 1.0).abs() < 1e-12);
    }
}
