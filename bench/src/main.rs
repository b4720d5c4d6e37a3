//! Times one restoration network the way `restore_speed.py` times its PyTorch twin:
//! training steps (forward, MSE, backward, Adam) on a random batch, and a forward pass on a
//! 512x512 image. Prints one JSON line.
//!
//! Usage: `regen-bench ARCH WIDTH DEPTH BATCH PATCH STEPS SIZE REPS` (on the device
//! `REGEN_DEVICE` names; the CPU by default). ARCH is `encdec`, `dncnn` (gray, MSE) or
//! `compact-x2` / `compact-x4` (an RGB upscaler: WIDTH features, DEPTH convolutions, L1
//! against a target `s` times the patch, as upscalers train).

use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Distribution, Tensor};
use regen::models::{Arch, RestoreConfig};

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    if a.len() != 8 {
        eprintln!("usage: regen-bench ARCH WIDTH DEPTH BATCH PATCH STEPS SIZE REPS");
        std::process::exit(2);
    }
    let n = |i: usize| a[i].parse::<usize>().expect("a number");
    let (arch, scale) = match a[0].as_str() {
        "dncnn" => (Arch::DnCnn, None),
        "compact-x2" => (Arch::Compact, Some(2)),
        "compact-x4" => (Arch::Compact, Some(4)),
        _ => (Arch::EncDec, None),
    };
    let channels = if scale.is_some() { 3 } else { 1 };
    let config = RestoreConfig::new()
        .with_arch(arch)
        .with_in_channels(channels)
        .with_out_channels(channels)
        .with_scale(scale)
        .with_width(n(1))
        .with_depth(n(2));
    let (batch, patch, steps, size, reps) = (n(3), n(4), n(5), n(6), n(7));
    // REGEN_DEVICE=gpu times the wgpu build (`--features gpu`) on its GPU.
    if let Err(e) = regen::device::resolve(None) {
        eprintln!("error: {e}");
        std::process::exit(2);
    }

    // On a pool thread, as `regen` runs every command (`regen::device::in_pool`).
    regen::device::in_pool(|| measure(&config, batch, patch, steps, size, reps));
    // REGEN_PROFILE=1: each convolution pass's time per shape, on stderr (stdout is the JSON).
    if let Some(report) = regen::engine::backend::profile_report() {
        eprintln!("{report}");
    }
}

/// Times `steps` training steps on random `batch` x `patch`^2 pairs and `reps` restores of
/// one `size`^2 image, and prints one JSON line.
fn measure(
    config: &RestoreConfig,
    batch: usize,
    patch: usize,
    steps: usize,
    size: usize,
    reps: usize,
) {
    // Resident memory before the network exists: the training step's peak is measured above it.
    let base_mb = status_mb("VmRSS");
    let device = regen::device::train_device();
    let mut model = config.init(&device);
    let mut optim = AdamConfig::new().init();
    let (c, s) = (config.out_channels, config.upscale_factor());
    let x = Tensor::<4>::random([batch, c, patch, patch], Distribution::Default, &device);
    let y = Tensor::<4>::random(
        [batch, c, s * patch, s * patch],
        Distribution::Default,
        &device,
    );
    let (mut times, mut fwd, mut bwd, mut opt) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..steps + 2 {
        let t = Instant::now();
        let d = model.forward(x.clone()) - y.clone();
        let loss = if s > 1 {
            d.abs().mean()
        } else {
            d.square().mean()
        };
        let _: f32 = loss.clone().into_scalar();
        let t_fwd = t.elapsed().as_secs_f64();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let t_bwd = t.elapsed().as_secs_f64();
        model = optim.step(1e-4, model, grads);
        // Two warm-up steps are not timed.
        if i >= 2 {
            let total = t.elapsed().as_secs_f64();
            times.push(total);
            fwd.push(t_fwd);
            bwd.push(t_bwd - t_fwd);
            opt.push(total - t_bwd);
        }
    }
    let peak_mb = status_mb("VmHWM");
    let net = model.valid();
    let plain = regen::device::device();
    let img = Tensor::<4>::random([1, c, size, size], Distribution::Default, &plain);
    let mut ftimes = Vec::new();
    for i in 0..reps + 1 {
        let t = Instant::now();
        let out: Vec<f32> = net.forward(img.clone()).into_data().try_to_vec().unwrap();
        assert_eq!(out.len(), c * s * s * size * size);
        if i >= 1 {
            ftimes.push(t.elapsed().as_secs_f64());
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "{}",
        serde_json::json!({
            "params": net.num_params(),
            "train_step_ms": 1000.0 * median(&mut times),
            "forward_ms": 1000.0 * median(&mut fwd),
            "backward_ms": 1000.0 * median(&mut bwd),
            "optimizer_ms": 1000.0 * median(&mut opt),
            "restore_ms": 1000.0 * median(&mut ftimes),
            "base_mb": base_mb,
            "train_peak_mb": peak_mb,
        })
    );
}

/// A memory figure of this process from /proc/self/status, in MiB (VmRSS now, VmHWM the peak).
fn status_mb(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(&format!("{field}:")))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}
