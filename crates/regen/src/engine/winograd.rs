//! Winograd F(4x4, 3x3) (Lavin and Gray 2016, "Fast Algorithms for Convolutional Neural
//! Networks"): each 4x4 block of output is computed from a 6x6 block of input with 36
//! element-wise products per channel pair instead of 144, so a 3x3 stride-1 convolution
//! needs 4x fewer multiply-adds. Over a block of tiles the 36 products become 36 matrix
//! products `[k, c] x [c, tiles]`, run by `gemm`.
//!
//! With interpolation points 0, 1, -1, 2, -2 and infinity the transforms are
//! `Y = A^T [(G g G^T) . (B^T d B)] A`, where
//!
//! ```text
//! B^T = [4  0 -5  0 1 0]   G = [ 1/4     0     0]   A^T = [1 1  1 1  1 0]
//!       [0 -4 -4  1 1 0]       [-1/6  -1/6  -1/6]         [0 1 -1 2 -2 0]
//!       [0  4 -4 -1 1 0]       [-1/6   1/6  -1/6]         [0 1  1 4  4 0]
//!       [0 -2 -1  2 1 0]       [1/24  1/12   1/6]         [0 1 -1 8 -8 1]
//!       [0  2 -1 -2 1 0]       [1/24 -1/12   1/6]
//!       [0  4  0 -5 0 1]       [   0     0     1]
//! ```
//!
//! Its rounding error is larger than a direct sum's (the transforms scale values by up to
//! 8 and 1/24); `kernels::tests` bounds it at 2e-5 of the output's scale, and the PyTorch
//! step tests show training does not notice it.

use rayon::prelude::*;

use super::gemm::{Isa, Simd, gemm_nt_acc, gemm_tn, simd};
use super::kernels::{Act, Geom};

#[inline(always)]
fn bt(d: [f32; 6]) -> [f32; 6] {
    [
        4.0 * d[0] - 5.0 * d[2] + d[4],
        -4.0 * (d[1] + d[2]) + d[3] + d[4],
        4.0 * (d[1] - d[2]) - d[3] + d[4],
        2.0 * (d[3] - d[1]) - d[2] + d[4],
        2.0 * (d[1] - d[3]) - d[2] + d[4],
        4.0 * d[1] - 5.0 * d[3] + d[5],
    ]
}

#[inline(always)]
fn at(m: [f32; 6]) -> [f32; 4] {
    let (s12, d12) = (m[1] + m[2], m[1] - m[2]);
    let (s34, d34) = (m[3] + m[4], m[3] - m[4]);
    [
        m[0] + s12 + s34,
        d12 + 2.0 * d34,
        s12 + 4.0 * s34,
        d12 + 8.0 * d34 + m[5],
    ]
}

#[inline(always)]
fn gt(g: [f32; 3]) -> [f32; 6] {
    [
        g[0] / 4.0,
        -(g[0] + g[1] + g[2]) / 6.0,
        -(g[0] - g[1] + g[2]) / 6.0,
        g[0] / 24.0 + g[1] / 12.0 + g[2] / 6.0,
        g[0] / 24.0 - g[1] / 12.0 + g[2] / 6.0,
        g[2],
    ]
}

/// `U = G g G^T` for every (k, c), laid out `[36, c, k]`: each of the 36 products reads its
/// left factor `[k, c]` stored transposed, as [`gemm_tn`] wants. Both passes run in
/// parallel: for 256 x 256 channels this is 65,536 small transforms.
fn transform_weights(w: &[f32], k: usize, c: usize) -> Vec<f32> {
    // One input channel per task: its 36 x k values, each row of k contiguous in `u`.
    let per_channel: Vec<Vec<f32>> = (0..c)
        .into_par_iter()
        .map(|cc| {
            let mut out = vec![0.0f32; 36 * k];
            for kk in 0..k {
                let g = &w[(kk * c + cc) * 9..][..9];
                let mut tmp = [[0.0f32; 3]; 6]; // G g: 6x3
                for j in 0..3 {
                    let col = gt([g[j], g[3 + j], g[6 + j]]);
                    for r in 0..6 {
                        tmp[r][j] = col[r];
                    }
                }
                for r in 0..6 {
                    let row = gt(tmp[r]);
                    for s in 0..6 {
                        out[(r * 6 + s) * k + kk] = row[s];
                    }
                }
            }
            out
        })
        .collect();
    let mut u = vec![0.0f32; 36 * k * c];
    for (cc, vals) in per_channel.iter().enumerate() {
        for i in 0..36 {
            u[(i * c + cc) * k..][..k].copy_from_slice(&vals[i * k..(i + 1) * k]);
        }
    }
    u
}

/// How one call is split into work items, each owning a contiguous piece of the output:
/// `group` whole images, or one image and `kc` of its output channels.
struct Split {
    group: usize,
    kc: usize,
    tb: usize,
}

fn split(g: &Geom, tiles_per_image: usize) -> Split {
    let threads = rayon::current_num_threads();
    let items = 2 * threads;
    let (group, kc) = if g.n >= items || threads == 1 {
        // Small images are grouped so that a product sees enough tiles (at least 32, the
        // vector kernel's column block), as long as every thread still gets an item.
        let want = 32usize.div_ceil(tiles_per_image);
        (want.clamp(1, (g.n / threads).max(1)), g.k)
    } else {
        // Few large images: split the output channels (the input transform is redone per
        // split, a few percent of the work).
        let want = threads.div_ceil(g.n).min((g.k / 8).max(1));
        let nkc = (want..=g.k).find(|d| g.k.is_multiple_of(*d)).unwrap_or(g.k);
        (1, g.k / nkc)
    };
    // Tiles per block: the block's transformed input and products, 36 * (c + kc) * tb
    // floats, stay near 2 MB (Zen 4: 1 MB L2 per core, 32 MB L3).
    // A multiple of 32, the vector kernel's column block: products run over whole blocks
    // (the columns past the last tile hold stale values and are never read back).
    let tb = (512 * 1024 / (36 * (g.c + kc))).clamp(32, 256) / 32 * 32;
    Split { group, kc, tb }
}

/// `out` `[n, k, oh, ow]` = conv3x3(x, w) + bias, then `act`; stride 1, padding `g.ph`,
/// `g.pw` (each at most 2).
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
    let tpi = th * tw;
    let u = transform_weights(w, g.k, g.c);
    let s = split(g, tpi);
    let p = g.p();
    let chunk = if s.kc == g.k {
        s.group * g.k * p
    } else {
        s.kc * p
    };
    let nkc = g.k / s.kc;
    out.par_chunks_mut(chunk).enumerate().for_each_init(
        || {
            (
                vec![0.0f32; 36 * g.c * s.tb],
                vec![0.0f32; 36 * s.kc * s.tb],
            )
        },
        |(v, m), (item, y)| {
            let (b0, k0, nimg) = if s.kc == g.k {
                let b0 = item * s.group;
                (b0, 0, s.group.min(g.n - b0))
            } else {
                (item / nkc, (item % nkc) * s.kc, 1)
            };
            let tiles = nimg * tpi;
            for t0 in (0..tiles).step_by(s.tb) {
                let nb = s.tb.min(tiles - t0);
                let block = Block {
                    g,
                    tw,
                    tpi,
                    t0,
                    nb,
                    tb: s.tb,
                };
                simd(
                    isa,
                    InputTransform {
                        b: &block,
                        x,
                        b0,
                        v: &mut v[..],
                    },
                );
                for i in 0..36 {
                    gemm_tn(
                        isa,
                        &mut m[i * s.kc * s.tb..(i + 1) * s.kc * s.tb],
                        s.tb,
                        &u[i * g.c * g.k + k0..],
                        g.k,
                        &v[i * g.c * s.tb..(i + 1) * g.c * s.tb],
                        s.tb,
                        [s.kc, nb.next_multiple_of(32).min(s.tb), g.c],
                    );
                }
                simd(
                    isa,
                    OutputTransform {
                        b: &block,
                        m: &m[..],
                        k0,
                        kc: s.kc,
                        bias,
                        act,
                        y: &mut y[..],
                    },
                );
            }
        },
    );
}

/// Lanes of the transforms: 16 tiles of one tile row at a time.
const L: usize = 16;

/// One block of tiles, numbered `t = image * tpi + tile_row * tw + tile_column` within the
/// work item, from `t0`, `nb` of them; columns `j = t - t0` of the block's buffers, whose
/// rows are `tb` long.
struct Block<'a> {
    g: &'a Geom,
    tw: usize,
    tpi: usize,
    t0: usize,
    nb: usize,
    tb: usize,
}

impl Block<'_> {
    /// Image, tile row and tile column of each of up to 16 tiles from column `j` on, and
    /// how many there are.
    #[inline(always)]
    fn lanes(&self, j: usize) -> ([(usize, usize, usize); L], usize) {
        let mut out = [(0, 0, 0); L];
        let n = (self.nb - j).min(L);
        for (l, o) in out.iter_mut().enumerate().take(n) {
            let t = self.t0 + j + l;
            let r = t % self.tpi;
            *o = (t / self.tpi, r / self.tw, r % self.tw);
        }
        (out, n)
    }
}

/// `v[i][c][j] = (B^T d B)[i]` for the 6x6 input block `d` of every tile `j` and channel `c`,
/// 16 tiles at a time, whatever rows and images they come from.
struct InputTransform<'a, 'b> {
    b: &'b Block<'a>,
    x: &'b [f32],
    b0: usize,
    v: &'b mut [f32],
}

impl Simd for InputTransform<'_, '_> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        let InputTransform { b, x, b0, v } = self;
        let g = b.g;
        let (h, w) = (g.h as isize, g.w as isize);
        let mut d = [[[0.0f32; L]; 6]; 6];
        let mut tmp = [[[0.0f32; L]; 6]; 6];
        for j in (0..b.nb).step_by(L) {
            let (tiles, lanes) = b.lanes(j);
            for c in 0..g.c {
                for (l, &(img, ty, tx)) in tiles.iter().enumerate().take(lanes) {
                    let plane = &x[((b0 + img) * g.c + c) * g.hw()..][..g.hw()];
                    let (y0, x0) = (
                        (4 * ty) as isize - g.ph as isize,
                        (4 * tx) as isize - g.pw as isize,
                    );
                    if y0 >= 0 && x0 >= 0 && y0 + 6 <= h && x0 + 6 <= w {
                        let base = y0 as usize * g.w + x0 as usize;
                        for (r, dr) in d.iter_mut().enumerate() {
                            let row = &plane[base + r * g.w..][..6];
                            for s in 0..6 {
                                dr[s][l] = row[s];
                            }
                        }
                    } else {
                        for (r, dr) in d.iter_mut().enumerate() {
                            let yy = y0 + r as isize;
                            for (s, ds) in dr.iter_mut().enumerate() {
                                let xx = x0 + s as isize;
                                ds[l] = if yy >= 0 && yy < h && xx >= 0 && xx < w {
                                    plane[yy as usize * g.w + xx as usize]
                                } else {
                                    0.0
                                };
                            }
                        }
                    }
                }
                bt_bt(&mut d, &mut tmp);
                for (i, lane) in d.iter().flatten().enumerate() {
                    store_lanes(&mut v[(i * g.c + c) * b.tb + j..], lane, lanes);
                }
            }
        }
    }
}

/// Writes the first `lanes` values of `lane` to the start of `dst`: one whole-register copy
/// when the lanes are full (a copy of variable length is a call to memmove).
#[inline(always)]
fn store_lanes(dst: &mut [f32], lane: &[f32; L], lanes: usize) {
    if lanes == L {
        let dst: &mut [f32; L] = (&mut dst[..L]).try_into().expect("L");
        *dst = *lane;
    } else {
        for (o, val) in dst[..lanes].iter_mut().zip(lane) {
            *o = *val;
        }
    }
}

/// `d = B^T d B` for 16 tiles at once, lane by lane (`tmp` is scratch).
#[inline(always)]
fn bt_bt(d: &mut [[[f32; L]; 6]; 6], tmp: &mut [[[f32; L]; 6]; 6]) {
    for l in 0..L {
        for s in 0..6 {
            let col = bt([
                d[0][s][l], d[1][s][l], d[2][s][l], d[3][s][l], d[4][s][l], d[5][s][l],
            ]);
            for r in 0..6 {
                tmp[r][s][l] = col[r];
            }
        }
    }
    for l in 0..L {
        for r in 0..6 {
            let t = &tmp[r];
            let row = bt([t[0][l], t[1][l], t[2][l], t[3][l], t[4][l], t[5][l]]);
            for s in 0..6 {
                d[r][s][l] = row[s];
            }
        }
    }
}

/// `out[a][b] = (A^T e A)[a][b]` for 16 tiles at once (`tmp` is scratch).
#[inline(always)]
fn at_at(e: &[[[f32; L]; 6]; 6], tmp: &mut [[[f32; L]; 6]; 4], out: &mut [[[f32; L]; 4]; 4]) {
    for l in 0..L {
        for s in 0..6 {
            let col = at([
                e[0][s][l], e[1][s][l], e[2][s][l], e[3][s][l], e[4][s][l], e[5][s][l],
            ]);
            for r in 0..4 {
                tmp[r][s][l] = col[r];
            }
        }
    }
    for l in 0..L {
        for r in 0..4 {
            let t = &tmp[r];
            let row = at([t[0][l], t[1][l], t[2][l], t[3][l], t[4][l], t[5][l]]);
            for c in 0..4 {
                out[r][c][l] = row[c];
            }
        }
    }
}

/// Writes `A^T m A` (+ bias, `act`) of each tile and output channel into `y`, the item's
/// piece of the output.
struct OutputTransform<'a, 'b> {
    b: &'b Block<'a>,
    m: &'b [f32],
    k0: usize,
    kc: usize,
    bias: Option<&'b [f32]>,
    act: Act,
    y: &'b mut [f32],
}

impl Simd for OutputTransform<'_, '_> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        let OutputTransform {
            b,
            m,
            k0,
            kc,
            bias,
            act,
            y,
        } = self;
        let g = b.g;
        let p = g.p();
        let mut e = [[[0.0f32; L]; 6]; 6];
        let mut tmp = [[[0.0f32; L]; 6]; 4];
        let mut vals = [[[0.0f32; L]; 4]; 4];
        for j in (0..b.nb).step_by(L) {
            let (tiles, lanes) = b.lanes(j);
            for kk in 0..kc {
                let bv = bias.map_or(0.0, |b| b[k0 + kk]);
                for (i, lane) in e.iter_mut().flatten().enumerate() {
                    let at = (i * kc + kk) * b.tb + j;
                    // Lanes past the block read stale columns and are not written.
                    if at + L <= m.len() {
                        *lane = m[at..at + L].try_into().expect("L");
                    } else {
                        for (o, val) in lane.iter_mut().zip(&m[at..]) {
                            *o = *val;
                        }
                    }
                }
                at_at(&e, &mut tmp, &mut vals);
                for (l, &(img, ty, tx)) in tiles.iter().enumerate().take(lanes) {
                    let plane = &mut y[(img * kc + kk) * p..][..p];
                    let (oy, ox) = (4 * ty, 4 * tx);
                    let cols = (g.ow - ox).min(4);
                    for (r, row) in vals.iter().enumerate().take((g.oh - oy).min(4)) {
                        let line = &mut plane[(oy + r) * g.ow + ox..][..cols];
                        for (c, o) in line.iter_mut().enumerate() {
                            *o = act.apply(row[c][l] + bv);
                        }
                    }
                }
            }
        }
    }
}

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
fn a_adj(y: [f32; 4]) -> [f32; 6] {
    [
        y[0],
        y[0] + y[1] + y[2] + y[3],
        y[0] - y[1] + y[2] - y[3],
        y[0] + 2.0 * y[1] + 4.0 * y[2] + 8.0 * y[3],
        y[0] - 2.0 * y[1] + 4.0 * y[2] - 8.0 * y[3],
        y[3],
    ]
}

/// Weight gradient `[k, c, 3, 3]` of a 3x3 stride-1 convolution by the same algorithm run
/// backwards: `dU = sum over tiles of (A dY A^T) . (B^T d B)`, 36 products `[k, tiles] x
/// [tiles, c]` summed along the tiles, then `dg = G^T dU G`. One accumulator per thread.
pub fn backward_weight(isa: Isa, g: &Geom, x: &[f32], dy: &[f32]) -> Vec<f32> {
    debug_assert!(g.kh == 3 && g.kw == 3 && g.sh == 1 && g.sw == 1 && g.ph <= 2 && g.pw <= 2);
    let (th, tw) = (g.oh.div_ceil(4), g.ow.div_ceil(4));
    let tpi = th * tw;
    let (kk, cc) = (g.k, g.c);
    let tb = (2048 * 1024 / (36 * (cc + kk))).clamp(64, 1024) / 32 * 32;
    let parts = rayon::current_num_threads().min(g.n).max(1);
    let per = g.n.div_ceil(parts);
    let du = (0..parts)
        .into_par_iter()
        .map(|part| {
            let mut acc = vec![0.0f32; 36 * kk * cc];
            let mut v = vec![0.0f32; 36 * cc * tb];
            let mut gd = vec![0.0f32; 36 * kk * tb];
            // Blocks run across the part's images, so that small images still give long
            // sums to each product.
            let b0 = (part * per).min(g.n);
            let nimg = ((part + 1) * per).min(g.n) - b0;
            let tiles = nimg * tpi;
            for t0 in (0..tiles).step_by(tb) {
                let nb = tb.min(tiles - t0);
                let block = Block {
                    g,
                    tw,
                    tpi,
                    t0,
                    nb,
                    tb,
                };
                simd(
                    isa,
                    InputTransform {
                        b: &block,
                        x,
                        b0,
                        v: &mut v[..],
                    },
                );
                simd(
                    isa,
                    GradTransform {
                        b: &block,
                        dy,
                        b0,
                        gd: &mut gd[..],
                    },
                );
                for i in 0..36 {
                    gemm_nt_acc(
                        isa,
                        &mut acc[i * kk * cc..(i + 1) * kk * cc],
                        cc,
                        &gd[i * kk * tb..(i + 1) * kk * tb],
                        tb,
                        &v[i * cc * tb..(i + 1) * cc * tb],
                        tb,
                        [kk, cc, nb],
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
        .unwrap_or_else(|| vec![0.0; 36 * kk * cc]);
    let mut dw = vec![0.0; kk * cc * 9];
    for (kc, out) in dw.chunks_exact_mut(9).enumerate() {
        let mut u = [[0.0f32; 6]; 6];
        for (i, e) in u.iter_mut().flatten().enumerate() {
            *e = du[i * kk * cc + kc];
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

/// `gd[i][k][j] = (A dY A^T)[i]` for the 4x4 output-gradient block of every tile `j` and
/// output channel `k` (zeros past the output's edge).
struct GradTransform<'a, 'b> {
    b: &'b Block<'a>,
    dy: &'b [f32],
    b0: usize,
    gd: &'b mut [f32],
}

impl Simd for GradTransform<'_, '_> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        let GradTransform { b, dy, b0, gd } = self;
        let g = b.g;
        let p = g.p();
        let mut e = [[[0.0f32; L]; 4]; 4];
        let mut tmp = [[[0.0f32; L]; 4]; 6];
        let mut out = [[[0.0f32; L]; 6]; 6];
        for j in (0..b.nb).step_by(L) {
            let (tiles, lanes) = b.lanes(j);
            for k in 0..g.k {
                for (l, &(img, ty, tx)) in tiles.iter().enumerate().take(lanes) {
                    let plane = &dy[((b0 + img) * g.k + k) * p..][..p];
                    let (oy, ox) = (4 * ty, 4 * tx);
                    let (rows, cols) = ((g.oh - oy).min(4), (g.ow - ox).min(4));
                    for (a, ea) in e.iter_mut().enumerate() {
                        for (c, ec) in ea.iter_mut().enumerate() {
                            ec[l] = if a < rows && c < cols {
                                plane[(oy + a) * g.ow + ox + c]
                            } else {
                                0.0
                            };
                        }
                    }
                }
                for l in 0..L {
                    for c in 0..4 {
                        let col = a_adj([e[0][c][l], e[1][c][l], e[2][c][l], e[3][c][l]]);
                        for r in 0..6 {
                            tmp[r][c][l] = col[r];
                        }
                    }
                }
                for l in 0..L {
                    for r in 0..6 {
                        let t = &tmp[r];
                        let row = a_adj([t[0][l], t[1][l], t[2][l], t[3][l]]);
                        for s in 0..6 {
                            out[r][s][l] = row[s];
                        }
                    }
                }
                for (i, lane) in out.iter().flatten().enumerate() {
                    store_lanes(&mut gd[(i * g.k + k) * b.tb + j..], lane, lanes);
                }
            }
        }
    }
}
