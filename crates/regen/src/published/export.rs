//! `regen export`: a regen model of an architecture regen shares with the published world,
//! written under the key layout spandrel (and so chaiNNer) loads: DnCNN as KAIR's DnCNN
//! (`model.0.weight`, `model.2.weight`, ...: convolutions at even indices, ReLUs between),
//! FDnCNN likewise, and Compact as Real-ESRGAN's SRVGGNetCompact (`body.0.weight`, PReLU
//! slopes at odd indices).

use std::path::Path;

use super::{Weight, read_safetensors, write_safetensors};
use crate::checkpoint::ModelCard;
use crate::error::{Error, Result};
use crate::models::RestoreArch;

/// The tensors of regen checkpoint `bytes` (its card `card`) under spandrel's names.
pub fn to_spandrel(path: &Path, card: &ModelCard, bytes: &[u8]) -> Result<Vec<(String, Weight)>> {
    let refuse = |why: String| Error::checkpoint(path, why);
    let sd = read_safetensors(bytes).map_err(refuse)?;
    let d = &card.descriptor;
    let arch = d
        .restore_arch()
        .ok_or_else(|| refuse(format!("a {} model; only restorers export", d.family)))?;
    let take = |from: &str, to: String, out: &mut Vec<(String, Weight)>| -> Result<()> {
        let w = sd
            .get(from)
            .ok_or_else(|| refuse(format!("tensor {from} is missing")))?;
        out.push((to, w.clone()));
        Ok(())
    };
    let mut out = Vec::new();
    let chain = |prefix: &str, layers: usize, out: &mut Vec<(String, Weight)>| -> Result<()> {
        for i in 0..layers {
            let from = if i + 1 == layers {
                format!("{prefix}.tail")
            } else {
                format!("{prefix}.body.convs.{i}")
            };
            take(
                &format!("{from}.weight"),
                format!("model.{}.weight", 2 * i),
                out,
            )?;
            take(
                &format!("{from}.bias"),
                format!("model.{}.bias", 2 * i),
                out,
            )?;
        }
        Ok(())
    };
    match arch {
        RestoreArch::DnCnn(c) => {
            if c.in_channels != c.out_channels {
                return Err(refuse(format!(
                    "a DnCNN of {} input planes (image and {}) predicting the noise has no spandrel layout; KAIR's DnCNN takes the image alone",
                    c.in_channels,
                    if d.takes_sigma() {
                        "noise level"
                    } else {
                        "more"
                    }
                )));
            }
            chain("DnCnn", c.layers, &mut out)?;
        }
        RestoreArch::FdnCnn(c) => chain("FdnCnn", c.layers, &mut out)?,
        RestoreArch::Compact(c) => {
            for i in 0..=c.convs {
                take(
                    &format!("Compact.convs.{i}.weight"),
                    format!("body.{}.weight", 2 * i),
                    &mut out,
                )?;
                take(
                    &format!("Compact.convs.{i}.bias"),
                    format!("body.{}.bias", 2 * i),
                    &mut out,
                )?;
                take(
                    &format!("Compact.acts.{i}.weight"),
                    format!("body.{}.weight", 2 * i + 1),
                    &mut out,
                )?;
            }
            let n = 2 * (c.convs + 1);
            take("Compact.last.weight", format!("body.{n}.weight"), &mut out)?;
            take("Compact.last.bias", format!("body.{n}.bias"), &mut out)?;
        }
        other => {
            return Err(refuse(format!(
                "a {} model; regen exports DnCNN, FDnCNN and Compact, the architectures spandrel shares with regen's training",
                other.name()
            )));
        }
    }
    Ok(out)
}

/// Writes `to_spandrel`'s tensors as a safetensors file (no regen card: spandrel reads the
/// keys), atomically.
pub fn export(path: &Path, card: &ModelCard, bytes: &[u8], out: &Path) -> Result<usize> {
    let tensors = to_spandrel(path, card, bytes)?;
    let n = tensors.len();
    let data = write_safetensors(&tensors, None)?;
    crate::fsutil::write_atomic(out, &data)?;
    Ok(n)
}
