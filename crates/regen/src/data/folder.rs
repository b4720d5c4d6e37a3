//! Image folders: every PNG, JPEG, BMP or TIFF file below a folder, recursively, in a
//! stable (sorted) order. Other files are skipped with a note, never an error.

use std::path::{Path, PathBuf};

use crate::data::Image;
use crate::error::{Error, Result};

/// Extensions regen reads as images.
pub const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "bmp", "tif", "tiff"];

/// Whether `path` has an image extension.
pub fn is_image_path(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// The image files below `dir` (sorted, recursive) and the other files that were skipped.
pub fn list_images(dir: &Path) -> Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    let mut images = Vec::new();
    let mut skipped = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| Error::io(&d, e))?;
        for entry in entries {
            let path = entry.map_err(|e| Error::io(&d, e))?.path();
            let hidden = path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if path.is_dir() {
                if !hidden {
                    stack.push(path);
                }
            } else if is_image_path(&path) && !hidden {
                images.push(path);
            } else {
                skipped.push(path);
            }
        }
    }
    images.sort();
    skipped.sort();
    Ok((images, skipped))
}

/// A folder's images that loaded (with their paths), the errors of those that did not, and
/// the non-image files that were skipped.
#[derive(Debug, Default)]
pub struct LoadedFolder {
    /// Decoded images, in sorted path order.
    pub images: Vec<(PathBuf, Image)>,
    /// One error per image file that failed to load.
    pub errors: Vec<Error>,
    /// Files skipped because they are not images.
    pub skipped: Vec<PathBuf>,
}

/// Loads every image below `dir`. Files that fail to decode are returned beside the good
/// ones so that a caller can report them and go on.
pub fn load_folder(dir: &Path) -> Result<LoadedFolder> {
    let (paths, skipped) = list_images(dir)?;
    if paths.is_empty() {
        return Err(Error::bad_file(dir, "folder holds no images"));
    }
    let mut out = LoadedFolder {
        skipped,
        ..Default::default()
    };
    for p in paths {
        match Image::load(&p) {
            Ok(img) => out.images.push((p, img)),
            Err(e) => out.errors.push(e),
        }
    }
    Ok(out)
}

/// Loads one-channel training images from a folder (colour is reduced to luminance) or an
/// IDX image file.
pub fn load_gray_images(path: &Path) -> Result<Vec<Image>> {
    load_images(path, 1)
}

/// Loads training images with `channels` colour channels (1 or 3) from a folder or an IDX
/// image file: colour is reduced to luminance for 1, gray is repeated into RGB for 3, and
/// alpha is dropped.
pub fn load_images(path: &Path, channels: usize) -> Result<Vec<Image>> {
    let convert = |img: &Image| match channels {
        1 => luminance(img),
        _ => rgb(img),
    };
    if path.is_file() {
        let data = crate::data::Dataset::load(path)?;
        return Ok(data.images.iter().map(convert).collect());
    }
    if !path.exists() {
        return Err(Error::io(
            path,
            std::io::Error::from(std::io::ErrorKind::NotFound),
        ));
    }
    let loaded = load_folder(path)?;
    for p in &loaded.skipped {
        eprintln!("note: skipping {} (not an image)", p.display());
    }
    for e in &loaded.errors {
        eprintln!("note: skipping {e}");
    }
    Ok(loaded.images.iter().map(|(_, img)| convert(img)).collect())
}

/// The RGB version of an image (gray repeated into three planes; alpha dropped).
pub fn rgb(img: &Image) -> Image {
    let n = img.height * img.width;
    let data = match img.color_channels() {
        1 => img.plane(0).repeat(3),
        _ => img.data[..3 * n].to_vec(),
    };
    Image {
        channels: 3,
        data,
        ..Image::zeros(0, img.height, img.width)
    }
}

/// The one-channel version of an image (Rec. 601 luma for colour; alpha dropped).
pub fn luminance(img: &Image) -> Image {
    if img.color_channels() == 1 {
        return img.channel(0);
    }
    let (r, g, b) = (img.plane(0), img.plane(1), img.plane(2));
    let y = (0..r.len())
        .map(|i| 0.299 * r[i] + 0.587 * g[i] + 0.114 * b[i])
        .collect();
    Image::gray(img.height, img.width, y)
}
