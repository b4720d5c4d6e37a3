//! IDX files, the format of the original MNIST distribution: a big-endian header
//! (two zero bytes, a type code, the number of dimensions, then each dimension as `u32`)
//! followed by the data. Only unsigned bytes (type 0x08) are used by image data sets.
//! Files may be gzip-compressed; this is detected from the content, not the name.

use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};
use crate::fsutil::write_atomic;

/// An IDX array of unsigned bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Idx {
    /// Dimensions, outermost first: `[n]` for labels, `[n, rows, cols]` for images.
    pub dims: Vec<usize>,
    /// Row-major data, `dims.iter().product()` bytes.
    pub data: Vec<u8>,
}

impl Idx {
    /// Reads a plain or gzip-compressed IDX file.
    pub fn load(path: &Path) -> Result<Idx> {
        let raw = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&raw[..])
                .read_to_end(&mut out)
                .map_err(|e| Error::bad_file(path, format!("broken gzip stream: {e}")))?;
            out
        } else {
            raw
        };
        Idx::parse(&bytes).map_err(|r| Error::bad_file(path, r))
    }

    /// Parses IDX bytes; the error says what is wrong.
    pub fn parse(bytes: &[u8]) -> std::result::Result<Idx, String> {
        if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 {
            return Err("not an IDX file (bad magic number)".into());
        }
        if bytes[2] != 0x08 {
            return Err(format!(
                "IDX element type 0x{:02x} is not supported (only unsigned bytes, 0x08)",
                bytes[2]
            ));
        }
        let ndim = bytes[3] as usize;
        if ndim == 0 || bytes.len() < 4 + 4 * ndim {
            return Err("IDX header is truncated".into());
        }
        let dims: Vec<usize> = (0..ndim)
            .map(|i| {
                let o = 4 + 4 * i;
                u32::from_be_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]) as usize
            })
            .collect();
        // Checked: four dimensions of 65536 multiply to 2^64, which wraps to 0 and would let
        // an empty body pass for 65536 images (found by the idx fuzzer with overflow checks on).
        let n = dims
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
            .ok_or("IDX header declares more bytes than can exist")?;
        let body = &bytes[4 + 4 * ndim..];
        if body.len() < n {
            return Err(format!(
                "IDX body is truncated: header promises {n} bytes, file has {}",
                body.len()
            ));
        }
        Ok(Idx {
            dims,
            data: body[..n].to_vec(),
        })
    }

    /// The file's bytes, uncompressed.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![0, 0, 0x08, self.dims.len() as u8];
        for d in &self.dims {
            out.extend_from_slice(&(*d as u32).to_be_bytes());
        }
        out.extend_from_slice(&self.data);
        out
    }

    /// Writes the file, gzip-compressed when the name ends in `.gz`; atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let bytes = self.to_bytes();
        if path.extension().is_some_and(|e| e == "gz") {
            use std::io::Write;
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(&bytes).map_err(|e| Error::io(path, e))?;
            let gz = enc.finish().map_err(|e| Error::io(path, e))?;
            write_atomic(path, &gz)
        } else {
            write_atomic(path, &bytes)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_plain_and_gzip() {
        let dir = std::env::temp_dir().join(format!("regen-idx-{}", std::process::id()));
        let idx = Idx {
            dims: vec![2, 3, 2],
            data: (0..12).collect(),
        };
        for name in ["a-idx3-ubyte", "a-idx3-ubyte.gz"] {
            let p = dir.join(name);
            idx.save(&p).unwrap();
            assert_eq!(Idx::load(&p).unwrap(), idx);
        }
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn header_bytes_match_the_mnist_layout() {
        let idx = Idx {
            dims: vec![1, 28, 28],
            data: vec![0; 784],
        };
        assert_eq!(&idx.to_bytes()[..8], &[0, 0, 8, 3, 0, 0, 0, 1]);
    }

    #[test]
    fn wrong_magic_and_truncation_are_named() {
        assert!(
            Idx::parse(b"\x12\x34\x08\x01")
                .unwrap_err()
                .contains("magic")
        );
        let mut b = Idx {
            dims: vec![10],
            data: vec![1; 10],
        }
        .to_bytes();
        b.truncate(b.len() - 3);
        assert!(Idx::parse(&b).unwrap_err().contains("truncated"));
    }

    #[test]
    fn a_size_that_overflows_is_refused_not_wrapped_to_zero() {
        // 65536^4 = 2^64: unchecked, it wrapped to 0 in release builds and an empty body
        // parsed as 65536 images.
        let mut b = vec![0, 0, 8, 4];
        for _ in 0..4 {
            b.extend(65536u32.to_be_bytes());
        }
        assert!(Idx::parse(&b).unwrap_err().contains("more bytes"));
    }
}
