//! `regen train restore|vae|gan`: the run's config (`--config`, or the run's own on
//! `--resume`) with the flags laid over it, then the library's trainer.

use std::process::ExitCode;

use anyhow::Result;
use regen::corrupt::Sigma;
use regen::train::{GanTrainConfig, RestoreTrainConfig, VaeTrainConfig, load_config};

use crate::args::{RunArgs, TrainGanArgs, TrainRestoreArgs, TrainVaeArgs};

/// Lays each named flag of `a` over the config field of the same name: a flag given wins.
macro_rules! lay {
    ($cfg:expr, $a:expr; $($field:ident),+) => {
        $(if let Some(v) = $a.$field { $cfg.$field = v; })+
    };
}

fn config<T: serde::de::DeserializeOwned + Default>(run: &RunArgs) -> Result<T> {
    Ok(load_config(run.config.as_deref(), &run.out, run.resume)?)
}

pub fn restore(a: TrainRestoreArgs) -> Result<ExitCode> {
    let mut cfg: RestoreTrainConfig = config(&a.run)?;
    if let Some(task) = a.task {
        cfg.set_task(task);
    }
    if let Some(v) = a.sigma {
        cfg.set_sigma(Sigma::parse(&v)?)?;
    }
    if let Some(s) = a.scale {
        cfg.set_scale(s)?;
    }
    if let Some(d) = a.degradation {
        cfg.set_degradation(d)?;
    }
    if a.loss.is_some() {
        cfg.loss = a.loss;
    }
    lay!(cfg, a; data, patch, batch, steps, epoch_steps, optimizer, lr, schedule, checkpoint_every);
    lay!(cfg.model, a; arch, width, depth);
    if let Some(n) = a.convs {
        cfg.model.convs_per_block = n;
    }
    cfg.model.skips &= !a.no_skips;
    if let Some(c) = a.channels {
        cfg.model.out_channels = c;
    }
    if a.noise_map {
        cfg.model.noise_map = Some(true);
    }
    lay!(cfg, a.run; seed);
    cfg.non_blind |= a.non_blind;
    cfg.init = a.init.or(cfg.init.take());
    let summary = regen::train::train_restore(&cfg, &a.run.out, a.run.resume, a.run.quiet)?;
    super::print(&(serde_json::to_string(&summary)? + "\n"))
}

pub fn gan(a: TrainGanArgs) -> Result<ExitCode> {
    let mut cfg: GanTrainConfig = config(&a.run)?;
    cfg.conditional |= a.common.conditional;
    lay!(cfg, a.common; data, batch, epochs);
    lay!(cfg.model, a.common; latent);
    lay!(cfg.model, a; depth, g_width, d_width);
    cfg.model.g_batchnorm &= !a.no_batchnorm;
    cfg.model.spectral_norm |= a.spectral_norm;
    lay!(cfg, a; loss, optimizer, label_smoothing, ema, r1, checkpoint_every);
    cfg.lr_g = a.lr_g.or(a.lr).unwrap_or(cfg.lr_g);
    cfg.lr_d = a.lr_d.or(a.lr).unwrap_or(cfg.lr_d);
    lay!(cfg, a.run; seed);
    let summary = regen::train::train_gan(&cfg, &a.run.out, a.run.resume, a.run.quiet)?;
    super::print(&(serde_json::to_string(&summary)? + "\n"))
}

pub fn vae(a: TrainVaeArgs) -> Result<ExitCode> {
    let mut cfg: VaeTrainConfig = config(&a.run)?;
    cfg.conditional |= a.common.conditional;
    lay!(cfg, a.common; data, batch, epochs);
    lay!(cfg.model, a.common; latent);
    lay!(cfg.model, a; width, depth, likelihood);
    lay!(cfg, a; lr, beta, kl_warmup);
    lay!(cfg, a.run; seed);
    let model = regen::train::train_vae(&cfg, &a.run.out, a.run.resume, a.run.quiet)?;
    super::print(&format!("{}\n", model.display()))
}
