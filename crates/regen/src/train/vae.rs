//! Training a VAE on an image set: minibatch Adam on the negative ELBO, with an optional
//! linear KL warm-up, validation ELBO each epoch, a sample grid from fixed latent codes and
//! a reconstruction grid.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::checkpoint::{self, ModelCard};
use crate::data::{Dataset, Image, grid, images_to_tensor, one_hot, split, tensor_to_images};
use crate::error::{Error, Result};
use crate::models::{Vae, VaeConfig, vae_loss};
use crate::rng::Rng;
use crate::train::progress::Progress;
use crate::train::run::{self, EpochOrder, OptimizerKind, RunDir, TrainState};

/// Everything that defines a VAE training run (`config.toml` in the run folder).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VaeTrainConfig {
    /// An IDX image file (labels from its `labels-idx1` sibling) or an image folder.
    pub data: PathBuf,
    /// The network; `channels` and `size` are taken from the data.
    #[serde(default = "VaeConfig::new")]
    pub model: VaeConfig,
    /// Condition on class labels (the data must be labelled).
    pub conditional: bool,
    /// Images per step.
    pub batch: usize,
    /// Passes over the training images.
    pub epochs: u64,
    /// Adam learning rate.
    pub lr: f64,
    /// Weight of the KL term.
    pub beta: f64,
    /// Steps over which the KL weight rises linearly from 0 to `beta` (0: no warm-up).
    pub kl_warmup: u64,
    /// Images held out for validation (seeded choice).
    pub val_images: usize,
    /// Steps between checkpoints.
    pub checkpoint_every: u64,
    /// Checkpoints kept.
    pub keep: usize,
    /// Seed for initialisation, split, shuffling and sampling.
    pub seed: u64,
}

impl Default for VaeTrainConfig {
    fn default() -> Self {
        VaeTrainConfig {
            data: PathBuf::new(),
            model: VaeConfig::new(),
            conditional: false,
            batch: 128,
            epochs: 5,
            lr: 1e-3,
            beta: 1.0,
            kl_warmup: 0,
            val_images: 1000,
            checkpoint_every: 500,
            keep: 3,
            seed: 0,
        }
    }
}

/// A batch as tensors: images `[b, c, h, w]` and one-hot labels `[b, k]` if conditional.
fn batch_tensors(
    data: &Dataset,
    idx: &[usize],
    classes: usize,
    device: &Device,
) -> (Tensor<4>, Option<Tensor<2>>) {
    let imgs: Vec<&Image> = idx.iter().map(|&i| &data.images[i]).collect();
    let x = images_to_tensor(&imgs, device);
    let y = (classes > 0).then(|| {
        let labels = data.labels.as_ref().expect("conditional data is labelled");
        let batch: Vec<usize> = idx.iter().map(|&i| labels[i]).collect();
        one_hot(&batch, classes, device)
    });
    (x, y)
}

/// Mean negative ELBO terms (reconstruction, KL) in nats per image over `idx`, one z
/// sample per image.
pub fn nelbo(vae: &Vae, cfg: &VaeConfig, data: &Dataset, idx: &[usize]) -> (f64, f64) {
    let device = crate::device::device();
    let (mut r, mut k) = (0.0, 0.0);
    for chunk in idx.chunks(500) {
        let (x, y) = batch_tensors(data, chunk, vae.classes(), &device);
        let out = vae.forward(x.clone(), y);
        let (rr, kk) = vae_loss(&out, x, cfg.likelihood, cfg.gaussian_sigma);
        r += rr.into_scalar::<f32>() as f64 * chunk.len() as f64;
        k += kk.into_scalar::<f32>() as f64 * chunk.len() as f64;
    }
    (r / idx.len() as f64, k / idx.len() as f64)
}

impl VaeTrainConfig {
    /// Checks the values that do not depend on the data, before any work starts.
    pub fn validate(&self) -> Result<()> {
        if self.batch == 0 || self.epochs == 0 || self.checkpoint_every == 0 || self.keep == 0 {
            return Err(Error::arg(
                "batch, epochs, checkpoint_every and keep must be positive",
            ));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(Error::arg(format!(
                "--lr {}: must be a positive number",
                self.lr
            )));
        }
        if !(self.beta.is_finite() && self.beta >= 0.0) {
            return Err(Error::arg(format!(
                "--beta {}: must be a number of at least 0",
                self.beta
            )));
        }
        Ok(())
    }
}

/// Trains (or resumes) a VAE into `out`.
pub fn train_vae(cfg: &VaeTrainConfig, out: &Path, resume: bool, quiet: bool) -> Result<PathBuf> {
    cfg.validate()?;
    let data = Dataset::load_for_generation(&cfg.data, "VAE", cfg.conditional)?;
    train_vae_on(cfg, &data, out, resume, quiet)
}

/// Trains (or resumes) a VAE on images already in memory; `cfg.data` is only recorded.
pub fn train_vae_on(
    cfg: &VaeTrainConfig,
    data: &Dataset,
    out: &Path,
    resume: bool,
    quiet: bool,
) -> Result<PathBuf> {
    cfg.validate()?;
    data.check_for_generation(&cfg.data, "VAE", cfg.conditional)?;
    let first = &data.images[0];
    let mut cfg = cfg.clone();
    cfg.model.channels = first.channels;
    cfg.model.size = first.height;
    cfg.model.classes = if cfg.conditional { data.classes } else { 0 };
    cfg.model.validate()?;
    crate::dist::check_batch(cfg.batch)?;
    let mut run = RunDir::open(out, resume)?;
    run.write(
        "config.toml",
        &toml::to_string(&cfg).expect("config serialises"),
    )?;
    let (train_idx, val_idx) = split(
        data.len(),
        cfg.val_images.min(data.len() / 2).max(1),
        cfg.seed,
    );

    let device = crate::device::train_device();
    device.seed(cfg.seed);
    let mut vae = cfg.model.init(&device);
    run::materialise(&vae);
    let optim = run::optimizer(OptimizerKind::Adam, 0.0);
    let (optim, state) = if resume {
        run.load_latest(&mut vae, optim)?
    } else {
        (optim, None)
    };
    let (mut optim, state) = run.share(&mut vae, optim, state)?;
    let (mut step, mut rng, mut best) = match state {
        Some(s) => (s.step, s.rng, s.best),
        None => (0, Rng::new(cfg.seed ^ 0x5EED), None),
    };
    run.truncate_metrics(step)?;
    let spe = train_idx.len().div_ceil(cfg.batch) as u64;
    let total = spe * cfg.epochs;
    let mut progress = Progress::new(step, total, quiet || !crate::dist::is_root());
    if let Some(line) = crate::dist::describe(cfg.batch) {
        progress.note(&line);
    }
    progress.note(&match (resume, step) {
        (true, s) if s > 0 => format!("resumed at step {s} from {}", out.display()),
        _ => format!(
            "training vae on {} images ({} held out), {} parameters",
            train_idx.len(),
            val_idx.len(),
            vae.num_params()
        ),
    });
    let card = |step: u64| ModelCard::new(crate::models::Descriptor::vae(cfg.model.clone()), step);
    // Fixed latent codes for the sample grid, so epochs can be compared by eye.
    let mut zr = Rng::new(cfg.seed ^ 0x6A1D);
    let z_fixed = zr.normals(64 * cfg.model.latent);
    let mut epochs = EpochOrder::new(train_idx.clone(), cfg.seed);
    let t0 = Instant::now();
    while step < total {
        let epoch = step / spe;
        let order = epochs.of(epoch);
        let pos = (step % spe) as usize * cfg.batch;
        let batch = &order[pos..(pos + cfg.batch).min(order.len())];
        // This rank's share of the step's batch (the last of an epoch may be short); the
        // noise for the whole batch is drawn on every rank, and each keeps its rows.
        let mine = crate::dist::shard(batch.len());
        let idx = &batch[mine.clone()];
        let w = if cfg.kl_warmup > 0 {
            cfg.beta * ((step + 1) as f64 / cfg.kl_warmup as f64).min(1.0)
        } else {
            cfg.beta
        };
        // A rank whose share of an epoch's short last batch is empty still draws the noise
        // and joins the all-reduce, with nothing to add.
        let (grads, mut sums) = if idx.is_empty() {
            let _ = rng.normals(batch.len() * cfg.model.latent);
            (GradientsParams::new(), [0.0f32; 3])
        } else {
            let (x, y) = batch_tensors(data, idx, cfg.model.classes, &device);
            let o = vae.forward_with(x.clone(), y, |mu| {
                let l = mu.dims()[1];
                let eps = rng.normals(batch.len() * l);
                let eps = eps[mine.start * l..mine.end * l].to_vec();
                Tensor::from_data(TensorData::new(eps, [mine.len(), l]), &device)
            });
            let (mut rec, mut kl) = vae_loss(&o, x, cfg.model.likelihood, cfg.model.gaussian_sigma);
            if let Some(share) = crate::dist::loss_weight(mine.len(), batch.len()) {
                (rec, kl) = (rec * share, kl * share);
            }
            let loss = rec.clone() + kl.clone() * w;
            let sums = [
                loss.clone().into_scalar::<f32>(),
                rec.into_scalar::<f32>(),
                kl.into_scalar::<f32>(),
            ];
            (GradientsParams::from_grads(loss.backward(), &vae), sums)
        };
        // One all-reduce: the gradients and the loss terms summed over the ranks.
        let grads = crate::dist::all_reduce_grads(grads, &vae, &mut sums, &crate::device::device());
        let [lv, rv, kv] = sums;
        if !lv.is_finite() {
            return Err(run.diverged(&format!("loss is {lv}"), step + 1, "lower --lr"));
        }
        vae = optim.step(cfg.lr, vae, grads);
        step += 1;
        crate::dist::check_in_step(&vae, step)?;
        let epoch_end = step % spe == 0;
        if step % 50 == 0 || epoch_end {
            let (rv, kv) = (rv as f64, kv as f64);
            run.log(json!({"step": step, "loss": rv + kv, "recon": rv, "kl": kv, "kl_weight": w, "s_per_step": progress.secs_per_step(step), "elapsed_s": t0.elapsed().as_secs_f64()}))?;
            progress.update(
                step,
                &format!("-elbo {:.1} (recon {rv:.1} + kl {kv:.1})", rv + kv),
                false,
            );
        }
        // Rank 0 alone validates and draws the grids.
        if epoch_end && crate::dist::is_root() {
            let net = vae.valid();
            let (vr, vk) = nelbo(&net, &cfg.model, data, &val_idx);
            run.log(json!({"step": step, "epoch": step / spe, "val_nelbo": vr + vk, "val_recon": vr, "val_kl": vk}))?;
            if best.is_none_or(|(b, _)| -(vr + vk) > b) {
                best = Some((-(vr + vk), step));
                checkpoint::save(&out.join("best.safetensors"), &net, &card(step))?;
            }
            save_grids(&net, &cfg, data, &val_idx, &z_fixed, out)?;
            run.save_plot(&[
                ("TRAINING -ELBO (NATS)", "loss", false),
                ("VALIDATION -ELBO (NATS)", "val_nelbo", false),
            ])?;
            progress.update(step, &format!("validation -elbo {:.2} nats", vr + vk), true);
        }
        if step % cfg.checkpoint_every == 0 || step == total {
            let st = TrainState::new(step, rng.clone(), best);
            run.save_checkpoint(&vae, &vae.valid(), &optim, &card(step), &st, cfg.keep)?;
        }
    }
    let path = out.join("model.safetensors");
    if crate::dist::is_root() {
        checkpoint::save(&path, &vae.valid(), &card(step))?;
    }
    Ok(path)
}

fn save_grids(
    vae: &Vae,
    cfg: &VaeTrainConfig,
    data: &Dataset,
    val: &[usize],
    z: &[f32],
    out: &Path,
) -> Result<()> {
    let device = crate::device::device();
    let k = cfg.model.classes;
    let labels = (k > 0).then(|| {
        let oh: Vec<f32> = (0..64)
            .flat_map(|i| (0..k).map(move |c| if c == (i / 8) % k { 1.0 } else { 0.0 }))
            .collect();
        Tensor::<2>::from_data(TensorData::new(oh, [64, k]), &device)
    });
    let zt = Tensor::<2>::from_data(TensorData::new(z.to_vec(), [64, cfg.model.latent]), &device);
    let samples = tensor_to_images(sigmoid(vae.decode(zt, labels)));
    grid(&samples, 8).save(&out.join("samples.png"))?;
    let idx = &val[..val.len().min(32)];
    let (x, y) = batch_tensors(data, idx, k, &device);
    let (mu, _) = vae.encode(x, y.clone());
    let rec = tensor_to_images(sigmoid(vae.decode(mu, y)));
    let pairs: Vec<Image> = idx
        .iter()
        .zip(rec)
        .flat_map(|(&i, r)| [data.images[i].clone(), r])
        .collect();
    grid(&pairs, 8).save(&out.join("reconstructions.png"))
}
