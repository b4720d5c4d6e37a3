//! What defines a GAN training run, and its checks.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::models::GanConfig;
use crate::train::run::OptimizerKind;

/// The adversarial objective.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GanLoss {
    /// The original minimax game: D maximises log D(x) + log(1 - D(G(z))), G minimises
    /// log(1 - D(G(z))). Its generator gradient vanishes while D wins (Goodfellow 2014).
    Minimax,
    /// Non-saturating: G maximises log D(G(z)) instead. Same fixed point, strong gradients.
    Ns,
    /// Hinge: D minimises relu(1 - D(x)) + relu(1 + D(G(z))) on logits, G minimises -D(G(z)).
    Hinge,
}

crate::choice::named!(GanLoss, "loss", "ns, minimax or hinge");

/// Everything that defines a GAN training run (`config.toml` in the run folder).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GanTrainConfig {
    /// An IDX image file (labels from its `labels-idx1` sibling) or an image folder.
    pub data: PathBuf,
    /// The networks; `channels` and `size` are taken from the data.
    #[serde(default = "GanConfig::new")]
    pub model: GanConfig,
    /// Condition both networks on class labels (the data must be labelled).
    pub conditional: bool,
    /// Real (and fake) images per step.
    pub batch: usize,
    /// Passes over the training images.
    pub epochs: u64,
    /// `ns` (default), `minimax` or `hinge`.
    pub loss: GanLoss,
    /// `adam` (beta1 below) or `sgd` (momentum below).
    pub optimizer: OptimizerKind,
    /// Generator learning rate.
    pub lr_g: f64,
    /// Discriminator learning rate.
    pub lr_d: f64,
    /// Adam's beta1; 0.5 as in DCGAN, since 0.9 makes the game oscillate.
    pub beta1: f64,
    /// SGD momentum.
    pub momentum: f64,
    /// One-sided label smoothing: real images get the target 1 - this (e.g. 0.1).
    pub label_smoothing: f64,
    /// Decay of the generator's exponential moving average used for sampling (0: off).
    pub ema: f64,
    /// Weight gamma of the R1 penalty, gamma/2 E||grad_x D(x)||^2 on real images (0: off).
    pub r1: f64,
    /// Warn of collapse when the samples' spread falls below this fraction of the data's.
    pub collapse_threshold: f64,
    /// Steps between checkpoints.
    pub checkpoint_every: u64,
    /// Checkpoints kept.
    pub keep: usize,
    /// Seed for initialisation, shuffling and noise.
    pub seed: u64,
}

impl Default for GanTrainConfig {
    fn default() -> Self {
        GanTrainConfig {
            data: PathBuf::new(),
            model: GanConfig::new(),
            conditional: false,
            batch: 64,
            epochs: 3,
            loss: GanLoss::Ns,
            optimizer: OptimizerKind::Adam,
            lr_g: 2e-4,
            lr_d: 2e-4,
            beta1: 0.5,
            momentum: 0.9,
            label_smoothing: 0.0,
            ema: 0.999,
            r1: 0.0,
            collapse_threshold: 0.25,
            checkpoint_every: 500,
            keep: 3,
            seed: 0,
        }
    }
}

impl GanTrainConfig {
    /// Checks the values that do not depend on the data, before any work starts.
    pub fn validate(&self) -> Result<()> {
        if self.batch < 2 || self.epochs == 0 || self.checkpoint_every == 0 || self.keep == 0 {
            return Err(Error::arg(
                "batch must be at least 2; epochs, checkpoint_every and keep positive",
            ));
        }
        let r1_ok = self.r1.is_finite() && self.r1 >= 0.0;
        if !((0.0..1.0).contains(&self.ema) && (0.0..0.5).contains(&self.label_smoothing) && r1_ok)
        {
            return Err(Error::arg(
                "--ema must be in [0, 1), --label-smoothing in [0, 0.5) and --r1 at least 0",
            ));
        }
        for (name, lr) in [("--lr-g", self.lr_g), ("--lr-d", self.lr_d)] {
            if !(lr.is_finite() && lr > 0.0) {
                return Err(Error::arg(format!(
                    "{name} {lr}: must be a positive number"
                )));
            }
        }
        Ok(())
    }
}
