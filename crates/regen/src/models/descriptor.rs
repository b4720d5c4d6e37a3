//! What a model is, said once: its [`Family`], its architecture and config ([`Network`]),
//! for a restorer its task and input planes in order ([`Plane`]), its output channels and
//! scale, the range of its output values and how far it sees (the receptive field, which
//! sets the tile margin). Checkpoints store it in their card; the command line, the web
//! app, evaluation and the shipped-model table ask it and never re-derive it.

use serde::{Deserialize, Serialize};

use super::{ClassifierConfig, GanConfig, RestoreArch, VaeConfig};
use crate::corrupt::Task;
use crate::planes::{self, Plane};

/// What kind of model, as `regen train` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// Restores damaged images (`regen restore`).
    Restore,
    /// Variational autoencoder (`regen generate`, `reconstruct`, `interpolate`, `encode`).
    Vae,
    /// Generative adversarial network's generator (`regen generate`).
    Gan,
    /// The feature classifier `regen eval generate` trains and caches.
    Classifier,
}

crate::choice::named!(Family, "family", "restore, vae, gan or classifier");

impl Family {
    /// Whether `regen generate` samples from models of this family.
    pub fn generates(self) -> bool {
        matches!(self, Family::Vae | Family::Gan)
    }
}

/// The network and its config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    /// A restoration network.
    Restore(RestoreArch),
    /// A VAE (encoder and decoder).
    Vae(VaeConfig),
    /// A GAN (the generator's weights; the config describes both networks).
    Gan(GanConfig),
    /// A classifier.
    Classifier(ClassifierConfig),
}

impl Network {
    /// The family of models this network makes.
    pub fn family(&self) -> Family {
        match self {
            Network::Restore(_) => Family::Restore,
            Network::Vae(_) => Family::Vae,
            Network::Gan(_) => Family::Gan,
            Network::Classifier(_) => Family::Classifier,
        }
    }
}

/// The range of a model's output values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueRange {
    /// [0, 1], as images are held.
    ZeroOne,
    /// [-1, 1] (a tanh output), converted to [0, 1] before saving.
    MinusOneOne,
    /// Scores, not pixels (a classifier's logits).
    Unbounded,
}

/// What a model is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Descriptor {
    /// The family (also implied by `network`; both are checked on reading).
    pub family: Family,
    /// A restorer's task; `None` for other families.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<Task>,
    /// The architecture and its config.
    pub network: Network,
    /// A restorer's input planes in order; empty for other families.
    #[serde(default)]
    pub inputs: Vec<Plane>,
    /// Channels of the images it produces.
    pub out_channels: usize,
    /// Output side over input side (1 but for upscalers).
    pub scale: usize,
    /// The range of its output values.
    pub range: ValueRange,
    /// The side, in input pixels, of the square an output pixel depends on (2 r + 1 for a
    /// receptive radius r); for a generator, its image side (every pixel sees the code).
    pub receptive_field: usize,
}

/// Context each side of a tile is capped at: beyond 40 px the U-Nets' far context carries
/// little weight (their radius is 66 px at depth 3), and 40 px covers DnCNN-20 whole.
pub const MAX_MARGIN: usize = 40;

impl Descriptor {
    /// A restorer of `task` with `inputs` for planes; the error says what does not fit.
    pub fn restore(
        task: Task,
        arch: RestoreArch,
        inputs: Vec<Plane>,
    ) -> Result<Descriptor, String> {
        let d = Descriptor {
            family: Family::Restore,
            task: Some(task),
            out_channels: arch.out_channels(),
            scale: arch.scale(),
            range: ValueRange::ZeroOne,
            receptive_field: 2 * arch.receptive_radius() + 1,
            inputs,
            network: Network::Restore(arch),
        };
        d.check()?;
        Ok(d)
    }

    /// A VAE.
    pub fn vae(config: VaeConfig) -> Descriptor {
        Descriptor::generative(
            config.channels,
            config.size,
            ValueRange::ZeroOne,
            Network::Vae(config),
        )
    }

    /// A GAN generator (tanh output).
    pub fn gan(config: GanConfig) -> Descriptor {
        Descriptor::generative(
            config.channels,
            config.size,
            ValueRange::MinusOneOne,
            Network::Gan(config),
        )
    }

    /// A classifier of images.
    pub fn classifier(config: ClassifierConfig) -> Descriptor {
        let mut d = Descriptor::generative(
            config.classes,
            config.size,
            ValueRange::Unbounded,
            Network::Classifier(config),
        );
        d.family = Family::Classifier;
        d
    }

    fn generative(out: usize, size: usize, range: ValueRange, network: Network) -> Descriptor {
        Descriptor {
            family: network.family(),
            task: None,
            network,
            inputs: Vec::new(),
            out_channels: out,
            scale: 1,
            range,
            receptive_field: size,
        }
    }

    /// Checks that the parts agree: the family with the network, a task for a restorer
    /// only, the planes with the network's input and output channels, the scale.
    pub fn check(&self) -> Result<(), String> {
        if self.network.family() != self.family {
            return Err(format!(
                "says family {} but holds a {} network",
                self.family,
                self.network.family()
            ));
        }
        match (&self.network, self.task) {
            (Network::Restore(arch), Some(_)) => {
                if self.inputs.len() != arch.in_planes() {
                    return Err(format!(
                        "lists {} input planes for a network of {}",
                        self.inputs.len(),
                        arch.in_planes()
                    ));
                }
                let c = planes::image_channels(&self.inputs);
                if c != self.out_channels || c != arch.out_channels() || ![1, 3].contains(&c) {
                    return Err(format!(
                        "{c} image planes, {} output channels; a restorer restores 1 or 3",
                        arch.out_channels()
                    ));
                }
                for p in &self.inputs {
                    let channel = match p {
                        Plane::Image(j) | Plane::Filled(j) | Plane::Deconvolved(j) => *j,
                        Plane::Mask | Plane::NoiseLevel => 0,
                    };
                    if channel >= c {
                        return Err(format!("input plane {p:?} of a {c}-channel image"));
                    }
                }
                if self.inputs.iter().any(|p| matches!(p, Plane::Filled(_))) != self.takes_mask() {
                    return Err(
                        "pre-filled planes come with a mask plane, and only with one".into(),
                    );
                }
                arch.validate().map_err(|e| e.to_string())?;
                if self.scale != arch.scale() || self.scale == 0 {
                    return Err(format!(
                        "scale {} for a network of scale {}",
                        self.scale,
                        arch.scale()
                    ));
                }
                if self.receptive_field != 2 * arch.receptive_radius() + 1 {
                    return Err(format!(
                        "receptive field {} for a network of {}",
                        self.receptive_field,
                        2 * arch.receptive_radius() + 1
                    ));
                }
                Ok(())
            }
            (Network::Restore(_), None) => Err("a restorer without a task".into()),
            (_, Some(t)) => Err(format!("a {} model with task {t}", self.family)),
            (Network::Vae(c), None) => c.validate().map_err(|e| e.to_string()),
            (Network::Gan(c), None) => c.validate().map_err(|e| e.to_string()),
            (Network::Classifier(_), None) => Ok(()),
        }
    }

    /// The restoration architecture, for a restorer.
    pub fn restore_arch(&self) -> Option<&RestoreArch> {
        match &self.network {
            Network::Restore(a) => Some(a),
            _ => None,
        }
    }

    /// Image channels it works on (1 gray, 3 colour).
    pub fn image_channels(&self) -> usize {
        match &self.network {
            Network::Restore(_) => self.out_channels,
            Network::Vae(c) => c.channels,
            Network::Gan(c) => c.channels,
            Network::Classifier(c) => c.channels,
        }
    }

    /// Whether it takes a noise level (a sigma) as an input plane.
    pub fn takes_sigma(&self) -> bool {
        self.inputs.contains(&Plane::NoiseLevel)
    }

    /// Whether it takes an inpainting mask as an input plane.
    pub fn takes_mask(&self) -> bool {
        self.inputs.contains(&Plane::Mask)
    }

    /// Whether it must be told the blur kernel (a non-blind deblurrer).
    pub fn takes_kernel(&self) -> bool {
        self.inputs
            .iter()
            .any(|p| matches!(p, Plane::Deconvolved(_)))
    }

    /// Classes of a conditional generative model (0: unconditional).
    pub fn classes(&self) -> usize {
        match &self.network {
            Network::Vae(c) => c.classes,
            Network::Gan(c) => c.classes,
            Network::Classifier(c) => c.classes,
            Network::Restore(_) => 0,
        }
    }

    /// Side of a generative model's square images (0 for a restorer, which takes any size).
    pub fn size(&self) -> usize {
        match &self.network {
            Network::Vae(c) => c.size,
            Network::Gan(c) => c.size,
            Network::Classifier(c) => c.size,
            Network::Restore(_) => 0,
        }
    }

    /// Whether it has an encoder (reconstruct, interpolate, encode, ELBO): a VAE.
    pub fn has_encoder(&self) -> bool {
        matches!(self.network, Network::Vae(_))
    }

    /// The context each side of a tile needs: the receptive radius, capped at
    /// [`MAX_MARGIN`].
    pub fn margin(&self) -> usize {
        (self.receptive_field / 2).min(MAX_MARGIN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{DnCnnConfig, EncDecConfig};

    fn denoiser() -> Descriptor {
        let arch = RestoreArch::EncDec(EncDecConfig::new(2, 1));
        Descriptor::restore(
            Task::Denoise,
            arch,
            planes::for_task(Task::Denoise, 1, false, true),
        )
        .unwrap()
    }

    /// A descriptor goes through JSON unchanged, and says what a model takes.
    #[test]
    fn a_descriptor_round_trips_and_answers() {
        let d = denoiser();
        let back: Descriptor = serde_json::from_value(serde_json::to_value(&d).unwrap()).unwrap();
        assert_eq!(back, d);
        assert!(d.takes_sigma() && !d.takes_mask() && !d.takes_kernel());
        assert_eq!(
            (d.image_channels(), d.scale, d.receptive_field),
            (1, 1, 119)
        );
        assert_eq!(d.margin(), MAX_MARGIN);
        let small = RestoreArch::DnCnn(DnCnnConfig::new(1, 1).with_layers(5));
        let d = Descriptor::restore(Task::Denoise, small, vec![Plane::Image(0)]).unwrap();
        assert_eq!(d.margin(), 5);
    }

    /// Parts that disagree are refused, each with a line saying what.
    #[test]
    fn parts_that_disagree_are_refused() {
        let bad = |f: &dyn Fn(&mut Descriptor), needle: &str| {
            let mut d = denoiser();
            f(&mut d);
            let e = d.check().unwrap_err();
            assert!(e.contains(needle), "{e}");
        };
        bad(&|d| d.inputs.pop().map(drop).unwrap_or(()), "input planes");
        bad(&|d| d.inputs[0] = Plane::Image(1), "input plane Image(1)");
        bad(&|d| d.inputs[1] = Plane::Filled(0), "image planes");
        bad(&|d| d.family = Family::Gan, "says family gan");
        bad(&|d| d.task = None, "without a task");
        bad(&|d| d.scale = 2, "scale 2");
        bad(&|d| d.receptive_field = 3, "receptive field 3");
        bad(&|d| d.out_channels = 3, "output channels");
        let mut v = Descriptor::vae(VaeConfig::new());
        v.task = Some(Task::Inpaint);
        assert!(
            v.check()
                .unwrap_err()
                .contains("vae model with task inpaint")
        );
    }
}
