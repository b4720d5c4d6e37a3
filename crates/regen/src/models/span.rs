//! SPAN (Wan et al. 2024, "Swift Parameter-free Attention Network", NTIRE 2024's efficient
//! super-resolution winner): six blocks of three 3x3 convolutions with SiLU between, whose
//! output gates itself (`(out + x) * (sigmoid(out) - 0.5)`, attention without parameters),
//! a 1x1 convolution over four of the blocks' features, and a pixel-shuffle tail. Each of
//! its convolutions is trained re-parameterised (a 1x1, a 3x3 and a 1x1 in a row, beside a
//! 1x1 shortcut) and runs as the single 3x3 convolution they add up to, which is what this
//! module holds: `published::detect` folds the four into one on loading, as spandrel does
//! at inference.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::activation::{sigmoid, silu};
use burn::tensor::{Device, Tensor, TensorData};

use super::arch::{Architecture, conv_params, conv3, pixel_shuffle};
use crate::engine::nn::{Conv2d, Conv2dConfig};

/// The mean SPAN subtracts from an RGB input before scaling it by 255 (DIV2K's).
pub const RGB_MEAN: [f32; 3] = [0.4488, 0.4371, 0.4040];

/// Shape of a SPAN.
#[derive(Config, Debug, PartialEq)]
pub struct SpanConfig {
    /// Image channels in.
    pub in_channels: usize,
    /// Image channels out.
    pub out_channels: usize,
    /// Feature channels.
    #[config(default = 48)]
    pub features: usize,
    /// Output side over input side.
    #[config(default = 4)]
    pub scale: usize,
    /// Whether the input is centred on [`RGB_MEAN`] and scaled by 255 first (SPAN's
    /// default; files with a `no_norm` tensor skip it).
    #[config(default = true)]
    pub norm: bool,
}

/// One block: three convolutions, SiLU between, self-gated.
#[derive(Module, Debug)]
pub struct Spab {
    c1: Conv2d,
    c2: Conv2d,
    c3: Conv2d,
}

impl Spab {
    /// `[b, f, h, w]` -> (the gated output, the first convolution's output after SiLU:
    /// the reference applies SiLU in place, so the feature it hands on is the activated one).
    fn forward(&self, x: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let out1 = silu(self.c1.forward(x.clone()));
        let out2 = self.c2.forward(out1.clone());
        let out3 = self.c3.forward(silu(out2));
        let att = sigmoid(out3.clone()) - 0.5;
        ((out3 + x) * att, out1)
    }
}

/// SPAN.
#[derive(Module, Debug)]
pub struct Span {
    first: Conv2d,
    blocks: Vec<Spab>,
    last: Conv2d,
    cat: Conv2d,
    up: Conv2d,
    scale: usize,
    norm: bool,
}

impl Architecture for SpanConfig {
    type Net = Span;
    const RESIDUAL: bool = false;

    fn init(&self, device: &Device) -> Span {
        let f = self.features;
        Span {
            first: conv3(self.in_channels, f, device),
            blocks: (0..6)
                .map(|_| Spab {
                    c1: conv3(f, f, device),
                    c2: conv3(f, f, device),
                    c3: conv3(f, f, device),
                })
                .collect(),
            last: conv3(f, f, device),
            cat: Conv2dConfig::new([4 * f, f], [1, 1]).init(device),
            up: conv3(f, self.out_channels * self.scale * self.scale, device),
            scale: self.scale,
            norm: self.norm,
        }
    }

    /// `[b, in, h, w]` -> `[b, out, s h, s w]`.
    fn forward(net: &Span, x: Tensor<4>) -> Tensor<4> {
        let x = if net.norm {
            let [_, c, _, _] = x.dims();
            let mean: Vec<f32> = (0..c).map(|i| RGB_MEAN[i % 3]).collect();
            let mean = Tensor::<1>::from_data(TensorData::new(mean, [c]), &x.device());
            (x - mean.reshape([1, c, 1, 1])) * 255.0
        } else {
            x
        };
        let feature = net.first.forward(x);
        let mut out = feature.clone();
        let (mut b1, mut b5_2) = (None, None);
        for (i, b) in net.blocks.iter().enumerate() {
            let (o, first) = b.forward(out);
            out = o;
            if i == 0 {
                b1 = Some(out.clone());
            }
            if i == 5 {
                b5_2 = Some(first);
            }
        }
        let b6 = net.last.forward(out);
        let cat = Tensor::cat(
            vec![
                feature,
                b6,
                b1.expect("six blocks"),
                b5_2.expect("six blocks"),
            ],
            1,
        );
        pixel_shuffle(net.up.forward(net.cat.forward(cat)), net.scale)
    }

    fn in_planes(&self) -> usize {
        self.in_channels
    }

    fn out_channels(&self) -> usize {
        self.out_channels
    }

    fn scale(&self) -> usize {
        self.scale
    }

    fn multiple(&self) -> usize {
        1
    }

    /// Twenty-one 3x3 layers in a row (the first, three per block, the last, the tail's).
    fn receptive_radius(&self) -> usize {
        21
    }

    fn parameters(&self) -> usize {
        let f = self.features;
        conv_params(self.in_channels, f, 3, true)
            + 19 * conv_params(f, f, 3, true)
            + conv_params(4 * f, f, 1, true)
            + conv_params(f, self.out_channels * self.scale * self.scale, 3, true)
    }

    fn check(&self) -> std::result::Result<(), String> {
        if self.features == 0 || self.features > 1024 || self.in_channels == 0 {
            return Err("1 to 1024 features, some channels".into());
        }
        if self.scale == 0 || self.scale > 8 || self.in_channels > 16 || self.out_channels > 16 {
            return Err(format!(
                "scale {} (1 to 8), at most 16 channels",
                self.scale
            ));
        }
        Ok(())
    }
}
