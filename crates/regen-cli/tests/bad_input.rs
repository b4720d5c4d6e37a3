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
    use regen::models::{Descriptor, RestoreConfig, VaeConfig};
    let d = TempDir::new("family");
    let config = RestoreConfig::new().with_width(4).with_depth(1);
    let net = config.init(&regen::device::device());
    let card = ModelCard::new(Descriptor::vae(VaeConfig::new()), 1);
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
    // A file the TIFF decoder panics on: contained, reported, the batch goes on.
    std::fs::copy(
        fixtures().join("odd/tiled-planar-rgb16-37x21.tif"),
        input.join("planar.tif"),
    )
    .unwrap();
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
    assert!(
        err.contains("planar.tif: cannot decode Tiff image: the decoder failed"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    // Each failure counted once: two restored, two refused.
    assert!(err.contains("2 done, 2 failed"), "{err}");
    assert!(out.join("good.png").exists());
    assert!(out.join("sub/also-good.png").exists());
    assert!(!out.join("broken.png").exists());
    assert!(!out.join("planar.tif").exists());

    // Run again with --skip-existing after losing one output: only that one is redone, and
    // the output left in place is not rewritten.
    std::fs::remove_file(out.join("sub/also-good.png")).unwrap();
    let kept = std::fs::metadata(out.join("good.png"))
        .unwrap()
        .modified()
        .unwrap();
    let o = run(&[
        "restore",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--skip-existing",
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("1 done, 2 failed, 1 skipped (output exists)"),
        "{err}"
    );
    assert!(out.join("sub/also-good.png").exists());
    let now = std::fs::metadata(out.join("good.png"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(kept, now);
}

#[test]
fn one_bad_file_is_counted_once() {
    let d = TempDir::new("count");
    std::fs::write(d.join("broken.png"), b"not a png").unwrap();
    let o = run(&[
        "restore",
        d.join("broken.png").to_str().unwrap(),
        "-o",
        d.join("out.png").to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("0 done, 1 failed"), "{err}");
}

#[test]
fn pixel_limit_refuses_from_the_header() {
    let d = TempDir::new("limit");
    let photo = fixtures().join("photos/clean-256.png");
    let o = run(&[
        "restore",
        photo.to_str().unwrap(),
        "-o",
        d.join("out.png").to_str().unwrap(),
        "--max-pixels",
        "60000",
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("clean-256.png: 256 x 256 pixels is more than the limit of 60000"),
        "{err}"
    );
    assert!(!d.join("out.png").exists());
}

#[test]
fn jpeg_quality_is_checked() {
    let o = run(&["restore", "x.png", "-o", "y.jpg", "--quality", "0"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--quality"), "{}", stderr(&o));
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

#[test]
fn ctrl_c_stops_a_batch_between_files() {
    let d = TempDir::new("sigint");
    let input = d.join("in");
    std::fs::create_dir_all(&input).unwrap();
    for i in 0..40 {
        std::fs::copy(
            fixtures().join("photos/clean-256.png"),
            input.join(format!("p{i:02}.png")),
        )
        .unwrap();
    }
    let out = d.join("out");
    let child = regen()
        .args([
            "restore",
            input.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt once the first output is there, as a user would part way through.
    let first = out.join("p00.png");
    for _ in 0..6000 {
        if first.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(first.exists(), "the batch never wrote its first output");
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let o = child.wait_with_output().unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted: "), "{err}");
    // Whatever was written is whole: every output decodes, and no temporary file is left.
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.len() < 40, "{names:?}");
    for n in &names {
        assert!(!n.ends_with(".tmp"), "{names:?}");
        regen::data::Image::load(&out.join(n)).unwrap();
    }
}

/// A small tmpfs at `dir` (`opts` as for `mount -o`), unmounted when dropped; `None` where
/// this machine will not mount one (not root, or a container without the right).
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: std::path::PathBuf, opts: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(&dir).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", opts, "tmpfs", dir.to_str().unwrap()])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Tmpfs(dir))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn full_disk_and_read_only_output_name_the_file() {
    let d = TempDir::new("fullfs");
    let input = d.join("in");
    std::fs::create_dir_all(&input).unwrap();
    for i in 1..=5 {
        let name = format!("test_00{i}.png");
        std::fs::copy(fixtures().join("train").join(&name), input.join(&name)).unwrap();
    }
    let before: Vec<Vec<u8>> = (1..=5)
        .map(|i| std::fs::read(input.join(format!("test_00{i}.png"))).unwrap())
        .collect();
    // 50 KB holds some of the five outputs (15-23 KB each), not all.
    let Some(full) = Tmpfs::mount(d.join("full"), "size=50k") else {
        eprintln!("skipped: cannot mount a tmpfs here (needs root outside a container)");
        return;
    };
    let o = run(&[
        "restore",
        input.to_str().unwrap(),
        "-o",
        full.0.to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // What was written is whole; nothing half-written or temporary is left.
    let mut written = 0;
    for e in std::fs::read_dir(&full.0).unwrap() {
        let p = e.unwrap().path();
        assert!(!p.to_string_lossy().ends_with(".tmp"), "{}", p.display());
        regen::data::Image::load(&p).unwrap();
        written += 1;
    }
    assert!((1..5).contains(&written), "{written} outputs: {err}");
    assert!(
        err.contains(&format!("{written} done, {} failed", 5 - written)),
        "{err}"
    );

    let ro = Tmpfs::mount(d.join("ro"), "size=1m,ro").expect("mounted one already");
    let o = run(&[
        "restore",
        input.to_str().unwrap(),
        "-o",
        ro.0.join("out").to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("Read-only file system"), "{err}");
    assert!(err.contains("0 done, 5 failed"), "{err}");
    // The inputs are untouched.
    for (i, b) in before.iter().enumerate() {
        assert_eq!(
            &std::fs::read(input.join(format!("test_00{}.png", i + 1))).unwrap(),
            b
        );
    }
}
