//! `regen eval`'s arguments.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use regen::Task;
use regen::corrupt::Degradation;

use super::{BlurArgs, Json};

#[derive(Subcommand, Debug)]
pub enum EvalCommand {
    /// PSNR, SSIM and time of the damaged input, classical baselines and the model.
    Restore(EvalRestoreArgs),
    /// Test-set ELBO and importance-weighted bound of a VAE, in nats per image.
    Vae(EvalVaeArgs),
    /// Frechet distance, KID and precision/recall of generated images against real ones.
    Generate(EvalGenerateArgs),
    /// Classifier accuracy from a small labelled subset, with and without conditional GAN
    /// and VAE samples (trained on that subset only) added.
    Augment(EvalAugmentArgs),
    /// How close the noise level estimator (what `regen restore` uses without --sigma)
    /// comes to known Gaussian noise levels.
    Noise(EvalNoiseArgs),
}

#[derive(Args, Debug)]
pub struct EvalNoiseArgs {
    /// Folder of clean images.
    #[arg(long)]
    pub data: PathBuf,
    /// Noise sigmas (0-255) to add, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "5,10,15,20,25,30,40,50")]
    pub sigmas: Vec<f32>,
    /// Noise seed of the first image (image i gets seed + i, as `regen corrupt`).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub json: Json,
}

#[derive(Args, Debug)]
pub struct EvalAugmentArgs {
    /// Labelled training images (IDX with labels, or class subfolders).
    #[arg(long)]
    pub data: PathBuf,
    /// Labelled test images.
    #[arg(long)]
    pub test: PathBuf,
    /// Real images per class in the small set.
    #[arg(long, default_value_t = 100)]
    pub per_class: usize,
    /// Generated images per class added.
    #[arg(long, default_value_t = 500)]
    pub generated: usize,
    /// Number of seeds (0, 1, ...), each with its own subset and models.
    #[arg(long, default_value_t = 3)]
    pub seeds: u64,
    /// Classifier steps (batches of 128), the same for every variant.
    #[arg(long, default_value_t = 2000)]
    pub steps: usize,
    /// Epochs of conditional-GAN training over the subset.
    #[arg(long, default_value_t = 200)]
    pub gan_epochs: u64,
    /// Epochs of conditional-VAE training over the subset.
    #[arg(long, default_value_t = 200)]
    pub vae_epochs: u64,
    /// Keep the generators' run folders here (default: a temporary folder, removed).
    #[arg(long)]
    pub work: Option<PathBuf>,
    #[command(flatten)]
    pub json: Json,
}

#[derive(Args, Debug)]
pub struct EvalGenerateArgs {
    /// Real labelled images (IDX with labels, or a class-per-subfolder image folder); the
    /// feature classifier is trained on them (and cached).
    #[arg(long)]
    pub data: PathBuf,
    /// Generated images: a folder of PNGs or an IDX file.
    #[arg(long)]
    pub samples: PathBuf,
    /// Images compared from each side (the same for every model compared).
    #[arg(short, default_value_t = 10_000)]
    pub n: usize,
    /// Seed of the classifier and of KID's subsets.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub json: Json,
}

#[derive(Args, Debug)]
pub struct EvalVaeArgs {
    /// A shipped VAE (`vae-fashion`, `cvae-mnist`) or a VAE `.safetensors` checkpoint.
    #[arg(long)]
    pub model: String,
    /// Test images: an IDX file (labels from its sibling) or an image folder.
    #[arg(long)]
    pub data: PathBuf,
    /// Samples per image for the importance-weighted bound.
    #[arg(long, default_value_t = 100)]
    pub k: usize,
    /// Labelled training images: fit a linear probe (logistic regression) on their latent
    /// means and report its accuracy on --data.
    #[arg(long)]
    pub probe_train: Option<PathBuf>,
    /// Seed of the latent samples.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub json: Json,
}

#[derive(Args, Debug)]
pub struct EvalRestoreArgs {
    /// A shipped model name or a `.safetensors` checkpoint (default: the shipped denoiser).
    #[arg(long)]
    pub model: Option<String>,
    /// Folder of clean test images.
    #[arg(long)]
    pub data: PathBuf,
    /// denoise, inpaint, deblur or upscale: which damage, baselines and default model.
    #[arg(long, default_value_t = Task::Denoise)]
    pub task: Task,
    /// Upscale: the factor (2, 3 or 4); images are cropped to a multiple of it, shrunk by
    /// MATLAB's bicubic imresize and scored on luminance with it shaved from the borders.
    #[arg(long)]
    pub scale: Option<usize>,
    /// Upscale: bicubic (MATLAB's imresize, the benchmarks' protocol) or real (Real-ESRGAN's
    /// second-order blur, resize, noise and JPEG; image i with seed --seed + i).
    #[arg(long, default_value = "bicubic")]
    pub degradation: Degradation,
    /// Noise sigma on the 0-255 scale (denoise: required; deblur: after the blur, default 2).
    #[arg(long, allow_hyphen_values = true)]
    pub sigma: Option<String>,
    /// Inpaint: fraction of pixels missing (free-form strokes), a range like 0.10-0.25.
    #[arg(long, default_value = "0.10-0.25")]
    pub coverage: String,
    #[command(flatten)]
    pub blur: BlurArgs,
    /// Seed of the noise; image i uses seed + i, as `regen corrupt` does.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Run the model with the 8-fold flip/rotation ensemble (as `restore --ensemble`).
    #[arg(long)]
    pub ensemble: bool,
    #[command(flatten)]
    pub json: Json,
}
