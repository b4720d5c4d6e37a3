//! FFDNet (Zhang, Zuo and Zhang 2018): the noisy image folded into four half-size planes
//! per channel (pixel unshuffle by 2) beside a noise level map, a plain stack of 3x3
//! convolutions with ReLU at half size, and the result unfolded back (pixel shuffle). Two
//! published layouts: the authors' IPOL code puts one noise plane per image channel
//! *before* the folded image and predicts the noise (subtracted from the input), with batch
//! norm in the middle layers (folded into the convolutions on loading); KAIR's puts one
//! noise plane *after* it and predicts the clean image.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::arch::{Architecture, conv_params, conv3, pixel_shuffle, pixel_unshuffle};
use crate::engine::Act;
use crate::engine::nn::Conv2d;

/// Which published FFDNet a network follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FfdNetLayout {
    /// The authors' IPOL code: noise planes (one per channel) first; predicts the noise.
    Ipol,
    /// KAIR: one noise plane last; predicts the image.
    Kair,
}

/// Shape of an FFDNet.
#[derive(Config, Debug, PartialEq)]
pub struct FfdNetConfig {
    /// Image channels (1 or 3); the network takes one more plane, the noise level.
    pub channels: usize,
    /// Feature channels.
    #[config(default = 64)]
    pub features: usize,
    /// Convolutions, first and last included.
    #[config(default = 15)]
    pub layers: usize,
    /// Whose layout.
    #[config(default = "FfdNetLayout::Kair")]
    pub layout: FfdNetLayout,
}

impl FfdNetConfig {
    /// Planes into the first convolution.
    pub fn folded_in(&self) -> usize {
        4 * self.channels
            + match self.layout {
                FfdNetLayout::Ipol => self.channels,
                FfdNetLayout::Kair => 1,
            }
    }
}

/// FFDNet.
#[derive(Module, Debug)]
pub struct FfdNet {
    convs: Vec<Conv2d>,
    channels: usize,
    ipol: bool,
}

impl Architecture for FfdNetConfig {
    type Net = FfdNet;
    const RESIDUAL: bool = false;

    fn init(&self, device: &Device) -> FfdNet {
        let n = self.layers;
        let convs = (0..n)
            .map(|i| {
                let cin = if i == 0 {
                    self.folded_in()
                } else {
                    self.features
                };
                let cout = if i + 1 == n {
                    4 * self.channels
                } else {
                    self.features
                };
                conv3(cin, cout, device)
            })
            .collect();
        FfdNet {
            convs,
            channels: self.channels,
            ipol: self.layout == FfdNetLayout::Ipol,
        }
    }

    /// `[b, c + 1, h, w]` (the image, then sigma / 255 everywhere; h, w even) ->
    /// the denoised image `[b, c, h, w]`.
    fn forward(net: &FfdNet, x: Tensor<4>) -> Tensor<4> {
        let [b, _, h, w] = x.dims();
        let c = net.channels;
        let image = x.clone().slice([0..b, 0..c, 0..h, 0..w]);
        // The noise map is constant per image: its half-size plane is every other pixel.
        let sigma = pixel_unshuffle(x.slice([0..b, c..c + 1, 0..h, 0..w]), 2).slice([
            0..b,
            0..1,
            0..h / 2,
            0..w / 2,
        ]);
        let folded = pixel_unshuffle(image.clone(), 2);
        let mut y = if net.ipol {
            Tensor::cat(vec![sigma.repeat_dim(1, c), folded], 1)
        } else {
            Tensor::cat(vec![folded, sigma], 1)
        };
        let last = net.convs.len() - 1;
        for (i, conv) in net.convs.iter().enumerate() {
            y = conv.forward_act(y, if i == last { Act::None } else { Act::Relu });
        }
        let y = pixel_shuffle(y, 2);
        if net.ipol { image - y } else { y }
    }

    fn in_planes(&self) -> usize {
        self.channels + 1
    }

    fn out_channels(&self) -> usize {
        self.channels
    }

    fn multiple(&self) -> usize {
        2
    }

    /// Two input pixels per half-size 3x3 layer.
    fn receptive_radius(&self) -> usize {
        2 * self.layers + 1
    }

    fn parameters(&self) -> usize {
        conv_params(self.folded_in(), self.features, 3, true)
            + self.layers.saturating_sub(2) * conv_params(self.features, self.features, 3, true)
            + conv_params(self.features, 4 * self.channels, 3, true)
    }

    fn check(&self) -> std::result::Result<(), String> {
        if ![1, 3].contains(&self.channels) {
            return Err(format!("{} channels (1 or 3)", self.channels));
        }
        if self.layers < 2 || self.layers > 200 || self.features == 0 || self.features > 1024 {
            return Err("2 to 200 layers of 1 to 1024 features".into());
        }
        Ok(())
    }
}
