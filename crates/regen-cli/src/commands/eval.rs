//! `regen eval restore|vae|generate|augment`: the library measures and makes the tables.

use std::process::ExitCode;

use anyhow::Result;
use regen::corrupt::Corruption;
use regen::corrupt::mask::parse_fraction_range;
use regen::data::Dataset;
use regen::eval::augment::{AugmentConfig, augment as run_augment, table};

use super::report;
use crate::args::{EvalAugmentArgs, EvalGenerateArgs, EvalNoiseArgs, EvalRestoreArgs, EvalVaeArgs};

pub fn restore(a: EvalRestoreArgs) -> Result<ExitCode> {
    let coverage = parse_fraction_range("--coverage", &a.coverage)?;
    let damage = Corruption::for_eval(
        a.task,
        a.sigma.as_deref(),
        coverage,
        a.blur.kind(),
        (a.scale, a.degradation),
    )?;
    let r = regen::eval::restore::eval_folder(
        a.model.as_deref(),
        a.task,
        a.ensemble,
        &a.data,
        &damage,
        a.seed,
        |e| eprintln!("note: skipping {e}"),
    )?;
    report(a.json.json, &r, || r.table())
}

pub fn vae(a: EvalVaeArgs) -> Result<ExitCode> {
    let probe = a.probe_train.as_deref();
    let r = regen::eval::vae::eval_files(&a.model, &a.data, a.k, a.seed, probe)?;
    report(a.json.json, &r, || r.table())
}

pub fn generate(a: EvalGenerateArgs) -> Result<ExitCode> {
    let r = regen::eval::generate::eval_files(&a.data, &a.samples, a.n, a.seed)?;
    report(a.json.json, &r, || r.table())
}

pub fn augment(a: EvalAugmentArgs) -> Result<ExitCode> {
    let train = Dataset::load(&a.data)?;
    let test = Dataset::load(&a.test)?;
    let cfg = AugmentConfig::new(
        a.per_class,
        a.generated,
        a.seeds,
        a.steps,
        a.gan_epochs,
        a.vae_epochs,
        a.work,
    );
    let rows = run_augment(&train, &test, &cfg, |m| eprintln!("{m}"))?;
    report(a.json.json, &rows, || table(&rows, &cfg, &a.test))
}

pub fn noise(a: EvalNoiseArgs) -> Result<ExitCode> {
    let r = regen::eval::noise::eval_noise(&a.data, &a.sigmas, a.seed)?;
    report(a.json.json, &r, || r.table())
}
