//! Stride-1 convolutions with one to three output channels (a network's last layer: an
//! image out), row by row.
//!
//! With so few channels, a matrix product over the unfolded image multiplies a matrix of
//! one to three rows by a copy of the input nine times its size, and the time goes into
//! writing and reading that copy (a 512x512 restore's last
//! layer, 32 -> 1: 24 ms, of which the products are about 1). Here each output row is a sum
//! of input rows shifted by each tap and scaled by its weight, over the channels and kernel
//! rows, in a row buffer that stays in the L1 cache; the compiler vectorises the
//! scale-and-add along the row.

use rayon::prelude::*;

use super::gemm::{Isa, Simd, simd};
use super::geom::{Act, Geom};

/// Whether this kernel serves `g`: stride 1, padding smaller than the kernel, and at most
/// three output channels.
pub fn fits(g: &Geom) -> bool {
    g.sh == 1 && g.sw == 1 && g.ph < g.kh && g.pw < g.kw && g.k <= 3
}

/// `out` `[n, k, oh, ow]` = conv(x, w) + bias, then `act`, for a shape [`fits`] accepts.
pub fn forward(
    isa: Isa,
    g: &Geom,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    act: Act,
    out: &mut [f32],
) {
    debug_assert!(fits(g));
    let p = g.p();
    // Rows per task: a divisor of the output height, so that no task straddles two planes,
    // about 4,096 pixels (a task per plane of the small maps of a training batch).
    let want = 4096usize.div_ceil(g.ow).clamp(1, g.oh);
    let rows = (1..=want)
        .rev()
        .find(|r| g.oh.is_multiple_of(*r))
        .unwrap_or(1);
    out.par_chunks_mut(rows * g.ow).enumerate().for_each_init(
        || vec![0.0f32; g.ow],
        |acc, (i, y)| {
            let start = i * rows * g.ow;
            let (plane, oy0) = (start / p, (start % p) / g.ow);
            let (b, k) = (plane / g.k, plane % g.k);
            simd(
                isa,
                Rows {
                    g,
                    x: &x[b * g.c * g.hw()..][..g.c * g.hw()],
                    w: &w[k * g.ckk()..][..g.ckk()],
                    bias: bias.map_or(0.0, |v| v[k]),
                    act,
                    oy0,
                    acc,
                    y,
                },
            );
        },
    );
}

/// Output rows `oy0..` of one plane into `y`, from one image `x` `[c, h, w]` and the plane's
/// weights `w` `[c, kh, kw]`.
struct Rows<'a> {
    g: &'a Geom,
    x: &'a [f32],
    w: &'a [f32],
    bias: f32,
    act: Act,
    oy0: usize,
    acc: &'a mut [f32],
    y: &'a mut [f32],
}

impl Simd for Rows<'_> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        let Rows {
            g,
            x,
            w,
            bias,
            act,
            oy0,
            acc,
            y,
        } = self;
        for (r, yr) in y.chunks_exact_mut(g.ow).enumerate() {
            let oy = oy0 + r;
            acc.fill(bias);
            for c in 0..g.c {
                for ky in 0..g.kh {
                    let Some(iy) = (oy + ky).checked_sub(g.ph).filter(|&iy| iy < g.h) else {
                        continue;
                    };
                    let row = &x[(c * g.h + iy) * g.w..][..g.w];
                    for kx in 0..g.kw {
                        let wv = w[(c * g.kh + ky) * g.kw + kx];
                        // Output column ox reads input column ox + kx - pw, where it exists.
                        let lo = g.pw.saturating_sub(kx);
                        let hi = g.ow.min((g.w + g.pw).saturating_sub(kx));
                        if lo >= hi {
                            continue;
                        }
                        let src = &row[lo + kx - g.pw..][..hi - lo];
                        for (a, v) in acc[lo..hi].iter_mut().zip(src) {
                            *a += wv * v;
                        }
                    }
                }
            }
            match act {
                Act::None => yr.copy_from_slice(acc),
                _ => {
                    for (o, a) in yr.iter_mut().zip(acc.iter()) {
                        *o = act.apply(*a);
                    }
                }
            }
        }
    }
}
