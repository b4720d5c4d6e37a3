//! Batch normalisation in training mode as one fused operation with a backward step of its
//! own, for burn's `BatchNorm` module (its parameters and running statistics as they are, so
//! every checkpoint loads).
//!
//! burn 0.22 computes the batch statistics and their gradient by swapping the batch and
//! channel axes and reshaping, which copies the whole activation each time (burn-flex's
//! `copy_2d_tiled`, 4% of a GAN training step), then runs eight more passes of
//! element-wise operations. Here the statistics are one pass per channel, the output one
//! more, and the backward step two.

use burn::backend::AutodiffBackend;
use burn::backend::TensorMetadata;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, Flex, backend_extension};
use burn::nn::BatchNorm;
use burn::tensor::{DType, Device, Tensor, TensorData};
use rayon::prelude::*;

use super::backend::{contiguous, values};

/// Batch normalisation as a backend operation.
#[backend_extension(Flex, Autodiff)]
pub trait NormBackend: Backend {
    /// `gamma * (x - mean) / sqrt(var + eps) + beta` with the batch's own per-channel mean
    /// and biased variance over `[n, h, w]`: `x` `[n, c, h, w]`, `gamma` and `beta` `[c]`.
    fn regen_batch_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        eps: f64,
    ) -> FloatTensor<Self>;

    /// The per-channel mean and biased variance of `x` `[n, c, h, w]`, as `[2, c]`; not
    /// differentiated (they feed the running statistics).
    fn regen_channel_stats(x: FloatTensor<Self>) -> FloatTensor<Self>;
}

/// `bn`'s forward pass. In training (autodiff device, layer not frozen) on the CPU device
/// it runs fused here and updates the running statistics as burn's module does (momentum,
/// biased variance); otherwise it is `bn.forward(x)`.
pub fn batch_norm(bn: &BatchNorm, x: Tensor<4>) -> Tensor<4> {
    let fused = !super::burn_only()
        && x.dtype() == DType::F32
        && x.device() == Device::flex()
        && x.device().is_autodiff()
        && bn.training.is_enabled();
    if !fused {
        return bn.forward(x);
    }
    let c = x.dims()[1];
    let stats: Tensor<2> = Tensor::from_dispatch(<Dispatch as NormBackend>::regen_channel_stats(
        x.clone().detach().into_dispatch(),
    ));
    let y = Tensor::from_dispatch(<Dispatch as NormBackend>::regen_batch_norm(
        x.clone().into_dispatch(),
        bn.gamma.val().into_dispatch(),
        bn.beta.val().into_dispatch(),
        bn.epsilon,
    ));
    let device = x.device();
    let m = bn.momentum;
    let mean = stats.clone().slice([0..1, 0..c]).reshape([c]);
    let var = stats.slice([1..2, 0..c]).reshape([c]);
    let rm = bn.running_mean.value_sync().to_device(&device);
    let rv = bn.running_var.value_sync().to_device(&device);
    bn.running_mean
        .update((rm.mul_scalar(1.0 - m) + mean.mul_scalar(m)).detach());
    bn.running_var
        .update((rv.mul_scalar(1.0 - m) + var.mul_scalar(m)).detach());
    y
}

fn dims(t: &FlexTensor) -> [usize; 4] {
    t.shape()
        .as_slice()
        .try_into()
        .expect("batch norm: a 4-D input")
}

/// Per channel of `x` `[n, c, p]`: the mean and the biased variance, summed in f64 (two
/// passes, so no cancellation).
pub fn channel_stats(x: &[f32], [n, c, p]: [usize; 3]) -> Vec<(f64, f64)> {
    assert_eq!(x.len(), n * c * p);
    let m = (n * p).max(1) as f64;
    (0..c)
        .into_par_iter()
        .map(|ch| {
            let planes = || (0..n).map(move |b| &x[(b * c + ch) * p..][..p]);
            let mean = planes()
                .map(|v| v.iter().map(|&a| f64::from(a)).sum::<f64>())
                .sum::<f64>()
                / m;
            let var = planes()
                .map(|v| {
                    v.iter()
                        .map(|&a| (f64::from(a) - mean).powi(2))
                        .sum::<f64>()
                })
                .sum::<f64>()
                / m;
            (mean, var)
        })
        .collect()
}

/// The per-channel mean and biased variance of the *global* batch when several ranks train
/// together ([`crate::dist`]): the sums, then the squared deviations from the global mean,
/// each summed over the ranks (the same two passes as [`channel_stats`], so one rank gives
/// its numbers exactly). Also returns the global count per channel.
fn batch_stats(x: &[f32], [n, c, p]: [usize; 3]) -> (Vec<(f64, f64)>, f64) {
    let w = crate::dist::world();
    if w.size() == 1 {
        return (channel_stats(x, [n, c, p]), (n * p).max(1) as f64);
    }
    let plane_sums = |f: &(dyn Fn(f32, usize) -> f64 + Sync)| -> Vec<f64> {
        (0..c)
            .into_par_iter()
            .map(|ch| {
                (0..n)
                    .map(|b| {
                        x[(b * c + ch) * p..][..p]
                            .iter()
                            .map(|&a| f(a, ch))
                            .sum::<f64>()
                    })
                    .sum::<f64>()
            })
            .collect()
    };
    let mut sums = plane_sums(&|a, _| f64::from(a));
    sums.push((n * p) as f64);
    w.all_reduce_f64(&mut sums);
    let m = sums[c].max(1.0);
    let means: Vec<f64> = sums[..c].iter().map(|s| s / m).collect();
    let mut dev = plane_sums(&|a, ch| (f64::from(a) - means[ch]).powi(2));
    w.all_reduce_f64(&mut dev);
    (
        means
            .iter()
            .zip(&dev)
            .map(|(&mu, &d)| (mu, d / m))
            .collect(),
        m,
    )
}

/// `y = gamma * (x - mean) * inv_std + beta`, plane by plane.
fn normalise(
    x: &[f32],
    [n, c, p]: [usize; 3],
    stats: &[(f64, f64)],
    gamma: &[f32],
    beta: &[f32],
    eps: f64,
) -> Vec<f32> {
    let mut y = vec![0.0; n * c * p];
    y.par_chunks_mut(p).enumerate().for_each(|(i, yp)| {
        let ch = i % c;
        let (mean, var) = stats[ch];
        let scale = f64::from(gamma[ch]) / (var + eps).sqrt();
        let (s, t) = (scale as f32, (f64::from(beta[ch]) - mean * scale) as f32);
        for (o, &v) in yp.iter_mut().zip(&x[i * p..(i + 1) * p]) {
            *o = v * s + t;
        }
    });
    y
}

/// Gradients of `normalise` with the batch's statistics: `dx`, `dgamma`, `dbeta`, from
/// `dx = gamma inv_std (dy - mean(dy) - xhat mean(dy xhat))` per channel. With several
/// ranks the statistics and the two means are the global batch's (sums over the ranks),
/// while `dgamma` and `dbeta` stay this rank's share, summed with the other gradients.
pub fn backward(
    x: &[f32],
    dy: &[f32],
    [n, c, p]: [usize; 3],
    gamma: &[f32],
    eps: f64,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let (stats, m) = batch_stats(x, [n, c, p]);
    // Per channel: sum(dy), sum(dy * xhat).
    let sums: Vec<(f64, f64)> = (0..c)
        .into_par_iter()
        .map(|ch| {
            let (mean, var) = stats[ch];
            let inv = 1.0 / (var + eps).sqrt();
            let (mut sd, mut sdx) = (0.0f64, 0.0f64);
            for b in 0..n {
                let o = (b * c + ch) * p;
                for (&g, &v) in dy[o..o + p].iter().zip(&x[o..o + p]) {
                    sd += f64::from(g);
                    sdx += f64::from(g) * (f64::from(v) - mean) * inv;
                }
            }
            (sd, sdx)
        })
        .collect();
    let local = sums.clone();
    let sums = if crate::dist::parallel() {
        let mut flat: Vec<f64> = sums.iter().flat_map(|&(a, b)| [a, b]).collect();
        crate::dist::world().all_reduce_f64(&mut flat);
        flat.chunks_exact(2).map(|p| (p[0], p[1])).collect()
    } else {
        sums
    };
    let mut dx = vec![0.0; n * c * p];
    dx.par_chunks_mut(p).enumerate().for_each(|(i, dp)| {
        let ch = i % c;
        let (mean, var) = stats[ch];
        let inv = 1.0 / (var + eps).sqrt();
        let (sd, sdx) = sums[ch];
        let k = f64::from(gamma[ch]) * inv;
        // dx = k (dy - sd / m - xhat sdx / m), xhat = (x - mean) inv: as a * dy + b * x + c0.
        let a = k as f32;
        let bx = (-k * inv * sdx / m) as f32;
        let c0 = (-k * sd / m + k * inv * sdx / m * mean) as f32;
        for ((d, &g), &v) in dp.iter_mut().zip(&dy[i * p..]).zip(&x[i * p..]) {
            *d = a * g + bx * v + c0;
        }
    });
    let dgamma = local.iter().map(|&(_, sdx)| sdx as f32).collect();
    let dbeta = local.iter().map(|&(sd, _)| sd as f32).collect();
    (dx, dgamma, dbeta)
}

impl NormBackend for Flex {
    fn regen_batch_norm(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        eps: f64,
    ) -> FlexTensor {
        let [n, c, h, w] = dims(&x);
        let (x, gamma, beta) = (contiguous(x), contiguous(gamma), contiguous(beta));
        let (stats, _) = batch_stats(values(&x), [n, c, h * w]);
        let y = normalise(
            values(&x),
            [n, c, h * w],
            &stats,
            values(&gamma),
            values(&beta),
            eps,
        );
        FlexTensor::from_data(TensorData::new(y, [n, c, h, w]))
    }

    fn regen_channel_stats(x: FlexTensor) -> FlexTensor {
        let [n, c, h, w] = dims(&x);
        let x = contiguous(x);
        let (stats, _) = batch_stats(values(&x), [n, c, h * w]);
        let mut v: Vec<f32> = stats.iter().map(|s| s.0 as f32).collect();
        v.extend(stats.iter().map(|s| s.1 as f32));
        FlexTensor::from_data(TensorData::new(v, [2, c]))
    }
}

#[derive(Debug)]
struct NormBackward;

impl Backward<Flex, 3> for NormBackward {
    /// The input, gamma and epsilon.
    type State = (FlexTensor, FlexTensor, f64);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_g, node_b] = ops.parents;
        let (x, gamma, eps) = ops.state;
        let dy = contiguous(grads.consume::<Flex>(&ops.node));
        let [n, c, h, w] = dims(&x);
        let (dx, dg, db) = backward(values(&x), values(&dy), [n, c, h * w], values(&gamma), eps);
        if let Some(node) = node_x {
            grads.register::<Flex>(
                node.id,
                FlexTensor::from_data(TensorData::new(dx, [n, c, h, w])),
            );
        }
        if let Some(node) = node_g {
            grads.register::<Flex>(node.id, FlexTensor::from_data(TensorData::new(dg, [c])));
        }
        if let Some(node) = node_b {
            grads.register::<Flex>(node.id, FlexTensor::from_data(TensorData::new(db, [c])));
        }
    }
}

impl<C: CheckpointStrategy> NormBackend for Autodiff<Flex, C> {
    fn regen_batch_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        eps: f64,
    ) -> FloatTensor<Self> {
        let nodes = [x.node(), gamma.node(), beta.node()];
        let (x, gamma, beta) = (
            contiguous(x.into_primitive()),
            contiguous(gamma.into_primitive()),
            beta.into_primitive(),
        );
        let y = Flex::regen_batch_norm(x.clone(), gamma.clone(), beta, eps);
        match NormBackward.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish((x, gamma, eps), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }

    fn regen_channel_stats(x: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::from_inner(Flex::regen_channel_stats(x.into_primitive()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::BatchNormConfig;

    /// The fused pass against burn's own module, through autodiff: output, the input, gamma
    /// and beta gradients of `sum(y * g)`, and the running statistics after one step, within
    /// float32 rounding (burn's module is itself checked against PyTorch in
    /// `models::gan`'s step-for-step tests, which now run through this pass).
    #[test]
    fn fused_batch_norm_matches_burns() {
        let device = crate::device::train_device();
        // Seeded, so a failure reproduces.
        let mut rng = crate::rng::Rng::new(12);
        let mut normals = |mean: f64, std: f64| -> Tensor<4> {
            let v: Vec<f32> = (0..5 * 3 * 7 * 6)
                .map(|_| (mean + std * rng.normal()) as f32)
                .collect();
            Tensor::from_data(TensorData::new(v, [5, 3, 7, 6]), &device)
        };
        let x0 = normals(0.5, 2.0);
        let g = normals(0.0, 1.0);
        let run = |fused: bool| {
            // A fresh layer each (a clone would share its running statistics).
            let mut bn = BatchNormConfig::new(3).init(&device);
            bn.gamma = burn::module::Param::from_tensor(Tensor::from_data(
                TensorData::new(vec![1.5f32, -1.0, 2.0], [3]),
                &device,
            ));
            let x = x0.clone().detach().require_grad();
            let y = if fused {
                batch_norm(&bn, x.clone())
            } else {
                bn.forward(x.clone())
            };
            let grads = (y.clone() * g.clone()).sum().backward();
            let v = |t: Tensor<1>| -> Vec<f32> { t.into_data().try_to_vec().unwrap() };
            let y: Vec<f32> = y.detach().into_data().try_to_vec().unwrap();
            let dx: Vec<f32> = x.grad(&grads).unwrap().into_data().try_to_vec().unwrap();
            let dg = v(bn.gamma.val().grad(&grads).unwrap());
            let db = v(bn.beta.val().grad(&grads).unwrap());
            let rm = v(bn.running_mean.value_sync());
            let rv = v(bn.running_var.value_sync());
            [y, dx, dg, db, rm, rv]
        };
        let (a, b) = (run(true), run(false));
        for (name, (u, v)) in ["y", "dx", "dgamma", "dbeta", "mean", "var"]
            .iter()
            .zip(a.iter().zip(&b))
        {
            for (p, q) in u.iter().zip(v) {
                assert!((p - q).abs() < 2e-5 * (1.0 + q.abs()), "{name}: {p} vs {q}");
            }
        }
    }
}
