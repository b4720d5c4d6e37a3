//! What defines a restoration training run, and its checks.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::corrupt::{Corruption, Degradation, Sigma, Task, check_scale};
use crate::error::{Error, Result};
use crate::models::{Arch, Descriptor, RestoreConfig};
use crate::planes::{self, Plane};
use crate::train::run::{OptimizerKind, Schedule};

/// The per-pixel training loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Loss {
    /// Mean squared error (what PSNR measures).
    L2,
    /// Mean absolute error: what super-resolution networks are trained with (EDSR, Lim et
    /// al. 2017: sharper results and steadier training than L2).
    L1,
    /// `sqrt(d^2 + 1e-6)`: L1 made smooth at zero (Lai et al. 2017).
    Charbonnier,
}

crate::choice::named!(Loss, "loss", "l2, l1 or charbonnier");

/// Everything that defines a restoration training run. Written to `config.toml` in the
/// run folder; a TOML file with any subset of these keys can be given with `--config`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RestoreTrainConfig {
    /// `denoise`, `inpaint`, `deblur` or `upscale`.
    pub task: Task,
    /// Folder of training images, or an IDX image file.
    pub data: PathBuf,
    /// The network.
    #[serde(default = "default_model")]
    pub model: RestoreConfig,
    /// The damage to learn to undo.
    #[serde(alias = "noise")]
    pub corruption: Corruption,
    /// Patch side in pixels of the network's input (a multiple of its stride); upscaling
    /// cuts clean patches `scale` times larger and shrinks them to this.
    pub patch: usize,
    /// The loss; unset, L1 for upscaling and L2 for the rest.
    pub loss: Option<Loss>,
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
            loss: None,
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
    /// ([`Corruption::test_default`]), with Gaussian noise of `val_sigma` for denoising;
    /// upscaling's own training damage (seeded per image, so the same every epoch).
    pub fn val_corruption(&self) -> Corruption {
        match self.task {
            Task::Upscale => self.corruption.clone(),
            t => Corruption::test_default(t, self.val_sigma),
        }
    }

    /// The loss this run trains with.
    pub fn loss(&self) -> Loss {
        self.loss.unwrap_or(if self.task == Task::Upscale {
            Loss::L1
        } else {
            Loss::L2
        })
    }

    /// Upscaling: sets the factor of the damage and of the network (a Compact, unless
    /// another upscaling network was asked for).
    pub fn set_scale(&mut self, scale: usize) -> Result<()> {
        check_scale(scale)?;
        if self.task != Task::Upscale {
            return Err(Error::arg(format!(
                "--scale is for --task upscale, not {}",
                self.task
            )));
        }
        if let Corruption::Downscale { scale: s, .. } = &mut self.corruption {
            *s = scale;
        }
        self.model.scale = Some(scale);
        Ok(())
    }

    /// Upscaling: sets how the training images are shrunk.
    pub fn set_degradation(&mut self, degradation: Degradation) -> Result<()> {
        match &mut self.corruption {
            Corruption::Downscale { degradation: d, .. } => {
                *d = degradation;
                Ok(())
            }
            _ => Err(Error::arg(format!(
                "--degradation is for --task upscale, not {}",
                self.task
            ))),
        }
    }

    /// Sets the task; a corruption of another task gives way to the new task's default.
    /// Upscaling trains a Compact network by default (x4, 64 features, 16 convolutions,
    /// as Real-ESRGAN's); other tasks, networks of the same size.
    pub fn set_task(&mut self, task: Task) {
        if self.corruption.task() != task {
            self.corruption = Corruption::train_default(task);
        }
        if task == Task::Upscale && self.task != Task::Upscale {
            self.model.arch = crate::models::Arch::Compact;
            self.model.width = 64;
            self.model.depth = 16;
            self.model.scale = Some(4);
        } else if task != Task::Upscale {
            self.model.scale = None;
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
        match (&self.corruption, self.model.upscale_factor()) {
            (Corruption::Downscale { scale, .. }, m) if *scale != m => {
                return Err(Error::arg(format!(
                    "the damage shrinks by {scale} but the network enlarges by {m}"
                )));
            }
            (Corruption::Downscale { .. }, _) => {}
            (_, 1) => {}
            (_, m) => {
                return Err(Error::arg(format!(
                    "a network that enlarges by {m} is for --task upscale"
                )));
            }
        }
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
