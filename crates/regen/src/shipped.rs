//! Pretrained models embedded in the binary, so `regen restore` works with no download.
//! Each file's training command, time and machine are in `models/README.md`.

use std::path::PathBuf;

use crate::error::{Error, Result};

/// A model compiled into regen.
pub struct Shipped {
    /// Name for `--model`.
    pub name: &'static str,
    /// Family (`restore`, ...).
    pub family: &'static str,
    /// Task within the family; the first model of a task is its default.
    pub task: &'static str,
    /// The `.safetensors` bytes.
    pub bytes: &'static [u8],
}

/// Every shipped model.
pub const SHIPPED: &[Shipped] = &[
    Shipped {
        name: "denoise",
        family: "restore",
        task: "denoise",
        bytes: include_bytes!("../../../models/denoise.safetensors"),
    },
    Shipped {
        name: "denoise-color",
        family: "restore",
        task: "denoise",
        bytes: include_bytes!("../../../models/denoise-color.safetensors"),
    },
    Shipped {
        name: "inpaint-color",
        family: "restore",
        task: "inpaint",
        bytes: include_bytes!("../../../models/inpaint-color.safetensors"),
    },
    Shipped {
        name: "inpaint",
        family: "restore",
        task: "inpaint",
        bytes: include_bytes!("../../../models/inpaint.safetensors"),
    },
    Shipped {
        name: "deblur",
        family: "restore",
        task: "deblur",
        bytes: include_bytes!("../../../models/deblur.safetensors"),
    },
    Shipped {
        name: "deblur-nonblind",
        family: "restore",
        task: "deblur",
        bytes: include_bytes!("../../../models/deblur-nonblind.safetensors"),
    },
    Shipped {
        name: "vae-fashion",
        family: "vae",
        task: "generate",
        bytes: include_bytes!("../../../models/vae-fashion.safetensors"),
    },
    Shipped {
        name: "cvae-mnist",
        family: "vae",
        task: "generate",
        bytes: include_bytes!("../../../models/cvae-mnist.safetensors"),
    },
    Shipped {
        name: "gan-fashion",
        family: "gan",
        task: "generate",
        bytes: include_bytes!("../../../models/gan-fashion.safetensors"),
    },
    Shipped {
        name: "cgan-mnist",
        family: "gan",
        task: "generate",
        bytes: include_bytes!("../../../models/cgan-mnist.safetensors"),
    },
];

/// The shipped model called `name`.
pub fn find(name: &str) -> Option<&'static Shipped> {
    SHIPPED.iter().find(|m| m.name == name)
}

/// The default model for a family and task.
pub fn default_for(family: &str, task: &str) -> Option<&'static Shipped> {
    SHIPPED
        .iter()
        .find(|m| m.family == family && m.task == task)
}

/// Names of all shipped models.
pub fn names() -> Vec<&'static str> {
    SHIPPED.iter().map(|m| m.name).collect()
}

/// Resolves `--model SPEC`: a shipped model's name or a checkpoint path. Returns the name
/// to show in errors and the checkpoint's bytes.
pub fn resolve(spec: &str) -> Result<(PathBuf, Vec<u8>)> {
    if let Some(m) = find(spec) {
        return Ok((PathBuf::from(spec), m.bytes.to_vec()));
    }
    let path = PathBuf::from(spec);
    if !path.exists() {
        return Err(Error::arg(format!(
            "--model {spec}: no such file, and not a shipped model (shipped: {})",
            names().join(", ")
        )));
    }
    let bytes = crate::checkpoint::read_file(&path)?;
    Ok((path, bytes))
}
