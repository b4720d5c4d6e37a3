//! Convolution kernels on plain `f32` slices in NCHW order, independent of burn. Each
//! operation picks its kernel from the layer's shape: Winograd F(4x4, 3x3) for 3x3 stride-1
//! convolutions, matrix products over unfolded images ([`super::im2col`]) for the rest.
//! A transposed convolution is the input gradient of the convolution it transposes, so the
//! same three routines serve both.

use std::sync::OnceLock;

use rayon::prelude::*;

use super::gemm::{Isa, Simd, simd};
use super::geom::zeros;
pub use super::geom::{Act, Geom};
use super::{direct, im2col, thin, winograd};

/// Which kernel computes a 3x3 stride-1 convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// Winograd F(4x4, 3x3) where the shape allows it, matrix products elsewhere.
    Auto,
    /// Matrix products over unfolded images for every shape (the alternative Winograd and
    /// the direct kernels are measured against).
    Gemm,
    /// The direct kernels wherever they run, Winograd's shapes too (for measuring).
    Direct,
    /// Winograd wherever it runs, where the direct kernels would win too (for measuring).
    Winograd,
}

/// The kernel choice for this process: `REGEN_CONV=gemm` turns Winograd and the direct
/// kernels off, `REGEN_CONV=direct` puts the direct kernels in Winograd's place, for
/// measuring.
pub fn kernel_choice() -> Kernel {
    static CHOICE: OnceLock<Kernel> = OnceLock::new();
    *CHOICE.get_or_init(|| match std::env::var("REGEN_CONV").as_deref() {
        Ok("gemm") => Kernel::Gemm,
        Ok("direct") => Kernel::Direct,
        Ok("winograd") => Kernel::Winograd,
        _ => Kernel::Auto,
    })
}

/// Winograd pays where there are channels to multiply: with 1-3 input or output channels
/// (an image in, an image out) the transforms cost more than the products they save
/// (measured: the 1 -> 32 head of the denoiser runs 3.0 ms by Winograd, 0.8 ms by matrix
/// products). Nor on small maps with many channels, where each band of tiles reads the
/// whole transformed weight, 36 x c x k floats, for a few tiles (16 x 256 x 8x8 -> 256,
/// forward / input gradient / weight gradient: 7.8-10.8 / 6.6-7.0 / 12.6 ms against 6.1 /
/// 5.5 by matrix products and 5.9 by the direct kernel).
fn winograd_fits(g: &Geom, kernel: Kernel) -> bool {
    let tiles_per_image = g.oh.div_ceil(4) * g.ow.div_ceil(4);
    matches!(kernel, Kernel::Auto | Kernel::Winograd)
        && (g.kh, g.kw, g.sh, g.sw) == (3, 3, 1, 1)
        && g.ph <= 2
        && g.pw <= 2
        && g.c >= 4
        && g.k >= 4
        && (tiles_per_image >= 16 || g.c * g.k < 128 * 128)
}

/// One to three output channels of a stride-1 layer: rows of scaled, shifted input rows
/// ([`thin`]) rather than a product of one to three rows over an image unfolded nine times
/// its size (16 x 32 x 64x64 -> 1: 1.7 ms against 4.8; one 512x512 image, 5.3 against 25).
/// With one input channel and many outputs the unfolding is small and matrix products win
/// (16 x 1 x 64x64 -> 32: 0.8 ms against 2.1 by rows).
fn thin_fits(g: &Geom, kernel: Kernel) -> bool {
    matches!(kernel, Kernel::Auto | Kernel::Winograd) && thin::fits(g)
}

/// Whether the direct kernels ([`direct`]) run this shape: kernels at least twice the
/// stride, so that each sub-pixel phase of the input gradient sums 2x2 taps or more (the 4x4
/// stride-2 layers of the GAN and the VAE), with 16 channels or more on both sides.
/// Measured against matrix products over unfolded images (`REGEN_CONV=gemm`), 2 threads,
/// forward / input gradient / weight gradient ms: 128 x 64 x 14x14 -> 128 (4x4 s2) 12.2 /
/// 12.8 / 13.0 against 14.9 / 13.3 / 16.0; 128 x 128 x 7x7 -> 64 (4x4 s2) 1.6 / 2.7 / 2.0
/// against 3.0 / 2.9 / 3.4. Where a phase has a single tap the unfolding is a cheap
/// permutation and matrix products win (2x2 stride 2, 16 x 64 x 32x32 -> 32: 2.3 / 3.3 /
/// 2.4 against 1.4 / 1.7 / 1.4; 3x3 stride 2, 16 x 32 x 64x64 -> 64: 5.1 / 9.5 / 6.2
/// against 5.5 / 5.5 / 5.3), and on 3x3 stride-1 layers Winograd does fewer
/// multiplications (16 x 64 x 40x40 -> 64: 7 / 7 / 9.3 against 13.8 / 13.1 / 13.0 direct).
/// One or three channels leave the registers mostly empty (1 -> 32 head: 2.7 ms forward
/// against 1.4). `REGEN_CONV=direct` runs them wherever the channels allow, for measuring.
fn direct_fits(g: &Geom, kernel: Kernel) -> bool {
    let isa = Isa::current();
    match kernel {
        Kernel::Gemm => false,
        Kernel::Direct => direct::fits(isa, g),
        // Stride 1 is Winograd's, or matrix products' where Winograd does not pay (16 x 256
        // x 8x8 -> 256, input gradient: 5.5 ms against 8.5 direct).
        Kernel::Auto | Kernel::Winograd => {
            direct::fits(isa, g) && g.sh * g.sw > 1 && g.kh >= 2 * g.sh && g.kw >= 2 * g.sw
        }
    }
}

/// The forward pass and the weight gradient gather whole kernel rows, so they need no 2x2
/// taps per phase, only kernels wider than the stride (overlapping receptive fields: a 2x2
/// stride-2 kernel's unfolding is a cheap permutation). They win on small output maps,
/// where the unfolding copies short lines one at a time; from 1,024 output pixels the
/// matrix products are as fast. Measured, forward / weight gradient ms, direct against
/// matrix products, same run: 3x3 stride 2, 128 x 32 x 14x14 -> 64 (the VAE encoder) 1.25
/// / 1.36 against 1.72 / 1.70; 16 x 64 x 32x32 -> 128, 2.95 / 2.83 against 3.08 / 3.69;
/// 16 x 32 x 64x64 -> 64, 3.32 / 3.69 against 3.21 / 3.27. (Input gradient, on the AMD
/// machine of 2026-12-01: 1.61 against 1.42, 2.99 against 2.95, 4.54 against 3.45; on the
/// Intel one it wins, see [`direct_phases_fit`].) They win
/// on one large image too (a restore), whose pixels they share out among the threads: 3x3
/// stride 2, 1 x 32 x 512x512 -> 64, 26 / 38 ms against 40 / 74; 1 x 64 x 256x256 -> 128,
/// 17 / 26 against 25 / 36.
fn direct_gather_fits(g: &Geom, kernel: Kernel) -> bool {
    direct_fits(g, kernel)
        || (matches!(kernel, Kernel::Auto | Kernel::Winograd)
            && direct::fits(Isa::current(), g)
            && g.kh > g.sh
            && g.kw > g.sw
            && (g.p() < 1024 || g.n < 2 * rayon::current_num_threads()))
}

/// The input gradient of kernels wider than the stride but less than twice it (3x3 stride
/// 2: phases of 2x2, 2x1, 1x2 and 1x1 taps) runs directly too when the batch gives every
/// thread images of its own and the input has fewer than 128 channels. Measured on the
/// Intel Xeon of 2026-12-03, 2 threads, direct against matrix products, two runs: 128 x 32
/// x 14x14 -> 64 (the VAE encoder) 2.13 / 1.90 against 2.63 / 2.31 ms; 16 x 32 x 64x64 -> 64
/// 4.42 / 4.91 against 5.83 / 5.84; 16 x 64 x 32x32 -> 128 3.47 / 3.64 against 3.78 /
/// 4.15; 16 x 128 x 16x16 -> 256 3.60 / 3.59 against 3.41 / 3.52. One image shares out no
/// images: 1 x 32 x 512x512 -> 64, 59 / 62 against 40 / 44.
fn direct_phases_fit(g: &Geom, kernel: Kernel) -> bool {
    matches!(kernel, Kernel::Auto | Kernel::Winograd)
        && direct::fits(Isa::current(), g)
        && g.sh * g.sw > 1
        && g.kh > g.sh
        && g.kw > g.sw
        && g.c < 128
        && g.n >= 2 * rayon::current_num_threads()
}

/// Forward pass: `[n, k, oh, ow]` from input `[n, c, h, w]`, weight `[k, c, kh, kw]` and
/// optional bias `[k]`, with `act` applied to each output.
pub fn conv_forward(
    g: &Geom,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    act: Act,
    kernel: Kernel,
) -> Vec<f32> {
    assert_eq!(x.len(), g.n * g.c * g.hw(), "conv input size");
    assert_eq!(w.len(), g.k * g.ckk(), "conv weight size");
    let mut out = zeros(g.n * g.k * g.p());
    if winograd_fits(g, kernel) {
        winograd::forward(Isa::current(), g, x, w, bias, act, &mut out);
    } else if thin_fits(g, kernel) {
        thin::forward(Isa::current(), g, x, w, bias, act, &mut out);
    } else if direct_gather_fits(g, kernel) && (kernel == Kernel::Direct || g.sh * g.sw > 1) {
        direct::forward(Isa::current(), g, x, w, bias, act, &mut out);
    } else {
        im2col::forward(g, x, w, bias, act, &mut out);
    }
    out
}

/// Input gradient: `[n, c, h, w]` from the output gradient `[n, k, oh, ow]` and the weight.
pub fn conv_backward_data(g: &Geom, dy: &[f32], w: &[f32], kernel: Kernel) -> Vec<f32> {
    assert_eq!(dy.len(), g.n * g.k * g.p(), "conv output gradient size");
    assert_eq!(w.len(), g.k * g.ckk(), "conv weight size");
    // A 3x3 stride-1 convolution's input gradient is itself a 3x3 stride-1 convolution of the
    // output gradient, with the kernel flipped, its channel axes swapped and padding 2 - p.
    if winograd_fits(g, kernel) || thin_fits(g, kernel) && g.kh == 3 && g.kw == 3 {
        let mut flipped = vec![0.0; w.len()];
        for k in 0..g.k {
            for c in 0..g.c {
                for t in 0..9 {
                    flipped[(c * g.k + k) * 9 + t] = w[(k * g.c + c) * 9 + 8 - t];
                }
            }
        }
        let g2 = Geom::new(
            [g.n, g.k, g.oh, g.ow],
            g.c,
            [3, 3],
            [1, 1],
            [2 - g.ph, 2 - g.pw],
        )
        .expect("the transposed geometry has an output");
        debug_assert_eq!((g2.oh, g2.ow), (g.h, g.w));
        let mut dx = zeros(g.n * g.c * g.hw());
        if winograd_fits(&g2, kernel) {
            winograd::forward(Isa::current(), &g2, dy, &flipped, None, Act::None, &mut dx);
        } else {
            // One to three output channels: the flipped convolution has as few inputs, and
            // unfolding those is cheap (16 x 32 x 64x64 -> 1: 0.8 ms against 5.0 for the
            // scatter of the unfolded gradient).
            im2col::forward(&g2, dy, &flipped, None, Act::None, &mut dx);
        }
        return dx;
    }
    let mut dx = zeros(g.n * g.c * g.hw());
    if direct_fits(g, kernel) || direct_phases_fit(g, kernel) {
        direct::backward_data(Isa::current(), g, dy, w, None, Act::None, &mut dx);
    } else {
        im2col::backward_data(g, dy, w, None, Act::None, &mut dx);
    }
    dx
}

/// Weight gradient `[k, c, kh, kw]` from the input and the output gradient.
pub fn conv_backward_weight(g: &Geom, x: &[f32], dy: &[f32], kernel: Kernel) -> Vec<f32> {
    assert_eq!(x.len(), g.n * g.c * g.hw(), "conv input size");
    assert_eq!(dy.len(), g.n * g.k * g.p(), "conv output gradient size");
    if winograd_fits(g, kernel) {
        return winograd::backward_weight(Isa::current(), g, x, dy);
    }
    if direct_gather_fits(g, kernel) {
        return direct::backward_weight(Isa::current(), g, x, dy);
    }
    im2col::backward_weight(g, x, dy)
}

/// Bias gradient `[k]`: the output gradient summed over the batch and the plane.
pub fn bias_grad(dy: &[f32], n: usize, k: usize, p: usize) -> Vec<f32> {
    assert_eq!(dy.len(), n * k * p);
    (0..k)
        .into_par_iter()
        .map(|ch| {
            (0..n)
                .map(|b| plane_sum(&dy[(b * k + ch) * p..(b * k + ch + 1) * p]))
                .sum()
        })
        .collect()
}

/// The sum of a plane in 16 interleaved partial sums: one running sum waits four cycles
/// per addition, 16 keep the vector adders busy (the VAE's bias gradients went from 2.6% of
/// a training step to a rounding error). The order differs from a single running sum by
/// f32 rounding only.
fn plane_sum(v: &[f32]) -> f32 {
    let mut acc = [0.0f32; 16];
    let mut chunks = v.chunks_exact(16);
    for c in &mut chunks {
        for (a, x) in acc.iter_mut().zip(c) {
            *a += x;
        }
    }
    let tail: f32 = chunks.remainder().iter().sum();
    acc.iter().sum::<f32>() + tail
}

/// The gradient through a fused activation, in place: `dy *= act'(out)`, element by
/// element.
pub fn through_act(dy: &mut [f32], out: &[f32], act: Act) {
    assert_eq!(dy.len(), out.len());
    // One loop per activation, each a compare and a select the compiler vectorises.
    let slope = match act {
        Act::None => return,
        Act::Relu => 0.0,
        Act::LeakyRelu(s) => s,
    };
    let isa = Isa::current();
    dy.par_chunks_mut(1 << 14)
        .zip(out.par_chunks(1 << 14))
        .for_each(|(d, o)| simd(isa, Mask { d, o, slope }));
}

/// `d *= 1 if o > 0 else slope`, compiled for each instruction set (the plain build's SSE2
/// loop ran at a third of the speed of a copy).
struct Mask<'a> {
    d: &'a mut [f32],
    o: &'a [f32],
    slope: f32,
}

impl Simd for Mask<'_> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        for (d, &o) in self.d.iter_mut().zip(self.o) {
            *d *= if o > 0.0 { 1.0 } else { self.slope };
        }
    }
}

/// Transposed convolution forward: input `[n, k, oh, ow]` (the convolution's output side),
/// weight `[k, c, kh, kw]`, bias `[c]`; output `[n, c, h, w]` as `g` describes the
/// convolution being transposed.
pub fn conv_transpose_forward(
    g: &Geom,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    act: Act,
    kernel: Kernel,
) -> Vec<f32> {
    assert_eq!(x.len(), g.n * g.k * g.p(), "transposed conv input size");
    assert_eq!(w.len(), g.k * g.ckk(), "transposed conv weight size");
    if bias.is_none() && act == Act::None {
        return conv_backward_data(g, x, w, kernel);
    }
    let mut out = zeros(g.n * g.c * g.hw());
    if direct_fits(g, kernel) {
        direct::backward_data(Isa::current(), g, x, w, bias, act, &mut out);
    } else {
        im2col::backward_data(g, x, w, bias, act, &mut out);
    }
    out
}

#[cfg(test)]
pub(crate) mod reference {
    //! Direct convolution in f64, the definition the fast kernels are tested against.
    use super::Geom;

    /// Largest |a - b| over max(1, largest |b|): an error relative to the tensor's scale.
    pub fn rel_err(a: &[f32], b: &[f64]) -> f64 {
        assert_eq!(a.len(), b.len());
        let scale = b.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        a.iter()
            .zip(b)
            .map(|(&a, &b)| (f64::from(a) - b).abs())
            .fold(0.0, f64::max)
            / scale
    }

    /// `[n, k, oh, ow]`.
    pub fn forward(g: &Geom, x: &[f32], w: &[f32], bias: Option<&[f32]>) -> Vec<f64> {
        let mut out = vec![0.0; g.n * g.k * g.p()];
        for b in 0..g.n {
            for k in 0..g.k {
                for oy in 0..g.oh {
                    for ox in 0..g.ow {
                        let mut s = bias.map_or(0.0, |b| f64::from(b[k]));
                        for c in 0..g.c {
                            for ky in 0..g.kh {
                                for kx in 0..g.kw {
                                    let iy = (oy * g.sh + ky) as isize - g.ph as isize;
                                    let ix = (ox * g.sw + kx) as isize - g.pw as isize;
                                    if iy < 0 || ix < 0 || iy >= g.h as isize || ix >= g.w as isize
                                    {
                                        continue;
                                    }
                                    let xv =
                                        x[((b * g.c + c) * g.h + iy as usize) * g.w + ix as usize];
                                    let wv = w[((k * g.c + c) * g.kh + ky) * g.kw + kx];
                                    s += f64::from(xv) * f64::from(wv);
                                }
                            }
                        }
                        out[((b * g.k + k) * g.oh + oy) * g.ow + ox] = s;
                    }
                }
            }
        }
        out
    }

    /// Input gradient `[n, c, h, w]` and weight gradient `[k, c, kh, kw]` for `dy`.
    pub fn backward(g: &Geom, x: &[f32], w: &[f32], dy: &[f32]) -> (Vec<f64>, Vec<f64>) {
        let mut dx = vec![0.0; x.len()];
        let mut dw = vec![0.0; w.len()];
        for b in 0..g.n {
            for k in 0..g.k {
                for oy in 0..g.oh {
                    for ox in 0..g.ow {
                        let d = f64::from(dy[((b * g.k + k) * g.oh + oy) * g.ow + ox]);
                        for c in 0..g.c {
                            for ky in 0..g.kh {
                                for kx in 0..g.kw {
                                    let iy = (oy * g.sh + ky) as isize - g.ph as isize;
                                    let ix = (ox * g.sw + kx) as isize - g.pw as isize;
                                    if iy < 0 || ix < 0 || iy >= g.h as isize || ix >= g.w as isize
                                    {
                                        continue;
                                    }
                                    let xi =
                                        ((b * g.c + c) * g.h + iy as usize) * g.w + ix as usize;
                                    let wi = ((k * g.c + c) * g.kh + ky) * g.kw + kx;
                                    dx[xi] += d * f64::from(w[wi]);
                                    dw[wi] += d * f64::from(x[xi]);
                                }
                            }
                        }
                    }
                }
            }
        }
        (dx, dw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    use super::reference::rel_err;

    // Shapes: odd sizes, every padding a 3x3 layer can have, channel counts 1, 3, 4, 16,
    // batches 1, 2, 3 and 4, strides 1 and 2, kernels 2, 3 and 4. The first seven take
    // Winograd: the sixth is one image in several bands of tile rows, the seventh four
    // images (a task each on two threads) in several bands, both with output channels
    // padded to whole vectors.
    const SHAPES: &[([usize; 4], usize, usize, usize, usize)] = &[
        ([1, 4, 7, 9], 5, 3, 1, 1),
        ([3, 16, 11, 6], 16, 3, 1, 1),
        ([2, 16, 9, 13], 4, 3, 1, 0),
        ([1, 4, 5, 5], 4, 3, 1, 2),
        ([2, 4, 21, 35], 6, 3, 1, 1),
        ([1, 16, 70, 45], 20, 3, 1, 1),
        ([4, 8, 66, 66], 16, 3, 1, 2),
        ([1, 1, 7, 9], 3, 3, 1, 1),
        ([2, 4, 17, 15], 8, 3, 2, 1),
        ([3, 3, 8, 8], 5, 4, 2, 1),
        ([2, 6, 6, 10], 4, 2, 2, 0),
        ([1, 2, 4, 4], 3, 3, 1, 1),
        // One image large enough to be unfolded in two bands of rows.
        ([1, 16, 200, 200], 4, 3, 2, 1),
        // One image large enough for the direct kernels to share out its copies and pixels.
        ([1, 16, 260, 250], 16, 3, 2, 1),
    ];

    #[test]
    fn winograd_takes_the_shapes_meant_for_it() {
        for (i, &(dims, k, ks, s, p)) in SHAPES.iter().enumerate() {
            let g = Geom::new(dims, k, [ks, ks], [s, s], [p, p]).unwrap();
            assert_eq!(winograd_fits(&g, Kernel::Auto), i < 7, "{g:?}");
            assert!(!winograd_fits(&g, Kernel::Gemm));
        }
    }

    #[test]
    fn every_kernel_matches_direct_convolution() {
        let mut rng = Rng::new(7);
        for &(dims, k, ks, s, p) in SHAPES {
            let g = Geom::new(dims, k, [ks, ks], [s, s], [p, p]).unwrap();
            let x = rng.normals(g.n * g.c * g.hw());
            let w = rng.normals(g.k * g.ckk());
            let bias = rng.normals(g.k);
            let dy = rng.normals(g.n * g.k * g.p());
            let want = reference::forward(&g, &x, &w, Some(&bias));
            let (want_dx, want_dw) = reference::backward(&g, &x, &w, &dy);
            for kernel in [Kernel::Auto, Kernel::Gemm, Kernel::Direct, Kernel::Winograd] {
                let got = conv_forward(&g, &x, &w, Some(&bias), Act::None, kernel);
                // Winograd F(4x4, 3x3) in f32 loses a few more bits than a plain sum.
                assert!(rel_err(&got, &want) < 2e-5, "{g:?} {kernel:?} forward");
                let dx = conv_backward_data(&g, &dy, &w, kernel);
                assert!(rel_err(&dx, &want_dx) < 2e-5, "{g:?} {kernel:?} input grad");
            }
            for kernel in [Kernel::Auto, Kernel::Gemm, Kernel::Direct, Kernel::Winograd] {
                let dw = conv_backward_weight(&g, &x, &dy, kernel);
                // Winograd's weight gradient sums many transformed tiles: a little more error.
                assert!(
                    rel_err(&dw, &want_dw) < 5e-5,
                    "{g:?} {kernel:?} weight grad"
                );
            }
        }
    }

    /// A CPU without AVX-512 or AVX2 still runs: every instruction set this CPU has, down to
    /// the portable code, gives the same Winograd (and row-kernel) results.
    #[test]
    fn winograd_and_rows_on_every_instruction_set_including_the_portable_path() {
        let mut rng = Rng::new(10);
        let g = Geom::new([2, 5, 13, 11], 6, [3, 3], [1, 1], [1, 1]).unwrap();
        let x = rng.normals(g.n * g.c * g.hw());
        let w = rng.normals(g.k * g.ckk());
        let dy = rng.normals(g.n * g.k * g.p());
        let want = reference::forward(&g, &x, &w, None);
        let (_, want_dw) = reference::backward(&g, &x, &w, &dy);
        let isas = crate::engine::gemm::Isa::available();
        assert_eq!(isas.last(), Some(&Isa::Portable));
        // Four images in bands of tile rows, with a bias and an activation.
        let g4 = Geom::new([4, 8, 66, 66], 16, [3, 3], [1, 1], [1, 1]).unwrap();
        let x4 = rng.normals(g4.n * g4.c * g4.hw());
        let w4 = rng.normals(g4.k * g4.ckk());
        let b4 = rng.normals(g4.k);
        let want4: Vec<f64> = reference::forward(&g4, &x4, &w4, Some(&b4))
            .into_iter()
            .map(|v| v.max(0.0))
            .collect();
        // One output channel, padding 2, by rows.
        let gt = Geom::new([2, 5, 9, 21], 1, [3, 3], [1, 1], [2, 2]).unwrap();
        let xt = rng.normals(gt.n * gt.c * gt.hw());
        let wt = rng.normals(gt.k * gt.ckk());
        let bt = rng.normals(gt.k);
        let want_thin: Vec<f64> = reference::forward(&gt, &xt, &wt, Some(&bt))
            .into_iter()
            .map(|v| if v > 0.0 { v } else { 0.2 * v })
            .collect();
        for isa in isas {
            let mut y = vec![0.0; want.len()];
            winograd::forward(isa, &g, &x, &w, None, Act::None, &mut y);
            assert!(rel_err(&y, &want) < 2e-5, "{isa:?} forward");
            let mut yt = vec![0.0; want_thin.len()];
            thin::forward(isa, &gt, &xt, &wt, Some(&bt), Act::LeakyRelu(0.2), &mut yt);
            assert!(rel_err(&yt, &want_thin) < 1e-5, "{isa:?} thin forward");
            let mut y4 = vec![0.0; want4.len()];
            winograd::forward(isa, &g4, &x4, &w4, Some(&b4), Act::Relu, &mut y4);
            assert!(rel_err(&y4, &want4) < 2e-5, "{isa:?} forward in bands");
            let dw = winograd::backward_weight(isa, &g, &x, &dy);
            assert!(rel_err(&dw, &want_dw) < 5e-5, "{isa:?} weight grad");
        }
    }

    #[test]
    fn fused_activations_and_their_gradients() {
        let mut rng = Rng::new(8);
        let g = Geom::new([2, 3, 9, 7], 4, [3, 3], [1, 1], [1, 1]).unwrap();
        let x = rng.normals(g.n * g.c * g.hw());
        let w = rng.normals(g.k * g.ckk());
        let plain = conv_forward(&g, &x, &w, None, Act::None, Kernel::Auto);
        for act in [Act::Relu, Act::LeakyRelu(0.2)] {
            let y = conv_forward(&g, &x, &w, None, act, Kernel::Auto);
            for (a, p) in y.iter().zip(&plain) {
                assert!((a - act.apply(*p)).abs() < 1e-6);
            }
            let mut dy = vec![1.0; y.len()];
            through_act(&mut dy, &y, act);
            for (d, p) in dy.iter().zip(&plain) {
                let want = if *p > 0.0 {
                    1.0
                } else if act == Act::Relu {
                    0.0
                } else {
                    0.2
                };
                assert_eq!(*d, want);
            }
        }
    }

    #[test]
    fn transposed_convolution_is_the_input_gradient_with_bias() {
        let mut rng = Rng::new(9);
        // The GAN generator's 4x4 stride-2 transposed convolution: 7x7 -> 14x14.
        let g = Geom::new([2, 3, 14, 14], 5, [4, 4], [2, 2], [1, 1]).unwrap();
        assert_eq!((g.oh, g.ow), (7, 7));
        let x = rng.normals(g.n * g.k * g.p());
        let w = rng.normals(g.k * g.ckk());
        let bias = rng.normals(g.c);
        let plain = conv_backward_data(&g, &x, &w, Kernel::Auto);
        let y = conv_transpose_forward(&g, &x, &w, Some(&bias), Act::Relu, Kernel::Auto);
        for (i, (a, p)) in y.iter().zip(&plain).enumerate() {
            let c = (i / g.hw()) % g.c;
            assert!((a - (p + bias[c]).max(0.0)).abs() < 1e-5);
        }
    }

    #[test]
    fn bias_gradient_sums_batch_and_plane() {
        let dy: Vec<f32> = (0..2 * 3 * 4).map(|i| i as f32).collect();
        // Channel 0: (0+1+2+3) + (12+13+14+15) = 60; channel 1: 22 + 70; channel 2: 38 + 86.
        assert_eq!(bias_grad(&dy, 2, 3, 4), vec![60.0, 92.0, 124.0]);
        // Planes longer than the 16 partial sums, with a remainder: integers sum exactly.
        let (n, k, p) = (3, 2, 53);
        let dy: Vec<f32> = (0..n * k * p).map(|i| (i % 7) as f32 - 3.0).collect();
        let want: Vec<f32> = (0..k)
            .map(|ch| {
                (0..n)
                    .flat_map(|b| dy[(b * k + ch) * p..][..p].iter())
                    .sum()
            })
            .collect();
        assert_eq!(bias_grad(&dy, n, k, p), want);
    }
}

/// Runs `f(i, plane)` on each `hw`-long plane `i` of `data`, planes in parallel.
pub(crate) fn par_planes(data: &mut [f32], hw: usize, f: impl Fn(usize, &mut [f32]) + Sync + Send) {
    data.par_chunks_mut(hw.max(1))
        .enumerate()
        .for_each(|(i, p)| f(i, p));
}

/// `f(i)` for `i` in `0..n`, in parallel, collected in order.
pub(crate) fn par_plane_sums(n: usize, f: impl Fn(usize) -> f64 + Sync + Send) -> Vec<f64> {
    (0..n).into_par_iter().map(f).collect()
}
