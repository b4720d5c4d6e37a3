//! Images in memory (`f32` in [0, 1], channels first) and their conversion to and from files.
//! 8-bit and 16-bit conversion happens only here, at the file boundary.

use std::io::Cursor;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use image::metadata::Orientation;
use image::{ImageDecoder, ImageEncoder};

use super::density::{self, Density};
use crate::error::{Error, Result};
use crate::fsutil::write_atomic;

/// The largest image [`Image::decode`] accepts unless [`set_max_pixels`] says otherwise:
/// 250 megapixels, a 20000 x 12500 panorama, about 3 GB as regen's floats.
pub const DEFAULT_MAX_PIXELS: u64 = 250_000_000;

static MAX_PIXELS: AtomicU64 = AtomicU64::new(DEFAULT_MAX_PIXELS);

/// Sets the pixel count above which images are refused from their header, before any pixel
/// is decoded (a "decompression bomb" declares a huge size in a tiny file).
pub fn set_max_pixels(n: u64) {
    MAX_PIXELS.store(n, Ordering::Relaxed);
}

/// The pixel limit in force (see [`set_max_pixels`]).
pub fn max_pixels() -> u64 {
    MAX_PIXELS.load(Ordering::Relaxed)
}

/// What a photo file carries besides its pixels, kept from input to output.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metadata {
    /// The ICC colour profile, as stored.
    pub icc_profile: Option<Vec<u8>>,
    /// The EXIF block (TIFF-structured, without JPEG's `Exif\0\0` prefix), with its
    /// orientation reset to upright, since loading turned the pixels upright.
    pub exif: Option<Vec<u8>>,
    /// The resolution stated outside EXIF (JPEG's JFIF header, PNG's `pHYs`), upright.
    pub density: Option<Density>,
}

impl Metadata {
    /// The metadata of the image enlarged `s` times: the stated resolutions (outside EXIF
    /// and in it) `s` times higher, so it prints at the same size; profile and the rest of
    /// the EXIF as they were.
    pub fn scaled(&self, s: usize) -> Metadata {
        if s == 1 {
            return self.clone();
        }
        Metadata {
            icc_profile: self.icc_profile.clone(),
            exif: self
                .exif
                .clone()
                .map(|e| density::scale_exif_resolution(e, s as u32)),
            density: self.density.map(|d| d.scaled(s)),
        }
    }
}

/// How [`Image::save_with`] writes a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SaveOptions {
    /// JPEG quality, 1 to 100.
    pub jpeg_quality: u8,
    /// Write the input's ICC profile, EXIF and resolution where the format holds them (PNG,
    /// JPEG; the profile alone in TIFF).
    pub keep_metadata: bool,
}

impl Default for SaveOptions {
    fn default() -> Self {
        SaveOptions {
            jpeg_quality: 95,
            keep_metadata: true,
        }
    }
}

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
    /// The colour profile and EXIF of the file this came from.
    pub meta: Metadata,
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
            meta: Metadata::default(),
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
            meta: Metadata::default(),
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

    /// Reads PNG, JPEG, BMP or TIFF; 8 or 16 bits; gray, gray+alpha, RGB or RGBA; turned
    /// upright as its EXIF orientation says, as viewers show it.
    pub fn load(path: &Path) -> Result<Image> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Image::decode(&bytes).map_err(|reason| Error::bad_file(path, reason))
    }

    /// Decodes an image held in memory; the error says what is wrong with the bytes. Images
    /// above [`max_pixels`] are refused from their header, and a decoder that panics on a
    /// malformed file (decoders are other people's code) gives an error, not a crash.
    pub fn decode(bytes: &[u8]) -> std::result::Result<Image, String> {
        let format = image::guess_format(bytes)
            .map_err(|_| "not an image regen can read (PNG, JPEG, BMP or TIFF)".to_string())?;
        let decoded = crate::panics::contain(|| decode_as(bytes, format, max_pixels()))
            .unwrap_or_else(|msg| {
                Err(format!(
                    "cannot decode {format:?} image: the decoder failed on this file ({msg})"
                ))
            });
        // Decoders' messages may end in or contain line breaks; a refusal is one line.
        decoded.map_err(|e| e.split_whitespace().collect::<Vec<_>>().join(" "))
    }

    /// The width and height an image file declares, read from its header alone: what a
    /// server checks against its limits before it decodes (or even stores) anything.
    pub fn dimensions(bytes: &[u8]) -> std::result::Result<(usize, usize), String> {
        let format = image::guess_format(bytes)
            .map_err(|_| "not an image regen can read (PNG, JPEG, BMP or TIFF)".to_string())?;
        let header = crate::panics::contain(|| {
            let reader = image::ImageReader::with_format(Cursor::new(bytes), format);
            let decoder = reader.into_decoder().map_err(|e| e.to_string())?;
            let (w, h) = decoder.dimensions();
            Ok((w as usize, h as usize))
        });
        header
            .unwrap_or_else(Err)
            .map_err(|e| format!("cannot read {format:?} header: {e}"))
            .map_err(|e| e.split_whitespace().collect::<Vec<_>>().join(" "))
    }

    /// Writes the image with the default [`SaveOptions`].
    pub fn save(&self, path: &Path) -> Result<()> {
        self.save_with(path, &SaveOptions::default())
    }

    /// Writes the image; the format follows the extension (png, jpg/jpeg, bmp, tif/tiff).
    /// The file is written to a temporary name and renamed, so it is never half-written.
    pub fn save_with(&self, path: &Path, opts: &SaveOptions) -> Result<()> {
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
        let bytes = self
            .encode(format, opts)
            .map_err(|reason| Error::bad_file(path, reason))?;
        write_atomic(path, &bytes)
    }

    /// The bytes [`Image::save_with`] writes to a `.png` file: what a web page or another
    /// program gets without touching the disk.
    pub fn encode_png(&self, opts: &SaveOptions) -> Result<Vec<u8>> {
        self.encode(image::ImageFormat::Png, opts)
            .map_err(|e| Error::internal(format!("cannot encode PNG: {e}")))
    }

    /// The file's bytes in `format` (PNG, JPEG, BMP or TIFF); the error says why not.
    fn encode(
        &self,
        format: image::ImageFormat,
        opts: &SaveOptions,
    ) -> std::result::Result<Vec<u8>, String> {
        if !(1..=100).contains(&opts.jpeg_quality) {
            return Err(format!(
                "JPEG quality {}: must be 1 to 100",
                opts.jpeg_quality
            ));
        }
        // JPEG and BMP have no 16-bit or alpha forms worth keeping here.
        let lossy = matches!(format, image::ImageFormat::Jpeg | image::ImageFormat::Bmp);
        let dynimg = self.to_dynamic(lossy);
        let meta = if opts.keep_metadata {
            self.meta.clone()
        } else {
            Metadata::default()
        };
        let mut buf = Cursor::new(Vec::new());
        let density = meta.density;
        if format == image::ImageFormat::Png {
            // Through the encoder that writes large results band by band, so every PNG
            // regen makes of the same image is the same bytes.
            return super::stream::png_bytes(self, opts.keep_metadata);
        }
        let written = match format {
            image::ImageFormat::Jpeg => {
                let mut encoder =
                    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, opts.jpeg_quality);
                if let Some(d) = density.and_then(Density::to_jpeg) {
                    encoder.set_pixel_density(d);
                }
                dynimg.write_with_encoder(with_meta(encoder, meta))
            }
            image::ImageFormat::Tiff => dynimg.write_with_encoder(with_meta(
                image::codecs::tiff::TiffEncoder::new(&mut buf),
                Metadata { exif: None, ..meta },
            )),
            _ => dynimg.write_to(&mut buf, format),
        };
        written.map_err(|e| format!("cannot encode image: {e}"))?;
        Ok(buf.into_inner())
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

/// Decodes `bytes` as `format`: the header first, to refuse more than `max` pixels before
/// anything is allocated, then the pixels, turned upright.
fn decode_as(
    bytes: &[u8],
    format: image::ImageFormat,
    max: u64,
) -> std::result::Result<Image, String> {
    use image::DynamicImage as D;
    let cannot = |e: image::ImageError| format!("cannot decode {format:?} image: {e}");
    if format == image::ImageFormat::Jpeg && jpeg_is_arithmetic(bytes) {
        return Err("an arithmetic-coded JPEG, which regen's JPEG decoder does not read; save it as a baseline JPEG or a PNG".into());
    }
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), format);
    // The decoders' own allocation cap (512 MiB by default) would refuse large photos
    // within the pixel limit; allow what the limit implies at 16-bit RGBA, twice over.
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(max.saturating_mul(16).max(512 << 20));
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(cannot)?;
    let (w, h) = decoder.dimensions();
    if w as u64 * h as u64 > max {
        return Err(format!(
            "{w} x {h} pixels is more than the limit of {max} (--max-pixels)"
        ));
    }
    // A CMYK profile would mislabel the RGB that CMYK JPEGs are converted to: dropped.
    let icc_profile = decoder
        .icc_profile()
        .ok()
        .flatten()
        .filter(|p| p.get(16..20) != Some(b"CMYK"));
    let mut exif = decoder.exif_metadata().ok().flatten();
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    if let Some(e) = exif.as_mut() {
        let _ = Orientation::remove_from_exif_chunk(e); // read above, from the decoder
    }
    let stated = match format {
        image::ImageFormat::Jpeg => density::read_jpeg(bytes),
        image::ImageFormat::Png => density::read_png(bytes),
        _ => None,
    };
    let turned = matches!(
        orientation,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    );
    let density = stated.map(|d| if turned { d.transposed() } else { d });
    let mut img = D::from_decoder(decoder).map_err(cannot)?;
    img.apply_orientation(orientation);
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
        meta: Metadata {
            icc_profile,
            exif,
            density,
        },
    })
}

/// `encoder` with the profile and EXIF of `meta` set, where it takes them.
fn with_meta<E: ImageEncoder>(mut encoder: E, meta: Metadata) -> E {
    // A format that holds no profile or EXIF says so; the pixels are written regardless.
    if let Some(icc) = meta.icc_profile {
        let _ = encoder.set_icc_profile(icc);
    }
    if let Some(exif) = meta.exif {
        let _ = encoder.set_exif_metadata(exif);
    }
    encoder
}

fn scale8(v: &[u8]) -> Vec<f32> {
    v.iter().map(|&x| x as f32 / 255.0).collect()
}

fn scale16(v: &[u16]) -> Vec<f32> {
    v.iter().map(|&x| x as f32 / 65535.0).collect()
}

/// Whether a JPEG is arithmetic-coded (frame markers SOF9-11 and SOF13-15), read from its
/// markers up to the first scan: the decoder refuses such files with a message about an
/// unsupported `DAC` header, which tells a user nothing.
fn jpeg_is_arithmetic(bytes: &[u8]) -> bool {
    density::jpeg_segments(bytes).any(|(m, _)| matches!(m, 0xC9..=0xCB | 0xCD..=0xCF))
}

/// [0, 1] to 8 bits: clamp, then round to nearest.
pub fn to_u8(v: f32) -> u8 {
    (v.clamp(0.0, 1.0) * 255.0).round() as u8
}

pub(super) fn to_u16(v: f32) -> u16 {
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

    /// A little-endian EXIF block holding only the orientation tag.
    fn exif_with_orientation(o: u16) -> Vec<u8> {
        let mut e = b"II*\0".to_vec();
        e.extend(8u32.to_le_bytes()); // IFD0 right after the header
        e.extend(1u16.to_le_bytes()); // one entry
        e.extend(0x0112u16.to_le_bytes()); // Orientation
        e.extend(3u16.to_le_bytes()); // SHORT
        e.extend(1u32.to_le_bytes());
        e.extend(o.to_le_bytes());
        e.extend([0, 0]);
        e.extend(0u32.to_le_bytes()); // no next IFD
        e
    }

    #[test]
    fn phone_jpeg_is_turned_upright_and_keeps_its_metadata() {
        // 32 wide, 16 tall, left half black: what a phone held sideways stores, with
        // "rotate 90 clockwise to view" (orientation 6) in its EXIF.
        let (w, h) = (32u32, 16u32);
        let px: Vec<u8> = (0..w * h)
            .flat_map(|i| [if i % w < 16 { 0 } else { 255 }; 3])
            .collect();
        let icc = b"an ICC profile, as opaque bytes".to_vec();
        let mut jpeg = Vec::new();
        let mut enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 95);
        enc.set_exif_metadata(exif_with_orientation(6)).unwrap();
        enc.set_icc_profile(icc.clone()).unwrap();
        // 300 dpi across and 150 down as stored: upright, 150 across and 300 down.
        enc.set_pixel_density(image::codecs::jpeg::PixelDensity {
            density: (300, 150),
            unit: image::codecs::jpeg::PixelDensityUnit::Inches,
        });
        enc.write_image(&px, w, h, image::ExtendedColorType::Rgb8)
            .unwrap();

        let img = Image::decode(&jpeg).unwrap();
        // Upright: 16 wide, 32 tall, the black left column now the top rows.
        assert_eq!((img.channels, img.width, img.height), (3, 16, 32));
        let row_mean = |y: usize| img.plane(0)[y * 16..(y + 1) * 16].iter().sum::<f32>() / 16.0;
        assert!(
            row_mean(2) < 0.1 && row_mean(29) > 0.9,
            "{} {}",
            row_mean(2),
            row_mean(29)
        );
        assert_eq!(img.meta.icc_profile.as_deref(), Some(&icc[..]));
        let exif = img.meta.exif.clone().expect("EXIF kept");
        assert_eq!(
            Orientation::from_exif_chunk(&exif),
            Some(Orientation::NoTransforms)
        );
        let upright = Density {
            x: 150,
            y: 300,
            unit: crate::data::DensityUnit::PerInch,
        };
        assert_eq!(img.meta.density, Some(upright));

        let dir = std::env::temp_dir().join(format!("regen-meta-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for ext in ["jpg", "png"] {
            let p = dir.join(format!("out.{ext}"));
            img.save(&p).unwrap();
            let back = Image::load(&p).unwrap();
            // Written upright with orientation 1, so it is not turned a second time.
            assert_eq!((back.width, back.height), (16, 32), "{ext}");
            assert_eq!(
                (&back.meta.icc_profile, &back.meta.exif),
                (&img.meta.icc_profile, &img.meta.exif),
                "{ext}"
            );
            // PNG states it per metre (5906 and 11811), the same dpi once rounded.
            let dpi = back
                .meta
                .density
                .and_then(Density::to_jpeg)
                .map(|d| d.density);
            assert_eq!(dpi, Some((150, 300)), "{ext}");
            let bare = SaveOptions {
                keep_metadata: false,
                ..SaveOptions::default()
            };
            img.save_with(&p, &bare).unwrap();
            assert_eq!(Image::load(&p).unwrap().meta, Metadata::default(), "{ext}");
        }
        // A lower JPEG quality is a smaller file.
        let p = dir.join("q.jpg");
        let size = |q: u8| {
            let o = SaveOptions {
                jpeg_quality: q,
                ..SaveOptions::default()
            };
            Image::decode(&jpeg).unwrap().save_with(&p, &o).unwrap();
            std::fs::metadata(&p).unwrap().len()
        };
        assert!(size(30) < size(95));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_cmyk_profile_is_not_carried_to_rgb_pixels() {
        let mut icc = vec![0u8; 128];
        icc[16..20].copy_from_slice(b"CMYK");
        let mut jpeg = Vec::new();
        let mut enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90);
        enc.set_icc_profile(icc).unwrap();
        enc.write_image(&[128; 8 * 8 * 3], 8, 8, image::ExtendedColorType::Rgb8)
            .unwrap();
        let img = Image::decode(&jpeg).unwrap();
        assert_eq!((img.channels, img.meta.icc_profile), (3, None));
    }

    /// The smallest PNG that declares `w` x `h` 8-bit RGB pixels: a valid header, then a
    /// few bytes where the pixels would be.
    fn png_header_only(w: u32, h: u32) -> Vec<u8> {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let ihdr = [&w.to_be_bytes()[..], &h.to_be_bytes(), &[8, 2, 0, 0, 0]].concat();
        png.extend(density::png_chunk(b"IHDR", &ihdr));
        png.extend(density::png_chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0x00]));
        png.extend(density::png_chunk(b"IEND", &[]));
        png
    }

    #[test]
    fn a_huge_declared_size_is_refused_from_the_header() {
        let bomb = png_header_only(40_000, 40_000);
        assert!(bomb.len() < 100);
        let err = decode_as(&bomb, image::ImageFormat::Png, DEFAULT_MAX_PIXELS).unwrap_err();
        assert!(
            err.contains("40000 x 40000 pixels is more than the limit"),
            "{err}"
        );
        // The limit is the caller's: a 3 x 2 image passes 6 and fails 5.
        let mut small = Vec::new();
        image::codecs::png::PngEncoder::new(&mut small)
            .write_image(&[0; 18], 3, 2, image::ExtendedColorType::Rgb8)
            .unwrap();
        assert!(decode_as(&small, image::ImageFormat::Png, 6).is_ok());
        assert!(decode_as(&small, image::ImageFormat::Png, 5).is_err());
    }

    #[test]
    fn text_is_not_an_image() {
        let err = Image::decode(b"hello, I am text").unwrap_err();
        assert!(err.contains("not an image"), "{err}");
    }
}
