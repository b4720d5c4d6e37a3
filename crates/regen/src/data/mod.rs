//! Reading data: IDX files, image folders, patches and splits.

mod dataset;
mod density;
mod folder;
mod idx;
mod image;
mod mask;
mod patches;
mod stream;
mod tensor;

pub use dataset::{Dataset, grid, labels_path_for, save_numbered};
pub use density::{Density, DensityUnit, scale_exif_resolution};
pub use folder::{
    IMAGE_EXTENSIONS, LoadedFolder, is_image_path, list_images, load_folder, load_gray_images,
    load_images, luminance, rgb,
};
pub use idx::Idx;
pub use image::{
    DEFAULT_MAX_PIXELS, Image, Metadata, SaveOptions, max_pixels, set_max_pixels, to_u8,
};
pub use mask::{load_mask, mask_from_alpha, mask_from_image};
pub use patches::{PatchSampler, dihedral, split};
pub use stream::RowWriter;
pub use tensor::{images_to_tensor, one_hot, tensor_to_images};
