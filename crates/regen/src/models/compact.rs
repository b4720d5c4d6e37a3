//! Compact (SRVGGNetCompact, Real-ESRGAN's small video model, Wang et al. 2021): 3x3
//! convolutions at the input's size, each followed by PReLU (one slope per channel), a last
//! convolution to `out s s` planes folded into the larger image by pixel shuffle, plus the
//! input upsampled by nearest neighbour, so the body learns only what nearest-neighbour
//! upsampling misses.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor};

use burn::nn::Initializer;

use super::arch::{Architecture, conv_params, pixel_shuffle, upsample_nearest};
use crate::engine::nn::{Conv2d, Conv2dConfig};

/// Shape of a Compact network.
#[derive(Config, Debug, PartialEq)]
pub struct CompactConfig {
    /// Image channels in.
    pub in_channels: usize,
    /// Image channels out.
    pub out_channels: usize,
    /// Feature channels (`num_feat`).
    #[config(default = 64)]
    pub features: usize,
    /// Convolutions between the first and the last (`num_conv`).
    #[config(default = 16)]
    pub convs: usize,
    /// Output side over input side.
    #[config(default = 4)]
    pub scale: usize,
}

/// A PReLU: `max(0, x) + a min(0, x)` with one slope `a` per channel.
#[derive(Module, Debug)]
pub struct PRelu {
    /// `[channels]`.
    pub weight: Param<Tensor<1>>,
}

impl PRelu {
    fn new(channels: usize, device: &Device) -> PRelu {
        // PyTorch's default slope.
        PRelu {
            weight: Param::from_tensor(Tensor::full([channels], 0.25, device)),
        }
    }

    /// `[b, c, h, w]` -> `[b, c, h, w]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        crate::engine::prelu(x, self.weight.val())
    }
}

/// SRVGGNetCompact.
#[derive(Module, Debug)]
pub struct Compact {
    convs: Vec<Conv2d>,
    acts: Vec<PRelu>,
    last: Conv2d,
    scale: usize,
}

impl Architecture for CompactConfig {
    type Net = Compact;
    const RESIDUAL: bool = false;

    /// He initialisation for PReLU's starting slope (gain `sqrt(2 / (1 + 0.25^2))`), so the
    /// signal keeps its size through every layer: with PyTorch's default (gain
    /// `1/sqrt(3)`) it shrinks about threefold per layer, and a 16-convolution Compact
    /// trained from it on bicubic damage was still at nearest-neighbour quality after
    /// 1,500 steps. The last convolution starts ten times smaller, so the network starts
    /// near its nearest-neighbour skip. (Published weights replace all of this.)
    fn init(&self, device: &Device) -> Compact {
        let nf = self.features;
        let he = (2.0f64 / (1.0 + 0.25 * 0.25)).sqrt();
        let conv = |cin, cout, gain| {
            Conv2dConfig::new([cin, cout], [3, 3])
                .with_padding([1, 1])
                .with_initializer(Initializer::KaimingNormal {
                    gain,
                    fan_out_only: false,
                })
                .init(device)
        };
        Compact {
            convs: (0..=self.convs)
                .map(|i| conv(if i == 0 { self.in_channels } else { nf }, nf, he))
                .collect(),
            acts: (0..=self.convs).map(|_| PRelu::new(nf, device)).collect(),
            last: conv(nf, self.out_channels * self.scale * self.scale, 0.1 * he),
            scale: self.scale,
        }
    }

    /// `[b, in, h, w]` -> `[b, out, s h, s w]`.
    fn forward(net: &Compact, x: Tensor<4>) -> Tensor<4> {
        let mut y = x.clone();
        for (c, a) in net.convs.iter().zip(&net.acts) {
            y = a.forward(c.forward(y));
        }
        let y = pixel_shuffle(net.last.forward(y), net.scale);
        let [_, out, _, _] = y.dims();
        let [b, _, h, w] = x.dims();
        let base = upsample_nearest(x.slice([0..b, 0..out, 0..h, 0..w]), net.scale);
        y + base
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

    /// One pixel per 3x3 layer.
    fn receptive_radius(&self) -> usize {
        self.convs + 2
    }

    fn parameters(&self) -> usize {
        let nf = self.features;
        conv_params(self.in_channels, nf, 3, true)
            + self.convs * conv_params(nf, nf, 3, true)
            + (self.convs + 1) * nf
            + conv_params(nf, self.out_channels * self.scale * self.scale, 3, true)
    }

    fn check(&self) -> std::result::Result<(), String> {
        if self.features == 0 || self.in_channels == 0 || self.out_channels == 0 {
            return Err("features and channels must be positive".into());
        }
        if self.in_channels < self.out_channels {
            return Err(
                "a Compact network adds its input to its output: in >= out channels".into(),
            );
        }
        if self.scale == 0 || self.scale > 8 {
            return Err(format!("scale {} (1 to 8)", self.scale));
        }
        if self.features > 1024 || self.convs > 200 || self.in_channels > 16 {
            return Err("at most 1024 features, 200 convolutions, 16 channels".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::optim::GradientsParams;

    #[test]
    fn every_weight_gets_a_gradient() {
        let device = crate::device::train_device();
        let net = CompactConfig::new(1, 1)
            .with_features(4)
            .with_convs(2)
            .with_scale(2)
            .init(&device);
        let x = Tensor::<4>::random([2, 1, 8, 8], burn::tensor::Distribution::Default, &device);
        let y = Tensor::<4>::random([2, 1, 16, 16], burn::tensor::Distribution::Default, &device);
        let loss = (CompactConfig::forward(&net, x) - y).abs().mean();
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        let g = grads.len();
        println!("{g} gradients");
        // Three convolutions and the last (weight and bias each), three PReLU slopes.
        assert_eq!(g, 11);
    }
}
