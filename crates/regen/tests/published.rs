//! Published models: every architecture regen reads, with random weights saved by PyTorch
//! (zip and legacy `.pth`, wrapped in `params_ema` or `state_dict`, prefixed `module.`)
//! and as safetensors in each key layout, is detected and computes what spandrel computes
//! (KAIR's FFDNet, which spandrel lacks: its reference module) on the same input, within
//! 1e-4 (absolute, or relative to the output's largest value where that exceeds 1). The
//! fixtures and the PyTorch code that made them: `fixtures/published/make.py`.

use std::path::{Path, PathBuf};

use burn::tensor::{Tensor, TensorData};
use regen::checkpoint::{self, read_card};
use regen::models::RestoreArch;
use regen::published::{self, Weight};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/published")
}

fn tensor(w: &Weight) -> Tensor<4> {
    let s = &w.shape;
    Tensor::from_data(
        TensorData::new(w.data.clone(), [s[0], s[1], s[2], s[3]]),
        &regen::device::device(),
    )
}

/// The case's file, loaded as `regen restore --model FILE` loads it; returns the detected
/// architecture and the largest difference from the expected output.
fn run(case: &str, ext: &str) -> (String, RestoreArch, f32, f32) {
    let path = fixtures().join(format!("{case}.{ext}"));
    let bytes = std::fs::read(&path).unwrap();
    let imported = published::import(&path, &bytes).unwrap_or_else(|e| panic!("{case}: {e}"));
    let ckpt = imported.checkpoint_bytes(&path).unwrap();
    let card = read_card(&path, &ckpt).unwrap();
    let arch = card.descriptor.restore_arch().unwrap().clone();
    let mut net = arch.init(&regen::device::device());
    checkpoint::load_weights(&path, ckpt, &mut net).unwrap_or_else(|e| panic!("{case}: {e}"));
    let (diff, peak) = against_expected(&net, case);
    (imported.detected, arch, diff, peak)
}

/// The largest difference between `net`'s output on `{case}.x` and `{case}.y` of
/// `expected.safetensors`, and the largest expected value.
fn against_expected(net: &regen::models::RestoreNet, case: &str) -> (f32, f32) {
    let expected = published::read_safetensors(
        &std::fs::read(fixtures().join("expected.safetensors")).unwrap(),
    )
    .unwrap();
    let x = expected.get(&format!("{case}.x")).unwrap();
    let y = expected.get(&format!("{case}.y")).unwrap();
    let out = net.forward(tensor(x));
    assert_eq!(out.dims().to_vec(), y.shape, "{case}: output shape");
    let got: Vec<f32> = out.into_data().try_to_vec().unwrap();
    let diff = got
        .iter()
        .zip(&y.data)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    (diff, y.data.iter().fold(0f32, |m, v| m.max(v.abs())))
}

fn check(case: &str, ext: &str, want: &str) {
    let (detected, arch, diff, peak) = run(case, ext);
    println!("{case}.{ext}: {detected}; max |regen - spandrel| = {diff:.2e} (peak {peak:.2})");
    assert!(detected.starts_with(want), "{case}: detected {detected}");
    assert!(
        diff <= 1e-4 * peak.max(1.0),
        "{case}: differs from spandrel by {diff} ({arch:?})"
    );
}

#[test]
fn esrgan_in_each_layout_and_scale() {
    check("esrgan-old-x4", "pth", "ESRGAN / RRDBNet (ESRGAN keys): x4");
    check(
        "esrgan-real-x2",
        "pth",
        "ESRGAN / RRDBNet (Real-ESRGAN keys): x2",
    );
    check(
        "esrgan-bsrgan-x4",
        "safetensors",
        "ESRGAN / RRDBNet (BSRGAN keys): x4",
    );
    check(
        "esrgan-real-x1",
        "safetensors",
        "ESRGAN / RRDBNet (Real-ESRGAN keys): x1",
    );
}

#[test]
fn compact_at_each_scale() {
    check(
        "compact-x4",
        "pth",
        "Compact / SRVGGNetCompact: x4, 2 convolutions",
    );
    check(
        "compact-x2",
        "safetensors",
        "Compact / SRVGGNetCompact: x2, 3 convolutions",
    );
    check(
        "compact-x1",
        "pth",
        "Compact / SRVGGNetCompact: x1, 1 convolutions",
    );
}

#[test]
fn span_with_and_without_its_input_normalisation() {
    check(
        "span-x2-no-norm",
        "safetensors",
        "SPAN: x2, 8 features, no input normalisation",
    );
    check("span-x4", "pth", "SPAN: x4, 8 features");
}

#[test]
fn dncnn_fdncnn_ffdnet_drunet() {
    check("dncnn-gray", "pth", "DnCNN (KAIR layout): 8 layers");
    check(
        "dncnn-color-bn",
        "safetensors",
        "DnCNN (KAIR layout, batch norm folded): 4 layers",
    );
    check("fdncnn-gray", "pth", "FDnCNN (KAIR layout): 9 layers");
    check(
        "fdncnn-color",
        "safetensors",
        "FDnCNN (KAIR layout): 8 layers",
    );
    check("ffdnet-kair-color", "pth", "FFDNet (KAIR layout): 4 layers");
    check(
        "ffdnet-kair-gray",
        "safetensors",
        "FFDNet (KAIR layout): 4 layers",
    );
    check("drunet-gray", "pth", "DRUNet: 2 blocks");
    check("drunet-color", "safetensors", "DRUNet: 3 blocks");
}

/// `regen export` of a DnCNN regen trained writes KAIR's keys; spandrel loads that file
/// (make.py) and computes what regen computes from its own checkpoint.
#[test]
fn exported_dncnn_runs_in_spandrel_as_in_regen() {
    let path = fixtures().join("regen-dncnn.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    let card = read_card(&path, &bytes).unwrap();
    let tensors = published::export::to_spandrel(&path, &card, &bytes).unwrap();
    let committed = published::read_safetensors(
        &std::fs::read(fixtures().join("regen-dncnn-exported.safetensors")).unwrap(),
    )
    .unwrap();
    assert_eq!(tensors.len(), committed.len());
    for (k, w) in &tensors {
        assert_eq!(Some(w), committed.get(k), "{k}");
    }
    let mut net = card
        .descriptor
        .restore_arch()
        .unwrap()
        .init(&regen::device::device());
    checkpoint::load_weights(&path, bytes, &mut net).unwrap();
    let (diff, _) = against_expected(&net, "regen-dncnn");
    println!("regen-dncnn exported: max |regen - spandrel| = {diff:.2e}");
    assert!(diff <= 1e-4, "{diff}");
}

/// Tiles cut on the network's grid: FFDNet folds 2x2 blocks, so a tile whose context began
/// on an odd row would compute something else. Small tiles give the whole image's result.
#[test]
fn tiles_of_a_folding_network_equal_the_whole_image() {
    let path = fixtures().join("ffdnet-kair-color.pth");
    let mut r = regen::restore::Restorer::load(path.to_str().unwrap()).unwrap();
    assert_eq!(r.margin, 9, "the receptive radius of 4 half-size layers");
    let (h, w) = (70, 90);
    let mut img = regen::data::Image::zeros(3, h, w);
    for (i, v) in img.data.iter_mut().enumerate() {
        *v = 0.5 + 0.4 * ((i as f32) * 0.37).sin();
    }
    let cond = regen::restore::Condition {
        sigma: Some(25.0),
        ..Default::default()
    };
    r.tile = 512;
    let whole = r.restore(&img, &cond);
    r.tile = 17;
    let tiled = r.restore(&img, &cond);
    let diff = whole
        .data
        .iter()
        .zip(&tiled.data)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(diff < 1e-5, "tiles differ from the whole image by {diff}");
}
