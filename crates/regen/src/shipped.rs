//! Pretrained models embedded in the binary, so `regen restore` works with no download.
//! Each file's training command, time and machine are in `models/README.md`.

use std::path::{Path, PathBuf};

use crate::checkpoint::ModelCard;
use crate::corrupt::Task;
use crate::error::{Error, Result};
use crate::models::Family;

/// A model compiled into regen. What it is (family, task, planes) is its card's
/// descriptor; the first restorer of a task in [`SHIPPED`] is that task's default.
pub struct Shipped {
    /// Name for `--model`.
    pub name: &'static str,
    /// The `.safetensors` bytes.
    pub bytes: &'static [u8],
}

impl Shipped {
    /// The model's card.
    pub fn card(&self) -> ModelCard {
        crate::checkpoint::read_card(Path::new(self.name), self.bytes)
            .expect("a shipped model's card reads (tested)")
    }
}

/// Every shipped model.
pub const SHIPPED: &[Shipped] = &[
    Shipped {
        name: "denoise",
        bytes: include_bytes!("../../../models/denoise.safetensors"),
    },
    Shipped {
        name: "denoise-color",
        bytes: include_bytes!("../../../models/denoise-color.safetensors"),
    },
    Shipped {
        name: "inpaint-color",
        bytes: include_bytes!("../../../models/inpaint-color.safetensors"),
    },
    Shipped {
        name: "inpaint",
        bytes: include_bytes!("../../../models/inpaint.safetensors"),
    },
    Shipped {
        name: "deblur",
        bytes: include_bytes!("../../../models/deblur.safetensors"),
    },
    Shipped {
        name: "deblur-nonblind",
        bytes: include_bytes!("../../../models/deblur-nonblind.safetensors"),
    },
    Shipped {
        name: "upscale-photo-x4",
        bytes: include_bytes!("../../../models/upscale-photo-x4.safetensors"),
    },
    Shipped {
        name: "upscale-x4",
        bytes: include_bytes!("../../../models/upscale-x4.safetensors"),
    },
    Shipped {
        name: "upscale-x2",
        bytes: include_bytes!("../../../models/upscale-x2.safetensors"),
    },
    Shipped {
        name: "vae-fashion",
        bytes: include_bytes!("../../../models/vae-fashion.safetensors"),
    },
    Shipped {
        name: "cvae-mnist",
        bytes: include_bytes!("../../../models/cvae-mnist.safetensors"),
    },
    Shipped {
        name: "gan-fashion",
        bytes: include_bytes!("../../../models/gan-fashion.safetensors"),
    },
    Shipped {
        name: "cgan-mnist",
        bytes: include_bytes!("../../../models/cgan-mnist.safetensors"),
    },
];

/// The shipped model called `name`.
pub fn find(name: &str) -> Option<&'static Shipped> {
    SHIPPED.iter().find(|m| m.name == name)
}

/// The default restorer for `task`.
pub fn default_for(task: Task) -> Option<&'static Shipped> {
    SHIPPED.iter().find(|m| {
        let d = m.card().descriptor;
        d.family == Family::Restore && d.task == Some(task)
    })
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
    // Published weights (PyTorch, safetensors without a card, ncnn) become a regen
    // checkpoint here, so everything that takes --model takes them.
    if crate::published::format_of(&path, &bytes).is_some() {
        let bytes = crate::published::import(&path, &bytes)?.checkpoint_bytes(&path)?;
        return Ok((path, bytes));
    }
    Ok((path, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every shipped card reads and describes itself consistently; each task has a default.
    #[test]
    fn shipped_cards_read_and_each_task_has_a_default() {
        for m in SHIPPED {
            let d = m.card().descriptor;
            assert_eq!(d.check(), Ok(()), "{}", m.name);
        }
        assert_eq!(default_for(Task::Denoise).map(|m| m.name), Some("denoise"));
        assert_eq!(
            default_for(Task::Inpaint).map(|m| m.name),
            Some("inpaint-color")
        );
        assert_eq!(default_for(Task::Deblur).map(|m| m.name), Some("deblur"));
        assert_eq!(
            default_for(Task::Upscale).map(|m| m.name),
            Some("upscale-photo-x4")
        );
    }
}
