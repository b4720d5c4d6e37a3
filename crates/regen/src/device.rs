//! The one place that chooses where tensors live: burn-flex on the CPU, with regen's own
//! convolution kernels ([`crate::engine`]), or, in a build with the `gpu` feature, burn's
//! wgpu backend (Vulkan, Metal, DirectX 12), where burn's own operations run. Nothing
//! outside this file names a backend. The choice is made once per process
//! ([`select`]; `regen --device`, or `REGEN_DEVICE`), before any tensor exists.

use std::str::FromStr;
use std::sync::OnceLock;

use burn::tensor::Device;

use crate::error::{Error, Result};

/// Where tensors live.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeviceChoice {
    /// burn-flex on the CPU, with regen's kernels.
    #[default]
    Cpu,
    /// A GPU through wgpu: the adapter wgpu ranks first (`None`; set
    /// `CUBECL_WGPU_DEFAULT_DEVICE=Cpu` to take a CPU Vulkan driver such as lavapipe), or
    /// the discrete GPU of that index.
    Gpu(Option<usize>),
}

impl FromStr for DeviceChoice {
    type Err = Error;

    /// `cpu`, `gpu` or `gpu:N`.
    fn from_str(s: &str) -> Result<DeviceChoice> {
        let bad = || Error::arg(format!("--device {s}: use cpu, gpu or gpu:N"));
        match s {
            "cpu" => Ok(DeviceChoice::Cpu),
            "gpu" => Ok(DeviceChoice::Gpu(None)),
            _ => {
                let n = s.strip_prefix("gpu:").ok_or_else(bad)?;
                Ok(DeviceChoice::Gpu(Some(n.parse().map_err(|_| bad())?)))
            }
        }
    }
}

impl std::fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceChoice::Cpu => f.write_str("cpu"),
            DeviceChoice::Gpu(None) => f.write_str("gpu"),
            DeviceChoice::Gpu(Some(n)) => write!(f, "gpu:{n}"),
        }
    }
}

static CHOICE: OnceLock<DeviceChoice> = OnceLock::new();

/// Chooses the device for the rest of the process. A GPU is refused with one line when
/// this build lacks the `gpu` feature or no adapter answers (it is opened here, so the
/// failure comes now and not inside the first layer). A second call, or one after
/// [`device`] has run, keeps the first choice and says so.
pub fn select(choice: DeviceChoice) -> Result<()> {
    if choice != DeviceChoice::Cpu {
        probe(choice)?;
    }
    let chosen = *CHOICE.get_or_init(|| choice);
    if chosen != choice {
        return Err(Error::internal(format!(
            "the device is already {chosen}; it cannot change to {choice}"
        )));
    }
    Ok(())
}

/// Selects `flag` (`regen --device`), else `REGEN_DEVICE` when set, else keeps the CPU.
pub fn resolve(flag: Option<DeviceChoice>) -> Result<()> {
    match (flag, std::env::var("REGEN_DEVICE")) {
        (Some(choice), _) => select(choice),
        (None, Ok(v)) => select(v.parse()?),
        (None, Err(_)) => Ok(()),
    }
}

/// The chosen device (the CPU unless [`select`] chose another).
pub fn choice() -> DeviceChoice {
    *CHOICE.get_or_init(DeviceChoice::default)
}

#[cfg(not(feature = "gpu"))]
fn probe(choice: DeviceChoice) -> Result<()> {
    Err(Error::arg(format!(
        "--device {choice}: this regen was built without GPU support; build it with `cargo build --release --features gpu`"
    )))
}

/// Opens the GPU with a one-element tensor; wgpu panics when it finds no adapter, so the
/// panic is caught (and its message kept off the terminal) and becomes one line.
#[cfg(feature = "gpu")]
fn probe(choice: DeviceChoice) -> Result<()> {
    let device = gpu(choice);
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let opened = std::panic::catch_unwind(|| {
        burn::tensor::Tensor::<1>::zeros([1], &device)
            .into_data()
            .try_to_vec::<f32>()
            .is_ok()
    });
    std::panic::set_hook(hook);
    match opened {
        Ok(true) => Ok(()),
        _ => Err(Error::arg(format!(
            "--device {choice}: no GPU adapter answered (for a CPU Vulkan driver such as lavapipe, set CUBECL_WGPU_DEFAULT_DEVICE=Cpu)"
        ))),
    }
}

#[cfg(feature = "gpu")]
fn gpu(choice: DeviceChoice) -> Device {
    use burn::tensor::DeviceKind;
    match choice {
        DeviceChoice::Gpu(Some(n)) => Device::wgpu(DeviceKind::DiscreteGpu(n)),
        _ => Device::wgpu(DeviceKind::DefaultDevice),
    }
}

/// The device for inference and evaluation. On the CPU, the first call also tells the
/// allocator to keep freed memory for reuse ([`crate::engine::gemm::retain_freed_memory`]).
pub fn device() -> Device {
    match choice() {
        DeviceChoice::Cpu => {
            crate::engine::gemm::retain_freed_memory();
            Device::flex()
        }
        #[cfg(feature = "gpu")]
        gpu_choice => gpu(gpu_choice),
        #[cfg(not(feature = "gpu"))]
        // `select` refuses a GPU in this build, so the choice is always the CPU.
        DeviceChoice::Gpu(_) => Device::flex(),
    }
}

/// The device for training: the inference device with autodiff on top.
pub fn train_device() -> Device {
    device().autodiff()
}

/// The first GPU adapter, with autodiff, whatever this process selected: for tests that
/// compare the two devices side by side.
#[cfg(all(test, feature = "gpu"))]
pub(crate) fn gpu_train_device() -> Device {
    gpu(DeviceChoice::Gpu(None)).autodiff()
}

/// Sets the number of CPU threads the tensor kernels use. Call once, before any work;
/// later calls are ignored (the pool exists by then).
pub fn set_threads(n: usize) {
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(n.max(1))
        .build_global();
}

/// Runs `f` on one of the CPU pool's threads rather than the caller's. The work between
/// parallel sections then runs on a pool thread too, so the program has as many busy threads
/// as `--threads` says, not one more that the pool's threads compete with for the cores, and
/// each parallel section starts without waking the whole pool from the outside.
pub fn in_pool<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    let mut out = None;
    rayon::scope(|_| out = Some(f()));
    out.expect("the scope ran its body")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_parse_and_print_back() {
        for s in ["cpu", "gpu", "gpu:1"] {
            assert_eq!(s.parse::<DeviceChoice>().unwrap().to_string(), s);
        }
        for s in ["cuda", "gpu:", "gpu:x", "GPU"] {
            let e = s.parse::<DeviceChoice>().unwrap_err().to_string();
            assert_eq!(e, format!("--device {s}: use cpu, gpu or gpu:N"));
        }
    }
}
