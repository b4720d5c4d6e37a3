//! Moving batches of images in and out of tensors (NCHW, values unchanged).

use burn::tensor::{Device, Tensor, TensorData};

use crate::data::Image;

/// Stacks same-size images into `[n, c, h, w]` on `device`.
pub fn images_to_tensor(images: &[&Image], device: &Device) -> Tensor<4> {
    let (c, h, w) = (images[0].channels, images[0].height, images[0].width);
    let px: Vec<f32> = images.iter().flat_map(|i| i.data.iter().copied()).collect();
    Tensor::from_data(TensorData::new(px, [images.len(), c, h, w]), device)
}

/// One-hot rows `[n, k]` on `device` for the class labels `labels` (each below `k`).
pub fn one_hot(labels: &[usize], k: usize, device: &Device) -> Tensor<2> {
    let mut oh = vec![0.0f32; labels.len() * k];
    for (r, &c) in labels.iter().enumerate() {
        oh[r * k + c] = 1.0;
    }
    Tensor::from_data(TensorData::new(oh, [labels.len(), k]), device)
}

/// Splits `[n, c, h, w]` into `n` images.
pub fn tensor_to_images(t: Tensor<4>) -> Vec<Image> {
    let [b, c, h, w] = t.dims();
    let v: Vec<f32> = t.into_data().try_to_vec().expect("f32 tensor");
    (0..b)
        .map(|i| Image {
            channels: c,
            height: h,
            width: w,
            data: v[i * c * h * w..(i + 1) * c * h * w].to_vec(),
            sixteen_bit: false,
            meta: Default::default(),
        })
        .collect()
}
