//! regen's own convolution engine for the CPU.
//!
//! Convolutions are most of the work of every network regen trains, and burn-flex runs them
//! as general 3-D im2col products. This engine computes them with kernels chosen per layer
//! shape ([`kernels`]): Winograd F(4x4, 3x3) over channel-last bands ([`winograd`]) for 3x3
//! stride-1 layers, forward and both gradients; direct kernels over channel-last copies
//! ([`direct`]) for strided layers with kernels twice the stride (4x4 stride 2), their
//! transposes, and one large image's strided layers; sums of shifted rows ([`thin`]) for
//! layers with one to three output channels; matrix products over unfolded images
//! ([`im2col`]) for the rest; bias and activation fused into the output pass. [`backend`]
//! plugs them into burn as a backend extension with a backward step of its own; [`conv2d`]
//! and [`conv_transpose2d`] call it on the CPU device and fall back to burn's operations on
//! any other device; [`nn`] holds the modules the models use.
//!
//! `REGEN_CONV=gemm` turns Winograd and the direct kernels off, `REGEN_CONV=direct` puts the
//! direct kernels wherever the channels allow, `REGEN_CONV=winograd` puts Winograd wherever
//! it runs, and `REGEN_CONV=burn` turns off the whole engine, so each can be measured
//! against the alternative in the same build.

pub mod backend;
pub mod direct;
pub mod gemm;
pub mod geom;
pub mod im2col;
pub mod kernels;
pub mod loss;
pub mod nn;
pub mod norm;
pub mod thin;
pub mod winograd;

use burn::backend::Dispatch;
use burn::tensor::activation::{leaky_relu, relu};
use burn::tensor::module;
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use burn::tensor::{DType, Device, Tensor};

use backend::{ConvBackend, ConvSpec, PReluBackend};
pub use kernels::{Act, Kernel};

/// Whether regen's engine runs this tensor's convolutions: f32 on the CPU device (with or
/// without autodiff), unless `REGEN_CONV=burn`.
pub fn runs_on(x: &Tensor<4>) -> bool {
    !burn_only() && x.dtype() == DType::F32 && x.device() == Device::flex()
}

fn burn_only() -> bool {
    static BURN: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *BURN.get_or_init(|| std::env::var("REGEN_CONV").as_deref() == Ok("burn"))
}

fn activate(y: Tensor<4>, act: Act) -> Tensor<4> {
    match act {
        Act::None => y,
        Act::Relu => relu(y),
        Act::LeakyRelu(s) => leaky_relu(y, f64::from(s)),
    }
}

fn call(
    x: Tensor<4>,
    w: Tensor<4>,
    bias: Option<Tensor<1>>,
    channels: usize,
    spec: ConvSpec,
) -> Tensor<4> {
    let bias = bias.unwrap_or_else(|| Tensor::zeros([channels], &x.device()));
    Tensor::from_dispatch(<Dispatch as ConvBackend>::regen_conv(
        x.into_dispatch(),
        w.into_dispatch(),
        bias.into_dispatch(),
        spec,
    ))
}

/// PReLU, `max(0, x) + a_c min(0, x)` with one slope per channel: `x` `[n, c, h, w]`,
/// `slope` `[c]`. On regen's engine one pass each way; elsewhere burn's.
pub fn prelu(x: Tensor<4>, slope: Tensor<1>) -> Tensor<4> {
    if !runs_on(&x) {
        return burn::tensor::activation::prelu(x, slope);
    }
    Tensor::from_dispatch(<Dispatch as PReluBackend>::regen_prelu(
        x.into_dispatch(),
        slope.into_dispatch(),
    ))
}

/// `act(conv(x, w) + bias)`: `x` `[n, c, h, w]`, `w` `[k, c, kh, kw]`, `bias` `[k]`, symmetric
/// zero `padding`; returns `[n, k, oh, ow]`.
pub fn conv2d(
    x: Tensor<4>,
    w: Tensor<4>,
    bias: Option<Tensor<1>>,
    stride: [usize; 2],
    padding: [usize; 2],
    act: Act,
) -> Tensor<4> {
    conv2d_with(kernels::kernel_choice(), x, w, bias, stride, padding, act)
}

fn conv2d_with(
    kernel: Kernel,
    x: Tensor<4>,
    w: Tensor<4>,
    bias: Option<Tensor<1>>,
    stride: [usize; 2],
    padding: [usize; 2],
    act: Act,
) -> Tensor<4> {
    if !runs_on(&x) {
        let opts = ConvOptions::new(stride, padding, [1, 1], 1);
        return activate(module::conv2d(x, w, bias, opts), act);
    }
    let spec = ConvSpec {
        stride,
        padding,
        out_padding: [0, 0],
        transposed: false,
        bias: bias.is_some(),
        act,
        kernel,
    };
    let k = w.dims()[0];
    call(x, w, bias, k, spec)
}

/// `act(conv_transpose(x, w) + bias)`: `x` `[n, c, h, w]`, `w` `[c, k, kh, kw]`, `bias`
/// `[k]`; returns `[n, k, (h - 1) * stride - 2 * padding + kh + out_padding, ..]`.
pub fn conv_transpose2d(
    x: Tensor<4>,
    w: Tensor<4>,
    bias: Option<Tensor<1>>,
    stride: [usize; 2],
    padding: [usize; 2],
    out_padding: [usize; 2],
    act: Act,
) -> Tensor<4> {
    let kernel = kernels::kernel_choice();
    conv_transpose2d_with(kernel, x, w, bias, stride, padding, out_padding, act)
}

#[allow(clippy::too_many_arguments)]
fn conv_transpose2d_with(
    kernel: Kernel,
    x: Tensor<4>,
    w: Tensor<4>,
    bias: Option<Tensor<1>>,
    stride: [usize; 2],
    padding: [usize; 2],
    out_padding: [usize; 2],
    act: Act,
) -> Tensor<4> {
    if !runs_on(&x) {
        let opts = ConvTransposeOptions::new(stride, padding, out_padding, [1, 1], 1);
        return activate(module::conv_transpose2d(x, w, bias, opts), act);
    }
    let spec = ConvSpec {
        stride,
        padding,
        out_padding,
        transposed: true,
        bias: bias.is_some(),
        act,
        kernel,
    };
    let k = w.dims()[1];
    call(x, w, bias, k, spec)
}

#[cfg(test)]
mod tests {
    //! regen's convolutions through burn's autodiff against PyTorch: outputs and the
    //! gradients of `sum(y * g)` for input, weight and bias, at 11 shapes (odd sizes;
    //! padding 0, 1, 2; channels 1, 3, 16, 64; batches 1, 2, 3, 16; 3x3 stride 1 and 2, 4x4
    //! stride 2, transposed 4x4 and 2x2; ReLU and leaky ReLU fused), with both kernel
    //! choices. The fixture was written by PyTorch 2.15.0 (float32) with this script:
    //!
    //! ```python
    //! import torch
    //! from safetensors.torch import save_file
    //! torch.manual_seed(0)
    //! torch.set_num_threads(2)
    //! F = torch.nn.functional
    //! # name: (transposed, n, c, h, w, k, ks, stride, pad, act)
    //! CASES = {
    //!     "c1_16_p1_relu": (0, 1, 1, 9, 7, 16, 3, 1, 1, "relu"),
    //!     "c16_16_p1_relu": (0, 2, 16, 11, 13, 16, 3, 1, 1, "relu"),
    //!     "c3_16_p0": (0, 1, 3, 10, 9, 16, 3, 1, 0, "none"),
    //!     "c16_4_p2": (0, 2, 16, 7, 8, 4, 3, 1, 2, "none"),
    //!     "b16_c16_8_p1": (0, 16, 16, 5, 5, 8, 3, 1, 1, "none"),
    //!     "c64_16_p1_relu": (0, 2, 64, 5, 7, 16, 3, 1, 1, "relu"),
    //!     "b16_c1_32_p1_relu": (0, 16, 1, 5, 5, 32, 3, 1, 1, "relu"),
    //!     "s2_c16_32_relu": (0, 3, 16, 9, 9, 32, 3, 2, 1, "relu"),
    //!     "k4s2_c3_16_leaky": (0, 2, 3, 8, 8, 16, 4, 2, 1, "leaky"),
    //!     "t4s2_c16_3": (1, 2, 16, 7, 7, 3, 4, 2, 1, "none"),
    //!     "t2s2_c16_8_relu": (1, 2, 16, 5, 6, 8, 2, 2, 0, "relu"),
    //! }
    //! out = {}
    //! for name, (t, n, c, h, w, k, ks, s, p, act) in CASES.items():
    //!     x = torch.randn(n, c, h, w, requires_grad=True)
    //!     wt = (torch.randn(c, k, ks, ks) if t else torch.randn(k, c, ks, ks)) * 0.3
    //!     wt.requires_grad_(True)
    //!     b = torch.randn(k, requires_grad=True)
    //!     y = (F.conv_transpose2d if t else F.conv2d)(x, wt, b, stride=s, padding=p)
    //!     y = {"relu": F.relu, "leaky": lambda v: F.leaky_relu(v, 0.2),
    //!          "none": lambda v: v}[act](y)
    //!     g = torch.randn_like(y)
    //!     (y * g).sum().backward()
    //!     for key, v in [("x", x), ("w", wt), ("b", b), ("g", g), ("y", y),
    //!                    ("dx", x.grad), ("dw", wt.grad), ("db", b.grad)]:
    //!         out[f"{name}.{key}"] = v.detach().contiguous()
    //! save_file(out, "crates/regen/tests/fixtures/conv-golden.safetensors")
    //! ```
    use super::*;
    use burn::tensor::TensorData;

    const CASES: &[(&str, bool, usize, usize, Act)] = &[
        ("c1_16_p1_relu", false, 1, 1, Act::Relu),
        ("c16_16_p1_relu", false, 1, 1, Act::Relu),
        ("c3_16_p0", false, 1, 0, Act::None),
        ("c16_4_p2", false, 1, 2, Act::None),
        ("b16_c16_8_p1", false, 1, 1, Act::None),
        ("c64_16_p1_relu", false, 1, 1, Act::Relu),
        ("b16_c1_32_p1_relu", false, 1, 1, Act::Relu),
        ("s2_c16_32_relu", false, 2, 1, Act::Relu),
        ("k4s2_c3_16_leaky", false, 2, 1, Act::LeakyRelu(0.2)),
        ("t4s2_c16_3", true, 2, 1, Act::None),
        ("t2s2_c16_8_relu", true, 2, 0, Act::Relu),
    ];

    fn read<const D: usize>(
        st: &safetensors::SafeTensors,
        name: &str,
        device: &Device,
    ) -> Tensor<D> {
        let t = st.tensor(name).expect(name);
        let vals: Vec<f32> = t
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        Tensor::from_data(TensorData::new(vals, t.shape().to_vec()), device)
    }

    /// Largest |a - b| over max(1, largest |b|).
    fn rel_err<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
        assert_eq!(a.dims(), b.dims());
        let a: Vec<f32> = a.into_data().try_to_vec().unwrap();
        let b: Vec<f32> = b.into_data().try_to_vec().unwrap();
        let scale = b.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        a.iter()
            .zip(&b)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max)
            / scale
    }

    #[test]
    fn outputs_and_gradients_match_pytorch() {
        let bytes = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/conv-golden.safetensors"
        ))
        .unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let device = crate::device::train_device();
        for &(name, transposed, s, p, act) in CASES {
            for kernel in [Kernel::Auto, Kernel::Gemm] {
                let get = |k: &str| format!("{name}.{k}");
                let x = read::<4>(&st, &get("x"), &device).require_grad();
                let w = read::<4>(&st, &get("w"), &device).require_grad();
                let b = read::<1>(&st, &get("b"), &device).require_grad();
                let y = if transposed {
                    conv_transpose2d_with(
                        kernel,
                        x.clone(),
                        w.clone(),
                        Some(b.clone()),
                        [s, s],
                        [p, p],
                        [0, 0],
                        act,
                    )
                } else {
                    conv2d_with(
                        kernel,
                        x.clone(),
                        w.clone(),
                        Some(b.clone()),
                        [s, s],
                        [p, p],
                        act,
                    )
                };
                let grads = (y.clone() * read::<4>(&st, &get("g"), &device))
                    .sum()
                    .backward();
                // Winograd F(4x4, 3x3) in f32 is within 2e-5 of the output's scale (see
                // kernels::tests); PyTorch's own f32 sums differ from the exact ones too.
                let tol = 1e-4;
                let checks = [
                    ("y", rel_err(y.detach(), read(&st, &get("y"), &device))),
                    (
                        "dx",
                        rel_err(x.grad(&grads).unwrap(), read(&st, &get("dx"), &device)),
                    ),
                    (
                        "dw",
                        rel_err(w.grad(&grads).unwrap(), read(&st, &get("dw"), &device)),
                    ),
                ];
                for (what, err) in checks {
                    assert!(err < tol, "{name} {kernel:?} {what}: error {err}");
                }
                let db = rel_err(b.grad(&grads).unwrap(), read(&st, &get("db"), &device));
                assert!(db < tol, "{name} {kernel:?} db: error {db}");
            }
        }
    }
}
