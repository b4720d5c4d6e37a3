//! DRUNet (Zhang et al. 2021, "Plug-and-play image restoration with deep denoiser prior";
//! DPIR and KAIR): a U-Net of four levels whose every stage is `nb` residual blocks (3x3
//! convolution, ReLU, 3x3 convolution, plus the input), down by 2x2 stride-2 convolutions,
//! up by 2x2 stride-2 transposed convolutions, skips added (not concatenated), no biases.
//! It takes the image and a noise level plane, and predicts the clean image.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor};

use super::arch::{Architecture, conv_params, conv3_nobias};
use crate::engine::Act;
use crate::engine::nn::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};

/// Shape of a DRUNet.
#[derive(Config, Debug, PartialEq)]
pub struct DrUnetConfig {
    /// Image channels (1 or 3); the network takes one more plane, the noise level.
    pub channels: usize,
    /// Feature channels at each of the four levels.
    #[config(default = "[64, 128, 256, 512]")]
    pub widths: [usize; 4],
    /// Residual blocks per stage.
    #[config(default = 4)]
    pub blocks: usize,
}

/// Conv, ReLU, conv, plus the input.
#[derive(Module, Debug)]
pub struct ResBlock {
    a: Conv2d,
    b: Conv2d,
}

impl ResBlock {
    fn new(c: usize, device: &Device) -> ResBlock {
        ResBlock {
            a: conv3_nobias(c, c, device),
            b: conv3_nobias(c, c, device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.b.forward(self.a.forward_act(x.clone(), Act::Relu)) + x
    }
}

fn run(blocks: &[ResBlock], mut x: Tensor<4>) -> Tensor<4> {
    for b in blocks {
        x = b.forward(x);
    }
    x
}

/// DRUNet.
#[derive(Module, Debug)]
pub struct DrUnet {
    head: Conv2d,
    down_blocks: Vec<Vec<ResBlock>>,
    down: Vec<Conv2d>,
    body: Vec<ResBlock>,
    up: Vec<ConvTranspose2d>,
    up_blocks: Vec<Vec<ResBlock>>,
    tail: Conv2d,
}

impl Architecture for DrUnetConfig {
    type Net = DrUnet;
    const RESIDUAL: bool = false;

    fn init(&self, device: &Device) -> DrUnet {
        let w = self.widths;
        let blocks = |c: usize| (0..self.blocks).map(|_| ResBlock::new(c, device)).collect();
        DrUnet {
            head: conv3_nobias(self.channels + 1, w[0], device),
            down_blocks: (0..3).map(|i| blocks(w[i])).collect(),
            down: (0..3)
                .map(|i| {
                    Conv2dConfig::new([w[i], w[i + 1]], [2, 2])
                        .with_stride([2, 2])
                        .with_bias(false)
                        .init(device)
                })
                .collect(),
            body: blocks(w[3]),
            // Deepest first: up[0] takes level 3 to level 2.
            up: (0..3)
                .map(|i| {
                    ConvTranspose2dConfig::new([w[3 - i], w[2 - i]], [2, 2])
                        .with_stride([2, 2])
                        .with_bias(false)
                        .init(device)
                })
                .collect(),
            up_blocks: (0..3).map(|i| blocks(w[2 - i])).collect(),
            tail: conv3_nobias(w[0], self.channels, device),
        }
    }

    /// `[b, c + 1, h, w]` (the image, then sigma / 255; h, w multiples of 8) ->
    /// `[b, c, h, w]`.
    fn forward(net: &DrUnet, x: Tensor<4>) -> Tensor<4> {
        let x1 = net.head.forward(x);
        let mut skips = vec![x1.clone()];
        let mut x = x1;
        for (blocks, down) in net.down_blocks.iter().zip(&net.down) {
            x = down.forward(run(blocks, x));
            skips.push(x.clone());
        }
        x = run(&net.body, x);
        for (up, blocks) in net.up.iter().zip(&net.up_blocks) {
            let skip = skips.pop().expect("one skip per level");
            x = run(blocks, up.forward(x + skip));
        }
        net.tail.forward(x + skips.pop().expect("the head's skip"))
    }

    fn in_planes(&self) -> usize {
        self.channels + 1
    }

    fn out_channels(&self) -> usize {
        self.channels
    }

    fn multiple(&self) -> usize {
        8
    }

    /// Each level's blocks reach two of its pixels per block, on each side, going down
    /// and coming up; a level-l pixel is 2^l input pixels.
    fn receptive_radius(&self) -> usize {
        let per_level = |l: usize| (2 * self.blocks) << l;
        2 + 2 * (0..3).map(per_level).sum::<usize>() + per_level(3) + 14
    }

    fn parameters(&self) -> usize {
        let w = self.widths;
        let res = |c: usize| self.blocks * 2 * conv_params(c, c, 3, false);
        conv_params(self.channels + 1, w[0], 3, false)
            + (0..3)
                .map(|i| 2 * res(w[i]) + 2 * conv_params(w[i], w[i + 1], 2, false))
                .sum::<usize>()
            + res(w[3])
            + conv_params(w[0], self.channels, 3, false)
    }

    fn check(&self) -> std::result::Result<(), String> {
        if ![1, 3].contains(&self.channels) {
            return Err(format!("{} channels (1 or 3)", self.channels));
        }
        if self.widths.iter().any(|&c| c == 0 || c > 2048) || self.blocks > 50 {
            return Err("widths of 1 to 2048 and at most 50 blocks".into());
        }
        Ok(())
    }
}
