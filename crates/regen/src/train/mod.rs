//! Training: one trainer per model family over shared services (progress, metrics,
//! checkpoints, resume, plots).

pub mod gan;
pub mod progress;
pub mod restore;
pub mod run;
pub mod vae;

pub use gan::{GanLoss, GanTrainConfig, train_gan};
pub use progress::Progress;
pub use restore::{Loss, RestoreTrainConfig, train_restore};
pub use run::{OptimizerKind, RunDir, Schedule, TrainState, learning_rate, load_config};
pub use vae::{VaeTrainConfig, train_vae};
