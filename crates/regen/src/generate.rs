//! Sampling new images from a trained generative model.

use std::path::Path;

use burn::tensor::activation::sigmoid;
use burn::tensor::{Tensor, TensorData};

use crate::checkpoint::{self, ModelCard};
use crate::data::{Dataset, Image, images_to_tensor, one_hot, tensor_to_images};
use crate::error::{Error, Result};
use crate::models::{Family, GanConfig, GanGenerator, Network, Vae, VaeConfig};
use crate::rng::Rng;

/// A loaded generative model (VAE or GAN) ready to sample.
pub struct Generator {
    kind: Kind,
    /// What the checkpoint says about itself.
    pub card: ModelCard,
}

enum Kind {
    Vae(Box<Vae>, VaeConfig),
    Gan(Box<GanGenerator>, GanConfig),
}

impl Generator {
    /// Loads `spec`: the name of a shipped VAE or GAN (`vae-fashion`, `gan-fashion`, ...)
    /// or a `.safetensors` path.
    pub fn load(spec: &str) -> Result<Generator> {
        let (path, bytes) = crate::shipped::resolve(spec)?;
        Generator::from_bytes(&path, bytes)
    }

    /// Builds from checkpoint bytes; `path` names the source in errors.
    pub fn from_bytes(path: &Path, bytes: Vec<u8>) -> Result<Generator> {
        let card = checkpoint::read_card(path, &bytes)?;
        let device = crate::device::device();
        let kind = match &card.descriptor.network {
            Network::Gan(config) => {
                checkpoint::check_card(path, &card, Family::Gan)?;
                let mut g = config.init_generator(&device);
                checkpoint::load_weights(path, bytes, &mut g)?;
                Kind::Gan(Box::new(g), config.clone())
            }
            Network::Vae(config) => {
                checkpoint::check_card(path, &card, Family::Vae)?;
                let mut vae = config.init(&device);
                checkpoint::load_weights(path, bytes, &mut vae)?;
                Kind::Vae(Box::new(vae), config.clone())
            }
            // A wrong family is reported as "a vae or gan model is needed".
            _ => {
                let e = checkpoint::check_card(path, &card, Family::Vae).expect_err("not a VAE");
                return Err(match e {
                    Error::Checkpoint { path, reason } => Error::Checkpoint {
                        path,
                        reason: reason
                            .replace("a vae model is needed", "a vae or gan model is needed"),
                    },
                    e => e,
                });
            }
        };
        Ok(Generator { kind, card })
    }

    /// The VAE and its config; an error for a GAN, which has no encoder.
    pub fn vae(&self) -> Result<(&Vae, &VaeConfig)> {
        match &self.kind {
            Kind::Vae(v, c) => Ok((v, c)),
            Kind::Gan(..) => Err(Error::arg(
                "this is a GAN: it has no encoder, so it cannot encode, reconstruct, interpolate images or report an ELBO; use a VAE",
            )),
        }
    }

    /// Noise or latent dimensions.
    pub fn latent(&self) -> usize {
        match &self.kind {
            Kind::Vae(_, c) => c.latent,
            Kind::Gan(_, c) => c.latent,
        }
    }

    /// One-hot labels `[n, k]` for a conditional model, `None` otherwise.
    fn labels(&self, classes: &[usize]) -> Option<Tensor<2>> {
        let k = self.classes();
        (k > 0).then(|| one_hot(classes, k, &crate::device::device()))
    }

    fn check_image(&self, img: &Image) -> Result<()> {
        let (_, c) = self.vae()?;
        if (img.channels, img.height, img.width) != (c.channels, c.size, c.size) {
            return Err(Error::arg(format!(
                "image is {}x{} with {} channels; this model takes {}x{} with {}",
                img.width, img.height, img.channels, c.size, c.size, c.channels
            )));
        }
        Ok(())
    }

    fn decode_images(&self, z: Tensor<2>, labels: Option<Tensor<2>>) -> Vec<Image> {
        match &self.kind {
            Kind::Vae(v, _) => tensor_to_images(sigmoid(v.decode(z, labels))),
            Kind::Gan(g, _) => tensor_to_images(crate::models::gan::to_unit(g.forward(z, labels))),
        }
    }

    /// The latent means of every image of `data` as CSV: a header, then one row per image,
    /// the label first when `data` has labels (a conditional model is given them).
    pub fn latent_csv(&self, data: &Dataset) -> Result<String> {
        let join = |v: Vec<String>| v.join(",");
        let mut header: Vec<String> = (0..self.vae()?.1.latent).map(|i| format!("z{i}")).collect();
        if data.labels.is_some() {
            header.insert(0, "label".into());
        }
        let mut csv = join(header) + "\n";
        let idx: Vec<usize> = (0..data.len()).collect();
        for chunk in idx.chunks(512) {
            let imgs: Vec<&Image> = chunk.iter().map(|&i| &data.images[i]).collect();
            let labels: Option<Vec<usize>> = data
                .labels
                .as_ref()
                .map(|l| chunk.iter().map(|&i| l[i]).collect());
            let cls = labels.as_deref().filter(|_| self.classes() > 0);
            for (row, &i) in self.encode(&imgs, cls)?.iter().zip(chunk) {
                let mut cells: Vec<String> = row.iter().map(|v| format!("{v}")).collect();
                if let Some(l) = &data.labels {
                    cells.insert(0, l[i].to_string());
                }
                csv += &(join(cells) + "\n");
            }
        }
        Ok(csv)
    }

    /// Latent means of `images` (one row of `latent` values each). `classes` is needed by a
    /// conditional model.
    pub fn encode(&self, images: &[&Image], classes: Option<&[usize]>) -> Result<Vec<Vec<f32>>> {
        for img in images {
            self.check_image(img)?;
        }
        let labels = self.conditional_labels(images.len(), classes)?;
        let (vae, config) = self.vae()?;
        let (mu, _) = vae.encode(images_to_tensor(images, &crate::device::device()), labels);
        let v: Vec<f32> = mu.into_data().try_to_vec().expect("f32");
        Ok(v.chunks(config.latent).map(|r| r.to_vec()).collect())
    }

    fn conditional_labels(&self, n: usize, classes: Option<&[usize]>) -> Result<Option<Tensor<2>>> {
        match (self.classes(), classes) {
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
            TensorData::new(flat, [images.len(), self.latent()]),
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
        let steps = steps.max(2);
        let path: Vec<Vec<f32>> = (0..steps)
            .map(|s| mix(&z[0], &z[1], s as f64 / (steps - 1) as f64, spherical))
            .collect();
        self.decode_latents(&path, cls.as_deref())
    }

    /// The latent codes [`Generator::sample`] draws with `seed`: `n` rows of
    /// [`Generator::latent`] standard normals.
    pub fn sample_latents(&self, n: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut rng = Rng::new(seed);
        (0..n).map(|_| rng.normals(self.latent())).collect()
    }

    /// Images decoded from latent codes (each [`Generator::latent`] long); a conditional
    /// model needs `classes`, one for all or one per code.
    pub fn decode_latents(&self, z: &[Vec<f32>], classes: Option<&[usize]>) -> Result<Vec<Image>> {
        let d = self.latent();
        if let Some(bad) = z.iter().find(|r| r.len() != d) {
            return Err(Error::arg(format!(
                "a latent code has {} values; this model's have {d}",
                bad.len()
            )));
        }
        if z.is_empty() {
            return Ok(Vec::new());
        }
        let zt = Tensor::<2>::from_data(
            TensorData::new(z.concat(), [z.len(), d]),
            &crate::device::device(),
        );
        let labels = self.conditional_labels(z.len(), classes)?;
        Ok(self.decode_images(zt, labels))
    }

    /// Whether this is a VAE (a GAN otherwise).
    pub fn is_vae(&self) -> bool {
        matches!(self.kind, Kind::Vae(..))
    }

    /// Number of classes (0: unconditional).
    pub fn classes(&self) -> usize {
        match &self.kind {
            Kind::Vae(_, c) => c.classes,
            Kind::Gan(_, c) => c.classes,
        }
    }

    /// `n` images decoded from z ~ N(0, I) drawn with `seed`; `class` is required by a
    /// conditional model and refused by an unconditional one.
    pub fn sample(&self, n: usize, class: Option<usize>, seed: u64) -> Result<Vec<Image>> {
        let k = self.classes();
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
        let z = self.sample_latents(n, seed);
        let mut out = Vec::with_capacity(n);
        for (b, chunk) in z.chunks(256).enumerate() {
            // Without --class a conditional model cycles through its classes.
            let cls: Vec<usize> = (0..chunk.len())
                .map(|i| class.unwrap_or((b * 256 + i) % k.max(1)))
                .collect();
            let labels = (k > 0).then_some(cls.as_slice());
            out.extend(self.decode_latents(chunk, labels)?);
        }
        Ok(out)
    }
}

/// The point a fraction `t` of the way from latent code `a` to `b`: on the straight line, or
/// (`spherical`) along the great circle (slerp), which keeps the norm typical of N(0, I)
/// samples.
pub fn mix(a: &[f32], b: &[f32], t: f64, spherical: bool) -> Vec<f32> {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let omega = (dot / (na * nb).max(1e-12)).clamp(-1.0, 1.0).acos();
    let (wa, wb) = if spherical && omega.sin().abs() > 1e-6 {
        (
            ((1.0 - t) * omega).sin() / omega.sin(),
            (t * omega).sin() / omega.sin(),
        )
    } else {
        (1.0 - t, t)
    };
    a.iter()
        .zip(b)
        .map(|(x, y)| (wa * *x as f64 + wb * *y as f64) as f32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Descriptor;

    /// A small conditional GAN with its initial weights.
    fn cgan() -> Generator {
        let config = GanConfig::new()
            .with_latent(8)
            .with_g_width(8)
            .with_classes(4);
        let g = config.init_generator(&crate::device::device());
        let card = ModelCard::new(Descriptor::gan(config.clone()), 0);
        Generator {
            kind: Kind::Gan(Box::new(g), config),
            card,
        }
    }

    #[test]
    fn sampling_is_decoding_the_sampled_latents() {
        let g = cgan();
        let z = g.sample_latents(5, 7);
        assert_eq!((z.len(), z[0].len()), (5, 8));
        let by_sample = g.sample(5, Some(3), 7).unwrap();
        let by_parts = g.decode_latents(&z, Some(&[3])).unwrap();
        assert_eq!(by_sample.len(), 5);
        for (a, b) in by_sample.iter().zip(&by_parts) {
            let worst = a.data.iter().zip(&b.data).map(|(x, y)| (x - y).abs());
            assert!(worst.fold(0.0f32, f32::max) < 1e-5);
        }
        assert!(
            g.decode_latents(&z, None).is_err(),
            "a conditional model needs a class"
        );
        assert!(g.decode_latents(&[vec![0.0; 3]], Some(&[0])).is_err());
    }

    #[test]
    fn mixing_latents_runs_from_one_end_to_the_other() {
        let (a, b) = (vec![1.0, 0.0], vec![0.0, 1.0]);
        assert_eq!(mix(&a, &b, 0.0, false), a);
        assert_eq!(mix(&a, &b, 1.0, false), b);
        assert_eq!(mix(&a, &b, 0.5, false), vec![0.5, 0.5]);
        // Along the great circle the midpoint keeps unit norm: both coordinates sin(45 deg).
        let m = mix(&a, &b, 0.5, true);
        assert!(
            (m[0] - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6,
            "{m:?}"
        );
        assert!(
            (m[1] - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6,
            "{m:?}"
        );
    }
}
