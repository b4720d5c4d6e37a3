//! Networks, one file per family; each a `Module` with a `Config` whose `init` builds it.

pub mod classifier;
pub mod gan;
pub mod restore;
pub mod vae;

pub use classifier::{Classifier, ClassifierConfig};
pub use gan::{GanConfig, GanDiscriminator, GanGenerator};
pub use restore::{Arch, RestoreConfig, RestoreNet};
pub use vae::{Likelihood, Vae, VaeConfig, VaeOutput, vae_loss};
