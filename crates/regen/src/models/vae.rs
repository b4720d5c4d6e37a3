//! Convolutional variational autoencoder (Kingma and Welling 2014), optionally
//! class-conditional.
//!
//! Encoder: `depth` strided 3x3 convolutions (each halves the side, doubling the channels
//! from `width`), then two linear heads for the mean and log-variance of q(z|x). Decoder:
//! a linear layer back to the coarsest feature map and `depth` 4x4 transposed convolutions
//! (each doubles the side) to per-pixel logits. With `classes > 0` the one-hot label is
//! given to the encoder as extra input planes and to the decoder beside z.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::{Device, Distribution, Tensor};
use serde::{Deserialize, Serialize};

use crate::engine::Act;
use crate::engine::nn::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};

/// How pixels are modelled given z.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Likelihood {
    /// Each pixel in [0, 1] is the mean of a Bernoulli variable: binary cross-entropy.
    Bernoulli,
    /// Each pixel is Gaussian around the decoder's mean with fixed standard deviation
    /// `gaussian_sigma`: scaled squared error.
    Gaussian,
}

crate::choice::named!(Likelihood, "likelihood", "bernoulli or gaussian");

/// Shape of a VAE.
#[derive(Config, Debug, PartialEq)]
pub struct VaeConfig {
    /// Image channels.
    #[config(default = 1)]
    pub channels: usize,
    /// Image side in pixels (square images); a multiple of 2^depth.
    #[config(default = 28)]
    pub size: usize,
    /// Latent dimensions.
    #[config(default = 16)]
    pub latent: usize,
    /// Channels of the first convolution; doubled at each further level.
    #[config(default = 32)]
    pub width: usize,
    /// Strided convolutions in the encoder (and transposed ones in the decoder).
    #[config(default = 2)]
    pub depth: usize,
    /// Number of classes for a conditional VAE; 0 for an unconditional one.
    #[config(default = 0)]
    pub classes: usize,
    /// Pixel likelihood.
    #[config(default = "Likelihood::Bernoulli")]
    pub likelihood: Likelihood,
    /// Standard deviation of the Gaussian likelihood (on the [0, 1] pixel scale).
    #[config(default = 0.1)]
    pub gaussian_sigma: f64,
}

/// The network.
#[derive(Module, Debug)]
pub struct Vae {
    enc: Vec<Conv2d>,
    mu: Linear,
    logvar: Linear,
    dec_in: Linear,
    dec: Vec<ConvTranspose2d>,
    channels: usize,
    size: usize,
    width: usize,
    depth: usize,
    classes: usize,
}

/// What a forward pass returns.
pub struct VaeOutput {
    /// Decoder logits `[b, channels, size, size]`; `sigmoid` gives the pixel means.
    pub logits: Tensor<4>,
    /// Mean of q(z|x), `[b, latent]`.
    pub mu: Tensor<2>,
    /// Log-variance of q(z|x), `[b, latent]`.
    pub logvar: Tensor<2>,
}

impl VaeConfig {
    /// Builds the network with fresh weights.
    pub fn init(&self, device: &Device) -> Vae {
        let ch = |i: usize| self.width << i;
        let enc = (0..self.depth)
            .map(|i| {
                let cin = if i == 0 {
                    self.channels + self.classes
                } else {
                    ch(i - 1)
                };
                Conv2dConfig::new([cin, ch(i)], [3, 3])
                    .with_stride([2, 2])
                    .with_padding([1, 1])
                    .init(device)
            })
            .collect();
        let coarse = self.size >> self.depth;
        let feat = ch(self.depth - 1) * coarse * coarse;
        let dec = (0..self.depth)
            .rev()
            .map(|i| {
                let cout = if i == 0 { self.channels } else { ch(i - 1) };
                ConvTranspose2dConfig::new([ch(i), cout], [4, 4])
                    .with_stride([2, 2])
                    .with_padding([1, 1])
                    .init(device)
            })
            .collect();
        Vae {
            enc,
            mu: LinearConfig::new(feat + self.classes, self.latent).init(device),
            logvar: LinearConfig::new(feat + self.classes, self.latent).init(device),
            dec_in: LinearConfig::new(self.latent + self.classes, feat).init(device),
            dec,
            channels: self.channels,
            size: self.size,
            width: self.width,
            depth: self.depth,
            classes: self.classes,
        }
    }

    /// Checks sizes before building.
    pub fn validate(&self) -> crate::Result<()> {
        let bad = |m: String| Err(crate::Error::arg(format!("vae config: {m}")));
        if self.depth == 0 || self.latent == 0 || self.width == 0 || self.channels == 0 {
            return bad("depth, latent, width and channels must be positive".into());
        }
        if self.size == 0 || !self.size.is_multiple_of(1 << self.depth) {
            return bad(format!(
                "size {} must be a multiple of 2^depth = {}",
                self.size,
                1 << self.depth
            ));
        }
        Ok(())
    }
}

impl Vae {
    /// Parameters of q(z|x): images `[b, c, s, s]` in [0, 1] (and one-hot labels `[b, k]`
    /// for a conditional model) -> (mu, logvar), each `[b, latent]`.
    pub fn encode(&self, x: Tensor<4>, labels: Option<Tensor<2>>) -> (Tensor<2>, Tensor<2>) {
        let [b, _, s, _] = x.dims();
        let mut h = match &labels {
            // The label as constant input planes: [b, c + k, s, s].
            Some(y) => {
                let k = y.dims()[1];
                let planes = y.clone().reshape([b, k, 1, 1]).expand([b, k, s, s]);
                Tensor::cat(vec![x, planes], 1)
            }
            None => x,
        };
        for conv in &self.enc {
            h = conv.forward_act(h, Act::Relu); // [b, width * 2^i, s / 2^(i+1), ..]
        }
        let mut h: Tensor<2> = h.flatten(1, 3); // [b, feat]
        if let Some(y) = labels {
            h = Tensor::cat(vec![h, y], 1); // [b, feat + k]
        }
        (self.mu.forward(h.clone()), self.logvar.forward(h))
    }

    /// Decoder logits `[b, c, s, s]` from latents `[b, latent]` (and one-hot labels).
    pub fn decode(&self, z: Tensor<2>, labels: Option<Tensor<2>>) -> Tensor<4> {
        let b = z.dims()[0];
        let z = match labels {
            Some(y) => Tensor::cat(vec![z, y], 1), // [b, latent + k]
            None => z,
        };
        let coarse = self.size >> self.depth;
        let top = self.width << (self.depth - 1);
        let mut h = relu(self.dec_in.forward(z)).reshape([b, top, coarse, coarse]);
        let last = self.dec.len() - 1;
        for (i, deconv) in self.dec.iter().enumerate() {
            // Side doubles; ReLU between layers, logits out of the last.
            let act = if i < last { Act::Relu } else { Act::None };
            h = deconv.forward_act(h, act);
        }
        h
    }

    /// Encode, draw z = mu + exp(logvar / 2) * eps with eps ~ N(0, I) from the device's
    /// generator, decode.
    pub fn forward(&self, x: Tensor<4>, labels: Option<Tensor<2>>) -> VaeOutput {
        self.forward_with(x, labels, |mu| {
            mu.random_like(Distribution::Normal(0.0, 1.0))
        })
    }

    /// As [`Vae::forward`], with `eps` (`[b, latent]`, made from the means' shape) drawn
    /// by the caller: training draws it from the run's own generator, which its checkpoints
    /// keep, so a resumed run continues the same noise.
    pub fn forward_with(
        &self,
        x: Tensor<4>,
        labels: Option<Tensor<2>>,
        eps: impl FnOnce(&Tensor<2>) -> Tensor<2>,
    ) -> VaeOutput {
        let (mu, logvar) = self.encode(x, labels.clone());
        let eps = eps(&mu);
        let z = mu.clone() + (logvar.clone() * 0.5).exp() * eps;
        VaeOutput {
            logits: self.decode(z, labels),
            mu,
            logvar,
        }
    }

    /// Number of classes of a conditional model (0 if unconditional).
    pub fn classes(&self) -> usize {
        self.classes
    }
}

/// Negative ELBO terms in nats, each averaged over the batch: (reconstruction, KL).
/// Reconstruction is -log p(x|z) summed over pixels; KL is KL(q(z|x) || N(0, I)).
pub fn vae_loss(
    out: &VaeOutput,
    x: Tensor<4>,
    likelihood: Likelihood,
    gaussian_sigma: f64,
) -> (Tensor<1>, Tensor<1>) {
    let b = x.dims()[0] as f64;
    let l = out.logits.clone();
    let recon = match likelihood {
        // Stable BCE with logits, max(l, 0) - l x + log(1 + exp(-|l|)), fused.
        Likelihood::Bernoulli => crate::engine::loss::bce_with_logits_sum(l, x),
        Likelihood::Gaussian => {
            let n = x.shape().num_elements() as f64;
            let s2 = gaussian_sigma * gaussian_sigma;
            (sigmoid(l) - x).square().sum() / (2.0 * s2)
                + n * 0.5 * (2.0 * std::f64::consts::PI * s2).ln()
        }
    } / b;
    let (mu, logvar) = (out.mu.clone(), out.logvar.clone());
    let kl = ((mu.square() + logvar.clone().exp() - logvar - 1.0).sum() * 0.5) / b;
    (recon, kl)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    #[test]
    fn shapes_for_28_and_64_pixel_images_and_labels() {
        let device = crate::device::device();
        for (size, depth, classes) in [(28, 2, 0), (64, 3, 10)] {
            let c = VaeConfig::new()
                .with_size(size)
                .with_depth(depth)
                .with_classes(classes)
                .with_width(4);
            c.validate().unwrap();
            let vae = c.init(&device);
            let x = Tensor::<4>::zeros([3, 1, size, size], &device);
            let y = (classes > 0).then(|| Tensor::<2>::zeros([3, classes], &device));
            let out = vae.forward(x, y);
            assert_eq!(out.logits.dims(), [3, 1, size, size]);
            assert_eq!(out.mu.dims(), [3, 16]);
        }
        assert!(VaeConfig::new().with_size(30).validate().is_err());
    }

    #[test]
    fn a_few_adam_steps_lower_the_negative_elbo() {
        use burn::optim::{AdamConfig, GradientsParams};
        let device = crate::device::train_device();
        device.seed(1);
        let c = VaeConfig::new().with_width(8).with_latent(4);
        let mut vae = c.init(&device);
        let mut optim = AdamConfig::new().init();
        // Eight fixed "images": bright squares at different places.
        let mut px = vec![0.0f32; 8 * 28 * 28];
        for (i, v) in px.iter_mut().enumerate() {
            let (n, y, x) = (i / 784, (i % 784) / 28, i % 28);
            if (y / 7 + x / 7 + n) % 4 == 0 {
                *v = 1.0;
            }
        }
        let x = Tensor::<4>::from_data(TensorData::new(px, [8, 1, 28, 28]), &device);
        let mut losses = Vec::new();
        for _ in 0..60 {
            let out = vae.forward(x.clone(), None);
            let (r, k) = vae_loss(&out, x.clone(), Likelihood::Bernoulli, 0.1);
            let loss = r + k;
            losses.push(loss.clone().into_scalar::<f32>());
            let grads = GradientsParams::from_grads(loss.backward(), &vae);
            vae = optim.step(5e-3, vae, grads);
        }
        // A quarter of the pixels are on, so a model that ignores the image can do no better
        // than 784 * H(0.25) = 441 nats; getting below that means it encodes the images.
        let tail = losses[losses.len() - 5..].iter().sum::<f32>() / 5.0;
        assert!(losses[0] > 480.0, "{losses:?}");
        assert!(tail < 430.0, "{losses:?}");
    }

    /// Golden values from PyTorch 2.15.0, in float64 (per image: the batch has 2):
    /// ```python
    /// import math, torch, torch.nn.functional as F
    /// l = torch.tensor([[-2.0, -0.5], [0.25, 3.0]]).reshape(1, 1, 2, 2).repeat(2, 1, 1, 1)
    /// l[1] *= -1
    /// x = torch.tensor([0.0, 0.2, 0.9, 1.0]).reshape(1, 1, 2, 2).repeat(2, 1, 1, 1)
    /// mu = torch.tensor([[0.5, -1.0, 0.0], [1.5, 0.25, -0.3]])
    /// lv = torch.tensor([[0.1, -0.4, 0.0], [-1.0, 0.3, 0.2]])
    /// l, x, mu, lv = l.double(), x.double(), mu.double(), lv.double()
    /// F.binary_cross_entropy_with_logits(l, x, reduction='sum').item() / 2  # 4.100531766675665
    /// (-0.5 * (1 + lv - mu ** 2 - lv.exp()).sum()).item() / 2               # 1.041782996280924
    /// ((F.mse_loss(torch.sigmoid(l), x, reduction='sum') / (2 * 0.1 ** 2)
    ///   + 8 * 0.5 * math.log(2 * math.pi * 0.1 ** 2)) / 2).item()            # 50.400010714080665
    /// ```
    #[test]
    fn loss_matches_pytorch() {
        let device = crate::device::device();
        let l = [-2.0f32, -0.5, 0.25, 3.0, 2.0, 0.5, -0.25, -3.0];
        let x = [0.0f32, 0.2, 0.9, 1.0, 0.0, 0.2, 0.9, 1.0];
        let out = VaeOutput {
            logits: Tensor::from_data(TensorData::new(l.to_vec(), [2, 1, 2, 2]), &device),
            mu: Tensor::from_data(
                TensorData::new(vec![0.5f32, -1.0, 0.0, 1.5, 0.25, -0.3], [2, 3]),
                &device,
            ),
            logvar: Tensor::from_data(
                TensorData::new(vec![0.1f32, -0.4, 0.0, -1.0, 0.3, 0.2], [2, 3]),
                &device,
            ),
        };
        let xt = || Tensor::<4>::from_data(TensorData::new(x.to_vec(), [2, 1, 2, 2]), &device);
        let (r, k) = vae_loss(&out, xt(), Likelihood::Bernoulli, 0.1);
        let (rg, _) = vae_loss(&out, xt(), Likelihood::Gaussian, 0.1);
        let v = |t: Tensor<1>| t.into_scalar::<f32>() as f64;
        // f32 arithmetic: agreement to ~1e-6 relative.
        assert!((v(r) - GOLD_BCE).abs() < 1e-5, "bce");
        assert!((v(k) - GOLD_KL).abs() < 1e-5, "kl");
        assert!((v(rg) - GOLD_GAUSS).abs() < 1e-4, "gaussian");
    }

    const GOLD_BCE: f64 = 4.100531766675665;
    const GOLD_KL: f64 = 1.041782996280924;
    const GOLD_GAUSS: f64 = 50.400010714080665;
}
