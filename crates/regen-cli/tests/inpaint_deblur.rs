//! Inpainting and deblurring from the command line: corrupt, train (tiny), restore, and the
//! bad inputs of masks and blurs.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use regen::data::Image;

fn photo() -> PathBuf {
    fixtures().join("photos/clean-256.png")
}

/// A tiny model for `task`, trained a few steps on the fixture images.
fn tiny_model(dir: &Path, task: &str) -> PathBuf {
    tiny_model_with(dir, task, &[])
}

/// As [`tiny_model`], with `extra` training options.
fn tiny_model_with(dir: &Path, task: &str, extra: &[&str]) -> PathBuf {
    let out = dir.join(format!("run-{task}{}", extra.join("")));
    let data = fixtures().join("train");
    let mut args = vec![
        "train",
        "restore",
        "--task",
        task,
        "--data",
        data.to_str().unwrap(),
        "--width",
        "4",
        "--depth",
        "2",
        "--patch",
        "32",
        "--batch",
        "2",
        "--steps",
        "4",
        "--epoch-steps",
        "2",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    out.join("model.safetensors")
}

#[test]
fn inpainting_keeps_known_pixels_and_refuses_bad_masks() {
    let d = TempDir::new("inpaint");
    let model = tiny_model(d.path(), "inpaint");
    let m = model.to_str().unwrap();
    let (holed, mask) = (d.join("holed.png"), d.join("mask.png"));
    let o = run(&[
        "corrupt",
        "--task",
        "inpaint",
        photo().to_str().unwrap(),
        "-o",
        holed.to_str().unwrap(),
        "--masks",
        mask.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let filled = d.join("filled.png");
    let o = run(&[
        "restore",
        "--task",
        "inpaint",
        "--model",
        m,
        "--mask",
        mask.to_str().unwrap(),
        holed.to_str().unwrap(),
        "-o",
        filled.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (h, f, mk) = (
        Image::load(&holed).unwrap(),
        Image::load(&filled).unwrap(),
        Image::load(&mask).unwrap(),
    );
    let share = mk.data.iter().filter(|&&v| v > 0.5).count() as f64 / mk.data.len() as f64;
    assert!((0.10..0.30).contains(&share), "mask covers {share}");
    for ((a, b), m) in h.data.iter().zip(&f.data).zip(&mk.data) {
        if *m < 0.5 {
            assert_eq!(a, b, "a known pixel changed");
        }
    }

    // An empty mask: the output is the input.
    let empty = Image::gray(256, 256, vec![0.0; 256 * 256]);
    let empty_path = d.join("empty.png");
    empty.save(&empty_path).unwrap();
    let same = d.join("same.png");
    let o = run(&[
        "restore",
        "--task",
        "inpaint",
        "--model",
        m,
        "--mask",
        empty_path.to_str().unwrap(),
        photo().to_str().unwrap(),
        "-o",
        same.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(Image::load(&same).unwrap(), Image::load(&photo()).unwrap());

    // A mask of another size, an all-white mask, no mask at all.
    let small = d.join("small.png");
    Image::gray(10, 12, vec![1.0; 120]).save(&small).unwrap();
    let white = d.join("white.png");
    Image::gray(256, 256, vec![1.0; 256 * 256])
        .save(&white)
        .unwrap();
    let out = d.join("x.png");
    for (mask, needle) in [
        (
            small.to_str().unwrap(),
            "mask is 12x10 but the image is 256x256",
        ),
        (white.to_str().unwrap(), "marks every pixel as missing"),
    ] {
        let o = run(&[
            "restore",
            "--task",
            "inpaint",
            "--model",
            m,
            "--mask",
            mask,
            photo().to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ]);
        assert_user_error(&o, needle);
    }
    let o = run(&[
        "restore",
        "--task",
        "inpaint",
        "--model",
        m,
        photo().to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_user_error(&o, "--task inpaint needs --mask");
}

#[test]
fn deblurring_runs_and_a_zero_length_motion_blur_changes_nothing() {
    let d = TempDir::new("deblur");
    let model = tiny_model(d.path(), "deblur");
    let blurred = d.join("blurred.png");
    let o = run(&[
        "corrupt",
        "--task",
        "deblur",
        "--sigma",
        "2",
        photo().to_str().unwrap(),
        "-o",
        blurred.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = d.join("sharp.png");
    let o = run(&[
        "restore",
        "--task",
        "deblur",
        "--model",
        model.to_str().unwrap(),
        blurred.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(Image::load(&out).unwrap().height, 256);

    let still = d.join("still.png");
    let o = run(&[
        "corrupt",
        "--task",
        "deblur",
        "--blur",
        "motion",
        "--length",
        "0",
        photo().to_str().unwrap(),
        "-o",
        still.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(Image::load(&still).unwrap(), Image::load(&photo()).unwrap());
    let o = run(&[
        "corrupt",
        "--task",
        "deblur",
        "--blur",
        "motion",
        "--length",
        "-2",
        photo().to_str().unwrap(),
        "-o",
        still.to_str().unwrap(),
    ]);
    assert_user_error(&o, "the length must be between 0 and 101 pixels");
    // A deblurring model is not an inpainting one.
    let o = run(&[
        "restore",
        "--task",
        "inpaint",
        "--model",
        model.to_str().unwrap(),
        "--mask",
        still.to_str().unwrap(),
        photo().to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_user_error(&o, "its task is deblur, not inpaint");
}

/// A non-blind deblurrer is told the blur (`--blur-sigma`, or `--length` and `--angle`),
/// and a missing or misplaced blur is one clear line, exit code 2.
#[test]
fn non_blind_deblurring_takes_the_blur_and_refuses_a_missing_one() {
    let d = TempDir::new("non-blind");
    let nb = tiny_model_with(d.path(), "deblur", &["--non-blind"]);
    let blind = tiny_model(d.path(), "deblur");
    let (nb, blind, photo) = (
        nb.to_str().unwrap(),
        blind.to_str().unwrap(),
        photo().to_str().unwrap().to_string(),
    );
    let out = d.join("sharp.png");
    let out = out.to_str().unwrap();
    let restore = |extra: &[&str]| {
        let mut args = vec!["restore", "--task", "deblur"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[photo.as_str(), "-o", out]);
        run(&args)
    };
    for blur in [
        &["--blur-sigma", "1.6"][..],
        &["--blur", "motion", "--length", "7", "--angle", "30"],
    ] {
        let o = restore(&[&["--model", nb][..], blur].concat());
        assert!(o.status.success(), "{blur:?}: {}", stderr(&o));
        assert_eq!(Image::load(Path::new(out)).unwrap().height, 256);
    }
    let o = restore(&["--model", nb]);
    assert_user_error(
        &o,
        "is a non-blind deblurrer; give the blur with --blur-sigma",
    );
    let o = restore(&["--model", blind, "--blur-sigma", "1.6"]);
    assert_user_error(&o, "is a blind deblurrer and takes no kernel");
    let o = restore(&["--model", nb, "--blur", "gaussian"]);
    assert_user_error(&o, "--blur gaussian needs --blur-sigma");
    let o = restore(&["--model", nb, "--blur-sigma", "1", "--length", "5"]);
    assert_user_error(&o, "give one blur");
    let o = restore(&["--model", nb, "--blur-sigma", "-1"]);
    assert_user_error(&o, "must be between 0 and 25 pixels");
    let o = run(&["restore", "--blur-sigma", "1.6", photo.as_str(), "-o", out]);
    assert_user_error(&o, "are for --task deblur, not denoise");
    // Training one for another task is refused before any work.
    let o = run(&[
        "train",
        "restore",
        "--task",
        "denoise",
        "--non-blind",
        "--data",
        fixtures().join("train").to_str().unwrap(),
        "--out",
        d.join("never").to_str().unwrap(),
    ]);
    assert_user_error(&o, "--non-blind is for --task deblur, not denoise");
    // eval gives the model the true kernel, as it gives the deconvolution baselines.
    let o = run(&[
        "eval",
        "restore",
        "--task",
        "deblur",
        "--model",
        nb,
        "--data",
        fixtures().join("train").to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        r["rows"]
            .as_array()
            .unwrap()
            .iter()
            .any(|row| row["method"] == "regen model")
    );
}

/// `eval restore` puts each task beside its classical baselines, which must beat the damaged
/// input they start from.
#[test]
fn eval_restore_shows_the_classical_baselines_of_each_task() {
    let d = TempDir::new("eval-tasks");
    for (task, baselines) in [
        ("inpaint", vec!["harmonic fill"]),
        ("deblur", vec!["wiener", "richardson-lucy"]),
    ] {
        let model = tiny_model(d.path(), task);
        let o = run(&[
            "eval",
            "restore",
            "--task",
            task,
            "--model",
            model.to_str().unwrap(),
            "--data",
            fixtures().join("train").to_str().unwrap(),
            "--json",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let rows = r["rows"].as_array().unwrap();
        let psnr = |m: &str| {
            rows.iter()
                .find(|row| row["method"] == m)
                .unwrap_or_else(|| panic!("no {m} row in {r}"))["psnr"]
                .as_f64()
                .unwrap()
        };
        for b in baselines {
            assert!(psnr(b) > psnr("damaged input") + 1.0, "{b}: {r}");
        }
        assert!(psnr("regen model").is_finite());
    }
}

/// A folder of images with a folder of masks of the same names, made by `regen corrupt`.
#[test]
fn inpainting_a_folder_takes_each_image_s_own_mask() {
    let d = TempDir::new("inpaint-folder");
    let model = tiny_model(d.path(), "inpaint");
    let (holed, masks, out) = (d.join("holed"), d.join("masks"), d.join("out"));
    let o = run(&[
        "corrupt",
        "--task",
        "inpaint",
        fixtures().join("train").to_str().unwrap(),
        "-o",
        holed.to_str().unwrap(),
        "--masks",
        masks.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&[
        "restore",
        "--task",
        "inpaint",
        "--model",
        model.to_str().unwrap(),
        "--mask",
        masks.to_str().unwrap(),
        holed.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut names = 0;
    for e in std::fs::read_dir(&holed).unwrap() {
        let name = e.unwrap().file_name();
        let (h, m, f) = (
            Image::load(&holed.join(&name)).unwrap(),
            Image::load(&masks.join(&name)).unwrap(),
            Image::load(&out.join(&name)).unwrap(),
        );
        // Each output changed exactly where its own mask says.
        for ((a, b), mv) in h.data.iter().zip(&f.data).zip(&m.data) {
            if *mv < 0.5 {
                assert_eq!(a, b);
            }
        }
        assert!(h.data.iter().zip(&f.data).any(|(a, b)| a != b));
        names += 1;
    }
    assert_eq!(names, 6);
}
