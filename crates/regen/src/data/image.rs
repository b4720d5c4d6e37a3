//! Images in memory (`f32` in [0, 1], channels first) and their conversion to and from files.
//! 8-bit and 16-bit conversion happens only here, at the file boundary.

use std::path::Path;

use crate::error::{Error, Result};
use crate::fsutil::write_atomic;

/// One image: `channels` planes of `height * width` samples in [0, 1], channel-major (CHW).
/// A fourth (or second, for gray + alpha) channel is alpha; restoration leaves it untouched.
#[derive(Clone, Debug, PartialEq)]
pub struct Image {
    /// 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA).
    pub channels: usize,
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
    /// `channels * height * width` samples, CHW order.
    pub data: Vec<f32>,
    /// Whether the file this came from stored 16 bits per sample; saving keeps that depth.
    pub sixteen_bit: bool,
}

impl Image {
    /// A zero image.
    pub fn zeros(channels: usize, height: usize, width: usize) -> Self {
        Image {
            channels,
            height,
            width,
            data: vec![0.0; channels * height * width],
            sixteen_bit: false,
        }
    }

    /// A one-channel image from a row-major plane.
    pub fn gray(height: usize, width: usize, data: Vec<f32>) -> Self {
        assert_eq!(data.len(), height * width);
        Image {
            channels: 1,
            height,
            width,
            data,
            sixteen_bit: false,
        }
    }

    /// Number of colour channels (alpha excluded).
    pub fn color_channels(&self) -> usize {
        match self.channels {
            2 => 1,
            4 => 3,
            c => c,
        }
    }

    /// The plane of channel `c`.
    pub fn plane(&self, c: usize) -> &[f32] {
        let n = self.height * self.width;
        &self.data[c * n..(c + 1) * n]
    }

    /// The plane of channel `c`, mutable.
    pub fn plane_mut(&mut self, c: usize) -> &mut [f32] {
        let n = self.height * self.width;
        &mut self.data[c * n..(c + 1) * n]
    }

    /// A one-channel image holding channel `c`.
    pub fn channel(&self, c: usize) -> Image {
        Image::gray(self.height, self.width, self.plane(c).to_vec())
    }

    /// The image as it would be after saving to an 8-bit file and loading it again.
    pub fn quantized_8bit(&self) -> Image {
        let mut out = self.clone();
        for v in &mut out.data {
            *v = to_u8(*v) as f32 / 255.0;
        }
        out.sixteen_bit = false;
        out
    }

    /// Reads PNG, JPEG, BMP or TIFF; 8 or 16 bits; gray, gray+alpha, RGB or RGBA.
    pub fn load(path: &Path) -> Result<Image> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Image::decode(&bytes).map_err(|reason| Error::bad_file(path, reason))
    }

    /// Decodes an image held in memory; the error says what is wrong with the bytes.
    pub fn decode(bytes: &[u8]) -> std::result::Result<Image, String> {
        use image::DynamicImage as D;
        let format = image::guess_format(bytes)
            .map_err(|_| "not an image regen can read (PNG, JPEG, BMP or TIFF)".to_string())?;
        let img = image::load_from_memory_with_format(bytes, format)
            .map_err(|e| format!("cannot decode {format:?} image: {e}"))?;
        let (w, h) = (img.width() as usize, img.height() as usize);
        let (channels, sixteen_bit, interleaved): (usize, bool, Vec<f32>) = match img {
            D::ImageLuma8(b) => (1, false, scale8(b.as_raw())),
            D::ImageLumaA8(b) => (2, false, scale8(b.as_raw())),
            D::ImageRgb8(b) => (3, false, scale8(b.as_raw())),
            D::ImageRgba8(b) => (4, false, scale8(b.as_raw())),
            D::ImageLuma16(b) => (1, true, scale16(b.as_raw())),
            D::ImageLumaA16(b) => (2, true, scale16(b.as_raw())),
            D::ImageRgb16(b) => (3, true, scale16(b.as_raw())),
            D::ImageRgba16(b) => (4, true, scale16(b.as_raw())),
            other => {
                let b = other.to_rgba32f();
                let v: Vec<f32> = b.as_raw().iter().map(|v| v.clamp(0.0, 1.0)).collect();
                (4, true, v)
            }
        };
        if w == 0 || h == 0 {
            return Err("image has no pixels".into());
        }
        let mut data = vec![0.0; channels * h * w];
        for (i, px) in interleaved.chunks_exact(channels).enumerate() {
            for (c, v) in px.iter().enumerate() {
                data[c * h * w + i] = *v;
            }
        }
        Ok(Image {
            channels,
            height: h,
            width: w,
            data,
            sixteen_bit,
        })
    }

    /// Writes the image; the format follows the extension (png, jpg/jpeg, bmp, tif/tiff).
    /// The file is written to a temporary name and renamed, so it is never half-written.
    pub fn save(&self, path: &Path) -> Result<()> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let format = match ext.as_str() {
            "png" => image::ImageFormat::Png,
            "jpg" | "jpeg" => image::ImageFormat::Jpeg,
            "bmp" => image::ImageFormat::Bmp,
            "tif" | "tiff" => image::ImageFormat::Tiff,
            _ => {
                return Err(Error::arg(format!(
                    "{}: unknown output format (use .png, .jpg, .bmp or .tif)",
                    path.display()
                )));
            }
        };
        // JPEG and BMP have no 16-bit or alpha forms worth keeping here.
        let lossy = matches!(format, image::ImageFormat::Jpeg | image::ImageFormat::Bmp);
        let dynimg = self.to_dynamic(lossy);
        let mut buf = std::io::Cursor::new(Vec::new());
        dynimg
            .write_to(&mut buf, format)
            .map_err(|e| Error::bad_file(path, format!("cannot encode image: {e}")))?;
        write_atomic(path, buf.get_ref())
    }

    fn interleaved(&self) -> impl Iterator<Item = f32> + '_ {
        let n = self.height * self.width;
        (0..n * self.channels).map(move |k| self.data[(k % self.channels) * n + k / self.channels])
    }

    fn to_dynamic(&self, eight_bit_no_alpha: bool) -> image::DynamicImage {
        use image::{DynamicImage as D, ImageBuffer};
        let (w, h) = (self.width as u32, self.height as u32);
        if eight_bit_no_alpha {
            let src = Image {
                channels: self.color_channels(),
                data: self.data[..self.color_channels() * self.height * self.width].to_vec(),
                ..self.clone()
            };
            let v: Vec<u8> = src.interleaved().map(to_u8).collect();
            return if src.channels == 1 {
                D::ImageLuma8(ImageBuffer::from_raw(w, h, v).expect("size"))
            } else {
                D::ImageRgb8(ImageBuffer::from_raw(w, h, v).expect("size"))
            };
        }
        if self.sixteen_bit {
            let v: Vec<u16> = self.interleaved().map(to_u16).collect();
            match self.channels {
                1 => D::ImageLuma16(ImageBuffer::from_raw(w, h, v).expect("size")),
                2 => D::ImageLumaA16(ImageBuffer::from_raw(w, h, v).expect("size")),
                3 => D::ImageRgb16(ImageBuffer::from_raw(w, h, v).expect("size")),
                _ => D::ImageRgba16(ImageBuffer::from_raw(w, h, v).expect("size")),
            }
        } else {
            let v: Vec<u8> = self.interleaved().map(to_u8).collect();
            match self.channels {
                1 => D::ImageLuma8(ImageBuffer::from_raw(w, h, v).expect("size")),
                2 => D::ImageLumaA8(ImageBuffer::from_raw(w, h, v).expect("size")),
                3 => D::ImageRgb8(ImageBuffer::from_raw(w, h, v).expect("size")),
                _ => D::ImageRgba8(ImageBuffer::from_raw(w, h, v).expect("size")),
            }
        }
    }
}

fn scale8(v: &[u8]) -> Vec<f32> {
    v.iter().map(|&x| x as f32 / 255.0).collect()
}

fn scale16(v: &[u16]) -> Vec<f32> {
    v.iter().map(|&x| x as f32 / 65535.0).collect()
}

/// [0, 1] to 8 bits: clamp, then round to nearest.
pub fn to_u8(v: f32) -> u8 {
    (v.clamp(0.0, 1.0) * 255.0).round() as u8
}

fn to_u16(v: f32) -> u16 {
    (v.clamp(0.0, 1.0) * 65535.0).round() as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_round_trip_8_and_16_bit_rgba() {
        let dir = std::env::temp_dir().join(format!("regen-img-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut img = Image::zeros(4, 3, 5);
        for (i, v) in img.data.iter_mut().enumerate() {
            *v = (i % 17) as f32 / 16.0;
        }
        for sixteen in [false, true] {
            img.sixteen_bit = sixteen;
            let p = dir.join(format!("x{sixteen}.png"));
            img.save(&p).unwrap();
            let back = Image::load(&p).unwrap();
            assert_eq!((back.channels, back.height, back.width), (4, 3, 5));
            assert_eq!(back.sixteen_bit, sixteen);
            let tol = if sixteen {
                1.0 / 65535.0
            } else {
                0.5 / 255.0 + 1e-6
            };
            for (a, b) in img.data.iter().zip(&back.data) {
                assert!((a - b).abs() <= tol, "{a} {b}");
            }
        }
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn text_is_not_an_image() {
        let err = Image::decode(b"hello, I am text").unwrap_err();
        assert!(err.contains("not an image"), "{err}");
    }
}
