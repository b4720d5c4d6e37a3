//! `regen eval augment`: does enlarging a small labelled set with a conditional generator's
//! samples help a classifier?
//!
//! For each seed: draw `per_class` labelled images per class from the training data; train a
//! conditional GAN and a conditional VAE on exactly that subset (nothing else, so no label
//! or image the classifier would not have seen leaks in); then train the same classifier for
//! the same number of steps on (a) the subset, (b) the subset plus `generated_per_class`
//! cGAN samples per class, (c) the subset plus as many cVAE samples, and measure each on the
//! test set.

use std::path::PathBuf;

use serde::Serialize;

use crate::data::{Dataset, Image};
use crate::error::{Error, Result};
use crate::eval::generate::{accuracy, fit_classifier};
use crate::generate::Generator;
use crate::rng::Rng;
use crate::train::{GanTrainConfig, VaeTrainConfig, gan::train_gan_on, vae::train_vae_on};

/// The experiment's settings.
#[derive(Clone, Debug)]
pub struct AugmentConfig {
    /// Real labelled images per class in the small set.
    pub per_class: usize,
    /// Generated images per class added to it.
    pub generated_per_class: usize,
    /// Seeds (each draws its own subset and trains its own models).
    pub seeds: Vec<u64>,
    /// Classifier optimisation steps (minibatches of 128), the same for every variant.
    pub classifier_steps: usize,
    /// The conditional GAN's training (data, conditional and seed are set per run).
    pub gan: GanTrainConfig,
    /// The conditional VAE's training.
    pub vae: VaeTrainConfig,
    /// Folder for the generators' run folders (`seed-N/gan`, `seed-N/vae`).
    pub work: PathBuf,
    /// Remove `work` when done (a temporary folder).
    pub remove_work: bool,
}

impl AugmentConfig {
    /// The experiment of `regen eval augment`: seeds `0..seeds`, the generators trained with
    /// their default settings for the given epochs, without checkpoints, the VAE holding out
    /// only 10 images (the subset is all the labelled data there is). Without `work` the
    /// generators' runs go to a temporary folder, removed at the end.
    pub fn new(
        per_class: usize,
        generated_per_class: usize,
        seeds: u64,
        classifier_steps: usize,
        gan_epochs: u64,
        vae_epochs: u64,
        work: Option<PathBuf>,
    ) -> AugmentConfig {
        let temp = || std::env::temp_dir().join(format!("regen-augment-{}", std::process::id()));
        AugmentConfig {
            per_class,
            generated_per_class,
            seeds: (0..seeds).collect(),
            classifier_steps,
            gan: GanTrainConfig {
                epochs: gan_epochs,
                checkpoint_every: 1_000_000,
                ..GanTrainConfig::default()
            },
            vae: VaeTrainConfig {
                epochs: vae_epochs,
                val_images: 10,
                checkpoint_every: 1_000_000,
                ..VaeTrainConfig::default()
            },
            remove_work: work.is_none(),
            work: work.unwrap_or_else(temp),
        }
    }
}

/// One classifier's result.
#[derive(Clone, Debug, Serialize)]
pub struct AugmentRow {
    /// The seed of the subset, the generators and the classifier.
    pub seed: u64,
    /// `real only`, `real + cGAN` or `real + cVAE`.
    pub method: String,
    /// Images the classifier trained on.
    pub train_images: usize,
    /// Test accuracy.
    pub accuracy: f64,
}

/// The methods compared, in the order of the table.
pub const METHODS: [&str; 3] = ["real only", "real + cGAN", "real + cVAE"];

/// The Markdown table of `rows`: one row per method, one column per seed, then the mean
/// and the sample standard deviation over seeds; `test` names the test set.
pub fn table(rows: &[AugmentRow], cfg: &AugmentConfig, test: &std::path::Path) -> String {
    let mut s = format!(
        "{} real images per class (+ {} generated per class), {} classifier steps, test set {}\n",
        cfg.per_class,
        cfg.generated_per_class,
        cfg.classifier_steps,
        test.display()
    );
    let seeds: Vec<String> = cfg.seeds.iter().map(|s| format!("seed {s}")).collect();
    s += &format!("| training set | {} | mean +- sd |\n", seeds.join(" | "));
    s += &format!("|---|{}---|\n", "---|".repeat(seeds.len()));
    for method in METHODS {
        let acc: Vec<f64> = rows
            .iter()
            .filter(|r| r.method == method)
            .map(|r| 100.0 * r.accuracy)
            .collect();
        let (mean, sd) = mean_sd(&acc);
        let cells: Vec<String> = acc.iter().map(|v| format!("{v:.2}%")).collect();
        s += &format!(
            "| {method} | {} | {mean:.2}% +- {sd:.2} |\n",
            cells.join(" | ")
        );
    }
    s
}

/// Mean and sample standard deviation (n - 1 in the denominator; 0 for one value).
pub fn mean_sd(v: &[f64]) -> (f64, f64) {
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (v.len().max(2) - 1) as f64;
    (mean, var.sqrt())
}

/// `per_class` images of each class of `data`, chosen with `seed`.
pub fn labelled_subset(data: &Dataset, per_class: usize, seed: u64) -> Result<Dataset> {
    let labels = data
        .labels
        .as_ref()
        .ok_or_else(|| Error::arg("the training data needs labels"))?;
    let mut order: Vec<usize> = (0..data.len()).collect();
    let mut rng = Rng::derived(seed, 0xA06);
    rng.shuffle(&mut order);
    let mut taken = vec![0usize; data.classes];
    let mut pick = Vec::new();
    for i in order {
        if taken[labels[i]] < per_class {
            taken[labels[i]] += 1;
            pick.push(i);
        }
    }
    if let Some(c) = taken.iter().position(|&t| t < per_class) {
        return Err(Error::arg(format!(
            "class {c} has only {} images, fewer than --per-class {per_class}",
            taken[c]
        )));
    }
    pick.sort_unstable();
    Ok(Dataset {
        images: pick.iter().map(|&i| data.images[i].clone()).collect(),
        labels: Some(pick.iter().map(|&i| labels[i]).collect()),
        classes: data.classes,
    })
}

/// Runs the experiment; `note` hears what is happening.
pub fn augment(
    train: &Dataset,
    test: &Dataset,
    cfg: &AugmentConfig,
    note: impl Fn(&str),
) -> Result<Vec<AugmentRow>> {
    let rows = augment_in(train, test, cfg, note);
    if cfg.remove_work {
        let _ = std::fs::remove_dir_all(&cfg.work);
    }
    rows
}

fn augment_in(
    train: &Dataset,
    test: &Dataset,
    cfg: &AugmentConfig,
    note: impl Fn(&str),
) -> Result<Vec<AugmentRow>> {
    let test_labels = test
        .labels
        .as_ref()
        .ok_or_else(|| Error::arg("the test data needs labels"))?;
    let test_imgs: Vec<&Image> = test.images.iter().collect();
    let k = train.classes;
    let mut rows = Vec::new();
    for &seed in &cfg.seeds {
        let sub = labelled_subset(train, cfg.per_class, seed)?;
        let real_labels = sub.labels.clone().expect("labelled");
        let dir = cfg.work.join(format!("seed-{seed}"));
        let fit = |method: &str, extra: Vec<Image>, extra_labels: Vec<usize>| {
            let images: Vec<&Image> = sub.images.iter().chain(&extra).collect();
            let labels: Vec<usize> = real_labels.iter().chain(&extra_labels).copied().collect();
            // The same number of steps for every variant, so only the data differs.
            let epochs = cfg
                .classifier_steps
                .div_ceil(images.len().div_ceil(128))
                .max(1);
            let net = fit_classifier(&images, &labels, k, seed, epochs);
            AugmentRow {
                seed,
                method: method.into(),
                train_images: images.len(),
                accuracy: accuracy(&net, &test_imgs, test_labels),
            }
        };
        let mut record = |row: AugmentRow| {
            note(&format!(
                "seed {seed}: {}: {} training images, test accuracy {:.2}%",
                row.method,
                row.train_images,
                100.0 * row.accuracy
            ));
            rows.push(row);
        };
        record(fit("real only", Vec::new(), Vec::new()));

        let samples = |model: &std::path::Path| -> Result<(Vec<Image>, Vec<usize>)> {
            let g = Generator::load(&model.to_string_lossy())?;
            let (mut imgs, mut labels) = (Vec::new(), Vec::new());
            for c in 0..k {
                imgs.extend(g.sample(cfg.generated_per_class, Some(c), seed * 1000 + c as u64)?);
                labels.extend(std::iter::repeat_n(c, cfg.generated_per_class));
            }
            Ok((imgs, labels))
        };

        let mut gan = cfg.gan.clone();
        (gan.conditional, gan.seed) = (true, seed);
        let run = dir.join("gan");
        let _ = std::fs::remove_dir_all(&run);
        note(&format!(
            "seed {seed}: training a conditional GAN on the {} images",
            sub.len()
        ));
        let model = train_gan_on(&gan, &sub, &run, false, true)?.model;
        let (imgs, labels) = samples(&model)?;
        record(fit("real + cGAN", imgs, labels));

        let mut vae = cfg.vae.clone();
        (vae.conditional, vae.seed) = (true, seed);
        let run = dir.join("vae");
        let _ = std::fs::remove_dir_all(&run);
        note(&format!(
            "seed {seed}: training a conditional VAE on the {} images",
            sub.len()
        ));
        let model = train_vae_on(&vae, &sub, &run, false, true)?;
        let (imgs, labels) = samples(&model)?;
        record(fit("real + cVAE", imgs, labels));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subset_takes_exactly_per_class_images_of_each_class_and_depends_on_the_seed() {
        let labels: Vec<usize> = (0..200).map(|i| (i * 7) % 4).collect();
        let data = Dataset {
            images: (0..200)
                .map(|i| Image::gray(1, 1, vec![i as f32]))
                .collect(),
            labels: Some(labels),
            classes: 4,
        };
        let a = labelled_subset(&data, 5, 0).unwrap();
        let mut counts = [0; 4];
        for &l in a.labels.as_ref().unwrap() {
            counts[l] += 1;
        }
        assert_eq!(counts, [5; 4]);
        // Each chosen image keeps its own label.
        for (img, &l) in a.images.iter().zip(a.labels.as_ref().unwrap()) {
            assert_eq!((img.data[0] as usize * 7) % 4, l);
        }
        let b = labelled_subset(&data, 5, 1).unwrap();
        assert_ne!(a.images, b.images);
        assert!(labelled_subset(&data, 51, 0).is_err());
    }
}
