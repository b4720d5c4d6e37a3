//! Every shipped model gives the same pictures through regen's convolution engine as
//! through burn's own convolutions (`REGEN_CONV=burn`), within 1/255 per pixel: the engine
//! changes how the sums are computed (Winograd, other orders), not what they are.

mod common;

use std::path::Path;

use common::{TempDir, fixtures, regen};

fn pixels(p: &Path) -> Vec<u8> {
    image::open(p).unwrap().to_rgba8().into_raw()
}

/// Runs `args` once on regen's engine and once on burn's convolutions and compares the
/// picture each writes at `out` (a path inside `args`, with `{}` for the engine's name).
fn same_both_ways(d: &TempDir, label: &str, args: &[&str]) {
    let mut outs = Vec::new();
    for engine in ["regen", "burn"] {
        let out = d.join(&format!("{label}-{engine}.png"));
        let args: Vec<String> = args
            .iter()
            .map(|a| a.replace("{}", out.to_str().unwrap()))
            .collect();
        let mut c = regen();
        if engine == "burn" {
            c.env("REGEN_CONV", "burn");
        }
        let o = c.args(&args).output().unwrap();
        assert!(
            o.status.success(),
            "{label} {engine}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        outs.push(pixels(&out));
    }
    assert_eq!(outs[0].len(), outs[1].len());
    let worst = outs[0]
        .iter()
        .zip(&outs[1])
        .map(|(a, b)| a.abs_diff(*b))
        .max()
        .unwrap();
    assert!(worst <= 1, "{label}: pixels differ by up to {worst}/255");
}

#[test]
fn shipped_models_give_the_same_pictures_as_with_burns_convolutions() {
    let d = TempDir::new("engine");
    let clean = fixtures().join("photos/clean-256.png");
    let clean = clean.to_str().unwrap();
    let damaged = |task: &str, extra: &[&str]| {
        let out = d.join(&format!("{task}-in.png"));
        let mut args = vec![
            "corrupt",
            "--task",
            task,
            clean,
            "-o",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let o = regen().args(&args).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        out.to_str().unwrap().to_string()
    };
    let noisy = damaged("denoise", &["--sigma", "25"]);
    let mask = d.join("mask.png");
    let holes = damaged("inpaint", &["--masks", mask.to_str().unwrap()]);
    let blurred = damaged("deblur", &[]);
    let m = mask.to_str().unwrap();
    same_both_ways(&d, "denoise", &["restore", &noisy, "-o", "{}"]);
    same_both_ways(
        &d,
        "inpaint",
        &[
            "restore", "--task", "inpaint", "--mask", m, &holes, "-o", "{}",
        ],
    );
    same_both_ways(
        &d,
        "deblur",
        &["restore", "--task", "deblur", &blurred, "-o", "{}"],
    );
    same_both_ways(
        &d,
        "deblur-nonblind",
        &[
            "restore",
            "--task",
            "deblur",
            "--blur",
            "gaussian",
            "--blur-sigma",
            "1.6",
            &blurred,
            "-o",
            "{}",
        ],
    );
    for model in ["gan-fashion", "cgan-mnist", "vae-fashion", "cvae-mnist"] {
        same_both_ways(
            &d,
            model,
            &["generate", "--model", model, "-n", "16", "--grid", "{}"],
        );
    }
}
