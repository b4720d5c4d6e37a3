//! Sampling new images from a trained generative model.

use std::path::Path;

use burn::tensor::activation::sigmoid;
use burn::tensor::{Tensor, TensorData};

use crate::checkpoint::{self, ModelCard};
use crate::data::Image;
use crate::error::{Error, Result};
use crate::models::{Vae, VaeConfig};
use crate::rng::Rng;

/// A loaded VAE ready to sample.
pub struct Generator {
    vae: Vae,
    config: VaeConfig,
    /// What the checkpoint says about itself.
    pub card: ModelCard,
}

impl Generator {
    /// Loads a VAE checkpoint.
    pub fn load(path: &Path) -> Result<Generator> {
        let bytes = checkpoint::read_file(path)?;
        let card = checkpoint::read_card(path, &bytes)?;
        checkpoint::check_card(path, &card, "vae")?;
        let config: VaeConfig = serde_json::from_value(card.config.clone())
            .map_err(|e| Error::checkpoint(path, format!("bad model config: {e}")))?;
        config.validate()?;
        let mut vae = config.init(&crate::device::device());
        checkpoint::load_weights(path, bytes, &mut vae)?;
        Ok(Generator { vae, config, card })
    }

    /// The network.
    pub fn vae(&self) -> &Vae {
        &self.vae
    }

    /// Its config.
    pub fn config(&self) -> &VaeConfig {
        &self.config
    }

    /// Number of classes (0: unconditional).
    pub fn classes(&self) -> usize {
        self.config.classes
    }

    /// `n` images decoded from z ~ N(0, I) drawn with `seed`; `class` is required by a
    /// conditional model and refused by an unconditional one.
    pub fn sample(&self, n: usize, class: Option<usize>, seed: u64) -> Result<Vec<Image>> {
        let k = self.config.classes;
        match (k, class) {
            (0, Some(c)) => {
                return Err(Error::arg(format!(
                    "--class {c}: this model is unconditional and has no classes"
                )));
            }
            (k, Some(c)) if c >= k => {
                return Err(Error::arg(format!(
                    "--class {c}: this model has {k} classes (0 to {})",
                    k - 1
                )));
            }
            _ => {}
        }
        let device = crate::device::device();
        let mut out = Vec::with_capacity(n);
        let mut rng = Rng::new(seed);
        let mut start = 0;
        while start < n {
            let b = (n - start).min(256);
            let z: Vec<f32> = (0..b * self.config.latent)
                .map(|_| rng.normal() as f32)
                .collect();
            let z = Tensor::<2>::from_data(TensorData::new(z, [b, self.config.latent]), &device);
            // Without --class a conditional model cycles through its classes.
            let labels = (k > 0).then(|| {
                let oh: Vec<f32> = (0..b)
                    .flat_map(|i| {
                        let c = class.unwrap_or((start + i) % k);
                        (0..k).map(move |j| if j == c { 1.0 } else { 0.0 })
                    })
                    .collect();
                Tensor::<2>::from_data(TensorData::new(oh, [b, k]), &device)
            });
            let x = sigmoid(self.vae.decode(z, labels));
            let [_, c, h, w] = x.dims();
            let v: Vec<f32> = x.into_data().try_to_vec().expect("f32");
            for i in 0..b {
                out.push(Image {
                    channels: c,
                    height: h,
                    width: w,
                    data: v[i * c * h * w..(i + 1) * c * h * w].to_vec(),
                    sixteen_bit: false,
                });
            }
            start += b;
        }
        Ok(out)
    }
}
