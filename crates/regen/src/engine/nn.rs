//! Convolution modules on regen's engine. Their parameters are named as burn's (`weight`,
//! `bias`), and they are initialised by burn's own initialisers in the same order, so every
//! checkpoint written with burn's modules loads into them and a seed gives the same weights.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::Initializer;
use burn::tensor::{Device, Tensor};

use super::{Act, conv_transpose2d, conv2d};

/// A 2-D convolution with symmetric zero padding.
#[derive(Config, Debug)]
pub struct Conv2dConfig {
    /// `[in, out]` channels.
    pub channels: [usize; 2],
    /// `[height, width]` of the kernel.
    pub kernel_size: [usize; 2],
    /// `[height, width]` stride.
    #[config(default = "[1, 1]")]
    pub stride: [usize; 2],
    /// Zero rows (and columns) added on each side.
    #[config(default = "[0, 0]")]
    pub padding: [usize; 2],
    /// Whether a bias is added.
    #[config(default = true)]
    pub bias: bool,
    /// Initialiser of weight and bias (burn's default: Kaiming uniform, gain 1/sqrt(3)).
    #[config(default = "Initializer::KaimingUniform{gain:1.0/3.0f64.sqrt(),fan_out_only:false}")]
    pub initializer: Initializer,
}

/// A 2-D convolution: weight `[out, in, kh, kw]`, bias `[out]`.
#[derive(Module, Debug)]
pub struct Conv2d {
    /// `[out, in, kh, kw]`.
    pub weight: Param<Tensor<4>>,
    /// `[out]`.
    pub bias: Option<Param<Tensor<1>>>,
    /// `[height, width]` stride.
    pub stride: [usize; 2],
    /// Zero padding on each side.
    pub padding: [usize; 2],
}

impl Conv2dConfig {
    /// Builds the layer with fresh weights.
    pub fn init(&self, device: &Device) -> Conv2d {
        let burn = burn::nn::conv::Conv2dConfig::new(self.channels, self.kernel_size)
            .with_bias(self.bias)
            .with_initializer(self.initializer.clone())
            .init(device);
        Conv2d {
            weight: burn.weight,
            bias: burn.bias,
            stride: self.stride,
            padding: self.padding,
        }
    }
}

impl Conv2d {
    /// `[b, in, h, w]` -> `[b, out, oh, ow]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.forward_act(x, Act::None)
    }

    /// `act(self.forward(x))` in one pass.
    pub fn forward_act(&self, x: Tensor<4>, act: Act) -> Tensor<4> {
        self.forward_with(x, self.weight.val(), act)
    }

    /// The layer with `weight` in place of its own (a spectrally normalised one, say).
    pub fn forward_with(&self, x: Tensor<4>, weight: Tensor<4>, act: Act) -> Tensor<4> {
        let bias = self.bias.as_ref().map(|b| b.val());
        conv2d(x, weight, bias, self.stride, self.padding, act)
    }
}

/// A 2-D transposed convolution.
#[derive(Config, Debug)]
pub struct ConvTranspose2dConfig {
    /// `[in, out]` channels.
    pub channels: [usize; 2],
    /// `[height, width]` of the kernel.
    pub kernel_size: [usize; 2],
    /// `[height, width]` stride.
    #[config(default = "[1, 1]")]
    pub stride: [usize; 2],
    /// Rows (and columns) removed from each side of the full output.
    #[config(default = "[0, 0]")]
    pub padding: [usize; 2],
    /// Rows (and columns) added at the bottom (right) of the output.
    #[config(default = "[0, 0]")]
    pub padding_out: [usize; 2],
    /// Whether a bias is added.
    #[config(default = true)]
    pub bias: bool,
    /// Initialiser of weight and bias (burn's default: Kaiming uniform, gain 1/sqrt(3)).
    #[config(default = "Initializer::KaimingUniform{gain:1.0/3.0f64.sqrt(),fan_out_only:false}")]
    pub initializer: Initializer,
}

/// A 2-D transposed convolution: weight `[in, out, kh, kw]`, bias `[out]`.
#[derive(Module, Debug)]
pub struct ConvTranspose2d {
    /// `[in, out, kh, kw]`.
    pub weight: Param<Tensor<4>>,
    /// `[out]`.
    pub bias: Option<Param<Tensor<1>>>,
    /// `[height, width]` stride.
    pub stride: [usize; 2],
    /// Rows and columns removed from each side.
    pub padding: [usize; 2],
    /// Rows and columns added at the bottom and right.
    pub padding_out: [usize; 2],
}

impl ConvTranspose2dConfig {
    /// Builds the layer with fresh weights.
    pub fn init(&self, device: &Device) -> ConvTranspose2d {
        let burn = burn::nn::conv::ConvTranspose2dConfig::new(self.channels, self.kernel_size)
            .with_bias(self.bias)
            .with_initializer(self.initializer.clone())
            .init(device);
        ConvTranspose2d {
            weight: burn.weight,
            bias: burn.bias,
            stride: self.stride,
            padding: self.padding,
            padding_out: self.padding_out,
        }
    }
}

impl ConvTranspose2d {
    /// `[b, in, h, w]` -> `[b, out, (h - 1) * stride - 2 * padding + kh + padding_out, ..]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.forward_act(x, Act::None)
    }

    /// `act(self.forward(x))` in one pass.
    pub fn forward_act(&self, x: Tensor<4>, act: Act) -> Tensor<4> {
        let bias = self.bias.as_ref().map(|b| b.val());
        conv_transpose2d(
            x,
            self.weight.val(),
            bias,
            self.stride,
            self.padding,
            self.padding_out,
            act,
        )
    }
}
