//! The super-resolution protocol's scores: PSNR and SSIM on the luminance (BT.601 Y as
//! MATLAB's `rgb2ycbcr` computes it) with `shave` pixels cut from each border, as the
//! published Set5 / Set14 tables are (BasicSR's `calculate_psnr(..., test_y_channel=True,
//! crop_border=scale)`). Gray images are scored on their one plane.

use crate::data::Image;

/// The luminance of `img` in [0, 1] (Y / 255): `(16 + 65.481 R + 128.553 G + 24.966 B) /
/// 255` for colour images, the plane itself for gray ones, with `shave` pixels cut from
/// each side; and its height and width.
pub fn luma(img: &Image, shave: usize) -> (Vec<f32>, usize, usize) {
    let (h, w) = (img.height, img.width);
    let (oh, ow) = (h.saturating_sub(2 * shave), w.saturating_sub(2 * shave));
    let mut out = Vec::with_capacity(oh * ow);
    for y in shave..shave + oh {
        for x in shave..shave + ow {
            let i = y * w + x;
            out.push(if img.color_channels() == 3 {
                let (r, g, b) = (img.plane(0)[i], img.plane(1)[i], img.plane(2)[i]);
                (16.0 + 65.481 * r + 128.553 * g + 24.966 * b) / 255.0
            } else {
                img.plane(0)[i]
            });
        }
    }
    (out, oh, ow)
}

/// The top-left part of `img` whose sides are multiples of `s` (BasicSR's `mod_crop`), so
/// that shrinking by `s` and enlarging back gives its size.
pub fn mod_crop(img: &Image, s: usize) -> Image {
    let (h, w) = (img.height / s * s, img.width / s * s);
    let mut data = Vec::with_capacity(img.channels * h * w);
    for c in 0..img.channels {
        for row in img.plane(c).chunks(img.width).take(h) {
            data.extend_from_slice(&row[..w]);
        }
    }
    Image {
        channels: img.channels,
        height: h,
        width: w,
        data,
        sixteen_bit: img.sixteen_bit,
        meta: img.meta.clone(),
    }
}

/// Y-PSNR (dB, peak 255) of `out` against `clean`, `shave` pixels cut from each border.
pub fn psnr_y(out: &Image, clean: &Image, shave: usize) -> f64 {
    super::psnr(&luma(out, shave).0, &luma(clean, shave).0)
}

/// Y-SSIM of `out` against `clean`, `shave` pixels cut from each border.
pub fn ssim_y(out: &Image, clean: &Image, shave: usize) -> f64 {
    let (a, h, w) = luma(out, shave);
    super::ssim(&a, &luma(clean, shave).0, h, w)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Golden value from numpy, the protocol as BasicSR computes it on 8-bit images:
    /// ```python
    /// h, w = 20, 24
    /// i, j = np.mgrid[0:h, 0:w]
    /// r = ((i * 7 + j * 13) % 31) / 30.0
    /// g = ((i * 3 + j * 5) % 17) / 16.0
    /// b = ((i * 11 + j * 2) % 23) / 22.0
    /// hr = np.stack([r, g, b], -1)
    /// sr = np.clip(hr + (((i * j) % 5 - 2) / 50.0)[..., None] * np.array([1, -1, 0.5]), 0, 1)
    /// hr8 = np.floor(hr * 255 + 0.5); sr8 = np.floor(sr * 255 + 0.5)  # round half up, as regen
    /// y = lambda im: 16 + (65.481 * im[..., 0] + 128.553 * im[..., 1] + 24.966 * im[..., 2]) / 255
    /// a, c = y(hr8)[3:-3, 3:-3], y(sr8)[3:-3, 3:-3]     # crop_border 3
    /// 10 * np.log10(255.0 ** 2 / np.mean((a - c) ** 2))  # 43.022416102887235
    /// ```
    /// Tolerance 1e-3 dB (f32 luminance).
    #[test]
    fn y_psnr_matches_numpy() {
        let (h, w) = (20, 24);
        let mut hr = Image::zeros(3, h, w);
        let mut sr = Image::zeros(3, h, w);
        let tint = [1.0, -1.0, 0.5];
        for i in 0..h {
            for j in 0..w {
                let v = [
                    ((i * 7 + j * 13) % 31) as f64 / 30.0,
                    ((i * 3 + j * 5) % 17) as f64 / 16.0,
                    ((i * 11 + j * 2) % 23) as f64 / 22.0,
                ];
                let d = (((i * j) % 5) as f64 - 2.0) / 50.0;
                for c in 0..3 {
                    hr.plane_mut(c)[i * w + j] = v[c] as f32;
                    sr.plane_mut(c)[i * w + j] = (v[c] + d * tint[c]).clamp(0.0, 1.0) as f32;
                }
            }
        }
        let p = psnr_y(&sr.quantized_8bit(), &hr.quantized_8bit(), 3);
        assert!((p - 43.022416102887235).abs() < 1e-3, "{p}");
    }
}
