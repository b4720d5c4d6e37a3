//! The network options of `regen train restore` ([`RestoreConfig`]): one flat set of
//! numbers, as the command line and a run's `config.toml` give them, which
//! [`RestoreConfig::architecture`] turns into the typed architecture a checkpoint's
//! descriptor records (`depth` is the U-Net's halvings, or DnCNN's layers). Checkpoints
//! written before descriptors stored this struct as their config; [`RestoreConfig::from_arch`]
//! goes the other way for `--init`, which compares networks option by option.

use burn::config::Config;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::arch::RestoreArch;
use super::compact::CompactConfig;
use super::dncnn::DnCnnConfig;
use super::encdec::EncDecConfig;

/// Which network family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    /// Strided-conv encoder, bottleneck, transposed-conv decoder; U-Net with `skips`.
    EncDec,
    /// Residual stack of 3x3 convolutions.
    DnCnn,
    /// SRVGGNetCompact: 3x3 convolutions with PReLU at the input's size, a pixel-shuffle
    /// tail to `scale` times the size, plus the input upsampled (upscalers).
    Compact,
}

crate::choice::named!(Arch, "arch", "encdec, dncnn or compact");

/// Shape of a restoration network, as training options.
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
    /// `encdec`: number of halvings. `dncnn`: number of convolution layers. `compact`:
    /// convolutions between its first and last.
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
    /// `compact`: output side over input side, the upscaling factor. `None` (and every
    /// checkpoint from before upscaling) is 1.
    pub scale: Option<usize>,
}

impl RestoreConfig {
    /// The typed architecture these options describe.
    pub fn architecture(&self) -> RestoreArch {
        match self.arch {
            Arch::EncDec => RestoreArch::EncDec(
                EncDecConfig::new(self.in_channels, self.out_channels)
                    .with_width(self.width)
                    .with_depth(self.depth)
                    .with_convs_per_block(self.convs_per_block)
                    .with_skips(self.skips),
            ),
            Arch::DnCnn => RestoreArch::DnCnn(
                DnCnnConfig::new(self.in_channels, self.out_channels)
                    .with_width(self.width)
                    .with_layers(self.depth),
            ),
            Arch::Compact => RestoreArch::Compact(
                CompactConfig::new(self.in_channels, self.out_channels)
                    .with_features(self.width)
                    .with_convs(self.depth)
                    .with_scale(self.upscale_factor()),
            ),
        }
    }

    /// The options that make `arch` (the fields one architecture lacks at their defaults),
    /// with a noise level map as told; `None` for the published architectures options
    /// cannot describe.
    pub fn from_arch(arch: &RestoreArch, noise_map: bool) -> Option<RestoreConfig> {
        let c = RestoreConfig::new().with_noise_map(noise_map.then_some(true));
        Some(match arch {
            RestoreArch::EncDec(e) => RestoreConfig {
                arch: Arch::EncDec,
                in_channels: e.in_channels,
                out_channels: e.out_channels,
                width: e.width,
                depth: e.depth,
                convs_per_block: e.convs_per_block,
                skips: e.skips,
                ..c
            },
            RestoreArch::DnCnn(d) => RestoreConfig {
                arch: Arch::DnCnn,
                in_channels: d.in_channels,
                out_channels: d.out_channels,
                width: d.width,
                depth: d.layers,
                ..c
            },
            RestoreArch::Compact(k) => RestoreConfig {
                arch: Arch::Compact,
                in_channels: k.in_channels,
                out_channels: k.out_channels,
                width: k.features,
                depth: k.convs,
                scale: Some(k.scale),
                ..c
            },
            _ => return None,
        })
    }

    /// Builds the network with fresh weights on `device`.
    pub fn init(&self, device: &Device) -> super::RestoreNet {
        self.architecture().init(device)
    }

    /// Output side over input side.
    pub fn upscale_factor(&self) -> usize {
        self.scale.unwrap_or(1)
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
        self.architecture().multiple()
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
        if self.upscale_factor() != 1 && self.arch != Arch::Compact {
            return bad("only compact networks upscale (--arch compact)");
        }
        if ![1, 3].contains(&self.out_channels) {
            return bad("out_channels must be 1 (gray) or 3 (RGB)");
        }
        self.architecture().validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Tensor;

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

    /// Options -> architecture -> options is the identity for each architecture's fields.
    #[test]
    fn options_and_architectures_map_both_ways() {
        for c in [
            RestoreConfig::new()
                .with_in_channels(4)
                .with_out_channels(3)
                .with_noise_map(Some(true)),
            RestoreConfig::new()
                .with_arch(Arch::DnCnn)
                .with_depth(17)
                .with_width(64),
        ] {
            let back = RestoreConfig::from_arch(&c.architecture(), c.has_noise_map()).unwrap();
            assert_eq!(
                serde_json::to_value(&back).unwrap(),
                serde_json::to_value(&c).unwrap()
            );
        }
    }
}
