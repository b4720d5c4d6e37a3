//! Restoring images of any size with a restoration model: a [`Restorer`] is a model's
//! [`Descriptor`] and network, run through a [`Tiler`].
//!
//! What the model is decides everything here: its image channels (a colour model restores
//! the RGB planes together, so it can use what the channels share; a gray model restores a
//! colour image channel by channel), its input planes (made by [`crate::planes`] from the
//! image and the [`Condition`]: mask, kernel, sigma), its scale and its receptive field
//! (the tile margin). Without `--model`, `regen restore` denoises gray images with the gray
//! model and colour images with the colour one ([`COLOR_DENOISER`]); it inpaints both with
//! the colour inpainter, which fills gray images (as three equal planes) better than the
//! gray one does. Alpha passes through untouched.
//!
//! Denoisers with a noise level map (FFDNet-style) are told the noise sigma: the
//! condition's (`--sigma`), or else one estimated from each image by
//! [`crate::classical::estimate_sigma`]. Inpainting pre-fills the holes of the *whole*
//! image, so a hole larger than a tile still gets a smooth estimate from its whole
//! boundary, and the network refines it tile by tile.

mod tiler;

use std::path::Path;

use crate::checkpoint::{self, ModelCard};
use crate::classical::estimate_sigma;
use crate::corrupt::Task;
use crate::data::Image;
use crate::error::{Error, Result};
use crate::models::{Descriptor, Family, RestoreNet};
use crate::planes;
use crate::shipped;

pub use crate::planes::{Condition, NONBLIND_BALANCE};
use tiler::Ticker;
pub use tiler::{Tiler, Watch, dihedral_map};

/// A loaded restoration model and how to tile with it.
pub struct Restorer {
    net: RestoreNet,
    /// What the checkpoint says about itself, its descriptor above all.
    pub card: ModelCard,
    /// Core tile side in input pixels.
    pub tile: usize,
    /// Context pixels around each tile; by default the model's receptive radius, capped
    /// ([`Descriptor::margin`]).
    pub margin: usize,
    /// Average the results over the eight flips and 90-degree rotations (geometric
    /// self-ensemble): a little better, eight times slower.
    pub ensemble: bool,
    /// The model for colour images, when this one is the shipped gray default.
    color: Option<Box<Restorer>>,
}

/// The shipped deblurrer that is told the kernel.
pub const NON_BLIND_DEBLURRER: &str = "deblur-nonblind";

/// The shipped colour denoiser, the default for colour images.
pub const COLOR_DENOISER: &str = "denoise-color";

/// The upscaler `regen restore --task upscale` runs without `--model` or `--scale`.
pub const DEFAULT_UPSCALER: &str = "upscale-x4";

impl Restorer {
    /// Loads `spec`: the name of a shipped model (`denoise`) or a `.safetensors` path.
    pub fn load(spec: &str) -> Result<Restorer> {
        let (path, bytes) = shipped::resolve(spec)?;
        Restorer::from_bytes(&path, bytes)
    }

    /// The shipped default for `task`.
    pub fn shipped_default(task: Task) -> Result<Restorer> {
        let m = shipped::default_for(task)
            .ok_or_else(|| Error::arg(format!("no shipped model for task {task}; pass --model")))?;
        Restorer::from_bytes(Path::new(m.name), m.bytes.to_vec())
    }

    /// `model` (a shipped name or a path, published weights included), or the shipped
    /// default for `task` (for denoising, the gray model with the colour one beside it for
    /// colour images); a model of another task than the one given is refused, naming it.
    /// Without a task, a model does its own task, and the default denoises.
    pub fn load_for(model: Option<&str>, task: Option<Task>) -> Result<Restorer> {
        let r = match model {
            Some(m) => Restorer::load(m)?,
            None => {
                let task = task.unwrap_or_default();
                let mut r = Restorer::shipped_default(task)?;
                if task == Task::Denoise && shipped::find(COLOR_DENOISER).is_some() {
                    r.color = Some(Box::new(Restorer::load(COLOR_DENOISER)?));
                }
                r
            }
        };
        if let Some(task) = task
            && r.task() != task
        {
            return Err(Error::arg(format!(
                "--model {}: its task is {}, not {task}",
                model.unwrap_or("default"),
                r.task()
            )));
        }
        Ok(r)
    }

    /// The model that does `task`: `model` (a shipped name or a path) or the shipped
    /// default, which for a known blur (`known_blur`) is the non-blind deblurrer. A model
    /// of another task, a non-blind deblurrer without a kernel and a blind one with a kernel
    /// are refused, naming the model.
    ///
    /// Upscaling takes `scale` (2, 3 or 4): without a model, the shipped upscaler of that
    /// factor (default [`DEFAULT_UPSCALER`]); with one, a check that it is its factor.
    pub fn for_task(
        model: Option<&str>,
        task: Option<Task>,
        known_blur: bool,
        scale: Option<usize>,
    ) -> Result<Restorer> {
        // Without a model, the task defaults to denoising (and a blur is refused for it);
        // with one, the task is the model's unless one is given.
        let task = task.or(model.is_none().then_some(Task::Denoise));
        if let Some(s) = scale {
            crate::corrupt::check_scale(s)?;
        }
        if task == Some(Task::Upscale) || scale.is_some() {
            return Restorer::upscaler(model, task, scale);
        }
        let refuse_blur = |task: Task| {
            Error::arg(format!(
                "--blur, --blur-sigma and --length are for --task deblur, not {task}"
            ))
        };
        if let Some(task) = task
            && known_blur
            && task != Task::Deblur
        {
            return Err(refuse_blur(task));
        }
        let spec = model.or(known_blur.then_some(NON_BLIND_DEBLURRER));
        let r = Restorer::load_for(spec, task)?;
        if known_blur && r.task() != Task::Deblur {
            return Err(refuse_blur(r.task()));
        }
        let name = spec.unwrap_or("default");
        match (r.non_blind(), known_blur) {
            (true, false) => Err(Error::arg(format!(
                "--model {name}: is a non-blind deblurrer; give the blur with --blur-sigma S or --length L --angle A"
            ))),
            (false, true) => Err(Error::arg(format!(
                "--model {name}: is a blind deblurrer and takes no kernel; leave out the blur options or use --model {NON_BLIND_DEBLURRER}"
            ))),
            _ => Ok(r),
        }
    }

    /// The upscaler `model`, or the shipped one of factor `scale`, checked to enlarge by
    /// `scale` when one is given.
    fn upscaler(model: Option<&str>, task: Option<Task>, scale: Option<usize>) -> Result<Restorer> {
        let shipped_name = match (model, scale) {
            (Some(_), _) => None,
            (None, None) => Some(DEFAULT_UPSCALER.to_string()),
            (None, Some(s)) => {
                let name = format!("upscale-x{s}");
                if shipped::find(&name).is_none() {
                    let have: Vec<String> = shipped::SHIPPED
                        .iter()
                        .filter(|m| m.card().descriptor.task == Some(Task::Upscale))
                        .map(|m| format!("x{}", m.card().descriptor.scale))
                        .collect();
                    return Err(Error::arg(format!(
                        "--scale {s}: regen ships no x{s} upscaler (it ships {}); give --model FILE",
                        have.join(", ")
                    )));
                }
                Some(name)
            }
        };
        let spec = model.or(shipped_name.as_deref());
        let r = Restorer::load_for(spec, task.or(Some(Task::Upscale)))?;
        let have = r.descriptor().scale;
        match scale {
            Some(s) if s != have => Err(Error::arg(format!(
                "--scale {s}: model {} enlarges by {have}",
                spec.unwrap_or("default")
            ))),
            _ => Ok(r),
        }
    }

    /// Builds from checkpoint bytes; `path` names the source in errors.
    pub fn from_bytes(path: &Path, bytes: Vec<u8>) -> Result<Restorer> {
        let card = checkpoint::read_card(path, &bytes)?;
        checkpoint::check_card(path, &card, Family::Restore)?;
        let arch = card
            .descriptor
            .restore_arch()
            .expect("a restorer's network (checked)");
        let mut net = arch.init(&crate::device::device());
        checkpoint::load_weights(path, bytes, &mut net)?;
        Ok(Restorer::new(net, card))
    }

    /// Wraps a network already in memory (e.g. during training) with the card that
    /// describes it (a restorer's).
    pub fn new(net: RestoreNet, card: ModelCard) -> Restorer {
        Restorer {
            net,
            margin: card.descriptor.margin(),
            // An upscaler's features are s^2 times larger per input pixel: smaller tiles
            // keep them to a few hundred megabytes (RRDBNet x4).
            tile: if card.descriptor.scale > 1 { 128 } else { 256 },
            card,
            ensemble: false,
            color: None,
        }
    }

    /// What the model is.
    pub fn descriptor(&self) -> &Descriptor {
        &self.card.descriptor
    }

    /// The task the model was trained for.
    pub fn task(&self) -> Task {
        self.descriptor().task.unwrap_or_default()
    }

    /// Whether the model (or the colour model beside it) takes a noise level.
    pub fn takes_sigma(&self) -> bool {
        self.descriptor().takes_sigma() || self.color.as_ref().is_some_and(|c| c.takes_sigma())
    }

    /// Whether the model that restores `image` (the colour one of a default pair for a
    /// colour image) takes a noise level.
    pub fn takes_sigma_for(&self, image: &Image) -> bool {
        self.model_for(image).descriptor().takes_sigma()
    }

    /// Checks a noise sigma (0-255) the user gives `model` (its name, `None` for the
    /// default): in range, and for a model that takes one.
    pub fn check_sigma(&self, sigma: f32, model: Option<&str>) -> Result<()> {
        crate::corrupt::Sigma::Fixed(sigma).validate()?;
        if !self.takes_sigma() {
            return Err(Error::arg(format!(
                "--sigma: model {} has no noise level input; leave --sigma out",
                model.unwrap_or("default")
            )));
        }
        Ok(())
    }

    /// Whether this is a deblurring model that must be told the blur kernel.
    pub fn non_blind(&self) -> bool {
        self.descriptor().takes_kernel()
    }

    /// The model that restores `image`: the colour one of a default pair for a colour
    /// image, else this one.
    fn model_for(&self, image: &Image) -> &Restorer {
        match &self.color {
            Some(c) if image.color_channels() == 3 => c,
            _ => self,
        }
    }

    /// Restores the colour channels of `image` told `cond` (the mask an inpainter fills,
    /// the kernel a non-blind deblurrer undoes, the sigma a noise level map is told; see
    /// [`Condition`]); alpha is copied. The tile, margin and ensemble settings are this
    /// restorer's, for the colour model of a default pair too.
    pub fn restore(&self, image: &Image, cond: &Condition) -> Image {
        self.model_for(image)
            .restore_image(image, cond, self.tiler_settings(), None)
    }

    /// As [`Restorer::restore`], telling `watch` the tiles done and stopping when it says
    /// so: `None` when cancelled.
    pub fn restore_watched(
        &self,
        image: &Image,
        cond: &Condition,
        watch: &dyn Watch,
    ) -> Option<Image> {
        let ticker = Ticker::new(watch);
        let out =
            self.model_for(image)
                .restore_image(image, cond, self.tiler_settings(), Some(&ticker));
        (!ticker.stopped()).then_some(out)
    }

    /// The tile, margin and ensemble settings (the margin is this model's; a colour model
    /// of a default pair keeps its own).
    fn tiler_settings(&self) -> (usize, Option<usize>, bool) {
        let own = self.margin != self.descriptor().margin();
        (self.tile, own.then_some(self.margin), self.ensemble)
    }

    fn restore_image(
        &self,
        image: &Image,
        cond: &Condition,
        (tile, margin, ensemble): (usize, Option<usize>, bool),
        ticker: Option<&Ticker>,
    ) -> Image {
        let d = self.descriptor();
        let tiler = Tiler {
            tile,
            margin: margin.unwrap_or(self.margin),
            scale: d.scale,
            multiple: d.restore_arch().map_or(1, |a| a.multiple()),
        };
        let (h, w, s) = (image.height, image.width, d.scale);
        let cc = image.color_channels();
        let mut out = image.clone();
        if s != 1 {
            out = scaled_like(image, s);
        }
        if let Some(t) = ticker {
            let calls = if d.image_channels() == 1 { cc } else { 1 };
            let views = if ensemble { 8 } else { 1 };
            t.expect(calls * tiler.tiles(h, w) * views);
        }
        let run =
            |planes: &[&[f32]]| self.restore_planes(planes, cond, &tiler, ensemble, ticker, h, w);
        match (d.image_channels(), cc) {
            (1, _) => {
                for c in 0..cc {
                    let r = run(&[image.plane(c)]);
                    out.plane_mut(c).copy_from_slice(&r[0]);
                }
            }
            (3, 3) => {
                let r = run(&[image.plane(0), image.plane(1), image.plane(2)]);
                for (c, p) in r.iter().enumerate() {
                    out.plane_mut(c).copy_from_slice(p);
                }
            }
            _ => {
                // A gray image through a colour model: as an RGB image with three equal
                // planes, whose restored planes are averaged back into one.
                let p = image.plane(0);
                let r = run(&[p, p, p]);
                let mean = (0..r[0].len()).map(|i| (r[0][i] + r[1][i] + r[2][i]) / 3.0);
                for (o, v) in out.plane_mut(0).iter_mut().zip(mean) {
                    *o = v;
                }
            }
        }
        out
    }

    /// Restores the model's image planes (one or three, `h` x `w`) together; values
    /// clamped to [0, 1].
    #[allow(clippy::too_many_arguments)]
    fn restore_planes(
        &self,
        image: &[&[f32]],
        cond: &Condition,
        tiler: &Tiler,
        ensemble: bool,
        ticker: Option<&Ticker>,
        h: usize,
        w: usize,
    ) -> Vec<Vec<f32>> {
        let d = self.descriptor();
        let sigma = d
            .takes_sigma()
            .then(|| cond.sigma.unwrap_or_else(|| estimate_sigma(image, h, w)));
        let cond = Condition { sigma, ..*cond };
        let inputs = planes::inputs(&d.inputs, image, &cond, h, w);
        if planes::nothing_missing(&d.inputs, &inputs) {
            return image.iter().map(|p| p.to_vec()).collect();
        }
        let forward = |x| self.net.forward(x);
        let mut out = if ensemble {
            tiler.run_ensemble(&inputs, h, w, ticker, &forward)
        } else {
            tiler.run(&inputs, h, w, ticker, &forward)
        };
        if out.is_empty() {
            // Cancelled before the first tile.
            out = vec![vec![0.0; h * w * d.scale * d.scale]; image.len()];
        }
        planes::finish(&d.inputs, image, &inputs, &mut out);
        out
    }
}

/// `image` at `s` times its size: its colour planes zero (to be filled), its alpha planes
/// repeated pixel for pixel, its metadata kept.
fn scaled_like(image: &Image, s: usize) -> Image {
    let (h, w) = (image.height, image.width);
    let mut out = Image {
        height: h * s,
        width: w * s,
        data: vec![0.0; image.channels * h * s * w * s],
        ..image.clone()
    };
    for c in image.color_channels()..image.channels {
        let src = image.plane(c).to_vec();
        for (i, v) in out.plane_mut(c).iter_mut().enumerate() {
            let (y, x) = (i / (w * s) / s, i % (w * s) / s);
            *v = src[y * w + x];
        }
    }
    out
}

/// Checks that a mask (file or folder) is given for inpainting, and only then, and that it
/// exists.
pub fn check_mask(task: Task, mask: Option<&Path>) -> Result<()> {
    match (task, mask) {
        (Task::Inpaint, None) => Err(Error::arg("--task inpaint needs --mask (white = missing)")),
        (Task::Inpaint, Some(m)) if !m.exists() => Err(Error::io(
            m,
            std::io::Error::from(std::io::ErrorKind::NotFound),
        )),
        (Task::Inpaint, _) | (_, None) => Ok(()),
        (_, Some(_)) => Err(Error::arg(format!(
            "--mask is for --task inpaint, not {task}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{Arch, RestoreConfig};

    /// A restorer of `task` around a fresh network of `config`.
    fn restorer(config: &RestoreConfig, task: Task) -> Restorer {
        let net = config.init(&crate::device::device());
        let inputs = planes::for_task(task, config.image_channels(), false, config.has_noise_map());
        let d = Descriptor::restore(task, config.architecture(), inputs).unwrap();
        Restorer::new(net, ModelCard::new(d, 0))
    }

    #[test]
    fn tiles_with_enough_margin_match_the_whole_image() {
        let config = RestoreConfig::new()
            .with_arch(Arch::DnCnn)
            .with_width(4)
            .with_depth(4);
        let mut r = restorer(&config, Task::Denoise);
        let (h, w) = (37, 50);
        let plane: Vec<f32> = (0..h * w)
            .map(|i| ((i * 37) % 101) as f32 / 100.0)
            .collect();
        let image = Image::gray(h, w, plane);
        let cond = Condition::default();
        r.tile = 1000;
        let whole = r.restore(&image, &cond).data;
        r.tile = 16;
        r.margin = 8; // receptive radius of 4 layers of 3x3 is 4
        let tiled = r.restore(&image, &cond).data;
        let diff = whole
            .iter()
            .zip(&tiled)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(diff < 1e-5, "max difference {diff}");
    }

    fn color_denoiser(width: usize) -> Restorer {
        let config = RestoreConfig::new()
            .with_arch(Arch::EncDec)
            .with_in_channels(4)
            .with_out_channels(3)
            .with_width(width)
            .with_depth(2)
            .with_noise_map(Some(true));
        restorer(&config, Task::Denoise)
    }

    fn rgb_image(h: usize, w: usize) -> Image {
        let data = (0..3 * h * w)
            .map(|i| ((i * 37) % 101) as f32 / 100.0)
            .collect();
        Image {
            channels: 3,
            data,
            ..Image::zeros(0, h, w)
        }
    }

    /// A colour model sees the three planes together: changing one plane of the input
    /// changes the others' output, which a channel-by-channel model cannot do. Its noise
    /// level plane holds sigma / 255, and the sigma it is told changes the result.
    #[test]
    fn a_colour_model_restores_the_planes_together_and_reads_its_noise_level() {
        // Wide enough that a random start never has every path through its ReLUs dead for
        // this input (at width 4 one of this test's first runs had, so no channel saw another).
        let r = color_denoiser(16);
        let img = rgb_image(12, 20);
        let told = |sigma: Option<f32>| Condition {
            sigma,
            ..Default::default()
        };
        let out = r.restore(&img, &told(None));
        assert_eq!((out.channels, out.height, out.width), (3, 12, 20));
        let mut red = img.clone();
        red.plane_mut(0).iter_mut().for_each(|v| *v = 1.0 - *v);
        let out_red = r.restore(&red, &told(None));
        assert_ne!(out.plane(1), out_red.plane(1), "green ignored red");

        let planes = [img.plane(0), img.plane(1), img.plane(2)];
        let inputs = planes::inputs(&r.descriptor().inputs, &planes, &told(Some(25.5)), 12, 20);
        assert_eq!(inputs.len(), 4);
        assert!(inputs[3].iter().all(|&v| v == 0.1));
        let low = r.restore(&img, &told(Some(5.0)));
        assert_ne!(low, r.restore(&img, &told(Some(45.0))));
        assert!(r.takes_sigma());
    }

    /// Counts the tiles it is told of and cancels after `stop_after` of them.
    struct Counter {
        seen: std::sync::Mutex<Vec<(usize, usize)>>,
        stop_after: usize,
    }

    impl Watch for Counter {
        fn tiles(&self, done: usize, total: usize) {
            self.seen.lock().unwrap().push((done, total));
        }
        fn cancelled(&self) -> bool {
            self.seen.lock().unwrap().len() >= self.stop_after
        }
    }

    /// A watched restoration reports every tile of every view and plane and gives the
    /// unwatched result; cancelled, it stops at the next tile and gives nothing.
    #[test]
    fn a_watched_restoration_counts_tiles_and_can_be_cancelled() {
        let mut r = color_denoiser(4);
        r.tile = 16;
        let img = rgb_image(20, 40); // 2 x 3 tiles
        let all = Counter {
            seen: Default::default(),
            stop_after: usize::MAX,
        };
        let ten = Condition {
            sigma: Some(10.0),
            ..Default::default()
        };
        let out = r.restore_watched(&img, &ten, &all);
        assert_eq!(out, Some(r.restore(&img, &ten)));
        let seen = all.seen.into_inner().unwrap();
        assert_eq!(seen, (1..=6).map(|d| (d, 6)).collect::<Vec<_>>());

        r.ensemble = true;
        let stop = Counter {
            seen: Default::default(),
            stop_after: 10,
        };
        assert_eq!(r.restore_watched(&img, &Condition::default(), &stop), None);
        let seen = stop.seen.into_inner().unwrap();
        assert_eq!(seen.len(), 10, "no tile after the cancel");
        assert_eq!(seen[9], (10, 48), "eight views of six tiles");
    }

    /// A gray image through a colour model is restored as an RGB image of three equal
    /// planes and comes back gray; alpha passes through.
    #[test]
    fn a_colour_model_takes_gray_images_and_keeps_alpha() {
        let r = color_denoiser(4);
        let (h, w) = (10, 14);
        let plane: Vec<f32> = (0..h * w).map(|i| (i % 7) as f32 / 7.0).collect();
        let mut ga = Image::zeros(2, h, w);
        ga.plane_mut(0).copy_from_slice(&plane);
        ga.plane_mut(1).iter_mut().for_each(|v| *v = 0.25);
        let out = r.restore(&ga, &Condition::default());
        assert_eq!(out.channels, 2);
        assert!(out.plane(1).iter().all(|&v| v == 0.25));
        let mut rgb = Image::zeros(3, h, w);
        for c in 0..3 {
            rgb.plane_mut(c).copy_from_slice(&plane);
        }
        let color = r.restore(&rgb, &Condition::default());
        for (i, &g) in out.plane(0).iter().enumerate() {
            let mean = (color.plane(0)[i] + color.plane(1)[i] + color.plane(2)[i]) / 3.0;
            assert!((g - mean).abs() < 1e-6);
        }
    }
}
