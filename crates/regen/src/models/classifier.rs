//! A small CNN classifier whose penultimate layer is the feature space in which generated
//! images are compared with real ones (`regen eval generate`).

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use crate::engine::Act;
use crate::engine::nn::{Conv2d, Conv2dConfig};

/// Shape of the classifier.
#[derive(Config, Debug, PartialEq)]
pub struct ClassifierConfig {
    /// Image channels.
    #[config(default = 1)]
    pub channels: usize,
    /// Image side (a multiple of 4).
    #[config(default = 28)]
    pub size: usize,
    /// Number of classes.
    #[config(default = 10)]
    pub classes: usize,
    /// Channels of the first convolution (the second has twice as many).
    #[config(default = 32)]
    pub width: usize,
    /// Length of the feature vector.
    #[config(default = 128)]
    pub features: usize,
}

/// Two strided convolutions, a feature layer and a linear read-out.
#[derive(Module, Debug)]
pub struct Classifier {
    conv1: Conv2d,
    conv2: Conv2d,
    feat: Linear,
    out: Linear,
}

impl ClassifierConfig {
    /// Builds the network with fresh weights.
    pub fn init(&self, device: &Device) -> Classifier {
        let conv = |cin, cout| {
            Conv2dConfig::new([cin, cout], [3, 3])
                .with_stride([2, 2])
                .with_padding([1, 1])
                .init(device)
        };
        let flat = 2 * self.width * (self.size / 4) * (self.size / 4);
        Classifier {
            conv1: conv(self.channels, self.width),
            conv2: conv(self.width, 2 * self.width),
            feat: LinearConfig::new(flat, self.features).init(device),
            out: LinearConfig::new(self.features, self.classes).init(device),
        }
    }
}

impl Classifier {
    /// Images `[b, c, s, s]` in [0, 1] -> features `[b, features]` (after ReLU).
    pub fn features(&self, x: Tensor<4>) -> Tensor<2> {
        let h = self.conv1.forward_act(x, Act::Relu); // [b, w, s/2, s/2]
        let h = self.conv2.forward_act(h, Act::Relu); // [b, 2w, s/4, s/4]
        relu(self.feat.forward(h.flatten(1, 3))) // [b, features]
    }

    /// Images -> class logits `[b, classes]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.out.forward(self.features(x))
    }
}
