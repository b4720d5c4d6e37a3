//! Non-blind deconvolution baselines with the known kernel, written to give the numbers
//! scikit-image gives (`skimage.restoration.wiener` and `richardson_lucy`, `clip=False`).

use rustfft::FftPlanner;
use rustfft::num_complex::Complex;

use crate::corrupt::blur::Kernel;

/// In-place 2-D FFT of an `h` x `w` row-major complex array (unnormalised both ways).
fn fft2(data: &mut [Complex<f64>], h: usize, w: usize, inverse: bool) {
    let mut planner = FftPlanner::new();
    let (row, col) = if inverse {
        (planner.plan_fft_inverse(w), planner.plan_fft_inverse(h))
    } else {
        (planner.plan_fft_forward(w), planner.plan_fft_forward(h))
    };
    for r in data.chunks_mut(w) {
        row.process(r);
    }
    let mut column = vec![Complex::new(0.0, 0.0); h];
    for x in 0..w {
        for y in 0..h {
            column[y] = data[y * w + x];
        }
        col.process(&mut column);
        for y in 0..h {
            data[y * w + x] = column[y];
        }
    }
}

/// Transfer function of a small impulse response (side `k`) for an `h` x `w` image: the
/// response zero-padded at the top-left and rolled so its centre sits at the origin, as
/// skimage's `uft.ir2tf`.
fn transfer(ir: &[f64], k: usize, h: usize, w: usize) -> Vec<Complex<f64>> {
    let mut t = vec![Complex::new(0.0, 0.0); h * w];
    let c = (k / 2) as isize;
    for ky in 0..k {
        for kx in 0..k {
            let y = (ky as isize - c).rem_euclid(h as isize) as usize;
            let x = (kx as isize - c).rem_euclid(w as isize) as usize;
            t[y * w + x] += Complex::new(ir[ky * k + kx], 0.0);
        }
    }
    fft2(&mut t, h, w, false);
    t
}

/// Wiener-Hunt deconvolution with a Laplacian regulariser:
/// `X = conj(H) Y / (|H|^2 + balance |L|^2)`, circular boundaries.
pub fn wiener(plane: &[f32], h: usize, w: usize, psf: &Kernel, balance: f64) -> Vec<f32> {
    let ir: Vec<f64> = psf.data.iter().map(|&v| v as f64).collect();
    let hf = transfer(&ir, psf.size, h, w);
    let lap = [0.0, -1.0, 0.0, -1.0, 4.0, -1.0, 0.0, -1.0, 0.0];
    let lf = transfer(&lap, 3, h, w);
    let mut y: Vec<Complex<f64>> = plane.iter().map(|&v| Complex::new(v as f64, 0.0)).collect();
    fft2(&mut y, h, w, false);
    for ((v, hv), lv) in y.iter_mut().zip(&hf).zip(&lf) {
        *v = hv.conj() * *v / (hv.norm_sqr() + balance * lv.norm_sqr());
    }
    fft2(&mut y, h, w, true);
    let n = (h * w) as f64;
    y.iter().map(|v| (v.re / n) as f32).collect()
}

/// [`wiener`] on `plane` extended by the kernel's side in mirrored pixels, cropped back: no
/// false edges at the border from the FFT's wrap-around. Not clamped.
pub fn wiener_mirrored(plane: &[f32], h: usize, w: usize, psf: &Kernel, balance: f64) -> Vec<f32> {
    let r = psf.size;
    let padded = crate::pad::mirror_pad(plane, h, w, r);
    crate::pad::crop(
        &wiener(&padded, h + 2 * r, w + 2 * r, psf, balance),
        h,
        w,
        r,
    )
}

/// `scipy.signal.convolve(x, k, mode='same')`: zero outside the image, odd kernels.
fn convolve_same(x: &[f64], h: usize, w: usize, k: &[f64], ks: usize) -> Vec<f64> {
    let r = (ks / 2) as isize;
    let mut out = vec![0.0f64; h * w];
    for y in 0..h as isize {
        for ky in 0..ks as isize {
            let sy = y + r - ky;
            if sy < 0 || sy >= h as isize {
                continue;
            }
            let src = &x[sy as usize * w..(sy as usize + 1) * w];
            let dst = &mut out[y as usize * w..(y as usize + 1) * w];
            for kx in 0..ks as isize {
                let kv = k[(ky * ks as isize + kx) as usize];
                if kv == 0.0 {
                    continue;
                }
                // out[x] += kv * src[x + r - kx] for the x where that index is inside.
                let shift = r - kx;
                let (lo, hi) = ((-shift).max(0), (w as isize - shift).min(w as isize));
                for xx in lo..hi {
                    dst[xx as usize] += kv * src[(xx + shift) as usize];
                }
            }
        }
    }
    out
}

/// Richardson-Lucy deconvolution from a flat 0.5 start; calls `each` with the estimate
/// after every iteration (1-based), so one run serves several iteration counts.
pub fn richardson_lucy(
    plane: &[f32],
    h: usize,
    w: usize,
    psf: &Kernel,
    iterations: usize,
    mut each: impl FnMut(usize, &[f32]),
) {
    let k: Vec<f64> = psf.data.iter().map(|&v| v as f64).collect();
    let flipped: Vec<f64> = k.iter().rev().copied().collect();
    let img: Vec<f64> = plane.iter().map(|&v| v as f64).collect();
    let mut est = vec![0.5f64; h * w];
    for it in 1..=iterations {
        let conv = convolve_same(&est, h, w, &k, psf.size);
        let rel: Vec<f64> = img.iter().zip(conv).map(|(i, c)| i / (c + 1e-12)).collect();
        let corr = convolve_same(&rel, h, w, &flipped, psf.size);
        for (e, c) in est.iter_mut().zip(corr) {
            *e *= c;
        }
        let out: Vec<f32> = est.iter().map(|&v| v as f32).collect();
        each(it, &out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> (Vec<f32>, Kernel) {
        let x: Vec<f32> = (0..12 * 10)
            .map(|i| 0.5 + 0.4 * (0.3 * i as f32).sin() * (0.11 * i as f32).cos())
            .collect();
        let mut k: Vec<f32> = (0..25).map(|i| 1.0 + ((i * 7) % 5) as f32).collect();
        let s: f32 = k.iter().sum();
        k.iter_mut().for_each(|v| *v /= s);
        (x, Kernel { size: 5, data: k })
    }

    // Golden values from scikit-image 0.26.0 (float64):
    // ```python
    // x = np.array([0.5 + 0.4*np.sin(0.3*i)*np.cos(0.11*i) for i in range(120)]).reshape(12, 10)
    // k = np.array([1.0 + (i*7) % 5 for i in range(25)]).reshape(5, 5); k /= k.sum()
    // wi = skimage.restoration.wiener(x, k, 0.05, clip=False)
    // rl = skimage.restoration.richardson_lucy(x, k, num_iter=10, clip=False)
    // wi[0, :4], wi[7, 3:6], rl[0, :4], rl[7, 3:6]
    // ```
    const WIENER_ROW0: [f64; 4] = [0.62541380, 0.67731986, 0.67411710, 0.63795822];
    const WIENER_ROW7: [f64; 3] = [0.39205292, 0.38320350, 0.37485309];
    const RL_ROW0: [f64; 4] = [0.01699439, 0.06171944, 0.04364185, 0.01897624];
    const RL_ROW7: [f64; 3] = [0.23785575, 0.18206511, 0.14585010];

    fn close(got: &[f32], want: &[f64]) {
        for (g, w) in got.iter().zip(want) {
            assert!((*g as f64 - w).abs() < 1e-5, "{got:?} vs {want:?}");
        }
    }

    #[test]
    fn wiener_matches_scikit_image() {
        let (x, k) = inputs();
        let y = wiener(&x, 12, 10, &k, 0.05);
        close(&y[..4], &WIENER_ROW0);
        close(&y[7 * 10 + 3..7 * 10 + 6], &WIENER_ROW7);
    }

    #[test]
    fn richardson_lucy_matches_scikit_image() {
        let (x, k) = inputs();
        let mut last = Vec::new();
        let mut seen = 0;
        richardson_lucy(&x, 12, 10, &k, 10, |it, est| {
            seen = it;
            last = est.to_vec();
        });
        assert_eq!(seen, 10);
        close(&last[..4], &RL_ROW0);
        close(&last[7 * 10 + 3..7 * 10 + 6], &RL_ROW7);
    }
}
