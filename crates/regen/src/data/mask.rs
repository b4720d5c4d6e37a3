//! Inpainting masks from files and from alpha: white (or transparent) is missing.

use std::path::Path;

use super::Image;
use crate::error::{Error, Result};

/// Reads an inpainting mask for an `h` x `w` image: white (> 0.5 in the first channel) is
/// missing. A mask of another size, or one with every pixel missing, is refused.
pub fn load_mask(path: &Path, h: usize, w: usize) -> Result<Vec<f32>> {
    mask_from_image(&Image::load(path)?, h, w).map_err(|reason| Error::bad_file(path, reason))
}

/// The inpainting mask an image holds, as [`load_mask`] reads it; the error says what is
/// wrong with it.
pub fn mask_from_image(m: &Image, h: usize, w: usize) -> std::result::Result<Vec<f32>, String> {
    if (m.height, m.width) != (h, w) {
        return Err(format!(
            "mask is {}x{} but the image is {w}x{h}; masks must have the image's size",
            m.width, m.height
        ));
    }
    let v: Vec<f32> = m
        .plane(0)
        .iter()
        .map(|&x| if x > 0.5 { 1.0 } else { 0.0 })
        .collect();
    if v.iter().all(|&x| x > 0.5) {
        return Err("mask marks every pixel as missing; nothing is left to inpaint from".into());
    }
    Ok(v)
}

/// The mask of an image's transparent pixels (alpha below one half are missing), for
/// inpainting what a user erased in a paint program; `None` when it has no alpha.
pub fn mask_from_alpha(image: &Image) -> Option<Vec<f32>> {
    let a = image.channels.checked_sub(image.color_channels())?;
    (a > 0).then(|| {
        image
            .plane(image.color_channels())
            .iter()
            .map(|&x| if x < 0.5 { 1.0 } else { 0.0 })
            .collect()
    })
}
