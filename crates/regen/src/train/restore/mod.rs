//! Training a restoration network on (corrupted, clean) patch pairs.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Tensor, TensorData};
use serde::Serialize;
use serde_json::json;

use crate::checkpoint::{self, ModelCard};
use crate::corrupt::Corruption;
use crate::data::{Image, PatchSampler, load_images, split};
use crate::error::{Error, Result};
use crate::metrics::{psnr, ssim_image};
use crate::models::{Arch, Descriptor, Family, RestoreArch, RestoreConfig, RestoreNet};
use crate::planes::{self, Condition, Plane};
use crate::restore::Restorer;
use crate::rng::Rng;
use crate::train::progress::{Progress, fmt_duration};
use crate::train::run::{self, RunDir, TrainState, learning_rate};

mod config;

pub use config::{Loss, RestoreTrainConfig};

/// What a finished (or stopped) run reports.
#[derive(Clone, Debug, Serialize)]
pub struct TrainSummary {
    /// Step reached.
    pub step: u64,
    /// Step training resumed from, if it did.
    pub resumed_from: Option<u64>,
    /// Best validation PSNR (dB) and its step.
    pub best: Option<(f64, u64)>,
    /// The final model file.
    pub model: PathBuf,
}

/// Trains (or resumes) a restoration model into `out`.
pub fn train_restore(
    cfg: &RestoreTrainConfig,
    out: &Path,
    resume: bool,
    quiet: bool,
) -> Result<TrainSummary> {
    let mut cfg = cfg.clone();
    // A published network (FFDNet, ESRGAN, ...) named by --init is fine-tuned as its file
    // has it: its channels and noise level map decide the run's.
    let published = match &cfg.init {
        Some(spec) => published_init(spec)?,
        None => None,
    };
    // A Compact may start a deeper one of the same width: the old convolutions count.
    let mut lengthen: Option<usize> = None;
    if let Some((_, card, _)) = &published {
        let d = &card.descriptor;
        let arch = d.restore_arch().expect("a restorer's network (checked)");
        // Options that can describe the network (a Compact) take its shape whole, so the
        // checks and the patch sizes below are the file's, except a deeper chain asked for.
        if let Some(mut opts) = RestoreConfig::from_arch(arch, d.takes_sigma()) {
            if opts.arch == Arch::Compact
                && cfg.model.arch == Arch::Compact
                && cfg.model.width == opts.width
                && cfg.model.depth > opts.depth
            {
                lengthen = Some(opts.depth);
                opts.depth = cfg.model.depth;
            }
            cfg.model = opts;
        }
        cfg.model.out_channels = d.out_channels;
        cfg.model.noise_map = Some(d.takes_sigma());
        cfg.model.scale = (arch.scale() > 1).then_some(arch.scale());
        if let Corruption::Downscale { scale, .. } = &mut cfg.corruption {
            *scale = arch.scale();
        }
    }
    // Inpainting networks see the pre-filled image and the mask; non-blind deblurring ones
    // the blurred image and its Wiener estimate; denoisers may see a noise level map too.
    let channels = cfg.model.image_channels();
    cfg.model.in_channels = cfg.input_planes().len();
    let cfg = &cfg;
    cfg.validate()?;
    let descriptor = match &published {
        // A lengthened Compact is a new network of regen's (checked as the file's below).
        Some(_) if lengthen.is_some() => cfg.descriptor()?,
        Some((path, card, _)) => {
            let d = card.descriptor.clone();
            if d.task != Some(cfg.task) || d.inputs != cfg.input_planes() {
                return Err(Error::checkpoint(
                    path,
                    format!(
                        "--init: a {} model taking {:?} cannot be trained for --task {} on {:?}",
                        d.task.unwrap_or_default(),
                        d.inputs,
                        cfg.task,
                        cfg.input_planes()
                    ),
                ));
            }
            d
        }
        None => cfg.descriptor()?,
    };
    crate::dist::check_batch(cfg.batch)?;
    let mut run = RunDir::open(out, resume)?;
    // Upscalers learn from clean patches `scale` times the input patch.
    let scale = cfg.model.upscale_factor();
    let hp = cfg.patch * scale;
    let all = load_images(&cfg.data, channels)?;
    let all: Vec<Image> = all
        .into_iter()
        .filter(|i| i.height >= hp && i.width >= hp)
        .collect();
    if all.len() < 2 {
        return Err(Error::bad_file(
            &cfg.data,
            format!("needs at least 2 images of at least {hp}x{hp} pixels"),
        ));
    }
    let (train_idx, val_idx) = split(
        all.len(),
        cfg.val_images.min(all.len() / 2).max(1),
        cfg.seed,
    );
    let val: Vec<Image> = val_idx.iter().map(|&i| all[i].clone()).collect();
    let sampler = PatchSampler::new(train_idx.iter().map(|&i| all[i].clone()).collect(), hp);
    run.write("config.toml", &cfg.to_toml())?;

    let device = crate::device::train_device();
    device.seed(cfg.seed);
    let mut model: RestoreNet = match descriptor.restore_arch() {
        Some(arch) if published.is_some() && lengthen.is_none() => arch.init(&device),
        _ => cfg.model.init(&device),
    };
    run::materialise(&model);
    let (optim, state) = if resume {
        run.load_latest(&mut model, run::optimizer(cfg.optimizer, cfg.momentum))?
    } else {
        (run::optimizer(cfg.optimizer, cfg.momentum), None)
    };
    match (&cfg.init, &state, published) {
        (_, Some(_), _) | (None, None, _) => {}
        (Some(_), None, Some((path, card, bytes))) => {
            let bytes = match lengthen {
                Some(old) => {
                    let d = &card.descriptor;
                    if d.task != Some(cfg.task) || d.inputs != cfg.input_planes() {
                        return Err(Error::checkpoint(
                            &path,
                            "--init: a model of another task or inputs cannot start a deeper one",
                        ));
                    }
                    let fresh = checkpoint::to_bytes(&model, &card)?;
                    checkpoint::lengthen_chain(&bytes, &fresh, old)
                        .map_err(|why| Error::checkpoint(&path, format!("--init: {why}")))?
                }
                None => bytes,
            };
            checkpoint::load_weights(&path, bytes, &mut model)?;
        }
        (Some(spec), None, None) => {
            model = init_from(spec, &cfg.model, &cfg.input_planes(), model)?;
        }
    }
    let (mut optim, state) = run.share(&mut model, optim, state)?;
    let (mut step, mut rng, mut best) = match state {
        Some(s) => (s.step, s.rng, s.best),
        None => (0, Rng::new(cfg.seed ^ 0x5EED), None),
    };
    let resumed_from = (resume && step > 0).then_some(step);
    run.truncate_metrics(step)?;
    let mut progress = Progress::new(step, cfg.steps, quiet || !crate::dist::is_root());
    if let Some(line) = crate::dist::describe(cfg.batch) {
        progress.note(&line);
    }
    progress.note(&match resumed_from {
        Some(s) => format!("resumed at step {s} from {}", out.display()),
        None if resume => format!("no checkpoint in {}; starting at step 0", out.display()),
        None => format!(
            "training {} on {} images ({} held out), {} parameters",
            cfg.task,
            sampler.len(),
            val.len(),
            model.num_params()
        ),
    });

    let card = |step: u64, notes: serde_json::Value| ModelCard {
        notes,
        ..ModelCard::new(descriptor.clone(), step)
    };
    let notes = |val_psnr: Option<f64>| json!({"corruption": cfg.corruption, "data": cfg.data, "val_sigma": cfg.val_sigma, "val_psnr": val_psnr, "loss": cfg.loss()});
    let (p, cin) = (cfg.patch, cfg.model.in_channels);
    let mine = crate::dist::shard(cfg.batch);
    let b = mine.len();
    let ch = channels;
    let val_corruption = cfg.val_corruption();
    let (mut loss_sum, mut loss_n, mut last_val) = (0.0f64, 0u64, None::<f64>);
    let t_log = Instant::now();
    while step < cfg.steps {
        let (input, clean, masks) = make_batch(cfg, &sampler, &mut rng, mine.clone());
        let x = Tensor::<4>::from_data(TensorData::new(input, [b, cin, p, p]), &device);
        let y = Tensor::<4>::from_data(TensorData::new(clean, [b, ch, hp, hp]), &device);
        let m = (!masks.is_empty())
            .then(|| Tensor::<4>::from_data(TensorData::new(masks, [b, 1, p, p]), &device));
        let mut loss = batch_loss(&model, x, y, m, cfg.loss());
        if let Some(w) = crate::dist::loss_weight(b, cfg.batch) {
            loss = loss * w;
        }
        let mut loss_v = [loss.clone().into_scalar::<f32>()];
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        // One all-reduce: the gradients and the loss summed over the ranks.
        let grads =
            crate::dist::all_reduce_grads(grads, &model, &mut loss_v, &crate::device::device());
        let loss_v = loss_v[0];
        if !loss_v.is_finite() {
            return Err(run.diverged(&format!("loss is {loss_v}"), step + 1, "lower --lr"));
        }
        let lr = learning_rate(
            cfg.schedule,
            cfg.lr,
            cfg.lr_min,
            cfg.warmup,
            step,
            cfg.steps,
        );
        model = optim.step(lr, model, grads);
        step += 1;
        crate::dist::check_in_step(&model, step)?;
        loss_sum += loss_v as f64;
        loss_n += 1;

        let epoch_end = step % cfg.epoch_steps == 0 || step == cfg.steps;
        if step % 50 == 0 || epoch_end {
            let loss_avg = loss_sum / loss_n as f64;
            run.log(json!({"step": step, "loss": loss_avg, "lr": lr, "s_per_step": progress.secs_per_step(step), "elapsed_s": t_log.elapsed().as_secs_f64()}))?;
            (loss_sum, loss_n) = (0.0, 0);
            let val_txt = last_val
                .map(|v| format!(", val {v:.2} dB"))
                .unwrap_or_default();
            progress.update(step, &format!("loss {loss_avg:.3e}{val_txt}"), false);
        }
        // Rank 0 alone validates (the others' `best` is never written).
        if epoch_end && crate::dist::is_root() {
            let net = model.valid();
            let (vp, vs) = validate(&net, &descriptor, &val, &val_corruption, cfg.seed);
            last_val = Some(vp);
            run.log(json!({"step": step, "epoch": step / cfg.epoch_steps, "val_psnr": vp, "val_ssim": vs}))?;
            if best.is_none_or(|(bp, _)| vp > bp) {
                best = Some((vp, step));
                checkpoint::save(
                    &out.join("best.safetensors"),
                    &net,
                    &card(step, notes(Some(vp))),
                )?;
            }
            let loss_title = format!("TRAINING LOSS ({})", cfg.loss().to_string().to_uppercase());
            run.save_plot(&[
                (loss_title.as_str(), "loss", true),
                ("VALIDATION PSNR (DB)", "val_psnr", false),
            ])?;
            progress.update(
                step,
                &format!("val {vp:.2} dB (best {:.2})", best.map_or(vp, |b| b.0)),
                true,
            );
        }
        if step % cfg.checkpoint_every == 0 || step == cfg.steps {
            let state = TrainState::new(step, rng.clone(), best);
            run.save_checkpoint(
                &model,
                &model.valid(),
                &optim,
                &card(step, notes(last_val)),
                &state,
                cfg.keep,
            )?;
        }
    }
    let model_path = out.join("model.safetensors");
    if crate::dist::is_root() {
        checkpoint::save(&model_path, &model.valid(), &card(step, notes(last_val)))?;
    }
    progress.note(&format!(
        "done: step {step}, {} this session, best validation {} ; model in {}",
        fmt_duration(t_log.elapsed().as_secs_f64()),
        best.map(|(v, s)| format!("{v:.2} dB at step {s}"))
            .unwrap_or("-".into()),
        model_path.display()
    ));
    Ok(TrainSummary {
        step,
        resumed_from,
        best,
        model: model_path,
    })
}

/// The training loss of a batch: `loss` of what the user gets against the clean patch. For
/// inpainting that is the network's output on the holes and the input's known pixels
/// elsewhere, as at inference, so no capacity is spent on pixels that are copied anyway.
///
/// `x`: `[b, in, p, p]`, `y`: `[b, c, s p, s p]`, `mask` (1 = missing): `[b, 1, p, p]` ->
/// `[1]`.
fn batch_loss(
    model: &RestoreNet,
    x: Tensor<4>,
    y: Tensor<4>,
    mask: Option<Tensor<4>>,
    loss: Loss,
) -> Tensor<1> {
    let mut pred = model.forward(x.clone()); // [b, c, s p, s p]
    if let Some(m) = mask {
        let [b, c, h, w] = pred.dims();
        let m = m.repeat_dim(1, c); // [b, c, p, p]
        pred = pred * m.clone() + x.slice([0..b, 0..c, 0..h, 0..w]) * (m.neg() + 1.0);
    }
    let d = pred - y;
    match loss {
        Loss::L2 => d.square().mean(),
        Loss::L1 => d.abs().mean(),
        Loss::Charbonnier => (d.square() + 1e-6).sqrt().mean(),
    }
}

/// The model `spec` names when its network is trained whole as its file has it (FFDNet,
/// DRUNet, ESRGAN, Compact, FDnCNN, SPAN: a published model, or a regen upscaler to train
/// further): its path, card and checkpoint bytes. `None` for the U-Net and DnCNN, which
/// [`init_from`] may also widen, deepen or colour.
fn published_init(spec: &str) -> Result<Option<(PathBuf, ModelCard, Vec<u8>)>> {
    let (path, bytes) = crate::shipped::resolve(spec)?;
    let card = checkpoint::read_card(&path, &bytes)?;
    checkpoint::check_card(&path, &card, Family::Restore)?;
    let d = &card.descriptor;
    let arch = d.restore_arch().expect("a restorer's network (checked)");
    let grown = matches!(arch, RestoreArch::EncDec(_) | RestoreArch::DnCnn(_));
    Ok((!grown).then_some((path, card, bytes)))
}

/// Loads the weights of `spec` into `model`, refusing a model of another family or network
/// config (its tensors would not fit, or would mean something else). The planes at the two
/// ends may differ: a network with fewer input planes (a denoiser to start an inpainter
/// from), without a noise level map, or a gray one to start a colour one. The new input
/// planes' weights start at zero, and a gray network's image weights are shared out over
/// the three colour planes (a third each, so it sees their mean) and its output copied to
/// each of them: the new net starts out computing what the old one did on the image.
/// A U-Net may also start a deeper one (more halvings, so a wider view): the levels it
/// lacks are bridged so that, too, starts out computing what the old net did
/// ([`checkpoint::deepen`]), or one with more convolutions per block (more capacity at
/// every resolution): the new convolutions start as identities ([`checkpoint::thicken`]).
fn init_from(
    spec: &str,
    want: &RestoreConfig,
    ours: &[Plane],
    mut model: RestoreNet,
) -> Result<RestoreNet> {
    let (path, bytes) = crate::shipped::resolve(spec)?;
    let card = checkpoint::read_card(&path, &bytes)?;
    checkpoint::check_card(&path, &card, Family::Restore)?;
    let d = &card.descriptor;
    let arch = d.restore_arch().expect("a restorer's network (checked)");
    let theirs = RestoreConfig::from_arch(arch, d.takes_sigma())
        .ok_or_else(|| Error::internal("a published network is trained whole (published_init)"))?;
    let deeper = theirs.arch == Arch::EncDec
        && want.arch == Arch::EncDec
        && theirs.skips
        && want.depth > theirs.depth;
    let thicker = theirs.arch == Arch::EncDec
        && want.arch == Arch::EncDec
        && want.convs_per_block > theirs.convs_per_block;
    let body = RestoreConfig {
        in_channels: want.in_channels,
        out_channels: want.out_channels,
        noise_map: want.noise_map,
        depth: if deeper { want.depth } else { theirs.depth },
        convs_per_block: if thicker {
            want.convs_per_block
        } else {
            theirs.convs_per_block
        },
        ..theirs.clone()
    };
    let json = |c: &RestoreConfig| serde_json::to_value(c).expect("config serialises");
    let refuse = |why: String| Error::checkpoint(&path, format!("--init: {why}"));
    if json(&body) != json(want) {
        return Err(refuse(format!(
            "its network ({}) differs from this run's ({})",
            json(&theirs),
            json(want)
        )));
    }
    if deeper && thicker {
        return Err(refuse(
            "grow a network deeper and thicker in two runs, one way at a time".into(),
        ));
    }
    let (tc, wc) = (theirs.image_channels(), want.image_channels());
    if tc != wc && tc != 1 {
        return Err(refuse(format!(
            "a {tc}-channel model cannot start a {wc}-channel one"
        )));
    }
    let plan = plane_plan(&d.inputs, ours, tc, wc).map_err(refuse)?;
    let identity = theirs.in_channels == want.in_channels
        && tc == wc
        && plan.iter().enumerate().all(|(j, p)| p == &vec![(j, 1.0)]);
    let mut bytes = if identity {
        bytes
    } else {
        checkpoint::adapt_ends(&bytes, &plan, wc).map_err(refuse)?
    };
    if deeper {
        let fresh = checkpoint::to_bytes(&model, &card)?;
        bytes = checkpoint::deepen(&bytes, &fresh, theirs.depth).map_err(refuse)?;
    } else if thicker {
        let fresh = checkpoint::to_bytes(&model, &card)?;
        bytes = checkpoint::thicken(&bytes, &fresh, theirs.convs_per_block).map_err(refuse)?;
    }
    checkpoint::load_weights(&path, bytes, &mut model)?;
    Ok(model)
}

/// Where each of `ours` (the new network's input planes) takes its first-layer weights from
/// among `theirs` (the checkpoint's): an image plane from the checkpoint's plane of the same
/// channel (of a gray checkpoint, its one plane, a third each), a mask, deconvolved or noise
/// level plane from the checkpoint's own if it has one, else from nothing (zero weights). A
/// checkpoint plane besides the image's and the noise level that the new network lacks
/// (its weights would be lost) is refused.
fn plane_plan(
    theirs: &[Plane],
    ours: &[Plane],
    tc: usize,
    wc: usize,
) -> std::result::Result<checkpoint::PlanePlan, String> {
    let extra = |p: &[Plane]| {
        p.iter()
            .filter(|p| matches!(p, Plane::Mask | Plane::Deconvolved(_)))
            .count()
    };
    let scale = tc as f32 / wc as f32;
    let src = |j: usize| if tc == 1 { 0 } else { j };
    let at = |want: &dyn Fn(&Plane) -> bool| theirs.iter().position(want);
    let plan: checkpoint::PlanePlan = ours
        .iter()
        .map(|&p| {
            let found = match p {
                Plane::Image(j) | Plane::Filled(j) => {
                    at(&|q| matches!(q, Plane::Image(c) | Plane::Filled(c) if *c == src(j)))
                        .map(|i| (i, scale))
                }
                Plane::Deconvolved(j) => {
                    at(&|q| *q == Plane::Deconvolved(src(j))).map(|i| (i, scale))
                }
                Plane::Mask | Plane::NoiseLevel => at(&|q| *q == p).map(|i| (i, 1.0)),
            };
            found.into_iter().collect()
        })
        .collect();
    let used = |i: usize| plan.iter().flatten().any(|&(from, _)| from == i);
    let lost = theirs
        .iter()
        .enumerate()
        .any(|(i, p)| matches!(p, Plane::Mask | Plane::Deconvolved(_)) && !used(i));
    if lost {
        let (a, b) = (extra(theirs), extra(ours));
        return Err(format!(
            "its network has {a} input planes besides the image, this run's {b}"
        ));
    }
    Ok(plan)
}

/// A batch of damaged patches as network inputs `[b, in_channels, p, p]`, the clean patches
/// `[b, c, p, p]`, and (inpainting) the masks `[b, 1, p, p]`, empty otherwise.
fn make_batch(
    cfg: &RestoreTrainConfig,
    sampler: &PatchSampler,
    rng: &mut Rng,
    keep: std::ops::Range<usize>,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let hp = sampler.size;
    let c = sampler.channels();
    let layout = cfg.input_planes();
    let n = keep.len() * hp * hp;
    let mut input = Vec::with_capacity(n * cfg.model.in_channels);
    let (mut clean, mut masks) = (Vec::with_capacity(n * c), Vec::new());
    // Every rank draws the whole global batch's patches and damage seeds in order, so the
    // stream is one process's; it damages and keeps only its own samples (`keep`).
    for g in 0..cfg.batch {
        let data = sampler.sample(rng);
        let seed = rng.next_u64();
        if !keep.contains(&g) {
            continue;
        }
        let patch = Image {
            channels: c,
            data,
            ..Image::zeros(0, hp, hp)
        };
        let d = cfg.corruption.apply_patch(&patch, seed, cfg.mask_canvas);
        let damaged = if cfg.quantize {
            d.image.quantized_8bit()
        } else {
            d.image
        };
        let mask = d.mask.map(|m| m.data);
        let planes: Vec<&[f32]> = (0..c).map(|k| damaged.plane(k)).collect();
        let cond = Condition {
            mask: mask.as_deref(),
            kernel: d.kernel.as_ref(),
            sigma: d.sigma,
        };
        let inputs = planes::inputs(&layout, &planes, &cond, damaged.height, damaged.width);
        for plane in inputs {
            input.extend(plane);
        }
        clean.extend_from_slice(&patch.data);
        masks.extend(mask.unwrap_or_default());
    }
    (input, clean, masks)
}

/// Mean PSNR and SSIM on the validation images damaged by `corruption` (image i with seed
/// `seed + i`), inputs rounded to 8 bits as `regen corrupt` saves them. Upscalers are
/// scored as the super-resolution tables are ([`crate::metrics::psnr_y`]): images cropped
/// to a multiple of the scale, outputs rounded to 8 bits, Y-PSNR with the scale shaved.
pub fn validate(
    net: &RestoreNet,
    descriptor: &Descriptor,
    val: &[Image],
    corruption: &Corruption,
    seed: u64,
) -> (f64, f64) {
    let r = Restorer::new(net.clone(), ModelCard::new(descriptor.clone(), 0));
    let scale = descriptor.restore_arch().map_or(1, RestoreArch::scale);
    let (mut tp, mut ts) = (0.0, 0.0);
    for (i, img) in val.iter().enumerate() {
        if scale > 1 {
            let img = crate::metrics::mod_crop(img, scale);
            let c = corruption.apply(&img, seed.wrapping_add(i as u64));
            let out = r
                .restore(&c.image.quantized_8bit(), &Condition::default())
                .quantized_8bit();
            tp += crate::metrics::psnr_y(&out, &img, scale);
            ts += crate::metrics::ssim_y(&out, &img, scale);
            continue;
        }
        let c = corruption.apply(img, seed.wrapping_add(i as u64));
        let damaged = c.image.quantized_8bit();
        let mask = c.mask.map(|m| m.data);
        // A noise level map is given the true level: validation ranks the network, not
        // the estimator.
        let cond = Condition {
            mask: mask.as_deref(),
            kernel: c.kernel.as_ref(),
            sigma: c.sigma,
        };
        let out = r.restore(&damaged, &cond);
        tp += psnr(&out.data, &img.data);
        ts += ssim_image(&out, img);
    }
    (tp / val.len() as f64, ts / val.len() as f64)
}

#[cfg(test)]
mod task_tests {
    use super::*;
    use crate::corrupt::Task;
    use crate::corrupt::mask::MaskKind;
    use crate::train::run::OptimizerKind;

    fn fixture() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/train")
    }

    /// A gray denoiser small enough to train `steps` steps on the fixture in a blink.
    fn tiny_denoiser(steps: u64) -> RestoreTrainConfig {
        let mut cfg = RestoreTrainConfig {
            data: fixture(),
            patch: 32,
            batch: 2,
            steps,
            epoch_steps: steps,
            val_images: 2,
            ..RestoreTrainConfig::default()
        };
        cfg.model.width = 4;
        cfg.model.depth = 2;
        cfg
    }

    /// Inpainting and deblurring train through the same loop: the inpainting network gets
    /// the mask as a second input, and its output keeps every known pixel.
    #[test]
    fn inpaint_and_deblur_train_and_inpainting_keeps_known_pixels() {
        for task in [Task::Inpaint, Task::Deblur] {
            let dir =
                std::env::temp_dir().join(format!("regen-task-{task}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            let mut cfg = RestoreTrainConfig {
                task,
                data: fixture(),
                corruption: Corruption::train_default(task),
                patch: 32,
                batch: 4,
                steps: 6,
                epoch_steps: 3,
                val_images: 2,
                ..RestoreTrainConfig::default()
            };
            cfg.model.width = 4;
            cfg.model.depth = 2;
            let s = train_restore(&cfg, &dir, false, true).unwrap();
            let r = Restorer::load(&s.model.to_string_lossy()).unwrap();
            assert_eq!(r.task(), task);
            if task == Task::Inpaint {
                let img = Image::gray(
                    40,
                    48,
                    (0..40 * 48).map(|i| (i % 13) as f32 / 13.0).collect(),
                );
                let c = Corruption::Inpaint {
                    mask: MaskKind::CenterBox { frac: 0.4 },
                }
                .apply(&img, 0);
                let m = c.mask.unwrap().data;
                let cond = Condition {
                    mask: Some(&m),
                    ..Default::default()
                };
                let out = r.restore(&c.image, &cond);
                for ((o, d), mv) in out.data.iter().zip(&c.image.data).zip(&m) {
                    if *mv < 0.5 {
                        assert_eq!(o, d);
                    }
                }
                // An empty mask gives the input back.
                let none = vec![0.0; 40 * 48];
                let cond = Condition {
                    mask: Some(&none),
                    ..Default::default()
                };
                assert_eq!(r.restore(&img, &cond), img);
            }
            let _ = std::fs::remove_dir_all(&dir);
        }
    }

    /// A denoiser can start an inpainting net: the mask plane's weights start at zero, so
    /// the widened net computes exactly the denoiser's output whatever the mask says.
    #[test]
    fn init_from_a_net_with_fewer_input_planes_widens_its_first_convolution() {
        let dir = std::env::temp_dir().join(format!("regen-widen-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cfg = tiny_denoiser(2);
        let s = train_restore(&cfg, &dir, false, true).unwrap();
        let spec = s.model.to_string_lossy().to_string();
        let device = crate::device::device();
        let old = start_from(&spec, &cfg.model).unwrap();
        let mut want = cfg.model.clone();
        want.in_channels = 2;
        let wide = start_from(&spec, &want).unwrap();
        let mut r = Rng::new(5);
        let img: Vec<f32> = (0..2 * 16 * 16).map(|_| r.uniform() as f32).collect();
        let x1 = Tensor::<4>::from_data(
            TensorData::new(img[..256].to_vec(), [1, 1, 16, 16]),
            &device,
        );
        let x2 = Tensor::<4>::from_data(TensorData::new(img, [1, 2, 16, 16]), &device);
        let (a, b) = (outputs(&old, x1), outputs(&wide, x2));
        assert_eq!(a, b);
        // Another difference than the input planes is still refused.
        let mut other = want.clone();
        other.width = 8;
        let e = start_from(&spec, &other).unwrap_err().to_string();
        assert!(e.contains("differs from this run's"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// `init_from` for a test network: a fresh `want` started from `spec`.
    fn start_from(spec: &str, want: &RestoreConfig) -> Result<RestoreNet> {
        init_from(
            spec,
            want,
            &layout(want),
            want.init(&crate::device::device()),
        )
    }

    /// The input planes of a test network that `--init` grows: the image's, then a mask if
    /// it has one plane more (an inpainter started from a denoiser), then a noise level map.
    fn layout(c: &RestoreConfig) -> Vec<Plane> {
        planes::from_count(
            Task::Inpaint,
            c.image_channels(),
            c.in_channels,
            c.has_noise_map(),
        )
        .expect("a layout")
    }

    /// A loaded model's network, as training options.
    fn options(r: &Restorer) -> RestoreConfig {
        let arch = r.descriptor().restore_arch().expect("a restorer");
        RestoreConfig::from_arch(arch, r.takes_sigma()).unwrap()
    }

    /// Seeded uniform images `[2, 1, 32, 32]`.
    fn images(seed: u64) -> Tensor<4> {
        let mut r = Rng::new(seed);
        let img: Vec<f32> = (0..2 * 32 * 32).map(|_| r.uniform() as f32).collect();
        Tensor::<4>::from_data(
            TensorData::new(img, [2, 1, 32, 32]),
            &crate::device::device(),
        )
    }

    /// What `net` computes on `x`, flat.
    fn outputs(net: &RestoreNet, x: Tensor<4>) -> Vec<f32> {
        net.forward(x).into_data().try_to_vec().unwrap()
    }

    /// The largest elementwise difference of two outputs.
    fn worst_gap(a: &[f32], b: &[f32]) -> f32 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }

    /// A Compact upscaler can start a deeper one of the same width: the new convolutions
    /// and PReLUs start as identities, so it computes what the old one did, and it trains
    /// from there.
    #[test]
    fn a_compact_starts_a_deeper_one_that_computes_the_same() {
        let dir = std::env::temp_dir().join(format!("regen-lengthen-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut cfg = tiny_denoiser(2);
        cfg.set_task(Task::Upscale);
        cfg.set_scale(2).unwrap();
        cfg.patch = 12;
        cfg.model.width = 6;
        cfg.model.depth = 2;
        let s = train_restore(&cfg, &dir.join("k2"), false, true).unwrap();
        let spec = s.model.to_string_lossy().to_string();
        let old = Restorer::load(&spec).unwrap();
        let mut long = cfg.clone();
        long.init = Some(spec.clone());
        long.model.depth = 4;
        let fresh = long.model.init(&crate::device::device());
        let bytes = std::fs::read(&s.model).unwrap();
        let card = checkpoint::read_card(&s.model, &bytes).unwrap();
        let fresh_bytes = checkpoint::to_bytes(&fresh, &card).unwrap();
        let grown = checkpoint::lengthen_chain(&bytes, &fresh_bytes, 2).unwrap();
        let mut deep = long.model.init(&crate::device::device());
        checkpoint::load_weights(&s.model, grown, &mut deep).unwrap();
        let x = images(9);
        let gap = worst_gap(&outputs(old.net(), x.clone()), &outputs(&deep, x.clone()));
        assert!(gap < 1e-5, "outputs differ by {gap}");
        // A fresh deeper net does not compute the same: the identities are what make it.
        assert!(worst_gap(&outputs(&fresh, x.clone()), &outputs(old.net(), x)) > 1e-3);
        // `--init` with a deeper chain trains on from there, and keeps the depth asked for.
        let t = train_restore(&long, &dir.join("k4"), false, true).unwrap();
        assert_eq!(t.step, 2);
        let new = Restorer::load(&t.model.to_string_lossy()).unwrap();
        assert_eq!((options(&old).depth, options(&new).depth), (2, 4));
        // Fewer convolutions than the file's is not a lengthening.
        assert!(checkpoint::lengthen_chain(&fresh_bytes, &bytes, 4).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A U-Net can start a deeper one: the new level is bridged, so the deeper net computes
    /// what the old one did, and it trains from there. A shallower one is refused.
    #[test]
    fn a_unet_starts_a_deeper_one_that_computes_the_same() {
        let dir = std::env::temp_dir().join(format!("regen-deepen-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cfg = tiny_denoiser(3);
        let s = train_restore(&cfg, &dir.join("d2"), false, true).unwrap();
        let spec = s.model.to_string_lossy().to_string();
        let device = crate::device::device();
        let old = start_from(&spec, &cfg.model).unwrap();
        let mut want = cfg.model.clone();
        want.depth = 4;
        let deep = start_from(&spec, &want).unwrap();
        let x = images(7);
        let gap = worst_gap(&outputs(&old, x.clone()), &outputs(&deep, x));
        assert!(gap < 1e-5, "outputs differ by {gap}");
        // A fresh deeper net does not compute the same: the bridge is what makes it.
        let grey =
            || Tensor::<4>::from_data(TensorData::new(vec![0.5; 1024], [1, 1, 32, 32]), &device);
        assert_ne!(outputs(&want.init(&device), grey()), outputs(&deep, grey()));

        let mut dcfg = cfg.clone();
        dcfg.model.depth = 3;
        dcfg.init = Some(spec.clone());
        let s3 = train_restore(&dcfg, &dir.join("d3"), false, true).unwrap();
        assert_eq!(
            options(&Restorer::load(&s3.model.to_string_lossy()).unwrap()).depth,
            3
        );
        let mut shallow = cfg.model.clone();
        shallow.depth = 1;
        let e = start_from(&spec, &shallow).unwrap_err().to_string();
        assert!(e.contains("differs from this run's"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A U-Net can start a thicker one (more convolutions per block): the new convolutions
    /// start as identities, so it computes what the old one did, and it trains from there.
    /// A thinner one, and growing two ways at once, are refused.
    #[test]
    fn a_unet_starts_a_thicker_one_that_computes_the_same() {
        let dir = std::env::temp_dir().join(format!("regen-thicken-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cfg = tiny_denoiser(3);
        let s = train_restore(&cfg, &dir.join("c2"), false, true).unwrap();
        let spec = s.model.to_string_lossy().to_string();
        let device = crate::device::device();
        let old = start_from(&spec, &cfg.model).unwrap();
        let mut want = cfg.model.clone();
        want.convs_per_block = 3;
        let thick = start_from(&spec, &want).unwrap();
        let x = images(8);
        let a = outputs(&old, x.clone());
        let gap = worst_gap(&a, &outputs(&thick, x.clone()));
        assert!(gap < 1e-5, "outputs differ by {gap}");
        // A fresh thicker net does not compute the same: the identities are what make it.
        assert_ne!(outputs(&want.init(&device), x), a);

        let mut tcfg = cfg.clone();
        tcfg.model.convs_per_block = 3;
        tcfg.init = Some(spec.clone());
        let s3 = train_restore(&tcfg, &dir.join("c3"), false, true).unwrap();
        let conf = options(&Restorer::load(&s3.model.to_string_lossy()).unwrap());
        assert_eq!(conf.convs_per_block, 3);

        let mut thin = cfg.model.clone();
        thin.convs_per_block = 1;
        let e = start_from(&spec, &thin).unwrap_err().to_string();
        assert!(e.contains("differs from this run's"), "{e}");
        let mut both = want.clone();
        both.depth = 3;
        let e = start_from(&spec, &both).unwrap_err().to_string();
        assert!(e.contains("one way at a time"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A gray denoiser can start a colour one with a noise level map: on an image whose
    /// three planes are equal the new net computes, on each, what the gray one does, and a
    /// colour run trains from it and keeps its noise level map.
    #[test]
    fn a_gray_denoiser_starts_a_colour_one_with_a_noise_map() {
        let dir = std::env::temp_dir().join(format!("regen-colourise-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cfg = tiny_denoiser(2);
        let s = train_restore(&cfg, &dir.join("gray"), false, true).unwrap();
        let spec = s.model.to_string_lossy().to_string();
        let device = crate::device::device();
        let gray = start_from(&spec, &cfg.model).unwrap();
        let mut want = cfg.model.clone();
        want.out_channels = 3;
        want.in_channels = 4;
        want.noise_map = Some(true);
        let color = start_from(&spec, &want).unwrap();
        let mut r = Rng::new(9);
        let plane: Vec<f32> = (0..256).map(|_| r.uniform() as f32).collect();
        let x1 = Tensor::<4>::from_data(TensorData::new(plane.clone(), [1, 1, 16, 16]), &device);
        let x3 = [plane.clone(), plane.clone(), plane, vec![0.1; 256]].concat();
        let x3 = Tensor::<4>::from_data(TensorData::new(x3, [1, 4, 16, 16]), &device);
        let (a, b) = (outputs(&gray, x1), outputs(&color, x3));
        for c in 0..3 {
            for (x, y) in a.iter().zip(&b[c * 256..(c + 1) * 256]) {
                assert!((x - y).abs() < 1e-5, "channel {c}: {x} vs {y}");
            }
        }

        let mut ccfg = cfg.clone();
        ccfg.model.out_channels = 3;
        ccfg.model.noise_map = Some(true);
        ccfg.init = Some(spec);
        let s = train_restore(&ccfg, &dir.join("color"), false, true).unwrap();
        let r = Restorer::load(&s.model.to_string_lossy()).unwrap();
        assert_eq!(r.descriptor().inputs.len(), 4);
        assert!(r.takes_sigma());
        // A colour model cannot start a gray one.
        let e = start_from(&s.model.to_string_lossy(), &cfg.model)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("3-channel model cannot start a 1-channel one"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_task_and_a_corruption_that_do_not_match_are_refused() {
        let cfg = RestoreTrainConfig {
            task: Task::Deblur,
            data: fixture(),
            ..RestoreTrainConfig::default()
        };
        let e = cfg.validate().unwrap_err().to_string();
        assert!(e.contains("cannot be trained on denoise damage"), "{e}");
    }

    #[test]
    fn u_net_shape_flags_on_a_dncnn_are_refused() {
        let dncnn = |convs_per_block, skips| RestoreTrainConfig {
            data: fixture(),
            model: RestoreConfig {
                arch: Arch::DnCnn,
                depth: 5,
                convs_per_block,
                skips,
                ..RestoreConfig::new()
            },
            ..RestoreTrainConfig::default()
        };
        dncnn(2, true).validate().unwrap();
        for cfg in [dncnn(3, true), dncnn(2, false)] {
            let e = cfg.validate().unwrap_err().to_string();
            assert!(e.contains("dncnn has neither"), "{e}");
        }
    }

    /// Two training steps of a small inpainting U-Net (masked copy-through, MSE, Adam at
    /// lr 0.01) from the weights in `tests/fixtures/restore-step.safetensors`, against the
    /// same steps of its PyTorch twin (`bench/torch_twin.py`, PyTorch 2.15), which wrote
    /// both fixtures:
    /// ```python
    /// torch.manual_seed(0)
    /// net = EncDec(width=4, depth=2, in_ch=2)  # PyTorch's default initialisation
    /// save = lambda path: save_file({"EncDec." + k: v.detach().contiguous()
    ///                                for k, v in net.state_dict().items()}, path)
    /// save("restore-step.safetensors")
    /// i = torch.arange(2 * 64.0)
    /// pre = (0.5 + 0.5 * torch.sin(0.37 * i)).reshape(2, 1, 8, 8)
    /// m = ((i * 7) % 5 == 0).float().reshape(2, 1, 8, 8)  # 1 = missing
    /// x = torch.cat([pre, m], 1)
    /// y = (0.5 + 0.5 * torch.cos(0.23 * i)).reshape(2, 1, 8, 8)
    /// opt = torch.optim.Adam(net.parameters(), lr=0.01, eps=1e-8)
    /// for step in range(2):
    ///     pred = net(x)[:, :1]
    ///     pred = pred * m + pre * (1 - m)
    ///     loss = torch.nn.functional.mse_loss(pred, y)
    ///     opt.zero_grad(); loss.backward(); opt.step()
    ///     print(loss.item())  # 0.2433166205883026, 0.24218831956386566
    /// save("restore-step-after.safetensors")
    /// ```
    /// Tolerances: 1e-5 relative on the losses; 1e-5 on each of the 10,369 weights after the
    /// steps (f32 on both sides; Adam moves a weight by about lr = 0.01 per step, so a
    /// missed, doubled or sign-flipped update is 1,000 times larger; measured: 1.9e-7).
    #[test]
    fn two_steps_match_pytorch() {
        two_steps_match_pytorch_on(crate::device::train_device());
    }

    /// The same two steps on burn's wgpu backend (in CI on lavapipe, a CPU Vulkan driver:
    /// `CUBECL_WGPU_DEFAULT_DEVICE=Cpu`), against the same PyTorch numbers. With burn's
    /// operation fusion on, the first loss came out 0.052.
    #[cfg(feature = "gpu")]
    #[test]
    fn two_steps_match_pytorch_on_the_gpu() {
        two_steps_match_pytorch_on(crate::device::gpu_train_device());
    }

    /// Two L1 training steps of a Compact x2 upscaler (3 -> 3 channels, 8 features, 2
    /// inner convolutions; PReLU, pixel shuffle, nearest-upsampled input added) with Adam
    /// at lr 0.01, against the same steps in PyTorch 2.15 by
    /// `tests/fixtures/compact-step/make.py`, which wrote the weights before and after:
    /// ```python
    /// torch.manual_seed(0); net = Compact(cin=3, cout=3, nf=8, convs=2, s=2)
    /// x = (0.5 + 0.5 * torch.sin(0.37 * torch.arange(75.0))).reshape(1, 3, 5, 5)
    /// y = (0.5 + 0.5 * torch.cos(0.23 * torch.arange(300.0))).reshape(1, 3, 10, 10)
    /// opt = torch.optim.Adam(net.parameters(), lr=0.01, eps=1e-8)
    /// for step in range(2):
    ///     loss = (net(x) - y).abs().mean()
    ///     opt.zero_grad(); loss.backward(); opt.step()
    ///     print(loss.item())  # 0.43998798727989197, 0.42033374309539795
    /// ```
    /// Tolerances: 1e-5 relative on the losses, 1e-5 on every weight after the steps (an
    /// Adam step moves each by about 0.01). One odd-sized image, so that no gradient of
    /// the L1 loss (a sum of signs) cancels to a rounding residue, which Adam's division
    /// by its own size would turn into a full step of either sign.
    #[test]
    fn compact_two_steps_match_pytorch() {
        use crate::models::CompactConfig;
        use crate::train::run::optimizer;
        let device = crate::device::train_device();
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/compact-step");
        let arch = RestoreArch::Compact(
            CompactConfig::new(3, 3)
                .with_features(8)
                .with_convs(2)
                .with_scale(2),
        );
        let mut model = arch.init(&device);
        let before = dir.join("before.safetensors");
        let bytes = checkpoint::read_file(&before).unwrap();
        checkpoint::load_weights(&before, bytes, &mut model).unwrap();
        let x: Vec<f32> = (0..75)
            .map(|i| 0.5 + 0.5 * (0.37 * i as f32).sin())
            .collect();
        let y: Vec<f32> = (0..300)
            .map(|i| 0.5 + 0.5 * (0.23 * i as f32).cos())
            .collect();
        let mut optim = optimizer(OptimizerKind::Adam, 0.9);
        for want in [0.43998798727989197, 0.42033374309539795] {
            let xt = Tensor::<4>::from_data(TensorData::new(x.clone(), [1, 3, 5, 5]), &device);
            let yt = Tensor::<4>::from_data(TensorData::new(y.clone(), [1, 3, 10, 10]), &device);
            let loss = batch_loss(&model, xt, yt, None, Loss::L1);
            let got = loss.clone().into_scalar::<f32>() as f64;
            assert!((got - want).abs() <= 1e-5 * want, "loss {got} vs {want}");
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(0.01, model, grads);
        }
        let inputs = planes::for_task(Task::Upscale, 3, false, false);
        let card = ModelCard::new(Descriptor::restore(Task::Upscale, arch, inputs).unwrap(), 2);
        let ours = checkpoint::to_bytes(&model.valid(), &card).unwrap();
        let theirs = checkpoint::read_file(&dir.join("after.safetensors")).unwrap();
        let (count, worst, name) = weight_gap(&ours, &theirs);
        assert!(worst <= 1e-5, "{name}: weights differ by {worst}");
        println!("{count} weights, largest difference {worst:.2e}");
        assert_eq!(
            count,
            3 * 8 * 9 + 8 + 2 * (8 * 8 * 9 + 8) + 3 * 8 + 8 * 12 * 9 + 12
        );
    }

    /// Compares every tensor of the safetensors `theirs` with the one of the same name in
    /// `ours` (same shape, f32): the number of weights compared, the largest difference
    /// and the tensor it is in.
    fn weight_gap(ours: &[u8], theirs: &[u8]) -> (usize, f32, String) {
        let ours = safetensors::SafeTensors::deserialize(ours).unwrap();
        let theirs = safetensors::SafeTensors::deserialize(theirs).unwrap();
        let floats = |b: &[u8]| -> Vec<f32> {
            b.chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                .collect()
        };
        let (mut count, mut worst, mut worst_name) = (0, 0.0f32, String::new());
        for (name, want) in theirs.tensors() {
            let got = ours
                .tensor(&name)
                .unwrap_or_else(|_| panic!("{name} missing"));
            assert_eq!(got.shape(), want.shape(), "{name}");
            for (a, b) in floats(got.data()).into_iter().zip(floats(want.data())) {
                if (a - b).abs() > worst {
                    (worst, worst_name) = ((a - b).abs(), name.clone());
                }
                count += 1;
            }
        }
        (count, worst, worst_name)
    }

    fn two_steps_match_pytorch_on(device: burn::tensor::Device) {
        use crate::train::run::optimizer;
        let fixture = |n: &str| {
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures")
                .join(n);
            let bytes = checkpoint::read_file(&path).unwrap();
            (path, bytes)
        };
        let cfg = RestoreConfig::new()
            .with_in_channels(2)
            .with_width(4)
            .with_depth(2);
        let mut model = cfg.init(&device);
        let (path, bytes) = fixture("restore-step.safetensors");
        checkpoint::load_weights(&path, bytes, &mut model).unwrap();

        let n = 2 * 64;
        let pre: Vec<f32> = (0..n)
            .map(|i| 0.5 + 0.5 * (0.37 * i as f32).sin())
            .collect();
        let m: Vec<f32> = (0..n).map(|i| ((i * 7) % 5 == 0) as u8 as f32).collect();
        let y: Vec<f32> = (0..n)
            .map(|i| 0.5 + 0.5 * (0.23 * i as f32).cos())
            .collect();
        // [b, 2, 8, 8]: each sample's pre-fill plane, then its mask plane.
        let x: Vec<f32> = (0..2)
            .flat_map(|b| [&pre[b * 64..][..64], &m[b * 64..][..64]].concat())
            .collect();
        let t = |v: Vec<f32>, c: usize| {
            Tensor::<4>::from_data(TensorData::new(v, [2, c, 8, 8]), &device)
        };
        let mut optim = optimizer(OptimizerKind::Adam, 0.9);
        for want in [0.2433166205883026, 0.24218831956386566] {
            let loss = batch_loss(
                &model,
                t(x.clone(), 2),
                t(y.clone(), 1),
                Some(t(m.clone(), 1)),
                Loss::L2,
            );
            let got = loss.clone().into_scalar::<f32>() as f64;
            assert!((got - want).abs() <= 1e-5 * want, "loss {got} vs {want}");
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(0.01, model, grads);
        }

        let inputs = planes::for_task(Task::Inpaint, 1, false, false);
        let d = Descriptor::restore(Task::Inpaint, cfg.architecture(), inputs).unwrap();
        let card = ModelCard::new(d, 2);
        let ours = checkpoint::to_bytes(&model.valid(), &card).unwrap();
        let (_, theirs) = fixture("restore-step-after.safetensors");
        let (count, worst, worst_name) = weight_gap(&ours, &theirs);
        assert_eq!(count, 10_369, "every weight compared");
        assert!(
            worst <= 1e-5,
            "largest weight difference {worst} (in {worst_name})"
        );
    }
}
