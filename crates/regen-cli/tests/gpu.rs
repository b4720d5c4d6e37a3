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
    // Mesa's drivers complain on stderr without a runtime folder.
    c.args(["--device", device])
        .env("CUBECL_WGPU_DEFAULT_DEVICE", "Cpu")
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

/// Training is refused on the GPU with one line, for every family, until it learns there
/// as on the CPU (`device::check_trainable`).
#[cfg(feature = "gpu")]
#[test]
fn training_on_the_gpu_is_refused_with_one_line() {
    let d = TempDir::new("gpu-train");
    let mnist = fixtures().join("mnist300/mnist300-images-idx3-ubyte.gz");
    let photos = fixtures().join("train");
    for (family, data) in [("restore", &photos), ("vae", &mnist), ("gan", &mnist)] {
        let out = d.join(family);
        let o = on("gpu")
            .args(["train", family, "--data", data.to_str().unwrap()])
            .args(["--quiet", "--out", out.to_str().unwrap()])
            .output()
            .unwrap();
        assert_user_error(&o, "--device gpu: training runs on the CPU only so far");
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
