//! regen's convolutions as a burn backend extension: one operation, [`ConvBackend::regen_conv`],
//! implemented for burn-flex (the kernels of [`super::kernels`] on the tensors' `f32` storage,
//! no copy when it is contiguous) and for autodiff over flex (the same forward, and a backward
//! step of regen's own: input, weight and bias gradients from the same kernels).

use burn::backend::TensorMetadata;
use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Flex, backend_extension};
use burn::tensor::{Shape, TensorData};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use super::kernels::{self, Act, Geom, Kernel};

/// What a convolution does besides its tensors.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ConvSpec {
    /// Stride `[height, width]`.
    pub stride: [usize; 2],
    /// Symmetric zero padding `[height, width]`.
    pub padding: [usize; 2],
    /// Transposed convolutions only: rows and columns added at the bottom and right of the
    /// output (less than the stride), as in PyTorch's `output_padding`.
    pub out_padding: [usize; 2],
    /// A transposed convolution (weight `[in, out, kh, kw]`) rather than a plain one
    /// (weight `[out, in, kh, kw]`).
    pub transposed: bool,
    /// Whether the bias tensor is used; without it the bias argument is ignored.
    pub bias: bool,
    /// Activation applied to the output in the same pass.
    pub act: Act,
    /// Kernel choice for 3x3 stride-1 shapes.
    pub kernel: Kernel,
}

impl ConvSpec {
    /// The geometry of the plain convolution this operation computes or transposes, and the
    /// output shape, from the input and weight shapes.
    pub fn geometry(&self, x: &Shape, w: &Shape) -> (Geom, [usize; 4]) {
        let (x, w) = (x.as_slice(), w.as_slice());
        assert!(
            x.len() == 4 && w.len() == 4,
            "regen_conv: 4-D tensors expected"
        );
        let ks = [w[2], w[3]];
        if self.transposed {
            assert_eq!(x[1], w[0], "transposed conv: input channels vs weight");
            let side =
                |d: usize| (x[2 + d].max(1) - 1) * self.stride[d] + ks[d] + self.out_padding[d];
            let (oh, ow) = (side(0), side(1));
            assert!(
                oh > 2 * self.padding[0] && ow > 2 * self.padding[1],
                "transposed conv: padding leaves no output"
            );
            let (oh, ow) = (oh - 2 * self.padding[0], ow - 2 * self.padding[1]);
            let g = Geom::new([x[0], w[1], oh, ow], w[0], ks, self.stride, self.padding)
                .expect("transposed conv geometry");
            assert_eq!(
                (g.oh, g.ow),
                (x[2], x[3]),
                "transposed conv: output padding too large"
            );
            (g, [x[0], w[1], oh, ow])
        } else {
            assert_eq!(x[1], w[1], "conv: input channels vs weight");
            let g = Geom::new(
                [x[0], x[1], x[2], x[3]],
                w[0],
                ks,
                self.stride,
                self.padding,
            )
            .expect("conv: kernel larger than the padded input");
            let out = [g.n, g.k, g.oh, g.ow];
            (g, out)
        }
    }
}

/// regen's convolution as a backend operation.
#[backend_extension(Flex, Autodiff)]
pub trait ConvBackend: Backend {
    /// A 2-D convolution (or transposed convolution) with bias and a fused activation.
    /// `x` `[n, c, h, w]`; `weight` `[k, c, kh, kw]` (transposed: `[c, k, kh, kw]`); `bias`
    /// `[k]`, read only if `spec.bias`. Returns `[n, k, oh, ow]`.
    fn regen_conv(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        spec: ConvSpec,
    ) -> FloatTensor<Self>;
}

/// Wall time per convolution pass and shape, kept when `REGEN_PROFILE` is set: which layer
/// of a training step costs what, measured inside the real step (caches and all), which a
/// kernel benchmark run alone does not show.
static PROFILE: Mutex<Vec<(String, u64, f64)>> = Mutex::new(Vec::new());

fn profiling() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("REGEN_PROFILE").is_some())
}

/// Runs `f`, adding its time to the entry `what` of `g`'s shape when profiling.
fn timed<T>(what: &str, g: &Geom, transposed: bool, f: impl FnOnce() -> T) -> T {
    if !profiling() {
        return f();
    }
    let t0 = Instant::now();
    let r = f();
    let label = format!(
        "{what:<4} {}x{}x{}x{} -> {} ({}x{} s{}{})",
        g.n,
        g.c,
        g.h,
        g.w,
        g.k,
        g.kh,
        g.kw,
        g.sh,
        if transposed { " T" } else { "" }
    );
    record(label, t0);
    r
}

/// Adds the time since `t0` to the profile entry `label`.
fn record(label: String, t0: Instant) {
    let secs = t0.elapsed().as_secs_f64();
    let mut p = PROFILE.lock().unwrap_or_else(|e| e.into_inner());
    match p.iter_mut().find(|e| e.0 == label) {
        Some(e) => {
            e.1 += 1;
            e.2 += secs;
        }
        None => p.push((label, 1, secs)),
    }
}

/// With `REGEN_PROFILE` set, a table of the time spent in each convolution pass (forward,
/// input gradient `dx`, weight gradient `dw`, bias gradient `db`, activation gradient `act`,
/// and copies of strided tensors to row-major order before any of them) per shape, in the
/// plain convolution's terms (`n x c x h x w -> k`, `T` when transposed), largest first;
/// `None` otherwise.
pub fn profile_report() -> Option<String> {
    if !profiling() {
        return None;
    }
    let mut p = PROFILE.lock().unwrap_or_else(|e| e.into_inner()).clone();
    p.sort_by(|a, b| b.2.total_cmp(&a.2));
    let total: f64 = p.iter().map(|e| e.2).sum();
    let mut out = format!("convolution time by pass and shape ({total:.2} s in all):\n");
    for (label, n, secs) in p {
        out += &format!(
            "{:>8.1} ms {:>5.1}% {:>7} calls {:>7.3} ms/call  {label}\n",
            secs * 1e3,
            100.0 * secs / total.max(1e-12),
            n,
            secs * 1e3 / n as f64
        );
    }
    Some(out)
}

/// The tensor's values in row-major order, copied only if its layout is not already so.
pub(crate) fn contiguous(t: FlexTensor) -> FlexTensor {
    if t.as_slice::<f32>().is_some() {
        return t;
    }
    if !profiling() {
        return t.to_contiguous();
    }
    let t0 = Instant::now();
    let c = t.to_contiguous();
    record(format!("copy {:?} to row-major", t.shape().as_slice()), t0);
    c
}

/// The `f32` values of a contiguous tensor.
pub(crate) fn values(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>().expect("contiguous f32 tensor")
}

/// The values of a contiguous tensor to write in place; copied first only if the storage
/// is shared (a consumed gradient usually is not, so this saves a copy of it).
fn values_mut(t: &mut FlexTensor) -> &mut [f32] {
    let (start, end) = t
        .layout()
        .contiguous_offsets()
        .expect("contiguous f32 tensor");
    &mut t.storage_mut::<f32>()[start..end]
}

fn tensor(v: Vec<f32>, shape: [usize; 4]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(v, shape))
}

impl ConvBackend for Flex {
    fn regen_conv(
        x: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        spec: ConvSpec,
    ) -> FlexTensor {
        let (g, out) = spec.geometry(&x.shape(), &weight.shape());
        let (x, w) = (contiguous(x), contiguous(weight));
        let bias = spec.bias.then(|| contiguous(bias));
        let b = bias.as_ref().map(values);
        let y = timed("fwd", &g, spec.transposed, || {
            if spec.transposed {
                kernels::conv_transpose_forward(
                    &g,
                    values(&x),
                    values(&w),
                    b,
                    spec.act,
                    spec.kernel,
                )
            } else {
                kernels::conv_forward(&g, values(&x), values(&w), b, spec.act, spec.kernel)
            }
        });
        tensor(y, out)
    }
}

/// The backward step: gradients of the input, the weight and the bias.
#[derive(Debug)]
struct ConvBackward;

/// Node ids of the input and weight, the output when an activation was fused (its
/// derivative is read from it), and the spec.
type ConvState = (NodeId, NodeId, Option<FlexTensor>, ConvSpec);

impl Backward<Flex, 3> for ConvBackward {
    type State = ConvState;

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_w, node_b] = ops.parents;
        let (x_id, w_id, out, spec) = ops.state;
        let mut grad = contiguous(grads.consume::<Flex>(&ops.node));
        let x = contiguous(checkpointer.retrieve_node_output::<FlexTensor>(x_id));
        let w = contiguous(checkpointer.retrieve_node_output::<FlexTensor>(w_id));
        let (g, _) = spec.geometry(&x.shape(), &w.shape());
        if let Some(out) = &out {
            let out = contiguous(out.clone());
            timed("act", &g, spec.transposed, || {
                kernels::through_act(values_mut(&mut grad), values(&out), spec.act)
            });
        }
        let dy = values(&grad);
        let (xs, ws) = (x.shape(), w.shape());
        let dims = |s: &Shape| -> [usize; 4] { s.as_slice().try_into().expect("4-D") };
        if spec.transposed {
            // x is the plain convolution's output side, dy its input side.
            if let Some(node) = node_x {
                let dx = timed("dx", &g, true, || {
                    kernels::conv_forward(&g, dy, values(&w), None, Act::None, spec.kernel)
                });
                grads.register::<Flex>(node.id, tensor(dx, dims(&xs)));
            }
            if let Some(node) = node_w {
                let dw = timed("dw", &g, true, || {
                    kernels::conv_backward_weight(&g, dy, values(&x), spec.kernel)
                });
                grads.register::<Flex>(node.id, tensor(dw, dims(&ws)));
            }
            if let Some(node) = node_b {
                let db = timed("db", &g, true, || kernels::bias_grad(dy, g.n, g.c, g.hw()));
                grads.register::<Flex>(node.id, FlexTensor::from_data(TensorData::new(db, [g.c])));
            }
        } else {
            if let Some(node) = node_x {
                let dx = timed("dx", &g, false, || {
                    kernels::conv_backward_data(&g, dy, values(&w), spec.kernel)
                });
                grads.register::<Flex>(node.id, tensor(dx, dims(&xs)));
            }
            if let Some(node) = node_w {
                let dw = timed("dw", &g, false, || {
                    kernels::conv_backward_weight(&g, values(&x), dy, spec.kernel)
                });
                grads.register::<Flex>(node.id, tensor(dw, dims(&ws)));
            }
            if let Some(node) = node_b {
                let db = timed("db", &g, false, || kernels::bias_grad(dy, g.n, g.k, g.p()));
                grads.register::<Flex>(node.id, FlexTensor::from_data(TensorData::new(db, [g.k])));
            }
        }
    }
}

impl<C: CheckpointStrategy> ConvBackend for Autodiff<Flex, C> {
    fn regen_conv(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        spec: ConvSpec,
    ) -> FloatTensor<Self> {
        let nodes = [x.node(), weight.node(), bias.node()];
        match ConvBackward.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let x_id = prep.checkpoint(&x);
                let w_id = prep.checkpoint(&weight);
                let out = Flex::regen_conv(
                    x.into_primitive(),
                    weight.into_primitive(),
                    bias.into_primitive(),
                    spec,
                );
                let kept = (spec.act != Act::None).then(|| out.clone());
                prep.finish((x_id, w_id, kept, spec), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::regen_conv(
                x.into_primitive(),
                weight.into_primitive(),
                bias.into_primitive(),
                spec,
            )),
        }
    }
}

/// regen's PReLU as a backend operation: burn's is a mask, a broadcast product and a
/// select, each a pass over the tensor, forward and backward; here each way is one pass.
#[backend_extension(Flex, Autodiff)]
pub trait PReluBackend: Backend {
    /// `max(0, x) + a_c min(0, x)`: `x` `[n, c, h, w]`, `slope` `[c]`; returns `x`'s shape.
    fn regen_prelu(x: FloatTensor<Self>, slope: FloatTensor<Self>) -> FloatTensor<Self>;
}

/// `(n, c, h w)` of a 4-D shape.
fn planes_of(s: &Shape) -> (usize, usize, usize) {
    let d = s.as_slice();
    assert!(d.len() == 4, "regen_prelu: a 4-D tensor expected");
    (d[0], d[1], d[2] * d[3])
}

impl PReluBackend for Flex {
    fn regen_prelu(x: FlexTensor, slope: FlexTensor) -> FlexTensor {
        let shape = x.shape();
        let (_, c, hw) = planes_of(&shape);
        let (mut y, a) = (contiguous(x), contiguous(slope));
        let a = values(&a);
        assert_eq!(a.len(), c, "regen_prelu: one slope per channel");
        // In place: the input is consumed, and copied first only if something else holds
        // it (autodiff keeps it for the backward step).
        kernels::par_planes(values_mut(&mut y), hw, |i, plane| {
            let s = a[i % c];
            plane.iter_mut().for_each(|v| {
                if *v < 0.0 {
                    *v *= s;
                }
            });
        });
        y
    }
}

/// The backward step of [`PReluBackend::regen_prelu`]: `dx = g` where `x > 0`, `a_c g`
/// elsewhere; `da_c` = the sum of `g x` where `x <= 0` (PyTorch's convention at 0).
#[derive(Debug)]
struct PReluBackward;

impl Backward<Flex, 2> for PReluBackward {
    type State = (NodeId, NodeId);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_a] = ops.parents;
        let (x_id, a_id) = ops.state;
        let mut grad = contiguous(grads.consume::<Flex>(&ops.node));
        let x = contiguous(checkpointer.retrieve_node_output::<FlexTensor>(x_id));
        let a = contiguous(checkpointer.retrieve_node_output::<FlexTensor>(a_id));
        let shape = x.shape();
        let (_, c, hw) = planes_of(&shape);
        let (xv, av) = (values(&x), values(&a));
        let g = values(&grad);
        if let Some(node) = node_a {
            // Per (sample, channel) plane, then summed over samples.
            let per_plane = kernels::par_plane_sums(g.len() / hw, |i| {
                let r = i * hw..(i + 1) * hw;
                g[r.clone()]
                    .iter()
                    .zip(&xv[r])
                    .map(|(&g, &x)| if x > 0.0 { 0.0 } else { (g * x) as f64 })
                    .sum()
            });
            let mut da = vec![0.0f32; c];
            for (i, v) in per_plane.into_iter().enumerate() {
                da[i % c] += v as f32;
            }
            grads.register::<Flex>(node.id, FlexTensor::from_data(TensorData::new(da, [c])));
        }
        if let Some(node) = node_x {
            // The consumed gradient becomes dx in place.
            kernels::par_planes(values_mut(&mut grad), hw, |i, plane| {
                let s = av[i % c];
                let xs = &xv[i * hw..(i + 1) * hw];
                for (d, &x) in plane.iter_mut().zip(xs) {
                    if x <= 0.0 {
                        *d *= s;
                    }
                }
            });
            grads.register::<Flex>(node.id, grad);
        }
    }
}

impl<C: CheckpointStrategy> PReluBackend for Autodiff<Flex, C> {
    fn regen_prelu(x: FloatTensor<Self>, slope: FloatTensor<Self>) -> FloatTensor<Self> {
        let nodes = [x.node(), slope.node()];
        match PReluBackward.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let x_id = prep.checkpoint(&x);
                let a_id = prep.checkpoint(&slope);
                let out = Flex::regen_prelu(x.into_primitive(), slope.into_primitive());
                prep.finish((x_id, a_id), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::regen_prelu(
                x.into_primitive(),
                slope.into_primitive(),
            )),
        }
    }
}
