//! A photo's stated resolution (its dots per inch), read from and written to the places the
//! `image` crate leaves alone: JPEG's JFIF header and PNG's `pHYs` chunk. EXIF's own
//! resolution tags travel inside the EXIF block and need nothing here.

/// The unit of a [`Density`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DensityUnit {
    /// No unit: `x : y` is only the pixel aspect ratio.
    Aspect,
    /// Pixels per inch (JFIF's unit 1).
    PerInch,
    /// Pixels per centimetre (JFIF's unit 2).
    PerCm,
    /// Pixels per metre (PNG's unit 1).
    PerMeter,
}

/// Pixels per unit across (`x`) and down (`y`), as the file stated them, so that a restored
/// photo prints at the size the original did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Density {
    /// Pixels per unit across.
    pub x: u32,
    /// Pixels per unit down.
    pub y: u32,
    /// What the numbers count per.
    pub unit: DensityUnit,
}

impl Density {
    /// The density of the same photo enlarged `s` times, printed at the same size: `s`
    /// times the pixels per unit. A bare aspect ratio stays as it is.
    pub fn scaled(self, s: usize) -> Density {
        if self.unit == DensityUnit::Aspect {
            return self;
        }
        let s = s as u32;
        Density {
            x: self.x.saturating_mul(s),
            y: self.y.saturating_mul(s),
            ..self
        }
    }

    /// The density of the same photo turned a quarter turn: across and down swap.
    pub fn transposed(self) -> Density {
        Density {
            x: self.y,
            y: self.x,
            ..self
        }
    }

    /// What a file's numbers say: `None` where either is zero (not stated) or where they are
    /// a 1:1 aspect ratio without a unit, which encoders write when they know nothing.
    fn stated(x: u32, y: u32, unit: DensityUnit) -> Option<Density> {
        let unknown = unit == DensityUnit::Aspect && x == y;
        (x > 0 && y > 0 && !unknown).then_some(Density { x, y, unit })
    }

    /// JFIF's form (16-bit numbers per inch or per centimetre), or `None` where the numbers
    /// do not fit. Per-metre figures become per-centimetre where exact, else per-inch.
    pub fn to_jpeg(self) -> Option<image::codecs::jpeg::PixelDensity> {
        use image::codecs::jpeg::PixelDensityUnit as U;
        let (x, y, unit) = match self.unit {
            DensityUnit::Aspect => (self.x, self.y, U::PixelAspectRatio),
            DensityUnit::PerInch => (self.x, self.y, U::Inches),
            DensityUnit::PerCm => (self.x, self.y, U::Centimeters),
            DensityUnit::PerMeter if self.x.is_multiple_of(100) && self.y.is_multiple_of(100) => {
                (self.x / 100, self.y / 100, U::Centimeters)
            }
            DensityUnit::PerMeter => (per_inch(self.x), per_inch(self.y), U::Inches),
        };
        Some(image::codecs::jpeg::PixelDensity {
            density: (u16::try_from(x).ok()?, u16::try_from(y).ok()?),
            unit,
        })
    }

    /// PNG's form: pixels per metre (unit 1) or an aspect ratio (unit 0).
    pub(super) fn to_png(self) -> (u32, u32, u8) {
        match self.unit {
            DensityUnit::Aspect => (self.x, self.y, 0),
            DensityUnit::PerMeter => (self.x, self.y, 1),
            DensityUnit::PerCm => (self.x.saturating_mul(100), self.y.saturating_mul(100), 1),
            DensityUnit::PerInch => (per_meter(self.x), per_meter(self.y), 1),
        }
    }
}

fn per_inch(per_meter: u32) -> u32 {
    (per_meter as f64 * 0.0254).round() as u32
}

fn per_meter(per_inch: u32) -> u32 {
    (per_inch as f64 / 0.0254).round() as u32
}

/// The density in a JPEG's JFIF header (an `APP0` segment before the first scan), if any.
/// A zero in either number means "not stated".
pub fn read_jpeg(bytes: &[u8]) -> Option<Density> {
    let (_, body) = jpeg_segments(bytes).find(|(m, b)| *m == 0xE0 && b.starts_with(b"JFIF\0"))?;
    if body.len() < 12 {
        return None;
    }
    let unit = match body[7] {
        0 => DensityUnit::Aspect,
        1 => DensityUnit::PerInch,
        2 => DensityUnit::PerCm,
        _ => return None,
    };
    let x = u16::from_be_bytes([body[8], body[9]]) as u32;
    let y = u16::from_be_bytes([body[10], body[11]]) as u32;
    Density::stated(x, y, unit)
}

/// A JPEG's marker segments before its first scan: each marker with its body, as much of
/// the body as the file holds.
pub(super) fn jpeg_segments(bytes: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    let mut i = 2; // after SOI
    std::iter::from_fn(move || {
        while i + 4 <= bytes.len() && bytes[i] == 0xFF {
            let marker = bytes[i + 1];
            if marker == 0xFF {
                i += 1; // fill byte
                continue;
            }
            if matches!(marker, 0xDA | 0xD9) {
                return None; // start of scan, end of image
            }
            let len = u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]) as usize;
            let start = (i + 4).min(bytes.len());
            let end = (i + 2 + len).min(bytes.len()).max(start);
            i += 2 + len;
            return Some((marker, &bytes[start..end]));
        }
        None
    })
}

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// The density in a PNG's `pHYs` chunk (which comes before the image data), if any.
pub fn read_png(bytes: &[u8]) -> Option<Density> {
    let mut i = PNG_SIGNATURE.len();
    if !bytes.starts_with(PNG_SIGNATURE) {
        return None;
    }
    while i + 8 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[i..i + 4].try_into().ok()?) as usize;
        let kind = &bytes[i + 4..i + 8];
        let body = bytes.get(i + 8..(i + 8).checked_add(len)?)?;
        match kind {
            b"pHYs" if body.len() == 9 => {
                let x = u32::from_be_bytes(body[0..4].try_into().ok()?);
                let y = u32::from_be_bytes(body[4..8].try_into().ok()?);
                let unit = match body[8] {
                    0 => DensityUnit::Aspect,
                    1 => DensityUnit::PerMeter,
                    _ => return None,
                };
                return Density::stated(x, y, unit);
            }
            b"IDAT" | b"IEND" => return None,
            _ => {}
        }
        i += 12 + len; // length, type, body, CRC
    }
    None
}

/// `png` (as the `image` crate's encoder wrote it, which has no way to take a density) with
/// a `pHYs` chunk for `density` put right after its header chunk, where the format wants it.
#[cfg(test)]
pub fn write_png(png: Vec<u8>, density: Density) -> Vec<u8> {
    let header_end = PNG_SIGNATURE.len() + 12 + 13; // IHDR: length, type, 13 bytes, CRC
    if png.len() < header_end || &png[PNG_SIGNATURE.len() + 4..PNG_SIGNATURE.len() + 8] != b"IHDR" {
        return png;
    }
    let (x, y, unit) = density.to_png();
    let body = [&x.to_be_bytes()[..], &y.to_be_bytes(), &[unit]].concat();
    let chunk = png_chunk(b"pHYs", &body);
    let mut out = Vec::with_capacity(png.len() + chunk.len());
    out.extend_from_slice(&png[..header_end]);
    out.extend(chunk);
    out.extend_from_slice(&png[header_end..]);
    out
}

/// `exif` (a TIFF-structured EXIF block) with its XResolution and YResolution (IFD0 tags
/// 0x011A and 0x011B, rationals) made `s` times larger, so an image enlarged `s` times
/// prints at the same size. A block that is malformed, or whose values would overflow,
/// is returned as it was.
pub fn scale_exif_resolution(mut exif: Vec<u8>, s: u32) -> Vec<u8> {
    let be = match exif.get(..2) {
        Some(b"MM") => true,
        Some(b"II") => false,
        _ => return exif,
    };
    let u16_at = |b: &[u8], i: usize| -> Option<u16> {
        let v: [u8; 2] = b.get(i..i + 2)?.try_into().ok()?;
        Some(if be {
            u16::from_be_bytes(v)
        } else {
            u16::from_le_bytes(v)
        })
    };
    let u32_at = |b: &[u8], i: usize| -> Option<u32> {
        let v: [u8; 4] = b.get(i..i + 4)?.try_into().ok()?;
        Some(if be {
            u32::from_be_bytes(v)
        } else {
            u32::from_le_bytes(v)
        })
    };
    let Some(ifd) = u32_at(&exif, 4).map(|v| v as usize) else {
        return exif;
    };
    let Some(n) = u16_at(&exif, ifd) else {
        return exif;
    };
    let mut edits = Vec::new();
    for k in 0..n as usize {
        let e = ifd + 2 + 12 * k;
        let (Some(tag), Some(kind), Some(count), Some(at)) = (
            u16_at(&exif, e),
            u16_at(&exif, e + 2),
            u32_at(&exif, e + 4),
            u32_at(&exif, e + 8),
        ) else {
            return exif;
        };
        // RATIONAL (type 5), one of them, stored at `at`.
        if matches!(tag, 0x011A | 0x011B) && kind == 5 && count == 1 {
            let at = at as usize;
            let (Some(num), Some(den)) = (u32_at(&exif, at), u32_at(&exif, at + 4)) else {
                return exif;
            };
            let scaled = match num.checked_mul(s) {
                Some(v) => (v, den),
                None if den % s == 0 => (num, den / s),
                None => return exif,
            };
            edits.push((at, scaled));
        }
    }
    for (at, (num, den)) in edits {
        let (a, b) = if be {
            (num.to_be_bytes(), den.to_be_bytes())
        } else {
            (num.to_le_bytes(), den.to_le_bytes())
        };
        exif[at..at + 4].copy_from_slice(&a);
        exif[at + 4..at + 8].copy_from_slice(&b);
    }
    exif
}

/// One PNG chunk: length, type, data, and the CRC of type and data.
#[cfg(test)]
pub(super) fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut crc = flate2::Crc::new();
    crc.update(kind);
    crc.update(data);
    [
        &(data.len() as u32).to_be_bytes()[..],
        kind,
        data,
        &crc.sum().to_be_bytes(),
    ]
    .concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_density_written_after_the_header_reads_back_and_decodes() {
        let img = image::GrayImage::from_fn(5, 3, |x, y| image::Luma([(x * 40 + y) as u8]));
        let mut png = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        assert_eq!(read_png(&png), None);
        let d300 = Density {
            x: 300,
            y: 300,
            unit: DensityUnit::PerInch,
        };
        let with = write_png(png, d300);
        let back = read_png(&with).unwrap();
        // 300 dpi is 11811 pixels per metre (300 / 0.0254 = 11811.02).
        assert_eq!(
            back,
            Density {
                x: 11811,
                y: 11811,
                unit: DensityUnit::PerMeter
            }
        );
        assert_eq!(back.to_jpeg().unwrap().density, (300, 300));
        // A strict decoder still reads it: the chunk's CRC is right.
        let decoded = image::load_from_memory(&with).unwrap().to_luma8();
        assert_eq!(decoded, img);
    }

    #[test]
    fn jfif_density_is_read_and_the_unknown_default_is_not() {
        let img = image::GrayImage::from_pixel(4, 4, image::Luma([9]));
        let encode = |d: Option<image::codecs::jpeg::PixelDensity>| {
            let mut buf = Vec::new();
            let mut enc = image::codecs::jpeg::JpegEncoder::new(&mut buf);
            if let Some(d) = d {
                enc.set_pixel_density(d);
            }
            img.write_with_encoder(enc).unwrap();
            buf
        };
        assert_eq!(read_jpeg(&encode(None)), None);
        let d = Density {
            x: 72,
            y: 144,
            unit: DensityUnit::PerCm,
        };
        assert_eq!(read_jpeg(&encode(d.to_jpeg())), Some(d));
        assert_eq!(
            d.transposed(),
            Density {
                x: 144,
                y: 72,
                unit: DensityUnit::PerCm
            }
        );
    }

    #[test]
    fn exif_resolution_is_scaled_and_bad_blocks_are_kept() {
        // Little-endian TIFF: IFD0 at 8 with XResolution and YResolution, rationals at 38
        // and 46 (72/1 and 300/2), then a byte of padding.
        let mut e = b"II*\0".to_vec();
        e.extend(8u32.to_le_bytes());
        e.extend(2u16.to_le_bytes());
        for (tag, at) in [(0x011Au16, 38u32), (0x011B, 46)] {
            e.extend(tag.to_le_bytes());
            e.extend(5u16.to_le_bytes());
            e.extend(1u32.to_le_bytes());
            e.extend(at.to_le_bytes());
        }
        e.extend(0u32.to_le_bytes());
        for v in [72u32, 1, 300, 2] {
            e.extend(v.to_le_bytes());
        }
        let out = scale_exif_resolution(e.clone(), 4);
        let at = |i: usize| u32::from_le_bytes(out[i..i + 4].try_into().unwrap());
        assert_eq!((at(38), at(42), at(46), at(50)), (288, 1, 1200, 2));
        assert_eq!(out.len(), e.len());
        // Truncated anywhere: unchanged, no panic.
        for n in 0..e.len() {
            assert_eq!(scale_exif_resolution(e[..n].to_vec(), 4), e[..n].to_vec());
        }
    }

    #[test]
    fn truncated_headers_give_none() {
        assert_eq!(read_jpeg(&[0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J']), None);
        // A length below the 2 bytes it counts: an empty body, not a backwards slice, and
        // the walk ends on the bytes that follow, which are no marker.
        let lying = [0xFF, 0xD8, 0xFF, 0xE0, 0, 0, 0xFF, 0xC9, 0, 2];
        let segments: Vec<(u8, usize)> = jpeg_segments(&lying).map(|(m, b)| (m, b.len())).collect();
        assert_eq!(segments, [(0xE0, 0)]);
        assert_eq!(read_png(b"\x89PNG\r\n\x1a\n\0\0\0\x09pHYs\0\0"), None);
        assert_eq!(read_png(b"not a png"), None);
    }
}
