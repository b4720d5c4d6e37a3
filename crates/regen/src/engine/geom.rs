//! What every convolution kernel takes: the layer's shape ([`Geom`]) and the activation
//! fused into its output ([`Act`]), and the one reduction they share ([`sum_parts`]). The
//! kernels ([`super::direct`], [`super::im2col`], [`super::thin`], [`super::winograd`])
//! import this; [`super::kernels`] imports them and chooses among them.

/// An activation fused into a convolution's output pass.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum Act {
    /// The convolution's output as it is.
    #[default]
    None,
    /// `max(0, v)`.
    Relu,
    /// `v` if positive, else `slope * v` (`slope > 0`).
    LeakyRelu(f32),
}

impl Act {
    #[inline(always)]
    pub(crate) fn apply(self, v: f32) -> f32 {
        match self {
            Act::None => v,
            Act::Relu => v.max(0.0),
            Act::LeakyRelu(s) => {
                if v > 0.0 {
                    v
                } else {
                    s * v
                }
            }
        }
    }
}

/// The shape of one convolution: input `[n, c, h, w]`, weight `[k, c, kh, kw]`, output
/// `[n, k, oh, ow]`, with symmetric zero padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geom {
    /// Batch size.
    pub n: usize,
    /// Input channels.
    pub c: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Output channels.
    pub k: usize,
    /// Kernel height.
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
    /// Vertical stride.
    pub sh: usize,
    /// Horizontal stride.
    pub sw: usize,
    /// Zero rows added above and below.
    pub ph: usize,
    /// Zero columns added left and right.
    pub pw: usize,
    /// Output height.
    pub oh: usize,
    /// Output width.
    pub ow: usize,
}

impl Geom {
    /// The geometry of a convolution, or `None` when its output would be empty.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        [n, c, h, w]: [usize; 4],
        k: usize,
        [kh, kw]: [usize; 2],
        [sh, sw]: [usize; 2],
        [ph, pw]: [usize; 2],
    ) -> Option<Geom> {
        if sh == 0 || sw == 0 || kh == 0 || kw == 0 || h + 2 * ph < kh || w + 2 * pw < kw {
            return None;
        }
        Some(Geom {
            n,
            c,
            h,
            w,
            k,
            kh,
            kw,
            sh,
            sw,
            ph,
            pw,
            oh: (h + 2 * ph - kh) / sh + 1,
            ow: (w + 2 * pw - kw) / sw + 1,
        })
    }

    /// Pixels of one output plane.
    pub fn p(&self) -> usize {
        self.oh * self.ow
    }

    /// Pixels of one input plane.
    pub fn hw(&self) -> usize {
        self.h * self.w
    }

    /// Rows of an unfolded image: input channels times kernel taps.
    pub fn ckk(&self) -> usize {
        self.c * self.kh * self.kw
    }

    /// Multiply-adds of the forward pass (each gradient costs the same).
    pub fn macs(&self) -> u64 {
        (self.n * self.k * self.p() * self.ckk()) as u64
    }
}

/// The sum of per-thread partial sums, each `len` long (zeros if there are none).
pub(crate) fn sum_parts(parts: Vec<Vec<f32>>, len: usize) -> Vec<f32> {
    let mut it = parts.into_iter();
    let mut sum = it.next().unwrap_or_else(|| vec![0.0; len]);
    for part in it {
        for (s, v) in sum.iter_mut().zip(part) {
            *s += v;
        }
    }
    sum
}

/// `n` zeros, written by all threads when there are many: a layer's output or gradient is
/// several MB, and one thread zeroing it cost 4.8% of a VAE training epoch (perf, Intel
/// Xeon, 2026-12-03), most of it before any kernel could start.
pub fn zeros(n: usize) -> Vec<f32> {
    use rayon::prelude::*;
    if n < 1 << 18 {
        return vec![0.0; n];
    }
    let mut v = Vec::with_capacity(n);
    v.par_extend(rayon::iter::repeat_n(0.0f32, n));
    v
}
