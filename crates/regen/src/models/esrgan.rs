//! ESRGAN's RRDBNet (Wang et al. 2018; Real-ESRGAN 2021, BSRGAN 2021): a 3x3 convolution,
//! residual-in-residual dense blocks (three dense blocks of five convolutions each, every
//! output scaled by 0.2 before it is added back), a trunk convolution added to the first
//! features, nearest-neighbour x2 upsampling each followed by a convolution, then two
//! convolutions at the output's size. Leaky ReLU of slope 0.2 throughout. Real-ESRGAN's x2
//! and x1 models first fold the image into 4 or 16 planes (pixel unshuffle by 2 or 4), so
//! the same x4 body gives a smaller scale. Published files come in three key layouts;
//! `published::detect` maps each onto this module.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor};

use super::arch::{Architecture, conv_params, conv3, pixel_unshuffle, upsample_nearest};
use crate::engine::Act;
use crate::engine::nn::Conv2d;

const LEAKY: Act = Act::LeakyRelu(0.2);

/// Shape of an RRDBNet.
#[derive(Config, Debug, PartialEq)]
pub struct EsrganConfig {
    /// Image channels in.
    pub in_channels: usize,
    /// Image channels out.
    pub out_channels: usize,
    /// Feature channels (`nf`).
    #[config(default = 64)]
    pub features: usize,
    /// Residual-in-residual dense blocks (`nb`).
    #[config(default = 23)]
    pub blocks: usize,
    /// Channels each dense-block convolution adds (`gc`).
    #[config(default = 32)]
    pub growth: usize,
    /// Output side over input side.
    #[config(default = 4)]
    pub scale: usize,
    /// Pixel-unshuffle factor applied to the input first (1, 2 or 4).
    #[config(default = 1)]
    pub unshuffle: usize,
}

impl EsrganConfig {
    /// x2 upsampling steps in the network (the scale times the unshuffle factor).
    pub fn upsamplings(&self) -> usize {
        (self.scale * self.unshuffle).trailing_zeros() as usize
    }
}

/// A dense block: five convolutions, each seeing the input and every output before it.
#[derive(Module, Debug)]
pub struct DenseBlock {
    convs: Vec<Conv2d>,
}

impl DenseBlock {
    /// `[b, nf, h, w]` -> `[b, nf, h, w]`: `x + 0.2 conv5(x, x1..x4)`.
    ///
    /// The features are written once into one buffer of `nf + 4 gc` planes, and each
    /// convolution reads a prefix of it: concatenating them afresh for each convolution
    /// copied every earlier feature map four times over, a third of the network's time.
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [b, nf, h, w] = x.dims();
        let gc = self.convs[0].weight.dims()[0];
        let last = self.convs.len() - 1;
        let mut buf = Tensor::<4>::empty([b, nf + last * gc, h, w], &x.device())
            .slice_assign([0..b, 0..nf, 0..h, 0..w], x.clone());
        for (i, c) in self.convs[..last].iter().enumerate() {
            let end = nf + i * gc;
            let input = buf.clone().slice([0..b, 0..end, 0..h, 0..w]);
            let y = c.forward_act(input, LEAKY);
            buf = buf.slice_assign([0..b, end..end + gc, 0..h, 0..w], y);
        }
        self.convs[last].forward(buf) * 0.2 + x
    }
}

/// Three dense blocks with a scaled shortcut around them.
#[derive(Module, Debug)]
pub struct Rrdb {
    dense: Vec<DenseBlock>,
}

/// RRDBNet.
#[derive(Module, Debug)]
pub struct Esrgan {
    first: Conv2d,
    blocks: Vec<Rrdb>,
    trunk: Conv2d,
    ups: Vec<Conv2d>,
    hr: Conv2d,
    last: Conv2d,
    unshuffle: usize,
}

impl Architecture for EsrganConfig {
    type Net = Esrgan;
    const RESIDUAL: bool = false;

    fn init(&self, device: &Device) -> Esrgan {
        let (nf, gc) = (self.features, self.growth);
        let dense = || DenseBlock {
            convs: (0..5)
                .map(|i| conv3(nf + i * gc, if i == 4 { nf } else { gc }, device))
                .collect(),
        };
        let cin = self.in_channels * self.unshuffle * self.unshuffle;
        Esrgan {
            first: conv3(cin, nf, device),
            blocks: (0..self.blocks)
                .map(|_| Rrdb {
                    dense: (0..3).map(|_| dense()).collect(),
                })
                .collect(),
            trunk: conv3(nf, nf, device),
            ups: (0..self.upsamplings())
                .map(|_| conv3(nf, nf, device))
                .collect(),
            hr: conv3(nf, nf, device),
            last: conv3(nf, self.out_channels, device),
            unshuffle: self.unshuffle,
        }
    }

    /// `[b, in, h, w]` (h, w multiples of the unshuffle factor) -> `[b, out, s h, s w]`.
    fn forward(net: &Esrgan, x: Tensor<4>) -> Tensor<4> {
        let x = pixel_unshuffle(x, net.unshuffle);
        let feat = net.first.forward(x);
        let mut body = feat.clone();
        for b in &net.blocks {
            let mut y = body.clone();
            for d in &b.dense {
                y = d.forward(y);
            }
            body = y * 0.2 + body;
        }
        let mut x = net.trunk.forward(body) + feat;
        for up in &net.ups {
            x = up.forward_act(upsample_nearest(x, 2), LEAKY);
        }
        net.last.forward(net.hr.forward_act(x, LEAKY))
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
        self.unshuffle
    }

    /// Fifteen 3x3 layers per block, three more at the input's resolution (first, trunk),
    /// each in unshuffled pixels; the layers after upsampling add under two input pixels.
    fn receptive_radius(&self) -> usize {
        self.unshuffle * (15 * self.blocks + 2) + 2
    }

    fn parameters(&self) -> usize {
        let (nf, gc) = (self.features, self.growth);
        let dense: usize = (0..5)
            .map(|i| conv_params(nf + i * gc, if i == 4 { nf } else { gc }, 3, true))
            .sum();
        let cin = self.in_channels * self.unshuffle * self.unshuffle;
        conv_params(cin, nf, 3, true)
            + self.blocks * 3 * dense
            + (2 + self.upsamplings()) * conv_params(nf, nf, 3, true)
            + conv_params(nf, self.out_channels, 3, true)
    }

    fn check(&self) -> std::result::Result<(), String> {
        if self.features == 0 || self.growth == 0 || self.in_channels == 0 {
            return Err("features, growth and channels must be positive".into());
        }
        if ![1, 2, 4].contains(&self.unshuffle) {
            return Err(format!("unshuffle {} (1, 2 or 4)", self.unshuffle));
        }
        let inner = self.scale * self.unshuffle;
        if !inner.is_power_of_two() || inner > 16 || self.scale == 0 {
            return Err(format!(
                "scale {} with unshuffle {}: the body upsamples by a power of two up to 16",
                self.scale, self.unshuffle
            ));
        }
        if self.features > 1024 || self.growth > 1024 || self.blocks > 100 || self.in_channels > 16
        {
            return Err("at most 1024 features, 100 blocks, 16 channels".into());
        }
        Ok(())
    }
}
