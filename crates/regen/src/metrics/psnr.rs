//! Peak signal-to-noise ratio.

/// PSNR in dB between two same-size planes with values in [0, 1] (data range 1).
/// Identical inputs give infinity.
pub fn psnr(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len(), "psnr: sizes differ");
    let mse = a
        .iter()
        .zip(b)
        .map(|(x, y)| (*x as f64 - *y as f64).powi(2))
        .sum::<f64>()
        / a.len() as f64;
    10.0 * (1.0 / mse).log10()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Golden value from scikit-image 0.26.0:
    /// ```python
    /// import numpy as np
    /// from skimage.metrics import peak_signal_noise_ratio
    /// h, w = 24, 20
    /// i, j = np.mgrid[0:h, 0:w]
    /// a = ((i * 7 + j * 13) % 31) / 30.0
    /// b = np.clip(a + ((i * j) % 5 - 2) / 50.0, 0, 1)
    /// peak_signal_noise_ratio(a, b, data_range=1.0)  # 30.31430581663419
    /// ```
    #[test]
    fn matches_scikit_image() {
        let (a, b) = super::super::ssim::tests::golden_pair();
        let p = psnr(&a, &b);
        // f32 storage of the inputs limits agreement to ~1e-5 dB.
        assert!((p - 30.31430581663419).abs() < 1e-4, "{p}");
    }
}
