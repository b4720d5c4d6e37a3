//! `regen`: the command-line program. It parses arguments, calls the library and prints;
//! all the work lives in the `regen` crate.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

mod commands;

/// Train, evaluate and run image restoration and generation models on the CPU.
#[derive(Parser, Debug)]
#[command(name = "regen", version, about, long_about = None)]
struct Cli {
    /// CPU threads for tensor work (default: all cores).
    #[arg(long, global = true)]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
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
}

#[derive(Args, Debug)]
struct RestoreArgs {
    /// A shipped model name (e.g. `denoise`) or a `.safetensors` checkpoint.
    #[arg(long)]
    model: Option<String>,
    /// The task (denoise, inpaint, deblur), used to pick the shipped default when --model
    /// is not given.
    #[arg(long, default_value = "denoise")]
    task: String,
    /// Inpainting: the mask (white = missing), one file for every input or a folder of
    /// masks with the inputs' names.
    #[arg(long)]
    mask: Option<PathBuf>,
    /// Tile side in pixels; large images are processed tile by tile.
    #[arg(long, default_value_t = 256)]
    tile: usize,
    /// Average over the 8 flips and rotations of each image: slightly better, 8x slower.
    #[arg(long)]
    ensemble: bool,
    /// Deblur, when the blur is known: gaussian or motion. With a blur given, the shipped
    /// non-blind deblurrer (`deblur-nonblind`) is the default model.
    #[arg(long)]
    blur: Option<String>,
    /// Deblur: the known Gaussian blur's sigma in pixels.
    #[arg(long, allow_hyphen_values = true)]
    blur_sigma: Option<f32>,
    /// Deblur: the known motion's length in pixels.
    #[arg(long, allow_hyphen_values = true)]
    length: Option<f32>,
    /// Deblur: the known motion's direction in degrees.
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
    angle: f32,
    /// Input images, or one folder.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Output file (one input) or folder.
    #[arg(short, long)]
    output: PathBuf,
}

#[derive(Args, Debug)]
struct GenerateArgs {
    /// A shipped VAE or GAN (`gan-fashion`, the default; `cgan-mnist`, `vae-fashion`,
    /// `cvae-mnist`) or a `.safetensors` from `regen train vae` or `regen train gan`.
    #[arg(long, default_value = "gan-fashion")]
    model: String,
    /// Number of images.
    #[arg(short, default_value_t = 64)]
    n: usize,
    /// Class to sample, for a conditional model (default: cycle through the classes).
    #[arg(long)]
    class: Option<usize>,
    /// Seed of the latent codes.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Folder for the N PNG files.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Also (or only) write all samples as one grid picture.
    #[arg(long)]
    grid: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct ReconstructArgs {
    /// A shipped VAE (`vae-fashion`, `cvae-mnist`) or a VAE `.safetensors` checkpoint.
    #[arg(long)]
    model: String,
    /// The images' class, for a conditional model.
    #[arg(long)]
    class: Option<usize>,
    /// Input images, or one folder.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Output file (one input) or folder.
    #[arg(short, long)]
    output: PathBuf,
}

#[derive(Args, Debug)]
struct InterpolateArgs {
    /// A shipped VAE (`vae-fashion`, `cvae-mnist`) or a VAE `.safetensors` checkpoint.
    #[arg(long)]
    model: String,
    /// Start image.
    a: PathBuf,
    /// End image.
    b: PathBuf,
    /// Images in the strip, ends included.
    #[arg(long, default_value_t = 8)]
    steps: usize,
    /// Interpolate along the great circle (slerp) instead of a straight line.
    #[arg(long)]
    spherical: bool,
    /// Class for a conditional model.
    #[arg(long)]
    class: Option<usize>,
    /// The strip picture.
    #[arg(short, long)]
    output: PathBuf,
}

#[derive(Args, Debug)]
struct EncodeArgs {
    /// A shipped VAE (`vae-fashion`, `cvae-mnist`) or a VAE `.safetensors` checkpoint.
    #[arg(long)]
    model: String,
    /// An IDX image file or an image folder.
    data: PathBuf,
    /// The CSV file: one row per image, the label if known, then the latent means.
    #[arg(short, long)]
    output: PathBuf,
}

#[derive(Args, Debug)]
struct CorruptArgs {
    /// The damage, named by the task that undoes it: denoise (noise), inpaint (missing
    /// regions, with --masks), deblur (blur plus optional --sigma noise).
    #[arg(long, default_value = "denoise")]
    task: String,
    /// Inpaint: strokes (free-form brush lines), box (one centred) or boxes (random).
    #[arg(long, default_value = "strokes")]
    mask_kind: String,
    /// Inpaint strokes: fraction of pixels missing, a number or a range like 0.10-0.25.
    #[arg(long, default_value = "0.10-0.25")]
    coverage: String,
    /// Inpaint: where the masks go (white = missing): a file for one input, else a folder.
    #[arg(long)]
    masks: Option<PathBuf>,
    /// Deblur: gaussian or motion.
    #[arg(long, default_value = "gaussian")]
    blur: String,
    /// Deblur: Gaussian blur sigma in pixels.
    #[arg(long, default_value_t = 1.6, allow_hyphen_values = true)]
    blur_sigma: f32,
    /// Deblur: motion length in pixels (0: no blur).
    #[arg(long, default_value_t = 9.0, allow_hyphen_values = true)]
    length: f32,
    /// Deblur: motion direction in degrees.
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
    angle: f32,
    /// Noise kind: gaussian, salt-pepper or poisson.
    #[arg(long, default_value = "gaussian")]
    noise: String,
    /// Gaussian sigma on the 0-255 scale, or a range like 0-50.
    #[arg(long, allow_hyphen_values = true)]
    sigma: Option<String>,
    /// Salt-and-pepper: fraction of pixels hit.
    #[arg(long, allow_hyphen_values = true)]
    amount: Option<f32>,
    /// Poisson: photons of a white pixel.
    #[arg(long, allow_hyphen_values = true)]
    peak: Option<f32>,
    /// Seed; image i of the input list uses seed + i.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Input images, or one folder.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Output file (one input) or folder.
    #[arg(short, long)]
    output: PathBuf,
}

#[derive(Subcommand, Debug)]
enum TrainCommand {
    /// Train a restoration model on a folder of clean images.
    Restore(TrainRestoreArgs),
    /// Train a variational autoencoder on an IDX file or an image folder.
    Vae(TrainVaeArgs),
    /// Train a GAN (DCGAN) on an IDX file or an image folder.
    Gan(TrainGanArgs),
}

#[derive(Args, Debug)]
struct TrainGanArgs {
    /// A TOML file with any of the training settings; flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// An IDX image file (labels from its labels-idx1 sibling) or an image folder.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Condition both networks on class labels.
    #[arg(long)]
    conditional: bool,
    /// Noise dimensions.
    #[arg(long)]
    latent: Option<usize>,
    /// Up/down-sampling stages (2 for 28x28, 3 or 4 for 64x64).
    #[arg(long)]
    depth: Option<usize>,
    /// Generator channels before its last layer (doubled per stage towards the input).
    #[arg(long)]
    g_width: Option<usize>,
    /// Discriminator channels after its first layer (doubled per stage).
    #[arg(long)]
    d_width: Option<usize>,
    /// No batch normalisation in the generator.
    #[arg(long)]
    no_batchnorm: bool,
    /// Spectral normalisation in the discriminator.
    #[arg(long)]
    spectral_norm: bool,
    /// ns (non-saturating, default), minimax (the original objective) or hinge.
    #[arg(long)]
    loss: Option<String>,
    /// adam (beta1 0.5) or sgd.
    #[arg(long)]
    optimizer: Option<String>,
    /// Learning rate of both networks (see --lr-g, --lr-d).
    #[arg(long, allow_hyphen_values = true)]
    lr: Option<f64>,
    /// Generator learning rate.
    #[arg(long, allow_hyphen_values = true)]
    lr_g: Option<f64>,
    /// Discriminator learning rate.
    #[arg(long, allow_hyphen_values = true)]
    lr_d: Option<f64>,
    /// One-sided label smoothing (real target 1 - this), e.g. 0.1.
    #[arg(long, allow_hyphen_values = true)]
    label_smoothing: Option<f64>,
    /// Decay of the generator's moving average used for sampling; 0 turns it off.
    #[arg(long, allow_hyphen_values = true)]
    ema: Option<f64>,
    /// R1 penalty weight gamma on real images (e.g. 1 to 10); 0 turns it off.
    #[arg(long, allow_hyphen_values = true)]
    r1: Option<f64>,
    /// Images per step.
    #[arg(long)]
    batch: Option<usize>,
    /// Passes over the data.
    #[arg(long)]
    epochs: Option<u64>,
    /// Steps between checkpoints.
    #[arg(long)]
    checkpoint_every: Option<u64>,
    /// Seed.
    #[arg(long)]
    seed: Option<u64>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Args, Debug)]
struct TrainVaeArgs {
    /// A TOML file with any of the training settings; flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// An IDX image file (labels from its labels-idx1 sibling) or an image folder.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Condition on class labels.
    #[arg(long)]
    conditional: bool,
    /// Latent dimensions.
    #[arg(long)]
    latent: Option<usize>,
    /// Channels of the first convolution (doubled per level).
    #[arg(long)]
    width: Option<usize>,
    /// Strided convolutions in the encoder.
    #[arg(long)]
    depth: Option<usize>,
    /// bernoulli or gaussian.
    #[arg(long)]
    likelihood: Option<String>,
    /// Images per step.
    #[arg(long)]
    batch: Option<usize>,
    /// Passes over the data.
    #[arg(long)]
    epochs: Option<u64>,
    /// Adam learning rate.
    #[arg(long, allow_hyphen_values = true)]
    lr: Option<f64>,
    /// Weight of the KL term.
    #[arg(long, allow_hyphen_values = true)]
    beta: Option<f64>,
    /// Steps of linear KL warm-up.
    #[arg(long)]
    kl_warmup: Option<u64>,
    /// Seed.
    #[arg(long)]
    seed: Option<u64>,
    #[command(flatten)]
    run: RunArgs,
}

/// Where a training run lives and how it reports; shared by every `train` subcommand.
#[derive(Args, Debug)]
struct RunArgs {
    /// The run folder: config, metrics.jsonl, plot.png, checkpoints, best and final model.
    #[arg(long)]
    out: PathBuf,
    /// Continue from the run folder's last checkpoint (harmless if it has none).
    #[arg(long)]
    resume: bool,
    /// Print nothing while training.
    #[arg(long)]
    quiet: bool,
}

#[derive(Args, Debug)]
struct TrainRestoreArgs {
    /// A TOML file with any of the training settings; flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The task: denoise, inpaint or deblur.
    #[arg(long)]
    task: Option<String>,
    /// Folder of clean training images (or an IDX image file).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Network family: encdec (U-Net with skips) or dncnn.
    #[arg(long)]
    arch: Option<String>,
    /// Feature channels at full resolution.
    #[arg(long)]
    width: Option<usize>,
    /// encdec: number of halvings; dncnn: number of layers.
    #[arg(long)]
    depth: Option<usize>,
    /// encdec: turn the U-Net skip connections off.
    #[arg(long)]
    no_skips: bool,
    /// Training noise sigma (0-255): a number, or a range like 0-50 for a blind model.
    #[arg(long, allow_hyphen_values = true)]
    sigma: Option<String>,
    /// Patch side in pixels.
    #[arg(long)]
    patch: Option<usize>,
    /// Patches per step.
    #[arg(long)]
    batch: Option<usize>,
    /// Total steps.
    #[arg(long)]
    steps: Option<u64>,
    /// Steps per epoch (validation, plot, best model).
    #[arg(long)]
    epoch_steps: Option<u64>,
    /// adam or sgd.
    #[arg(long)]
    optimizer: Option<String>,
    /// Peak learning rate.
    #[arg(long, allow_hyphen_values = true)]
    lr: Option<f64>,
    /// cosine, step or constant.
    #[arg(long)]
    schedule: Option<String>,
    /// Steps between checkpoints.
    #[arg(long)]
    checkpoint_every: Option<u64>,
    /// Seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Start from this model's weights (shipped name or .safetensors path), e.g. to
    /// fine-tune or to train a finished run further on a new schedule.
    #[arg(long)]
    init: Option<String>,
    /// Deblur: train a non-blind model, which is given the blur kernel at use
    /// (`regen restore --task deblur --blur-sigma S`).
    #[arg(long)]
    non_blind: bool,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand, Debug)]
enum EvalCommand {
    /// PSNR, SSIM and time of the damaged input, classical baselines and the model.
    Restore(EvalRestoreArgs),
    /// Test-set ELBO and importance-weighted bound of a VAE, in nats per image.
    Vae(EvalVaeArgs),
    /// Frechet distance, KID and precision/recall of generated images against real ones.
    Generate(EvalGenerateArgs),
    /// Classifier accuracy from a small labelled subset, with and without conditional GAN
    /// and VAE samples (trained on that subset only) added.
    Augment(EvalAugmentArgs),
}

#[derive(Args, Debug)]
struct EvalAugmentArgs {
    /// Labelled training images (IDX with labels, or class subfolders).
    #[arg(long)]
    data: PathBuf,
    /// Labelled test images.
    #[arg(long)]
    test: PathBuf,
    /// Real images per class in the small set.
    #[arg(long, default_value_t = 100)]
    per_class: usize,
    /// Generated images per class added.
    #[arg(long, default_value_t = 500)]
    generated: usize,
    /// Number of seeds (0, 1, ...), each with its own subset and models.
    #[arg(long, default_value_t = 3)]
    seeds: u64,
    /// Classifier steps (batches of 128), the same for every variant.
    #[arg(long, default_value_t = 2000)]
    steps: usize,
    /// Epochs of conditional-GAN training over the subset.
    #[arg(long, default_value_t = 200)]
    gan_epochs: u64,
    /// Epochs of conditional-VAE training over the subset.
    #[arg(long, default_value_t = 200)]
    vae_epochs: u64,
    /// Keep the generators' run folders here (default: a temporary folder, removed).
    #[arg(long)]
    work: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct EvalGenerateArgs {
    /// Real labelled images (IDX with labels, or a class-per-subfolder image folder); the
    /// feature classifier is trained on them (and cached).
    #[arg(long)]
    data: PathBuf,
    /// Generated images: a folder of PNGs or an IDX file.
    #[arg(long)]
    samples: PathBuf,
    /// Images compared from each side (the same for every model compared).
    #[arg(short, default_value_t = 10_000)]
    n: usize,
    /// Seed of the classifier and of KID's subsets.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct EvalVaeArgs {
    /// A shipped VAE (`vae-fashion`, `cvae-mnist`) or a VAE `.safetensors` checkpoint.
    #[arg(long)]
    model: String,
    /// Test images: an IDX file (labels from its sibling) or an image folder.
    #[arg(long)]
    data: PathBuf,
    /// Samples per image for the importance-weighted bound.
    #[arg(long, default_value_t = 100)]
    k: usize,
    /// Labelled training images: fit a linear probe (logistic regression) on their latent
    /// means and report its accuracy on --data.
    #[arg(long)]
    probe_train: Option<PathBuf>,
    /// Seed of the latent samples.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct EvalRestoreArgs {
    /// A shipped model name or a `.safetensors` checkpoint (default: the shipped denoiser).
    #[arg(long)]
    model: Option<String>,
    /// Folder of clean test images.
    #[arg(long)]
    data: PathBuf,
    /// denoise, inpaint or deblur: which damage, baselines and default model.
    #[arg(long, default_value = "denoise")]
    task: String,
    /// Noise sigma on the 0-255 scale (denoise: required; deblur: after the blur, default 2).
    #[arg(long, allow_hyphen_values = true)]
    sigma: Option<String>,
    /// Inpaint: fraction of pixels missing (free-form strokes), a range like 0.10-0.25.
    #[arg(long, default_value = "0.10-0.25")]
    coverage: String,
    /// Deblur: gaussian or motion.
    #[arg(long, default_value = "gaussian")]
    blur: String,
    /// Deblur: Gaussian blur sigma in pixels.
    #[arg(long, default_value_t = 1.6, allow_hyphen_values = true)]
    blur_sigma: f32,
    /// Deblur: motion length in pixels.
    #[arg(long, default_value_t = 9.0, allow_hyphen_values = true)]
    length: f32,
    /// Deblur: motion direction in degrees.
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
    angle: f32,
    /// Seed of the noise; image i uses seed + i, as `regen corrupt` does.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Run the model with the 8-fold flip/rotation ensemble (as `restore --ensemble`).
    #[arg(long)]
    ensemble: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    if let Some(n) = cli.threads {
        regen::device::set_threads(n);
    }
    let result = match cli.command {
        Command::Restore(a) => commands::restore(a),
        Command::Corrupt(a) => commands::corrupt(a),
        Command::Generate(a) => commands::generate(a),
        Command::Reconstruct(a) => commands::reconstruct(a),
        Command::Interpolate(a) => commands::interpolate(a),
        Command::Encode(a) => commands::encode(a),
        Command::Train(t) => match *t {
            TrainCommand::Restore(a) => commands::train_restore(a),
            TrainCommand::Vae(a) => commands::train_vae(a),
            TrainCommand::Gan(a) => commands::train_gan(a),
        },
        Command::Eval(EvalCommand::Restore(a)) => commands::eval_restore(a),
        Command::Eval(EvalCommand::Vae(a)) => commands::eval_vae(a),
        Command::Eval(EvalCommand::Generate(a)) => commands::eval_generate(a),
        Command::Eval(EvalCommand::Augment(a)) => commands::eval_augment(a),
    };
    if let Some(report) = regen::engine::backend::profile_report() {
        eprint!("{report}");
    }
    match result {
        Ok(code) => code,
        Err(e) => {
            // A closed pipe (e.g. `| head`) is not an error worth a message.
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {e}");
            // regen's own errors are about the user's input: exit code 2.
            let user = e.downcast_ref::<regen::Error>().is_some();
            ExitCode::from(if user { 2 } else { 1 })
        }
    }
}
