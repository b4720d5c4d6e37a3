//! The command line as typed arguments: what each subcommand takes, its defaults and its
//! help text. Closed sets (task, blur, optimizer, ...) are the library's own enums, parsed
//! by their `FromStr`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use regen::Task;
use regen::corrupt::NoiseKind;
use regen::corrupt::blur::BlurShape;
use regen::corrupt::mask::MaskShape;
use regen::models::{Arch, Likelihood};
use regen::train::{GanLoss, OptimizerKind, Schedule};

/// Train, evaluate and run image restoration and generation models on the CPU.
#[derive(Parser, Debug)]
#[command(name = "regen", version, about, long_about = None)]
pub struct Cli {
    /// CPU threads for tensor work (default: all cores).
    #[arg(long, global = true)]
    pub threads: Option<usize>,
    /// Where tensors live: cpu (the default) or gpu / gpu:N (a build with `--features gpu`);
    /// else the REGEN_DEVICE variable.
    #[arg(long, global = true)]
    pub device: Option<regen::device::DeviceChoice>,
    /// Refuse images with more pixels than this, from their header, before decoding.
    #[arg(long, global = true, default_value_t = regen::data::DEFAULT_MAX_PIXELS)]
    pub max_pixels: u64,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Restore images: a file to a file, or a folder to a folder (same names).
    Restore(RestoreArgs),
    /// Damage images the way training does, to make test inputs.
    Corrupt(CorruptArgs),
    /// Sample new images from a generative model.
    Generate(GenerateArgs),
    /// Encode and decode images with a VAE.
    Reconstruct(ReconstructArgs),
    /// Decode a path between two images' latent codes into a strip.
    Interpolate(InterpolateArgs),
    /// Write the latent means of a data set as CSV.
    Encode(EncodeArgs),
    /// Train a model.
    #[command(subcommand)]
    Train(Box<TrainCommand>),
    /// Measure models against classical baselines.
    #[command(subcommand)]
    Eval(EvalCommand),
    /// A local web app: restore photos (paint a mask to inpaint), generate, watch runs.
    Serve(ServeArgs),
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on. The default, loopback, is reachable from this machine only;
    /// another address lets others on the network use the models (with a warning).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,
    /// Port to listen on; 0 picks a free one (printed).
    #[arg(long, default_value_t = 8320)]
    pub port: u16,
    /// The folder of training runs the runs page shows (each a `regen train --out` folder).
    #[arg(long)]
    pub runs: Option<PathBuf>,
    /// A folder of `.safetensors` checkpoints to offer beside the shipped models.
    #[arg(long)]
    pub models: Option<PathBuf>,
    /// Open the page in the default browser.
    #[arg(long)]
    pub open: bool,
    /// Largest upload accepted, in megabytes (photos and masks together).
    #[arg(long, default_value_t = 64)]
    pub max_upload_mb: usize,
    /// Jobs that may wait or run at once; further requests get 429.
    #[arg(long, default_value_t = 8)]
    pub queue: usize,
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// A shipped model name (e.g. `denoise`) or a `.safetensors` checkpoint.
    #[arg(long)]
    pub model: Option<String>,
    /// The task (denoise, inpaint, deblur), used to pick the shipped default when --model
    /// is not given.
    #[arg(long, default_value = "denoise")]
    pub task: Task,
    /// Inpainting: the mask (white = missing), one file for every input or a folder of
    /// masks with the inputs' names.
    #[arg(long)]
    pub mask: Option<PathBuf>,
    /// Tile side in pixels; large images are processed tile by tile.
    #[arg(long, default_value_t = 256)]
    pub tile: usize,
    /// Average over the 8 flips and rotations of each image: slightly better, 8x slower.
    #[arg(long)]
    pub ensemble: bool,
    /// Denoise: the noise sigma (0-255) to remove, for models with a noise level input
    /// (both shipped denoisers): a strength to turn, higher smooths more. Default: estimated
    /// from each image.
    #[arg(long, allow_hyphen_values = true)]
    pub sigma: Option<f32>,
    /// Deblur, when the blur is known: gaussian or motion. With a blur given, the shipped
    /// non-blind deblurrer (`deblur-nonblind`) is the default model.
    #[arg(long)]
    pub blur: Option<BlurShape>,
    /// Deblur: the known Gaussian blur's sigma in pixels.
    #[arg(long, allow_hyphen_values = true)]
    pub blur_sigma: Option<f32>,
    /// Deblur: the known motion's length in pixels.
    #[arg(long, allow_hyphen_values = true)]
    pub length: Option<f32>,
    /// Deblur: the known motion's direction in degrees.
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
    pub angle: f32,
    #[command(flatten)]
    pub io: Io,
}

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// A shipped VAE or GAN (`gan-fashion`, the default; `cgan-mnist`, `vae-fashion`,
    /// `cvae-mnist`) or a `.safetensors` from `regen train vae` or `regen train gan`.
    #[arg(long, default_value = "gan-fashion")]
    pub model: String,
    /// Number of images.
    #[arg(short, default_value_t = 64)]
    pub n: usize,
    /// Class to sample, for a conditional model (default: cycle through the classes).
    #[arg(long)]
    pub class: Option<usize>,
    /// Seed of the latent codes.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Folder for the N PNG files.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Also (or only) write all samples as one grid picture.
    #[arg(long)]
    pub grid: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ReconstructArgs {
    /// A shipped VAE (`vae-fashion`, `cvae-mnist`) or a VAE `.safetensors` checkpoint.
    #[arg(long)]
    pub model: String,
    /// The images' class, for a conditional model.
    #[arg(long)]
    pub class: Option<usize>,
    #[command(flatten)]
    pub io: Io,
}

#[derive(Args, Debug)]
pub struct InterpolateArgs {
    /// A shipped VAE (`vae-fashion`, `cvae-mnist`) or a VAE `.safetensors` checkpoint.
    #[arg(long)]
    pub model: String,
    /// Start image.
    pub a: PathBuf,
    /// End image.
    pub b: PathBuf,
    /// Images in the strip, ends included.
    #[arg(long, default_value_t = 8)]
    pub steps: usize,
    /// Interpolate along the great circle (slerp) instead of a straight line.
    #[arg(long)]
    pub spherical: bool,
    /// Class for a conditional model.
    #[arg(long)]
    pub class: Option<usize>,
    /// The strip picture.
    #[arg(short, long)]
    pub output: PathBuf,
}

#[derive(Args, Debug)]
pub struct EncodeArgs {
    /// A shipped VAE (`vae-fashion`, `cvae-mnist`) or a VAE `.safetensors` checkpoint.
    #[arg(long)]
    pub model: String,
    /// An IDX image file or an image folder.
    pub data: PathBuf,
    /// The CSV file: one row per image, the label if known, then the latent means.
    #[arg(short, long)]
    pub output: PathBuf,
}

#[derive(Args, Debug)]
pub struct CorruptArgs {
    /// The damage, named by the task that undoes it: denoise (noise), inpaint (missing
    /// regions, with --masks), deblur (blur plus optional --sigma noise).
    #[arg(long, default_value = "denoise")]
    pub task: Task,
    /// Inpaint: strokes (free-form brush lines), box (one centred) or boxes (random).
    #[arg(long, default_value = "strokes")]
    pub mask_kind: MaskShape,
    /// Inpaint strokes: fraction of pixels missing, a number or a range like 0.10-0.25.
    #[arg(long, default_value = "0.10-0.25")]
    pub coverage: String,
    /// Inpaint: where the masks go (white = missing): a file for one input, else a folder.
    #[arg(long)]
    pub masks: Option<PathBuf>,
    #[command(flatten)]
    pub blur: BlurArgs,
    /// Noise kind: gaussian, salt-pepper or poisson.
    #[arg(long, default_value = "gaussian")]
    pub noise: NoiseKind,
    /// Gaussian sigma on the 0-255 scale, or a range like 0-50.
    #[arg(long, allow_hyphen_values = true)]
    pub sigma: Option<String>,
    /// Salt-and-pepper: fraction of pixels hit.
    #[arg(long, allow_hyphen_values = true)]
    pub amount: Option<f32>,
    /// Poisson: photons of a white pixel.
    #[arg(long, allow_hyphen_values = true)]
    pub peak: Option<f32>,
    /// Seed; image i of the input list uses seed + i.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub io: Io,
}

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
    /// The task: denoise, inpaint or deblur.
    #[arg(long)]
    pub task: Option<Task>,
    /// Folder of clean training images (or an IDX image file).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Network family: encdec (U-Net with skips) or dncnn.
    #[arg(long)]
    pub arch: Option<Arch>,
    /// Feature channels at full resolution.
    #[arg(long)]
    pub width: Option<usize>,
    /// encdec: number of halvings; dncnn: number of layers.
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
    /// Patch side in pixels.
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
    /// denoise, inpaint or deblur: which damage, baselines and default model.
    #[arg(long, default_value = "denoise")]
    pub task: Task,
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

/// Input images and where their results go: `restore`, `corrupt`, `reconstruct`.
#[derive(Args, Debug)]
pub struct Io {
    /// Input images, or one folder.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Output file (one input) or folder.
    #[arg(short, long)]
    pub output: PathBuf,
    /// JPEG output quality, 1 to 100.
    #[arg(long, default_value_t = 95, value_parser = clap::value_parser!(u8).range(1..=100))]
    pub quality: u8,
    /// Do not copy the inputs' ICC profile, EXIF and stated resolution (dpi) to the outputs
    /// (they are kept by default, with the EXIF orientation reset, since outputs are written
    /// upright).
    #[arg(long)]
    pub strip_metadata: bool,
    /// Leave inputs whose output file already exists alone: rerun an interrupted batch with
    /// this and only what is left is done. (Outputs are written under a temporary name and
    /// renamed, so an existing one is complete.)
    #[arg(long)]
    pub skip_existing: bool,
}

/// The blur that `corrupt` applies and `eval restore` tests with.
#[derive(Args, Debug)]
pub struct BlurArgs {
    /// Deblur: gaussian or motion.
    #[arg(long, default_value = "gaussian")]
    pub blur: BlurShape,
    /// Deblur: Gaussian blur sigma in pixels.
    #[arg(long, default_value_t = regen::corrupt::TEST_BLUR_SIGMA, allow_hyphen_values = true)]
    pub blur_sigma: f32,
    /// Deblur: motion length in pixels (0: no blur).
    #[arg(long, default_value_t = 9.0, allow_hyphen_values = true)]
    pub length: f32,
    /// Deblur: motion direction in degrees.
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
    pub angle: f32,
}

impl BlurArgs {
    /// The blur these flags name.
    pub fn kind(&self) -> regen::corrupt::blur::BlurKind {
        regen::corrupt::blur::BlurKind::named(self.blur, self.blur_sigma, self.length, self.angle)
    }
}

/// `--json`, for the `eval` subcommands.
#[derive(Args, Debug)]
pub struct Json {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// What the generative models' trainers share.
#[derive(Args, Debug)]
pub struct GenTrainArgs {
    /// An IDX image file (labels from its labels-idx1 sibling) or an image folder.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Condition on class labels (both networks of a GAN).
    #[arg(long)]
    pub conditional: bool,
    /// Latent (GAN: noise) dimensions.
    #[arg(long)]
    pub latent: Option<usize>,
    /// Images per step.
    #[arg(long)]
    pub batch: Option<usize>,
    /// Passes over the data.
    #[arg(long)]
    pub epochs: Option<u64>,
}
