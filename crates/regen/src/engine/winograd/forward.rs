//! The forward pass (and with the kernel flipped, the input gradient), a band of tile
//! rows at a time.

use super::*;

/// `out` `[n, k, oh, ow]` = conv3x3(x, w) + bias, then `act`; stride 1, padding `g.ph`,
/// `g.pw` (each at most 2). The input goes channel-last a band of tile rows at a time, so
/// the transforms read and write whole 16-channel vectors, and each of the 36 products
/// is `[tiles, c] x [c, k]` ([`gemm_nn16`]).
pub fn forward(
    isa: Isa,
    g: &Geom,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    act: Act,
    out: &mut [f32],
) {
    debug_assert!(g.kh == 3 && g.kw == 3 && g.sh == 1 && g.sw == 1 && g.ph <= 2 && g.pw <= 2);
    let (th, tw) = (g.oh.div_ceil(4), g.ow.div_ceil(4));
    let (cp, kp) = (g.c.next_multiple_of(CB), g.k.next_multiple_of(CB));
    let tl = Tiling { g, tw, cp };
    let u = transform_weights_cl(w, g.k, g.c, cp, kp);
    let mut bias_p = vec![0.0f32; kp];
    if let Some(b) = bias {
        bias_p[..g.k].copy_from_slice(b);
    }
    let threads = rayon::current_num_threads();
    let p = g.p();
    let few = g.n < 2 * threads;
    let (gs, nty) = plan(g, th, tw, cp, kp);
    let ow4 = 4 * tw;
    // One band: into `yb` `[nb, 4 nty, 4 tw, kp]`, channel-last, bias and `act` applied.
    let band_out =
        |xin: &mut Vec<f32>, v: &mut Vec<f32>, m: &mut Vec<f32>, band: Band, yb: &mut [f32]| {
            let nt = tl.tiles(&band);
            tl.copy_in(isa, x, &band, xin);
            v.resize(36 * nt * cp, 0.0);
            m.resize(36 * nt * kp, 0.0);
            simd(
                isa,
                InputTransformCl {
                    tl: &tl,
                    band,
                    xin,
                    v,
                },
            );
            for i in 0..36 {
                gemm_nn16(
                    isa,
                    &mut m[i * nt * kp..][..nt * kp],
                    kp,
                    &v[i * nt * cp..][..nt * cp],
                    cp,
                    &u[i * cp * kp..],
                    kp,
                    [nt, kp, g.c],
                    false,
                );
            }
            simd(
                isa,
                OutputTransformCl {
                    tl: &tl,
                    band,
                    m,
                    kcp: kp,
                    bias: &bias_p,
                    act,
                    y: yb,
                },
            );
        };
    // The first `rows` rows of a band's channel-last output `[.., 4 tw, kp]` (those inside
    // the output) into planes `[kn, ps]` from their start.
    let to_planes = |src: &[f32], rows: usize, kn: usize, planes: &mut [f32], ps: usize| {
        if ow4 == g.ow {
            transpose(isa, src, kp, rows * g.ow, kn, planes, ps);
        } else {
            for r in 0..rows {
                let row = &src[r * ow4 * kp..];
                transpose(isa, row, kp, g.ow, kn, &mut planes[r * g.ow..], ps);
            }
        }
    };
    if few {
        // Few images: each image's bands go out to the threads in runs of consecutive
        // bands, each run owning its rows of every output plane (so it writes them in
        // place, with no output-sized buffer between).
        let bands = th.div_ceil(nty);
        let runs = (4 * threads).min(bands);
        let per = bands.div_ceil(runs);
        let run_rows = |r: usize| {
            (
                (4 * r * per * nty).min(g.oh),
                (4 * (r + 1) * per * nty).min(g.oh),
            )
        };
        for (b, img) in out.chunks_mut(g.k * p).enumerate() {
            // pieces[r][k]: rows run_rows(r) of plane k.
            let mut pieces: Vec<Vec<&mut [f32]>> = (0..runs).map(|_| Vec::new()).collect();
            for plane in img.chunks_mut(p) {
                let mut rest = plane;
                for (r, piece) in pieces.iter_mut().enumerate() {
                    let (lo, hi) = run_rows(r);
                    let (head, tail) = rest.split_at_mut((hi - lo) * g.ow);
                    piece.push(head);
                    rest = tail;
                }
            }
            pieces.into_par_iter().enumerate().for_each_init(
                || (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new()),
                |(xin, v, m, yb, planes), (r, mut piece)| {
                    let oy_run = run_rows(r).0;
                    for bi in r * per..((r + 1) * per).min(bands) {
                        let ty0 = bi * nty;
                        let band = Band {
                            b0: b,
                            nb: 1,
                            ty0,
                            nty: nty.min(th - ty0),
                        };
                        let rows = 4 * band.nty;
                        yb.resize(rows * ow4 * kp, 0.0);
                        band_out(xin, v, m, band, yb);
                        // The band's rows inside the output, as planes [k, rows * ow], then
                        // into each plane's piece.
                        let (oy0, oy1) = (4 * ty0, (4 * ty0 + rows).min(g.oh));
                        let q = (oy1 - oy0) * g.ow;
                        planes.resize(g.k * q, 0.0);
                        to_planes(yb, oy1 - oy0, g.k, &mut planes[..], q);
                        for (k, dst) in piece.iter_mut().enumerate() {
                            dst[(oy0 - oy_run) * g.ow..][..q]
                                .copy_from_slice(&planes[k * q..][..q]);
                        }
                    }
                },
            );
        }
    } else {
        // Every thread a few images: each task takes whole images, band by band.
        out.par_chunks_mut(gs * g.k * p).enumerate().for_each_init(
            || (Vec::new(), Vec::new(), Vec::new(), Vec::new()),
            |(xin, v, m, yb), (item, chunk)| {
                let nb = chunk.len() / (g.k * p);
                for ty0 in (0..th).step_by(nty) {
                    let band = Band {
                        b0: item * gs,
                        nb,
                        ty0,
                        nty: nty.min(th - ty0),
                    };
                    let rows = 4 * band.nty;
                    yb.resize(nb * rows * ow4 * kp, 0.0);
                    band_out(xin, v, m, band, yb);
                    for bi in 0..nb {
                        let planes = &mut chunk[bi * g.k * p..][..g.k * p];
                        let oy0 = 4 * ty0;
                        let valid = rows.min(g.oh - oy0);
                        let src = &yb[bi * rows * ow4 * kp..];
                        to_planes(src, valid, g.k, &mut planes[oy0 * g.ow..], p);
                    }
                }
            },
        );
    }
}
