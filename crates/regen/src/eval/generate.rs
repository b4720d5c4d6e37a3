//! `regen eval generate`: generated images against real ones in the feature space of a
//! small CNN classifier trained on the real data's train split. The classifier is cached
//! (keyed by the data file's contents and the seed) so every model is measured with the
//! same yardstick, and it is rebuilt identically from the seed when the cache is gone.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::Tensor;
use burn::tensor::activation::log_softmax;
use serde::Serialize;

use crate::checkpoint::{self, ModelCard};
use crate::data::{Dataset, Image, images_to_tensor, one_hot, split};
use crate::error::{Error, Result};
use crate::metrics::{frechet_distance, kid, precision_recall};
use crate::models::{Classifier, ClassifierConfig, Descriptor, Network};
use crate::rng::Rng;
use crate::train::run::{OptimizerKind, optimizer};

/// The figures of one comparison.
#[derive(Clone, Debug, Serialize)]
pub struct GenReport {
    /// Real and generated images compared (the same number of each).
    pub n: usize,
    /// Test accuracy of the feature classifier on the real data's held-out split.
    pub classifier_accuracy: f64,
    /// Frechet distance in the classifier's feature space.
    pub frechet: f64,
    /// Kernel inception distance (mean, standard deviation over subsets), times 1000.
    pub kid_x1000: (f64, f64),
    /// Improved precision (k = 5).
    pub precision: f64,
    /// Improved recall (k = 5).
    pub recall: f64,
    /// Share of generated images per predicted class.
    pub class_shares: Vec<f64>,
}

impl GenReport {
    /// A plain-text table.
    pub fn table(&self) -> String {
        let shares: Vec<String> = self
            .class_shares
            .iter()
            .enumerate()
            .map(|(c, s)| format!("{c}: {:.1}%", 100.0 * s))
            .collect();
        format!(
            "{n} real vs {n} generated images; feature classifier test accuracy {:.2}%\n\
             Frechet distance   {:>10.3}\n\
             KID x 1000         {:>10.3} +- {:.3}\n\
             precision (k=5)    {:>10.3}\n\
             recall (k=5)       {:>10.3}\n\
             samples per predicted class: {}\n",
            100.0 * self.classifier_accuracy,
            self.frechet,
            self.kid_x1000.0,
            self.kid_x1000.1,
            self.precision,
            self.recall,
            shares.join(", "),
            n = self.n,
        )
    }
}

/// Where the classifier for `data` trained with `seed` is cached.
pub fn cache_path(data: &Path, seed: u64) -> Result<PathBuf> {
    let bytes = std::fs::read(data).map_err(|e| Error::io(data, e))?;
    // FNV-1a: a stable content key, not a security measure.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes.iter().chain(&seed.to_le_bytes()) {
        h = (h ^ *b as u64).wrapping_mul(0x100_0000_01b3);
    }
    let base = std::env::var_os("REGEN_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/regen")))
        .unwrap_or_else(|| std::env::temp_dir().join("regen-cache"));
    Ok(base.join(format!("classifier-{h:016x}.safetensors")))
}

/// Trains the feature classifier on `data` (labelled) minus a seeded 10% held out, and
/// returns it with its accuracy on the held-out part.
pub fn train_classifier(data: &Dataset, seed: u64, epochs: usize) -> Result<(Classifier, f64)> {
    let labels = data
        .labels
        .as_ref()
        .ok_or_else(|| Error::arg("the real data needs labels to train the feature classifier"))?;
    let (train, test) = split(data.len(), data.len() / 10, seed);
    let pick = |idx: &[usize]| -> (Vec<&Image>, Vec<usize>) {
        idx.iter().map(|&i| (&data.images[i], labels[i])).unzip()
    };
    let (xs, ys) = pick(&train);
    let net = fit_classifier(&xs, &ys, data.classes, seed, epochs);
    let (xt, yt) = pick(&test);
    let acc = accuracy(&net, &xt, &yt);
    Ok((net, acc))
}

/// A fresh classifier trained on `images` with `labels` (below `classes`): `epochs` passes in
/// minibatches of 128, in an order drawn from `seed`, Adam at 1e-3, cross-entropy.
pub fn fit_classifier(
    images: &[&Image],
    labels: &[usize],
    classes: usize,
    seed: u64,
    epochs: usize,
) -> Classifier {
    let first = images[0];
    let cfg = ClassifierConfig::new()
        .with_channels(first.channels)
        .with_size(first.height)
        .with_classes(classes);
    let device = crate::device::train_device();
    device.seed(seed);
    let mut net = cfg.init(&device);
    let mut optim = optimizer(OptimizerKind::Adam, 0.0);
    let mut rng = Rng::new(seed);
    for _ in 0..epochs {
        let mut order: Vec<usize> = (0..images.len()).collect();
        rng.shuffle(&mut order);
        for chunk in order.chunks(128) {
            let imgs: Vec<&Image> = chunk.iter().map(|&i| images[i]).collect();
            let batch: Vec<usize> = chunk.iter().map(|&i| labels[i]).collect();
            let y = one_hot(&batch, classes, &device);
            let logp = log_softmax(net.forward(images_to_tensor(&imgs, &device)), 1);
            let loss = (logp * y).sum().neg() / chunk.len() as f64;
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            net = optim.step(1e-3, net, grads);
        }
    }
    net.valid()
}

/// Share of `images` the classifier labels as `labels` says.
pub fn accuracy(net: &Classifier, images: &[&Image], labels: &[usize]) -> f64 {
    let preds = predict(net, images);
    preds.iter().zip(labels).filter(|(p, l)| p == l).count() as f64 / labels.len().max(1) as f64
}

/// Loads the cached classifier for `data_path` or trains and caches it.
pub fn classifier_for(data_path: &Path, data: &Dataset, seed: u64) -> Result<(Classifier, f64)> {
    let path = cache_path(data_path, seed)?;
    if let Ok(bytes) = std::fs::read(&path)
        && let Ok(card) = checkpoint::read_card(&path, &bytes)
        && let Network::Classifier(cfg) = &card.descriptor.network
    {
        let mut net = cfg.init(&crate::device::device());
        checkpoint::load_weights(&path, bytes, &mut net)?;
        let acc = card.notes["test_accuracy"].as_f64().unwrap_or(f64::NAN);
        return Ok((net, acc));
    }
    let (net, acc) = train_classifier(data, seed, 3)?;
    let first = &data.images[0];
    let cfg = ClassifierConfig::new()
        .with_channels(first.channels)
        .with_size(first.height)
        .with_classes(data.classes);
    let mut card = ModelCard::new(Descriptor::classifier(cfg), 0);
    card.notes = serde_json::json!({"test_accuracy": acc, "seed": seed, "data": data_path});
    checkpoint::save(&path, &net, &card)?;
    Ok((net, acc))
}

/// Runs `f` over `images` in batches of 500 and returns one row per image.
fn rows(images: &[&Image], f: impl Fn(Tensor<4>) -> Tensor<2>) -> Vec<Vec<f32>> {
    let device = crate::device::device();
    let mut out = Vec::with_capacity(images.len());
    for chunk in images.chunks(500) {
        let v: Vec<f32> = f(images_to_tensor(chunk, &device))
            .into_data()
            .try_to_vec()
            .expect("f32");
        out.extend(v.chunks(v.len() / chunk.len()).map(|r| r.to_vec()));
    }
    out
}

/// The most likely class of each image.
fn predict(net: &Classifier, images: &[&Image]) -> Vec<usize> {
    rows(images, |x| net.forward(x))
        .iter()
        .map(|r| {
            (0..r.len())
                .max_by(|&a, &b| r[a].total_cmp(&r[b]))
                .expect("classes")
        })
        .collect()
}

/// The classifier's feature vector of each image.
fn features(net: &Classifier, images: &[&Image]) -> Vec<Vec<f32>> {
    rows(images, |x| net.features(x))
}

/// `regen eval generate`: `n` images of the labelled real data at `data` against `n` of
/// the generated ones at `samples` (a folder or an IDX file), in the features of the
/// classifier for `data` and `seed` (trained once, then cached).
pub fn eval_files(data: &Path, samples: &Path, n: usize, seed: u64) -> Result<GenReport> {
    let real = Dataset::load(data)?;
    let fake = Dataset::load(samples)?;
    let (net, acc) = classifier_for(data, &real, seed)?;
    eval_generate(&net, acc, &real.images, &fake.images, real.classes, n, seed)
}

/// Compares the first `n` images of `real` with the first `n` of `fake`.
pub fn eval_generate(
    net: &Classifier,
    accuracy: f64,
    real: &[Image],
    fake: &[Image],
    classes: usize,
    n: usize,
    seed: u64,
) -> Result<GenReport> {
    let n = n.min(real.len()).min(fake.len());
    if n < 10 {
        return Err(Error::arg(format!(
            "only {n} images to compare; at least 10 are needed"
        )));
    }
    let (r0, f0) = (&real[0], &fake[0]);
    if (r0.channels, r0.height, r0.width) != (f0.channels, f0.height, f0.width) {
        return Err(Error::arg(format!(
            "samples are {}x{} with {} channels but the real images are {}x{} with {}",
            f0.width, f0.height, f0.channels, r0.width, r0.height, r0.channels
        )));
    }
    let real: Vec<&Image> = real[..n].iter().collect();
    let fake: Vec<&Image> = fake[..n].iter().collect();
    let (fr, ff) = (features(net, &real), features(net, &fake));
    let mut shares = vec![0.0; classes];
    for p in predict(net, &fake) {
        shares[p] += 1.0 / n as f64;
    }
    let (km, ks) = kid(&fr, &ff, 100, 1000, seed);
    let (p, r) = precision_recall(&fr, &ff, 5);
    Ok(GenReport {
        n,
        classifier_accuracy: accuracy,
        frechet: frechet_distance(&fr, &ff),
        kid_x1000: (1000.0 * km, 1000.0 * ks),
        precision: p,
        recall: r,
        class_shares: shares,
    })
}
