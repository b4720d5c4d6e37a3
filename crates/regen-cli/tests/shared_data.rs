//! Checks on the real test sets in `../shared/data` (present in CI and on the development
//! machine, absent on a fresh clone elsewhere: then each test says so and passes).

mod common;

use std::path::PathBuf;

use common::*;

fn shared(rel: &str) -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(rel);
    if p.exists() {
        Some(p)
    } else {
        println!(
            "skipped: {} not found (../shared/data is not beside the repository)",
            p.display()
        );
        None
    }
}

#[test]
fn shipped_denoiser_beats_classical_filters_on_set12() {
    let Some(set12) = shared("denoise/set12") else {
        return;
    };
    let o = regen()
        .env("RAYON_NUM_THREADS", "2")
        .args([
            "eval",
            "restore",
            "--data",
            set12.to_str().unwrap(),
            "--sigma",
            "25",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let psnr = |m: &str| {
        report["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["method"] == m)
            .and_then(|r| r["psnr"].as_f64())
            .unwrap()
    };
    let (noisy, gauss, median, model) = (
        psnr("damaged input"),
        psnr("gaussian filter"),
        psnr("median filter"),
        psnr("regen model"),
    );
    println!(
        "Set12 sigma 25: noisy {noisy:.2}, gaussian {gauss:.2}, median {median:.2}, model {model:.2}"
    );
    // Sigma 25 leaves ~20.3 dB; the best Gaussian filter reaches ~26.5 dB.
    assert!((20.0..20.7).contains(&noisy), "{noisy}");
    // A trained denoiser is worth several dB over the best classical filter of this table.
    assert!(
        model > gauss.max(median) + 2.0,
        "model {model:.2} vs filters {gauss:.2}/{median:.2}"
    );
}
