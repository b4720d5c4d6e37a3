//! The one place that chooses where tensors live: burn-flex on the CPU, with regen's own
//! convolution kernels ([`crate::engine`]). Nothing outside this file names a backend.

use burn::tensor::Device;

/// The device for inference and evaluation: burn-flex, pure-Rust CPU. The first call also
/// tells the allocator to keep freed memory for reuse
/// ([`crate::engine::gemm::retain_freed_memory`]).
pub fn device() -> Device {
    crate::engine::gemm::retain_freed_memory();
    Device::flex()
}

/// The device for training: the inference device with autodiff on top.
pub fn train_device() -> Device {
    device().autodiff()
}

/// Sets the number of CPU threads the tensor kernels use. Call once, before any work;
/// later calls are ignored (the pool exists by then).
pub fn set_threads(n: usize) {
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(n.max(1))
        .build_global();
}
