//! The damage real photos carry, as Real-ESRGAN's second-order degradation model makes it
//! (Wang et al. 2021, "Real-ESRGAN: Training Real-World Blind Super-Resolution with Pure
//! Synthetic Data", section 3 and its training options): twice over, a blur (isotropic or
//! anisotropic Gaussian, generalised Gaussian or plateau kernel, 7 to 21 pixels), a random
//! resize (area, bilinear or bicubic), Gaussian or Poisson noise (colour or gray) and JPEG
//! compression; then the resize to the target size and a last JPEG, in either order. The
//! numbers are Real-ESRGAN's x4 settings. A pure function of image, scale and seed.

use std::io::Cursor;

use super::resize::{Kernel, resize_xy};
use crate::data::Image;
use crate::rng::Rng;

/// The settings of one of the two degradation rounds.
struct Round {
    /// Probability of blurring at all.
    blur_prob: f64,
    /// Range of the Gaussian sigmas (pixels).
    sigma: (f64, f64),
    /// Probabilities of enlarging, shrinking, keeping.
    updown: [f64; 3],
    /// Range of the resize factor.
    resize: (f64, f64),
    /// Range of the Gaussian noise sigma (0-255).
    noise: (f64, f64),
    /// Range of the Poisson noise scale.
    poisson: (f64, f64),
}

const FIRST: Round = Round {
    blur_prob: 1.0,
    sigma: (0.2, 3.0),
    updown: [0.2, 0.7, 0.1],
    resize: (0.15, 1.5),
    noise: (1.0, 30.0),
    poisson: (0.05, 3.0),
};

const SECOND: Round = Round {
    blur_prob: 0.8,
    sigma: (0.2, 1.5),
    updown: [0.3, 0.4, 0.3],
    resize: (0.3, 1.2),
    noise: (1.0, 25.0),
    poisson: (0.05, 2.5),
};

/// Probability that noise is Gaussian (else Poisson), and that it is the same in every
/// channel (gray noise).
const GAUSSIAN_PROB: f64 = 0.5;
const GRAY_NOISE_PROB: f64 = 0.4;
/// JPEG quality range.
const JPEG: (f64, f64) = (30.0, 95.0);

/// Planes being degraded: `c` planes of `h` x `w`.
struct Planes {
    data: Vec<Vec<f32>>,
    h: usize,
    w: usize,
}

/// `image`'s colour planes degraded as a real photo's and made `scale` times smaller
/// (`ceil(h / scale)` x `ceil(w / scale)`); alpha shrunk by bicubic interpolation. Values
/// clipped to [0, 1].
pub fn degrade(image: &Image, scale: usize, seed: u64) -> Image {
    let mut rng = Rng::new(seed);
    let (h, w) = (image.height, image.width);
    let cc = image.color_channels();
    let mut p = Planes {
        data: (0..cc).map(|c| image.plane(c).to_vec()).collect(),
        h,
        w,
    };
    for round in [&FIRST, &SECOND] {
        if rng.uniform() < round.blur_prob {
            let k = random_kernel(&mut rng, round.sigma);
            p.data = p.data.iter().map(|q| convolve(q, p.h, p.w, &k)).collect();
        }
        let f = match pick(&mut rng, &round.updown) {
            0 => uniform(&mut rng, 1.0, round.resize.1),
            1 => uniform(&mut rng, round.resize.0, 1.0),
            _ => 1.0,
        };
        let (nh, nw) = (
            ((p.h as f64 * f).round() as usize).max(1),
            ((p.w as f64 * f).round() as usize).max(1),
        );
        resize_to(&mut p, nh, nw, random_mode(&mut rng));
        add_noise(&mut p, &mut rng, round);
        // The first round's JPEG; the second's comes with the final resize.
        if std::ptr::eq(round, &FIRST) {
            jpeg(&mut p, uniform(&mut rng, JPEG.0, JPEG.1) as u8);
        }
    }
    let (th, tw) = (h.div_ceil(scale), w.div_ceil(scale));
    let mode = random_mode(&mut rng);
    let q = uniform(&mut rng, JPEG.0, JPEG.1) as u8;
    if rng.uniform() < 0.5 {
        resize_to(&mut p, th, tw, mode);
        jpeg(&mut p, q);
    } else {
        jpeg(&mut p, q);
        resize_to(&mut p, th, tw, mode);
    }
    let mut data: Vec<f32> = p.data.concat();
    for c in cc..image.channels {
        data.extend(super::resize::resize_plane(
            image.plane(c),
            h,
            w,
            th,
            tw,
            1.0 / scale as f64,
            Kernel::Cubic,
        ));
    }
    data.iter_mut().for_each(|v| *v = v.clamp(0.0, 1.0));
    Image {
        channels: image.channels,
        height: th,
        width: tw,
        data,
        sixteen_bit: false,
        meta: image.meta.clone(),
    }
}

fn uniform(rng: &mut Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.uniform()
}

/// An index drawn with the given probabilities.
fn pick(rng: &mut Rng, probs: &[f64]) -> usize {
    let u = rng.uniform() * probs.iter().sum::<f64>();
    let mut acc = 0.0;
    for (i, p) in probs.iter().enumerate() {
        acc += p;
        if u < acc {
            return i;
        }
    }
    probs.len() - 1
}

/// Area, bilinear or bicubic, equally likely.
fn random_mode(rng: &mut Rng) -> Kernel {
    [Kernel::Box, Kernel::Linear, Kernel::Cubic][rng.below(3)]
}

fn resize_to(p: &mut Planes, nh: usize, nw: usize, kernel: Kernel) {
    if (nh, nw) == (p.h, p.w) {
        return;
    }
    p.data = p
        .data
        .iter()
        .map(|q| resize_xy(q, p.h, p.w, nh, nw, kernel))
        .collect();
    (p.h, p.w) = (nh, nw);
}

/// A square blur kernel of odd side 7 to 21: with probabilities 0.45, 0.25, 0.12, 0.03,
/// 0.12, 0.03 an isotropic or anisotropic Gaussian, generalised Gaussian
/// (`exp(-(x' S^-1 x)^beta / 2)`, beta 0.5-4) or plateau (`1 / (1 + (x' S^-1 x)^beta)`,
/// beta 1-2), sigmas in `sigma`, rotated by a random angle; normalised to sum 1.
pub fn random_kernel(rng: &mut Rng, sigma: (f64, f64)) -> (usize, Vec<f32>) {
    let size = 7 + 2 * rng.below(8);
    let family = pick(rng, &[0.45, 0.25, 0.12, 0.03, 0.12, 0.03]);
    let iso = family.is_multiple_of(2);
    let sx = uniform(rng, sigma.0, sigma.1);
    let sy = if iso {
        sx
    } else {
        uniform(rng, sigma.0, sigma.1)
    };
    let theta = if iso {
        0.0
    } else {
        uniform(rng, -std::f64::consts::PI, std::f64::consts::PI)
    };
    let beta = match family / 2 {
        1 => uniform(rng, 0.5, 4.0),
        2 => uniform(rng, 1.0, 2.0),
        _ => 1.0,
    };
    // The inverse of S = R diag(sx^2, sy^2) R^T.
    let (c, s) = (theta.cos(), theta.sin());
    let (a, b) = (1.0 / (sx * sx), 1.0 / (sy * sy));
    let (i00, i01, i11) = (
        c * c * a + s * s * b,
        c * s * (a - b),
        s * s * a + c * c * b,
    );
    let r = (size / 2) as f64;
    let mut k: Vec<f64> = (0..size * size)
        .map(|i| {
            let (y, x) = ((i / size) as f64 - r, (i % size) as f64 - r);
            let q = x * x * i00 + 2.0 * x * y * i01 + y * y * i11;
            match family / 2 {
                2 => 1.0 / (1.0 + q.powf(beta)),
                _ => (-0.5 * q.powf(beta)).exp(),
            }
        })
        .collect();
    let sum: f64 = k.iter().sum();
    k.iter_mut().for_each(|v| *v /= sum);
    (size, k.into_iter().map(|v| v as f32).collect())
}

/// `plane` convolved with the square kernel `(size, weights)`, mirror-padded (the
/// kernels are symmetric, so correlation is convolution).
fn convolve(plane: &[f32], h: usize, w: usize, (size, k): &(usize, Vec<f32>)) -> Vec<f32> {
    let r = size / 2;
    let pw = w + 2 * r;
    let padded = crate::pad::mirror_pad(plane, h, w, r);
    let mut out = vec![0.0f32; h * w];
    for (y, row) in out.chunks_mut(w).enumerate() {
        for ky in 0..*size {
            let src = &padded[(y + ky) * pw..(y + ky + 1) * pw];
            for kx in 0..*size {
                let wt = k[ky * size + kx];
                for (o, s) in row.iter_mut().zip(&src[kx..kx + w]) {
                    *o += wt * s;
                }
            }
        }
    }
    out
}

/// Gaussian (sigma in the round's range, 0-255 scale) or Poisson noise (scaled by the
/// round's range), the same in every channel with probability [`GRAY_NOISE_PROB`].
fn add_noise(p: &mut Planes, rng: &mut Rng, round: &Round) {
    let gray = rng.uniform() < GRAY_NOISE_PROB;
    let n = p.h * p.w;
    let channels = if gray { 1 } else { p.data.len() };
    let noise: Vec<Vec<f32>> = if rng.uniform() < GAUSSIAN_PROB {
        let s = (uniform(rng, round.noise.0, round.noise.1) / 255.0) as f32;
        (0..channels)
            .map(|_| (0..n).map(|_| s * rng.normal() as f32).collect())
            .collect()
    } else {
        let scale = uniform(rng, round.poisson.0, round.poisson.1) as f32;
        // Shot noise of an 8-bit image (255 photons at white), as Real-ESRGAN's, computed
        // on the luminance when it is gray.
        let base: Vec<Vec<f32>> = if gray && p.data.len() == 3 {
            vec![
                (0..n)
                    .map(|i| 0.299 * p.data[0][i] + 0.587 * p.data[1][i] + 0.114 * p.data[2][i])
                    .collect(),
            ]
        } else {
            p.data[..channels].to_vec()
        };
        base.iter()
            .map(|q| {
                q.iter()
                    .map(|&v| {
                        let v = v.clamp(0.0, 1.0) as f64;
                        let shot = rng.poisson(v * 255.0) / 255.0;
                        scale * (shot - v) as f32
                    })
                    .collect()
            })
            .collect()
    };
    for (c, q) in p.data.iter_mut().enumerate() {
        let nz = &noise[if gray { 0 } else { c }];
        for (v, d) in q.iter_mut().zip(nz) {
            *v = (*v + d).clamp(0.0, 1.0);
        }
    }
}

/// The planes through a JPEG of `quality`, with the image crate's encoder and decoder.
fn jpeg(p: &mut Planes, quality: u8) {
    let n = p.h * p.w;
    let c = p.data.len();
    let bytes: Vec<u8> = (0..n * c)
        .map(|k| crate::data::to_u8(p.data[k % c][k / c]))
        .collect();
    let color = if c == 3 {
        image::ExtendedColorType::Rgb8
    } else {
        image::ExtendedColorType::L8
    };
    let mut buf = Cursor::new(Vec::new());
    let encoded = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, quality)
        .encode(&bytes, p.w as u32, p.h as u32, color);
    let decoded = encoded.ok().and_then(|_| {
        image::load_from_memory_with_format(buf.get_ref(), image::ImageFormat::Jpeg).ok()
    });
    // Encoding pixels it was just given cannot fail; if it ever did, the round goes on
    // without its JPEG.
    let Some(img) = decoded else {
        return;
    };
    let raw: Vec<u8> = if c == 3 {
        img.to_rgb8().into_raw()
    } else {
        img.to_luma8().into_raw()
    };
    for (k, v) in raw.iter().enumerate() {
        p.data[k % c][k / c] = *v as f32 / 255.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn photo(h: usize, w: usize) -> Image {
        let data = (0..3 * h * w)
            .map(|i| {
                let (y, x) = ((i / w) % h, i % w);
                (0.5 + 0.3 * ((x as f32 * 0.2).sin() * (y as f32 * 0.13).cos())
                    + 0.1 * (((x / 8 + y / 8) % 2) as f32))
                    .clamp(0.0, 1.0)
            })
            .collect();
        Image {
            channels: 3,
            data,
            ..Image::zeros(0, h, w)
        }
    }

    #[test]
    fn kernels_are_normalised_symmetric_and_of_odd_side() {
        let mut rng = Rng::new(3);
        for _ in 0..200 {
            let (size, k) = random_kernel(&mut rng, (0.2, 3.0));
            assert!(size % 2 == 1 && (7..=21).contains(&size));
            let sum: f32 = k.iter().sum();
            assert!((sum - 1.0).abs() < 1e-4, "{sum}");
            assert!(k.iter().all(|v| v.is_finite() && *v >= 0.0));
            // Point symmetry: k(x) = k(-x).
            let n = k.len();
            for i in 0..n {
                assert!((k[i] - k[n - 1 - i]).abs() < 1e-6);
            }
        }
    }

    #[test]
    fn degradation_is_seeded_sized_and_damaging() {
        let img = photo(96, 80);
        let a = degrade(&img, 4, 7);
        assert_eq!((a.height, a.width, a.channels), (24, 20, 3));
        assert_eq!(a.data, degrade(&img, 4, 7).data);
        assert_ne!(a.data, degrade(&img, 4, 8).data);
        // Further from the clean image than plain bicubic shrinking, on average.
        let clean = super::super::resize::bicubic_down(&img, 4);
        let gap = |b: &Image| {
            b.data
                .iter()
                .zip(&clean.data)
                .map(|(x, y)| (x - y).abs())
                .sum::<f32>()
                / b.data.len() as f32
        };
        let mean: f32 = (0..8).map(|s| gap(&degrade(&img, 4, s))).sum::<f32>() / 8.0;
        assert!(mean > 0.02, "mean gap {mean}");
        assert!(a.data.iter().all(|v| (0.0..=1.0).contains(v)));
    }
}
