//! `regen train vae` end to end on the committed 300-digit MNIST fixture, and its bad input.

mod common;

use common::*;

fn mnist() -> String {
    fixtures()
        .join("mnist300/mnist300-images-idx3-ubyte.gz")
        .to_string_lossy()
        .into_owned()
}

#[test]
fn conditional_vae_trains_and_writes_its_run_folder() {
    let d = TempDir::new("vae");
    let out = d.join("run");
    let o = run(&[
        "train",
        "vae",
        "--data",
        &mnist(),
        "--conditional",
        "--width",
        "8",
        "--batch",
        "16",
        "--epochs",
        "12",
        "--lr",
        "3e-3",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    for f in [
        "config.toml",
        "metrics.jsonl",
        "plot.png",
        "samples.png",
        "reconstructions.png",
        "best.safetensors",
        "model.safetensors",
    ] {
        assert!(out.join(f).exists(), "{f}");
    }
    let val: Vec<f64> = std::fs::read_to_string(out.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["val_nelbo"].as_f64())
        .collect();
    assert_eq!(val.len(), 12);
    // 784 ln 2 = 543 nats is what an untrained decoder (all logits 0) costs.
    assert!(val[11] < val[0] && val[11] < 300.0, "{val:?}");
    let config = std::fs::read_to_string(out.join("config.toml")).unwrap();
    assert!(config.contains("classes = 10"), "{config}");

    // Sampling: N files and a grid; a class the model does not have is refused.
    let model = out.join("model.safetensors");
    let m = model.to_str().unwrap();
    let samples = d.join("samples");
    let grid = d.join("grid.png");
    let o = run(&[
        "generate",
        "--model",
        m,
        "-n",
        "12",
        "--class",
        "7",
        "-o",
        samples.to_str().unwrap(),
        "--grid",
        grid.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_dir(&samples).unwrap().count(), 12);
    let g = regen::data::Image::load(&grid).unwrap();
    assert_eq!((g.height, g.width), (3 * 30 + 2, 4 * 30 + 2));
    let o = run(&[
        "generate",
        "--model",
        m,
        "-n",
        "4",
        "--class",
        "12",
        "--grid",
        grid.to_str().unwrap(),
    ]);
    assert_user_error(&o, "--class 12: this model has 10 classes");
}

#[test]
fn generate_refuses_a_class_for_an_unconditional_model_and_a_restoration_checkpoint() {
    use regen::checkpoint::{ModelCard, save};
    use regen::corrupt::Task;
    use regen::models::{Descriptor, RestoreConfig, VaeConfig};
    let d = TempDir::new("gen");
    let device = regen::device::device();
    let vc = VaeConfig::new().with_width(4);
    let vae = d.join("vae.safetensors");
    save(
        &vae,
        &vc.init(&device),
        &ModelCard::new(Descriptor::vae(vc.clone()), 0),
    )
    .unwrap();
    let grid = d.join("g.png");
    let o = run(&[
        "generate",
        "--model",
        vae.to_str().unwrap(),
        "-n",
        "4",
        "--class",
        "3",
        "--grid",
        grid.to_str().unwrap(),
    ]);
    assert_user_error(&o, "this model is unconditional");
    let rc = RestoreConfig::new().with_width(4).with_depth(1);
    let restore = d.join("denoise.safetensors");
    save(
        &restore,
        &rc.init(&device),
        &ModelCard::new(
            Descriptor::restore(
                Task::Denoise,
                rc.architecture(),
                regen::planes::for_task(Task::Denoise, 1, false, false),
            )
            .unwrap(),
            0,
        ),
    )
    .unwrap();
    let o = run(&[
        "generate",
        "--model",
        restore.to_str().unwrap(),
        "-n",
        "4",
        "--grid",
        grid.to_str().unwrap(),
    ]);
    assert_user_error(
        &o,
        "is a restore model (denoise), but a vae or gan model is needed here",
    );
}

#[test]
fn idx_with_a_wrong_magic_number_or_a_truncated_body_is_refused() {
    let d = TempDir::new("idx");
    let bad = d.join("bad-images-idx3-ubyte");
    std::fs::write(
        &bad,
        b"\x12\x34\x08\x03\x00\x00\x00\x01\x00\x00\x00\x1c\x00\x00\x00\x1c",
    )
    .unwrap();
    let o = run(&[
        "train",
        "vae",
        "--data",
        bad.to_str().unwrap(),
        "--out",
        d.join("r1").to_str().unwrap(),
    ]);
    assert_user_error(&o, "bad magic number");
    let short = d.join("short-images-idx3-ubyte");
    let mut bytes = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28];
    bytes.extend(vec![0u8; 784 + 100]);
    std::fs::write(&short, bytes).unwrap();
    let o = run(&[
        "train",
        "vae",
        "--data",
        short.to_str().unwrap(),
        "--out",
        d.join("r2").to_str().unwrap(),
    ]);
    assert_user_error(&o, "truncated");
}

#[test]
fn a_folder_of_mixed_sizes_is_refused_naming_both_files() {
    let d = TempDir::new("mixed");
    let data = d.join("data");
    std::fs::create_dir_all(&data).unwrap();
    regen::data::Image::zeros(1, 28, 28)
        .save(&data.join("a.png"))
        .unwrap();
    regen::data::Image::zeros(1, 32, 32)
        .save(&data.join("b.png"))
        .unwrap();
    let o = run(&[
        "train",
        "vae",
        "--data",
        data.to_str().unwrap(),
        "--out",
        d.join("r").to_str().unwrap(),
    ]);
    assert_user_error(&o, "b.png: is 32x32");
}

#[test]
fn eval_generate_gives_the_floor_for_real_against_itself_and_caches_its_classifier() {
    let d = TempDir::new("evalgen");
    let cache = d.join("cache");
    let o = regen()
        .env("REGEN_CACHE", &cache)
        .args([
            "eval",
            "generate",
            "--data",
            &mnist(),
            "--samples",
            &mnist(),
            "--json",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["n"], 300);
    assert!(r["frechet"].as_f64().unwrap().abs() < 1e-6, "{r}");
    assert_eq!(r["precision"], 1.0);
    assert_eq!(r["recall"], 1.0);
    let shares: f64 = r["class_shares"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .sum();
    assert!((shares - 1.0).abs() < 1e-9);
    let cached: Vec<_> = std::fs::read_dir(&cache).unwrap().collect();
    assert_eq!(cached.len(), 1);
    // The second run reads the cached classifier and reports the same accuracy.
    let o2 = regen()
        .env("REGEN_CACHE", &cache)
        .args([
            "eval",
            "generate",
            "--data",
            &mnist(),
            "--samples",
            &mnist(),
            "--json",
        ])
        .output()
        .unwrap();
    let r2: serde_json::Value = serde_json::from_slice(&o2.stdout).unwrap();
    assert_eq!(r["classifier_accuracy"], r2["classifier_accuracy"]);
}

#[test]
fn shipped_vaes_generate_on_a_fresh_clone() {
    let d = TempDir::new("shipped-vae");
    let grid = d.join("out.png");
    let o = run(&[
        "generate",
        "--model",
        "vae-fashion",
        "-n",
        "64",
        "--grid",
        grid.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let g = regen::data::Image::load(&grid).unwrap();
    assert_eq!((g.height, g.width), (8 * 30 + 2, 8 * 30 + 2));
    let sevens = d.join("sevens");
    let o = run(&[
        "generate",
        "--model",
        "cvae-mnist",
        "--class",
        "7",
        "-n",
        "5",
        "-o",
        sevens.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_dir(&sevens).unwrap().count(), 5);
    let o = run(&[
        "generate",
        "--model",
        "vae-fashion",
        "--class",
        "1",
        "-n",
        "4",
        "--grid",
        grid.to_str().unwrap(),
    ]);
    assert_user_error(&o, "this model is unconditional");
}

#[test]
fn vae_training_resumes_from_its_last_checkpoint() {
    let d = TempDir::new("vae-resume");
    let out = d.join("run");
    let args = |epochs: &str| {
        vec![
            "train".to_string(),
            "vae".into(),
            "--data".into(),
            mnist(),
            "--width".into(),
            "4".into(),
            "--batch".into(),
            "30".into(),
            "--epochs".into(),
            epochs.into(),
            "--out".into(),
            out.to_string_lossy().into_owned(),
        ]
    };
    let o = regen().args(args("2")).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let o = regen().args(args("4")).arg("--resume").output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    // Half of the 300 images are held out (at most 1000, at most half): 150 in batches of
    // 30 make 5 steps per epoch.
    assert!(stderr(&o).contains("resumed at step 10"), "{}", stderr(&o));
    let epochs: Vec<u64> = std::fs::read_to_string(out.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["epoch"].as_u64())
        .collect();
    assert_eq!(epochs, vec![1, 2, 3, 4]);
}
