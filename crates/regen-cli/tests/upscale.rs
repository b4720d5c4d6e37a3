//! Upscaling on the command line: the downscaling damage, training a Compact upscaler (and
//! resuming it), running it on a photo, scoring it on the super-resolution protocol beside
//! bicubic and Lanczos, and the mistakes users make with scales, each one line and exit 2.

mod common;

use common::{TempDir, assert_user_error, fixtures, run, stderr};

fn train_dir() -> String {
    fixtures().join("train").to_string_lossy().into_owned()
}

fn image(name: &str) -> String {
    fixtures()
        .join("train")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

fn dims(path: &std::path::Path) -> (u32, u32) {
    let img = image::open(path).expect("an image");
    (img.width(), img.height())
}

/// A tiny x2 Compact trained for `steps` steps into `out`.
fn train(out: &str, steps: &str, resume: bool) -> std::process::Output {
    let mut args = vec![
        "train", "restore", "--task", "upscale", "--scale", "2", "--data",
    ];
    let data = train_dir();
    args.push(&data);
    args.extend([
        "--width",
        "4",
        "--depth",
        "2",
        "--patch",
        "16",
        "--batch",
        "2",
        "--steps",
        steps,
        "--epoch-steps",
        "2",
        "--checkpoint-every",
        "2",
        "--quiet",
        "--out",
        out,
    ]);
    if resume {
        args.push("--resume");
    }
    run(&args)
}

#[test]
fn an_upscaler_trains_resumes_runs_and_is_scored() {
    let dir = TempDir::new("upscale");
    let out = dir.join("run").to_string_lossy().into_owned();
    let o = train(&out, "4", false);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = train(&out, "6", true);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary = String::from_utf8_lossy(&o.stdout);
    assert!(summary.contains("\"resumed_from\":4"), "{summary}");
    let model = format!("{out}/model.safetensors");

    // Its own task and factor come from the file.
    let big = dir.join("big.png");
    let o = run(&[
        "restore",
        "--model",
        &model,
        &image("test_001.png"),
        "-o",
        big.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(dims(&big), (360, 360));

    // The damage: ceil(180 / 3) = 60.
    let small = dir.join("small.png");
    let o = run(&[
        "corrupt",
        "--task",
        "upscale",
        "--scale",
        "3",
        &image("test_001.png"),
        "-o",
        small.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(dims(&small), (60, 60));

    // The protocol: bicubic, Lanczos and the model, on luminance.
    let o = run(&[
        "eval",
        "restore",
        "--task",
        "upscale",
        "--scale",
        "2",
        "--model",
        &model,
        "--data",
        &train_dir(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = r["rows"].as_array().unwrap();
    let methods: Vec<&str> = rows.iter().map(|r| r["method"].as_str().unwrap()).collect();
    assert_eq!(methods, ["bicubic", "lanczos", "regen model"]);
    for row in rows {
        let p = row["psnr"].as_f64().unwrap();
        assert!(p > 20.0 && p < 60.0, "{row}");
    }

    // Mistakes: a factor regen does not take, a factor the model does not have.
    let o = run(&[
        "restore",
        "--task",
        "upscale",
        "--scale",
        "5",
        &image("test_001.png"),
        "-o",
        big.to_str().unwrap(),
    ]);
    assert_user_error(&o, "--scale 5");
    let o = run(&[
        "restore",
        "--model",
        &model,
        "--scale",
        "4",
        &image("test_001.png"),
        "-o",
        big.to_str().unwrap(),
    ]);
    assert_user_error(&o, "enlarges by 2");
    let o = run(&[
        "eval",
        "restore",
        "--task",
        "upscale",
        "--scale",
        "3",
        "--model",
        &model,
        "--data",
        &train_dir(),
    ]);
    assert_user_error(&o, "enlarges by 2");
    let o = run(&[
        "train",
        "restore",
        "--task",
        "upscale",
        "--scale",
        "5",
        "--data",
        &train_dir(),
        "--out",
        &out,
    ]);
    assert_user_error(&o, "--scale 5");
    let o = run(&[
        "corrupt",
        "--task",
        "upscale",
        &image("test_001.png"),
        "-o",
        small.to_str().unwrap(),
    ]);
    assert_user_error(&o, "--scale");
}

/// Images too small for what is asked: a training set with no image of `scale x patch`
/// pixels, a test image too small to score once cropped and shaved, are one line each; an
/// input of 1x1 pixel is padded to what the network needs and enlarged.
#[test]
fn images_smaller_than_the_network_needs_are_one_line() {
    let dir = TempDir::new("upscale-small");
    let out = dir.join("run").to_string_lossy().into_owned();
    let o = run(&[
        "train",
        "restore",
        "--task",
        "upscale",
        "--scale",
        "4",
        "--patch",
        "64",
        "--data",
        &train_dir(),
        "--out",
        &out,
    ]);
    assert_user_error(&o, "256x256");

    let tiny = dir.join("tiny");
    std::fs::create_dir_all(&tiny).unwrap();
    image::GrayImage::from_fn(16, 16, |x, y| image::Luma([(x * 13 + y * 7) as u8]))
        .save(tiny.join("a.png"))
        .unwrap();
    let o = run(&[
        "eval",
        "restore",
        "--task",
        "upscale",
        "--scale",
        "4",
        "--model",
        &fixtures()
            .join("published/compact-x4.pth")
            .to_string_lossy(),
        "--data",
        tiny.to_str().unwrap(),
    ]);
    assert_user_error(&o, "too small");

    let one = dir.join("one.png");
    image::RgbImage::from_pixel(1, 1, image::Rgb([10, 200, 30]))
        .save(&one)
        .unwrap();
    let big = dir.join("one-x4.png");
    let o = run(&[
        "restore",
        "--model",
        &fixtures()
            .join("published/compact-x4.pth")
            .to_string_lossy(),
        one.to_str().unwrap(),
        "-o",
        big.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(dims(&big), (4, 4));
}

/// An upscaled PNG is written band by band as it is made; it holds what the whole-image
/// path writes to a TIFF: 16 bits kept, alpha enlarged, and the stated resolution scaled
/// so the photo prints at the same size.
#[test]
fn a_streamed_png_equals_the_whole_result_and_keeps_its_print_size() {
    use regen::data::{Density, DensityUnit, Image};
    let dir = TempDir::new("upscale-stream");
    let (h, w) = (45, 70);
    let mut img = Image {
        channels: 4,
        data: (0..4 * h * w)
            .map(|i| ((i * 7919) % 4001) as f32 / 4000.0)
            .collect(),
        sixteen_bit: true,
        ..Image::zeros(0, h, w)
    };
    img.meta.density = Some(Density {
        x: 300,
        y: 300,
        unit: DensityUnit::PerInch,
    });
    let input = dir.join("in.png");
    img.save(&input).unwrap();
    let model = fixtures().join("published/compact-x4.pth");
    let mut outs = Vec::new();
    for name in ["out.png", "out.tif"] {
        let out = dir.join(name);
        let o = run(&[
            "restore",
            "--model",
            model.to_str().unwrap(),
            "--tile",
            "16",
            input.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        outs.push(Image::load(&out).unwrap());
    }
    let (png, tif) = (&outs[0], &outs[1]);
    assert_eq!((png.height, png.width, png.channels), (4 * h, 4 * w, 4));
    assert!(png.sixteen_bit && tif.sixteen_bit);
    assert_eq!(png.data, tif.data);
    let d = png.meta.density.expect("a resolution");
    // 1200 dots per inch, as PNG stores it (per metre).
    assert_eq!((d.x, d.y), (47244, 47244), "{d:?}");
}
