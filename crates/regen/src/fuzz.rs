//! What each fuzz target checks (`fuzz/`, run with `cargo fuzz`), kept here so that the
//! fuzzers and the stable-Rust replay of their findings (`tests/fuzz_replay.rs`) run the very
//! same code: any input gives a value or an error, never a panic, a hang or a runaway
//! allocation.
//!
//! `pth` and `ncnn` take published model files (`crate::published`).

use std::path::Path;

use crate::data::{Idx, Image};
use crate::train::{GanTrainConfig, RestoreTrainConfig, VaeTrainConfig};

/// Bytes as an image file, under a pixel limit small enough to keep each run fast. A
/// decoded image is well formed: one sample per channel and pixel, all in [0, 1].
pub fn image(data: &[u8]) {
    crate::data::set_max_pixels(1 << 22);
    if let Ok(img) = Image::decode(data) {
        assert_eq!(img.data.len(), img.channels * img.height * img.width);
        assert!(img.data.iter().all(|v| (0.0..=1.0).contains(v)));
        // Its EXIF as an upscaled copy of it rewrites it (the stated resolution scaled).
        let scaled = img.meta.scaled(4);
        assert_eq!(
            scaled.exif.as_ref().map(Vec::len),
            img.meta.exif.as_ref().map(Vec::len)
        );
    }
    // The EXIF rewriter on any bytes at all (a decoder hands it only what it parsed).
    let _ = crate::data::scale_exif_resolution(data.to_vec(), 3);
}

/// Bytes as an IDX file; what parses writes back to bytes that parse the same.
pub fn idx(data: &[u8]) {
    if let Ok(idx) = Idx::parse(data) {
        let again = Idx::parse(&idx.to_bytes()).expect("its own output parses");
        assert_eq!(again.to_bytes(), idx.to_bytes());
    }
}

/// Bytes as a checkpoint handed to `--model` of `restore` and of `generate`, through a
/// file at `scratch`.
pub fn checkpoint(data: &[u8], scratch: &Path) {
    std::fs::write(scratch, data).expect("scratch file writable");
    let spec = scratch.to_str().expect("scratch path is UTF-8");
    let _ = crate::restore::Restorer::load(spec);
    let _ = crate::generate::Generator::load(spec);
}

/// Bytes as a training config (`--config FILE`) of each family; what parses validates or
/// is refused.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(c) = toml::from_str::<RestoreTrainConfig>(text) {
        let _ = c.validate();
    }
    if let Ok(c) = toml::from_str::<VaeTrainConfig>(text) {
        let _ = c.validate();
    }
    if let Ok(c) = toml::from_str::<GanTrainConfig>(text) {
        let _ = c.validate();
    }
}

/// Bytes as a published PyTorch checkpoint (zip or legacy pickle) and as a safetensors
/// file: read without running code, detected; what is detected describes itself
/// consistently.
pub fn pth(data: &[u8]) {
    if let Ok(sd) = crate::published::torch::read(data)
        && let Ok(m) = crate::published::detect::detect(sd, crate::published::Format::Torch)
    {
        assert_eq!(m.descriptor.check(), Ok(()));
    }
    if let Ok(sd) = crate::published::read_safetensors(data) {
        let _ = crate::published::detect::detect(sd, crate::published::Format::Safetensors);
    }
}

/// Bytes as an ncnn model: the `.param` text, a zero byte, then the `.bin` (all text when
/// there is no zero byte).
pub fn ncnn(data: &[u8]) {
    let cut = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let text = String::from_utf8_lossy(&data[..cut]);
    let bin = data.get(cut + 1..).unwrap_or(&[]);
    if let Ok(m) = crate::published::ncnn::from_parts(&text, bin) {
        assert_eq!(m.descriptor.check(), Ok(()));
    }
}
