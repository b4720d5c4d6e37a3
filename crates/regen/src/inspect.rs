//! What a model file is, for `regen models inspect`: its descriptor and the facts of its
//! training, in lines a person reads (and as JSON for a program).

use serde::Serialize;

use crate::checkpoint::{CARD_KEY, ModelCard, read_card};
use crate::error::{Error, Result};
use crate::models::{Network, ValueRange};
use crate::planes::Plane;

/// One model file (or shipped model) described.
#[derive(Clone, Debug, Serialize)]
pub struct Inspection {
    /// What was asked for: the shipped name or the path.
    pub model: String,
    /// Whether it is compiled into regen.
    pub shipped: bool,
    /// Its card, descriptor first.
    pub card: ModelCard,
    /// Whether the card was written before descriptors (and mapped to one on reading).
    pub legacy_card: bool,
    /// Tensors stored.
    pub tensors: usize,
    /// Values in those tensors (for a GAN, its generator's).
    pub parameters: usize,
}

/// Describes `spec`: a shipped model's name or a checkpoint path.
pub fn inspect(spec: &str) -> Result<Inspection> {
    let shipped = crate::shipped::find(spec).is_some();
    if !shipped && !std::path::Path::new(spec).exists() {
        return Err(Error::arg(format!(
            "{spec}: no such file, and not a shipped model (shipped: {})",
            crate::shipped::names().join(", ")
        )));
    }
    let (path, bytes) = crate::shipped::resolve(spec)?;
    let card = read_card(&path, &bytes)?;
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes)
        .map_err(|_| Error::checkpoint(&path, "not a safetensors file"))?;
    let legacy_card = meta
        .metadata()
        .as_ref()
        .and_then(|m| m.get(CARD_KEY))
        .and_then(|j| serde_json::from_str::<serde_json::Value>(j).ok())
        .is_some_and(|v| v.get("descriptor").is_none());
    let shapes: Vec<usize> = meta
        .tensors()
        .values()
        .map(|t| t.shape.iter().product())
        .collect();
    Ok(Inspection {
        model: spec.to_string(),
        shipped,
        card,
        legacy_card,
        tensors: shapes.len(),
        parameters: shapes.iter().sum(),
    })
}

impl Inspection {
    /// The description as `(what, value)` lines.
    pub fn lines(&self) -> Vec<(&'static str, String)> {
        let d = &self.card.descriptor;
        let mut out = vec![(
            "model",
            format!(
                "{}{}",
                self.model,
                if self.shipped { " (shipped)" } else { "" }
            ),
        )];
        out.push(("family", d.family.to_string()));
        if let Some(t) = d.task {
            out.push(("task", t.to_string()));
        }
        let (name, config) = match &d.network {
            Network::Restore(a) => (
                a.name(),
                serde_json::to_value(a)
                    .ok()
                    .and_then(|v| v.get(a.name()).cloned()),
            ),
            Network::Vae(c) => ("vae".into(), serde_json::to_value(c).ok()),
            Network::Gan(c) => ("gan".into(), serde_json::to_value(c).ok()),
            Network::Classifier(c) => ("classifier".into(), serde_json::to_value(c).ok()),
        };
        let fields = config
            .and_then(|v| v.as_object().cloned())
            .map(|o| {
                o.iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        out.push(("architecture", format!("{name} ({fields})")));
        if !d.inputs.is_empty() {
            let planes: Vec<String> = d.inputs.iter().map(plane_words).collect();
            out.push(("inputs", planes.join(", ")));
        }
        let range = match d.range {
            ValueRange::ZeroOne => "values in [0, 1]",
            ValueRange::MinusOneOne => "values in [-1, 1]",
            ValueRange::Unbounded => "scores",
        };
        let what = match (
            d.family == crate::models::Family::Classifier,
            d.out_channels,
        ) {
            (true, _) => "classes",
            (false, 1) => "channel",
            (false, _) => "channels",
        };
        out.push((
            "outputs",
            format!("{} {what}, scale {}, {range}", d.out_channels, d.scale),
        ));
        if d.restore_arch().is_some() {
            out.push((
                "receptive field",
                format!(
                    "{0} x {0} px (radius {1}); tile margin {2} px",
                    d.receptive_field,
                    d.receptive_field / 2,
                    d.margin()
                ),
            ));
        } else {
            let classes = d.classes();
            let cond = if classes > 0 {
                format!(", {classes} classes")
            } else {
                String::new()
            };
            out.push(("images", format!("{0} x {0}{cond}", d.size())));
        }
        out.push((
            "parameters",
            format!("{} in {} tensors", self.parameters, self.tensors),
        ));
        let old = if self.legacy_card {
            " (card written before descriptors)"
        } else {
            ""
        };
        let note = |k: &str| self.card.notes.get(k).and_then(|v| v.as_str());
        if let (Some(format), Some(detected)) = (note("format"), note("detected")) {
            // A published model, made a regen checkpoint on reading.
            out.push(("published", format!("{format} file: {detected}")));
        } else {
            out.push((
                "trained",
                format!("{} steps, regen {}{old}", self.card.step, self.card.version),
            ));
        }
        out
    }
}

/// A plane as words: `image 0`, `filled 1`, `mask`, `deconvolved 0`, `noise level`.
fn plane_words(p: &Plane) -> String {
    match p {
        Plane::Image(c) => format!("image {c}"),
        Plane::Filled(c) => format!("filled {c}"),
        Plane::Mask => "mask".into(),
        Plane::Deconvolved(c) => format!("deconvolved {c}"),
        Plane::NoiseLevel => "noise level".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shipped gray denoiser described: a U-Net of two planes (the image, then its
    /// noise level), radius 59 px, its card from before descriptors, 42 tensors.
    #[test]
    fn the_shipped_denoiser_is_described() {
        let i = inspect("denoise").unwrap();
        assert!(i.shipped && i.legacy_card);
        assert_eq!(i.tensors, 42);
        let lines = i.lines();
        let get = |k: &str| {
            lines
                .iter()
                .find(|(w, _)| *w == k)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        assert_eq!(get("family"), "restore");
        assert_eq!(get("task"), "denoise");
        assert_eq!(get("inputs"), "image 0, noise level");
        assert!(
            get("architecture").starts_with("encdec ("),
            "{}",
            get("architecture")
        );
        assert_eq!(
            get("receptive field"),
            "119 x 119 px (radius 59); tile margin 40 px"
        );
        assert_eq!(get("outputs"), "1 channel, scale 1, values in [0, 1]");
        let gan = inspect("cgan-mnist").unwrap().lines();
        assert!(
            gan.iter()
                .any(|(w, v)| *w == "images" && v == "28 x 28, 10 classes")
        );
    }
}
