//! Checkpoints: one `.safetensors` file whose metadata holds regen's [`ModelCard`]: the
//! model family, its full config, the task, the training step and the regen version.
//! Loading checks each of these and says plainly what does not match.

use std::path::Path;

use burn::store::{ModuleSnapshot, SafetensorsStore};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fsutil::write_atomic;

/// The metadata key holding the [`ModelCard`] as JSON.
pub const CARD_KEY: &str = "regen";

/// What a checkpoint holds, stored beside its weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    /// Model family: `restore`, `vae`, `gan`, `classifier`.
    pub family: String,
    /// What the model does within its family, e.g. `denoise`.
    pub task: String,
    /// The network's config, as its `Config` serialises it.
    pub config: serde_json::Value,
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
    pub fn new(family: &str, task: &str, config: serde_json::Value, step: u64) -> ModelCard {
        ModelCard {
            family: family.into(),
            task: task.into(),
            config,
            step,
            version: env!("CARGO_PKG_VERSION").into(),
            notes: serde_json::Value::Null,
        }
    }
}

/// Serialises `module` and `card` into safetensors bytes.
pub fn to_bytes<M: ModuleSnapshot>(module: &M, card: &ModelCard) -> Result<Vec<u8>> {
    let json = serde_json::to_string(card).expect("card serialises");
    let mut store = SafetensorsStore::from_bytes(None).metadata(CARD_KEY, json);
    module
        .save_into(&mut store)
        .map_err(|e| Error::internal(format!("cannot serialise model: {e}")))?;
    store
        .get_bytes()
        .map_err(|e| Error::internal(format!("cannot serialise model: {e}")))
}

/// Writes a checkpoint atomically.
pub fn save<M: ModuleSnapshot>(path: &Path, module: &M, card: &ModelCard) -> Result<()> {
    write_atomic(path, &to_bytes(module, card)?)
}

/// Reads the card of checkpoint bytes; `path` only names the source in errors.
pub fn read_card(path: &Path, bytes: &[u8]) -> Result<ModelCard> {
    let (_, meta) = safetensors::SafeTensors::read_metadata(bytes)
        .map_err(|_| Error::checkpoint(path, "not a safetensors file"))?;
    let json = meta
        .metadata()
        .as_ref()
        .and_then(|m| m.get(CARD_KEY))
        .ok_or_else(|| Error::checkpoint(path, "safetensors file without regen metadata"))?;
    serde_json::from_str(json)
        .map_err(|e| Error::checkpoint(path, format!("unreadable regen metadata: {e}")))
}

/// Checks that `card` is of `family` and written by a compatible regen (same major.minor
/// while below 1.0).
pub fn check_card(path: &Path, card: &ModelCard, family: &str) -> Result<()> {
    if card.family != family {
        return Err(Error::checkpoint(
            path,
            format!(
                "is a {} model ({}), but a {family} model is needed here",
                card.family, card.task
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

/// Safetensors bytes with the first convolution's weight `[out, from, k, k]` (the only
/// 4-d tensor with `from` input planes whose name ends in `convs.0.weight` of the head or
/// body) padded with zeros to `[out, to, k, k]`: a network given more input planes than
/// the checkpoint had starts out ignoring them.
pub fn widen_first_conv(
    bytes: &[u8],
    from: usize,
    to: usize,
) -> std::result::Result<Vec<u8>, String> {
    use safetensors::{Dtype, SafeTensors, tensor::TensorView};
    let st = SafeTensors::deserialize(bytes).map_err(|e| e.to_string())?;
    let mut owned: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    let mut widened = 0;
    for (name, view) in st.tensors() {
        let shape = view.shape().to_vec();
        let first = name.ends_with("head.convs.0.weight") || name.ends_with("body.convs.0.weight");
        if first && shape.len() == 4 && shape[1] == from && view.dtype() == Dtype::F32 {
            let (out, kk) = (shape[0], shape[2] * shape[3]);
            let src = view.data();
            let mut data = vec![0u8; out * to * kk * 4];
            for o in 0..out {
                let n = from * kk * 4;
                data[o * to * kk * 4..o * to * kk * 4 + n]
                    .copy_from_slice(&src[o * n..(o + 1) * n]);
            }
            owned.push((name, Dtype::F32, vec![out, to, shape[2], shape[3]], data));
            widened += 1;
        } else {
            owned.push((name, view.dtype(), shape, view.data().to_vec()));
        }
    }
    if widened != 1 {
        return Err(format!(
            "found {widened} first convolutions to widen, expected 1"
        ));
    }
    let views = owned
        .iter()
        .map(|(name, dtype, shape, data)| {
            TensorView::new(*dtype, shape.clone(), data).map(|v| (name.clone(), v))
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    safetensors::serialize(views, None).map_err(|e| e.to_string())
}
