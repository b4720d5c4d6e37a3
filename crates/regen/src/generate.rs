//! Sampling new images from a trained generative model.

use std::path::Path;

use burn::tensor::activation::sigmoid;
use burn::tensor::{Tensor, TensorData};

use crate::checkpoint::{self, ModelCard};
use crate::data::{Image, images_to_tensor, tensor_to_images};
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
    /// Loads `spec`: the name of a shipped VAE (`vae-fashion`, `cvae-mnist`) or a
    /// `.safetensors` path.
    pub fn load(spec: &str) -> Result<Generator> {
        let (path, bytes) = crate::shipped::resolve(spec)?;
        Generator::from_bytes(&path, bytes)
    }

    /// Builds from checkpoint bytes; `path` names the source in errors.
    pub fn from_bytes(path: &Path, bytes: Vec<u8>) -> Result<Generator> {
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

    /// One-hot labels `[n, k]` for a conditional model, `None` otherwise.
    fn labels(&self, classes: &[usize]) -> Option<Tensor<2>> {
        let k = self.config.classes;
        (k > 0).then(|| {
            let oh: Vec<f32> = classes
                .iter()
                .flat_map(|&c| (0..k).map(move |j| if j == c { 1.0 } else { 0.0 }))
                .collect();
            Tensor::from_data(
                TensorData::new(oh, [classes.len(), k]),
                &crate::device::device(),
            )
        })
    }

    fn check_image(&self, img: &Image) -> Result<()> {
        let c = &self.config;
        if (img.channels, img.height, img.width) != (c.channels, c.size, c.size) {
            return Err(Error::arg(format!(
                "image is {}x{} with {} channels; this model takes {}x{} with {}",
                img.width, img.height, img.channels, c.size, c.size, c.channels
            )));
        }
        Ok(())
    }

    fn decode_images(&self, z: Tensor<2>, labels: Option<Tensor<2>>) -> Vec<Image> {
        tensor_to_images(sigmoid(self.vae.decode(z, labels)))
    }

    /// Latent means of `images` (one row of `latent` values each). `classes` is needed by a
    /// conditional model.
    pub fn encode(&self, images: &[&Image], classes: Option<&[usize]>) -> Result<Vec<Vec<f32>>> {
        for img in images {
            self.check_image(img)?;
        }
        let labels = self.conditional_labels(images.len(), classes)?;
        let (mu, _) = self
            .vae
            .encode(images_to_tensor(images, &crate::device::device()), labels);
        let v: Vec<f32> = mu.into_data().try_to_vec().expect("f32");
        Ok(v.chunks(self.config.latent).map(|r| r.to_vec()).collect())
    }

    fn conditional_labels(&self, n: usize, classes: Option<&[usize]>) -> Result<Option<Tensor<2>>> {
        match (self.config.classes, classes) {
            (0, _) => Ok(None),
            (_, None) => Err(Error::arg(
                "this model is conditional: give the images' --class",
            )),
            (k, Some(c)) => {
                if let Some(bad) = c.iter().find(|&&c| c >= k) {
                    return Err(Error::arg(format!(
                        "--class {bad}: this model has {k} classes"
                    )));
                }
                let c: Vec<usize> = if c.len() == 1 {
                    vec![c[0]; n]
                } else {
                    c.to_vec()
                };
                Ok(self.labels(&c))
            }
        }
    }

    /// Each image decoded from its latent mean.
    pub fn reconstruct(&self, images: &[&Image], classes: Option<&[usize]>) -> Result<Vec<Image>> {
        let z = self.encode(images, classes)?;
        let flat: Vec<f32> = z.concat();
        let zt = Tensor::<2>::from_data(
            TensorData::new(flat, [images.len(), self.config.latent]),
            &crate::device::device(),
        );
        let labels = self.conditional_labels(images.len(), classes)?;
        Ok(self.decode_images(zt, labels))
    }

    /// `steps` images decoded along the path between the latent means of `a` and `b`:
    /// straight (`spherical` false) or along the great circle (slerp), which keeps the
    /// norm typical of N(0, I) samples.
    pub fn interpolate(
        &self,
        a: &Image,
        b: &Image,
        steps: usize,
        spherical: bool,
        class: Option<usize>,
    ) -> Result<Vec<Image>> {
        let cls = class.map(|c| vec![c]);
        let z = self.encode(&[a, b], cls.as_deref())?;
        let (za, zb) = (&z[0], &z[1]);
        let steps = steps.max(2);
        let dot: f64 = za.iter().zip(zb).map(|(x, y)| *x as f64 * *y as f64).sum();
        let na = za.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
        let nb = zb.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
        let omega = (dot / (na * nb).max(1e-12)).clamp(-1.0, 1.0).acos();
        let mut flat = Vec::with_capacity(steps * za.len());
        for s in 0..steps {
            let t = s as f64 / (steps - 1) as f64;
            let (wa, wb) = if spherical && omega.sin().abs() > 1e-6 {
                (
                    ((1.0 - t) * omega).sin() / omega.sin(),
                    (t * omega).sin() / omega.sin(),
                )
            } else {
                (1.0 - t, t)
            };
            flat.extend(
                za.iter()
                    .zip(zb)
                    .map(|(x, y)| (wa * *x as f64 + wb * *y as f64) as f32),
            );
        }
        let zt = Tensor::<2>::from_data(
            TensorData::new(flat, [steps, self.config.latent]),
            &crate::device::device(),
        );
        let labels = self.conditional_labels(steps, cls.as_deref())?;
        Ok(self.decode_images(zt, labels))
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
            let cls: Vec<usize> = (0..b)
                .map(|i| class.unwrap_or((start + i) % k.max(1)))
                .collect();
            out.extend(self.decode_images(z, self.labels(&cls)));
            start += b;
        }
        Ok(out)
    }
}
