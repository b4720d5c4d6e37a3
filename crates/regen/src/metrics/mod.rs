//! Image quality measures. Computed in `f64` on images in [0, 1].

mod generative;
mod probe;
mod psnr;
mod sr;
mod ssim;

pub use generative::{frechet_distance, kid, precision_recall, symmetric_eigen};
pub use probe::Probe;
pub use psnr::psnr;
pub use sr::{luma, mod_crop, psnr_y, ssim_y};
pub use ssim::{gaussian_kernel, ssim, ssim_image};
