//! regen's MATLAB-style bicubic resize against an independent implementation: BasicSR's
//! port of MATLAB's `imresize` (basicsr 1.4.2, `basicsr/utils/matlab_functions.py`), the
//! one the super-resolution community makes its test inputs with. The expected outputs were
//! written by `tests/fixtures/resize/make.py`:
//! ```python
//! img = 0.5 + 0.3 * np.sin(0.7 * y + 0.045 * x * x) + 0.15 * ((x + 2 * y) % 7 > 3)
//! img = np.clip(img + 0.05 * np.cos(13.1 * x * y), 0, 1).astype(np.float32)  # 26 x 19
//! for scale in [1 / 2, 1 / 3, 1 / 4, 2, 3, 4]:
//!     out = mf.imresize(img[:, :, None].copy(), scale, antialiasing=True)[:, :, 0]
//! # where mf.imresize, per axis (rows, then columns):
//! #   kernel_width = 4 / scale if scale < 1 else 4
//! #   u = x / scale + 0.5 * (1 - 1 / scale)           # x = 1..out_length
//! #   left = floor(u - kernel_width / 2); p = ceil(kernel_width) + 2
//! #   weights = scale * cubic(scale * (u - idx)) if scale < 1 else cubic(u - idx)
//! #   weights /= weights.sum(1); out-of-range idx mirrored ([1..n, n..1])
//! ```
//! Tolerance 1e-5 per pixel (both sides in f32; the results are 0-1 values, so this is
//! 1/400 of an 8-bit step; a wrong centre or kernel width is off by 1e-2 or more).

use regen::corrupt::resize::{Kernel, resize_plane, scaled_len};

#[test]
fn bicubic_resize_equals_basicsr_matlab_imresize() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/resize/bicubic.json"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).expect("the fixture parses");
    let floats = |v: &serde_json::Value| -> Vec<f32> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect()
    };
    let (h, w) = (
        v["height"].as_u64().unwrap() as usize,
        v["width"].as_u64().unwrap() as usize,
    );
    let input = floats(&v["input"]);
    let cases = v["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 6);
    for c in cases {
        let scale = c["scale"].as_f64().unwrap();
        let (oh, ow) = (
            c["height"].as_u64().unwrap() as usize,
            c["width"].as_u64().unwrap() as usize,
        );
        assert_eq!(
            (scaled_len(h, scale), scaled_len(w, scale)),
            (oh, ow),
            "sides at {scale}"
        );
        let got = resize_plane(&input, h, w, oh, ow, scale, Kernel::Cubic);
        let want = floats(&c["data"]);
        let worst = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        println!("scale {scale:.4}: {oh}x{ow}, largest difference {worst:.2e}");
        assert!(worst <= 1e-5, "scale {scale}: largest difference {worst}");
    }
}
