//! The weight gradient: the adjoints of the output and weight transforms, summed over
//! bands of tiles.

use super::*;

/// `G^T u`: the adjoint of the weight transform, 6 values back to 3.
#[inline(always)]
fn g_adj(u: [f32; 6]) -> [f32; 3] {
    [
        u[0] / 4.0 - (u[1] + u[2]) / 6.0 + (u[3] + u[4]) / 24.0,
        (u[2] - u[1]) / 6.0 + (u[3] - u[4]) / 12.0,
        (u[3] + u[4] - u[1] - u[2]) / 6.0 + u[5],
    ]
}

/// `A y`: the adjoint of the output transform, 4 values out to 6.
#[inline(always)]
fn a_adj<T: Val>(y: [T; 4]) -> [T; 6] {
    [
        y[0],
        y[0] + y[1] + y[2] + y[3],
        y[0] - y[1] + y[2] - y[3],
        y[0] + y[1] * 2.0 + y[2] * 4.0 + y[3] * 8.0,
        y[0] - y[1] * 2.0 + y[2] * 4.0 - y[3] * 8.0,
        y[3],
    ]
}

/// Weight gradient `[k, c, 3, 3]` of a 3x3 stride-1 convolution by the same algorithm run
/// backwards: `dU = sum over tiles of (A dY A^T) . (B^T d B)`, 36 products `[k, tiles] x
/// [tiles, c]` summed along the tiles ([`gemm_tn16_acc`]), then `dg = G^T dU G`. The bands
/// of tile rows are shared out among the threads, each with its own sum.
pub fn backward_weight(isa: Isa, g: &Geom, x: &[f32], dy: &[f32]) -> Vec<f32> {
    debug_assert!(g.kh == 3 && g.kw == 3 && g.sh == 1 && g.sw == 1 && g.ph <= 2 && g.pw <= 2);
    let (th, tw) = (g.oh.div_ceil(4), g.ow.div_ceil(4));
    let (cp, kp) = (g.c.next_multiple_of(CB), g.k.next_multiple_of(CB));
    let tl = Tiling { g, tw, cp };
    let (gs, nty) = plan(g, th, tw, cp, kp);
    let bands: Vec<Band> = (0..g.n)
        .step_by(gs)
        .flat_map(|b0| {
            (0..th).step_by(nty).map(move |ty0| Band {
                b0,
                nb: gs.min(g.n - b0),
                ty0,
                nty: nty.min(th - ty0),
            })
        })
        .collect();
    let parts = rayon::current_num_threads().clamp(1, bands.len().max(1));
    let per = bands.len().div_ceil(parts);
    let du = bands
        .par_chunks(per.max(1))
        .map(|bands| {
            let mut acc = vec![0.0f32; 36 * kp * cp];
            let (mut xin, mut dyin, mut v, mut gd) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for &band in bands {
                let nt = tl.tiles(&band);
                tl.copy_in(isa, x, &band, &mut xin);
                tl.copy_grad_in(isa, dy, kp, &band, &mut dyin);
                v.resize(36 * nt * cp, 0.0);
                gd.resize(36 * nt * kp, 0.0);
                simd(
                    isa,
                    InputTransformCl {
                        tl: &tl,
                        band,
                        xin: &xin,
                        v: &mut v,
                    },
                );
                simd(
                    isa,
                    GradTransformCl {
                        tw,
                        band,
                        kp,
                        dyin: &dyin,
                        gd: &mut gd,
                    },
                );
                for i in 0..36 {
                    gemm_tn16_acc(
                        isa,
                        &mut acc[i * kp * cp..][..kp * cp],
                        cp,
                        &gd[i * nt * kp..][..nt * kp],
                        kp,
                        &v[i * nt * cp..][..nt * cp],
                        cp,
                        [kp, cp, nt],
                    );
                }
            }
            acc
        })
        .reduce_with(|mut a, b| {
            for (a, b) in a.iter_mut().zip(b) {
                *a += b;
            }
            a
        })
        .unwrap_or_else(|| vec![0.0; 36 * kp * cp]);
    let mut dw = vec![0.0; g.k * g.c * 9];
    for (kc, out) in dw.chunks_exact_mut(9).enumerate() {
        let (kk, cc) = (kc / g.c, kc % g.c);
        let mut u = [[0.0f32; 6]; 6];
        for (i, e) in u.iter_mut().flatten().enumerate() {
            *e = du[(i * kp + kk) * cp + cc];
        }
        let mut tmp = [[0.0f32; 6]; 3]; // G^T u: 3x6
        for s in 0..6 {
            let col = g_adj([u[0][s], u[1][s], u[2][s], u[3][s], u[4][s], u[5][s]]);
            for a in 0..3 {
                tmp[a][s] = col[a];
            }
        }
        for a in 0..3 {
            let row = g_adj(tmp[a]);
            out[a * 3..a * 3 + 3].copy_from_slice(&row);
        }
    }
    dw
}

/// `gd[i][t][k] = (A dY A^T)[i]` for the 4x4 output-gradient block of every tile `t` of the
/// band, 16 output channels at a time, from the band's channel-last gradient
/// `[nb, 4 nty, 4 tw, kp]`.
struct GradTransformCl<'b> {
    tw: usize,
    band: Band,
    kp: usize,
    dyin: &'b [f32],
    gd: &'b mut [f32],
}

impl Simd for GradTransformCl<'_> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        let GradTransformCl {
            tw,
            band,
            kp,
            dyin,
            gd,
        } = self;
        let nt = band.nb * band.nty * tw;
        let ow = 4 * tw;
        let mut tmp = [[F16([0.0; CB]); 4]; 6];
        for t in 0..nt {
            let (bi, ty, tx) = (t / (band.nty * tw), (t / tw) % band.nty, t % tw);
            let base = ((bi * 4 * band.nty + 4 * ty) * ow + 4 * tx) * kp;
            for k0 in (0..kp).step_by(CB) {
                for c in 0..4 {
                    let col = a_adj(std::array::from_fn(|a| {
                        F16::load(&dyin[base + (a * ow + c) * kp + k0..])
                    }));
                    for r in 0..6 {
                        tmp[r][c] = col[r];
                    }
                }
                for (r, row) in tmp.iter().enumerate() {
                    for (s, o) in a_adj(*row).into_iter().enumerate() {
                        o.store(&mut gd[((r * 6 + s) * nt + t) * kp + k0..]);
                    }
                }
            }
        }
    }
}
