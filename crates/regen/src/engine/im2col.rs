//! Convolutions as matrix products over unfolded images: any kernel size, stride and
//! padding. Each image is unfolded into a `[c * kh * kw, oh * ow]` matrix in a buffer that
//! each thread allocates once per call and reuses for every image it takes, so the hot
//! loops allocate nothing; the product runs in `gemm`'s AVX-512 / AVX2 kernels.

use rayon::prelude::*;

use super::gemm::{Isa, Mat, gemm, gemm_nt_acc};
use super::geom::{Act, Geom, sum_parts};

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
    unfold_rows(g, x, col, g.p(), 0..g.oh);
}

/// Unfolds the output rows `out_rows` of one image: `col` is `[c * kh * kw, rows * ow]`,
/// its rows `ld` apart (more than `rows * ow` when several images share it).
fn unfold_rows(g: &Geom, x: &[f32], col: &mut [f32], ld: usize, out_rows: std::ops::Range<usize>) {
    let p = out_rows.len() * g.ow;
    for c in 0..g.c {
        let plane = &x[c * g.hw()..(c + 1) * g.hw()];
        for ky in 0..g.kh {
            let rows = valid(g.oh, g.sh, ky, g.ph, g.h);
            for kx in 0..g.kw {
                let cols = valid(g.ow, g.sw, kx, g.pw, g.w);
                let r = (c * g.kh + ky) * g.kw + kx;
                let dst = &mut col[r * ld..r * ld + p];
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
    fold_add_rows(g, col, dx, g.p(), 0..g.oh);
}

/// Folds the output rows `out_rows` (`col` is `[c * kh * kw, rows * ow]`, rows `ld` apart)
/// onto the image.
fn fold_add_rows(
    g: &Geom,
    col: &[f32],
    dx: &mut [f32],
    ld: usize,
    out_rows: std::ops::Range<usize>,
) {
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
                let src = &col[r * ld..r * ld + p];
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
        let gsz = group(g);
        out.par_chunks_mut(gsz * g.k * p).enumerate().for_each_init(
            || (vec![0.0; ckk * gsz * p], vec![0.0; g.k * gsz * p]),
            |(col, yt), (gi, y)| {
                let (b0, nb) = (gi * gsz, y.len() / (g.k * p));
                if nb == 1 {
                    return one(col, b0, y, 1);
                }
                // Small maps: the group's images side by side, one product, then back to
                // [image, channel, pixel].
                let q = nb * p;
                for i in 0..nb {
                    let img = &x[(b0 + i) * g.c * g.hw()..(b0 + i + 1) * g.c * g.hw()];
                    unfold_rows(g, img, &mut col[i * p..], q, 0..g.oh);
                }
                gemm(
                    &mut yt[..g.k * q],
                    q,
                    Mat::rows(w, g.k, ckk, ckk),
                    Mat::rows(col, ckk, q, q),
                    false,
                    1,
                );
                for i in 0..nb {
                    for k in 0..g.k {
                        y[(i * g.k + k) * p..][..p].copy_from_slice(&yt[k * q + i * p..][..p]);
                    }
                }
                finish(y, p, g.k, bias, act);
            },
        );
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
                unfold_rows(g, img, &mut col[..ckk * q], q, band);
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

/// Images unfolded side by side into one matrix: maps under 1,024 pixels are grouped so that
/// each product has about 1,024 columns (a product of a 7x7 map alone spends more on packing
/// its operands than on multiplying), at most 4M floats of unfolded input, in groups that
/// split evenly over the threads.
fn group(g: &Geom) -> usize {
    let p = g.p();
    if p >= 1024 || g.n <= 1 {
        return 1;
    }
    let want = 1024usize
        .div_ceil(p)
        .min(((1usize << 22) / (g.ckk() * p)).max(1))
        .min(g.n);
    let threads = rayon::current_num_threads();
    let groups = g.n.div_ceil(want).next_multiple_of(threads).min(g.n);
    g.n.div_ceil(groups)
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
        let gsz = group(g);
        dx.par_chunks_mut(gsz * g.c * g.hw())
            .enumerate()
            .for_each_init(
                || (vec![0.0; ckk * gsz * p], vec![0.0; g.k * gsz * p]),
                |(col, dyt), (gi, d)| {
                    let (b0, nb) = (gi * gsz, d.len() / (g.c * g.hw()));
                    if nb == 1 {
                        return one(col, b0, d, 1);
                    }
                    let q = nb * p;
                    for i in 0..nb {
                        for k in 0..g.k {
                            dyt[k * q + i * p..][..p]
                                .copy_from_slice(&dy[((b0 + i) * g.k + k) * p..][..p]);
                        }
                    }
                    gemm(
                        &mut col[..ckk * q],
                        q,
                        Mat::rows(w, g.k, ckk, ckk).t(),
                        Mat::rows(dyt, g.k, q, q),
                        false,
                        1,
                    );
                    for (i, di) in d.chunks_mut(g.c * g.hw()).enumerate() {
                        fold_add_rows(g, &col[i * p..], di, q, 0..g.oh);
                    }
                    finish(d, g.hw(), g.c, bias, act);
                },
            );
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
                fold_add_rows(g, &col[..ckk * q], d, q, band);
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
            let gsz = group(g);
            let mut acc = vec![0.0; g.k * ckk];
            let mut col = vec![0.0; ckk * gsz * p];
            let mut dyt = vec![0.0; if gsz > 1 { g.k * gsz * p } else { 0 }];
            let images = t * per..((t + 1) * per).min(g.n);
            for b0 in images.clone().step_by(gsz) {
                let nb = gsz.min(images.end - b0);
                let q = nb * p;
                for i in 0..nb {
                    let img = &x[(b0 + i) * g.c * g.hw()..(b0 + i + 1) * g.c * g.hw()];
                    unfold_rows(g, img, &mut col[i * p..], q, 0..g.oh);
                }
                let dy_g: &[f32] = if nb == 1 {
                    &dy[b0 * g.k * p..(b0 + 1) * g.k * p]
                } else {
                    for i in 0..nb {
                        for k in 0..g.k {
                            dyt[k * q + i * p..][..p]
                                .copy_from_slice(&dy[((b0 + i) * g.k + k) * p..][..p]);
                        }
                    }
                    &dyt[..g.k * q]
                };
                if isa == Isa::Avx512 && inner == 1 {
                    gemm_nt_acc(isa, &mut acc, ckk, dy_g, q, &col, q, [g.k, ckk, q]);
                } else {
                    gemm(
                        &mut acc,
                        ckk,
                        Mat::rows(dy_g, g.k, q, q),
                        Mat::rows(&col, ckk, q, q).t(),
                        true,
                        inner,
                    );
                }
            }
            acc
        })
        .collect();
    sum_parts(partial, g.k * ckk)
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
