//! The command line as typed arguments: what each subcommand takes, its defaults and its
//! help text. Closed sets (task, blur, optimizer, ...) are the library's own enums, parsed
//! by their `FromStr`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use regen::Task;
use regen::corrupt::blur::BlurShape;
use regen::corrupt::mask::MaskShape;
use regen::corrupt::{Degradation, NoiseKind};

mod eval;
mod train;

pub use eval::*;
pub use train::*;

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
    /// What model files are.
    #[command(subcommand)]
    Models(ModelsCommand),
    /// Write a regen model in the key layout spandrel and chaiNNer load (DnCNN, FDnCNN,
    /// Compact).
    Export(ExportArgs),
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// A regen checkpoint (or shipped model) of an architecture spandrel shares.
    pub model: String,
    /// The `.safetensors` file to write.
    #[arg(short, long)]
    pub output: PathBuf,
}

#[derive(Subcommand, Debug)]
pub enum ModelsCommand {
    /// What a model is: family, task, architecture, input planes, scale, receptive field,
    /// parameters, training steps.
    Inspect(InspectArgs),
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// A shipped model name (e.g. `denoise`), a regen checkpoint, or published weights
    /// (`.pth`, `.pt`, `.ckpt`, `.safetensors`, ncnn `.param`).
    pub model: String,
    #[command(flatten)]
    pub json: Json,
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
    /// A shipped model name (e.g. `denoise`), a regen `.safetensors` checkpoint, or
    /// published weights: a PyTorch `.pth`/`.pt`/`.ckpt`, a `.safetensors` in PyTorch's key
    /// layout, or an ncnn `.param` (its `.bin` beside it). ESRGAN, Compact, DnCNN, FDnCNN,
    /// FFDNet and DRUNet are recognised; an upscaler writes the larger image.
    #[arg(long)]
    pub model: Option<String>,
    /// The task (denoise, inpaint, deblur, upscale): picks the shipped default when --model
    /// is not given (default: denoise), and is checked against the model's when it is.
    #[arg(long)]
    pub task: Option<Task>,
    /// Upscale: the factor, 2, 3 or 4: picks the shipped upscaler of that factor when
    /// --model is not given (default 4), and is checked against the model's when it is.
    #[arg(long)]
    pub scale: Option<usize>,
    /// Inpainting: the mask (white = missing), one file for every input or a folder of
    /// masks with the inputs' names.
    #[arg(long)]
    pub mask: Option<PathBuf>,
    /// Tile side in input pixels; large images are processed tile by tile (default 256, or
    /// 128 for an upscaler, whose features are larger).
    #[arg(long)]
    pub tile: Option<usize>,
    /// Context pixels around each tile (default: the model's receptive radius, at most 40);
    /// a tile's result equals the whole image's when this covers the receptive radius.
    #[arg(long)]
    pub margin: Option<usize>,
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
    /// regions, with --masks), deblur (blur plus optional --sigma noise), upscale (the
    /// image made --scale times smaller).
    #[arg(long, default_value_t = Task::Denoise)]
    pub task: Task,
    /// Upscale: the shrinking factor, 2, 3 or 4.
    #[arg(long)]
    pub scale: Option<usize>,
    /// Upscale: bicubic (MATLAB's antialiased imresize, as the super-resolution benchmarks)
    /// or real (Real-ESRGAN's second-order blur, resize, noise and JPEG, as real photos).
    #[arg(long, default_value = "bicubic")]
    pub degradation: Degradation,
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
    /// Do only shard K of N of the batch (K counts from 0: 0/3, 1/3, 2/3). Each file
    /// belongs to one shard, by a stable hash of its path relative to the input folder, so
    /// N machines given 0/N .. N-1/N do every file once. Without it, a Slurm job array
    /// (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN of SLURM_ARRAY_TASK_COUNT) or a
    /// Kubernetes Indexed Job (JOB_COMPLETION_INDEX with --shards N) picks the shard.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// With JOB_COMPLETION_INDEX (a Kubernetes Indexed Job): how many shards there are
    /// (the Job's completions).
    #[arg(long, value_name = "N")]
    pub shards: Option<usize>,
    /// End with one JSON line on stdout: counts (done, skipped, failed, not started), bytes
    /// in and out, seconds, and the failed inputs' paths.
    #[arg(long)]
    pub json: bool,
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
