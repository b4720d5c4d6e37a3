//! The encoder-decoder (`encdec`): the seed's convolutional encoder-decoder, a U-Net with
//! `skips`. Strided 3x3 convolutions halve the resolution `depth` times, a bottleneck works
//! at the coarsest scale, and 2x2 transposed convolutions bring it back; with `skips` each
//! decoder level also sees the encoder features of its scale, which keeps fine detail and
//! short gradient paths. It predicts the damage, which [`super::RestoreNet`] subtracts.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor};

use super::arch::{Architecture, conv3};
use crate::engine::Act;
use crate::engine::nn::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};

/// Shape of an encoder-decoder.
#[derive(Config, Debug, PartialEq)]
pub struct EncDecConfig {
    /// Input planes (the image's, then what its task adds).
    pub in_channels: usize,
    /// Output (image) channels.
    pub out_channels: usize,
    /// Feature channels at full resolution, doubled at each halving.
    #[config(default = 32)]
    pub width: usize,
    /// Halvings of the resolution.
    #[config(default = 3)]
    pub depth: usize,
    /// 3x3 convolutions per block.
    #[config(default = 2)]
    pub convs_per_block: usize,
    /// U-Net skip connections.
    #[config(default = true)]
    pub skips: bool,
}

/// A run of 3x3 convolutions, each followed by ReLU.
#[derive(Module, Debug)]
pub struct Block {
    convs: Vec<Conv2d>,
}

impl Block {
    pub(super) fn new(cin: usize, cout: usize, n: usize, device: &Device) -> Self {
        let convs = (0..n)
            .map(|i| conv3(if i == 0 { cin } else { cout }, cout, device))
            .collect();
        Block { convs }
    }

    /// `[b, cin, h, w]` -> `[b, cout, h, w]`.
    pub fn forward(&self, mut x: Tensor<4>) -> Tensor<4> {
        for c in &self.convs {
            x = c.forward_act(x, Act::Relu);
        }
        x
    }
}

/// Encoder-decoder (U-Net when `skips`).
#[derive(Module, Debug)]
pub struct EncDec {
    head: Block,
    down: Vec<Conv2d>,
    enc: Vec<Block>,
    up: Vec<ConvTranspose2d>,
    dec: Vec<Block>,
    tail: Conv2d,
    skips: bool,
}

impl Architecture for EncDecConfig {
    type Net = EncDec;

    fn init(&self, device: &Device) -> EncDec {
        let ch = |i: usize| self.width << i;
        let n = self.convs_per_block;
        let down = (0..self.depth)
            .map(|i| {
                Conv2dConfig::new([ch(i), ch(i + 1)], [3, 3])
                    .with_stride([2, 2])
                    .with_padding([1, 1])
                    .init(device)
            })
            .collect();
        let enc = (0..self.depth)
            .map(|i| Block::new(ch(i + 1), ch(i + 1), n, device))
            .collect();
        let up = (0..self.depth)
            .map(|i| {
                ConvTranspose2dConfig::new([ch(i + 1), ch(i)], [2, 2])
                    .with_stride([2, 2])
                    .init(device)
            })
            .collect();
        let k = if self.skips { 2 } else { 1 };
        let dec = (0..self.depth)
            .map(|i| Block::new(k * ch(i), ch(i), n, device))
            .collect();
        EncDec {
            head: Block::new(self.in_channels, ch(0), n, device),
            down,
            enc,
            up,
            dec,
            tail: conv3(ch(0), self.out_channels, device),
            skips: self.skips,
        }
    }

    /// `[b, in, h, w]` -> predicted damage `[b, out, h, w]`; h and w multiples of 2^depth.
    fn forward(net: &EncDec, x: Tensor<4>) -> Tensor<4> {
        let mut x = net.head.forward(x); // [b, w, h, w]
        let mut feats = Vec::with_capacity(net.down.len());
        for (down, enc) in net.down.iter().zip(&net.enc) {
            feats.push(x.clone());
            x = enc.forward(down.forward_act(x, Act::Relu)); // [b, 2^(i+1) w, h / 2^(i+1), ..]
        }
        for i in (0..net.up.len()).rev() {
            x = net.up[i].forward_act(x, Act::Relu); // [b, 2^i w, h / 2^i, ..]
            let skip = feats.pop().expect("one feature map per level");
            if net.skips {
                x = Tensor::cat(vec![x, skip], 1); // [b, 2^(i+1) w, ..]
            }
            x = net.dec[i].forward(x);
        }
        net.tail.forward(x)
    }

    fn in_planes(&self) -> usize {
        self.in_channels
    }

    fn out_channels(&self) -> usize {
        self.out_channels
    }

    fn multiple(&self) -> usize {
        1 << self.depth
    }

    /// `2^(depth+1) - 1 + n (3 2^depth - 2)` full-resolution pixels for `n` convolutions
    /// per block: the worst case over where a pixel falls on the strided grid of the deepest
    /// path (head, strided convolutions and encoder blocks down, transposed convolutions,
    /// whose 2x2 taps each see one coarse pixel, and decoder blocks up, tail), as a walk of
    /// the layers' index intervals gives it (bench's `receptive_field.py` is that walk;
    /// `tests/receptive_field.rs` measures it). 59 px for the shipped depth 3, `n` 2.
    fn receptive_radius(&self) -> usize {
        let n = self.convs_per_block;
        // Saturating: `check` bounds the numbers, but this may be asked first.
        (2usize << self.depth.min(32)) - 1 + n.saturating_mul(3 * (1 << self.depth.min(32)) - 2)
    }

    fn parameters(&self) -> usize {
        let conv = |cin: usize, cout: usize, k: usize| cin * cout * k * k + cout;
        let block = |cin: usize, cout: usize| {
            conv(cin, cout, 3) + (self.convs_per_block - 1) * conv(cout, cout, 3)
        };
        let ch = |i: usize| self.width << i;
        let k = if self.skips { 2 } else { 1 };
        let levels: usize = (0..self.depth)
            .map(|i| {
                conv(ch(i), ch(i + 1), 3)
                    + block(ch(i + 1), ch(i + 1))
                    + conv(ch(i + 1), ch(i), 2)
                    + block(k * ch(i), ch(i))
            })
            .sum();
        block(self.in_channels, ch(0)) + levels + conv(ch(0), self.out_channels, 3)
    }

    fn check(&self) -> std::result::Result<(), String> {
        if self.width == 0 || self.in_channels == 0 || self.out_channels == 0 {
            return Err("width and channel counts must be positive".into());
        }
        if self.depth > 6 {
            return Err("encdec depth must be at most 6".into());
        }
        if self.convs_per_block == 0 {
            return Err("convs_per_block must be positive".into());
        }
        // Bounds far above any real network, so a corrupt file cannot ask for terabytes.
        if self.width > 4096 || self.convs_per_block > 64 || self.in_channels > 64 {
            return Err(
                "width at most 4096, convs_per_block at most 64, in_channels at most 64".into(),
            );
        }
        Ok(())
    }
}
