//! Training a GAN: alternating discriminator and generator updates on minibatches, with
//! the stabilisers practitioners rely on (non-saturating or hinge loss, Adam with beta1 0.5,
//! one-sided label smoothing, spectral normalisation, an exponential moving average of the
//! generator) and health checks while it runs.
//!
//! The R1 penalty (Mescheder et al. 2018) needs the gradient of a gradient, which burn 0.22's
//! autodiff does not give (its gradients are plain tensors outside the graph); the
//! discriminator therefore builds its input gradient by hand from differentiable operations
//! ([`GanDiscriminator::forward_with_input_grad`]), checked against PyTorch's double backward.
//! WGAN-GP would need the same at interpolated points and a critic loss; it is not offered.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::{Device, Tensor, TensorData};
use serde::Serialize;
use serde_json::json;

use crate::checkpoint::{self, ModelCard};
use crate::data::{Dataset, Image, grid, one_hot, tensor_to_images};
use crate::error::{Error, Result};
use crate::models::gan::to_unit;
use crate::models::{GanConfig, GanDiscriminator, GanGenerator};
use crate::rng::Rng;
use crate::train::progress::Progress;
use crate::train::run::{self, EpochOrder, RunDir, TrainState};

mod config;

pub use config::{GanLoss, GanTrainConfig};

/// Generator, discriminator and the generator's moving average: one module, so a single
/// checkpoint and a single optimizer (its state is keyed by parameter) hold the whole game.
#[derive(Module, Debug)]
pub struct GanPair {
    /// The generator being trained.
    pub g: GanGenerator,
    /// The discriminator.
    pub d: GanDiscriminator,
    /// Exponential moving average of `g`'s weights (never trained directly).
    pub ema: Option<GanGenerator>,
}

impl GanPair {
    /// Fresh networks for `model` (the generator drawn first), with a moving average of the
    /// generator if `ema`.
    fn init(model: &GanConfig, ema: bool, device: &Device) -> Self {
        let g = model.init_generator(device);
        // Parameters start lazy, and a clone shares the lazy cell: marking the clone no-grad
        // would freeze the original too. Materialise them first.
        g.visit(&mut Materialise);
        let ema = ema.then(|| g.clone().no_grad());
        GanPair {
            d: model.init_discriminator(device),
            g,
            ema,
        }
    }

    /// The generator to sample from: the moving average if kept.
    pub fn sampler(&self) -> &GanGenerator {
        self.ema.as_ref().unwrap_or(&self.g)
    }
}

/// Stable binary cross-entropy on logits against a constant target t:
/// mean(softplus(l) - t l), where softplus(l) = max(l, 0) + log(1 + exp(-|l|)).
fn bce_logits(l: Tensor<2>, target: f64) -> Tensor<1> {
    (l.clone().clamp_min(0.0) + (l.clone().abs().neg().exp() + 1.0).log() - l * target).mean()
}

/// The discriminator's loss on logits of real and fake images.
fn d_loss(kind: GanLoss, real: Tensor<2>, fake: Tensor<2>, smoothing: f64) -> Tensor<1> {
    match kind {
        GanLoss::Hinge => relu(-real + 1.0).mean() + relu(fake + 1.0).mean(),
        _ => bce_logits(real, 1.0 - smoothing) + bce_logits(fake, 0.0),
    }
}

/// The generator's loss on the discriminator's logits for its fakes.
fn g_loss(kind: GanLoss, fake: Tensor<2>) -> Tensor<1> {
    match kind {
        GanLoss::Minimax => -bce_logits(fake, 0.0),
        GanLoss::Ns => bce_logits(fake, 1.0),
        GanLoss::Hinge => -fake.mean(),
    }
}

/// ema <- decay * ema + (1 - decay) * g for trained weights; buffers (batch-norm running
/// statistics) are copied, as StyleGAN2's G_ema does.
fn update_ema(ema: GanGenerator, g: &GanGenerator, decay: f64) -> GanGenerator {
    struct Collect(Vec<(Tensor<1>, bool)>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            let t = p.val();
            let trained = t.is_require_grad();
            self.0.push((t.detach().flatten(0, D - 1), trained));
        }
    }
    struct Blend(std::vec::IntoIter<(Tensor<1>, bool)>, f64);
    impl ModuleMapper for Blend {
        fn map_float<const D: usize>(&mut self, p: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let (src, trained) = self.0.next().expect("same structure");
            let decay = self.1;
            p.map(|e| {
                let src: Tensor<D> = src.reshape(e.dims());
                if trained {
                    e.detach() * decay + src * (1.0 - decay)
                } else {
                    src
                }
            })
        }
    }
    let mut c = Collect(Vec::new());
    g.visit(&mut c);
    ema.map(&mut Blend(c.0.into_iter(), decay))
}

/// Reads every parameter, which initialises lazily created ones.
struct Materialise;
impl ModuleVisitor for Materialise {
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
        let _ = p.val();
    }
}

/// Root-mean-square distance of a batch's images to their mean, per pixel.
fn spread(px: &[f32], n: usize) -> f64 {
    let d = px.len() / n;
    let mut var = 0.0f64;
    for j in 0..d {
        let m: f64 = (0..n).map(|i| px[i * d + j] as f64).sum::<f64>() / n as f64;
        var += (0..n)
            .map(|i| (px[i * d + j] as f64 - m).powi(2))
            .sum::<f64>()
            / n as f64;
    }
    (var / d as f64).sqrt()
}

fn noise(rng: &mut Rng, b: usize, latent: usize, device: &Device) -> Tensor<2> {
    let z = rng.normals(b * latent);
    Tensor::from_data(TensorData::new(z, [b, latent]), device)
}

/// What one step of the game measured.
struct StepStats {
    d_loss: f32,
    g_loss: f32,
    /// Mean D(real) and D(fake) as probabilities, before the discriminator's update.
    d_real: f32,
    d_fake: f32,
    r1: f32,
}

/// One round of the game: a discriminator step on `real` `[b, c, s, s]` against the
/// generator's images for noise `z` `[b, latent]` (detached), then a generator step against
/// the updated discriminator on the same images, then the moving average; `step` is the
/// number of rounds before this one. Returns the pair, the generated images and the numbers.
fn game_step(
    mut pair: GanPair,
    optim: &mut ModuleOptimizer,
    cfg: &GanTrainConfig,
    real: Tensor<4>,
    z: Tensor<2>,
    y: Option<Tensor<2>>,
    step: u64,
) -> (GanPair, Tensor<4>, StepStats) {
    // With several ranks `real` is this rank's share of the global batch of `cfg.batch`:
    // each loss is weighted by that share of the global mean, and each update's gradients
    // and numbers are summed over the ranks.
    let share = crate::dist::loss_weight(real.dims()[0], cfg.batch);
    let weigh = |t: Tensor<1>| match share {
        Some(w) => t * w,
        None => t,
    };
    let w = share.unwrap_or(1.0) as f32;
    let fake = pair.g.forward(z, y.clone());

    // Discriminator step: real towards 1, fake (detached from G) towards 0.
    // With R1, the real logits come with their input gradient, penalised on its own.
    let (l_real, penalty) = if cfg.r1 > 0.0 {
        let (l, g) = pair.d.forward_with_input_grad(real, y.clone());
        let b = l.dims()[0] as f64;
        (l, Some(g.square().sum() * (0.5 * cfg.r1 / b)))
    } else {
        (pair.d.forward(real, y.clone()), None)
    };
    let l_fake = pair.d.forward(fake.clone().detach(), y.clone());
    let mut dl = d_loss(
        cfg.loss,
        l_real.clone(),
        l_fake.clone(),
        cfg.label_smoothing,
    );
    let mut r1 = 0.0f32;
    if let Some(p) = penalty {
        r1 = p.clone().into_scalar();
        dl = dl + p;
    }
    let dl = weigh(dl);
    let mut d_sums = [
        dl.clone().into_scalar::<f32>(),
        r1 * w,
        sigmoid(l_real.detach()).mean().into_scalar::<f32>() * w,
        sigmoid(l_fake.detach()).mean().into_scalar::<f32>() * w,
    ];
    let grads = GradientsParams::from_grads(dl.backward(), &pair.d);
    let grads =
        crate::dist::all_reduce_grads(grads, &pair.d, &mut d_sums, &crate::device::device());
    pair = optim.step(cfg.lr_d, pair, grads);

    // Generator step against the updated discriminator, whose weights are held fixed.
    let d_fixed = pair.d.clone().no_grad();
    let gl = weigh(g_loss(cfg.loss, d_fixed.forward(fake.clone(), y)));
    let mut g_sums = [gl.clone().into_scalar::<f32>()];
    let grads = GradientsParams::from_grads(gl.backward(), &pair.g);
    let grads =
        crate::dist::all_reduce_grads(grads, &pair.g, &mut g_sums, &crate::device::device());
    pair = optim.step(cfg.lr_g, pair, grads);
    if let Some(ema) = pair.ema.take() {
        // Warm-up as TensorFlow's ExponentialMovingAverage: early on, the random initial
        // weights would otherwise linger in the average for thousands of steps.
        let decay = cfg.ema.min((1.0 + step as f64) / (10.0 + step as f64));
        pair.ema = Some(update_ema(ema, &pair.g, decay));
    }
    let [d_loss, r1, d_real, d_fake] = d_sums;
    let stats = StepStats {
        d_loss,
        g_loss: g_sums[0],
        d_real,
        d_fake,
        r1,
    };
    (pair, fake, stats)
}

/// Sums of the step statistics since the last log line.
#[derive(Default)]
struct Window {
    sums: [f64; 5],
    steps: f64,
}

impl Window {
    fn add(&mut self, st: &StepStats) {
        let v = [st.d_loss, st.g_loss, st.d_real, st.d_fake, st.r1];
        for (s, v) in self.sums.iter_mut().zip(v) {
            *s += v as f64;
        }
        self.steps += 1.0;
    }

    /// Means of D's loss, G's loss, D(real), D(fake) and the R1 penalty; empties the window.
    fn take(&mut self) -> [f64; 5] {
        let means = self.sums.map(|s| s / self.steps);
        *self = Window::default();
        means
    }
}

/// What to tell the user when the game looks unhealthy: the discriminator winning
/// outright (mean D(real) above 0.97, D(fake) below 0.03), or the samples' spread below
/// `threshold` of the data's (mode collapse).
fn health_warning(d_real: f64, d_fake: f64, diversity: f64, threshold: f64) -> Option<String> {
    if d_real > 0.97 && d_fake < 0.03 {
        Some(format!(
            "the discriminator wins outright (D(real) {d_real:.3}, D(fake) {d_fake:.3}): the generator gets little signal; try --label-smoothing 0.1, --spectral-norm or a lower --lr-d"
        ))
    } else if diversity < threshold {
        Some(format!(
            "samples may have collapsed: their spread is {diversity:.2} of the data's (threshold {threshold}); try --loss hinge, --spectral-norm or a lower --lr-g"
        ))
    } else {
        None
    }
}

/// What a finished run reports.
#[derive(Clone, Debug, Serialize)]
pub struct GanSummary {
    /// Steps done.
    pub step: u64,
    /// Seconds per step over this invocation.
    pub s_per_step: f64,
    /// The sampling generator's file.
    pub model: PathBuf,
}

/// Trains (or resumes) a GAN into `out`.
pub fn train_gan(
    cfg: &GanTrainConfig,
    out: &Path,
    resume: bool,
    quiet: bool,
) -> Result<GanSummary> {
    cfg.validate()?;
    let data = Dataset::load_for_generation(&cfg.data, "GAN", cfg.conditional)?;
    train_gan_on(cfg, &data, out, resume, quiet)
}

/// Trains (or resumes) a GAN on images already in memory; `cfg.data` is only recorded.
pub fn train_gan_on(
    cfg: &GanTrainConfig,
    data: &Dataset,
    out: &Path,
    resume: bool,
    quiet: bool,
) -> Result<GanSummary> {
    cfg.validate()?;
    data.check_for_generation(&cfg.data, "GAN", cfg.conditional)?;
    let first = &data.images[0];
    if data.len() < cfg.batch {
        return Err(Error::bad_file(
            &cfg.data,
            format!(
                "has {} images, fewer than one batch of {}",
                data.len(),
                cfg.batch
            ),
        ));
    }
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

    let device = crate::device::train_device();
    device.seed(cfg.seed);
    let k = cfg.model.classes;
    let mut pair = GanPair::init(&cfg.model, cfg.ema > 0.0, &device);
    run::materialise(&pair);
    let optim = run::optimizer_with(cfg.optimizer, cfg.beta1, cfg.momentum);
    let (optim, state) = if resume {
        run.load_latest(&mut pair, optim)?
    } else {
        (optim, None)
    };
    let (mut optim, state) = run.share(&mut pair, optim, state)?;
    let (mut step, mut rng) = match state {
        Some(s) => (s.step, s.rng),
        None => (0, Rng::new(cfg.seed ^ 0x6A4E)),
    };
    run.truncate_metrics(step)?;
    let spe = (data.len() / cfg.batch) as u64;
    let total = spe * cfg.epochs;
    let mut progress = Progress::new(step, total, quiet || !crate::dist::is_root());
    if let Some(line) = crate::dist::describe(cfg.batch) {
        progress.note(&line);
    }
    progress.note(&match (resume, step) {
        (true, s) if s > 0 => format!("resumed at step {s} from {}", out.display()),
        _ => format!(
            "training gan on {} images: generator {} parameters, discriminator {}",
            data.len(),
            pair.g.num_params(),
            pair.d.num_params()
        ),
    });
    let card = |step: u64| ModelCard::new(crate::models::Descriptor::gan(cfg.model.clone()), step);
    // Fixed noise for the per-epoch grid, so epochs can be compared by eye.
    let z_fixed = noise(
        &mut Rng::new(cfg.seed ^ 0x6A1D),
        64,
        cfg.model.latent,
        &device,
    );
    let y_fixed = (k > 0).then(|| {
        let c: Vec<usize> = (0..64).map(|i| (i / 8) % k).collect();
        one_hot(&c, k, &device)
    });
    let mut epochs = EpochOrder::new((0..data.len()).collect(), cfg.seed);
    let (t0, start_step) = (Instant::now(), step);
    let mut window = Window::default();
    while step < total {
        let epoch = step / spe;
        let order = epochs.of(epoch);
        let pos = (step % spe) as usize * cfg.batch;
        // This rank's share of the batch; the noise for the whole batch is drawn on every
        // rank, and each keeps its rows.
        let mine = crate::dist::shard(cfg.batch);
        let idx = &order[pos..pos + cfg.batch][mine.clone()];
        let imgs: Vec<&Image> = idx.iter().map(|&i| &data.images[i]).collect();
        let real = crate::data::images_to_tensor(&imgs, &device) * 2.0 - 1.0; // [b, c, s, s]
        let y = data
            .labels
            .as_ref()
            .filter(|_| k > 0)
            .map(|l| one_hot(&idx.iter().map(|&i| l[i]).collect::<Vec<_>>(), k, &device));
        let z = noise(&mut rng, cfg.batch, cfg.model.latent, &device);
        let z = if crate::dist::parallel() {
            z.slice([mine.clone(), 0..cfg.model.latent])
        } else {
            z
        };
        let (next, fake, st) = game_step(pair, &mut optim, &cfg, real.clone(), z, y, step);
        if !(st.d_loss.is_finite() && st.g_loss.is_finite()) {
            return Err(run.diverged(
                &format!(
                    "discriminator loss {}, generator loss {}",
                    st.d_loss, st.g_loss
                ),
                step + 1,
                "lower --lr-g/--lr-d",
            ));
        }
        pair = next;
        step += 1;
        crate::dist::check_in_step(&pair, step)?;

        window.add(&st);
        let epoch_end = step % spe == 0;
        if step % 50 == 0 || epoch_end || step == total {
            let [dm, gm, prm, pfm, r1m] = window.take();
            let fake_px: Vec<f32> = fake.detach().into_data().try_to_vec().expect("f32");
            let real_px: Vec<f32> = real.into_data().try_to_vec().expect("f32");
            // On rank 0's share of the batch when several ranks train.
            let diversity = spread(&fake_px, mine.len()) / spread(&real_px, mine.len()).max(1e-12);
            // Freshly initialised generators make near-constant images; judge after a while.
            let judged = step >= spe.min(500);
            let warning = judged
                .then(|| health_warning(prm, pfm, diversity, cfg.collapse_threshold))
                .flatten();
            run.log(json!({"step": step, "epoch": epoch + 1, "d_loss": dm, "g_loss": gm, "d_real": prm, "d_fake": pfm, "diversity": diversity, "r1": r1m, "warning": warning, "s_per_step": progress.secs_per_step(step), "elapsed_s": t0.elapsed().as_secs_f64()}))?;
            if let Some(w) = &warning {
                progress.note(&format!("warning at step {step}: {w}"));
            }
            progress.update(
                step,
                &format!(
                    "D {dm:.3} G {gm:.3} D(real) {prm:.2} D(fake) {pfm:.2} spread {diversity:.2}"
                ),
                epoch_end,
            );
        }
        if epoch_end && crate::dist::is_root() {
            let net = pair.sampler().valid();
            let samples = to_unit(net.forward(z_fixed.clone(), y_fixed.clone()));
            let grid_img = grid(&tensor_to_images(samples), 8);
            grid_img.save(&out.join(format!("samples/epoch-{:04}.png", step / spe)))?;
            grid_img.save(&out.join("samples.png"))?;
            run.save_plot(&[
                ("DISCRIMINATOR LOSS", "d_loss", false),
                ("GENERATOR LOSS", "g_loss", false),
                ("MEAN D(REAL)", "d_real", false),
                ("MEAN D(FAKE)", "d_fake", false),
                ("SAMPLE SPREAD / DATA SPREAD", "diversity", false),
            ])?;
        }
        if step % cfg.checkpoint_every == 0 || step == total {
            let st = TrainState::new(step, rng.clone(), None);
            run.save_checkpoint(
                &pair,
                &pair.sampler().valid(),
                &optim,
                &card(step),
                &st,
                cfg.keep,
            )?;
        }
    }
    let path = out.join("model.safetensors");
    if crate::dist::is_root() {
        checkpoint::save(&path, &pair.sampler().valid(), &card(step))?;
    }
    Ok(GanSummary {
        step,
        s_per_step: t0.elapsed().as_secs_f64() / (step - start_step).max(1) as f64,
        model: path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Golden values from PyTorch 2.15:
    /// ```python
    /// import torch, torch.nn.functional as F
    /// lr = torch.tensor([[2.0], [-1.0], [0.5], [30.0]])
    /// lf = torch.tensor([[-3.0], [0.2], [1.5], [-40.0]])
    /// bce = F.binary_cross_entropy_with_logits
    /// d_ns = bce(lr, torch.full_like(lr, 0.9)) + bce(lf, torch.zeros_like(lf))  # 1.9031017
    /// g_ns = bce(lf, torch.ones_like(lf))                                        # 10.962035
    /// g_mm = -bce(lf, torch.zeros_like(lf))                                      # -0.6370349
    /// d_h = F.relu(1 - lr).mean() + F.relu(1 + lf).mean()                        # 1.55
    /// g_h = -lf.mean()                                                           # 10.325
    /// ```
    /// Tolerance 1e-5 relative: f32 arithmetic on both sides.
    #[test]
    fn losses_match_pytorch() {
        let device = crate::device::device();
        let t = |v: [f32; 4]| Tensor::<2>::from_data(TensorData::new(v.to_vec(), [4, 1]), &device);
        let (lr, lf) = (t([2.0, -1.0, 0.5, 30.0]), t([-3.0, 0.2, 1.5, -40.0]));
        let v = |x: Tensor<1>| x.into_scalar::<f32>() as f64;
        let cases = [
            (
                v(d_loss(GanLoss::Ns, lr.clone(), lf.clone(), 0.1)),
                1.9031016826629639,
            ),
            (
                v(d_loss(GanLoss::Minimax, lr.clone(), lf.clone(), 0.1)),
                1.9031016826629639,
            ),
            (v(g_loss(GanLoss::Ns, lf.clone())), 10.962035179138184),
            (v(g_loss(GanLoss::Minimax, lf.clone())), -0.6370348930358887),
            (
                v(d_loss(GanLoss::Hinge, lr, lf.clone(), 0.0)),
                1.5499999523162842,
            ),
            (v(g_loss(GanLoss::Hinge, lf)), 10.324999809265137),
        ];
        for (i, (got, want)) in cases.into_iter().enumerate() {
            assert!(
                (got - want).abs() <= 1e-5 * want.abs(),
                "case {i}: {got} vs {want}"
            );
        }
    }

    /// The moving average blends trained weights and copies batch-norm statistics.
    #[test]
    fn ema_blends_weights_and_copies_buffers() {
        let device = crate::device::train_device();
        let cfg = GanConfig::new().with_g_width(4).with_latent(3);
        let g = cfg.init_generator(&device);
        g.visit(&mut Materialise);
        let ema = g.clone().no_grad();
        // Move g's weights and its batch-norm statistics away from the copy.
        let mut before = Collect2(vec![]);
        ema.visit(&mut before);
        let g = g.map(&mut Shift);
        let (mut src, mut out) = (Collect2(vec![]), Collect2(vec![]));
        g.visit(&mut src);
        update_ema(ema, &g, 0.75).visit(&mut out);
        let mut trained = 0;
        for ((e, (s, req)), (o, _)) in before.0.iter().zip(&src.0).zip(&out.0) {
            for ((e, s), o) in e.0.0.iter().zip(&s.0).zip(&o.0) {
                let want = if *req { 0.75 * e + 0.25 * s } else { *s };
                assert!((o - want).abs() < 1e-6, "{o} vs {want}");
            }
            trained += *req as usize;
        }
        assert!(trained > 0 && trained < out.0.len(), "both kinds present");
    }

    /// Two rounds of the game (Adam, non-saturating loss, moving average) from the weights in
    /// `tests/fixtures/gan-step.safetensors`, against the same rounds in PyTorch 2.15 with the
    /// twin's networks (`bench/gan_twin.py`), which also wrote the fixture:
    /// ```python
    /// torch.manual_seed(0)
    /// g, d = G(latent=4, top=8, s0=2), D(width=4, size=8)
    /// for m in (g, d):
    ///     for p in m.parameters():
    ///         torch.nn.init.normal_(p, 0.0, 0.3)
    /// # saved as g.*, ema.* (the same values) and d.*, linear weights transposed to burn's
    /// # [in, out], e.g. t["g.fc.weight"] = g.fc.weight.T, t["d.head.lin.weight"] = d.head.weight.T
    /// ema = G(latent=4, top=8, s0=2); ema.load_state_dict(g.state_dict())
    /// og = torch.optim.Adam(g.parameters(), lr=0.01, betas=(0.5, 0.999), eps=1e-8)
    /// od = torch.optim.Adam(d.parameters(), lr=0.01, betas=(0.5, 0.999), eps=1e-8)
    /// real = torch.sin(0.37 * torch.arange(4 * 64.0)).reshape(4, 1, 8, 8)
    /// for step in range(2):
    ///     z = torch.cos((0.91 + 0.1 * step) * torch.arange(4 * 4.0)).reshape(4, 4) * 1.3
    ///     fake = g(z)
    ///     lr_, lf = d(real), d(fake.detach())
    ///     dl = F.binary_cross_entropy_with_logits(lr_, torch.ones_like(lr_)) + \
    ///         F.binary_cross_entropy_with_logits(lf, torch.zeros_like(lf))
    ///     od.zero_grad(); dl.backward(); od.step()
    ///     for p in d.parameters(): p.requires_grad_(False)
    ///     lg = d(fake); gl = F.binary_cross_entropy_with_logits(lg, torch.ones_like(lg))
    ///     og.zero_grad(); gl.backward(); og.step()
    ///     for p in d.parameters(): p.requires_grad_(True)
    ///     decay = min(0.999, (1 + step) / (10 + step))
    ///     with torch.no_grad():
    ///         for pe, pg in zip(ema.parameters(), g.parameters()): pe.mul_(decay).add_(pg, alpha=1 - decay)
    ///         for be, bg in zip(ema.buffers(), g.buffers()): be.copy_(bg)
    ///     print(dl.item(), gl.item(), torch.sigmoid(lr_).mean().item(), torch.sigmoid(lf).mean().item())
    /// def check(x): x = x.detach().double().flatten(); return (x * torch.arange(1.0, len(x) + 1, dtype=torch.float64)).sum().item()
    /// print(check(d.c1.weight), check(g.fc.weight.T), check(ema.up0.weight), check(ema.bn0.running_mean))
    /// ```
    /// Tolerances: 1e-5 on losses and probabilities, 1e-2 on the weighted sums of weights
    /// (hundreds of f32 weights times their index; a missed or doubled update moves them by
    /// tens), 1e-5 on that of the 8 running means. The running variances are not compared:
    /// burn keeps the biased batch variance, PyTorch the unbiased one, a factor n/(n-1) that
    /// is 16/15 here but 3136/3135 for the default GAN at batch 64.
    #[test]
    fn two_rounds_match_pytorch() {
        let device = crate::device::train_device();
        let model = GanConfig::new()
            .with_size(8)
            .with_latent(4)
            .with_g_width(4)
            .with_d_width(4);
        let mut pair = GanPair::init(&model, true, &device);
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gan-step.safetensors");
        let bytes = checkpoint::read_file(&path).unwrap();
        checkpoint::load_weights(&path, bytes, &mut pair).unwrap();
        let cfg = GanTrainConfig {
            lr_g: 0.01,
            lr_d: 0.01,
            ..GanTrainConfig::default()
        };
        let mut optim = burn::optim::AdamConfig::new()
            .with_beta_1(0.5)
            .with_epsilon(1e-8)
            .init();
        let formula = |n: usize, f: &dyn Fn(f32) -> f32| -> Vec<f32> {
            (0..n).map(|i| f(i as f32)).collect()
        };
        let real = Tensor::<4>::from_data(
            TensorData::new(formula(256, &|i| (0.37 * i).sin()), [4, 1, 8, 8]),
            &device,
        );
        let want = [
            [1.2787927, 1.1713685, 0.5116045, 0.3531995],
            [1.1013656, 1.2551788, 0.5784305, 0.3469177],
        ];
        for (step, w) in want.iter().enumerate() {
            let a = 0.91 + 0.1 * step as f32;
            let z = Tensor::<2>::from_data(
                TensorData::new(formula(16, &|i| (a * i).cos() * 1.3), [4, 4]),
                &device,
            );
            let (next, _, st) =
                game_step(pair, &mut optim, &cfg, real.clone(), z, None, step as u64);
            pair = next;
            for (got, want) in [st.d_loss, st.g_loss, st.d_real, st.d_fake].iter().zip(w) {
                assert!(
                    (got - want).abs() < 1e-5,
                    "step {}: {got} vs {want}",
                    step + 1
                );
            }
        }
        let bytes = checkpoint::to_bytes(
            &pair.valid(),
            &ModelCard::new(crate::models::Descriptor::gan(cfg.model.clone()), 2),
        )
        .unwrap();
        let tensors = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        for (name, want) in [
            ("d.convs.1.conv.weight", -2031.0109141790308),
            ("g.fc.weight", 89.32763348240405),
            ("ema.ups.0.weight", -2507.2791580409976),
            ("ema.norms.0.running_mean", 0.12132819928228855),
        ] {
            let t = tensors.tensor(name).unwrap();
            let got: f64 = t
                .data()
                .chunks_exact(4)
                .enumerate()
                .map(|(i, b)| (i + 1) as f64 * f32::from_le_bytes(b.try_into().unwrap()) as f64)
                .sum();
            let tol = if name.contains("running") { 1e-5 } else { 1e-2 };
            assert!((got - want).abs() < tol, "{name}: {got} vs {want}");
        }
    }

    struct Shift;
    impl ModuleMapper for Shift {
        fn map_float<const D: usize>(&mut self, p: Param<Tensor<D>>) -> Param<Tensor<D>> {
            p.map(|t| {
                let (req, device, shape) = (t.is_require_grad(), t.device(), t.shape());
                let v: Vec<f32> = t.into_data().try_to_vec().unwrap();
                let v: Vec<f32> = v.iter().map(|x| x + 1.0).collect();
                let t = Tensor::<D>::from_data(TensorData::new(v, shape), &device);
                if req { t.require_grad() } else { t }
            })
        }
    }

    struct Values(Vec<f32>);
    struct Collect2(Vec<(Values, bool)>);
    impl ModuleVisitor for Collect2 {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            let t = p.val();
            let req = t.is_require_grad();
            let v: Vec<f32> = t.into_data().try_to_vec().unwrap();
            self.0.push((Values(v), req));
        }
    }
}
