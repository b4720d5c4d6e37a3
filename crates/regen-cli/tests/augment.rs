//! `regen eval augment` end to end on the 300-digit fixture, at toy sizes.

mod common;

use common::*;
use serde_json::Value;

#[test]
fn augment_reports_every_variant_for_every_seed() {
    let data = fixtures().join("mnist300/mnist300-images-idx3-ubyte.gz");
    let d = TempDir::new("augment");
    let work = d.join("work");
    let o = run(&[
        "eval",
        "augment",
        "--data",
        data.to_str().unwrap(),
        "--test",
        data.to_str().unwrap(),
        "--per-class",
        "10",
        "--generated",
        "3",
        "--seeds",
        "2",
        "--steps",
        "10",
        "--gan-epochs",
        "1",
        "--vae-epochs",
        "1",
        "--work",
        work.to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(rows.len(), 6);
    for (i, r) in rows.iter().enumerate() {
        let method = ["real only", "real + cGAN", "real + cVAE"][i % 3];
        assert_eq!(r["method"], method, "{r}");
        assert_eq!(r["seed"], (i / 3) as u64, "{r}");
        let n = if i % 3 == 0 { 100 } else { 130 };
        assert_eq!(r["train_images"], n, "{r}");
        let acc = r["accuracy"].as_f64().unwrap();
        assert!(acc > 0.0 && acc <= 1.0, "{r}");
    }
    // The generators' runs are kept where asked.
    for f in [
        "seed-0/gan/model.safetensors",
        "seed-1/vae/model.safetensors",
    ] {
        assert!(work.join(f).exists(), "{f}");
    }
    let o = run(&[
        "eval",
        "augment",
        "--data",
        data.to_str().unwrap(),
        "--test",
        data.to_str().unwrap(),
        "--per-class",
        "100",
    ]);
    assert_user_error(&o, "fewer than --per-class 100");
}
