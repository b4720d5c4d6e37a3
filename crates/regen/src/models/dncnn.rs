//! DnCNN (Zhang et al. 2017) without batch norm (`dncnn`): a plain stack of 3x3
//! convolutions at full resolution, each but the last followed by ReLU. It predicts the
//! damage, which [`super::RestoreNet`] subtracts.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor};

use super::arch::{Architecture, conv3};
use super::encdec::Block;
use crate::engine::nn::Conv2d;

/// Shape of a DnCNN.
#[derive(Config, Debug, PartialEq)]
pub struct DnCnnConfig {
    /// Input planes (the image's, then what its task adds).
    pub in_channels: usize,
    /// Output (image) channels.
    pub out_channels: usize,
    /// Feature channels.
    #[config(default = 64)]
    pub width: usize,
    /// Convolution layers, the last one included (at least 2).
    #[config(default = 17)]
    pub layers: usize,
}

/// DnCNN without batch norm.
#[derive(Module, Debug)]
pub struct DnCnn {
    body: Block,
    tail: Conv2d,
}

impl Architecture for DnCnnConfig {
    type Net = DnCnn;

    fn init(&self, device: &Device) -> DnCnn {
        let layers = self.layers.max(2);
        DnCnn {
            body: Block::new(self.in_channels, self.width, layers - 1, device),
            tail: conv3(self.width, self.out_channels, device),
        }
    }

    /// `[b, in, h, w]` -> predicted damage `[b, out, h, w]`.
    fn forward(net: &DnCnn, x: Tensor<4>) -> Tensor<4> {
        net.tail.forward(net.body.forward(x))
    }

    fn in_planes(&self) -> usize {
        self.in_channels
    }

    fn out_channels(&self) -> usize {
        self.out_channels
    }

    fn multiple(&self) -> usize {
        1
    }

    /// One pixel per 3x3 layer.
    fn receptive_radius(&self) -> usize {
        self.layers.max(2)
    }

    fn parameters(&self) -> usize {
        let conv = |cin: usize, cout: usize| cin * cout * 9 + cout;
        let layers = self.layers.max(2);
        conv(self.in_channels, self.width)
            + (layers - 2) * conv(self.width, self.width)
            + conv(self.width, self.out_channels)
    }

    fn check(&self) -> std::result::Result<(), String> {
        if self.width == 0 || self.in_channels == 0 || self.out_channels == 0 {
            return Err("width and channel counts must be positive".into());
        }
        if self.layers < 2 {
            return Err("dncnn depth must be at least 2".into());
        }
        // Bounds far above any real network, so a corrupt file cannot ask for terabytes.
        if self.width > 4096 || self.layers > 1000 || self.in_channels > 64 {
            return Err("width at most 4096, depth at most 1000, in_channels at most 64".into());
        }
        Ok(())
    }
}
