//! Direct convolutions over channel-last copies, for strided and transposed layers (and the
//! first layers, whose one or three input channels give Winograd nothing to save).
//!
//! A few images at a time (one task of a thread, which copies, multiplies and copies back
//! while all of it is in its core's cache), the input is copied to `[h, w, c]` per image
//! with its zero padding around it; then the channels of one kernel row's taps lie side by
//! side, so an output pixel is a sum over `kh` contiguous stretches of `kw * c` values
//! against the matching rows of the weight, which [`gemm_gather`] computes for 12 pixels and
//! 32 output channels at a time without the unfolded copy (`kh * kw` times the input) that
//! [`super::im2col`] writes and reads.
//! A transposed convolution (and the input gradient of a strided one) splits into `sh * sw`
//! sub-pixel phases: the output pixels `(qy * sh + ry, qx * sw + rx)` of one phase each see
//! a stride-1 convolution of the (channel-last) input with the kernel taps of that phase, so
//! there is no scatter with overlapping adds. The weight gradient sums the same gathers
//! against the output gradient, pixel-major ([`gemm_gather_tn`]).
//!
//! The kernels need AVX-512 ([`fits`]); elsewhere [`super::kernels`] keeps to matrix
//! products over unfolded images.

use rayon::prelude::*;

use super::gemm::{Isa, Run, Simd, gemm_gather, gemm_gather_tn, simd, transpose};
use super::geom::{Act, Geom, sum_parts};

mod layout;

use layout::{group_channel_last, to_planes};

/// Output pixels per parallel task, about: each task copies its images' inputs, multiplies
/// and copies the products back while all of it is in its core's cache (the whole batch
/// copied at once, then multiplied, then copied back, left each step to the L3 cache or
/// memory: 0.55 ms of the GAN discriminator's 2.9 ms input gradient was that last copy).
const GROUP_PIXELS: usize = 192;

/// Images per task for `p` output pixels per image: about [`GROUP_PIXELS`] pixels, with at
/// least four tasks per thread where the batch allows.
fn group(n: usize, p: usize) -> usize {
    let spread = (n / (4 * rayon::current_num_threads())).max(1);
    GROUP_PIXELS.div_ceil(p.max(1)).min(spread).max(1)
}

/// Whether the direct kernels can serve this shape on `isa`: AVX-512, and 16 channels or
/// more on each side (fewer leave the 16-lane registers mostly empty, and the stretches of
/// the summed axis too short to pay for setting up their rows).
pub fn fits(isa: Isa, g: &Geom) -> bool {
    isa == Isa::Avx512 && g.c >= 16 && g.k >= 16
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

/// Offset of output pixel `i` (of a group of images) in their padded channel-last copy.
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
    let runs = conv_runs(g, wp);
    let wt = conv_weight_rows(isa, g, w);
    let (p, pads) = (g.p(), [g.ph, g.ph, g.pw, g.pw]);
    if g.n < 2 * rayon::current_num_threads() {
        // Few images (a restore): each copied whole, its pixels shared out in blocks.
        const BLOCK: usize = 1024;
        let (mut xin, mut y) = (Vec::new(), vec![0.0f32; p * g.k]);
        for (b, ob) in out.chunks_mut(g.k * p).enumerate() {
            group_channel_last(isa, x, [g.c, g.h, g.w], pads, b, 1, &mut xin);
            y.par_chunks_mut(BLOCK * g.k)
                .enumerate()
                .for_each(|(bi, yb)| {
                    let rows: Vec<usize> = (bi * BLOCK..bi * BLOCK + yb.len() / g.k)
                        .map(|i| pixel_offset(g, hp, wp, i))
                        .collect();
                    gemm_gather(isa, yb, g.k, &xin, &rows, &wt, g.k, g.k, &runs, false);
                });
            to_planes(isa, &y, [p, g.k], bias, act, ob);
        }
        return;
    }
    let gs = group(g.n, p);
    out.par_chunks_mut(gs * g.k * p).enumerate().for_each_init(
        || (Vec::new(), Vec::new(), Vec::new()),
        |(xin, y, rows): &mut (Vec<f32>, Vec<f32>, Vec<usize>), (gi, og)| {
            let nb = og.len() / (g.k * p);
            group_channel_last(isa, x, [g.c, g.h, g.w], pads, gi * gs, nb, xin);
            rows.clear();
            rows.extend((0..nb * p).map(|i| pixel_offset(g, hp, wp, i)));
            y.resize(nb * p * g.k, 0.0);
            gemm_gather(isa, y, g.k, xin, rows, &wt, g.k, g.k, &runs, false);
            for (ob, yb) in og.chunks_mut(g.k * p).zip(y.chunks(p * g.k)) {
                to_planes(isa, yb, [p, g.k], bias, act, ob);
            }
        },
    );
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

/// One sub-pixel phase of [`backward_data`]: its rows and columns (`ph` x `pw` pixels per
/// image), its stretches of the channel-last output gradient and their weight rows.
struct Phase {
    ph: usize,
    pw: usize,
    runs: Vec<Run>,
    wt: Vec<f32>,
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
    let pads = [top, hpd - top - g.oh, left, wpd - left - g.ow];
    let blocks = tap_blocks(isa, g, w);
    // Phases row by row: (ry, rx) at ry * sw + rx.
    let phases: Vec<Phase> = (0..g.sh)
        .flat_map(|ry| (0..g.sw).map(move |rx| (ry, rx)))
        .map(|(ry, rx)| {
            // Weight rows in the order the runs read them: for each tap row, the phase's
            // taps along x in ascending d (descending kx), each the k gradient channels.
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
            Phase {
                ph: g.h.saturating_sub(ry).div_ceil(g.sh),
                pw: g.w.saturating_sub(rx).div_ceil(g.sw),
                runs,
                wt,
            }
        })
        .collect();
    let (hw, kp) = (g.hw(), g.k * g.p());
    assert_eq!(dy.len(), g.n * kp, "backward_data: output gradient size");
    let gs = group(g.n, hw.div_ceil(g.sh * g.sw));
    type Bufs = (Vec<f32>, Vec<Vec<f32>>, Vec<usize>, Vec<Vec<f32>>);
    dx.par_chunks_mut(gs * g.c * hw).enumerate().for_each_init(
        || -> Bufs { Default::default() },
        |(dyin, bufs, rows, tmp), (gi, dg)| {
            let (b0, nb) = (gi * gs, dg.len() / (g.c * hw));
            group_channel_last(isa, dy, [g.k, g.oh, g.ow], pads, b0, nb, dyin);
            bufs.resize_with(phases.len(), Vec::new);
            for (buf, ph) in bufs.iter_mut().zip(&phases) {
                let q = ph.ph * ph.pw;
                let offset = |i: usize| {
                    let (b, r) = (i / q, i % q);
                    let (qy, qx) = (r / ph.pw, r % ph.pw);
                    // top + y0 >= 0 and left + x0 >= 0 by the choice of padding.
                    let yy = (top as isize + y0) as usize + qy;
                    let xx = (left as isize + x0) as usize + qx;
                    ((b * hpd + yy) * wpd + xx) * g.k
                };
                rows.clear();
                rows.extend((0..nb * q).map(offset));
                buf.resize(nb * q * g.c, 0.0);
                gemm_gather(isa, buf, g.c, dyin, rows, &ph.wt, g.c, g.c, &ph.runs, false);
            }
            for (b, db) in dg.chunks_mut(g.c * hw).enumerate() {
                spread_image(isa, g, &phases, bufs, b, bias, act, db, tmp);
            }
        },
    );
}

/// Image `b` of a group's phase products `bufs` (`[nb, ph * pw, c]` each) into its planes
/// `db` `[c, h, w]`, bias and activation on the way: 16 channels of a phase at a time
/// transposed to planes in `tmp`, then the phases of one row interleaved along it.
#[allow(clippy::too_many_arguments)]
fn spread_image(
    isa: Isa,
    g: &Geom,
    phases: &[Phase],
    bufs: &[Vec<f32>],
    b: usize,
    bias: Option<&[f32]>,
    act: Act,
    db: &mut [f32],
    tmp: &mut Vec<Vec<f32>>,
) {
    let hw = g.hw();
    tmp.resize_with(g.sw, Vec::new);
    for (cb, planes) in db.chunks_mut(16 * hw).enumerate() {
        let c0 = cb * 16;
        let cn = planes.len() / hw;
        let bias = bias.map(|v| &v[c0..c0 + cn]);
        for ry in 0..g.sh.min(g.h) {
            let row = ry * g.sw..(ry + 1) * g.sw;
            for ((t, ph), out) in tmp
                .iter_mut()
                .zip(&phases[row.clone()])
                .zip(&bufs[row.clone()])
            {
                let q = ph.ph * ph.pw;
                t.resize(cn * q, 0.0);
                transpose(isa, &out[b * q * g.c + c0..], g.c, q, cn, t, q);
            }
            let ph = phases[row.start].ph;
            if g.sw == 2 {
                let (a, b) = (&tmp[0], &tmp[1]);
                let at = (ph, ry, g.sh, g.w);
                simd(
                    isa,
                    Spread2 {
                        planes,
                        hw,
                        a,
                        b,
                        at,
                        bias,
                        act,
                    },
                );
                continue;
            }
            for (j, plane) in planes.chunks_mut(hw).enumerate() {
                let bj = bias.map_or(0.0, |v| v[j]);
                for qy in 0..ph {
                    let y = qy * g.sh + ry;
                    let dst = &mut plane[y * g.w..(y + 1) * g.w];
                    for (rx, t) in tmp.iter().enumerate().take(g.sw.min(g.w)) {
                        let pw = phases[row.start + rx].pw;
                        let src = &t[(j * ph + qy) * pw..][..pw];
                        for (d, &v) in dst.iter_mut().skip(rx).step_by(g.sw).zip(src) {
                            *d = act.apply(v + bj);
                        }
                    }
                }
            }
        }
    }
}

/// Rows `qy * sh + ry`, `qy < ph`, of a block of planes `hw` long and `w` wide, from the
/// two sub-pixel phases of stride 2, `a` (even columns) and `b` (odd), each `[planes, ph,
/// phase width]`: `row[2t] = act(a[t] + bias[plane])`, `row[2t + 1] = act(b[t] + ..)`. One
/// call for the whole block: one per row (14 pixels in the GAN) cost more than the rows.
struct Spread2<'a> {
    planes: &'a mut [f32],
    hw: usize,
    a: &'a [f32],
    b: &'a [f32],
    /// `(ph, ry, sh, w)`.
    at: (usize, usize, usize, usize),
    bias: Option<&'a [f32]>,
    act: Act,
}

impl Simd for Spread2<'_> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        let Spread2 {
            planes,
            hw,
            a,
            b,
            at: (ph, ry, sh, w),
            bias,
            act,
        } = self;
        let (wa, wb) = (w.div_ceil(2), w / 2);
        for (j, plane) in planes.chunks_mut(hw).enumerate() {
            let bj = bias.map_or(0.0, |v| v[j]);
            for qy in 0..ph {
                let y = qy * sh + ry;
                let dst = &mut plane[y * w..(y + 1) * w];
                let ra = &a[(j * ph + qy) * wa..][..wa];
                let rb = &b[(j * ph + qy) * wb..][..wb];
                // As pairs, which the compiler interleaves in registers.
                let mut pairs = dst.chunks_exact_mut(2);
                for (d, (&u, &v)) in (&mut pairs).zip(ra.iter().zip(rb)) {
                    d[0] = act.apply(u + bj);
                    d[1] = act.apply(v + bj);
                }
                if let ([d], Some(&u)) = (pairs.into_remainder(), ra.last()) {
                    *d = act.apply(u + bj);
                }
            }
        }
    }
}

/// Weight gradient `[k, c, kh, kw]`: the gathers of [`forward`] against the output gradient,
/// summed over the batch's pixels, one accumulator per thread.
pub fn backward_weight(isa: Isa, g: &Geom, x: &[f32], dy: &[f32]) -> Vec<f32> {
    let (hp, wp) = (g.h + 2 * g.ph, g.w + 2 * g.pw);
    let runs = conv_runs(g, wp);
    let (p, kp, pads) = (g.p(), g.k * g.p(), [g.ph, g.ph, g.pw, g.pw]);
    let gs = group(g.n, p);
    let groups = g.n.div_ceil(gs);
    let parts = rayon::current_num_threads().clamp(1, groups);
    let per = groups.div_ceil(parts);
    // Pixels in blocks of 256, so the block's output gradient stays in cache while every
    // weight row is summed along it.
    const BLOCK: usize = 256;
    let partial: Vec<Vec<f32>> = (0..parts)
        .into_par_iter()
        .map(|t| {
            let mut acc = vec![0.0; g.ckk() * g.k];
            let (mut xin, mut dyp, mut rows) = (Vec::new(), Vec::new(), Vec::new());
            for gi in t * per..((t + 1) * per).min(groups) {
                let (b0, nb) = (gi * gs, gs.min(g.n - gi * gs));
                group_channel_last(isa, x, [g.c, g.h, g.w], pads, b0, nb, &mut xin);
                // The output gradient pixel-major: [k, p] planes -> [p, k] per image.
                dyp.resize(nb * kp, 0.0);
                for (b, d) in dyp.chunks_mut(kp).enumerate() {
                    transpose(isa, &dy[(b0 + b) * kp..], p, g.k, p, d, g.k);
                }
                rows.clear();
                rows.extend((0..nb * p).map(|i| pixel_offset(g, hp, wp, i)));
                for m0 in (0..nb * p).step_by(BLOCK) {
                    let m1 = (m0 + BLOCK).min(nb * p);
                    gemm_gather_tn(
                        isa,
                        &mut acc,
                        g.k,
                        &xin,
                        &rows[m0..m1],
                        &dyp[m0 * g.k..m1 * g.k],
                        g.k,
                        g.k,
                        &runs,
                    );
                }
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
    use crate::engine::kernels::reference::{self, rel_err};
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
                let x = rng.normals(g.n * g.c * g.hw());
                let w = rng.normals(g.k * g.ckk());
                let bias = rng.normals(g.k.max(g.c));
                let dy = rng.normals(g.n * g.k * g.p());
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
