//! `--device gpu` (issue 18): the same commands on burn's wgpu backend give the CPU's
//! results within float tolerance. In CI they run on Mesa's lavapipe, a CPU Vulkan
//! driver, with `CUBECL_WGPU_DEFAULT_DEVICE=Cpu`; without the `gpu` feature only the
//! refusal is tested.

mod common;

use common::*;

/// Largest difference between two images' pixels, in 1/255 steps.
#[cfg(feature = "gpu")]
fn max_diff_255(a: &std::path::Path, b: &std::path::Path) -> f32 {
    let (a, b) = (image::open(a).unwrap(), image::open(b).unwrap());
    assert_eq!((a.width(), a.height()), (b.width(), b.height()));
    let (a, b) = (a.to_rgba32f(), b.to_rgba32f());
    a.as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| (x - y).abs() * 255.0)
        .fold(0.0, f32::max)
}

#[cfg(feature = "gpu")]
fn on(device: &str) -> std::process::Command {
    let mut c = regen();
    // Mesa's drivers complain on stderr without a runtime folder. Autotuning times each
    // candidate kernel, slow on a CPU driver: the least of it (the suite took 452 s against
    // 567 s with the default level on this machine's lavapipe).
    c.args(["--device", device])
        .env("CUBECL_WGPU_DEFAULT_DEVICE", "Cpu")
        .env("CUBECL_AUTOTUNE_LEVEL", "minimal")
        .env("XDG_RUNTIME_DIR", std::env::temp_dir());
    c
}

#[cfg(feature = "gpu")]
fn ok(c: &mut std::process::Command) -> std::process::Output {
    let o = c.output().expect("regen runs");
    assert!(o.status.success(), "{}", stderr(&o));
    o
}

#[cfg(feature = "gpu")]
#[test]
fn restore_on_the_gpu_matches_the_cpu() {
    let d = TempDir::new("gpu-restore");
    let photo =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/noisy-photo.png");
    for dev in ["cpu", "gpu"] {
        let out = d.join(&format!("{dev}.png"));
        ok(on(dev).args([
            "restore",
            photo.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ]));
    }
    let diff = max_diff_255(&d.join("cpu.png"), &d.join("gpu.png"));
    assert!(diff <= 1.0, "GPU and CPU restores differ by {diff}/255");
}

#[cfg(feature = "gpu")]
#[test]
fn generate_on_the_gpu_matches_the_cpu() {
    let d = TempDir::new("gpu-generate");
    for model in ["cgan-mnist", "vae-fashion"] {
        for dev in ["cpu", "gpu"] {
            let grid = d.join(&format!("{model}-{dev}.png"));
            ok(on(dev)
                .args(["generate", "--model", model, "-n", "16", "--seed", "3"])
                .args(["--grid", grid.to_str().unwrap()]));
        }
        let (c, g) = (
            d.join(&format!("{model}-cpu.png")),
            d.join(&format!("{model}-gpu.png")),
        );
        let diff = max_diff_255(&c, &g);
        assert!(
            diff <= 1.0,
            "{model}: GPU and CPU samples differ by {diff}/255"
        );
    }
}

/// The last validation PSNR a training run logged.
#[cfg(feature = "gpu")]
fn last_val_psnr(run: &std::path::Path) -> f64 {
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    metrics
        .lines()
        .rev()
        .find_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            v["val_psnr"].as_f64()
        })
        .expect("a validation line")
}

/// A copy of a run folder, checkpoints included.
#[cfg(feature = "gpu")]
fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

/// A 200-step denoiser training on each device from the same weights (a one-step CPU
/// run's, by `--init`; each backend draws fresh weights its own way) and the same batches:
/// the two runs differ only by float rounding, and their last validation PSNRs agree
/// within 0.1 dB.
#[cfg(feature = "gpu")]
#[test]
fn a_denoiser_trains_alike_on_both_devices() {
    let d = TempDir::new("gpu-train-restore");
    let photos = fixtures().join("train");
    let train = |dev: &str, out: &std::path::Path, more: &[&str]| {
        ok(on(dev)
            .args(["train", "restore", "--data", photos.to_str().unwrap()])
            .args([
                "--width", "8", "--depth", "2", "--patch", "32", "--batch", "8",
            ])
            .args([
                "--epoch-steps",
                "100",
                "--lr",
                "2e-3",
                "--seed",
                "1",
                "--quiet",
            ])
            .args(["--out", out.to_str().unwrap()])
            .args(more));
    };
    let start = d.join("start");
    train("cpu", &start, &["--steps", "1"]);
    let init = start.join("model.safetensors");
    let mut psnr = Vec::new();
    for dev in ["cpu", "gpu"] {
        let out = d.join(dev);
        train(
            dev,
            &out,
            &["--steps", "200", "--init", init.to_str().unwrap()],
        );
        psnr.push(last_val_psnr(&out));
    }
    eprintln!(
        "validation PSNR after 200 steps: CPU {:.3} dB, GPU {:.3} dB",
        psnr[0], psnr[1]
    );
    assert!(
        (psnr[0] - psnr[1]).abs() < 0.1,
        "CPU {:.3} dB, GPU {:.3} dB",
        psnr[0],
        psnr[1]
    );
}

/// One training step of the VAE and of the GAN on each device (32 MNIST digits, batch 32:
/// lavapipe took 209 s for one GAN step of batch 300), resumed from the same one-step CPU
/// run, so that a checkpoint written on one device is also shown to go on on the other: the
/// samples of the two results (generated on the CPU) agree within 1/255.
#[cfg(feature = "gpu")]
#[test]
fn one_training_step_of_each_generative_family_matches() {
    let d = TempDir::new("gpu-train-gen");
    let all =
        regen::data::Idx::load(&fixtures().join("mnist300/mnist300-images-idx3-ubyte.gz")).unwrap();
    let mnist = d.join("mnist32-images-idx3-ubyte");
    regen::data::Idx {
        dims: vec![32, 28, 28],
        data: all.data[..32 * 28 * 28].to_vec(),
    }
    .save(&mnist)
    .unwrap();
    for family in ["vae", "gan"] {
        let start = d.join(&format!("{family}-start"));
        ok(on("cpu")
            .args(["train", family, "--data", mnist.to_str().unwrap()])
            .args(["--batch", "32", "--epochs", "1", "--seed", "2"])
            .args(["--quiet", "--out", start.to_str().unwrap()]));
        for dev in ["cpu", "gpu"] {
            let out = d.join(&format!("{family}-{dev}"));
            copy_dir(&start, &out);
            ok(on(dev)
                .args(["train", family, "--resume", "--epochs", "2", "--quiet"])
                .args(["--out", out.to_str().unwrap()]));
            let grid = d.join(&format!("{family}-{dev}.png"));
            ok(on("cpu")
                .args(["generate", "--model"])
                .arg(out.join("model.safetensors"))
                .args(["-n", "16", "--seed", "3", "--grid", grid.to_str().unwrap()]));
        }
        let diff = max_diff_255(
            &d.join(&format!("{family}-cpu.png")),
            &d.join(&format!("{family}-gpu.png")),
        );
        assert!(diff <= 1.0, "{family}: one step apart by {diff}/255");
    }
}

/// A discrete GPU that is not there: one line, exit 2.
#[cfg(feature = "gpu")]
#[test]
fn no_adapter_is_one_line() {
    let d = TempDir::new("gpu-none");
    let photo = fixtures().join("photos/clean-256.png");
    let o = on("gpu:7")
        .args([
            "restore",
            photo.to_str().unwrap(),
            "-o",
            d.join("o.png").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_user_error(&o, "--device gpu:7: no GPU adapter answered");
    assert!(!d.join("o.png").exists());
}

#[cfg(not(feature = "gpu"))]
#[test]
fn a_build_without_the_gpu_feature_refuses_the_gpu() {
    let d = TempDir::new("gpu-off");
    let photo = fixtures().join("photos/clean-256.png");
    let (p, o) = (photo.to_str().unwrap(), d.join("o.png"));
    let out = run(&["--device", "gpu", "restore", p, "-o", o.to_str().unwrap()]);
    assert_user_error(
        &out,
        "--device gpu: this regen was built without GPU support",
    );
    let out = regen()
        .env("REGEN_DEVICE", "gpu:1")
        .args(["restore", p, "-o", o.to_str().unwrap()])
        .output()
        .unwrap();
    assert_user_error(
        &out,
        "--device gpu:1: this regen was built without GPU support",
    );
    assert!(!o.exists());
}
