//! Labelled image sets for the generative models: IDX files (MNIST layout, labels in the
//! sibling `*-labels-idx1-*` file) or image folders (one subfolder per class when labelled).
//! All images of a set must have the same size: regen refuses mixed sizes rather than
//! silently resizing, and names two files that differ.

use std::path::{Path, PathBuf};

use crate::data::{Idx, Image, load_folder};
use crate::error::{Error, Result};

/// Images of one size with optional class labels.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// The images, all `channels` x `size` x `size`... or rectangular, all the same.
    pub images: Vec<Image>,
    /// One label per image, if known.
    pub labels: Option<Vec<usize>>,
    /// Number of classes (0 if unlabelled).
    pub classes: usize,
}

/// The IDX label file that goes with an IDX image file, by the MNIST naming convention.
pub fn labels_path_for(images: &Path) -> Option<PathBuf> {
    let name = images.file_name()?.to_str()?;
    let swapped = name.replace("images-idx3", "labels-idx1");
    (swapped != name).then(|| images.with_file_name(swapped))
}

impl Dataset {
    /// Loads an IDX image file (with its label file when present) or an image folder
    /// (labelled by subfolder when every image sits in one).
    pub fn load(path: &Path) -> Result<Dataset> {
        if path.is_file() {
            return Dataset::load_idx(path);
        }
        if !path.exists() {
            return Err(Error::io(
                path,
                std::io::Error::from(std::io::ErrorKind::NotFound),
            ));
        }
        let loaded = load_folder(path)?;
        if let Some(e) = loaded.errors.into_iter().next() {
            return Err(e);
        }
        let first = &loaded.images[0];
        for (p, img) in &loaded.images {
            if (img.channels, img.height, img.width)
                != (first.1.channels, first.1.height, first.1.width)
            {
                return Err(Error::bad_file(
                    p,
                    format!(
                        "is {}x{} with {} channels but {} is {}x{} with {}; a data set must have one size (resize the images first)",
                        img.width,
                        img.height,
                        img.channels,
                        first.0.display(),
                        first.1.width,
                        first.1.height,
                        first.1.channels
                    ),
                ));
            }
        }
        // Labels from subfolders: `root/<class>/<file>`.
        let class_of = |p: &Path| -> Option<String> {
            let rel = p.strip_prefix(path).ok()?;
            let mut parts = rel.components();
            let c = parts.next()?.as_os_str().to_str()?.to_string();
            parts.next().map(|_| c)
        };
        let names: Option<Vec<String>> = loaded.images.iter().map(|(p, _)| class_of(p)).collect();
        let (labels, classes) = match names {
            Some(names) => {
                let mut uniq = names.clone();
                uniq.sort();
                uniq.dedup();
                let l = names
                    .iter()
                    .map(|n| uniq.binary_search(n).expect("present"))
                    .collect();
                (Some(l), uniq.len())
            }
            None => (None, 0),
        };
        Ok(Dataset {
            images: loaded.images.into_iter().map(|(_, i)| i).collect(),
            labels,
            classes,
        })
    }

    fn load_idx(path: &Path) -> Result<Dataset> {
        let idx = Idx::load(path)?;
        if idx.dims.len() != 3 {
            return Err(Error::bad_file(
                path,
                "expected an IDX image file (3 dimensions)",
            ));
        }
        let (n, h, w) = (idx.dims[0], idx.dims[1], idx.dims[2]);
        let images = (0..n)
            .map(|i| {
                let px = &idx.data[i * h * w..(i + 1) * h * w];
                Image::gray(h, w, px.iter().map(|&v| v as f32 / 255.0).collect())
            })
            .collect();
        let mut labels = None;
        let mut classes = 0;
        if let Some(lp) = labels_path_for(path).filter(|p| p.exists()) {
            let l = Idx::load(&lp)?;
            if l.dims != [n] {
                return Err(Error::bad_file(
                    &lp,
                    format!("holds {:?} labels for {n} images", l.dims),
                ));
            }
            classes = l.data.iter().map(|&v| v as usize + 1).max().unwrap_or(0);
            labels = Some(l.data.iter().map(|&v| v as usize).collect());
        }
        Ok(Dataset {
            images,
            labels,
            classes,
        })
    }

    /// Loads `path` for a generative model: it must be given, hold square images, and (for a
    /// conditional `what`) be labelled.
    pub fn load_for_generation(path: &Path, what: &str, conditional: bool) -> Result<Dataset> {
        if path.as_os_str().is_empty() {
            return Err(Error::arg(
                "--data is required: an IDX image file or an image folder",
            ));
        }
        let data = Dataset::load(path)?;
        data.check_for_generation(path, what, conditional)?;
        Ok(data)
    }

    /// Checks images already loaded as [`Dataset::load_for_generation`] does.
    pub fn check_for_generation(&self, path: &Path, what: &str, conditional: bool) -> Result<()> {
        let first = &self.images[0];
        if first.height != first.width {
            return Err(Error::bad_file(
                path,
                format!(
                    "images are {}x{}; the {what} needs square images",
                    first.width, first.height
                ),
            ));
        }
        if conditional && self.labels.is_none() {
            return Err(Error::bad_file(
                path,
                format!("has no labels, so a conditional {what} cannot be trained on it"),
            ));
        }
        Ok(())
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.images.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.images.is_empty()
    }
}

/// Saves `images` in `dir` as `0.png`, `1.png`, ... (numbers zero-padded to one width).
pub fn save_numbered(images: &[Image], dir: &Path) -> Result<()> {
    let digits = images.len().to_string().len();
    for (i, img) in images.iter().enumerate() {
        img.save(&dir.join(format!("{i:0digits$}.png")))?;
    }
    Ok(())
}

/// Lays images of one size out in a grid with `cols` columns and a 2-pixel gap.
pub fn grid(images: &[Image], cols: usize) -> Image {
    let first = &images[0];
    let (c, h, w) = (first.color_channels(), first.height, first.width);
    let cols = cols.max(1).min(images.len());
    let rows = images.len().div_ceil(cols);
    let gap = 2;
    let (gh, gw) = (rows * (h + gap) + gap, cols * (w + gap) + gap);
    let mut out = Image::zeros(c, gh, gw);
    for (k, img) in images.iter().enumerate() {
        let (oy, ox) = (gap + (k / cols) * (h + gap), gap + (k % cols) * (w + gap));
        for ch in 0..c {
            let src = img.plane(ch);
            let dst = out.plane_mut(ch);
            for y in 0..h {
                dst[(oy + y) * gw + ox..(oy + y) * gw + ox + w]
                    .copy_from_slice(&src[y * w..(y + 1) * w]);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mnist_label_file_name() {
        let p = labels_path_for(Path::new("/d/t10k-images-idx3-ubyte.gz")).unwrap();
        assert_eq!(p, Path::new("/d/t10k-labels-idx1-ubyte.gz"));
        assert!(labels_path_for(Path::new("/d/other.idx")).is_none());
    }

    #[test]
    fn grid_places_images_in_rows() {
        let a = Image::gray(2, 2, vec![1.0; 4]);
        let g = grid(&[a.clone(), a.clone(), a], 2);
        assert_eq!((g.height, g.width), (2 * 4 + 2, 2 * 4 + 2));
        assert_eq!(g.plane(0)[2 * g.width + 2], 1.0);
        assert_eq!(g.plane(0)[0], 0.0);
    }
}
