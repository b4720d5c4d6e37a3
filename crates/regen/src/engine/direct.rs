//! Direct convolutions over channel-last copies, for strided and transposed layers (and the
//! first layers, whose one or three input channels give Winograd nothing to save).
//!
//! The input is copied once to `[n, h, w, c]` with its zero padding around it; then the
//! channels of one kernel row's taps lie side by side, so an output pixel is a sum over
//! `kh` contiguous stretches of `kw * c` values against the matching rows of the weight,
//! which [`gemm_gather`] computes for 12 pixels and 32 output channels at a time without
//! the unfolded copy (`kh * kw` times the input) that [`super::im2col`] writes and reads.
//! A transposed convolution (and the input gradient of a strided one) splits into `sh * sw`
//! sub-pixel phases: the output pixels `(qy * sh + ry, qx * sw + rx)` of one phase each see
//! a stride-1 convolution of the (channel-last) input with the kernel taps of that phase, so
//! there is no scatter with overlapping adds. The weight gradient sums the same gathers
//! against the output gradient, pixel-major ([`gemm_gather_tn`]).
//!
//! The kernels need AVX-512 ([`fits`]); elsewhere [`super::kernels`] keeps to matrix
//! products over unfolded images.

use rayon::prelude::*;

use super::gemm::{Isa, Run, Simd, gemm_gather, gemm_gather_tn, simd, transpose, transpose_into};
use super::im2col;
use super::kernels::{Act, Geom, sum_parts};

/// Output pixels per parallel task: 8 blocks of the kernel's 12 rows.
const CHUNK: usize = 96;

/// Whether the direct kernels can serve this shape on `isa`: AVX-512, and 16 channels or
/// more on each side (fewer leave the 16-lane registers mostly empty, and the stretches of
/// the summed axis too short to pay for setting up their rows).
pub fn fits(isa: Isa, g: &Geom) -> bool {
    isa == Isa::Avx512 && g.c >= 16 && g.k >= 16
}

/// A buffer of `f32` taken from a pool and given back when dropped: the copies a direct
/// convolution makes are several MB, and fresh memory of that size comes from the kernel
/// page by page (measured: 4.3 ms to copy 8 MB into a new allocation, most of it page
/// faults). Its contents are whatever the last user left: callers write every element.
struct Scratch(Vec<f32>);

static POOL: std::sync::Mutex<Vec<Vec<f32>>> = std::sync::Mutex::new(Vec::new());

/// Buffers kept for reuse; a few more than one convolution holds at once.
const POOL_SIZE: usize = 8;

impl Scratch {
    fn take(len: usize) -> Scratch {
        let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
        let best = (0..pool.len())
            .filter(|&i| pool[i].capacity() >= len)
            .min_by_key(|&i| pool[i].capacity());
        let mut v = best.map(|i| pool.swap_remove(i)).unwrap_or_default();
        drop(pool);
        v.truncate(len);
        v.resize(len, 0.0);
        Scratch(v)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
        pool.push(std::mem::take(&mut self.0));
        if pool.len() > POOL_SIZE {
            let smallest = (0..pool.len()).min_by_key(|&i| pool[i].capacity());
            if let Some(i) = smallest {
                pool.swap_remove(i);
            }
        }
    }
}

impl std::ops::Deref for Scratch {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &self.0
    }
}

impl std::ops::DerefMut for Scratch {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.0
    }
}

/// `x` `[n, c, h, w]` as `[n, top + h + bottom, left + w + right, c]`, zeros around.
fn channel_last(
    isa: Isa,
    x: &[f32],
    [n, c, h, w]: [usize; 4],
    [top, bottom, left, right]: [usize; 4],
) -> Scratch {
    let (hp, wp) = (top + h + bottom, left + w + right);
    let mut out = Scratch::take(n * hp * wp * c);
    // Bands of about 256 pixels: each read of a channel plane then takes 16 neighbouring
    // pixels, whole cache lines, rather than one short row of every plane.
    let band = 256usize.div_ceil(w).clamp(1, h.max(1));
    out.par_chunks_mut(hp * wp * c)
        .enumerate()
        .for_each(|(b, img)| {
            let (head, rest) = img.split_at_mut(top * wp * c);
            let (body, tail) = rest.split_at_mut(h * wp * c);
            head.fill(0.0);
            tail.fill(0.0);
            body.par_chunks_mut(band * wp * c)
                .enumerate()
                .for_each(|(bi, rows)| {
                    for row in rows.chunks_mut(wp * c) {
                        row[..left * c].fill(0.0);
                        row[(left + w) * c..].fill(0.0);
                    }
                    let nr = rows.len() / (wp * c);
                    // Rows iy0.. of every plane: [c, nr * w] with rows h * w apart; pixel j of
                    // the band goes to its place in the padded rows.
                    let src = &x[(b * c * h + bi * band) * w..];
                    transpose_into(isa, src, h * w, c, nr * w, rows, |j| {
                        ((j / w) * wp + left + j % w) * c
                    });
                });
        });
    out
}

/// `src` `[n, p, k]` (pixel-major) into `dst` `[n, k, p]` planes, adding `bias[k]` and
/// applying `act`.
fn to_planes(
    isa: Isa,
    src: &[f32],
    [n, p, k]: [usize; 3],
    bias: Option<&[f32]>,
    act: Act,
    dst: &mut [f32],
) {
    assert_eq!(src.len(), n * p * k);
    assert_eq!(dst.len(), n * p * k);
    dst.par_chunks_mut(k * p).enumerate().for_each(|(b, yb)| {
        let s = &src[b * p * k..(b + 1) * p * k];
        yb.par_chunks_mut(16 * p)
            .enumerate()
            .for_each(|(kb, planes)| {
                let k0 = kb * 16;
                let kn = planes.len() / p;
                transpose(isa, &s[k0..], k, p, kn, planes, p);
                // Plane j is channel k0 + j: the bias from k0 on, one per plane.
                im2col::finish(planes, p, kn, bias.map(|v| &v[k0..]), act);
            });
    });
}

/// `src` `[n, k, p]` planes as `[n * p, k]`, pixel-major.
fn to_pixels(isa: Isa, src: &[f32], [n, k, p]: [usize; 3]) -> Scratch {
    let mut dst = Scratch::take(n * p * k);
    dst.par_chunks_mut(p * k).enumerate().for_each(|(b, db)| {
        db.par_chunks_mut(64 * k).enumerate().for_each(|(blk, d)| {
            // Pixels q0.. of image b, 64 at a time: [k, 64] with rows p apart, as [64, k].
            let q0 = blk * 64;
            transpose(isa, &src[b * k * p + q0..], p, k, d.len() / k, d, k);
        });
    });
    dst
}

/// One stretch per kernel row: `kw * c` values of a channel-last input whose rows are `wp`
/// pixels wide, against weight rows `(ky * kw + kx) * c + ch`.
fn conv_runs(g: &Geom, wp: usize) -> Vec<Run> {
    (0..g.kh)
        .map(|ky| Run {
            a: ky * wp * g.c,
            b: ky * g.kw * g.c,
            len: g.kw * g.c,
        })
        .collect()
}

/// The weight `[k, c, kh, kw]` as `[(ky * kw + kx) * c + ch, k]`.
fn conv_weight_rows(isa: Isa, g: &Geom, w: &[f32]) -> Vec<f32> {
    // [k, c, taps] -> [k, taps, c] -> [taps * c, k], both steps as block transposes (an
    // element-by-element loop took 0.6 ms for the GAN's 64 -> 128 layer, a fifth of the
    // product it prepares).
    let taps = g.kh * g.kw;
    let mut tmp = vec![0.0; g.k * taps * g.c];
    for (kk, t) in tmp.chunks_mut(taps * g.c).enumerate() {
        transpose(isa, &w[kk * g.c * taps..], taps, g.c, taps, t, g.c);
    }
    let mut wt = vec![0.0; g.ckk() * g.k];
    transpose(isa, &tmp, taps * g.c, g.k, taps * g.c, &mut wt, g.k);
    wt
}

/// The weight `[k, c, kh, kw]` as `[kh * kw, k, c]`: one `[k, c]` block per tap.
fn tap_blocks(isa: Isa, g: &Geom, w: &[f32]) -> Vec<f32> {
    let taps = g.kh * g.kw;
    let mut wt = vec![0.0; w.len()];
    transpose(isa, w, taps, g.k * g.c, taps, &mut wt, g.k * g.c);
    wt
}

/// Offset of output pixel `i` (of the whole batch) in the padded channel-last input.
fn pixel_offset(g: &Geom, hp: usize, wp: usize, i: usize) -> usize {
    let (b, r) = (i / g.p(), i % g.p());
    let (oy, ox) = (r / g.ow, r % g.ow);
    ((b * hp + oy * g.sh) * wp + ox * g.sw) * g.c
}

/// `out` `[n, k, oh, ow]` = conv(x, w) + bias, then `act`.
pub fn forward(
    isa: Isa,
    g: &Geom,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    act: Act,
    out: &mut [f32],
) {
    let (hp, wp) = (g.h + 2 * g.ph, g.w + 2 * g.pw);
    let xin = channel_last(isa, x, [g.n, g.c, g.h, g.w], [g.ph, g.ph, g.pw, g.pw]);
    let runs = conv_runs(g, wp);
    let wt = conv_weight_rows(isa, g, w);

    let mut y = Scratch::take(g.n * g.p() * g.k);
    y.par_chunks_mut(CHUNK * g.k).enumerate().for_each_init(
        || Vec::with_capacity(CHUNK),
        |rows, (ci, d)| {
            rows.clear();
            let m0 = ci * CHUNK;
            rows.extend((m0..m0 + d.len() / g.k).map(|i| pixel_offset(g, hp, wp, i)));
            gemm_gather(isa, d, g.k, &xin, rows, &wt, g.k, g.k, &runs, false);
        },
    );
    to_planes(isa, &y, [g.n, g.p(), g.k], bias, act, out);
}

/// The kernel taps that reach the input rows `q * s + r` of one phase `r`: `(tap, d)` with
/// `d = (r + pad - tap) / s`, the output row `q + d` they come from, in ascending `d`.
fn phase_taps(taps: usize, s: usize, pad: usize, r: usize) -> Vec<(usize, isize)> {
    let mut v: Vec<(usize, isize)> = (0..taps)
        .filter_map(|t| {
            let e = (r + pad) as isize - t as isize;
            (e.rem_euclid(s as isize) == 0).then_some((t, e.div_euclid(s as isize)))
        })
        .collect();
    v.sort_by_key(|&(_, d)| d);
    v
}

/// `dx` `[n, c, h, w]` = the transpose of conv applied to `dy` `[n, k, oh, ow]` (the input
/// gradient, or a transposed convolution's forward pass), plus `bias` `[c]`, then `act`.
/// Every element of `dx` is written.
pub fn backward_data(
    isa: Isa,
    g: &Geom,
    dy: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    act: Act,
    dx: &mut [f32],
) {
    let ty: Vec<_> = (0..g.sh).map(|r| phase_taps(g.kh, g.sh, g.ph, r)).collect();
    let tx: Vec<_> = (0..g.sw).map(|r| phase_taps(g.kw, g.sw, g.pw, r)).collect();
    let span = |t: &[Vec<(usize, isize)>]| {
        let ds = t.iter().flatten().map(|&(_, d)| d);
        (ds.clone().min().unwrap_or(0), ds.max().unwrap_or(0))
    };
    let ((y0, y1), (x0, x1)) = (span(&ty), span(&tx));
    // Phase rows q < ceil(h / sh) read output-gradient rows q + d, d in y0..=y1: pad so that
    // all of them exist (zeros outside the real oh rows), and likewise for the columns.
    let (qh, qw) = (g.h.div_ceil(g.sh), g.w.div_ceil(g.sw));
    let top = (-y0).max(0) as usize;
    let left = (-x0).max(0) as usize;
    let hpd = top + g.oh.max((qh as isize + y1).max(0) as usize);
    let wpd = left + g.ow.max((qw as isize + x1).max(0) as usize);
    let dyin = channel_last(
        isa,
        dy,
        [g.n, g.k, g.oh, g.ow],
        [top, hpd - top - g.oh, left, wpd - left - g.ow],
    );
    let phases: Vec<(usize, usize)> = (0..g.sh)
        .flat_map(|ry| (0..g.sw).map(move |rx| (ry, rx)))
        .collect();
    let blocks = tap_blocks(isa, g, w);
    let mut bufs = Vec::with_capacity(phases.len());
    for &(ry, rx) in &phases {
        let (ph, pw) = (
            g.h.saturating_sub(ry).div_ceil(g.sh),
            g.w.saturating_sub(rx).div_ceil(g.sw),
        );
        // Weight rows in the order the runs read them: for each tap row, the phase's taps
        // along x in ascending d (descending kx), each the k output-gradient channels.
        let mut runs = Vec::new();
        let mut wt = Vec::new();
        for &(ky, dy_) in &ty[ry] {
            let Some(&(_, dx0)) = tx[rx].first() else {
                continue;
            };
            runs.push(Run {
                a: (((dy_ - y0) as usize) * wpd + (dx0 - x0) as usize) * g.k,
                b: wt.len() / g.c,
                len: tx[rx].len() * g.k,
            });
            for &(kx, _) in &tx[rx] {
                let t = ky * g.kw + kx;
                wt.extend_from_slice(&blocks[t * g.k * g.c..(t + 1) * g.k * g.c]);
            }
        }
        let offset = |i: usize| {
            let (b, r) = (i / (ph * pw), i % (ph * pw));
            let (qy, qx) = (r / pw, r % pw);
            // top + y0 >= 0 and left + x0 >= 0 by the choice of padding.
            let yy = (top as isize + y0) as usize + qy;
            let xx = (left as isize + x0) as usize + qx;
            ((b * hpd + yy) * wpd + xx) * g.k
        };
        let mut out = Scratch::take(g.n * ph * pw * g.c);
        out.par_chunks_mut(CHUNK * g.c).enumerate().for_each_init(
            || Vec::with_capacity(CHUNK),
            |rows, (ci, d)| {
                rows.clear();
                let m0 = ci * CHUNK;
                rows.extend((m0..m0 + d.len() / g.c).map(offset));
                gemm_gather(isa, d, g.c, &dyin, rows, &wt, g.c, g.c, &runs, false);
            },
        );
        bufs.push((ph, pw, out));
    }
    // Each phase's pixels into their places in the planes, bias and activation on the way:
    // 16 channels of a phase at a time transposed to planes, then the phases of one row
    // interleaved along it.
    let hw = g.hw();
    dx.par_chunks_mut(g.c * hw).enumerate().for_each(|(b, db)| {
        db.par_chunks_mut(16 * hw).enumerate().for_each_init(
            Vec::new,
            |tmp: &mut Vec<Vec<f32>>, (cb, planes)| {
                let c0 = cb * 16;
                let cn = planes.len() / hw;
                tmp.resize_with(g.sw, Vec::new);
                for ry in 0..g.sh.min(g.h) {
                    let row_phases = &bufs[ry * g.sw..(ry + 1) * g.sw];
                    for (t, (ph, pw, out)) in tmp.iter_mut().zip(row_phases) {
                        let q = ph * pw;
                        t.resize(cn * q, 0.0);
                        transpose(isa, &out[b * q * g.c + c0..], g.c, q, cn, t, q);
                    }
                    let rows_here = row_phases[0].0;
                    for (j, plane) in planes.chunks_mut(hw).enumerate() {
                        let bj = bias.map_or(0.0, |v| v[c0 + j]);
                        for qy in 0..rows_here {
                            let y = qy * g.sh + ry;
                            let dst = &mut plane[y * g.w..(y + 1) * g.w];
                            let src = |rx: usize| {
                                let (ph, pw, _) = &row_phases[rx];
                                &tmp[rx][(j * ph + qy) * pw..][..*pw]
                            };
                            if g.sw == 2 {
                                let (a, b) = (src(0), src(1));
                                simd(
                                    isa,
                                    Spread2 {
                                        dst,
                                        a,
                                        b,
                                        bias: bj,
                                        act,
                                    },
                                );
                            } else {
                                for rx in 0..g.sw.min(g.w) {
                                    let row = dst.iter_mut().skip(rx).step_by(g.sw);
                                    for (d, &v) in row.zip(src(rx)) {
                                        *d = act.apply(v + bj);
                                    }
                                }
                            }
                        }
                    }
                }
            },
        );
    });
}

/// One output row from the rows of its two sub-pixel phases (stride 2):
/// `dst[2t] = act(a[t] + bias)`, `dst[2t + 1] = act(b[t] + bias)`.
struct Spread2<'a> {
    dst: &'a mut [f32],
    a: &'a [f32],
    b: &'a [f32],
    bias: f32,
    act: Act,
}

impl Simd for Spread2<'_> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        let Spread2 {
            dst,
            a,
            b,
            bias,
            act,
        } = self;
        // As pairs, which the compiler interleaves in registers (a scalar loop with a
        // stride-2 store took as long as the gathers).
        let mut pairs = dst.chunks_exact_mut(2);
        for (d, (&u, &v)) in (&mut pairs).zip(a.iter().zip(b)) {
            d[0] = act.apply(u + bias);
            d[1] = act.apply(v + bias);
        }
        if let ([d], Some(&u)) = (pairs.into_remainder(), a.last()) {
            *d = act.apply(u + bias);
        }
    }
}

/// Weight gradient `[k, c, kh, kw]`: the gathers of [`forward`] against the output gradient,
/// summed over the batch's pixels, one accumulator per thread.
pub fn backward_weight(isa: Isa, g: &Geom, x: &[f32], dy: &[f32]) -> Vec<f32> {
    let (hp, wp) = (g.h + 2 * g.ph, g.w + 2 * g.pw);
    let xin = channel_last(isa, x, [g.n, g.c, g.h, g.w], [g.ph, g.ph, g.pw, g.pw]);
    let dyp = to_pixels(isa, dy, [g.n, g.k, g.p()]);
    let runs = conv_runs(g, wp);
    let m = g.n * g.p();
    let parts = rayon::current_num_threads().clamp(1, m.div_ceil(CHUNK).max(1));
    let per = m.div_ceil(parts);
    // Pixels in blocks of 256, so the block's output gradient stays in cache while every
    // weight row is summed along it.
    const BLOCK: usize = 256;
    let partial: Vec<Vec<f32>> = (0..parts)
        .into_par_iter()
        .map(|t| {
            let mut acc = vec![0.0; g.ckk() * g.k];
            let mut rows = Vec::with_capacity(BLOCK);
            let end = ((t + 1) * per).min(m);
            for m0 in (t * per..end).step_by(BLOCK) {
                let m1 = (m0 + BLOCK).min(end);
                rows.clear();
                rows.extend((m0..m1).map(|i| pixel_offset(g, hp, wp, i)));
                gemm_gather_tn(
                    isa,
                    &mut acc,
                    g.k,
                    &xin,
                    &rows,
                    &dyp[m0 * g.k..m1 * g.k],
                    g.k,
                    g.k,
                    &runs,
                );
            }
            acc
        })
        .collect();
    let sum = sum_parts(partial, g.ckk() * g.k);
    // [taps * c, k] -> [k, taps, c] -> [k, c, taps], the inverse of `conv_weight_rows`.
    let taps = g.kh * g.kw;
    let mut tmp = vec![0.0; g.k * g.ckk()];
    transpose(isa, &sum, g.k, taps * g.c, g.k, &mut tmp, taps * g.c);
    let mut dw = vec![0.0; g.k * g.ckk()];
    for (kk, d) in dw.chunks_mut(g.c * taps).enumerate() {
        transpose(isa, &tmp[kk * taps * g.c..], g.c, taps, g.c, d, taps);
    }
    dw
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::kernels::reference::{self, random, rel_err};
    use crate::rng::Rng;

    /// Every instruction set the CPU has (the portable loops too, which no convolution picks
    /// but which check the kernels' definition) against the f64 direct convolution, at
    /// shapes with strides 1-3, kernels 1-4, paddings 0-2, kernels smaller than the stride,
    /// odd sizes and channel counts around the 12 x 32 tiles.
    #[test]
    fn direct_kernels_match_the_definition() {
        let mut rng = Rng::new(21);
        let shapes: &[([usize; 4], usize, usize, usize, usize)] = &[
            ([2, 3, 9, 11], 17, 3, 2, 1),
            ([1, 16, 14, 14], 33, 4, 2, 1),
            ([3, 5, 7, 7], 40, 4, 2, 1),
            ([2, 20, 8, 6], 16, 2, 2, 0),
            ([1, 4, 10, 9], 19, 3, 1, 1),
            ([2, 6, 11, 13], 24, 3, 3, 2),
            ([1, 7, 9, 8], 18, 1, 2, 0),
            ([2, 33, 5, 6], 31, 3, 1, 2),
        ];
        for isa in Isa::available() {
            for &(dims, k, ks, s, p) in shapes {
                let g = Geom::new(dims, k, [ks, ks], [s, s], [p, p]).unwrap();
                let x = random(g.n * g.c * g.hw(), &mut rng);
                let w = random(g.k * g.ckk(), &mut rng);
                let bias = random(g.k.max(g.c), &mut rng);
                let dy = random(g.n * g.k * g.p(), &mut rng);
                let want = reference::forward(&g, &x, &w, Some(&bias[..g.k]));
                let (want_dx, want_dw) = reference::backward(&g, &x, &w, &dy);
                let mut y = vec![f32::NAN; want.len()];
                forward(isa, &g, &x, &w, Some(&bias[..g.k]), Act::None, &mut y);
                assert!(rel_err(&y, &want) < 1e-5, "{isa:?} {g:?} forward");
                let mut dx = vec![f32::NAN; x.len()];
                backward_data(isa, &g, &dy, &w, None, Act::None, &mut dx);
                assert!(rel_err(&dx, &want_dx) < 1e-5, "{isa:?} {g:?} input grad");
                let dw = backward_weight(isa, &g, &x, &dy);
                assert!(rel_err(&dw, &want_dw) < 1e-5, "{isa:?} {g:?} weight grad");
                // A transposed convolution's bias and activation, in the same pass.
                let mut t = vec![f32::NAN; x.len()];
                let act = Act::LeakyRelu(0.2);
                backward_data(isa, &g, &dy, &w, Some(&bias[..g.c]), act, &mut t);
                for (i, (&a, &d)) in t.iter().zip(&dx).enumerate() {
                    let c = (i / g.hw()) % g.c;
                    assert!((a - act.apply(d + bias[c])).abs() < 1e-5);
                }
            }
        }
    }
}
