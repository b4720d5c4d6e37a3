//! FDnCNN (KAIR): DnCNN's plain stack of 3x3 convolutions with ReLU, told the noise level
//! as one more input plane and predicting the clean image rather than the noise. Its
//! network is [`DnCnn`]'s; only what it takes and what it gives differ.

use burn::config::Config;
use burn::tensor::{Device, Tensor};

use super::arch::Architecture;
use super::dncnn::{DnCnn, DnCnnConfig};

/// Shape of an FDnCNN.
#[derive(Config, Debug, PartialEq)]
pub struct FdnCnnConfig {
    /// Image channels (1 or 3); the network takes one more plane, the noise level.
    pub channels: usize,
    /// Feature channels.
    #[config(default = 64)]
    pub width: usize,
    /// Convolution layers, the last one included.
    #[config(default = 20)]
    pub layers: usize,
}

impl FdnCnnConfig {
    fn dncnn(&self) -> DnCnnConfig {
        DnCnnConfig::new(self.channels + 1, self.channels)
            .with_width(self.width)
            .with_layers(self.layers)
    }
}

impl Architecture for FdnCnnConfig {
    type Net = DnCnn;
    const RESIDUAL: bool = false;

    fn init(&self, device: &Device) -> DnCnn {
        self.dncnn().init(device)
    }

    /// `[b, c + 1, h, w]` (the image, then sigma / 255) -> the image `[b, c, h, w]`.
    fn forward(net: &DnCnn, x: Tensor<4>) -> Tensor<4> {
        DnCnnConfig::forward(net, x)
    }

    fn in_planes(&self) -> usize {
        self.channels + 1
    }

    fn out_channels(&self) -> usize {
        self.channels
    }

    fn multiple(&self) -> usize {
        1
    }

    fn receptive_radius(&self) -> usize {
        self.dncnn().receptive_radius()
    }

    fn parameters(&self) -> usize {
        self.dncnn().parameters()
    }

    fn check(&self) -> std::result::Result<(), String> {
        if ![1, 3].contains(&self.channels) {
            return Err(format!("{} channels (1 or 3)", self.channels));
        }
        self.dncnn().check()
    }
}
