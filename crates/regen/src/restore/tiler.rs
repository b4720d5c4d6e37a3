//! Running a network on planes of any size, tile by tile, so memory stays bounded.
//!
//! Each tile carries `margin` pixels of context on every side (clamped to the image) and
//! only its core is kept. When the margin covers the network's receptive radius the result
//! equals one forward pass over the whole image, so no seams can show. A network of output
//! scale `s` turns each `h` x `w` tile into an `s h` x `s w` one, whose core is placed at
//! `s` times the input core's position. Each tile is padded by reflection to the network's
//! multiple and cropped back.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use burn::tensor::{Tensor, TensorData};

/// Watches a long restoration (a large photo is many tiles): told how many tiles are done,
/// and asked before each tile whether to stop, so a web page can show progress and cancel.
pub trait Watch: Sync {
    /// `done` of `total` tiles are restored.
    fn tiles(&self, done: usize, total: usize);
    /// Whether to stop; checked before each tile.
    fn cancelled(&self) -> bool;
}

/// Counts the tiles of one restoration for its [`Watch`].
pub(crate) struct Ticker<'a> {
    watch: &'a dyn Watch,
    done: AtomicUsize,
    total: AtomicUsize,
    stopped: AtomicBool,
}

impl<'a> Ticker<'a> {
    pub(crate) fn new(watch: &'a dyn Watch) -> Ticker<'a> {
        Ticker {
            watch,
            done: AtomicUsize::new(0),
            total: AtomicUsize::new(0),
            stopped: AtomicBool::new(false),
        }
    }

    /// Sets the number of tiles the restoration will run.
    pub(crate) fn expect(&self, total: usize) {
        self.total.store(total, Ordering::Relaxed);
    }

    /// Whether the watch cancelled the restoration.
    pub(crate) fn stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }

    /// Whether to go on with the next tile.
    fn go_on(&self) -> bool {
        if self.watch.cancelled() {
            self.stopped.store(true, Ordering::Relaxed);
        }
        !self.stopped()
    }

    fn tile_done(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        self.watch.tiles(done, self.total.load(Ordering::Relaxed));
    }
}

/// How to cut planes into tiles for a network.
#[derive(Clone, Copy, Debug)]
pub struct Tiler {
    /// Core tile side in input pixels (at least 8).
    pub tile: usize,
    /// Context pixels around each tile.
    pub margin: usize,
    /// The network's output scale.
    pub scale: usize,
    /// Input sides must be multiples of this for the network.
    pub multiple: usize,
}

impl Tiler {
    /// Tiles one `h` x `w` pass takes.
    pub fn tiles(&self, h: usize, w: usize) -> usize {
        let t = self.grid().0;
        h.div_ceil(t) * w.div_ceil(t)
    }

    /// The tile side and margin in use: both rounded up to the network's multiple, so every
    /// tile's context starts on the same grid as the whole image's. A network that folds
    /// 2x2 blocks into planes (FFDNet, an unshuffling RRDBNet) or halves its input (a
    /// U-Net) computes something else on a grid shifted by one pixel, and a tile cut there
    /// would differ from the whole image's pass.
    fn grid(&self) -> (usize, usize) {
        let k = self.multiple.max(1);
        (
            self.tile.max(8).div_ceil(k) * k,
            self.margin.div_ceil(k) * k,
        )
    }

    /// Runs `forward` (`[1, planes, h', w']` -> `[1, out, s h', s w']`) over `planes` (each
    /// `h` x `w`) tile by tile: the output planes, each `s h` x `s w`, unclamped. A ticker
    /// that says stop leaves the rest of the output at zero.
    pub(crate) fn run(
        &self,
        planes: &[Vec<f32>],
        h: usize,
        w: usize,
        ticker: Option<&Ticker>,
        forward: &dyn Fn(Tensor<4>) -> Tensor<4>,
    ) -> Vec<Vec<f32>> {
        let s = self.scale;
        let mut out: Vec<Vec<f32>> = Vec::new();
        for y0 in self.bands(h) {
            let Some(band) = self.band(planes, h, w, y0, ticker, forward) else {
                break;
            };
            if out.is_empty() {
                out = vec![vec![0.0; h * s * w * s]; band.len()];
            }
            for (o, b) in out.iter_mut().zip(&band) {
                o[y0 * s * w * s..][..b.len()].copy_from_slice(b);
            }
        }
        out
    }

    /// The first input row of each band of tiles, top to bottom.
    pub(crate) fn bands(&self, h: usize) -> impl Iterator<Item = usize> {
        (0..h).step_by(self.grid().0)
    }

    /// The input rows of the band that starts at row `y0`.
    pub(crate) fn band_rows(&self, h: usize, y0: usize) -> std::ops::Range<usize> {
        y0..(y0 + self.grid().0).min(h)
    }

    /// The output of one band of tiles (the input rows [`Tiler::band_rows`] of `y0`, every
    /// tile across): per output plane, its `s` times as many rows, each `s w` wide,
    /// unclamped. `None` when the ticker says stop.
    pub(crate) fn band(
        &self,
        planes: &[Vec<f32>],
        h: usize,
        w: usize,
        y0: usize,
        ticker: Option<&Ticker>,
        forward: &dyn Fn(Tensor<4>) -> Tensor<4>,
    ) -> Option<Vec<Vec<f32>>> {
        let s = self.scale;
        let (t, m) = self.grid();
        let y1 = (y0 + t).min(h);
        let mut out: Vec<Vec<f32>> = Vec::new();
        for x0 in (0..w).step_by(t) {
            if ticker.is_some_and(|k| !k.go_on()) {
                return None;
            }
            let x1 = (x0 + t).min(w);
            let (cy0, cx0) = (y0.saturating_sub(m), x0.saturating_sub(m));
            let (cy1, cx1) = ((y1 + m).min(h), (x1 + m).min(w));
            let (th, tw) = (cy1 - cy0, cx1 - cx0);
            let tiles: Vec<Vec<f32>> = planes
                .iter()
                .map(|p| {
                    let mut tile = Vec::with_capacity(th * tw);
                    for y in cy0..cy1 {
                        tile.extend_from_slice(&p[y * w + cx0..y * w + cx1]);
                    }
                    tile
                })
                .collect();
            let res = self.pass(&tiles, th, tw, forward);
            if out.is_empty() {
                out = vec![vec![0.0; (y1 - y0) * s * w * s]; res.len()];
            }
            let (ow, rw) = (w * s, tw * s);
            for (o, r) in out.iter_mut().zip(&res) {
                for y in y0 * s..y1 * s {
                    let src = (y - cy0 * s) * rw + (x0 - cx0) * s;
                    let dst = (y - y0 * s) * ow + x0 * s;
                    o[dst..dst + (x1 - x0) * s].copy_from_slice(&r[src..src + (x1 - x0) * s]);
                }
            }
            if let Some(k) = ticker {
                k.tile_done();
            }
        }
        Some(out)
    }

    /// As [`Tiler::run`], averaged over the eight flips and 90-degree rotations of the
    /// planes (geometric self-ensemble), each view's output turned back.
    pub(crate) fn run_ensemble(
        &self,
        planes: &[Vec<f32>],
        h: usize,
        w: usize,
        ticker: Option<&Ticker>,
        forward: &dyn Fn(Tensor<4>) -> Tensor<4>,
    ) -> Vec<Vec<f32>> {
        let s = self.scale;
        let mut acc: Vec<Vec<f32>> = Vec::new();
        for t in 0..8 {
            let (th, tw) = if t & 4 != 0 { (w, h) } else { (h, w) };
            let map = dihedral_map(t, h, w);
            let moved: Vec<Vec<f32>> = planes
                .iter()
                .map(|p| map.iter().map(|&i| p[i]).collect())
                .collect();
            let r = self.run(&moved, th, tw, ticker, forward);
            if acc.is_empty() {
                acc = vec![vec![0.0f32; h * s * w * s]; r.len()];
            }
            let back = if s == 1 {
                map.clone()
            } else {
                dihedral_map(t, h * s, w * s)
            };
            for (a, rp) in acc.iter_mut().zip(&r) {
                for (k, &i) in back.iter().enumerate() {
                    a[i] += rp[k] / 8.0;
                }
            }
        }
        acc
    }

    /// One forward pass on `h` x `w` input planes, padded by reflection to the network's
    /// multiple and cropped back: the output planes, each `s h` x `s w`.
    fn pass(
        &self,
        planes: &[Vec<f32>],
        h: usize,
        w: usize,
        forward: &dyn Fn(Tensor<4>) -> Tensor<4>,
    ) -> Vec<Vec<f32>> {
        let (k, s) = (self.multiple.max(1), self.scale);
        let (ph, pw) = (h.div_ceil(k) * k, w.div_ceil(k) * k);
        let mut padded = Vec::with_capacity(planes.len() * ph * pw);
        for p in planes {
            padded.extend(crate::pad::pad_reflect(p, h, w, ph, pw));
        }
        let device = crate::device::device();
        let x = Tensor::<4>::from_data(TensorData::new(padded, [1, planes.len(), ph, pw]), &device);
        let y: Vec<f32> = forward(x)
            .into_data()
            .try_to_vec::<f32>()
            .expect("f32 output");
        let (oh, ow, opw) = (h * s, w * s, pw * s);
        y.chunks(ph * s * opw)
            .map(|p| {
                let mut out = Vec::with_capacity(oh * ow);
                for r in 0..oh {
                    out.extend_from_slice(&p[r * opw..r * opw + ow]);
                }
                out
            })
            .collect()
    }
}

/// For transform `t` (0..8) of an `h` x `w` plane: entry k is the source index of pixel k of
/// the transformed plane, which is `w` x `h` when bit 2 (transpose) is set. Bit 0 flips
/// horizontally and bit 1 vertically, in the transformed frame.
pub fn dihedral_map(t: usize, h: usize, w: usize) -> Vec<usize> {
    let (th, tw) = if t & 4 != 0 { (w, h) } else { (h, w) };
    let mut map = Vec::with_capacity(h * w);
    for y in 0..th {
        for x in 0..tw {
            let a = if t & 2 != 0 { th - 1 - y } else { y };
            let b = if t & 1 != 0 { tw - 1 - x } else { x };
            let (sy, sx) = if t & 4 != 0 { (b, a) } else { (a, b) };
            map.push(sy * w + sx);
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn dihedral_maps_are_eight_distinct_permutations() {
        let (h, w) = (2, 3);
        let mut seen = std::collections::HashSet::new();
        for t in 0..8 {
            let mut m = dihedral_map(t, h, w);
            seen.insert(m.clone());
            m.sort();
            assert_eq!(m, (0..h * w).collect::<Vec<_>>());
        }
        assert_eq!(seen.len(), 8);
        // Transpose of [[0,1,2],[3,4,5]] is [[0,3],[1,4],[2,5]].
        assert_eq!(dihedral_map(4, h, w), vec![0, 3, 1, 4, 2, 5]);
    }

    /// A fixed x2 upscaler written here: two 3x3 convolutions (zero padding, ReLU between)
    /// from `c` planes to `4 c`, then a pixel shuffle (`[b, 4c, h, w]` -> `[b, c, 2h, 2w]`).
    /// Its receptive radius is 2 input pixels.
    struct Shuffle2 {
        w1: Tensor<4>,
        w2: Tensor<4>,
    }

    impl Shuffle2 {
        fn new(c: usize) -> Shuffle2 {
            let device = crate::device::device();
            let mut rng = Rng::new(7);
            let mut weight = |o: usize, i: usize| {
                let v: Vec<f32> = rng.normals(o * i * 9).iter().map(|x| x * 0.3).collect();
                Tensor::<4>::from_data(TensorData::new(v, [o, i, 3, 3]), &device)
            };
            let (w1, w2) = (weight(8, c), weight(4 * c, 8));
            Shuffle2 { w1, w2 }
        }

        fn forward(&self, x: Tensor<4>) -> Tensor<4> {
            use burn::tensor::module::conv2d;
            use burn::tensor::ops::ConvOptions;
            let opts = || ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
            let y = conv2d(x, self.w1.clone(), None, opts()).clamp_min(0.0);
            let y = conv2d(y, self.w2.clone(), None, opts()); // [b, 4c, h, w]
            let [b, c4, h, w] = y.dims();
            let c = c4 / 4;
            y.reshape([b, c, 2, 2, h, w])
                .permute([0, 1, 4, 2, 5, 3])
                .reshape([b, c, 2 * h, 2 * w])
        }
    }

    /// An x2 network through the tiler equals one whole-image pass on a 1500x1000 image, at
    /// several tile sizes (tiles that divide the image and tiles that do not), within 1e-5;
    /// and the eight-view ensemble of a single tile equals that of small tiles.
    #[test]
    fn an_upscaler_through_the_tiler_equals_one_whole_image_pass() {
        let net = Shuffle2::new(3);
        let forward = |x: Tensor<4>| net.forward(x);
        let (h, w) = (1000, 1500);
        let mut rng = Rng::new(3);
        let planes: Vec<Vec<f32>> = (0..3)
            .map(|_| (0..h * w).map(|_| rng.uniform() as f32).collect())
            .collect();
        let whole = Tiler {
            tile: 4096,
            margin: 0,
            scale: 2,
            multiple: 1,
        }
        .run(&planes, h, w, None, &forward);
        assert_eq!((whole.len(), whole[0].len()), (3, 4 * h * w));
        for tile in [100, 256, 333] {
            let tiled = Tiler {
                tile,
                margin: 2,
                scale: 2,
                multiple: 1,
            }
            .run(&planes, h, w, None, &forward);
            let diff = whole
                .iter()
                .zip(&tiled)
                .flat_map(|(a, b)| a.iter().zip(b).map(|(x, y)| (x - y).abs()))
                .fold(0.0f32, f32::max);
            eprintln!("x2 through tiles of {tile}: max difference {diff:e}");
            assert!(diff < 1e-5, "tile {tile}: max difference {diff}");
        }
        // Too little context shows: the test can fail.
        let thin = Tiler {
            tile: 100,
            margin: 1,
            scale: 2,
            multiple: 1,
        }
        .run(&planes, h, w, None, &forward);
        assert!(
            whole[0]
                .iter()
                .zip(&thin[0])
                .any(|(a, b)| (a - b).abs() > 1e-3)
        );

        let (h, w) = (30, 44);
        let small: Vec<Vec<f32>> = planes.iter().map(|p| p[..h * w].to_vec()).collect();
        let one = Tiler {
            tile: 64,
            margin: 0,
            scale: 2,
            multiple: 1,
        }
        .run_ensemble(&small, h, w, None, &forward);
        let many = Tiler {
            tile: 8,
            margin: 2,
            scale: 2,
            multiple: 1,
        }
        .run_ensemble(&small, h, w, None, &forward);
        let diff = one[1]
            .iter()
            .zip(&many[1])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(diff < 1e-5, "ensemble: max difference {diff}");
    }
}
