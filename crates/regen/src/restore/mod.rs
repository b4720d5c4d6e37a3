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
use crate::data::{Image, RowWriter, SaveOptions};
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
    /// Upscaling takes `scale` (2, 3 or 4): without a model, the first shipped upscaler of
    /// that factor (default 4); with one, a check that it is its factor.
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

    /// The upscaler `model`, or the first shipped one of factor `scale` (default 4: the
    /// photo upscaler, what people most upscale), checked to enlarge by `scale` when one
    /// is given.
    fn upscaler(model: Option<&str>, task: Option<Task>, scale: Option<usize>) -> Result<Restorer> {
        let shipped_name = match model {
            Some(_) => None,
            None => {
                let s = scale.unwrap_or(4);
                let upscalers: Vec<(&str, usize)> = shipped::SHIPPED
                    .iter()
                    .filter_map(|m| {
                        let d = m.card().descriptor;
                        (d.task == Some(Task::Upscale)).then_some((m.name, d.scale))
                    })
                    .collect();
                match upscalers.iter().find(|(_, k)| *k == s) {
                    Some((name, _)) => Some(name.to_string()),
                    None => {
                        let mut have: Vec<String> =
                            upscalers.iter().map(|(_, k)| format!("x{k}")).collect();
                        have.dedup();
                        let have = if have.is_empty() {
                            "none".to_string()
                        } else {
                            have.join(", ")
                        };
                        let asked = match scale {
                            Some(s) => format!("--scale {s}"),
                            None => "--task upscale".into(),
                        };
                        return Err(Error::arg(format!(
                            "{asked}: regen ships no x{s} upscaler (it ships {have}); give --model FILE"
                        )));
                    }
                }
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

    /// The network (tests compare what two restorers' networks compute).
    #[cfg(test)]
    pub(crate) fn net(&self) -> &RestoreNet {
        &self.net
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

    /// As [`Restorer::restore`], handing the result to `sink` in bands of whole rows, top
    /// to bottom, each as soon as its tiles are done, so that a large result (an upscaled
    /// photo) is never held whole: the bands, stacked, are exactly what `restore` returns.
    /// With the ensemble, whose views turn the whole image, the result is one band.
    pub fn restore_bands(
        &self,
        image: &Image,
        cond: &Condition,
        sink: &mut dyn FnMut(Image) -> Result<()>,
    ) -> Result<()> {
        let (tile, margin, ensemble) = self.tiler_settings();
        if ensemble {
            return sink(self.restore(image, cond));
        }
        self.model_for(image)
            .bands(image, cond, (tile, margin), None, sink)
    }

    /// Restores `image` into the file `path`: a PNG is written band by band as the tiles
    /// are done ([`RowWriter`]), so an upscaled photo is never held whole as f32 (nor
    /// with the ensemble, whose views need the whole image); other formats are encoded
    /// from the whole result.
    pub fn restore_to(
        &self,
        image: &Image,
        cond: &Condition,
        path: &Path,
        save: &SaveOptions,
    ) -> Result<()> {
        if !RowWriter::streams(path) || self.ensemble {
            return self.restore(image, cond).save_with(path, save);
        }
        let s = self.descriptor().scale;
        let meta = image.meta.scaled(s);
        let dims = (image.width * s, image.height * s, image.channels);
        let mut writer = RowWriter::create(path, dims, image.sixteen_bit, &meta, save)?;
        self.restore_bands(image, cond, &mut |band| writer.write(&band))?;
        writer.finish()
    }

    /// The tiler for this model at `tile` and `margin` (default: its own).
    fn tiler(&self, tile: usize, margin: Option<usize>) -> Tiler {
        let d = self.descriptor();
        Tiler {
            tile,
            margin: margin.unwrap_or(self.margin),
            scale: d.scale,
            multiple: d.restore_arch().map_or(1, |a| a.multiple()),
        }
    }

    /// The network's runs over `image`: each one's image planes and input planes, and how
    /// their outputs make the colour planes. A gray model runs once per colour plane, a
    /// colour model once (a gray image as three equal planes, averaged back).
    fn runs<'a>(&self, image: &'a Image, cond: &Condition) -> (Vec<Run<'a>>, Mix) {
        let d = self.descriptor();
        let (h, w) = (image.height, image.width);
        let groups: Vec<Vec<&[f32]>> = match (d.image_channels(), image.color_channels()) {
            (1, cc) => (0..cc).map(|c| vec![image.plane(c)]).collect(),
            (3, 3) => vec![vec![image.plane(0), image.plane(1), image.plane(2)]],
            _ => vec![vec![image.plane(0); 3]],
        };
        let mix = match (d.image_channels(), image.color_channels()) {
            (1, _) => Mix::PerPlane,
            (3, 3) => Mix::Together,
            _ => Mix::GrayMean,
        };
        let runs = groups
            .into_iter()
            .map(|planes| {
                let sigma = d
                    .takes_sigma()
                    .then(|| cond.sigma.unwrap_or_else(|| estimate_sigma(&planes, h, w)));
                let cond = Condition { sigma, ..*cond };
                let inputs = planes::inputs(&d.inputs, &planes, &cond, h, w);
                let copy = planes::nothing_missing(&d.inputs, &inputs);
                Run {
                    planes,
                    inputs,
                    copy,
                }
            })
            .collect();
        (runs, mix)
    }

    /// Restores `image` band by band (see [`Restorer::restore_bands`]); `false` when the
    /// ticker stopped it.
    fn bands(
        &self,
        image: &Image,
        cond: &Condition,
        (tile, margin): (usize, Option<usize>),
        ticker: Option<&Ticker>,
        sink: &mut dyn FnMut(Image) -> Result<()>,
    ) -> Result<()> {
        let tiler = self.tiler(tile, margin);
        let d = self.descriptor();
        let (h, w, s) = (image.height, image.width, d.scale);
        let (runs, mix) = self.runs(image, cond);
        if let Some(t) = ticker {
            let work = runs.iter().filter(|r| !r.copy).count();
            t.expect(work * tiler.tiles(h, w));
        }
        let forward = |x| self.net.forward(x);
        for y0 in tiler.bands(h) {
            let rows = tiler.band_rows(h, y0);
            let mut outs = Vec::with_capacity(runs.len());
            for run in &runs {
                let cut = |p: &[f32]| p[rows.start * w..rows.end * w].to_vec();
                let mut out = if run.copy {
                    run.planes.iter().map(|p| cut(p)).collect()
                } else {
                    match tiler.band(&run.inputs, h, w, y0, ticker, &forward) {
                        Some(o) => o,
                        None => return Ok(()),
                    }
                };
                let image_rows: Vec<Vec<f32>> = run.planes.iter().map(|p| cut(p)).collect();
                let image_rows: Vec<&[f32]> = image_rows.iter().map(Vec::as_slice).collect();
                let input_rows: Vec<Vec<f32>> = run.inputs.iter().map(|p| cut(p)).collect();
                planes::finish(&d.inputs, &image_rows, &input_rows, &mut out);
                outs.push(out);
            }
            sink(assemble(image, s, rows, mix, outs))?;
        }
        Ok(())
    }

    fn restore_image(
        &self,
        image: &Image,
        cond: &Condition,
        (tile, margin, ensemble): (usize, Option<usize>, bool),
        ticker: Option<&Ticker>,
    ) -> Image {
        let s = self.descriptor().scale;
        let mut out = Image {
            height: image.height * s,
            width: image.width * s,
            data: vec![0.0; image.channels * image.height * s * image.width * s],
            ..image.clone()
        };
        out.meta = image.meta.scaled(s);
        if ensemble {
            self.restore_ensemble(image, cond, (tile, margin), ticker, &mut out);
            return out;
        }
        let mut at = 0;
        let n = out.height * out.width;
        let sunk = self.bands(image, cond, (tile, margin), ticker, &mut |band| {
            let m = band.height * band.width;
            for c in 0..out.channels {
                out.data[c * n + at..c * n + at + m].copy_from_slice(band.plane(c));
            }
            at += m;
            Ok(())
        });
        sunk.expect("collecting bands cannot fail");
        out
    }

    /// The whole image through the eight views of the ensemble, into `out` (already
    /// `scale` times the image's size).
    fn restore_ensemble(
        &self,
        image: &Image,
        cond: &Condition,
        (tile, margin): (usize, Option<usize>),
        ticker: Option<&Ticker>,
        out: &mut Image,
    ) {
        let tiler = self.tiler(tile, margin);
        let d = self.descriptor();
        let (h, w, s) = (image.height, image.width, d.scale);
        let (runs, mix) = self.runs(image, cond);
        if let Some(t) = ticker {
            let work = runs.iter().filter(|r| !r.copy).count();
            t.expect(work * tiler.tiles(h, w) * 8);
        }
        let forward = |x| self.net.forward(x);
        let outs = runs
            .iter()
            .map(|run| {
                let mut o = if run.copy {
                    run.planes.iter().map(|p| p.to_vec()).collect()
                } else {
                    tiler.run_ensemble(&run.inputs, h, w, ticker, &forward)
                };
                if o.is_empty() {
                    // Cancelled before the first tile.
                    o = vec![vec![0.0; h * w * s * s]; run.planes.len()];
                }
                planes::finish(&d.inputs, &run.planes, &run.inputs, &mut o);
                o
            })
            .collect();
        let whole = assemble(image, s, 0..h, mix, outs);
        out.data = whole.data;
    }
}

/// One run of the network over an image: its image planes, its input planes, and whether
/// the network can be skipped (nothing to inpaint: the output is the input).
struct Run<'a> {
    planes: Vec<&'a [f32]>,
    inputs: Vec<Vec<f32>>,
    copy: bool,
}

/// How the runs' outputs make an image's colour planes.
#[derive(Clone, Copy)]
enum Mix {
    /// A gray model: one run per colour plane.
    PerPlane,
    /// A colour model on a colour image: one run, three planes.
    Together,
    /// A colour model on a gray image: one run on three equal planes, averaged.
    GrayMean,
}

/// The band of the result for input rows `rows`: the runs' outputs (each `s` times as many
/// rows, `s w` wide) made colour planes by `mix`, and the image's alpha planes for those
/// rows, enlarged by bicubic interpolation when `s` > 1.
fn assemble(
    image: &Image,
    s: usize,
    rows: std::ops::Range<usize>,
    mix: Mix,
    outs: Vec<Vec<Vec<f32>>>,
) -> Image {
    let (h, w) = (image.height, image.width);
    let mut colour: Vec<Vec<f32>> = match mix {
        Mix::PerPlane => outs.into_iter().map(|mut o| o.swap_remove(0)).collect(),
        Mix::Together => outs.into_iter().next().unwrap_or_default(),
        Mix::GrayMean => {
            let o = &outs[0];
            vec![
                (0..o[0].len())
                    .map(|i| (o[0][i] + o[1][i] + o[2][i]) / 3.0)
                    .collect(),
            ]
        }
    };
    for c in image.color_channels()..image.channels {
        let alpha = image.plane(c);
        colour.push(if s == 1 {
            alpha[rows.start * w..rows.end * w].to_vec()
        } else {
            let mut a = crate::corrupt::resize::resize_rows(
                alpha,
                h,
                w,
                (h * s, w * s),
                s as f64,
                crate::corrupt::resize::Kernel::Cubic,
                rows.start * s..rows.end * s,
            );
            a.iter_mut().for_each(|v| *v = v.clamp(0.0, 1.0));
            a
        });
    }
    Image {
        channels: image.channels,
        height: rows.len() * s,
        width: w * s,
        data: colour.concat(),
        sixteen_bit: image.sixteen_bit,
        meta: image.meta.scaled(s),
    }
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

    /// A 2000x1500 image (gray with alpha) through an x4 upscaler: tiled at the default 128
    /// pixels with the network's margin, streamed band by band, and in one pass over the
    /// whole image agree within 1e-5; the alpha is enlarged by bicubic interpolation.
    #[test]
    fn a_2000x1500_image_upscaled_in_tiles_equals_one_pass() {
        use crate::models::{CompactConfig, RestoreArch};
        let arch = RestoreArch::Compact(
            CompactConfig::new(1, 1)
                .with_features(4)
                .with_convs(3)
                .with_scale(4),
        );
        let net = arch.init(&crate::device::device());
        let inputs = planes::for_task(Task::Upscale, 1, false, false);
        let d = Descriptor::restore(Task::Upscale, arch, inputs).unwrap();
        let mut r = Restorer::new(net, ModelCard::new(d, 0));
        let (h, w) = (1500, 2000);
        let data = (0..2 * h * w)
            .map(|i| (((i % w) * 7 + (i / w) * 13 + (i * i) % 17) % 256) as f32 / 255.0)
            .collect();
        let img = Image {
            channels: 2,
            data,
            ..Image::zeros(0, h, w)
        };
        let cond = Condition::default();
        assert_eq!(r.tile, 128);
        let tiled = r.restore(&img, &cond);
        assert_eq!(
            (tiled.height, tiled.width, tiled.channels),
            (4 * h, 4 * w, 2)
        );
        let mut stacked: Vec<Vec<f32>> = vec![Vec::new(); 2];
        let mut bands = 0;
        r.restore_bands(&img, &cond, &mut |b| {
            for (c, p) in stacked.iter_mut().enumerate() {
                p.extend_from_slice(b.plane(c));
            }
            bands += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(bands, h.div_ceil(128));
        assert_eq!(
            stacked.concat(),
            tiled.data,
            "bands stack to the tiled result"
        );
        let alpha = crate::corrupt::resize::upscale(
            &img.channel(1),
            4,
            crate::corrupt::resize::Kernel::Cubic,
        );
        assert_eq!(
            tiled.plane(1),
            &alpha.data[..],
            "alpha is the bicubic enlargement"
        );
        r.tile = w;
        let whole = r.restore(&img, &cond);
        let gap = whole
            .data
            .iter()
            .zip(&tiled.data)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(gap <= 1e-5, "tiled and whole differ by {gap}");
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
