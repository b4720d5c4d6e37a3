//! Winograd F(4x4, 3x3) (Lavin and Gray 2016, "Fast Algorithms for Convolutional Neural
//! Networks"): each 4x4 block of output is computed from a 6x6 block of input with 36
//! element-wise products per channel pair instead of 144, so a 3x3 stride-1 convolution
//! needs 4x fewer multiply-adds. Over a band of tiles the 36 products become 36 matrix
//! products `[tiles, c] x [c, k]` ([`gemm_nn16`]).
//!
//! The input goes channel-last a band of tile rows at a time (channels padded to a multiple
//! of 16), so each transform reads and writes whole 16-channel vectors; an earlier layout
//! with tiles along the vector lanes gathered every value one at a time from the planes and
//! ran 1.5-2x slower (one 512x512 image, 64 -> 64: 98 ms forward against 66; its weight
//! gradient lost to the direct kernels by 2x, and now wins by 1.5x). A band holds about
//! 1 MB of transformed input and products, the size of a core's L2 cache.
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

use std::ops::{Add, Mul, Sub};

use rayon::prelude::*;

use super::gemm::{Isa, Simd, gemm_nn16, gemm_tn16_acc, simd, transpose, transpose_into};
use super::geom::{Act, Geom};

mod backward;
mod forward;

pub use backward::backward_weight;
pub use forward::forward;

/// What the transforms compute with: one `f32`, or [`F16`], 16 channels at once.
trait Val: Copy + Add<Output = Self> + Sub<Output = Self> + Mul<f32, Output = Self> {}
impl<T: Copy + Add<Output = T> + Sub<Output = T> + Mul<f32, Output = T>> Val for T {}

#[inline(always)]
fn bt<T: Val>(d: [T; 6]) -> [T; 6] {
    [
        d[0] * 4.0 - d[2] * 5.0 + d[4],
        d[3] + d[4] - (d[1] + d[2]) * 4.0,
        (d[1] - d[2]) * 4.0 - d[3] + d[4],
        (d[3] - d[1]) * 2.0 - d[2] + d[4],
        (d[1] - d[3]) * 2.0 - d[2] + d[4],
        d[1] * 4.0 - d[3] * 5.0 + d[5],
    ]
}

#[inline(always)]
fn at<T: Val>(m: [T; 6]) -> [T; 4] {
    let (s12, d12) = (m[1] + m[2], m[1] - m[2]);
    let (s34, d34) = (m[3] + m[4], m[3] - m[4]);
    [
        m[0] + s12 + s34,
        d12 + d34 * 2.0,
        s12 + s34 * 4.0,
        d12 + d34 * 8.0 + m[5],
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

/// 16 lanes: one channel block of a channel-last pixel.
const CB: usize = 16;

/// 16 channels of one pixel, added and scaled lane by lane (loops of fixed length over
/// one array, which the compiler turns into single vector instructions).
#[derive(Clone, Copy)]
struct F16([f32; CB]);

impl F16 {
    #[inline(always)]
    fn load(v: &[f32]) -> F16 {
        F16(v[..CB].try_into().expect("16 lanes"))
    }

    #[inline(always)]
    fn store(self, v: &mut [f32]) {
        v[..CB].copy_from_slice(&self.0);
    }

    #[inline(always)]
    fn map2(self, o: F16, f: impl Fn(f32, f32) -> f32) -> F16 {
        F16(std::array::from_fn(|l| f(self.0[l], o.0[l])))
    }

    /// `act(self + bias)`, the activation chosen once for all 16 lanes.
    #[inline(always)]
    fn bias_act(self, bias: F16, act: Act) -> F16 {
        match act {
            Act::None => self + bias,
            Act::Relu => self.map2(bias, |v, b| (v + b).max(0.0)),
            Act::LeakyRelu(s) => self.map2(bias, |v, b| {
                let t = v + b;
                if t > 0.0 { t } else { s * t }
            }),
        }
    }
}

impl Add for F16 {
    type Output = F16;
    #[inline(always)]
    fn add(self, o: F16) -> F16 {
        self.map2(o, |a, b| a + b)
    }
}

impl Sub for F16 {
    type Output = F16;
    #[inline(always)]
    fn sub(self, o: F16) -> F16 {
        self.map2(o, |a, b| a - b)
    }
}

impl Mul<f32> for F16 {
    type Output = F16;
    #[inline(always)]
    fn mul(self, s: f32) -> F16 {
        self.map2(self, |a, _| a * s)
    }
}

/// `U = G g G^T` for every (k, c), laid out `[36, cp, kp]` with zeros in the padded channels:
/// each of the 36 products multiplies a block of tiles `[tiles, cp]` by `[cp, kp]`.
fn transform_weights_cl(w: &[f32], k: usize, c: usize, cp: usize, kp: usize) -> Vec<f32> {
    let mut u = vec![0.0f32; 36 * cp * kp];
    // One input channel per task writes its row of each of the 36 matrices.
    let rows: Vec<Vec<f32>> = (0..c)
        .into_par_iter()
        .map(|cc| {
            let mut out = vec![0.0f32; 36 * kp];
            for kk in 0..k {
                let g = &w[(kk * c + cc) * 9..][..9];
                let mut tmp = [[0.0f32; 3]; 6];
                for j in 0..3 {
                    let col = gt([g[j], g[3 + j], g[6 + j]]);
                    for r in 0..6 {
                        tmp[r][j] = col[r];
                    }
                }
                for r in 0..6 {
                    let row = gt(tmp[r]);
                    for s in 0..6 {
                        out[(r * 6 + s) * kp + kk] = row[s];
                    }
                }
            }
            out
        })
        .collect();
    for (cc, vals) in rows.iter().enumerate() {
        for i in 0..36 {
            u[(i * cp + cc) * kp..][..kp].copy_from_slice(&vals[i * kp..][..kp]);
        }
    }
    u
}

/// Tiles of one pass: images `b0..b0 + nb`, tile rows `ty0..ty0 + nty` of each (all of
/// them when `nb > 1`), every tile column; tile `t = (b * nty + ty) * tw + tx`.
#[derive(Clone, Copy)]
struct Band {
    b0: usize,
    nb: usize,
    ty0: usize,
    nty: usize,
}

/// The geometry of channel-last Winograd over one convolution.
struct Tiling<'a> {
    g: &'a Geom,
    tw: usize,
    cp: usize,
}

impl Tiling<'_> {
    /// Pixels across a band's channel-last input: the tiles' 6x6 windows, overlapping by 2.
    fn in_w(&self) -> usize {
        4 * self.tw + 2
    }

    fn tiles(&self, b: &Band) -> usize {
        b.nb * b.nty * self.tw
    }

    /// The band's input `[nb, 4 nty + 2, 4 tw + 2, cp]`, channel-last with the zero padding
    /// (and zeros past the image where the tiles overhang it).
    fn copy_in(&self, isa: Isa, x: &[f32], b: &Band, xin: &mut Vec<f32>) {
        let g = self.g;
        let (rows, wi) = (4 * b.nty + 2, self.in_w());
        let img = rows * wi * self.cp;
        // Every value is written below, so the buffer is not cleared first (zeroing it all
        // cost as much as the copy).
        xin.resize(b.nb * img, 0.0);
        // Input rows y0..y0 + rows, those inside the image copied.
        let y0 = (4 * b.ty0) as isize - g.ph as isize;
        let lo = y0.max(0) as usize;
        let hi = ((y0 + rows as isize).min(g.h as isize)).max(lo as isize) as usize;
        let r0 = (lo as isize - y0) as usize;
        let (w, c, cp, pw) = (g.w, g.c, self.cp, g.pw);
        let line = wi * cp;
        for (bi, dst) in xin.chunks_mut(img).enumerate() {
            // Rows outside the image, and the columns and channels around the copied pixels.
            dst[..r0 * line].fill(0.0);
            dst[(r0 + hi - lo) * line..].fill(0.0);
            for row in dst[r0 * line..(r0 + hi - lo) * line].chunks_exact_mut(line) {
                row[..pw * cp].fill(0.0);
                row[(pw + w) * cp..].fill(0.0);
                if cp > c {
                    for px in row[pw * cp..(pw + w) * cp].chunks_exact_mut(cp) {
                        px[c..].fill(0.0);
                    }
                }
            }
            if hi > lo {
                let src = &x[((b.b0 + bi) * g.c) * g.hw() + lo * w..];
                transpose_into(isa, src, g.hw(), g.c, (hi - lo) * w, dst, |j| {
                    ((r0 + j / w) * wi + pw + j % w) * cp
                });
            }
        }
    }
}

impl Tiling<'_> {
    /// The band's output gradient `[nb, 4 nty, 4 tw, kp]`, channel-last, zeros past the
    /// output's edge.
    fn copy_grad_in(&self, isa: Isa, dy: &[f32], kp: usize, b: &Band, dyin: &mut Vec<f32>) {
        let g = self.g;
        let (rows, ow4) = (4 * b.nty, 4 * self.tw);
        let img = rows * ow4 * kp;
        dyin.clear();
        dyin.resize(b.nb * img, 0.0);
        let (lo, hi) = (4 * b.ty0, (4 * b.ty0 + rows).min(g.oh));
        let (p, ow) = (g.p(), g.ow);
        for (bi, dst) in dyin.chunks_mut(img).enumerate() {
            let src = &dy[(b.b0 + bi) * g.k * p + lo * ow..];
            transpose_into(isa, src, p, g.k, (hi - lo) * ow, dst, |j| {
                ((j / ow) * ow4 + j % ow) * kp
            });
        }
    }
}

/// `v[i][t][c] = (B^T d B)[i]` of every tile `t` of the band, 16 channels at a time.
struct InputTransformCl<'a, 'b> {
    tl: &'b Tiling<'a>,
    band: Band,
    xin: &'b [f32],
    v: &'b mut [f32],
}

impl Simd for InputTransformCl<'_, '_> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        let InputTransformCl { tl, band, xin, v } = self;
        let (cp, wi, tw) = (tl.cp, tl.in_w(), tl.tw);
        let nt = tl.tiles(&band);
        let img = (4 * band.nty + 2) * wi * cp;
        let mut tmp = [[F16([0.0; CB]); 6]; 6];
        for t in 0..nt {
            let (bi, ty, tx) = (t / (band.nty * tw), (t / tw) % band.nty, t % tw);
            let base = bi * img + (4 * ty * wi + 4 * tx) * cp;
            for c0 in (0..cp).step_by(CB) {
                for s in 0..6 {
                    let col = bt(std::array::from_fn(|r| {
                        F16::load(&xin[base + (r * wi + s) * cp + c0..])
                    }));
                    for r in 0..6 {
                        tmp[r][s] = col[r];
                    }
                }
                for (r, row) in tmp.iter().enumerate() {
                    for (s, o) in bt(*row).into_iter().enumerate() {
                        o.store(&mut v[((r * 6 + s) * nt + t) * cp + c0..]);
                    }
                }
            }
        }
    }
}

/// `y[b][oy][ox][k] = act((A^T m A)[oy % 4][ox % 4] + bias)` of every tile of the band, 16
/// output channels at a time, into `[nb, 4 nty, 4 tw, kcp]` (`kcp` channels from `k0`).
struct OutputTransformCl<'a, 'b> {
    tl: &'b Tiling<'a>,
    band: Band,
    m: &'b [f32],
    kcp: usize,
    bias: &'b [f32],
    act: Act,
    y: &'b mut [f32],
}

impl Simd for OutputTransformCl<'_, '_> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        let OutputTransformCl {
            tl,
            band,
            m,
            kcp,
            bias,
            act,
            y,
        } = self;
        let tw = tl.tw;
        let nt = tl.tiles(&band);
        let ow = 4 * tw;
        let mut tmp = [[F16([0.0; CB]); 6]; 4];
        for t in 0..nt {
            let (bi, ty, tx) = (t / (band.nty * tw), (t / tw) % band.nty, t % tw);
            let base = ((bi * 4 * band.nty + 4 * ty) * ow + 4 * tx) * kcp;
            for k0 in (0..kcp).step_by(CB) {
                let bv = F16::load(&bias[k0..]);
                for s in 0..6 {
                    let col = at(std::array::from_fn(|r| {
                        F16::load(&m[((r * 6 + s) * nt + t) * kcp + k0..])
                    }));
                    for a in 0..4 {
                        tmp[a][s] = col[a];
                    }
                }
                for (a, row) in tmp.iter().enumerate() {
                    for (bb, o) in at(*row).into_iter().enumerate() {
                        o.bias_act(bv, act)
                            .store(&mut y[base + (a * ow + bb) * kcp + k0..]);
                    }
                }
            }
        }
    }
}

/// Images per band and tile rows per band. Tiles per band: the band's transformed input
/// and products, 36 (cp + kp) floats a tile, near 1 MB (a core's L2 cache), and at least
/// 64, so that each of the 36 weight matrices read per band serves that many rows. Small
/// images go several to a band, as long as every thread still gets one.
fn plan(g: &Geom, th: usize, tw: usize, cp: usize, kp: usize) -> (usize, usize) {
    let threads = rayon::current_num_threads();
    let want = (256 * 1024 / (36 * (cp + kp))).clamp(64, 512);
    let tpi = th * tw;
    let gs = if tpi >= want || g.n < 2 * threads {
        1
    } else {
        (want / tpi).clamp(1, (g.n / threads).max(1))
    };
    let nty = if gs > 1 { th } else { (want / tw).clamp(1, th) };
    (gs, nty)
}
