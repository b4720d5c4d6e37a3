//! The fuzzers' findings, replayed on stable Rust in every test run: each input that once
//! crashed a target (`fuzz/regressions/TARGET/`), the odd-image fixtures, and every fixture
//! image cut at each tenth of its length, through the very checks the fuzz targets make
//! (`regen::fuzz`). The fuzzers themselves need nightly Rust and `cargo fuzz` (`fuzz/README.md`).

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn regressions(target: &str) -> Vec<PathBuf> {
    files(&root().join("fuzz/regressions").join(target))
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n != "README.md"))
        .collect()
}

#[test]
fn image_inputs_that_crashed_and_odd_files() {
    let fixtures = root().join("crates/regen/tests/fixtures");
    let mut inputs = regressions("image");
    inputs.extend(files(&fixtures.join("odd")));
    for p in &inputs {
        regen::fuzz::image(&std::fs::read(p).unwrap());
    }
    // Every fixture image truncated at each tenth of its length: an error or, where the
    // format tolerates it, an image; never a crash.
    let mut whole = files(&fixtures.join("photos"));
    whole.extend(files(&fixtures.join("train")));
    whole.extend(files(&fixtures.join("odd")));
    for p in &whole {
        let bytes = std::fs::read(p).unwrap();
        for tenth in 0..10 {
            regen::fuzz::image(&bytes[..bytes.len() * tenth / 10]);
        }
    }
}

#[test]
fn idx_inputs_that_crashed() {
    for p in regressions("idx") {
        regen::fuzz::idx(&std::fs::read(&p).unwrap());
    }
}

#[test]
fn config_inputs_that_crashed() {
    for p in regressions("config") {
        regen::fuzz::config(&std::fs::read(&p).unwrap());
    }
}

#[test]
fn checkpoint_inputs_that_crashed() {
    let scratch = std::env::temp_dir().join(format!("regen-replay-{}.st", std::process::id()));
    for p in regressions("checkpoint") {
        regen::fuzz::checkpoint(&std::fs::read(&p).unwrap(), &scratch);
    }
    let _ = std::fs::remove_file(&scratch);
}

/// Published model files: the `pth` target's findings, and every small PyTorch and
/// safetensors fixture cut at each tenth of its length, read and detected; never a crash.
#[test]
fn published_files_that_crashed_and_cut_fixtures() {
    for p in regressions("pth") {
        regen::fuzz::pth(&std::fs::read(&p).unwrap());
    }
    for p in regressions("ncnn") {
        regen::fuzz::ncnn(&std::fs::read(&p).unwrap());
    }
    let dir = root().join("crates/regen/tests/fixtures/published");
    for p in files(&dir) {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let small =
            name.starts_with("compact") || name.starts_with("dncnn") || name.starts_with("evil");
        if !small {
            continue;
        }
        let bytes = std::fs::read(&p).unwrap();
        for tenth in 0..=10 {
            regen::fuzz::pth(&bytes[..bytes.len() * tenth / 10]);
        }
    }
}
