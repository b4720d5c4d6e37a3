//! The models a page may choose: the shipped ones and the checkpoints of `--models DIR`.
//! A request names one of these; it never passes a path, so it reaches no other file.

use std::path::{Path, PathBuf};

use regen::checkpoint::{self, ModelCard};
use regen::corrupt::Task;
use regen::models::Family;
use regen::{Error, Result};
use serde::Serialize;

/// One model on offer; everything but its name and source comes from its descriptor.
#[derive(Clone, Debug, Serialize)]
pub struct Entry {
    /// What a request names it by: a shipped model's name, or a checkpoint's file name.
    pub name: String,
    /// `restore`, `vae` or `gan`.
    pub family: Family,
    /// For restoration: `denoise`, `inpaint` or `deblur`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<Task>,
    /// Image channels it works on (1 gray, 3 colour); a gray restorer takes colour photos
    /// channel by channel.
    pub channels: usize,
    /// A restorer with a noise level input (`sigma`).
    pub noise_level: bool,
    /// A deblurrer that must be told the blur.
    pub non_blind: bool,
    /// A restorer that takes a mask (an inpainter).
    pub mask: bool,
    /// Output side over input side.
    pub scale: usize,
    /// A generative model with an encoder (a VAE: it can go between two images).
    pub encoder: bool,
    /// Classes of a conditional generative model (0: unconditional).
    pub classes: usize,
    /// Side of a generative model's square images.
    pub size: usize,
    /// `shipped` or `folder`.
    pub source: &'static str,
    /// What `regen` loads it from: the shipped name, or the checkpoint's path.
    #[serde(skip)]
    pub spec: String,
}

/// The file extensions `--models DIR` offers: regen checkpoints and published weights.
const MODEL_EXTENSIONS: [&str; 5] = ["safetensors", "pth", "pt", "ckpt", "param"];

/// What a request wants a model for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want {
    /// Restoring a photo: a restorer.
    Restore,
    /// Sampling: a VAE or a GAN.
    Generate,
}

/// Every model on offer.
pub struct Catalogue {
    /// Shipped models first, then the folder's by file name.
    pub entries: Vec<Entry>,
}

impl Catalogue {
    /// The shipped models and those in `dir`: each regen `.safetensors` checkpoint there and
    /// each published model file (`.pth`, `.pt`, `.ckpt`, a `.safetensors` in PyTorch's
    /// layout, an ncnn `.param`); one that is neither a restoration, VAE or GAN model nor
    /// a published model regen recognises is an error naming it.
    pub fn read(dir: Option<&Path>) -> Result<Catalogue> {
        let mut entries: Vec<Entry> = regen::shipped::SHIPPED
            .iter()
            .map(|m| {
                let card = checkpoint::read_card(Path::new(m.name), m.bytes)?;
                Ok(entry(m.name.into(), m.name.into(), &card, "shipped"))
            })
            .collect::<Result<_>>()?;
        if let Some(dir) = dir {
            let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
                .map_err(|e| Error::io(dir, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    let ext = p.extension().and_then(|x| x.to_str()).unwrap_or("");
                    MODEL_EXTENSIONS.contains(&ext) && p.is_file()
                })
                .collect();
            files.sort();
            for path in files {
                // resolve() turns published weights into a regen checkpoint.
                let (_, bytes) = regen::shipped::resolve(&path.to_string_lossy())?;
                let card = checkpoint::read_card(&path, &bytes)?;
                let family = card.family();
                if family != Family::Restore && !family.generates() {
                    return Err(Error::checkpoint(
                        &path,
                        format!("a {family} model; --models offers restore, vae and gan models"),
                    ));
                }
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let spec = path.to_string_lossy().into_owned();
                entries.push(entry(name, spec, &card, "folder"));
            }
        }
        Ok(Catalogue { entries })
    }

    /// The model called `name` that does what `want` says.
    pub fn find(&self, name: &str, want: Want) -> Option<&Entry> {
        self.entries.iter().find(|e| {
            e.name == name
                && match want {
                    Want::Restore => e.family == Family::Restore,
                    Want::Generate => e.family.generates(),
                }
        })
    }
}

/// What the restore page offers for one task: its name, a label, and what its default
/// model (the first shipped one) takes.
#[derive(Clone, Debug, Serialize)]
pub struct TaskEntry {
    /// The task.
    pub name: Task,
    /// The menu's words for it.
    pub label: &'static str,
    /// Whether its default model takes a noise level.
    pub noise_level: bool,
    /// Whether its default model takes a mask.
    pub mask: bool,
    /// Whether a shipped model is its default (upscaling has none: a model must be named).
    pub default: bool,
}

/// The restoration tasks some model on offer does, each described by its shipped default
/// (or, for a task no shipped model does, such as upscaling, the first model that does it).
pub fn tasks(catalogue: &Catalogue) -> Vec<TaskEntry> {
    Task::ALL
        .iter()
        .filter_map(|&task| {
            let first = catalogue.entries.iter().find(|e| e.task == Some(task))?;
            let d = regen::shipped::default_for(task).map(|m| m.card().descriptor);
            Some(TaskEntry {
                name: task,
                label: match task {
                    Task::Denoise => "Denoise",
                    Task::Inpaint => "Inpaint (paint what to remove)",
                    Task::Deblur => "Deblur",
                    Task::Upscale => "Upscale",
                },
                noise_level: d.as_ref().map_or(first.noise_level, |d| d.takes_sigma()),
                mask: d.as_ref().map_or(first.mask, |d| d.takes_mask()),
                default: d.is_some(),
            })
        })
        .collect()
}

fn entry(name: String, spec: String, card: &ModelCard, source: &'static str) -> Entry {
    let d = &card.descriptor;
    Entry {
        name,
        family: d.family,
        task: d.task,
        channels: d.image_channels(),
        noise_level: d.takes_sigma(),
        non_blind: d.takes_kernel(),
        mask: d.takes_mask(),
        scale: d.scale,
        encoder: d.has_encoder(),
        classes: d.classes(),
        size: d.size(),
        source,
        spec,
    }
}
