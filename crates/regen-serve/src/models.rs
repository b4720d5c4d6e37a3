//! The models a page may choose: the shipped ones and the checkpoints of `--models DIR`.
//! A request names one of these; it never passes a path, so it reaches no other file.

use std::path::{Path, PathBuf};

use regen::checkpoint::{self, ModelCard};
use regen::models::RestoreConfig;
use regen::{Error, Result};
use serde::Serialize;
use serde_json::Value;

/// One model on offer.
#[derive(Clone, Debug, Serialize)]
pub struct Entry {
    /// What a request names it by: a shipped model's name, or a checkpoint's file name.
    pub name: String,
    /// `restore`, `vae` or `gan`.
    pub family: String,
    /// For restoration: `denoise`, `inpaint` or `deblur`.
    pub task: String,
    /// Image channels it works on (1 gray, 3 colour); a gray restorer takes colour photos
    /// channel by channel.
    pub channels: usize,
    /// A restorer with a noise level input (`sigma`).
    pub noise_level: bool,
    /// A deblurrer that must be told the blur.
    pub non_blind: bool,
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

/// Every model on offer.
pub struct Catalogue {
    /// Shipped models first, then the folder's by file name.
    pub entries: Vec<Entry>,
}

impl Catalogue {
    /// The shipped models and those in `dir` (each `.safetensors` file there; one that is
    /// not a regen restoration, VAE or GAN checkpoint is an error naming it).
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
                .filter(|p| p.extension().is_some_and(|x| x == "safetensors") && p.is_file())
                .collect();
            files.sort();
            for path in files {
                let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
                let card = checkpoint::read_card(&path, &bytes)?;
                if !["restore", "vae", "gan"].contains(&card.family.as_str()) {
                    return Err(Error::checkpoint(
                        &path,
                        format!(
                            "a {} model; --models offers restore, vae and gan models",
                            card.family
                        ),
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

    /// The model called `name` of `family` (`restore` for restorers; `generate` for VAEs
    /// and GANs).
    pub fn find(&self, name: &str, family: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| {
            e.name == name && (e.family == family || family == "generate" && e.family != "restore")
        })
    }
}

fn entry(name: String, spec: String, card: &ModelCard, source: &'static str) -> Entry {
    let get = |k: &str| card.config.get(k).and_then(Value::as_u64).unwrap_or(0) as usize;
    let restore: Option<RestoreConfig> = (card.family == "restore")
        .then(|| serde_json::from_value(card.config.clone()).ok())
        .flatten();
    Entry {
        name,
        family: card.family.clone(),
        task: card.task.clone(),
        channels: restore
            .as_ref()
            .map_or_else(|| get("channels").max(1), RestoreConfig::image_channels),
        noise_level: restore.as_ref().is_some_and(RestoreConfig::has_noise_map),
        non_blind: restore
            .as_ref()
            .is_some_and(|c| card.task == "deblur" && c.in_channels > c.image_channels()),
        classes: get("classes"),
        size: get("size"),
        source,
        spec,
    }
}
