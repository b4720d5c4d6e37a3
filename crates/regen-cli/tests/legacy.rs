//! Checkpoints written before model descriptors (a card with the family and task as words
//! and a flat network config) load and give, pixel for pixel, what the regen that wrote
//! them gave. The fixtures and that regen's outputs come from
//! `crates/regen/tests/fixtures/legacy/make.sh`, run with the regen of commit 08226c4.

mod common;

use common::{TempDir, fixtures, run, stderr};

/// Runs `regen ARGS... -o OUT` (or `--grid OUT` for generate) and compares OUT with the
/// fixture `expected`.
fn same_as_before(args: &[&str], grid: bool, expected: &str) {
    let d = TempDir::new("legacy");
    let out = d.join("out.png");
    let mut all: Vec<&str> = args.to_vec();
    all.extend([if grid { "--grid" } else { "-o" }, out.to_str().unwrap()]);
    let o = run(&all);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    // The pixels, byte for byte: the file's own bytes may differ, as `regen restore` now
    // writes PNGs band by band through another encoder.
    let pixels = |p: &std::path::Path| image::open(p).unwrap().into_bytes();
    let want = pixels(&fixtures().join("legacy").join(expected));
    assert!(pixels(&out) == want, "{args:?}: differs from {expected}");
}

#[test]
fn checkpoints_from_before_descriptors_give_what_they_gave() {
    let f = |n: &str| {
        fixtures()
            .join("legacy")
            .join(n)
            .to_string_lossy()
            .into_owned()
    };
    let (noisy, holes, blur, mask) = (
        f("gray-noisy.png"),
        f("gray-holes.png"),
        f("gray-blur.png"),
        f("mask.png"),
    );
    let m = |n: &str| f(&format!("{n}.safetensors"));
    let restores: [(Vec<&str>, &str); 5] = [
        (vec!["--sigma", "20"], "denoise-gray-map"),
        (vec![], "dncnn-color"),
        (vec!["--task", "inpaint", "--mask", &mask], "inpaint-gray"),
        (
            vec![
                "--task",
                "deblur",
                "--blur",
                "gaussian",
                "--blur-sigma",
                "1.6",
            ],
            "deblur-nonblind",
        ),
        (vec!["--task", "deblur", "--sigma", "5"], "deblur-blind-map"),
    ];
    for (extra, name) in restores {
        let model = m(name);
        let input = match name {
            "inpaint-gray" => &holes,
            n if n.starts_with("deblur") => &blur,
            _ => &noisy,
        };
        let mut args = vec!["restore", "--model", &model];
        args.extend(extra.iter().copied());
        args.push(input);
        same_as_before(&args, false, &format!("{name}.out.png"));
    }
    let cvae = m("cvae");
    same_as_before(
        &[
            "generate", "--model", &cvae, "-n", "4", "--class", "3", "--seed", "1",
        ],
        true,
        "cvae.out.png",
    );
    let gan = m("gan");
    same_as_before(
        &["generate", "--model", &gan, "-n", "4", "--seed", "1"],
        true,
        "gan.out.png",
    );
}
