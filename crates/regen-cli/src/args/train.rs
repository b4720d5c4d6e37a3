//! `regen train`'s arguments.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use regen::Task;
use regen::corrupt::Degradation;
use regen::models::{Arch, Likelihood};
use regen::train::{GanLoss, Loss, OptimizerKind, Schedule};

use super::GenTrainArgs;

#[derive(Subcommand, Debug)]
pub enum TrainCommand {
    /// Train a restoration model on a folder of clean images.
    Restore(TrainRestoreArgs),
    /// Train a variational autoencoder on an IDX file or an image folder.
    Vae(TrainVaeArgs),
    /// Train a GAN (DCGAN) on an IDX file or an image folder.
    Gan(TrainGanArgs),
}

#[derive(Args, Debug)]
pub struct TrainGanArgs {
    #[command(flatten)]
    pub common: GenTrainArgs,
    /// Up/down-sampling stages (2 for 28x28, 3 or 4 for 64x64).
    #[arg(long)]
    pub depth: Option<usize>,
    /// Generator channels before its last layer (doubled per stage towards the input).
    #[arg(long)]
    pub g_width: Option<usize>,
    /// Discriminator channels after its first layer (doubled per stage).
    #[arg(long)]
    pub d_width: Option<usize>,
    /// No batch normalisation in the generator.
    #[arg(long)]
    pub no_batchnorm: bool,
    /// Spectral normalisation in the discriminator.
    #[arg(long)]
    pub spectral_norm: bool,
    /// ns (non-saturating, default), minimax (the original objective) or hinge.
    #[arg(long)]
    pub loss: Option<GanLoss>,
    /// adam (beta1 0.5) or sgd.
    #[arg(long)]
    pub optimizer: Option<OptimizerKind>,
    /// Learning rate of both networks (see --lr-g, --lr-d).
    #[arg(long, allow_hyphen_values = true)]
    pub lr: Option<f64>,
    /// Generator learning rate.
    #[arg(long, allow_hyphen_values = true)]
    pub lr_g: Option<f64>,
    /// Discriminator learning rate.
    #[arg(long, allow_hyphen_values = true)]
    pub lr_d: Option<f64>,
    /// One-sided label smoothing (real target 1 - this), e.g. 0.1.
    #[arg(long, allow_hyphen_values = true)]
    pub label_smoothing: Option<f64>,
    /// Decay of the generator's moving average used for sampling; 0 turns it off.
    #[arg(long, allow_hyphen_values = true)]
    pub ema: Option<f64>,
    /// R1 penalty weight gamma on real images (e.g. 1 to 10); 0 turns it off.
    #[arg(long, allow_hyphen_values = true)]
    pub r1: Option<f64>,
    /// Steps between checkpoints.
    #[arg(long)]
    pub checkpoint_every: Option<u64>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Args, Debug)]
pub struct TrainVaeArgs {
    #[command(flatten)]
    pub common: GenTrainArgs,
    /// Channels of the first convolution (doubled per level).
    #[arg(long)]
    pub width: Option<usize>,
    /// Strided convolutions in the encoder.
    #[arg(long)]
    pub depth: Option<usize>,
    /// bernoulli or gaussian.
    #[arg(long)]
    pub likelihood: Option<Likelihood>,
    /// Adam learning rate.
    #[arg(long, allow_hyphen_values = true)]
    pub lr: Option<f64>,
    /// Weight of the KL term.
    #[arg(long, allow_hyphen_values = true)]
    pub beta: Option<f64>,
    /// Steps of linear KL warm-up.
    #[arg(long)]
    pub kl_warmup: Option<u64>,
    #[command(flatten)]
    pub run: RunArgs,
}

/// Where a training run lives, its settings file and seed, and how it reports; shared by
/// every `train` subcommand.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// A TOML file with any of the training settings; flags override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// The run folder: config, metrics.jsonl, plot.png, checkpoints, best and final model.
    #[arg(long)]
    pub out: PathBuf,
    /// Continue from the run folder's last checkpoint (harmless if it has none).
    #[arg(long)]
    pub resume: bool,
    /// Print nothing while training.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct TrainRestoreArgs {
    /// The task: denoise, inpaint, deblur or upscale.
    #[arg(long)]
    pub task: Option<Task>,
    /// Upscale: the factor, 2, 3 or 4 (default 4).
    #[arg(long)]
    pub scale: Option<usize>,
    /// Upscale: how training images are shrunk: bicubic (MATLAB's imresize, for clean
    /// images) or real (Real-ESRGAN's blur, resize, noise and JPEG, twice: for photos).
    #[arg(long)]
    pub degradation: Option<Degradation>,
    /// The loss: l2, l1 or charbonnier (default l1 for upscale, l2 otherwise).
    #[arg(long)]
    pub loss: Option<Loss>,
    /// Folder of clean training images (or an IDX image file).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Network family: encdec (U-Net with skips), dncnn, or compact (upscale; --width
    /// features, --depth convolutions).
    #[arg(long)]
    pub arch: Option<Arch>,
    /// Feature channels at full resolution.
    #[arg(long)]
    pub width: Option<usize>,
    /// encdec: number of halvings; dncnn: number of layers; compact: convolutions between
    /// the first and the last. With --init, a Compact with fewer grows to this many (the
    /// new ones start as identities), as a U-Net with fewer halvings grows a level.
    #[arg(long)]
    pub depth: Option<usize>,
    /// encdec: 3x3 convolutions per block (2 unless set). With --init, a model with fewer
    /// grows to this many; the new ones start as identities.
    #[arg(long)]
    pub convs: Option<usize>,
    /// encdec: turn the U-Net skip connections off.
    #[arg(long)]
    pub no_skips: bool,
    /// Image channels: 1 (gray; colour training images are reduced to luminance) or 3
    /// (RGB, restored together; gray training images are repeated into RGB).
    #[arg(long)]
    pub channels: Option<usize>,
    /// Denoise: give the network a noise level map (sigma / 255 in one more input plane),
    /// so that `regen restore --sigma S` can set its strength.
    #[arg(long)]
    pub noise_map: bool,
    /// Training noise sigma (0-255): a number, or a range like 0-50 for a blind model.
    #[arg(long, allow_hyphen_values = true)]
    pub sigma: Option<String>,
    /// Patch side in pixels of the network's input (upscale: clean patches are --scale
    /// times larger).
    #[arg(long)]
    pub patch: Option<usize>,
    /// Patches per step.
    #[arg(long)]
    pub batch: Option<usize>,
    /// Total steps.
    #[arg(long)]
    pub steps: Option<u64>,
    /// Steps per epoch (validation, plot, best model).
    #[arg(long)]
    pub epoch_steps: Option<u64>,
    /// adam or sgd.
    #[arg(long)]
    pub optimizer: Option<OptimizerKind>,
    /// Peak learning rate.
    #[arg(long, allow_hyphen_values = true)]
    pub lr: Option<f64>,
    /// cosine, step or constant.
    #[arg(long)]
    pub schedule: Option<Schedule>,
    /// Steps between checkpoints.
    #[arg(long)]
    pub checkpoint_every: Option<u64>,
    /// Start from this model's weights (shipped name or .safetensors path), e.g. to
    /// fine-tune, to train a finished run further on a new schedule, or to grow a U-Net
    /// deeper (`--depth` above the model's) or thicker (`--convs` above the model's).
    #[arg(long)]
    pub init: Option<String>,
    /// Deblur: train a non-blind model, which is given the blur kernel at use
    /// (`regen restore --task deblur --blur-sigma S`).
    #[arg(long)]
    pub non_blind: bool,
    #[command(flatten)]
    pub run: RunArgs,
}
