//! Classical restoration baselines, so every learned model is shown beside them.

pub mod deconv;
pub mod inpaint;
pub mod noise;

pub use deconv::{richardson_lucy, wiener, wiener_mirrored};
pub use inpaint::harmonic_fill;
pub use noise::estimate_sigma;

use crate::pad::mirror;

/// Gaussian filter of standard deviation `sigma` pixels, truncated at 4 sigma, borders
/// reflected; as `scipy.ndimage.gaussian_filter(x, sigma, mode='reflect')`.
pub fn gaussian_filter(plane: &[f32], h: usize, w: usize, sigma: f64) -> Vec<f32> {
    let radius = (4.0 * sigma + 0.5) as usize;
    let k = crate::metrics::gaussian_kernel(sigma, radius);
    let r = radius as isize;
    let mut tmp = vec![0.0f32; h * w];
    for y in 0..h {
        for x in 0..w {
            let mut s = 0.0f64;
            for (t, kv) in k.iter().enumerate() {
                s += kv * plane[y * w + mirror(x as isize + t as isize - r, w)] as f64;
            }
            tmp[y * w + x] = s as f32;
        }
    }
    let mut out = vec![0.0f32; h * w];
    for y in 0..h {
        for x in 0..w {
            let mut s = 0.0f64;
            for (t, kv) in k.iter().enumerate() {
                s += kv * tmp[mirror(y as isize + t as isize - r, h) * w + x] as f64;
            }
            out[y * w + x] = s as f32;
        }
    }
    out
}

/// Median over a `size` x `size` window (odd size), borders reflected; as
/// `scipy.ndimage.median_filter(x, size, mode='reflect')`.
pub fn median_filter(plane: &[f32], h: usize, w: usize, size: usize) -> Vec<f32> {
    let r = (size / 2) as isize;
    let mut out = vec![0.0f32; h * w];
    let mut win = Vec::with_capacity(size * size);
    for y in 0..h {
        for x in 0..w {
            win.clear();
            for dy in -r..=r {
                let row = mirror(y as isize + dy, h) * w;
                for dx in -r..=r {
                    win.push(plane[row + mirror(x as isize + dx, w)]);
                }
            }
            let mid = win.len() / 2;
            let (_, m, _) = win.select_nth_unstable_by(mid, |a, b| a.total_cmp(b));
            out[y * w + x] = *m;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> Vec<f32> {
        (0..6 * 7)
            .map(|k| (((k / 7) * 5 + (k % 7) * 3) % 11) as f32 / 10.0)
            .collect()
    }

    const GOLD_G00: f64 = 0.2926570710416404;
    const GOLD_G23: f64 = 0.47327600811708004;
    const GOLD_G56: f64 = 0.7073429289583597;
    const GOLD_M00: f64 = 0.3;
    const GOLD_M23: f64 = 0.5;
    const GOLD_M56: f64 = 0.7;

    /// Golden values from scipy 1.17.1:
    /// ```python
    /// import numpy as np
    /// from scipy import ndimage
    /// i, j = np.mgrid[0:6, 0:7]
    /// x = ((i * 5 + j * 3) % 11) / 10.0
    /// g = ndimage.gaussian_filter(x, 1.0, mode='reflect')
    /// m = ndimage.median_filter(x, 3, mode='reflect')
    /// print(g[0, 0], g[2, 3], g[5, 6], m[0, 0], m[2, 3], m[5, 6])
    /// ```
    #[test]
    fn match_scipy() {
        let x = input();
        let g = gaussian_filter(&x, 6, 7, 1.0);
        let m = median_filter(&x, 6, 7, 3);
        let want_g = [GOLD_G00, GOLD_G23, GOLD_G56];
        let got_g = [g[0], g[2 * 7 + 3], g[5 * 7 + 6]];
        for (a, b) in got_g.iter().zip(want_g) {
            assert!((*a as f64 - b).abs() < 1e-6, "{a} vs {b}");
        }
        let want_m = [GOLD_M00, GOLD_M23, GOLD_M56];
        let got_m = [m[0], m[2 * 7 + 3], m[5 * 7 + 6]];
        for (a, b) in got_m.iter().zip(want_m) {
            assert!((*a as f64 - b).abs() < 1e-6, "{a} vs {b}");
        }
    }
}
