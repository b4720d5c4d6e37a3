//! Networks, one file per architecture; each a `Module` with a `Config` whose `init` builds
//! it. Restoration architectures implement [`Architecture`] and are listed once in
//! `arch.rs`'s registry; [`Descriptor`] says what a model is (family, architecture, input
//! planes, scale, value range, receptive field) and is what checkpoints store.

mod arch;
pub mod classifier;
pub mod compact;
pub mod descriptor;
pub mod dncnn;
pub mod drunet;
pub mod encdec;
pub mod esrgan;
pub mod fdncnn;
pub mod ffdnet;
pub mod gan;
pub mod restore;
pub mod span;
pub mod vae;

pub use arch::{Architecture, RestoreArch, RestoreNet};
pub use classifier::{Classifier, ClassifierConfig};
pub use compact::{Compact, CompactConfig};
pub use descriptor::{Descriptor, Family, Network, ValueRange};
pub use dncnn::{DnCnn, DnCnnConfig};
pub use drunet::{DrUnet, DrUnetConfig};
pub use encdec::{EncDec, EncDecConfig};
pub use esrgan::{Esrgan, EsrganConfig};
pub use fdncnn::FdnCnnConfig;
pub use ffdnet::{FfdNet, FfdNetConfig, FfdNetLayout};
pub use gan::{GanConfig, GanDiscriminator, GanGenerator};
pub use restore::{Arch, RestoreConfig};
pub use span::{Span, SpanConfig};
pub use vae::{Likelihood, Vae, VaeConfig, VaeOutput, vae_loss};
