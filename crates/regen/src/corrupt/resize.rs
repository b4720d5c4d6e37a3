//! Resampling as MATLAB's `imresize` does it, which is how the super-resolution literature
//! makes its low-resolution inputs (Set5 and Set14 tables are all on `imresize(hr, 1/s,
//! 'bicubic')`): separable, rows first then columns, each output pixel a weighted sum of
//! the input pixels under a kernel centred at `u = x / scale + (1 - 1 / scale) / 2` (1-based
//! coordinates, so pixel edges line up), the kernel stretched by `1 / scale` when shrinking
//! (antialiasing), weights normalised to sum to 1, and the image mirrored at its edges
//! (`[1..n, n..1]`: the edge pixel repeated). The same machinery gives the bicubic and
//! Lanczos upscaling baselines and the random resizes of the realistic damage.

use serde::{Deserialize, Serialize};

use crate::data::Image;

/// An interpolation kernel, MATLAB's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kernel {
    /// Keys' cubic convolution with a = -0.5 (MATLAB's `bicubic`).
    Cubic,
    /// `sinc(x) sinc(x / 3)` on |x| < 3 (MATLAB's `lanczos3`).
    Lanczos3,
    /// The triangle (MATLAB's `bilinear`).
    Linear,
    /// The box (MATLAB's `box`; antialiased shrinking by it averages areas).
    Box,
}

impl Kernel {
    /// The kernel's value at `x` (input pixels from the centre).
    fn at(self, x: f64) -> f64 {
        let a = x.abs();
        match self {
            Kernel::Cubic => {
                if a <= 1.0 {
                    (1.5 * a - 2.5) * a * a + 1.0
                } else if a <= 2.0 {
                    ((-0.5 * a + 2.5) * a - 4.0) * a + 2.0
                } else {
                    0.0
                }
            }
            Kernel::Lanczos3 => {
                if a < 1e-12 {
                    1.0
                } else if a < 3.0 {
                    let p = std::f64::consts::PI * a;
                    3.0 * p.sin() * (p / 3.0).sin() / (p * p)
                } else {
                    0.0
                }
            }
            Kernel::Linear => (1.0 - a).max(0.0),
            // MATLAB's box is [-0.5, 0.5): half-open, so a pixel edge belongs to one side.
            Kernel::Box => f64::from(u8::from((-0.5..0.5).contains(&x))),
        }
    }

    /// The kernel's support width in input pixels at scale 1.
    fn width(self) -> f64 {
        match self {
            Kernel::Cubic => 4.0,
            Kernel::Lanczos3 => 6.0,
            Kernel::Linear => 2.0,
            Kernel::Box => 1.0,
        }
    }
}

/// For each output position along one axis, the input positions it reads and their
/// weights: `taps` of each, row-major by output position.
struct Taps {
    taps: usize,
    index: Vec<usize>,
    weight: Vec<f32>,
}

/// The taps of resizing `n` samples to `out` at `scale` (out / in, as the caller asked:
/// MATLAB keeps the asked scale even when `out` is rounded).
fn taps(n: usize, out: usize, scale: f64, kernel: Kernel) -> Taps {
    let shrink = scale < 1.0;
    let width = if shrink {
        kernel.width() / scale
    } else {
        kernel.width()
    };
    let taps = width.ceil() as usize + 2;
    let period = 2 * n as i64;
    let mut index = Vec::with_capacity(out * taps);
    let mut weight = Vec::with_capacity(out * taps);
    let mut w = vec![0.0f64; taps];
    for x in 1..=out {
        let u = x as f64 / scale + 0.5 * (1.0 - 1.0 / scale);
        let left = (u - width / 2.0).floor() as i64;
        for (k, wk) in w.iter_mut().enumerate() {
            let d = u - (left + k as i64) as f64;
            *wk = if shrink {
                scale * kernel.at(d * scale)
            } else {
                kernel.at(d)
            };
        }
        let sum: f64 = w.iter().sum();
        for (k, wk) in w.iter().enumerate() {
            // 1-based index `left + k`, mirrored into [1, n] then made 0-based.
            let m = (left + k as i64 - 1).rem_euclid(period);
            let i = if m < n as i64 { m } else { period - 1 - m };
            index.push(i as usize);
            weight.push((wk / sum) as f32);
        }
    }
    Taps {
        taps,
        index,
        weight,
    }
}

/// Resizes one `h` x `w` plane to `out_h` x `out_w`, at `scale` on both axes (out / in as
/// asked): rows first, then columns, as MATLAB orders equal scales.
pub fn resize_plane(
    src: &[f32],
    h: usize,
    w: usize,
    out_h: usize,
    out_w: usize,
    scale: f64,
    kernel: Kernel,
) -> Vec<f32> {
    resize_rows(src, h, w, (out_h, out_w), scale, kernel, 0..out_h)
}

/// One `h` x `w` plane resized to exactly `out_h` x `out_w`, each axis at its own scale
/// (`out / in`): the random resizes of the realistic damage.
pub fn resize_xy(
    src: &[f32],
    h: usize,
    w: usize,
    out_h: usize,
    out_w: usize,
    kernel: Kernel,
) -> Vec<f32> {
    let (sh, sw) = (out_h as f64 / h as f64, out_w as f64 / w as f64);
    separable(src, (h, w), (out_h, out_w), (sh, sw), kernel, 0..out_h)
}

/// The output rows `rows` of [`resize_plane`] alone (`rows.len()` x `out_w`), for writing
/// a large result band by band.
pub fn resize_rows(
    src: &[f32],
    h: usize,
    w: usize,
    (out_h, out_w): (usize, usize),
    scale: f64,
    kernel: Kernel,
    rows: std::ops::Range<usize>,
) -> Vec<f32> {
    separable(src, (h, w), (out_h, out_w), (scale, scale), kernel, rows)
}

/// Rows `rows` of `src` resized to `out_h` x `out_w` at `(scale_h, scale_w)`: rows first,
/// then columns.
fn separable(
    src: &[f32],
    (h, w): (usize, usize),
    (out_h, out_w): (usize, usize),
    (scale_h, scale_w): (f64, f64),
    kernel: Kernel,
    rows: std::ops::Range<usize>,
) -> Vec<f32> {
    debug_assert_eq!(src.len(), h * w);
    let th = taps(h, out_h, scale_h, kernel);
    let tw = taps(w, out_w, scale_w, kernel);
    let mut mid = vec![0.0f32; w];
    let mut out = vec![0.0f32; rows.len() * out_w];
    for (y, row) in rows.zip(out.chunks_mut(out_w)) {
        mid.iter_mut().for_each(|v| *v = 0.0);
        let t = y * th.taps;
        for (&i, &wt) in th.index[t..t + th.taps]
            .iter()
            .zip(&th.weight[t..t + th.taps])
        {
            if wt != 0.0 {
                for (o, s) in mid.iter_mut().zip(&src[i * w..(i + 1) * w]) {
                    *o += wt * s;
                }
            }
        }
        for (x, o) in row.iter_mut().enumerate() {
            let t = x * tw.taps;
            *o = tw.index[t..t + tw.taps]
                .iter()
                .zip(&tw.weight[t..t + tw.taps])
                .map(|(&i, &wt)| wt * mid[i])
                .sum();
        }
    }
    out
}

/// The side MATLAB gives an axis of `n` pixels resized by `scale`: `ceil(n scale)`, the
/// product taken so that 1/3 of 9 is 3, not 4.
pub fn scaled_len(n: usize, scale: f64) -> usize {
    let v = n as f64 * scale;
    // 9 * (1/3) is 3.0000000000000004 in floating point; MATLAB's answer is 3.
    let r = v.round();
    if (v - r).abs() < 1e-9 {
        r as usize
    } else {
        v.ceil() as usize
    }
    .max(1)
}

/// Every plane of `image` (alpha too) resized by `scale` with `kernel`, not clipped.
pub fn resize(image: &Image, scale: f64, kernel: Kernel) -> Image {
    let (h, w) = (image.height, image.width);
    let (oh, ow) = (scaled_len(h, scale), scaled_len(w, scale));
    let data = (0..image.channels)
        .flat_map(|c| resize_plane(image.plane(c), h, w, oh, ow, scale, kernel))
        .collect();
    Image {
        channels: image.channels,
        height: oh,
        width: ow,
        data,
        sixteen_bit: image.sixteen_bit,
        meta: image.meta.clone(),
    }
}

/// `image` shrunk by an integer factor as the super-resolution benchmarks are made: MATLAB's
/// antialiased bicubic `imresize(image, 1/s)`, clipped to [0, 1].
pub fn bicubic_down(image: &Image, s: usize) -> Image {
    let mut out = resize(image, 1.0 / s as f64, Kernel::Cubic);
    out.data.iter_mut().for_each(|v| *v = v.clamp(0.0, 1.0));
    out
}

/// `image` enlarged by an integer factor with `kernel` (the classical upscalers), clipped
/// to [0, 1].
pub fn upscale(image: &Image, s: usize, kernel: Kernel) -> Image {
    let mut out = resize(image, s as f64, kernel);
    out.data.iter_mut().for_each(|v| *v = v.clamp(0.0, 1.0));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sides_follow_matlab() {
        assert_eq!(scaled_len(9, 1.0 / 3.0), 3);
        assert_eq!(scaled_len(10, 1.0 / 3.0), 4);
        assert_eq!(scaled_len(10, 0.5), 5);
        assert_eq!(scaled_len(7, 4.0), 28);
    }

    #[test]
    fn every_kernel_keeps_a_flat_plane_flat() {
        for k in [Kernel::Cubic, Kernel::Lanczos3, Kernel::Linear, Kernel::Box] {
            for scale in [0.25, 1.0 / 3.0, 0.5, 0.7, 2.0, 3.0] {
                let (oh, ow) = (scaled_len(13, scale), scaled_len(11, scale));
                let out = resize_plane(&[0.4; 13 * 11], 13, 11, oh, ow, scale, k);
                assert!(
                    out.iter().all(|v| (v - 0.4).abs() < 1e-6),
                    "{k:?} at {scale}"
                );
            }
        }
    }
}
