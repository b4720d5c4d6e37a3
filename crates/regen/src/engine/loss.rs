//! Binary cross-entropy with logits, summed, as one fused operation with a backward step of
//! its own.
//!
//! Written with burn's tensor operations the loss is ten passes over the logits forward
//! (clamp, product, difference, absolute value, negation, exponential, logarithm, sums) and
//! as many again backward, each single-threaded with a scalar `exp` or `log` per element:
//! about 1.5 ms of a VAE training step on 128 x 28 x 28 logits. Here it is one pass each
//! way, on both threads, with an exponential and a logarithm the compiler vectorises.

use burn::backend::TensorMetadata;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, Flex, backend_extension};
use burn::tensor::{DType, Device, Tensor, TensorData};
use rayon::prelude::*;

use super::backend::{contiguous, values};
use super::gemm::{Isa, Simd, simd};

/// Elements per parallel task.
const CHUNK: usize = 1 << 13;

/// The fused loss as a backend operation.
#[backend_extension(Flex, Autodiff)]
pub trait LossBackend: Backend {
    /// `sum(max(l, 0) - l * t + ln(1 + exp(-|l|)))` over every element of `logits` and
    /// `target` (same shape); returns `[1]`.
    fn regen_bce_logits_sum(
        logits: FloatTensor<Self>,
        target: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
}

/// `sum(max(l, 0) - l * t + ln(1 + exp(-|l|)))`: binary cross-entropy of `target` (in
/// `[0, 1]`) under the Bernoulli probabilities `sigmoid(logits)`, summed over every element,
/// without forming `ln(sigmoid(l))` (which overflows for large `|l|`). Returns `[1]`, as
/// `Tensor::sum` does. Runs fused on the CPU device; elsewhere as burn's operations.
pub fn bce_with_logits_sum<const D: usize>(logits: Tensor<D>, target: Tensor<D>) -> Tensor<1> {
    assert_eq!(
        logits.dims(),
        target.dims(),
        "bce_with_logits_sum: shapes differ"
    );
    if super::burn_only() || logits.dtype() != DType::F32 || logits.device() != Device::flex() {
        let l = logits;
        return (l.clone().clamp_min(0.0) - l.clone() * target + (l.abs().neg().exp() + 1.0).log())
            .sum();
    }
    Tensor::from_dispatch(<Dispatch as LossBackend>::regen_bce_logits_sum(
        logits.into_dispatch(),
        target.into_dispatch(),
    ))
}

/// `exp(v)` for `v <= 0`, in plain arithmetic the compiler vectorises (a call to the
/// library's `expf` per element does not): `2^n * p(r)`, `v = n ln 2 + r`, `|r| <= ln 2 / 2`,
/// a degree-6 Taylor polynomial (relative error below 3e-7); 0 below -87.
#[inline(always)]
fn exp_neg(v: f32) -> f32 {
    let v = v.max(-87.0);
    let n = (v * std::f32::consts::LOG2_E).round();
    let r = v - n * std::f32::consts::LN_2;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    // n in -126..=0 here: a normal power of two built from its exponent bits.
    f32::from_bits((((n as i32) + 127) as u32) << 23) * p
}

/// `ln(1 + e)` for `e` in `[0, 1]`: `2 atanh(t)`, `t = e / (2 + e)` in `[0, 1/3]`, by its
/// odd series to `t^15` (error below 1e-8; exact for tiny `e`, where `1 + e` would round).
#[inline(always)]
fn ln_1p_unit(e: f32) -> f32 {
    let t = e / (2.0 + e);
    let t2 = t * t;
    let s = 1.0
        + t2 * (1.0 / 3.0
            + t2 * (1.0 / 5.0
                + t2 * (1.0 / 7.0
                    + t2 * (1.0 / 9.0 + t2 * (1.0 / 11.0 + t2 * (1.0 / 13.0 + t2 / 15.0))))));
    2.0 * t * s
}

/// The loss of one element.
#[inline(always)]
fn bce(l: f32, t: f32) -> f32 {
    l.max(0.0) - l * t + ln_1p_unit(exp_neg(-l.abs()))
}

/// `sigmoid(l)` from `e = exp(-|l|)`, without overflow.
#[inline(always)]
fn sigmoid(l: f32) -> f32 {
    let e = exp_neg(-l.abs());
    let s = 1.0 / (1.0 + e);
    if l >= 0.0 { s } else { e * s }
}

/// The sum of [`bce`] over one chunk, in 16 partial sums (a vector's lanes).
struct Sum<'a> {
    l: &'a [f32],
    t: &'a [f32],
}

impl Simd for Sum<'_> {
    type Output = f64;

    #[inline(always)]
    fn run(self) -> f64 {
        let mut acc = [0.0f32; 16];
        let (lc, tc) = (self.l.chunks_exact(16), self.t.chunks_exact(16));
        let tail: f32 = lc
            .remainder()
            .iter()
            .zip(tc.remainder())
            .map(|(&l, &t)| bce(l, t))
            .sum();
        for (l, t) in lc.zip(tc) {
            for i in 0..16 {
                acc[i] += bce(l[i], t[i]);
            }
        }
        acc.iter().map(|&v| f64::from(v)).sum::<f64>() + f64::from(tail)
    }
}

/// `d[i] = g * (sigmoid(l[i]) - t[i])`, the gradient of the sum with respect to the logits.
struct Grad<'a> {
    d: &'a mut [f32],
    l: &'a [f32],
    t: &'a [f32],
    g: f32,
}

impl Simd for Grad<'_> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        for ((d, &l), &t) in self.d.iter_mut().zip(self.l).zip(self.t) {
            *d = self.g * (sigmoid(l) - t);
        }
    }
}

/// The summed loss of `l` against `t`, in f64 across chunks. `isa` must be one of
/// [`Isa::available`].
pub fn bce_sum(isa: Isa, l: &[f32], t: &[f32]) -> f64 {
    assert_eq!(l.len(), t.len());
    l.par_chunks(CHUNK)
        .zip(t.par_chunks(CHUNK))
        .map(|(l, t)| simd(isa, Sum { l, t }))
        .sum()
}

/// `g * (sigmoid(l) - t)`, element by element. `isa` must be one of [`Isa::available`].
pub fn bce_grad(isa: Isa, l: &[f32], t: &[f32], g: f32) -> Vec<f32> {
    assert_eq!(l.len(), t.len());
    let mut d = vec![0.0; l.len()];
    d.par_chunks_mut(CHUNK)
        .zip(l.par_chunks(CHUNK).zip(t.par_chunks(CHUNK)))
        .for_each(|(d, (l, t))| simd(isa, Grad { d, l, t, g }));
    d
}

impl LossBackend for Flex {
    fn regen_bce_logits_sum(logits: FlexTensor, target: FlexTensor) -> FlexTensor {
        assert_eq!(logits.shape(), target.shape(), "bce: shapes differ");
        let (logits, target) = (contiguous(logits), contiguous(target));
        let s = bce_sum(Isa::current(), values(&logits), values(&target));
        FlexTensor::from_data(TensorData::new(vec![s as f32], [1]))
    }
}

#[derive(Debug)]
struct BceBackward;

impl Backward<Flex, 2> for BceBackward {
    /// The logits and the target.
    type State = (FlexTensor, FlexTensor);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_l, node_t] = ops.parents;
        let (l, t) = ops.state;
        let g = contiguous(grads.consume::<Flex>(&ops.node));
        let g = values(&g)[0];
        let (l, t) = (contiguous(l), contiguous(t));
        let (lv, tv) = (values(&l), values(&t));
        if let Some(node) = node_l {
            let d = bce_grad(Isa::current(), lv, tv, g);
            grads.register::<Flex>(
                node.id,
                FlexTensor::from_data(TensorData::new(d, l.shape())),
            );
        }
        if let Some(node) = node_t {
            // d/dt of the sum: -l per element.
            let d: Vec<f32> = lv.iter().map(|&v| -g * v).collect();
            grads.register::<Flex>(
                node.id,
                FlexTensor::from_data(TensorData::new(d, t.shape())),
            );
        }
    }
}

impl<C: CheckpointStrategy> LossBackend for Autodiff<Flex, C> {
    fn regen_bce_logits_sum(
        logits: FloatTensor<Self>,
        target: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let nodes = [logits.node(), target.node()];
        let (l, t) = (logits.into_primitive(), target.into_primitive());
        match BceBackward.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let out = Flex::regen_bce_logits_sum(l.clone(), t.clone());
                prep.finish((l, t), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::regen_bce_logits_sum(l, t)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Golden values from PyTorch 2.15.0 (float32 inputs, computed in float64); tolerances:
    /// 2e-6 relative on the sum, 1e-6 absolute on each gradient (float32 arithmetic here).
    ///
    /// ```python
    /// import torch
    /// l = torch.tensor([-120., -30., -8.5, -1., -1e-4, 0., 1e-4, 0.7, 3., 17., 95.])
    /// t = torch.tensor([0., 1., 0.3, 1., 0.5, 0., 1., 0.2, 1., 0., 0.9])
    /// F = torch.nn.functional
    /// print(F.binary_cross_entropy_with_logits(l.double(), t.double(), reduction="sum").item())
    /// lg = l.double().requires_grad_()
    /// F.binary_cross_entropy_with_logits(lg, t.double(), reduction="sum").backward()
    /// print([repr(v) for v in lg.grad.tolist()])
    /// ```
    #[test]
    fn fused_bce_matches_pytorch() {
        let l = [-120., -30., -8.5, -1., -1e-4, 0., 1e-4, 0.7, 3., 17., 95.];
        let t = [0., 1., 0.3, 1., 0.5, 0., 1., 0.2, 1., 0., 0.9];
        // Printed: 63.45463247986712 and the gradient below (t = 0.9 is 0.9000000238 in f32).
        let want_sum = 63.454_632_479_867_12;
        let want_grad = [
            7.667_648_073_722e-53,
            -0.999_999_999_999_906_4,
            -0.299_796_584_942_873_76,
            -0.731_058_578_630_004_9,
            -2.499_999_934_763_019_7e-5,
            0.5,
            -0.499_975_000_000_652_3,
            0.468_187_766_544_910_46,
            -0.047_425_873_177_566_635,
            0.999_999_958_600_624_4,
            0.100_000_023_841_857_91,
        ];
        // Every instruction set the CPU has, the portable loops too.
        for isa in Isa::available() {
            let s = bce_sum(isa, &l, &t);
            assert!(
                (s - want_sum).abs() < 2e-6 * want_sum,
                "{isa:?}: {s} vs {want_sum}"
            );
            let d = bce_grad(isa, &l, &t, 1.0);
            for (i, (&a, &b)) in d.iter().zip(&want_grad).enumerate() {
                assert!(
                    (f64::from(a) - b).abs() < 1e-6,
                    "{isa:?} grad {i}: {a} vs {b}"
                );
            }
        }
    }

    /// Through burn's autodiff, on more elements than one parallel chunk: the fused value
    /// and logit gradient against the same loss written as burn's operations (the fallback
    /// of other devices), within float32 rounding.
    #[test]
    fn fused_op_matches_the_composed_loss() {
        let device = crate::device::train_device();
        let dims = [3, 1, 61, 59];
        // Seeded, so a failure reproduces.
        let mut rng = crate::rng::Rng::new(13);
        let n = dims.iter().product::<usize>();
        let logits: Vec<f32> = (0..n).map(|_| (4.0 * rng.normal()) as f32).collect();
        let targets: Vec<f32> = (0..n).map(|_| rng.uniform() as f32).collect();
        let l0 = Tensor::<4>::from_data(TensorData::new(logits, dims), &device);
        let t = Tensor::<4>::from_data(TensorData::new(targets, dims), &device);
        let run = |fused: bool| {
            let l = l0.clone().detach().require_grad();
            let s = if fused {
                bce_with_logits_sum(l.clone(), t.clone())
            } else {
                (l.clone().clamp_min(0.0) - l.clone() * t.clone()
                    + (l.clone().abs().neg().exp() + 1.0).log())
                .sum()
            };
            let g = s.backward();
            let d: Vec<f32> = l.grad(&g).unwrap().into_data().try_to_vec().unwrap();
            (s.into_scalar::<f32>(), d)
        };
        let ((a, da), (b, db)) = (run(true), run(false));
        assert!((a - b).abs() < 1e-5 * b.abs(), "{a} vs {b}");
        for (x, y) in da.iter().zip(&db) {
            assert!((x - y).abs() < 1e-6, "{x} vs {y}");
        }
    }
}
