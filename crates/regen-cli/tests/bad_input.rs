//! Bad input gives one clear line and exit code 2, never a panic; a folder batch still
//! finishes its good files (issue 2).

mod common;

use common::*;

fn truncated_png(dir: &TempDir) -> std::path::PathBuf {
    let bytes = std::fs::read(fixtures().join("photos/clean-256.png")).unwrap();
    let p = dir.join("truncated.png");
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    p
}

#[test]
fn truncated_png_is_named() {
    let d = TempDir::new("trunc");
    let p = truncated_png(&d);
    let o = run(&[
        "restore",
        p.to_str().unwrap(),
        "-o",
        d.join("out.png").to_str().unwrap(),
    ]);
    assert_user_error(&o, "truncated.png");
    assert!(!d.join("out.png").exists());
}

#[test]
fn text_file_named_png_is_named() {
    let d = TempDir::new("text");
    let p = d.join("notes.png");
    std::fs::write(&p, "these are my notes, not a picture\n").unwrap();
    let o = run(&[
        "restore",
        p.to_str().unwrap(),
        "-o",
        d.join("out.png").to_str().unwrap(),
    ]);
    assert_user_error(&o, "notes.png: not an image");
}

#[test]
fn missing_path_is_named() {
    let d = TempDir::new("missing");
    let o = run(&[
        "restore",
        "/no/such/photo.png",
        "-o",
        d.join("o.png").to_str().unwrap(),
    ]);
    assert_user_error(&o, "/no/such/photo.png");
}

#[test]
fn checkpoint_of_another_family_is_refused() {
    use regen::checkpoint::{ModelCard, save};
    use regen::models::RestoreConfig;
    let d = TempDir::new("family");
    let config = RestoreConfig::new().with_width(4).with_depth(1);
    let net = config.init(&regen::device::device());
    let card = ModelCard::new("vae", "generate", serde_json::to_value(&config).unwrap(), 1);
    let ck = d.join("vae.safetensors");
    save(&ck, &net, &card).unwrap();
    let photo = fixtures().join("photos/clean-256.png");
    let o = run(&[
        "restore",
        "--model",
        ck.to_str().unwrap(),
        photo.to_str().unwrap(),
        "-o",
        d.join("o.png").to_str().unwrap(),
    ]);
    assert_user_error(&o, "is a vae model");
}

#[test]
fn not_a_checkpoint_is_refused() {
    let d = TempDir::new("notckpt");
    let ck = d.join("x.safetensors");
    std::fs::write(&ck, b"garbage").unwrap();
    let photo = fixtures().join("photos/clean-256.png");
    let o = run(&[
        "restore",
        "--model",
        ck.to_str().unwrap(),
        photo.to_str().unwrap(),
        "-o",
        d.join("o.png").to_str().unwrap(),
    ]);
    assert_user_error(&o, "not a safetensors file");
}

#[test]
fn negative_sigma_is_refused() {
    let d = TempDir::new("sigma");
    let photo = fixtures().join("photos/clean-256.png");
    let o = run(&[
        "corrupt",
        "--sigma",
        "-3",
        photo.to_str().unwrap(),
        "-o",
        d.join("o.png").to_str().unwrap(),
    ]);
    assert_user_error(&o, "--sigma -3");
    let o = run(&[
        "eval",
        "restore",
        "--data",
        fixtures().join("photos").to_str().unwrap(),
        "--sigma",
        "-3",
    ]);
    assert_user_error(&o, "--sigma -3");
    let o = run(&[
        "train",
        "restore",
        "--data",
        "x",
        "--sigma",
        "-3",
        "--out",
        d.join("run").to_str().unwrap(),
    ]);
    assert_user_error(&o, "--sigma -3");
}

#[test]
fn empty_folder_is_refused() {
    let d = TempDir::new("empty");
    std::fs::create_dir_all(d.join("in")).unwrap();
    let o = run(&[
        "restore",
        d.join("in").to_str().unwrap(),
        "-o",
        d.join("out").to_str().unwrap(),
    ]);
    assert_user_error(&o, "folder holds no images");
}

#[test]
fn folder_batch_reports_bad_files_and_restores_good_ones() {
    let d = TempDir::new("batch");
    let input = d.join("in");
    std::fs::create_dir_all(input.join("sub")).unwrap();
    std::fs::copy(
        fixtures().join("photos/clean-256.png"),
        input.join("good.png"),
    )
    .unwrap();
    std::fs::copy(
        fixtures().join("train/test_001.png"),
        input.join("sub/also-good.png"),
    )
    .unwrap();
    std::fs::write(input.join("broken.png"), b"not a png").unwrap();
    std::fs::write(input.join(".DS_Store"), b"junk").unwrap();
    std::fs::write(input.join("readme.txt"), b"hello").unwrap();
    let out = d.join("out");
    let o = run(&[
        "restore",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("broken.png: not an image"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.join("good.png").exists());
    assert!(out.join("sub/also-good.png").exists());
    assert!(!out.join("broken.png").exists());
}

#[test]
fn unknown_option_exits_2() {
    let o = run(&["restore", "--frobnicate", "x.png", "-o", "y.png"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn eval_on_images_too_small_for_ssim_is_refused() {
    let d = TempDir::new("tiny");
    regen::data::Image::zeros(1, 5, 5)
        .save(&d.join("tiny.png"))
        .unwrap();
    let o = run(&[
        "eval",
        "restore",
        "--data",
        d.path().to_str().unwrap(),
        "--sigma",
        "25",
    ]);
    assert_user_error(&o, "tiny.png: smaller than 11x11");
}

/// `regen ... | head` closes the pipe before regen prints: it must end quietly (exit 0, or
/// 141 where SIGPIPE kills it), not panic on the failed write.
#[test]
fn a_closed_stdout_ends_quietly() {
    use std::process::Stdio;
    let data = fixtures().join("train");
    let mut child = regen()
        .args([
            "eval",
            "restore",
            "--data",
            data.to_str().unwrap(),
            "--sigma",
            "25",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("regen runs");
    // The reading end closes before the table (the last thing regen does) is written.
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    let err = stderr(&o);
    assert!(
        matches!(o.status.code(), Some(0) | None),
        "{:?}: {err}",
        o.status
    );
    assert!(!err.contains("panicked"), "{err}");
}
