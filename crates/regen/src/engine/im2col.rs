//! Convolutions as matrix products over unfolded images: any kernel size, stride and
//! padding. Each image is unfolded into a `[c * kh * kw, oh * ow]` matrix in a buffer that
//! each thread allocates once per call and reuses for every image it takes, so the hot
//! loops allocate nothing; the product runs in `gemm`'s AVX-512 / AVX2 kernels.

use rayon::prelude::*;

use super::gemm::{Isa, Mat, gemm, gemm_nt_acc};
use super::kernels::{Act, Geom};

/// The range of output columns `ox` whose input column `ox * s + tap - pad` lies in
/// `0..len`.
fn valid(out: usize, s: usize, tap: usize, pad: usize, len: usize) -> std::ops::Range<usize> {
    // ox * s + tap >= pad  and  ox * s + tap < pad + len
    let lo = pad.saturating_sub(tap).div_ceil(s);
    let hi = if pad + len > tap {
        (pad + len - tap).div_ceil(s)
    } else {
        0
    };
    lo.min(out)..hi.min(out).max(lo.min(out))
}

/// Unfolds one image `[c, h, w]` into `col`, `[c * kh * kw, oh * ow]`.
pub fn unfold(g: &Geom, x: &[f32], col: &mut [f32]) {
    unfold_rows(g, x, col, 0..g.oh);
}

/// Unfolds the output rows `out_rows` of one image: `col` is `[c * kh * kw, rows * ow]`.
fn unfold_rows(g: &Geom, x: &[f32], col: &mut [f32], out_rows: std::ops::Range<usize>) {
    let p = out_rows.len() * g.ow;
    for c in 0..g.c {
        let plane = &x[c * g.hw()..(c + 1) * g.hw()];
        for ky in 0..g.kh {
            let rows = valid(g.oh, g.sh, ky, g.ph, g.h);
            for kx in 0..g.kw {
                let cols = valid(g.ow, g.sw, kx, g.pw, g.w);
                let r = (c * g.kh + ky) * g.kw + kx;
                let dst = &mut col[r * p..(r + 1) * p];
                for oy in out_rows.clone() {
                    let line = &mut dst[(oy - out_rows.start) * g.ow..][..g.ow];
                    if !rows.contains(&oy) || cols.is_empty() {
                        line.fill(0.0);
                        continue;
                    }
                    let src = &plane[(oy * g.sh + ky - g.ph) * g.w..][..g.w];
                    line[..cols.start].fill(0.0);
                    line[cols.end..].fill(0.0);
                    let first = cols.start * g.sw + kx - g.pw;
                    if g.sw == 1 {
                        line[cols.clone()].copy_from_slice(&src[first..first + cols.len()]);
                    } else {
                        for (o, v) in line[cols.clone()]
                            .iter_mut()
                            .zip(src[first..].iter().step_by(g.sw))
                        {
                            *o = *v;
                        }
                    }
                }
            }
        }
    }
}

/// Folds `col` back onto one image `[c, h, w]`, adding where taps overlap.
fn fold_add(g: &Geom, col: &[f32], dx: &mut [f32]) {
    fold_add_rows(g, col, dx, 0..g.oh);
}

/// Folds the output rows `out_rows` (`col` is `[c * kh * kw, rows * ow]`) onto the image.
fn fold_add_rows(g: &Geom, col: &[f32], dx: &mut [f32], out_rows: std::ops::Range<usize>) {
    let p = out_rows.len() * g.ow;
    for c in 0..g.c {
        let plane = &mut dx[c * g.hw()..(c + 1) * g.hw()];
        for ky in 0..g.kh {
            let rows = valid(g.oh, g.sh, ky, g.ph, g.h);
            for kx in 0..g.kw {
                let cols = valid(g.ow, g.sw, kx, g.pw, g.w);
                if cols.is_empty() {
                    continue;
                }
                let r = (c * g.kh + ky) * g.kw + kx;
                let src = &col[r * p..(r + 1) * p];
                for oy in rows.start.max(out_rows.start)..rows.end.min(out_rows.end) {
                    let line = &src[(oy - out_rows.start) * g.ow..][..g.ow];
                    let dst = &mut plane[(oy * g.sh + ky - g.ph) * g.w..][..g.w];
                    let first = cols.start * g.sw + kx - g.pw;
                    if g.sw == 1 {
                        for (d, v) in dst[first..first + cols.len()]
                            .iter_mut()
                            .zip(&line[cols.clone()])
                        {
                            *d += v;
                        }
                    } else {
                        for (d, v) in dst[first..]
                            .iter_mut()
                            .step_by(g.sw)
                            .zip(&line[cols.clone()])
                        {
                            *d += v;
                        }
                    }
                }
            }
        }
    }
}

/// Adds `bias[ch]` to each plane of `out` (`[planes, len]`, channel = plane % channels)
/// and applies `act`.
pub(crate) fn finish(out: &mut [f32], len: usize, channels: usize, bias: Option<&[f32]>, act: Act) {
    if bias.is_none() && act == Act::None {
        return;
    }
    for (i, plane) in out.chunks_mut(len).enumerate() {
        let b = bias.map_or(0.0, |b| b[i % channels]);
        for v in plane {
            *v = act.apply(*v + b);
        }
    }
}

/// Whether the batch alone keeps every thread busy; otherwise each image's product is split.
fn batch_parallel(n: usize) -> bool {
    n >= rayon::current_num_threads()
}

/// `out` `[n, k, oh, ow]` = conv(x, w) + bias, then `act`.
pub fn forward(g: &Geom, x: &[f32], w: &[f32], bias: Option<&[f32]>, act: Act, out: &mut [f32]) {
    let (p, ckk) = (g.p(), g.ckk());
    let one = |col: &mut Vec<f32>, b: usize, y: &mut [f32], threads: usize| {
        unfold(g, &x[b * g.c * g.hw()..(b + 1) * g.c * g.hw()], col);
        gemm(
            y,
            p,
            Mat::rows(w, g.k, ckk, ckk),
            Mat::rows(col, ckk, p, p),
            false,
            threads,
        );
        finish(y, p, g.k, bias, act);
    };
    if batch_parallel(g.n) {
        out.par_chunks_mut(g.k * p)
            .enumerate()
            .for_each_init(|| vec![0.0; ckk * p], |col, (b, y)| one(col, b, y, 1));
    } else {
        // Few large images: unfold a band of output rows at a time (a few MB, not the whole
        // image's 9x copy) and let `gemm` split each product over the threads.
        let rows = band_rows(g);
        let mut col = vec![0.0; ckk * rows * g.ow];
        let threads = rayon::current_num_threads();
        for (b, y) in out.chunks_mut(g.k * p).enumerate() {
            let img = &x[b * g.c * g.hw()..(b + 1) * g.c * g.hw()];
            for oy0 in (0..g.oh).step_by(rows) {
                let band = oy0..(oy0 + rows).min(g.oh);
                let q = band.len() * g.ow;
                unfold_rows(g, img, &mut col[..ckk * q], band);
                gemm(
                    &mut y[oy0 * g.ow..],
                    p,
                    Mat::rows(w, g.k, ckk, ckk),
                    Mat::rows(&col, ckk, q, q),
                    false,
                    threads,
                );
            }
            finish(y, p, g.k, bias, act);
        }
    }
}

/// Output rows per band when one image is unfolded in bands: about 4 MB of unfolded input.
fn band_rows(g: &Geom) -> usize {
    (1usize << 20).div_ceil(g.ckk() * g.ow).clamp(1, g.oh)
}

/// `dx` `[n, c, h, w]` = the transpose of conv applied to `dy` `[n, k, oh, ow]`, plus
/// `bias` `[c]`, then `act` (bias and act serve transposed convolutions). `dx` must be zero.
pub fn backward_data(
    g: &Geom,
    dy: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    act: Act,
    dx: &mut [f32],
) {
    let (p, ckk) = (g.p(), g.ckk());
    let one = |col: &mut Vec<f32>, b: usize, d: &mut [f32], threads: usize| {
        gemm(
            col,
            p,
            Mat::rows(w, g.k, ckk, ckk).t(),
            Mat::rows(&dy[b * g.k * p..(b + 1) * g.k * p], g.k, p, p),
            false,
            threads,
        );
        fold_add(g, col, d);
        finish(d, g.hw(), g.c, bias, act);
    };
    if batch_parallel(g.n) {
        dx.par_chunks_mut(g.c * g.hw())
            .enumerate()
            .for_each_init(|| vec![0.0; ckk * p], |col, (b, d)| one(col, b, d, 1));
    } else {
        let rows = band_rows(g);
        let mut col = vec![0.0; ckk * rows * g.ow];
        let threads = rayon::current_num_threads();
        for (b, d) in dx.chunks_mut(g.c * g.hw()).enumerate() {
            let dy_b = &dy[b * g.k * p..(b + 1) * g.k * p];
            for oy0 in (0..g.oh).step_by(rows) {
                let band = oy0..(oy0 + rows).min(g.oh);
                let q = band.len() * g.ow;
                gemm(
                    &mut col[..ckk * q],
                    q,
                    Mat::rows(w, g.k, ckk, ckk).t(),
                    Mat::rows(&dy_b[oy0 * g.ow..], g.k, q, p),
                    false,
                    threads,
                );
                fold_add_rows(g, &col[..ckk * q], d, band);
            }
            finish(d, g.hw(), g.c, bias, act);
        }
    }
}

/// Weight gradient `[k, c, kh, kw]`: the sum over images of `dy_b * unfold(x_b)^T`, one
/// accumulator per thread.
pub fn backward_weight(g: &Geom, x: &[f32], dy: &[f32]) -> Vec<f32> {
    let (p, ckk) = (g.p(), g.ckk());
    let parts = rayon::current_num_threads().min(g.n).max(1);
    let per = g.n.div_ceil(parts);
    let inner = if parts < rayon::current_num_threads() {
        rayon::current_num_threads()
    } else {
        1
    };
    let isa = Isa::current();
    let partial: Vec<Vec<f32>> = (0..parts)
        .into_par_iter()
        .map(|t| {
            let mut acc = vec![0.0; g.k * ckk];
            let mut col = vec![0.0; ckk * p];
            for b in t * per..((t + 1) * per).min(g.n) {
                unfold(g, &x[b * g.c * g.hw()..(b + 1) * g.c * g.hw()], &mut col);
                let dy_b = &dy[b * g.k * p..(b + 1) * g.k * p];
                if isa == Isa::Avx512 && inner == 1 {
                    gemm_nt_acc(isa, &mut acc, ckk, dy_b, p, &col, p, [g.k, ckk, p]);
                } else {
                    gemm(
                        &mut acc,
                        ckk,
                        Mat::rows(dy_b, g.k, p, p),
                        Mat::rows(&col, ckk, p, p).t(),
                        true,
                        inner,
                    );
                }
            }
            acc
        })
        .collect();
    let mut it = partial.into_iter();
    let mut sum = it.next().unwrap_or_else(|| vec![0.0; g.k * ckk]);
    for part in it {
        for (s, v) in sum.iter_mut().zip(part) {
            *s += v;
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_ranges_match_a_brute_force_count() {
        for out in 1..6 {
            for s in 1..4 {
                for tap in 0..5 {
                    for pad in 0..3 {
                        for len in 1..7 {
                            let want: Vec<usize> = (0..out)
                                .filter(|&o| {
                                    let i = (o * s + tap) as isize - pad as isize;
                                    i >= 0 && i < len as isize
                                })
                                .collect();
                            let got: Vec<usize> = valid(out, s, tap, pad, len).collect();
                            assert_eq!(got, want, "out {out} s {s} tap {tap} pad {pad} len {len}");
                        }
                    }
                }
            }
        }
    }
}
