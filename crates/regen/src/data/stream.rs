//! Writing an image as its rows are made: a photo upscaled x4 is 16 times its pixels (a
//! 2000x1500 photo becomes 8000x6000, 576 MB as f32 RGB), so `regen restore` hands each
//! band of finished rows to a [`RowWriter`], which turns it to 8 or 16 bits and into the
//! PNG encoder at once. Like every file regen writes, the PNG goes to a temporary name and
//! is renamed when complete; a writer dropped before [`RowWriter::finish`] removes it.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::image::{Image, Metadata, SaveOptions, to_u8, to_u16};
use crate::error::{Error, Result};
use crate::fsutil::temp_sibling;

/// A PNG encoder fed rows, into any writer: every PNG regen writes goes through here, so
/// a file written band by band and the bytes of a whole image ([`Image::encode_png`], what
/// `regen serve` answers) are the same bytes.
pub(crate) struct PngRows<W: Write + 'static> {
    stream: png::StreamWriter<'static, W>,
    channels: usize,
    width: usize,
    sixteen_bit: bool,
    rows_left: usize,
}

impl<W: Write + 'static> PngRows<W> {
    /// Starts a `width` x `height` PNG of `channels` (1 to 4) at 8 or 16 bits, with
    /// `meta`'s profile, EXIF and resolution when `keep_metadata`.
    pub(crate) fn new(
        out: W,
        (width, height, channels): (usize, usize, usize),
        sixteen_bit: bool,
        meta: &Metadata,
        keep_metadata: bool,
    ) -> std::result::Result<PngRows<W>, png::EncodingError> {
        let mut info = png::Info::with_size(width as u32, height as u32);
        info.color_type = match channels {
            1 => png::ColorType::Grayscale,
            2 => png::ColorType::GrayscaleAlpha,
            3 => png::ColorType::Rgb,
            _ => png::ColorType::Rgba,
        };
        info.bit_depth = if sixteen_bit {
            png::BitDepth::Sixteen
        } else {
            png::BitDepth::Eight
        };
        if keep_metadata {
            info.icc_profile = meta.icc_profile.clone().map(Into::into);
            info.exif_metadata = meta.exif.clone().map(Into::into);
            info.pixel_dims = meta.density.map(|d| {
                let (x, y, unit) = d.to_png();
                png::PixelDimensions {
                    xppu: x,
                    yppu: y,
                    unit: if unit == 1 {
                        png::Unit::Meter
                    } else {
                        png::Unit::Unspecified
                    },
                }
            });
        }
        let mut encoder = png::Encoder::with_info(out, info)?;
        // The image crate's defaults, which regen's PNGs were written with before.
        encoder.set_compression(png::Compression::Balanced);
        encoder.set_filter(png::Filter::Adaptive);
        let stream = encoder.write_header()?.into_stream_writer()?;
        Ok(PngRows {
            stream,
            channels,
            width,
            sixteen_bit,
            rows_left: height,
        })
    }

    /// Appends the rows of `band` (the image's width and channels, any number of rows).
    pub(crate) fn write(&mut self, band: &Image) -> std::result::Result<(), String> {
        if band.width != self.width || band.channels != self.channels {
            return Err(format!(
                "a band of {}x{} in {} channels for a {}-wide {}-channel PNG",
                band.width, band.height, band.channels, self.width, self.channels
            ));
        }
        if band.height > self.rows_left {
            return Err("more rows than the PNG's height".into());
        }
        let n = band.height * band.width;
        let samples =
            (0..n * band.channels).map(|k| band.data[(k % band.channels) * n + k / band.channels]);
        let bytes: Vec<u8> = if self.sixteen_bit {
            samples.flat_map(|v| to_u16(v).to_be_bytes()).collect()
        } else {
            samples.map(to_u8).collect()
        };
        self.stream.write_all(&bytes).map_err(|e| e.to_string())?;
        self.rows_left -= band.height;
        Ok(())
    }

    /// Ends the PNG; every row must have been written.
    pub(crate) fn finish(self) -> std::result::Result<(), String> {
        if self.rows_left != 0 {
            return Err(format!(
                "{} rows of the PNG were never written",
                self.rows_left
            ));
        }
        self.stream.finish().map_err(|e| e.to_string())
    }
}

/// Bytes written to memory that stay reachable after the encoder that owns the writer
/// is finished (which drops it).
#[derive(Clone, Default)]
struct SharedBuf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("buffer poisoned"))?
            .extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `image` as PNG bytes, through [`PngRows`].
pub(crate) fn png_bytes(
    image: &Image,
    keep_metadata: bool,
) -> std::result::Result<Vec<u8>, String> {
    let buf = SharedBuf::default();
    let dims = (image.width, image.height, image.channels);
    let mut rows = PngRows::new(
        buf.clone(),
        dims,
        image.sixteen_bit,
        &image.meta,
        keep_metadata,
    )
    .map_err(|e| format!("cannot encode PNG: {e}"))?;
    rows.write(image)?;
    rows.finish()?;
    let bytes = std::mem::take(&mut *buf.0.lock().map_err(|_| "buffer poisoned".to_string())?);
    Ok(bytes)
}

/// A PNG file being written band by band.
pub struct RowWriter {
    rows: Option<PngRows<File>>,
    /// The same file, to sync once the encoder (which owns the other handle) is done.
    file: File,
    tmp: PathBuf,
    path: PathBuf,
}

impl RowWriter {
    /// Whether `path` names a format written row by row (PNG); other formats are encoded
    /// from the whole image.
    pub fn streams(path: &Path) -> bool {
        path.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("png"))
    }

    /// Starts `path`: a `width` x `height` PNG of `channels` (1 to 4) at 8 or 16 bits, with
    /// `meta`'s profile, EXIF and resolution unless `opts` strips them.
    pub fn create(
        path: &Path,
        dims: (usize, usize, usize),
        sixteen_bit: bool,
        meta: &Metadata,
        opts: &SaveOptions,
    ) -> Result<RowWriter> {
        let io = |e: std::io::Error| Error::io(path, e);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let tmp = temp_sibling(path);
        let file = File::create(&tmp).map_err(io)?;
        let mut writer = RowWriter {
            rows: None,
            file: file.try_clone().map_err(io)?,
            tmp,
            path: path.to_path_buf(),
        };
        // The encoder writes whole compressed chunks, so the file needs no buffer of its own.
        let rows = PngRows::new(file, dims, sixteen_bit, meta, opts.keep_metadata)
            .map_err(|e| Error::bad_file(path, format!("cannot encode PNG: {e}")))?;
        writer.rows = Some(rows);
        Ok(writer)
    }

    /// Appends the rows of `band` (the image's width and channels, any number of rows).
    pub fn write(&mut self, band: &Image) -> Result<()> {
        let rows = self.rows.as_mut().expect("open until finished");
        rows.write(band)
            .map_err(|e| Error::bad_file(&self.path, format!("cannot write PNG: {e}")))
    }

    /// Ends the PNG, syncs it and renames it into place; every row must have been written.
    pub fn finish(mut self) -> Result<()> {
        let rows = self.rows.take().expect("open until finished");
        let done = (|| -> std::result::Result<(), String> {
            rows.finish()?;
            self.file.sync_all().map_err(|e| e.to_string())?;
            std::fs::rename(&self.tmp, &self.path).map_err(|e| e.to_string())
        })();
        done.map_err(|e| Error::bad_file(&self.path, format!("cannot write PNG: {e}")))
    }
}

impl Drop for RowWriter {
    /// A writer left unfinished (an error, a cancelled batch) leaves no half-written file.
    fn drop(&mut self) {
        if self.tmp.exists() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Density, DensityUnit};

    /// Rows written in bands of any height read back as the image saved whole, at 8 and
    /// 16 bits, with alpha, profile, EXIF and resolution.
    #[test]
    fn banded_png_equals_the_whole_image_saved() {
        let dir = std::env::temp_dir().join(format!("regen-stream-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (channels, sixteen_bit) in [(1, false), (3, false), (4, true), (2, true)] {
            let (h, w) = (37, 23);
            let data = (0..channels * h * w)
                .map(|i| ((i * 7919) % 1009) as f32 / 1008.0)
                .collect();
            let mut img = Image {
                channels,
                data,
                sixteen_bit,
                ..Image::zeros(0, h, w)
            };
            img.meta = Metadata {
                icc_profile: None,
                exif: None,
                density: Some(Density {
                    x: 300,
                    y: 300,
                    unit: DensityUnit::PerInch,
                }),
            };
            let path = dir.join(format!("s{channels}.png"));
            let opts = SaveOptions::default();
            let mut wr =
                RowWriter::create(&path, (w, h, channels), sixteen_bit, &img.meta, &opts).unwrap();
            let n = h * w;
            for rows in [0..5, 5..6, 6..30, 30..37] {
                let band = Image {
                    channels,
                    height: rows.len(),
                    width: w,
                    data: (0..channels)
                        .flat_map(|c| {
                            img.data[c * n + rows.start * w..c * n + rows.end * w].to_vec()
                        })
                        .collect(),
                    sixteen_bit,
                    meta: Metadata::default(),
                };
                wr.write(&band).unwrap();
            }
            wr.finish().unwrap();
            let back = Image::load(&path).unwrap();
            let whole = dir.join(format!("w{channels}.png"));
            img.save(&whole).unwrap();
            let want = Image::load(&whole).unwrap();
            assert_eq!(back.data, want.data, "{channels} channels");
            assert_eq!(back.sixteen_bit, sixteen_bit);
            assert_eq!(back.meta.density, want.meta.density);
        }
        // Unfinished: nothing is left behind.
        let path = dir.join("never.png");
        let wr = RowWriter::create(
            &path,
            (4, 4, 1),
            false,
            &Metadata::default(),
            &SaveOptions::default(),
        )
        .unwrap();
        drop(wr);
        assert!(!path.exists());
        assert_eq!(
            std::fs::read_dir(&dir)
                .unwrap()
                .filter(|e| e
                    .as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".tmp"))
                .count(),
            0
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
