//! One function per subcommand: turn arguments into library calls and print results.

use std::process::ExitCode;

use anyhow::Result;
use regen::corrupt::{Corruption, Sigma};
use regen::data::{Image, load_folder};
use regen::restore::Restorer;
use std::path::{Path, PathBuf};

use regen::train::{GanTrainConfig, OptimizerKind, RestoreTrainConfig, Schedule, VaeTrainConfig};
use regen::{Error, batch};

use crate::{
    CorruptArgs, EncodeArgs, EvalAugmentArgs, EvalGenerateArgs, EvalRestoreArgs, EvalVaeArgs,
    GenerateArgs, InterpolateArgs, ReconstructArgs, RestoreArgs, RunArgs, TrainGanArgs,
    TrainRestoreArgs, TrainVaeArgs,
};

/// Prints batch failures; exit code 2 if there were any.
fn finish(done: usize, errors: Vec<Error>) -> ExitCode {
    for e in &errors {
        eprintln!("error: {e}");
    }
    if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!("{done} done, {} failed", errors.len());
        ExitCode::from(2)
    }
}

/// The model for `task`: `model` (a shipped name or a path) or the shipped default; a model
/// of another task is refused.
fn load_model(model: Option<&str>, task: &str) -> Result<Restorer, Error> {
    let r = match model {
        Some(m) => Restorer::load(m)?,
        None => Restorer::shipped_default(task)?,
    };
    if r.task() != task {
        return Err(Error::arg(format!(
            "--model {}: is a {} model, not {task}",
            model.unwrap_or("default"),
            r.task()
        )));
    }
    Ok(r)
}

/// Where the mask (or mask output) of `job` is: `masks` itself when it is a file (or the
/// batch has one job), else the job's output path relative to `output`, under `masks`.
fn mask_for(masks: &Path, job: &batch::Job, output: &Path, jobs: usize) -> PathBuf {
    if jobs == 1 && !masks.is_dir() {
        return masks.to_path_buf();
    }
    let rel = job
        .output
        .strip_prefix(output)
        .ok()
        .map(Path::to_path_buf)
        .or_else(|| job.output.file_name().map(PathBuf::from))
        .unwrap_or_default();
    masks.join(rel)
}

pub fn restore(a: RestoreArgs) -> Result<ExitCode> {
    if Corruption::default_for(&a.task).is_none() {
        return Err(
            Error::arg(format!("--task {}: use denoise, inpaint or deblur", a.task)).into(),
        );
    }
    if a.tile < 16 {
        return Err(Error::arg(format!("--tile {}: must be at least 16", a.tile)).into());
    }
    let kernel = known_blur(a.blur.as_deref(), a.blur_sigma, a.length, a.angle)?;
    if kernel.is_some() && a.task != "deblur" {
        return Err(Error::arg(format!(
            "--blur, --blur-sigma and --length are for --task deblur, not {}",
            a.task
        ))
        .into());
    }
    // A known blur picks the non-blind deblurrer unless a model is named.
    let spec = a
        .model
        .as_deref()
        .or(kernel.as_ref().map(|_| NON_BLIND_DEBLURRER));
    let mut model = load_model(spec, &a.task)?;
    let name = spec.unwrap_or("deblur");
    match (model.non_blind(), &kernel) {
        (true, None) => {
            return Err(Error::arg(format!(
                "--model {name}: is a non-blind deblurrer; give the blur with --blur-sigma S or --length L --angle A"
            ))
            .into());
        }
        (false, Some(_)) => {
            return Err(Error::arg(format!(
                "--model {name}: is a blind deblurrer and takes no kernel; leave out the blur options or use --model {NON_BLIND_DEBLURRER}"
            ))
            .into());
        }
        _ => {}
    }
    model.kernel = kernel;
    let masks = match (a.task.as_str(), &a.mask) {
        ("inpaint", None) => {
            return Err(Error::arg("--task inpaint needs --mask (white = missing)").into());
        }
        ("inpaint", Some(m)) if !m.exists() => {
            return Err(Error::io(m, std::io::Error::from(std::io::ErrorKind::NotFound)).into());
        }
        ("inpaint", Some(m)) => Some(m.clone()),
        (_, Some(_)) => {
            return Err(Error::arg(format!("--mask is for --task inpaint, not {}", a.task)).into());
        }
        _ => None,
    };
    model.tile = a.tile;
    model.ensemble = a.ensemble;
    let (jobs, mut errors) = batch::plan(&a.inputs, &a.output)?;
    let n = jobs.len();
    errors.extend(batch::run(&jobs, |i, img| match &masks {
        Some(m) => {
            let path = mask_for(m, &jobs[i], &a.output, n);
            let mask = regen::restore::load_mask(&path, img.height, img.width)?;
            Ok(model.restore_masked(img, Some(&mask)))
        }
        None => Ok(model.restore(img)),
    }));
    Ok(finish(jobs.len() + errors.len(), errors))
}

/// `0.1` or `0.1-0.25` as a (low, high) range.
fn fraction_range(flag: &str, v: &str) -> Result<(f32, f32)> {
    let num = |t: &str| {
        t.trim()
            .parse::<f32>()
            .map_err(|_| Error::arg(format!("{flag} {v}: not a number or a range like 0.1-0.25")))
    };
    Ok(match v.split_once('-') {
        Some((lo, hi)) => (num(lo)?, num(hi)?),
        None => (num(v)?, num(v)?),
    })
}

/// The shipped deblurrer that is told the kernel.
const NON_BLIND_DEBLURRER: &str = "deblur-nonblind";

/// The kernel of a known blur given to `regen restore`, or `None` when no blur option is.
fn known_blur(
    blur: Option<&str>,
    sigma: Option<f32>,
    length: Option<f32>,
    angle: f32,
) -> Result<Option<regen::corrupt::blur::Kernel>> {
    use regen::corrupt::blur::BlurKind;
    let kind = match (blur, sigma, length) {
        (None, None, None) => return Ok(None),
        (Some(b), ..) if b != "gaussian" && b != "motion" => {
            return Err(Error::arg(format!("--blur {b}: use gaussian or motion")).into());
        }
        (None | Some("gaussian"), Some(sigma), None) => BlurKind::Gaussian { sigma },
        (None | Some("motion"), None, Some(length)) => BlurKind::Motion { length, angle },
        (Some("gaussian"), None, _) => {
            return Err(Error::arg("--blur gaussian needs --blur-sigma").into());
        }
        (Some("motion"), _, None) => {
            return Err(Error::arg("--blur motion needs --length (and --angle)").into());
        }
        _ => {
            return Err(Error::arg(
                "give one blur: --blur-sigma (Gaussian) or --length and --angle (motion)",
            )
            .into());
        }
    };
    kind.validate()?;
    Ok(Some(kind.kernel(&mut regen::rng::Rng::new(0))))
}

/// The blur named by `--blur` with its parameters.
fn blur_kind(
    kind: &str,
    sigma: f32,
    length: f32,
    angle: f32,
) -> Result<regen::corrupt::blur::BlurKind> {
    use regen::corrupt::blur::BlurKind;
    match kind {
        "gaussian" => Ok(BlurKind::Gaussian { sigma }),
        "motion" => Ok(BlurKind::Motion { length, angle }),
        other => Err(Error::arg(format!("--blur {other}: use gaussian or motion")).into()),
    }
}

fn noise_corruption(a: &CorruptArgs) -> Result<Corruption> {
    Ok(match a.noise.as_str() {
        "gaussian" => Corruption::Gaussian {
            sigma: Sigma::parse(
                a.sigma
                    .as_deref()
                    .ok_or_else(|| Error::arg("--sigma is required for Gaussian noise"))?,
            )?,
        },
        "salt-pepper" => Corruption::SaltPepper {
            amount: a
                .amount
                .ok_or_else(|| Error::arg("--amount is required for salt-pepper noise"))?,
        },
        "poisson" => Corruption::Poisson {
            peak: a
                .peak
                .ok_or_else(|| Error::arg("--peak is required for poisson noise"))?,
        },
        other => {
            return Err(Error::arg(format!(
                "--noise {other}: use gaussian, salt-pepper or poisson"
            ))
            .into());
        }
    })
}

pub fn corrupt(a: CorruptArgs) -> Result<ExitCode> {
    use regen::corrupt::mask::MaskKind;
    let c = match a.task.as_str() {
        "denoise" => noise_corruption(&a)?,
        "inpaint" => {
            let (lo, hi) = fraction_range("--coverage", &a.coverage)?;
            let mask = match a.mask_kind.as_str() {
                "strokes" => MaskKind::Strokes {
                    coverage: (lo, hi),
                    width: (0.03, 0.08),
                },
                "box" => MaskKind::CenterBox { frac: 0.5 },
                "boxes" => MaskKind::Boxes {
                    count: 3,
                    max_frac: 0.3,
                },
                other => {
                    return Err(Error::arg(format!(
                        "--mask-kind {other}: use strokes, box or boxes"
                    ))
                    .into());
                }
            };
            if a.masks.is_none() {
                return Err(
                    Error::arg("--task inpaint needs --masks: where to write the masks").into(),
                );
            }
            Corruption::Inpaint { mask }
        }
        "deblur" => {
            let blur = blur_kind(&a.blur, a.blur_sigma, a.length, a.angle)?;
            let noise = Sigma::parse(a.sigma.as_deref().unwrap_or("0"))?;
            Corruption::Blur { blur, noise }
        }
        other => {
            return Err(
                Error::arg(format!("--task {other}: use denoise, inpaint or deblur")).into(),
            );
        }
    };
    c.validate()?;
    let (jobs, mut errors) = batch::plan(&a.inputs, &a.output)?;
    let bad_before = errors.len();
    let n = jobs.len();
    errors.extend(batch::run(&jobs, |i, img| {
        let out = c.apply(img, a.seed.wrapping_add(i as u64));
        if let (Some(m), Some(dir)) = (&out.mask, &a.masks) {
            let path = mask_for(dir, &jobs[i], &a.output, n);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
            }
            m.save(&path)?;
        }
        Ok(out.image)
    }));
    Ok(finish(jobs.len() + bad_before, errors))
}

pub fn train_restore(a: TrainRestoreArgs) -> Result<ExitCode> {
    let mut cfg = match &a.config {
        Some(p) => RestoreTrainConfig::from_toml_file(p)?,
        None => RestoreTrainConfig::default(),
    };
    // On --resume without flags, keep what the run was started with.
    let saved = a.run.out.join("config.toml");
    if a.run.resume && a.config.is_none() && saved.exists() {
        cfg = RestoreTrainConfig::from_toml_file(&saved)?;
    }
    if let Some(v) = a.task {
        if cfg.corruption.task() != v
            && let Some(c) = Corruption::default_for(&v)
        {
            cfg.corruption = c;
        }
        cfg.task = v;
    }
    if let Some(v) = a.data {
        cfg.data = v;
    }
    if let Some(v) = a.arch {
        cfg.model.arch = serde_json::from_value(serde_json::Value::String(v.clone()))
            .map_err(|_| Error::arg(format!("--arch {v}: use encdec or dncnn")))?;
    }
    if let Some(v) = a.width {
        cfg.model.width = v;
    }
    if let Some(v) = a.depth {
        cfg.model.depth = v;
    }
    if a.no_skips {
        cfg.model.skips = false;
    }
    if let Some(v) = a.sigma {
        let sigma = Sigma::parse(&v)?;
        match &mut cfg.corruption {
            Corruption::Blur { noise, .. } => *noise = sigma,
            Corruption::Inpaint { .. } => {
                return Err(Error::arg("--sigma: inpainting training adds no noise").into());
            }
            c => *c = Corruption::Gaussian { sigma },
        }
    }
    if let Some(v) = a.patch {
        cfg.patch = v;
    }
    if let Some(v) = a.batch {
        cfg.batch = v;
    }
    if let Some(v) = a.steps {
        cfg.steps = v;
    }
    if let Some(v) = a.epoch_steps {
        cfg.epoch_steps = v;
    }
    if let Some(v) = a.optimizer {
        cfg.optimizer = match v.as_str() {
            "adam" => OptimizerKind::Adam,
            "sgd" => OptimizerKind::Sgd,
            _ => return Err(Error::arg(format!("--optimizer {v}: use adam or sgd")).into()),
        };
    }
    if let Some(v) = a.lr {
        cfg.lr = v;
    }
    if let Some(v) = a.schedule {
        cfg.schedule = match v.as_str() {
            "cosine" => Schedule::Cosine,
            "step" => Schedule::Step,
            "constant" => Schedule::Constant,
            _ => {
                return Err(
                    Error::arg(format!("--schedule {v}: use cosine, step or constant")).into(),
                );
            }
        };
    }
    if let Some(v) = a.checkpoint_every {
        cfg.checkpoint_every = v;
    }
    if let Some(v) = a.seed {
        cfg.seed = v;
    }
    if a.non_blind {
        cfg.non_blind = true;
    }
    if let Some(v) = a.init {
        cfg.init = Some(v);
    }
    let summary = regen::train::train_restore(&cfg, &a.run.out, a.run.resume, a.run.quiet)?;
    println!("{}", serde_json::to_string(&summary)?);
    Ok(ExitCode::SUCCESS)
}

pub fn eval_restore(a: EvalRestoreArgs) -> Result<ExitCode> {
    use regen::corrupt::mask::MaskKind;
    let fixed = |v: &str| -> Result<Sigma> {
        match Sigma::parse(v)? {
            Sigma::Range(..) => {
                Err(Error::arg("--sigma: evaluation needs one number, not a range").into())
            }
            s => Ok(s),
        }
    };
    let damage = match a.task.as_str() {
        "denoise" => Corruption::Gaussian {
            sigma: fixed(
                a.sigma
                    .as_deref()
                    .ok_or_else(|| Error::arg("--sigma is required to evaluate denoising"))?,
            )?,
        },
        "inpaint" => Corruption::Inpaint {
            mask: MaskKind::Strokes {
                coverage: fraction_range("--coverage", &a.coverage)?,
                width: (0.03, 0.08),
            },
        },
        "deblur" => Corruption::Blur {
            blur: blur_kind(&a.blur, a.blur_sigma, a.length, a.angle)?,
            noise: fixed(a.sigma.as_deref().unwrap_or("2"))?,
        },
        other => {
            return Err(
                Error::arg(format!("--task {other}: use denoise, inpaint or deblur")).into(),
            );
        }
    };
    damage.validate()?;
    let mut model = load_model(a.model.as_deref(), &a.task)?;
    model.ensemble = a.ensemble;
    // Without --model, deblurring is scored for the blind and the non-blind shipped models.
    let mut models = vec![model];
    if a.task == "deblur" && a.model.is_none() {
        let mut nb = load_model(Some(NON_BLIND_DEBLURRER), "deblur")?;
        nb.ensemble = a.ensemble;
        models.push(nb);
    }
    let loaded = load_folder(&a.data)?;
    for e in &loaded.errors {
        eprintln!("note: skipping {e}");
    }
    if let Some((p, _)) = loaded
        .images
        .iter()
        .find(|(_, i)| i.height < 11 || i.width < 11)
    {
        return Err(Error::bad_file(p, "smaller than 11x11 pixels, too small for SSIM").into());
    }
    let clean: Vec<Image> = loaded.images.into_iter().map(|(_, i)| i).collect();
    let models: Vec<&Restorer> = models.iter().collect();
    let report = regen::eval::eval_restore(&models, &clean, &damage, a.seed);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.table());
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads a TOML training config: `--config`, else the run's own on `--resume`.
fn load_config<T: serde::de::DeserializeOwned + Default>(
    config: &Option<PathBuf>,
    run: &RunArgs,
) -> Result<T> {
    let saved = run.out.join("config.toml");
    let file = config
        .clone()
        .or_else(|| (run.resume && saved.exists()).then_some(saved));
    Ok(match file {
        Some(p) => {
            let text = std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?;
            toml::from_str::<T>(&text)
                .map_err(|e| Error::bad_file(&p, format!("bad config: {}", e.message())))?
        }
        None => T::default(),
    })
}

/// A lowercase enum value from a flag, or a one-line error listing the choices.
fn choice<T: serde::de::DeserializeOwned>(flag: &str, v: &str, choices: &str) -> Result<T> {
    serde_json::from_value(serde_json::Value::String(v.to_string()))
        .map_err(|_| Error::arg(format!("{flag} {v}: use {choices}")).into())
}

pub fn train_gan(a: TrainGanArgs) -> Result<ExitCode> {
    let mut cfg: GanTrainConfig = load_config(&a.config, &a.run)?;
    if let Some(v) = a.data {
        cfg.data = v;
    }
    cfg.conditional |= a.conditional;
    let m = &mut cfg.model;
    if let Some(v) = a.latent {
        m.latent = v;
    }
    if let Some(v) = a.depth {
        m.depth = v;
    }
    if let Some(v) = a.g_width {
        m.g_width = v;
    }
    if let Some(v) = a.d_width {
        m.d_width = v;
    }
    m.g_batchnorm &= !a.no_batchnorm;
    m.spectral_norm |= a.spectral_norm;
    if let Some(v) = a.loss {
        cfg.loss = choice("--loss", &v, "ns, minimax or hinge")?;
    }
    if let Some(v) = a.optimizer {
        cfg.optimizer = choice("--optimizer", &v, "adam or sgd")?;
    }
    if let Some(v) = a.lr {
        (cfg.lr_g, cfg.lr_d) = (v, v);
    }
    if let Some(v) = a.lr_g {
        cfg.lr_g = v;
    }
    if let Some(v) = a.lr_d {
        cfg.lr_d = v;
    }
    if let Some(v) = a.label_smoothing {
        cfg.label_smoothing = v;
    }
    if let Some(v) = a.ema {
        cfg.ema = v;
    }
    if let Some(v) = a.r1 {
        cfg.r1 = v;
    }
    if let Some(v) = a.batch {
        cfg.batch = v;
    }
    if let Some(v) = a.epochs {
        cfg.epochs = v;
    }
    if let Some(v) = a.checkpoint_every {
        cfg.checkpoint_every = v;
    }
    if let Some(v) = a.seed {
        cfg.seed = v;
    }
    let summary = regen::train::train_gan(&cfg, &a.run.out, a.run.resume, a.run.quiet)?;
    println!("{}", serde_json::to_string(&summary)?);
    Ok(ExitCode::SUCCESS)
}

pub fn train_vae(a: TrainVaeArgs) -> Result<ExitCode> {
    let mut cfg: VaeTrainConfig = load_config(&a.config, &a.run)?;
    if let Some(v) = a.data {
        cfg.data = v;
    }
    cfg.conditional |= a.conditional;
    if let Some(v) = a.latent {
        cfg.model.latent = v;
    }
    if let Some(v) = a.width {
        cfg.model.width = v;
    }
    if let Some(v) = a.depth {
        cfg.model.depth = v;
    }
    if let Some(v) = a.likelihood {
        cfg.model.likelihood = choice("--likelihood", &v, "bernoulli or gaussian")?;
    }
    if let Some(v) = a.batch {
        cfg.batch = v;
    }
    if let Some(v) = a.epochs {
        cfg.epochs = v;
    }
    if let Some(v) = a.lr {
        cfg.lr = v;
    }
    if let Some(v) = a.beta {
        cfg.beta = v;
    }
    if let Some(v) = a.kl_warmup {
        cfg.kl_warmup = v;
    }
    if let Some(v) = a.seed {
        cfg.seed = v;
    }
    let model = regen::train::train_vae(&cfg, &a.run.out, a.run.resume, a.run.quiet)?;
    println!("{}", model.display());
    Ok(ExitCode::SUCCESS)
}

pub fn generate(a: GenerateArgs) -> Result<ExitCode> {
    if a.output.is_none() && a.grid.is_none() {
        return Err(
            Error::arg("give -o DIR for the images, --grid FILE for one picture, or both").into(),
        );
    }
    if a.n == 0 {
        return Err(Error::arg("-n 0: nothing to generate").into());
    }
    let generator = regen::generate::Generator::load(&a.model)?;
    let images = generator.sample(a.n, a.class, a.seed)?;
    if let Some(dir) = &a.output {
        let digits = a.n.to_string().len();
        for (i, img) in images.iter().enumerate() {
            img.save(&dir.join(format!("{i:0digits$}.png")))?;
        }
    }
    if let Some(g) = &a.grid {
        let cols = (a.n as f64).sqrt().ceil() as usize;
        regen::data::grid(&images, cols).save(g)?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn eval_vae(a: EvalVaeArgs) -> Result<ExitCode> {
    let generator = regen::generate::Generator::load(&a.model)?;
    let data = regen::data::Dataset::load(&a.data)?;
    let (vae, config) = generator.vae()?;
    let r = regen::eval_vae::eval_vae(vae, config, &data, a.k, a.seed)?;
    let probe = match &a.probe_train {
        Some(p) => {
            let train = regen::data::Dataset::load(p)?;
            Some(regen::eval_vae::linear_probe(&generator, &train, &data)?)
        }
        None => None,
    };
    if a.json {
        let mut v = serde_json::to_value(&r)?;
        v["probe_accuracy"] = serde_json::json!(probe);
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("{} images, nats per image", r.images);
        println!("reconstruction   {:>9.2}", r.recon);
        println!("KL               {:>9.2}", r.kl);
        println!("-ELBO            {:>9.2}", r.nelbo);
        println!(
            "-log p(x) <= {:>9.2}  (importance-weighted, K = {})",
            r.iw_nll, r.k
        );
        if let Some(acc) = probe {
            println!("linear probe accuracy on latent means: {:.2}%", 100.0 * acc);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn reconstruct(a: ReconstructArgs) -> Result<ExitCode> {
    let g = regen::generate::Generator::load(&a.model)?;
    g.vae()?;
    let cls = a.class.map(|c| vec![c]);
    let (jobs, mut errors) = batch::plan(&a.inputs, &a.output)?;
    errors.extend(batch::run(&jobs, |_, img| {
        Ok(g.reconstruct(&[img], cls.as_deref())?.remove(0))
    }));
    Ok(finish(jobs.len(), errors))
}

pub fn interpolate(a: InterpolateArgs) -> Result<ExitCode> {
    let g = regen::generate::Generator::load(&a.model)?;
    g.vae()?;
    let (ia, ib) = (Image::load(&a.a)?, Image::load(&a.b)?);
    let strip = g.interpolate(&ia, &ib, a.steps, a.spherical, a.class)?;
    regen::data::grid(&strip, strip.len()).save(&a.output)?;
    Ok(ExitCode::SUCCESS)
}

pub fn encode(a: EncodeArgs) -> Result<ExitCode> {
    let g = regen::generate::Generator::load(&a.model)?;
    let data = regen::data::Dataset::load(&a.data)?;
    let mut csv = String::new();
    let latent = g.vae()?.1.latent;
    let label_col = data.labels.is_some();
    if label_col {
        csv.push_str("label,");
    }
    csv.push_str(
        &(0..latent)
            .map(|i| format!("z{i}"))
            .collect::<Vec<_>>()
            .join(","),
    );
    csv.push('\n');
    for start in (0..data.len()).step_by(512) {
        let idx: Vec<usize> = (start..(start + 512).min(data.len())).collect();
        let imgs: Vec<&Image> = idx.iter().map(|&i| &data.images[i]).collect();
        let cls: Option<Vec<usize>> = data
            .labels
            .as_ref()
            .map(|l| idx.iter().map(|&i| l[i]).collect());
        let cls = if g.classes() > 0 { cls } else { None };
        let z = g.encode(&imgs, cls.as_deref())?;
        for (row, &i) in z.iter().zip(&idx) {
            if let Some(l) = &data.labels {
                csv.push_str(&format!("{},", l[i]));
            }
            csv.push_str(
                &row.iter()
                    .map(|v| format!("{v}"))
                    .collect::<Vec<_>>()
                    .join(","),
            );
            csv.push('\n');
        }
    }
    regen::fsutil::write_atomic(&a.output, csv.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

pub fn eval_generate(a: EvalGenerateArgs) -> Result<ExitCode> {
    let real = regen::data::Dataset::load(&a.data)?;
    let fake = regen::data::Dataset::load(&a.samples)?;
    let (net, acc) = regen::eval_generate::classifier_for(&a.data, &real, a.seed)?;
    let r = regen::eval_generate::eval_generate(
        &net,
        acc,
        &real.images,
        &fake.images,
        real.classes,
        a.n,
        a.seed,
    )?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        println!(
            "{} real vs {} generated images; feature classifier test accuracy {:.2}%",
            r.n,
            r.n,
            100.0 * r.classifier_accuracy
        );
        println!("Frechet distance   {:>10.3}", r.frechet);
        println!(
            "KID x 1000         {:>10.3} +- {:.3}",
            r.kid_x1000.0, r.kid_x1000.1
        );
        println!("precision (k=5)    {:>10.3}", r.precision);
        println!("recall (k=5)       {:>10.3}", r.recall);
        let shares: Vec<String> = r
            .class_shares
            .iter()
            .enumerate()
            .map(|(c, s)| format!("{c}: {:.1}%", 100.0 * s))
            .collect();
        println!("samples per predicted class: {}", shares.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn eval_augment(a: EvalAugmentArgs) -> Result<ExitCode> {
    let train = regen::data::Dataset::load(&a.data)?;
    let test = regen::data::Dataset::load(&a.test)?;
    let tmp = std::env::temp_dir().join(format!("regen-augment-{}", std::process::id()));
    let work = a.work.clone().unwrap_or_else(|| tmp.clone());
    let mut gan = GanTrainConfig {
        epochs: a.gan_epochs,
        ..GanTrainConfig::default()
    };
    gan.checkpoint_every = 1_000_000;
    let vae = VaeTrainConfig {
        epochs: a.vae_epochs,
        // Hold out almost nothing: the subset is all the labelled data there is.
        val_images: 10,
        checkpoint_every: 1_000_000,
        ..VaeTrainConfig::default()
    };
    let cfg = regen::augment::AugmentConfig {
        per_class: a.per_class,
        generated_per_class: a.generated,
        seeds: (0..a.seeds).collect(),
        classifier_steps: a.steps,
        gan,
        vae,
        work,
    };
    let rows = regen::augment::augment(&train, &test, &cfg, |m| eprintln!("{m}"));
    if a.work.is_none() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    let rows = rows?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} real images per class (+ {} generated per class), {} classifier steps, test set {}",
        a.per_class,
        a.generated,
        a.steps,
        a.test.display()
    );
    let seeds: Vec<String> = cfg.seeds.iter().map(|s| format!("seed {s}")).collect();
    println!("| training set | {} | mean +- sd |", seeds.join(" | "));
    println!("|---|{}---|", "---|".repeat(seeds.len()));
    for method in ["real only", "real + cGAN", "real + cVAE"] {
        let acc: Vec<f64> = rows
            .iter()
            .filter(|r| r.method == method)
            .map(|r| 100.0 * r.accuracy)
            .collect();
        let mean = acc.iter().sum::<f64>() / acc.len() as f64;
        let sd = (acc.iter().map(|v| (v - mean).powi(2)).sum::<f64>()
            / (acc.len().max(2) - 1) as f64)
            .sqrt();
        let cells: Vec<String> = acc.iter().map(|v| format!("{v:.2}%")).collect();
        println!(
            "| {method} | {} | {mean:.2}% +- {sd:.2} |",
            cells.join(" | ")
        );
    }
    Ok(ExitCode::SUCCESS)
}
