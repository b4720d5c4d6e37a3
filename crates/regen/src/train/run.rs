//! The services every training loop shares: the run folder, metrics as JSON lines, the
//! learning-rate schedule, and checkpoints that survive a kill at any moment.
//!
//! A checkpoint is a folder `checkpoints/step-NNNNNNNN/` holding the model (safetensors,
//! usable by `regen restore` directly), the training copy of the model and the optimizer
//! state (burnpack, which keeps the parameter ids the optimizer state is keyed by), and
//! `state.json` (step, RNG, best score). It is assembled under a temporary name and renamed
//! into place, so a folder with the final name is always complete.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::store::{BurnpackStore, ModuleSnapshot};
use burn::tensor::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::checkpoint::{self, ModelCard};
use crate::error::{Error, Result};
use crate::fsutil::write_atomic;
use crate::rng::Rng;

/// Optimizer choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Adam (beta1 0.9, beta2 0.999).
    Adam,
    /// SGD with momentum, as the seed describes.
    Sgd,
}

crate::choice::named!(OptimizerKind, "optimizer", "adam or sgd");

/// Learning-rate schedule over the whole run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    /// `lr` throughout.
    Constant,
    /// Cosine from `lr` to `lr_min`.
    Cosine,
    /// `lr`, divided by 10 at 50% and again at 75% of the run.
    Step,
}

crate::choice::named!(Schedule, "schedule", "cosine, step or constant");

/// Reads a run's TOML training config: `config` when given, else on `resume` the run
/// folder's own `config.toml` (so a resumed run keeps what it was started with), else the
/// defaults. Flags are laid over the result by the caller.
pub fn load_config<T: serde::de::DeserializeOwned + Default>(
    config: Option<&Path>,
    out: &Path,
    resume: bool,
) -> Result<T> {
    let saved = out.join("config.toml");
    let file = config
        .map(Path::to_path_buf)
        .or_else(|| (resume && saved.exists()).then_some(saved));
    let Some(p) = file else {
        return Ok(T::default());
    };
    let text = std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?;
    toml::from_str(&text).map_err(|e| Error::bad_file(&p, format!("bad config: {}", e.message())))
}

/// The learning rate at `step` of `total`, after a linear warm-up of `warmup` steps.
pub fn learning_rate(
    schedule: Schedule,
    lr: f64,
    lr_min: f64,
    warmup: u64,
    step: u64,
    total: u64,
) -> f64 {
    if step < warmup {
        return lr * (step + 1) as f64 / warmup as f64;
    }
    let t = step as f64 / total.max(1) as f64;
    match schedule {
        Schedule::Constant => lr,
        Schedule::Cosine => lr_min + 0.5 * (lr - lr_min) * (1.0 + (std::f64::consts::PI * t).cos()),
        Schedule::Step if t >= 0.75 => lr / 100.0,
        Schedule::Step if t >= 0.5 => lr / 10.0,
        Schedule::Step => lr,
    }
}

/// Builds the optimizer: Adam with beta1 0.9 or SGD with `momentum`.
pub fn optimizer(kind: OptimizerKind, momentum: f64) -> ModuleOptimizer {
    optimizer_with(kind, 0.9, momentum)
}

/// Builds the optimizer: Adam (`beta1`, beta2 0.999, epsilon 1e-8, as PyTorch's) or SGD
/// with `momentum` and no dampening (as PyTorch's; burn defaults to 0.1).
pub fn optimizer_with(kind: OptimizerKind, beta1: f64, momentum: f64) -> ModuleOptimizer {
    match kind {
        OptimizerKind::Adam => burn::optim::AdamConfig::new()
            .with_beta_1(beta1 as f32)
            .with_epsilon(1e-8)
            .init(),
        OptimizerKind::Sgd => burn::optim::SgdConfig::new()
            .with_momentum(Some(
                burn::optim::momentum::MomentumConfig::new()
                    .with_momentum(momentum)
                    .with_dampening(0.0),
            ))
            .init(),
    }
}

/// Draws every lazily initialised parameter of a fresh `module` now, in the module's own
/// order. burn draws a parameter's initial values when it is first read; left lazy, that
/// is the first forward pass's order on one process but the serialisation order on rank 0
/// of a multi-rank run (which sends its weights before the first step), and the same seed
/// would give the two different networks.
pub fn materialise<M: Module>(module: &M) {
    struct Read;
    impl burn::module::ModuleVisitor for Read {
        fn visit_float<const D: usize>(
            &mut self,
            p: &burn::module::Param<burn::tensor::Tensor<D>>,
        ) {
            let _ = p.val();
        }
    }
    module.visit(&mut Read);
}

/// What a checkpoint remembers besides weights and optimizer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainState {
    /// Steps completed.
    pub step: u64,
    /// The training RNG as it stood after `step` steps.
    pub rng: Rng,
    /// Best validation score so far (higher is better) and its step.
    pub best: Option<(f64, u64)>,
    /// How many ranks trained the last step (1 without MPI; older checkpoints lack it).
    #[serde(default = "one_rank")]
    pub ranks: usize,
}

fn one_rank() -> usize {
    1
}

impl TrainState {
    /// The state after `step` steps, recording this job's rank count.
    pub fn new(step: u64, rng: Rng, best: Option<(f64, u64)>) -> TrainState {
        TrainState {
            step,
            rng,
            best,
            ranks: crate::dist::world().size(),
        }
    }
}

/// The order in which an epoch visits the training items: a shuffle that depends only on
/// (seed, epoch), so a run resumed mid-epoch continues the same order. Shuffled once per
/// epoch (shuffling 60,000 indices on every step cost about 1% of a VAE step).
pub struct EpochOrder {
    items: Vec<usize>,
    seed: u64,
    epoch: Option<u64>,
    order: Vec<usize>,
}

impl EpochOrder {
    /// The order over `items` for runs seeded with `seed`.
    pub fn new(items: Vec<usize>, seed: u64) -> Self {
        EpochOrder {
            items,
            seed,
            epoch: None,
            order: Vec::new(),
        }
    }

    /// The items in the order of `epoch` (Fisher-Yates with the epoch's own RNG).
    pub fn of(&mut self, epoch: u64) -> &[usize] {
        if self.epoch != Some(epoch) {
            self.order.clone_from(&self.items);
            let mut r = Rng::derived(self.seed, epoch);
            r.shuffle(&mut self.order);
            self.epoch = Some(epoch);
        }
        &self.order
    }
}

/// A training run's folder.
pub struct RunDir {
    /// The folder.
    pub root: PathBuf,
    metrics: Vec<Value>,
    /// Whether this process writes the folder: rank 0 of a multi-rank run, or the one
    /// process. The other ranks keep their records in memory and never touch the disk
    /// (the folder may not even be shared with them).
    writes: bool,
}

impl RunDir {
    /// Opens `root` for a new run (`resume` false: it must hold no checkpoints) or to
    /// continue one. Leftovers of an interrupted checkpoint write are removed.
    pub fn open(root: &Path, resume: bool) -> Result<RunDir> {
        if !crate::dist::is_root() {
            return Ok(RunDir {
                root: root.to_path_buf(),
                metrics: Vec::new(),
                writes: false,
            });
        }
        std::fs::create_dir_all(root.join("checkpoints")).map_err(|e| Error::io(root, e))?;
        let mut run = RunDir {
            root: root.to_path_buf(),
            metrics: Vec::new(),
            writes: true,
        };
        let ckpts = run.checkpoints()?;
        if !resume && !ckpts.is_empty() {
            return Err(Error::arg(format!(
                "{}: already holds a training run; pass --resume to continue it or choose another --out",
                root.display()
            )));
        }
        for e in std::fs::read_dir(root.join("checkpoints")).map_err(|e| Error::io(root, e))? {
            let p = e.map_err(|e| Error::io(root, e))?.path();
            if p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(".tmp-"))
            {
                let _ = std::fs::remove_dir_all(&p);
            }
        }
        if resume {
            let text = std::fs::read_to_string(run.root.join("metrics.jsonl")).unwrap_or_default();
            run.metrics = text
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect();
        }
        Ok(run)
    }

    /// Complete checkpoint folders, oldest first, with their steps.
    pub fn checkpoints(&self) -> Result<Vec<(u64, PathBuf)>> {
        if !self.writes {
            return Ok(Vec::new());
        }
        let dir = self.root.join("checkpoints");
        let mut out = Vec::new();
        for e in std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
            let p = e.map_err(|e| Error::io(&dir, e))?.path();
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if let Some(step) = name.strip_prefix("step-").and_then(|s| s.parse().ok()) {
                out.push((step, p));
            }
        }
        out.sort();
        Ok(out)
    }

    /// Writes `text` to `name` in the run folder, atomically.
    pub fn write(&self, name: &str, text: &str) -> Result<()> {
        if !self.writes {
            return Ok(());
        }
        write_atomic(&self.root.join(name), text.as_bytes())
    }

    /// Adds a metrics record and rewrites `metrics.jsonl`.
    pub fn log(&mut self, record: Value) -> Result<()> {
        self.metrics.push(record);
        self.flush_metrics()
    }

    /// Keeps only records up to `step` (used when resuming from an earlier checkpoint than
    /// the last logged line).
    pub fn truncate_metrics(&mut self, step: u64) -> Result<()> {
        self.metrics.retain(|r| {
            r.get("step")
                .and_then(Value::as_u64)
                .is_some_and(|s| s <= step)
        });
        self.flush_metrics()
    }

    fn flush_metrics(&self) -> Result<()> {
        if !self.writes {
            return Ok(());
        }
        let mut s = String::new();
        for r in &self.metrics {
            s.push_str(&r.to_string());
            s.push('\n');
        }
        self.write("metrics.jsonl", &s)
    }

    /// Draws `plot.png`: one panel per (title, metrics key, log scale), each the key's values
    /// against the step.
    pub fn save_plot(&self, panels: &[(&str, &str, bool)]) -> Result<()> {
        if !self.writes {
            return Ok(());
        }
        let series: Vec<Vec<(f64, f64)>> = panels
            .iter()
            .map(|(_, key, _)| {
                self.metrics
                    .iter()
                    .filter_map(|r| Some((r.get("step")?.as_f64()?, r.get(*key)?.as_f64()?)))
                    .collect()
            })
            .collect();
        let panels: Vec<crate::plot::Panel> = panels
            .iter()
            .zip(&series)
            .map(|((title, _, log_y), points)| crate::plot::Panel {
                title,
                points,
                log_y: *log_y,
            })
            .collect();
        crate::plot::save(&self.root.join("plot.png"), &panels)
    }

    /// The error for a non-finite loss at `step`: `what` describes the loss; the message
    /// names the newest checkpoint (complete by construction) and how to go on.
    pub fn diverged(&self, what: &str, step: u64, advice: &str) -> Error {
        let last = match self.checkpoints().ok().and_then(|mut c| c.pop()) {
            Some((s, _)) => format!(
                "the last good checkpoint (step {s}) in {} is intact; {advice} and --resume",
                self.root.display()
            ),
            None => format!("no checkpoint had been written yet; {advice}"),
        };
        Error::Diverged(format!("training diverged: {what} at step {step}; {last}"))
    }

    /// All metrics records.
    pub fn metrics(&self) -> &[Value] {
        &self.metrics
    }

    /// Saves a checkpoint; keeps the newest `keep` and deletes older ones. `model` is the
    /// training state; `export` is what `model.safetensors` holds for inference (for most
    /// families `model.valid()`; for a GAN only the sampling generator).
    pub fn save_checkpoint<M: Module + ModuleSnapshot, E: ModuleSnapshot>(
        &self,
        model: &M,
        export: &E,
        optim: &ModuleOptimizer,
        card: &ModelCard,
        state: &TrainState,
        keep: usize,
    ) -> Result<PathBuf> {
        let dir = self.root.join("checkpoints");
        let final_dir = dir.join(format!("step-{:08}", state.step));
        if !self.writes {
            return Ok(final_dir);
        }
        let tmp = dir.join(format!(".tmp-step-{:08}", state.step));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
        checkpoint::save(&tmp.join("model.safetensors"), export, card)?;
        let mut store = BurnpackStore::from_bytes(None);
        model
            .save_into(&mut store)
            .map_err(|e| Error::internal(format!("cannot serialise training model: {e}")))?;
        let bytes = store
            .get_bytes()
            .map_err(|e| Error::internal(format!("cannot serialise training model: {e}")))?;
        write_atomic(&tmp.join("train-model.bpk"), &bytes)?;
        let ob = optim
            .into_bytes()
            .map_err(|e| Error::internal(format!("cannot serialise optimizer: {e:?}")))?;
        write_atomic(&tmp.join("optimizer.bpk"), &ob)?;
        let st = serde_json::to_string_pretty(state).expect("state serialises");
        write_atomic(&tmp.join("state.json"), st.as_bytes())?;
        let _ = std::fs::remove_dir_all(&final_dir);
        std::fs::rename(&tmp, &final_dir).map_err(|e| Error::io(&final_dir, e))?;
        let all = self.checkpoints()?;
        if all.len() > keep {
            for (_, p) in &all[..all.len() - keep] {
                let _ = std::fs::remove_dir_all(p);
            }
        }
        Ok(final_dir)
    }

    /// Hands rank 0's model, optimizer and state (fresh, from `--init`, or resumed) to
    /// every rank before the first step ([`crate::dist::share_start`]); on one process
    /// they come back as they are.
    pub fn share<M: Module + ModuleSnapshot>(
        &self,
        model: &mut M,
        optim: ModuleOptimizer,
        state: Option<TrainState>,
    ) -> Result<(ModuleOptimizer, Option<TrainState>)> {
        if !crate::dist::parallel() {
            return Ok((optim, state));
        }
        let mut json = serde_json::to_vec(&state).expect("state serialises");
        let optim = crate::dist::share_start(model, optim, &mut json)?;
        let state = serde_json::from_slice(&json)
            .map_err(|e| Error::internal(format!("rank 0's training state: {e}")))?;
        Ok((optim, state))
    }

    /// Loads the newest checkpoint into `model` and `optim`, if there is one.
    pub fn load_latest<M: Module + ModuleSnapshot>(
        &self,
        model: &mut M,
        optim: ModuleOptimizer,
    ) -> Result<(ModuleOptimizer, Option<TrainState>)> {
        let Some((_, dir)) = self.checkpoints()?.pop() else {
            return Ok((optim, None));
        };
        let bad = |what: &str, e: String| Error::checkpoint(&dir.join(what), e);
        let st = std::fs::read_to_string(dir.join("state.json")).map_err(|e| Error::io(&dir, e))?;
        let state: TrainState =
            serde_json::from_str(&st).map_err(|e| bad("state.json", e.to_string()))?;
        let mb = std::fs::read(dir.join("train-model.bpk")).map_err(|e| Error::io(&dir, e))?;
        let mut store = BurnpackStore::from_bytes(Some(Bytes::from_bytes_vec(mb)));
        model
            .load_from(&mut store)
            .map_err(|e| bad("train-model.bpk", format!("does not fit this model: {e}")))?;
        let ob = std::fs::read(dir.join("optimizer.bpk")).map_err(|e| Error::io(&dir, e))?;
        let optim = optim
            .from_bytes(Bytes::from_bytes_vec(ob))
            .map_err(|e| bad("optimizer.bpk", format!("{e:?}")))?;
        Ok((optim, Some(state)))
    }
}
