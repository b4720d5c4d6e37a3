//! Restoration networks: both fully convolutional, chosen by [`RestoreConfig::arch`].
//!
//! - `encdec`: the seed's convolutional encoder-decoder. Strided 3x3 convolutions halve the
//!   resolution `levels` times, a bottleneck works at the coarsest scale, and 2x2 transposed
//!   convolutions bring it back. With `skips` each decoder level also sees the encoder
//!   features of its scale (U-Net), which keeps fine detail and short gradient paths.
//! - `dncnn`: a plain stack of 3x3 convolutions (DnCNN, Zhang et al. 2017, without batch
//!   norm) at full resolution.
//!
//! Both learn the residual: they predict the damage and subtract it from the input, which
//! is what makes deep denoisers train quickly.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::engine::Act;
use crate::engine::nn::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};

/// Which network family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    /// Strided-conv encoder, bottleneck, transposed-conv decoder; U-Net with `skips`.
    EncDec,
    /// Residual stack of 3x3 convolutions.
    DnCnn,
}

crate::choice::named!(Arch, "arch", "encdec or dncnn");

/// Shape of a restoration network.
#[derive(Config, Debug)]
pub struct RestoreConfig {
    /// Network family.
    #[config(default = "Arch::EncDec")]
    pub arch: Arch,
    /// Input channels: the image channels, plus a mask channel for inpainting.
    #[config(default = 1)]
    pub in_channels: usize,
    /// Output (image) channels.
    #[config(default = 1)]
    pub out_channels: usize,
    /// Feature channels at full resolution (`encdec` doubles them per level).
    #[config(default = 32)]
    pub width: usize,
    /// `encdec`: number of halvings. `dncnn`: number of convolution layers.
    #[config(default = 3)]
    pub depth: usize,
    /// `encdec`: convolutions per block.
    #[config(default = 2)]
    pub convs_per_block: usize,
    /// `encdec`: U-Net skip connections.
    #[config(default = true)]
    pub skips: bool,
    /// Denoisers: the last input plane is a noise level map, sigma / 255 at every pixel
    /// (FFDNet, Zhang et al. 2018), so one model covers every level and the user can set
    /// its strength. `None` (checkpoints from before the map) means no map.
    pub noise_map: Option<bool>,
}

fn conv3(cin: usize, cout: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([cin, cout], [3, 3])
        .with_padding([1, 1])
        .init(device)
}

/// A run of 3x3 convolutions, each followed by ReLU.
#[derive(Module, Debug)]
pub struct Block {
    convs: Vec<Conv2d>,
}

impl Block {
    fn new(cin: usize, cout: usize, n: usize, device: &Device) -> Self {
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

impl EncDec {
    fn new(c: &RestoreConfig, device: &Device) -> Self {
        let ch = |i: usize| c.width << i;
        let n = c.convs_per_block;
        let down = (0..c.depth)
            .map(|i| {
                Conv2dConfig::new([ch(i), ch(i + 1)], [3, 3])
                    .with_stride([2, 2])
                    .with_padding([1, 1])
                    .init(device)
            })
            .collect();
        let enc = (0..c.depth)
            .map(|i| Block::new(ch(i + 1), ch(i + 1), n, device))
            .collect();
        let up = (0..c.depth)
            .map(|i| {
                ConvTranspose2dConfig::new([ch(i + 1), ch(i)], [2, 2])
                    .with_stride([2, 2])
                    .init(device)
            })
            .collect();
        let k = if c.skips { 2 } else { 1 };
        let dec = (0..c.depth)
            .map(|i| Block::new(k * ch(i), ch(i), n, device))
            .collect();
        EncDec {
            head: Block::new(c.in_channels, ch(0), n, device),
            down,
            enc,
            up,
            dec,
            tail: conv3(ch(0), c.out_channels, device),
            skips: c.skips,
        }
    }

    /// `[b, in, h, w]` -> predicted damage `[b, out, h, w]`; h and w multiples of 2^depth.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut x = self.head.forward(x); // [b, w, h, w]
        let mut feats = Vec::with_capacity(self.down.len());
        for (down, enc) in self.down.iter().zip(&self.enc) {
            feats.push(x.clone());
            x = enc.forward(down.forward_act(x, Act::Relu)); // [b, 2^(i+1) w, h / 2^(i+1), ..]
        }
        for i in (0..self.up.len()).rev() {
            x = self.up[i].forward_act(x, Act::Relu); // [b, 2^i w, h / 2^i, ..]
            let skip = feats.pop().expect("one feature map per level");
            if self.skips {
                x = Tensor::cat(vec![x, skip], 1); // [b, 2^(i+1) w, ..]
            }
            x = self.dec[i].forward(x);
        }
        self.tail.forward(x)
    }
}

/// DnCNN without batch norm.
#[derive(Module, Debug)]
pub struct DnCnn {
    body: Block,
    tail: Conv2d,
}

impl DnCnn {
    fn new(c: &RestoreConfig, device: &Device) -> Self {
        let layers = c.depth.max(2);
        DnCnn {
            body: Block::new(c.in_channels, c.width, layers - 1, device),
            tail: conv3(c.width, c.out_channels, device),
        }
    }

    /// `[b, in, h, w]` -> predicted damage `[b, out, h, w]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.tail.forward(self.body.forward(x))
    }
}

/// A restoration network of either family.
#[derive(Module, Debug)]
pub enum RestoreNet {
    /// Encoder-decoder / U-Net.
    EncDec(EncDec),
    /// DnCNN.
    DnCnn(DnCnn),
}

impl RestoreConfig {
    /// Builds the network with fresh weights on `device`.
    pub fn init(&self, device: &Device) -> RestoreNet {
        match self.arch {
            Arch::EncDec => RestoreNet::EncDec(EncDec::new(self, device)),
            Arch::DnCnn => RestoreNet::DnCnn(DnCnn::new(self, device)),
        }
    }

    /// Whether the last input plane is a noise level map.
    pub fn has_noise_map(&self) -> bool {
        self.noise_map == Some(true)
    }

    /// Image channels the network restores together: 1 (gray) or 3 (RGB).
    pub fn image_channels(&self) -> usize {
        self.out_channels
    }

    /// Input sides must be multiples of this; callers pad and crop back.
    pub fn multiple(&self) -> usize {
        match self.arch {
            Arch::EncDec => 1 << self.depth,
            Arch::DnCnn => 1,
        }
    }

    /// Checks sizes before building.
    pub fn validate(&self) -> crate::Result<()> {
        let bad = |m: &str| Err(crate::Error::arg(format!("model config: {m}")));
        if self.width == 0 || self.in_channels == 0 || self.out_channels == 0 {
            return bad("width and channel counts must be positive");
        }
        if self.out_channels > self.in_channels {
            return bad("out_channels cannot exceed in_channels (the net is residual)");
        }
        if ![1, 3].contains(&self.out_channels) {
            return bad("out_channels must be 1 (gray) or 3 (RGB)");
        }
        match self.arch {
            Arch::EncDec if self.depth > 6 => bad("encdec depth must be at most 6"),
            Arch::EncDec if self.convs_per_block == 0 => bad("convs_per_block must be positive"),
            Arch::DnCnn if self.depth < 2 => bad("dncnn depth must be at least 2"),
            _ => Ok(()),
        }
    }
}

impl RestoreNet {
    /// `[b, in, h, w]` -> restored image `[b, out, h, w]`: the first `out` input channels
    /// minus the predicted damage.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [b, _, h, w] = x.dims();
        let damage = match self {
            RestoreNet::EncDec(m) => m.forward(x.clone()),
            RestoreNet::DnCnn(m) => m.forward(x.clone()),
        };
        let out = damage.dims()[1];
        x.slice([0..b, 0..out, 0..h, 0..w]) - damage
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_families_keep_the_shape() {
        let device = crate::device::device();
        for arch in [Arch::EncDec, Arch::DnCnn] {
            for skips in [true, false] {
                let c = RestoreConfig::new()
                    .with_arch(arch)
                    .with_width(4)
                    .with_depth(2)
                    .with_skips(skips);
                let net = c.init(&device);
                let y = net.forward(Tensor::zeros([2, 1, 8, 12], &device));
                assert_eq!(y.dims(), [2, 1, 8, 12]);
            }
        }
    }
}
