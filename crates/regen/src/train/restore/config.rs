//! What defines a restoration training run, and its checks.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::corrupt::{Corruption, Sigma, Task};
use crate::error::{Error, Result};
use crate::models::{Arch, Descriptor, RestoreConfig};
use crate::planes::{self, Plane};
use crate::train::run::{OptimizerKind, Schedule};

/// Everything that defines a restoration training run. Written to `config.toml` in the
/// run folder; a TOML file with any subset of these keys can be given with `--config`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RestoreTrainConfig {
    /// `denoise`, `inpaint` or `deblur`.
    pub task: Task,
    /// Folder of training images, or an IDX image file.
    pub data: PathBuf,
    /// The network.
    #[serde(default = "default_model")]
    pub model: RestoreConfig,
    /// The damage to learn to undo.
    #[serde(alias = "noise")]
    pub corruption: Corruption,
    /// Patch side in pixels (a multiple of the network's stride).
    pub patch: usize,
    /// Patches per step.
    pub batch: usize,
    /// Total optimisation steps.
    pub steps: u64,
    /// Steps per epoch: validation, plot and best-model check happen at each epoch end.
    pub epoch_steps: u64,
    /// `adam` or `sgd`.
    pub optimizer: OptimizerKind,
    /// Peak learning rate.
    pub lr: f64,
    /// Final learning rate of the cosine schedule.
    pub lr_min: f64,
    /// `cosine`, `step` or `constant`.
    pub schedule: Schedule,
    /// Linear warm-up steps.
    pub warmup: u64,
    /// SGD momentum.
    pub momentum: f64,
    /// Images held out from `data` for validation (seeded choice).
    pub val_images: usize,
    /// Gaussian sigma (0-255) of the validation inputs.
    pub val_sigma: f32,
    /// Steps between checkpoints.
    pub checkpoint_every: u64,
    /// Checkpoints kept on disk.
    pub keep: usize,
    /// Seed for initialisation, patches, noise and the split.
    pub seed: u64,
    /// Round corrupted inputs to 8 bits, as they are once saved to PNG.
    pub quantize: bool,
    /// Inpainting: masks are drawn for an image of this side and a patch-sized window is
    /// cut from them, so brush widths match those in whole photos.
    pub mask_canvas: usize,
    /// Start from this model's weights (a shipped name or a `.safetensors` path) instead of
    /// a random initialisation: fine-tuning, or a second schedule after a finished run.
    /// Its network config must equal `model`, except that it may have fewer input planes
    /// (a denoiser to start an inpainter from), be gray for a colour run, or be a U-Net
    /// with fewer halvings or fewer convolutions per block (grown to `model`).
    pub init: Option<String>,
    /// Deblurring: a non-blind model, given the blur kernel (it sees the image's Wiener
    /// deconvolution with it beside the blurred image).
    pub non_blind: bool,
}

fn default_model() -> RestoreConfig {
    RestoreConfig::new()
}

impl Default for RestoreTrainConfig {
    fn default() -> Self {
        RestoreTrainConfig {
            task: Task::Denoise,
            data: PathBuf::new(),
            model: default_model(),
            corruption: Corruption::train_default(Task::Denoise),
            patch: 64,
            batch: 16,
            steps: 20_000,
            epoch_steps: 1000,
            optimizer: OptimizerKind::Adam,
            lr: 1e-3,
            lr_min: 1e-5,
            schedule: Schedule::Cosine,
            warmup: 100,
            momentum: 0.9,
            val_images: 8,
            val_sigma: 25.0,
            checkpoint_every: 250,
            keep: 3,
            seed: 0,
            quantize: true,
            mask_canvas: 256,
            init: None,
            non_blind: false,
        }
    }
}

impl RestoreTrainConfig {
    /// The config as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("config serialises")
    }

    /// The network's input planes: the task's, for the model's image channels, with a
    /// noise level map if the model has one.
    pub fn input_planes(&self) -> Vec<Plane> {
        planes::for_task(
            self.task,
            self.model.image_channels(),
            self.non_blind,
            self.model.has_noise_map(),
        )
    }

    /// What the trained model is, as its checkpoints record it.
    pub fn descriptor(&self) -> Result<Descriptor> {
        Descriptor::restore(self.task, self.model.architecture(), self.input_planes())
            .map_err(|e| Error::arg(format!("model config: {e}")))
    }

    /// What validation images are damaged with: the test damage of the task
    /// ([`Corruption::test_default`]), with Gaussian noise of `val_sigma` for denoising.
    pub fn val_corruption(&self) -> Corruption {
        Corruption::test_default(self.task, self.val_sigma)
    }

    /// Sets the task; a corruption of another task gives way to the new task's default.
    pub fn set_task(&mut self, task: Task) {
        if self.corruption.task() != task {
            self.corruption = Corruption::train_default(task);
        }
        self.task = task;
    }

    /// Sets the training noise: the noise after the blur when deblurring, else Gaussian
    /// noise of `sigma`. Inpainting adds no noise.
    pub fn set_sigma(&mut self, sigma: Sigma) -> Result<()> {
        match &mut self.corruption {
            Corruption::Blur { noise, .. } => *noise = sigma,
            Corruption::Inpaint { .. } => {
                return Err(Error::arg("--sigma: inpainting training adds no noise"));
            }
            c => *c = Corruption::Gaussian { sigma },
        }
        Ok(())
    }

    /// Checks the values before any work starts.
    pub fn validate(&self) -> Result<()> {
        if self.task == Task::Upscale {
            return Err(Error::arg(
                "--task upscale: regen does not train upscalers yet (the downscaling damage comes with the upscaling issue); it runs published ones: regen restore --model FILE",
            ));
        }
        if self.corruption.task() != self.task {
            return Err(Error::arg(format!(
                "--task {} cannot be trained on {} damage ({:?})",
                self.task,
                self.corruption.task(),
                self.corruption
            )));
        }
        if self.non_blind && self.task != Task::Deblur {
            return Err(Error::arg(format!(
                "--non-blind is for --task deblur, not {}",
                self.task
            )));
        }
        if self.model.has_noise_map() && self.task == Task::Inpaint {
            return Err(Error::arg(
                "--noise-map is for denoising and deblurring; inpainting adds no noise",
            ));
        }
        self.corruption.validate()?;
        self.model.validate()?;
        let plain = RestoreConfig::new();
        if self.model.arch == Arch::DnCnn
            && (self.model.convs_per_block != plain.convs_per_block
                || self.model.skips != plain.skips)
        {
            return Err(Error::arg(
                "--convs and --no-skips shape encdec's U-Net; dncnn has neither (its --depth counts its layers)",
            ));
        }
        if self.data.as_os_str().is_empty() {
            return Err(Error::arg(
                "--data is required: a folder of training images",
            ));
        }
        let m = self.model.multiple();
        if self.patch == 0 || !self.patch.is_multiple_of(m) {
            return Err(Error::arg(format!(
                "--patch {}: must be a positive multiple of {m} for this network",
                self.patch
            )));
        }
        let pos = [
            ("--batch", self.batch as u64),
            ("--steps", self.steps),
            ("--epoch-steps", self.epoch_steps),
            ("--checkpoint-every", self.checkpoint_every),
            ("keep", self.keep as u64),
        ];
        for (name, v) in pos {
            if v == 0 {
                return Err(Error::arg(format!("{name} must be positive")));
            }
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(Error::arg(format!(
                "--lr {}: must be a positive number",
                self.lr
            )));
        }
        Sigma::Fixed(self.val_sigma).validate()
    }
}
