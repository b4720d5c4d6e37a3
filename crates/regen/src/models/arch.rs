//! What every restoration architecture provides ([`Architecture`]), and the registry of
//! them ([`RestoreArch`], [`RestoreNet`]). Adding an architecture is one file (its config,
//! its module, and this trait for the config), its `mod` line in `models/mod.rs`, and one
//! line in `registry!`'s list here (with the `use` that names its two types).

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::compact::{Compact, CompactConfig};
use super::dncnn::{DnCnn, DnCnnConfig};
use super::drunet::{DrUnet, DrUnetConfig};
use super::encdec::{EncDec, EncDecConfig};
use super::esrgan::{Esrgan, EsrganConfig};
use super::fdncnn::FdnCnnConfig;
use super::ffdnet::{FfdNet, FfdNetConfig};
use super::span::{Span, SpanConfig};
use crate::engine::nn::{Conv2d, Conv2dConfig};

/// A restoration architecture, implemented by its config.
pub trait Architecture {
    /// The network this config builds.
    type Net: Module;
    /// Whether the network predicts the damage, which is subtracted from the input's image
    /// planes (both of regen's own do: deep denoisers train quickly that way), rather than
    /// the restored image itself.
    const RESIDUAL: bool = true;
    /// Builds the network with fresh weights on `device`.
    fn init(&self, device: &Device) -> Self::Net;
    /// `[b, in_planes, h, w]` -> `[b, out_channels, scale h, scale w]` (the damage when
    /// [`Self::RESIDUAL`]); h and w multiples of [`Architecture::multiple`].
    fn forward(net: &Self::Net, x: Tensor<4>) -> Tensor<4>;
    /// Input planes.
    fn in_planes(&self) -> usize;
    /// Output (image) channels.
    fn out_channels(&self) -> usize;
    /// Output side over input side.
    fn scale(&self) -> usize {
        1
    }
    /// Input sides must be multiples of this; callers pad and crop back.
    fn multiple(&self) -> usize;
    /// How far (in input pixels) an output pixel sees on each side.
    fn receptive_radius(&self) -> usize;
    /// Trainable parameters (what `init`'s network counts).
    fn parameters(&self) -> usize;
    /// Checks the config's numbers before building; the error says what is wrong.
    fn check(&self) -> std::result::Result<(), String>;
}

/// A 3x3 convolution with zero padding 1 (the size-keeping building block).
pub(super) fn conv3(cin: usize, cout: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([cin, cout], [3, 3])
        .with_padding([1, 1])
        .init(device)
}

/// Declares the restoration architectures: one `Variant(Config, Net)` line each.
macro_rules! registry {
    ($($(#[$doc:meta])* $variant:ident($config:ty, $net:ty);)*) => {
        /// A restoration network's architecture with its config, spelled by its lowercase
        /// name in checkpoints and config files.
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(rename_all = "lowercase")]
        pub enum RestoreArch {
            $($(#[$doc])* $variant($config),)*
        }

        /// A restoration network of any architecture. Its weights are named after the
        /// variant (`EncDec.head.convs.0.weight`), as in every checkpoint regen wrote.
        // One network per model, moved rarely: boxing the large variants would only add a
        // pointer to every forward pass.
        #[allow(clippy::large_enum_variant)]
        #[derive(Module, Debug)]
        pub enum RestoreNet {
            $($(#[$doc])* $variant($net),)*
        }

        impl RestoreArch {
            /// Builds the network with fresh weights on `device`.
            pub fn init(&self, device: &Device) -> RestoreNet {
                match self {
                    $(RestoreArch::$variant(c) => RestoreNet::$variant(c.init(device)),)*
                }
            }

            /// Whether the network predicts the damage rather than the image.
            pub fn residual(&self) -> bool {
                match self {
                    $(RestoreArch::$variant(_) => <$config as Architecture>::RESIDUAL,)*
                }
            }

            /// Input planes.
            pub fn in_planes(&self) -> usize {
                match self {
                    $(RestoreArch::$variant(c) => c.in_planes(),)*
                }
            }

            /// Output (image) channels.
            pub fn out_channels(&self) -> usize {
                match self {
                    $(RestoreArch::$variant(c) => c.out_channels(),)*
                }
            }

            /// Output side over input side.
            pub fn scale(&self) -> usize {
                match self {
                    $(RestoreArch::$variant(c) => c.scale(),)*
                }
            }

            /// Input sides must be multiples of this.
            pub fn multiple(&self) -> usize {
                match self {
                    $(RestoreArch::$variant(c) => c.multiple(),)*
                }
            }

            /// How far (in input pixels) an output pixel sees on each side.
            pub fn receptive_radius(&self) -> usize {
                match self {
                    $(RestoreArch::$variant(c) => c.receptive_radius(),)*
                }
            }

            /// Trainable parameters.
            pub fn parameters(&self) -> usize {
                match self {
                    $(RestoreArch::$variant(c) => c.parameters(),)*
                }
            }

            fn check(&self) -> std::result::Result<(), String> {
                match self {
                    $(RestoreArch::$variant(c) => c.check(),)*
                }
            }
        }

        impl RestoreNet {
            /// `[b, in, h, w]` -> the network's own output `[b, out, s h, s w]`.
            fn raw(&self, x: Tensor<4>) -> Tensor<4> {
                match self {
                    $(RestoreNet::$variant(n) => <$config as Architecture>::forward(n, x),)*
                }
            }

            fn residual(&self) -> bool {
                match self {
                    $(RestoreNet::$variant(_) => <$config as Architecture>::RESIDUAL,)*
                }
            }
        }
    };
}

registry! {
    /// Encoder-decoder / U-Net (`encdec.rs`).
    EncDec(EncDecConfig, EncDec);
    /// DnCNN (`dncnn.rs`).
    DnCnn(DnCnnConfig, DnCnn);
    /// FDnCNN (`fdncnn.rs`).
    FdnCnn(FdnCnnConfig, DnCnn);
    /// FFDNet (`ffdnet.rs`).
    FfdNet(FfdNetConfig, FfdNet);
    /// DRUNet (`drunet.rs`).
    DrUnet(DrUnetConfig, DrUnet);
    /// ESRGAN's RRDBNet (`esrgan.rs`).
    Esrgan(EsrganConfig, Esrgan);
    /// Compact, SRVGGNetCompact (`compact.rs`).
    Compact(CompactConfig, Compact);
    /// SPAN (`span.rs`).
    Span(SpanConfig, Span);
}

impl RestoreArch {
    /// The architecture's name, as config files spell it.
    pub fn name(&self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_object().and_then(|o| o.keys().next().cloned()))
            .unwrap_or_default()
    }

    /// Checks the numbers before building.
    pub fn validate(&self) -> crate::Result<()> {
        self.check()
            .map_err(|m| crate::Error::arg(format!("model config: {m}")))
    }
}

impl RestoreNet {
    /// `[b, in, h, w]` -> restored image `[b, out, s h, s w]`: for a residual network, the
    /// first `out` input planes minus the predicted damage.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        if !self.residual() {
            return self.raw(x);
        }
        let [b, _, h, w] = x.dims();
        let damage = self.raw(x.clone());
        let out = damage.dims()[1];
        x.slice([0..b, 0..out, 0..h, 0..w]) - damage
    }
}

/// A 3x3 convolution with zero padding 1 and no bias.
pub(super) fn conv3_nobias(cin: usize, cout: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([cin, cout], [3, 3])
        .with_padding([1, 1])
        .with_bias(false)
        .init(device)
}

/// `[b, c r r, h, w]` -> `[b, c, h r, w r]` (PyTorch's `pixel_shuffle`: channel
/// `c r r + i r + j` goes to row offset i, column offset j).
pub(super) fn pixel_shuffle(x: Tensor<4>, r: usize) -> Tensor<4> {
    if r == 1 {
        return x;
    }
    let [b, crr, h, w] = x.dims();
    let c = crr / (r * r);
    x.reshape([b, c, r, r, h, w])
        .permute([0, 1, 4, 2, 5, 3])
        .reshape([b, c, h * r, w * r])
}

/// `[b, c, h r, w r]` -> `[b, c r r, h, w]`, the inverse of [`pixel_shuffle`].
pub(super) fn pixel_unshuffle(x: Tensor<4>, r: usize) -> Tensor<4> {
    if r == 1 {
        return x;
    }
    let [b, c, hr, wr] = x.dims();
    let (h, w) = (hr / r, wr / r);
    x.reshape([b, c, h, r, w, r])
        .permute([0, 1, 3, 5, 2, 4])
        .reshape([b, c * r * r, h, w])
}

/// `[b, c, h, w]` -> `[b, c, h s, w s]`, each pixel repeated (nearest-neighbour upsampling).
pub(super) fn upsample_nearest(x: Tensor<4>, s: usize) -> Tensor<4> {
    if s == 1 {
        return x;
    }
    let [b, c, h, w] = x.dims();
    x.reshape([b, c, h, 1, w, 1])
        .expand([b, c, h, s, w, s])
        .reshape([b, c, h * s, w * s])
}

/// Parameters of a 3x3 (or `k` x `k`) convolution.
pub(super) fn conv_params(cin: usize, cout: usize, k: usize, bias: bool) -> usize {
    cin * cout * k * k + if bias { cout } else { 0 }
}
