//! Any bytes as a checkpoint for `regen restore --model` or `regen generate --model`: see
//! `regen::fuzz::checkpoint`.
#![no_main]

use std::path::PathBuf;
use std::sync::LazyLock;

static SCRATCH: LazyLock<PathBuf> = LazyLock::new(|| {
    std::env::temp_dir().join(format!("regen-fuzz-{}.safetensors", std::process::id()))
});

libfuzzer_sys::fuzz_target!(|data: &[u8]| regen::fuzz::checkpoint(data, &SCRATCH));
