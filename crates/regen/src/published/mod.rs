//! Models people already have: published PyTorch (`.pth`, `.pt`, `.ckpt`), safetensors
//! and ncnn (`.param` + `.bin`) weights, read without running code ([`pickle`], [`torch`],
//! [`ncnn`]), recognised by their tensors' names and shapes as spandrel recognises them
//! ([`detect`]), and turned into a regen checkpoint in memory: a [`Descriptor`] and the
//! weights under regen's names, which then load, tile, evaluate and fine-tune as regen's
//! own models do. [`export`] goes the other way for the architectures both share.

pub mod detect;
pub mod export;
pub mod ncnn;
pub mod pickle;
pub mod torch;

use std::path::Path;

use crate::checkpoint::{CARD_KEY, ModelCard};
use crate::error::{Error, Result};
use crate::models::Descriptor;

/// One tensor: its shape and its values, row-major, as f32.
#[derive(Clone, Debug, PartialEq)]
pub struct Weight {
    /// Shape.
    pub shape: Vec<usize>,
    /// Values.
    pub data: Vec<f32>,
}

impl Weight {
    /// A tensor of `shape` holding `data`.
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Weight {
        Weight { shape, data }
    }
}

/// Named tensors in file order.
#[derive(Clone, Debug, Default)]
pub struct StateDict {
    entries: Vec<(String, Weight)>,
}

impl StateDict {
    /// Adds a tensor.
    pub fn push(&mut self, name: &str, w: Weight) {
        self.entries.push((name.to_string(), w));
    }

    /// Whether there are no tensors.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Tensors held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The tensor named `name`.
    pub fn get(&self, name: &str) -> Option<&Weight> {
        self.entries.iter().find(|(k, _)| k == name).map(|(_, w)| w)
    }

    /// Whether a tensor is named `name`.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The names, in file order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    /// The (name, tensor) pairs.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Weight)> {
        self.entries.iter().map(|(k, w)| (k.as_str(), w))
    }

    /// Removes a prefix every name shares (`module.` of DataParallel, `netG.`).
    pub fn strip_common_prefix(&mut self, prefixes: &[&str]) {
        for p in prefixes {
            if self.entries.iter().all(|(k, _)| k.starts_with(p)) {
                for (k, _) in &mut self.entries {
                    k.drain(..p.len());
                }
            }
        }
    }
}

/// The file formats regen reads published weights from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A PyTorch checkpoint (zip or legacy pickle).
    Torch,
    /// safetensors without a regen card.
    Safetensors,
    /// An ncnn `.param` (text) beside its `.bin`.
    Ncnn,
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Format::Torch => "PyTorch",
            Format::Safetensors => "safetensors",
            Format::Ncnn => "ncnn",
        })
    }
}

/// Whether `bytes` (the file at `path`) are published weights rather than a regen
/// checkpoint, and in which format. A safetensors file with a regen card is regen's own.
pub fn format_of(path: &Path, bytes: &[u8]) -> Option<Format> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    if ext == "param" || ext == "bin" && !torch::sniff(bytes) {
        return Some(Format::Ncnn);
    }
    if torch::sniff(bytes) {
        return Some(Format::Torch);
    }
    if ["pth", "pt", "ckpt"].contains(&ext.as_str()) {
        return Some(Format::Torch);
    }
    if let Ok((_, meta)) = safetensors::SafeTensors::read_metadata(bytes) {
        let card = meta
            .metadata()
            .as_ref()
            .is_some_and(|m| m.contains_key(CARD_KEY));
        return (!card).then_some(Format::Safetensors);
    }
    None
}

/// A published model made ready for regen: what it is and its weights under regen's names.
#[derive(Clone, Debug)]
pub struct Imported {
    /// The file's format.
    pub format: Format,
    /// The architecture and layout detected, in words (`ESRGAN (Real-ESRGAN keys), 23 blocks`).
    pub detected: String,
    /// What the model is.
    pub descriptor: Descriptor,
    /// Weights under regen's names (`Esrgan.first.weight`).
    pub weights: Vec<(String, Weight)>,
}

impl Imported {
    /// The model as a regen checkpoint (safetensors with a card), ready for
    /// [`crate::restore::Restorer::from_bytes`] or to be saved.
    pub fn checkpoint_bytes(&self, source: &Path) -> Result<Vec<u8>> {
        let mut card = ModelCard::new(self.descriptor.clone(), 0);
        card.notes = serde_json::json!({
            "imported_from": source.display().to_string(),
            "format": self.format.to_string(),
            "detected": self.detected,
        });
        write_safetensors(&self.weights, Some(&card))
    }
}

/// Safetensors bytes of `weights` (f32), with `card` in the metadata when given.
pub fn write_safetensors(
    weights: &[(String, Weight)],
    card: Option<&ModelCard>,
) -> Result<Vec<u8>> {
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = weights
        .iter()
        .map(|(k, w)| {
            let b = w.data.iter().flat_map(|v| v.to_le_bytes()).collect();
            (k.clone(), w.shape.clone(), b)
        })
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView)> = bytes
        .iter()
        .map(|(k, shape, b)| {
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), b)
                .map(|v| (k.clone(), v))
                .map_err(|e| Error::internal(format!("tensor {k}: {e}")))
        })
        .collect::<Result<_>>()?;
    let meta = card.map(|c| {
        std::collections::HashMap::from([(
            CARD_KEY.to_string(),
            serde_json::to_string(c).expect("card serialises"),
        )])
    });
    safetensors::serialize(views, meta).map_err(|e| Error::internal(e.to_string()))
}

/// Reads the tensors of a safetensors file (f32, f16, bf16, f64), keys as stored.
pub fn read_safetensors(bytes: &[u8]) -> std::result::Result<StateDict, String> {
    let st = safetensors::SafeTensors::deserialize(bytes)
        .map_err(|e| format!("not a safetensors file ({e})"))?;
    let mut names: Vec<(usize, String)> = st
        .tensors()
        .into_iter()
        .map(|(k, v)| (v.data().as_ptr() as usize, k))
        .collect();
    // File order, which is the writer's (alphabetical for safetensors' own writer).
    names.sort();
    let mut sd = StateDict::default();
    for (_, name) in names {
        let t = st.tensor(&name).map_err(|e| e.to_string())?;
        let b = t.data();
        let data: Vec<f32> = match t.dtype() {
            safetensors::Dtype::F32 => b
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4")))
                .collect(),
            safetensors::Dtype::F64 => b
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("8")) as f32)
                .collect(),
            safetensors::Dtype::F16 => b
                .chunks_exact(2)
                .map(|c| torch::f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
                .collect(),
            safetensors::Dtype::BF16 => b
                .chunks_exact(2)
                .map(|c| f32::from_bits(u32::from(u16::from_le_bytes([c[0], c[1]])) << 16))
                .collect(),
            // Counters such as batch norm's `num_batches_tracked`: not weights.
            _ => continue,
        };
        sd.push(&name, Weight::new(t.shape().to_vec(), data));
    }
    Ok(sd)
}

/// Reads published weights at `path` (its bytes `bytes`) and detects the model.
pub fn import(path: &Path, bytes: &[u8]) -> Result<Imported> {
    let format = format_of(path, bytes)
        .ok_or_else(|| Error::checkpoint(path, "not a PyTorch, safetensors or ncnn model file"))?;
    let bad = |e: String| Error::checkpoint(path, e);
    match format {
        Format::Torch => {
            let sd = torch::read(bytes).map_err(bad)?;
            detect::detect(sd, format).map_err(bad)
        }
        Format::Safetensors => {
            let sd = read_safetensors(bytes).map_err(bad)?;
            detect::detect(sd, format).map_err(bad)
        }
        Format::Ncnn => ncnn::import(path).map_err(bad),
    }
}
