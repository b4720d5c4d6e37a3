//! Checkpoints: one `.safetensors` file whose metadata holds regen's [`ModelCard`]: the
//! model's [`Descriptor`] (what it is), the training step, the regen version and notes.
//! Loading checks each of these and says plainly what does not match. Cards written before
//! descriptors (a family and task as words, a flat config) are read by [`legacy`].

use std::path::Path;

use burn::store::{ModuleSnapshot, SafetensorsStore};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fsutil::write_atomic;
use crate::models::{Descriptor, Family};

mod grow;
mod legacy;

pub use grow::{PlanePlan, adapt_ends, deepen, lengthen_chain, thicken};

/// The metadata key holding the [`ModelCard`] as JSON.
pub const CARD_KEY: &str = "regen";

/// What a checkpoint holds, stored beside its weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    /// What the model is.
    pub descriptor: Descriptor,
    /// Training steps taken.
    pub step: u64,
    /// The regen version that wrote it.
    pub version: String,
    /// Free-form facts about training (noise range, data, validation score).
    #[serde(default)]
    pub notes: serde_json::Value,
}

impl ModelCard {
    /// A card written by this regen version, with no notes.
    pub fn new(descriptor: Descriptor, step: u64) -> ModelCard {
        ModelCard {
            descriptor,
            step,
            version: env!("CARGO_PKG_VERSION").into(),
            notes: serde_json::Value::Null,
        }
    }

    /// The model's family.
    pub fn family(&self) -> Family {
        self.descriptor.family
    }
}

/// Serialises `module` and `card` into safetensors bytes.
pub fn to_bytes<M: ModuleSnapshot>(module: &M, card: &ModelCard) -> Result<Vec<u8>> {
    let json = serde_json::to_string(card).expect("card serialises");
    let mut store = SafetensorsStore::from_bytes(None).metadata(CARD_KEY, json);
    module
        .save_into(&mut store)
        .map_err(|e| Error::internal(format!("cannot serialise model: {e}")))?;
    let bytes = store
        .get_bytes()
        .map_err(|e| Error::internal(format!("cannot serialise model: {e}")))?;
    canonical(&bytes)
}

/// The same safetensors file with its header's keys in sorted order. burn writes the
/// header from hash maps, whose order changes from process to process, so the same weights
/// would otherwise be saved as different bytes; sorted, two runs that learn the same
/// weights write the same file (what `cmp` checks of a one-rank MPI run). The header is
/// padded with spaces to a multiple of 8 bytes, as safetensors pads it, so the tensors
/// stay aligned.
fn canonical(bytes: &[u8]) -> Result<Vec<u8>> {
    let bad = |why: &str| Error::internal(format!("cannot serialise model: {why}"));
    let n = bytes
        .get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")) as usize)
        .ok_or_else(|| bad("no header"))?;
    let header = bytes.get(8..8 + n).ok_or_else(|| bad("short header"))?;
    // serde_json's maps are sorted by key (no `preserve_order`).
    let value: serde_json::Value =
        serde_json::from_slice(header).map_err(|e| bad(&e.to_string()))?;
    let mut h = serde_json::to_vec(&value).expect("a parsed header serialises");
    h.resize(h.len().next_multiple_of(8), b' ');
    let mut out = Vec::with_capacity(8 + h.len() + bytes.len() - 8 - n);
    out.extend_from_slice(&(h.len() as u64).to_le_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(&bytes[8 + n..]);
    Ok(out)
}

/// Writes a checkpoint atomically.
pub fn save<M: ModuleSnapshot>(path: &Path, module: &M, card: &ModelCard) -> Result<()> {
    write_atomic(path, &to_bytes(module, card)?)
}

/// Reads the card of checkpoint bytes (either format); `path` only names the source in
/// errors. A descriptor whose parts disagree is refused.
pub fn read_card(path: &Path, bytes: &[u8]) -> Result<ModelCard> {
    let (_, meta) = safetensors::SafeTensors::read_metadata(bytes)
        .map_err(|_| Error::checkpoint(path, "not a safetensors file"))?;
    let json = meta
        .metadata()
        .as_ref()
        .and_then(|m| m.get(CARD_KEY))
        .ok_or_else(|| Error::checkpoint(path, "safetensors file without regen metadata"))?;
    card_from_json(path, json)
}

/// Reads the card of the checkpoint file at `path` from its header alone, without reading
/// its weights (for listings that look at many files often).
pub fn read_card_file(path: &Path) -> Result<ModelCard> {
    use std::io::Read;
    let not = || Error::checkpoint(path, "not a safetensors file");
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut len = [0u8; 8];
    f.read_exact(&mut len).map_err(|_| not())?;
    let n = u64::from_le_bytes(len);
    // safetensors caps its header at 100 MB.
    if n > 100_000_000 {
        return Err(not());
    }
    let mut header = Vec::with_capacity(n as usize);
    f.take(n)
        .read_to_end(&mut header)
        .map_err(|e| Error::io(path, e))?;
    let v: serde_json::Value = serde_json::from_slice(&header).map_err(|_| not())?;
    let json = v
        .get("__metadata__")
        .and_then(|m| m.get(CARD_KEY))
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| Error::checkpoint(path, "safetensors file without regen metadata"))?;
    card_from_json(path, json)
}

/// The card a metadata entry holds, in either format, checked.
fn card_from_json(path: &Path, json: &str) -> Result<ModelCard> {
    let value: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| Error::checkpoint(path, format!("unreadable regen metadata: {e}")))?;
    let card = if value.get("descriptor").is_some() {
        serde_json::from_value::<ModelCard>(value)
            .map_err(|e| Error::checkpoint(path, format!("unreadable regen metadata: {e}")))?
    } else {
        legacy::read(value)
            .map_err(|e| Error::checkpoint(path, format!("unreadable regen metadata: {e}")))?
    };
    card.descriptor
        .check()
        .map_err(|e| Error::checkpoint(path, format!("bad model description: {e}")))?;
    Ok(card)
}

/// Checks that `card` is of `family` and written by a compatible regen (same major.minor
/// while below 1.0).
pub fn check_card(path: &Path, card: &ModelCard, family: Family) -> Result<()> {
    if card.family() != family {
        let what = match card.descriptor.task {
            Some(task) => task.to_string(),
            None if card.family() == Family::Classifier => "features".into(),
            None => "generate".into(),
        };
        return Err(Error::checkpoint(
            path,
            format!(
                "is a {} model ({what}), but a {family} model is needed here",
                card.family()
            ),
        ));
    }
    let mm = |v: &str| v.split('.').take(2).collect::<Vec<_>>().join(".");
    if mm(&card.version) != mm(env!("CARGO_PKG_VERSION")) {
        return Err(Error::checkpoint(
            path,
            format!(
                "written by regen {}, which this regen {} cannot read",
                card.version,
                env!("CARGO_PKG_VERSION")
            ),
        ));
    }
    Ok(())
}

/// Loads weights from checkpoint bytes into `module`, which must have been built from the
/// card's config. Missing, extra or misshapen tensors are an error.
pub fn load_weights<M: ModuleSnapshot>(path: &Path, bytes: Vec<u8>, module: &mut M) -> Result<()> {
    let mut store = SafetensorsStore::from_bytes(Some(bytes));
    let result = module
        .load_from(&mut store)
        .map_err(|e| Error::checkpoint(path, format!("weights do not fit the model: {e}")))?;
    if !result.errors.is_empty() || !result.missing.is_empty() || !result.unused.is_empty() {
        return Err(Error::checkpoint(
            path,
            format!(
                "weights do not fit the model ({} missing, {} unexpected, {} mismatched)",
                result.missing.len(),
                result.unused.len(),
                result.errors.len()
            ),
        ));
    }
    Ok(())
}

/// Reads a checkpoint file's bytes, naming the file if it is missing.
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io(path, e))
}
