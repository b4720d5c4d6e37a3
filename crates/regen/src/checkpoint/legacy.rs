//! Cards written before descriptors: `{"family": "restore", "task": "denoise", "config":
//! {...}, "step", "version", "notes"}`, the family and task as words and the network's
//! config as its own struct serialised it (for restorers the flat [`RestoreConfig`], whose
//! input planes were implied by their count). Each is mapped to the descriptor the same
//! model gets today, so every checkpoint regen ever wrote still loads.

use serde::Deserialize;
use serde_json::Value;

use super::ModelCard;
use crate::corrupt::Task;
use crate::models::{ClassifierConfig, Descriptor, Family, GanConfig, RestoreConfig, VaeConfig};
use crate::planes;

/// The old card, as written.
#[derive(Deserialize)]
struct OldCard {
    family: String,
    task: String,
    config: Value,
    step: u64,
    version: String,
    #[serde(default)]
    notes: Value,
}

/// The card `value` (an old card's JSON) means; the error says what does not fit.
pub(super) fn read(value: Value) -> Result<ModelCard, String> {
    let old: OldCard = serde_json::from_value(value).map_err(|e| e.to_string())?;
    let family: Family = old
        .family
        .parse()
        .map_err(|e: crate::Error| e.to_string())?;
    let bad = |e: serde_json::Error| format!("bad model config: {e}");
    let descriptor = match family {
        Family::Restore => {
            let task: Task = old.task.parse().map_err(|e: crate::Error| e.to_string())?;
            let config: RestoreConfig = serde_json::from_value(old.config).map_err(bad)?;
            config.validate().map_err(|e| e.to_string())?;
            let c = config.image_channels();
            let inputs = planes::from_count(task, c, config.in_channels, config.has_noise_map())
                .ok_or_else(|| {
                    format!(
                        "a {task} network of {} input planes for {c} image channels fits no layout",
                        config.in_channels
                    )
                })?;
            Descriptor::restore(task, config.architecture(), inputs)?
        }
        Family::Vae => {
            Descriptor::vae(serde_json::from_value::<VaeConfig>(old.config).map_err(bad)?)
        }
        Family::Gan => {
            Descriptor::gan(serde_json::from_value::<GanConfig>(old.config).map_err(bad)?)
        }
        Family::Classifier => Descriptor::classifier(
            serde_json::from_value::<ClassifierConfig>(old.config).map_err(bad)?,
        ),
    };
    Ok(ModelCard {
        descriptor,
        step: old.step,
        version: old.version,
        notes: old.notes,
    })
}
