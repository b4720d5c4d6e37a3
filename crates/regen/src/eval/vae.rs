//! `regen eval vae`: the test-set ELBO in nats per image (reconstruction and KL apart) and
//! the importance-weighted bound on log p(x) with K samples (Burda et al. 2016), which
//! tightens toward the true log-likelihood as K grows.

use burn::tensor::activation::sigmoid;
use burn::tensor::{Tensor, TensorData};
use serde::Serialize;

use crate::data::{Dataset, Image};
use crate::error::{Error, Result};
use crate::generate::Generator;
use crate::metrics::Probe;
use crate::models::{Likelihood, Vae, VaeConfig};
use crate::rng::Rng;

/// The figures, all per image, in nats. (Fields in alphabetical order, which is the order
/// of the JSON report.)
#[derive(Clone, Debug, Serialize)]
pub struct VaeReport {
    /// Images evaluated.
    pub images: usize,
    /// Negative importance-weighted bound (a tighter upper bound on -log p(x)).
    pub iw_nll: f64,
    /// Samples of the importance-weighted bound.
    pub k: usize,
    /// KL(q(z|x) || p(z)), exact.
    pub kl: f64,
    /// Negative ELBO = recon + kl (an upper bound on -log p(x)).
    pub nelbo: f64,
    /// Accuracy of a linear probe on the latent means ([`linear_probe`]), when one was fit.
    pub probe_accuracy: Option<f64>,
    /// E_q[-log p(x|z)] with one z per image.
    pub recon: f64,
}

impl VaeReport {
    /// A plain-text table.
    pub fn table(&self) -> String {
        let mut s = format!("{} images, nats per image\n", self.images);
        s += &format!("reconstruction   {:>9.2}\n", self.recon);
        s += &format!("KL               {:>9.2}\n", self.kl);
        s += &format!("-ELBO            {:>9.2}\n", self.nelbo);
        s += &format!(
            "-log p(x) <= {:>9.2}  (importance-weighted, K = {})\n",
            self.iw_nll, self.k
        );
        if let Some(acc) = self.probe_accuracy {
            s += &format!(
                "linear probe accuracy on latent means: {:.2}%\n",
                100.0 * acc
            );
        }
        s
    }
}

/// `regen eval vae`: the VAE `model` (a shipped name or a path) on the images at `data`
/// with `k` importance samples and, given `probe_train`, a linear probe fit on those
/// labelled images' latent means.
pub fn eval_files(
    model: &str,
    data: &std::path::Path,
    k: usize,
    seed: u64,
    probe_train: Option<&std::path::Path>,
) -> Result<VaeReport> {
    let generator = Generator::load(model)?;
    let data = Dataset::load(data)?;
    let (vae, config) = generator.vae()?;
    let mut r = eval_vae(vae, config, &data, k, seed)?;
    if let Some(p) = probe_train {
        r.probe_accuracy = Some(linear_probe(&generator, &Dataset::load(p)?, &data)?);
    }
    Ok(r)
}

/// Evaluates `vae` on every image of `data` (labels needed for a conditional model).
pub fn eval_vae(
    vae: &Vae,
    cfg: &VaeConfig,
    data: &Dataset,
    k: usize,
    seed: u64,
) -> Result<VaeReport> {
    let classes = cfg.classes;
    if classes > 0 && data.labels.is_none() {
        return Err(Error::arg(
            "this model is conditional, so the evaluation data needs labels",
        ));
    }
    let k = k.max(1);
    let device = crate::device::device();
    let (c, h, w) = (
        data.images[0].channels,
        data.images[0].height,
        data.images[0].width,
    );
    if (c, h, w) != (cfg.channels, cfg.size, cfg.size) {
        return Err(Error::arg(format!(
            "data images are {w}x{h} with {c} channels, the model wants {0}x{0} with {1}",
            cfg.size, cfg.channels
        )));
    }
    let latent = cfg.latent;
    let half_ln_2pi = 0.5 * (2.0 * std::f64::consts::PI).ln();
    let mut rng = Rng::new(seed);
    let (mut recon, mut kl, mut iw) = (0.0, 0.0, 0.0);
    let b = (4096 / k).clamp(1, 256);
    let idx: Vec<usize> = (0..data.len()).collect();
    for chunk in idx.chunks(b) {
        let n = chunk.len();
        let mut px = Vec::with_capacity(n * c * h * w);
        for &i in chunk {
            px.extend_from_slice(&data.images[i].data);
        }
        let x = Tensor::<4>::from_data(TensorData::new(px.clone(), [n, c, h, w]), &device);
        let labels: Option<Vec<f32>> = (classes > 0).then(|| {
            let l = data.labels.as_ref().expect("checked");
            chunk
                .iter()
                .flat_map(|&i| (0..classes).map(move |j| if j == l[i] { 1.0 } else { 0.0 }))
                .collect()
        });
        let y = labels
            .clone()
            .map(|v| Tensor::<2>::from_data(TensorData::new(v, [n, classes]), &device));
        let (mu, logvar) = vae.encode(x, y);
        let mu: Vec<f32> = mu.into_data().try_to_vec().expect("f32");
        let lv: Vec<f32> = logvar.into_data().try_to_vec().expect("f32");
        // z for every (sample, image): [k * n, latent], image-major within each sample.
        let eps: Vec<f64> = (0..k * n * latent).map(|_| rng.normal()).collect();
        let z: Vec<f32> = (0..k * n * latent)
            .map(|t| {
                let j = t % (n * latent);
                (mu[j] as f64 + (0.5 * lv[j] as f64).exp() * eps[t]) as f32
            })
            .collect();
        let zt = Tensor::<2>::from_data(TensorData::new(z, [k * n, latent]), &device);
        let yk = labels.map(|v| {
            let rep: Vec<f32> = (0..k).flat_map(|_| v.iter().copied()).collect();
            Tensor::<2>::from_data(TensorData::new(rep, [k * n, classes]), &device)
        });
        let logits = vae.decode(zt, yk);
        let xr: Vec<f32> = (0..k).flat_map(|_| px.iter().copied()).collect();
        let xk = Tensor::<4>::from_data(TensorData::new(xr, [k * n, c, h, w]), &device);
        let nll_px = match cfg.likelihood {
            Likelihood::Bernoulli => {
                logits.clone().clamp_min(0.0) - logits.clone() * xk
                    + (logits.abs().neg().exp() + 1.0).log()
            }
            Likelihood::Gaussian => {
                let s2 = cfg.gaussian_sigma * cfg.gaussian_sigma;
                (sigmoid(logits) - xk).square() / (2.0 * s2)
                    + 0.5 * (2.0 * std::f64::consts::PI * s2).ln()
            }
        };
        let nll: Vec<f32> = nll_px
            .flatten::<2>(1, 3)
            .sum_dim(1)
            .into_data()
            .try_to_vec()
            .expect("f32");
        for i in 0..n {
            let m = &mu[i * latent..(i + 1) * latent];
            let l = &lv[i * latent..(i + 1) * latent];
            kl += (0..latent)
                .map(|d| 0.5 * ((m[d] as f64).powi(2) + (l[d] as f64).exp() - l[d] as f64 - 1.0))
                .sum::<f64>();
            recon += nll[i] as f64; // sample 0
            // log w_s = log p(x|z_s) + log p(z_s) - log q(z_s|x), with z_s = mu + sigma eps_s.
            let logw: Vec<f64> = (0..k)
                .map(|s| {
                    let mut lw = -(nll[s * n + i] as f64);
                    for d in 0..latent {
                        let e = eps[s * n * latent + i * latent + d];
                        let zv = m[d] as f64 + (0.5 * l[d] as f64).exp() * e;
                        lw += -0.5 * zv * zv - half_ln_2pi; // log p(z)
                        lw -= -0.5 * e * e - half_ln_2pi - 0.5 * l[d] as f64; // log q(z|x)
                    }
                    lw
                })
                .collect();
            let mx = logw.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let lse = mx + logw.iter().map(|v| (v - mx).exp()).sum::<f64>().ln();
            iw += -(lse - (k as f64).ln());
        }
    }
    let n = data.len() as f64;
    Ok(VaeReport {
        images: data.len(),
        recon: recon / n,
        kl: kl / n,
        nelbo: (recon + kl) / n,
        k,
        iw_nll: iw / n,
        probe_accuracy: None,
    })
}

/// Latent means of every image of `data`, with its class given to a conditional encoder.
fn latent_means(g: &Generator, data: &Dataset) -> Result<Vec<Vec<f32>>> {
    let mut out = Vec::with_capacity(data.len());
    let idx: Vec<usize> = (0..data.len()).collect();
    for chunk in idx.chunks(512) {
        let imgs: Vec<&Image> = chunk.iter().map(|&i| &data.images[i]).collect();
        let cls: Option<Vec<usize>> = match (&data.labels, g.classes()) {
            (Some(l), k) if k > 0 => Some(chunk.iter().map(|&i| l[i]).collect()),
            _ => None,
        };
        out.extend(g.encode(&imgs, cls.as_deref())?);
    }
    Ok(out)
}

/// Accuracy on `test` of a logistic regression fitted to the latent means of `train`
/// (the seed's "VAE features for classification"). Both sets must be labelled.
pub fn linear_probe(g: &Generator, train: &Dataset, test: &Dataset) -> Result<f64> {
    let (Some(ytr), Some(yte)) = (&train.labels, &test.labels) else {
        return Err(Error::arg(
            "the linear probe needs labelled train and test data",
        ));
    };
    let classes = train.classes.max(test.classes);
    let probe = Probe::fit(&latent_means(g, train)?, ytr, classes, 1e-4, 300);
    Ok(probe.accuracy(&latent_means(g, test)?, yte))
}
