//! Running a restoration model on images of any size.
//!
//! Images are cut into overlapping tiles so memory stays bounded whatever the image size:
//! each tile carries `margin` pixels of context on every side (clamped to the image), and
//! only its core is kept. When `margin` covers the network's receptive field the result
//! equals processing the whole image at once, so no seams can show.
//!
//! A colour model (three image channels) restores the RGB planes together, so it can use
//! what the channels share; a grayscale model restores a colour image channel by channel.
//! Without `--model`, `regen restore` denoises gray images with the gray model and colour
//! images with the colour one ([`COLOR_DENOISER`]); it inpaints both with the colour
//! inpainter, which fills gray images (as three equal planes) better than the gray one does.
//! Alpha passes through untouched.
//!
//! Denoisers with a noise level map (FFDNet-style) are told the noise sigma: the user's
//! ([`Restorer::sigma`], `--sigma`), or else one estimated from each image by
//! [`crate::classical::estimate_sigma`].
//!
//! Inpainting models take the image's planes with their holes pre-filled by the harmonic
//! fill of the *whole* image, and the mask. The pre-fill is global, so a hole larger than a
//! tile (or than a tile's context) still gets a smooth estimate from its whole boundary, and
//! the network refines it tile by tile. Known pixels are copied to the output unchanged.
//!
//! Non-blind deblurring models (task `deblur`, two input planes) are given the blur kernel:
//! they see the blurred image and its Wiener deconvolution with that kernel (of the whole
//! image, mirror-padded, balance [`NONBLIND_BALANCE`]), as in Schuler et al. 2013. The
//! blurred image comes first, so a blind deblurrer's weights start one (`--init deblur`):
//! with zero weights on the new plane it computes exactly the blind model's output, and
//! training teaches it what the kernel-informed estimate adds.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use burn::tensor::{Tensor, TensorData};

use crate::checkpoint::{self, ModelCard};
use crate::classical::estimate_sigma;
use crate::corrupt::Task;
use crate::corrupt::blur::Kernel;
use crate::data::Image;
use crate::error::{Error, Result};
use crate::models::{RestoreConfig, RestoreNet};
use crate::shipped;

/// A loaded restoration model and how to tile with it.
pub struct Restorer {
    net: RestoreNet,
    config: RestoreConfig,
    task: Task,
    /// What the checkpoint says about itself.
    pub card: ModelCard,
    /// Core tile side in pixels.
    pub tile: usize,
    /// Context pixels around each tile.
    pub margin: usize,
    /// Average the results over the eight flips and 90-degree rotations (geometric
    /// self-ensemble): a little better, eight times slower.
    pub ensemble: bool,
    /// The blur to undo, for a non-blind deblurring model (see [`Restorer::non_blind`]);
    /// without one such a model assumes no blur and only cleans up.
    kernel: Option<Kernel>,
    /// The noise sigma (0-255) a model with a noise level map is told; `None`: estimated
    /// from each image.
    pub sigma: Option<f32>,
    /// The model for colour images, when this one is the shipped gray default.
    color: Option<Box<Restorer>>,
}

/// What one restoration call runs with: the [`Restorer`]'s settings, which the colour
/// model of a default pair takes from the gray one.
#[derive(Clone, Copy)]
struct Settings<'a> {
    tile: usize,
    margin: usize,
    ensemble: bool,
    sigma: Option<f32>,
    ticker: Option<&'a Ticker<'a>>,
}

/// Watches a long restoration (a large photo is many tiles): told how many tiles are done,
/// and asked before each tile whether to stop, so a web page can show progress and cancel.
pub trait Watch: Sync {
    /// `done` of `total` tiles are restored.
    fn tiles(&self, done: usize, total: usize);
    /// Whether to stop; checked before each tile.
    fn cancelled(&self) -> bool;
}

/// Counts the tiles of one restoration for its [`Watch`].
struct Ticker<'a> {
    watch: &'a dyn Watch,
    done: AtomicUsize,
    total: AtomicUsize,
    stopped: AtomicBool,
}

impl Ticker<'_> {
    /// Whether to go on with the next tile.
    fn go_on(&self) -> bool {
        if self.watch.cancelled() {
            self.stopped.store(true, Ordering::Relaxed);
        }
        !self.stopped.load(Ordering::Relaxed)
    }

    fn tile_done(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        self.watch.tiles(done, self.total.load(Ordering::Relaxed));
    }
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
        let m = shipped::default_for("restore", &task.to_string())
            .ok_or_else(|| Error::arg(format!("no shipped model for task {task}; pass --model")))?;
        Restorer::from_bytes(Path::new(m.name), m.bytes.to_vec())
    }

    /// `model` (a shipped name or a path), or the shipped default for `task` (for
    /// denoising, the gray model with the colour one beside it for colour images); a model
    /// of another task is refused, naming it.
    pub fn load_for(model: Option<&str>, task: Task) -> Result<Restorer> {
        let r = match model {
            Some(m) => Restorer::load(m)?,
            None => {
                let mut r = Restorer::shipped_default(task)?;
                if task == Task::Denoise && shipped::find(COLOR_DENOISER).is_some() {
                    r.color = Some(Box::new(Restorer::load(COLOR_DENOISER)?));
                }
                r
            }
        };
        if r.task() != task {
            return Err(Error::arg(format!(
                "--model {}: is a {} model, not {task}",
                model.unwrap_or("default"),
                r.task()
            )));
        }
        Ok(r)
    }

    /// The model that does `task`: `model` (a shipped name or a path) or the shipped
    /// default, which for a known blur `kernel` is the non-blind deblurrer. A model of
    /// another task, a non-blind deblurrer without a kernel and a blind one with a kernel
    /// are refused, naming the model.
    pub fn for_task(model: Option<&str>, task: Task, kernel: Option<Kernel>) -> Result<Restorer> {
        if kernel.is_some() && task != Task::Deblur {
            return Err(Error::arg(format!(
                "--blur, --blur-sigma and --length are for --task deblur, not {task}"
            )));
        }
        let spec = model.or(kernel.as_ref().map(|_| NON_BLIND_DEBLURRER));
        let mut r = Restorer::load_for(spec, task)?;
        let name = spec.unwrap_or("default");
        match (r.non_blind(), &kernel) {
            (true, None) => Err(Error::arg(format!(
                "--model {name}: is a non-blind deblurrer; give the blur with --blur-sigma S or --length L --angle A"
            ))),
            (false, Some(_)) => Err(Error::arg(format!(
                "--model {name}: is a blind deblurrer and takes no kernel; leave out the blur options or use --model {NON_BLIND_DEBLURRER}"
            ))),
            _ => {
                r.kernel = kernel;
                Ok(r)
            }
        }
    }

    /// Builds from checkpoint bytes; `path` names the source in errors.
    pub fn from_bytes(path: &Path, bytes: Vec<u8>) -> Result<Restorer> {
        let card = checkpoint::read_card(path, &bytes)?;
        checkpoint::check_card(path, &card, "restore")?;
        let config: RestoreConfig = serde_json::from_value(card.config.clone())
            .map_err(|e| Error::checkpoint(path, format!("bad model config: {e}")))?;
        card.task
            .parse::<Task>()
            .map_err(|e| Error::checkpoint(path, e.to_string()))?;
        config.validate()?;
        let mut net = config.init(&crate::device::device());
        checkpoint::load_weights(path, bytes, &mut net)?;
        Ok(Restorer::new(net, config, card))
    }

    /// Wraps a network already in memory (e.g. during training); the card's task is one
    /// of [`Task`]'s names (denoising if not).
    pub fn new(net: RestoreNet, config: RestoreConfig, card: ModelCard) -> Restorer {
        // 40 px of context covers DnCNN-20's receptive radius (20) with room to spare; the
        // encoder-decoder's field is wider but its far context carries little weight.
        Restorer {
            net,
            config,
            task: card.task.parse().unwrap_or_default(),
            card,
            tile: 256,
            margin: 40,
            ensemble: false,
            kernel: None,
            sigma: None,
            color: None,
        }
    }

    /// The network's config.
    pub fn config(&self) -> &RestoreConfig {
        &self.config
    }

    /// Whether the model (or the colour model beside it) takes a noise level.
    pub fn takes_sigma(&self) -> bool {
        self.config.has_noise_map() || self.color.as_ref().is_some_and(|c| c.takes_sigma())
    }

    /// Whether the model that restores `image` (the colour one of a default pair for a
    /// colour image) takes a noise level.
    pub fn takes_sigma_for(&self, image: &Image) -> bool {
        self.model_for(image).config.has_noise_map()
    }

    /// The model that restores `image`: the colour one of a default pair for a colour
    /// image, else this one.
    fn model_for(&self, image: &Image) -> &Restorer {
        match &self.color {
            Some(c) if image.color_channels() == 3 => c,
            _ => self,
        }
    }

    fn settings(&self) -> Settings<'_> {
        Settings {
            tile: self.tile,
            margin: self.margin,
            ensemble: self.ensemble,
            sigma: self.sigma,
            ticker: None,
        }
    }

    /// The task the model was trained for.
    pub fn task(&self) -> Task {
        self.task
    }

    /// Whether this is a deblurring model that must be told the blur kernel.
    pub fn non_blind(&self) -> bool {
        self.task == Task::Deblur && task_planes(&self.config) > self.config.image_channels()
    }

    /// Restores the colour channels of `image`; alpha is copied.
    pub fn restore(&self, image: &Image) -> Image {
        self.restore_masked(image, None)
    }

    /// Restores `image` with the pixels where `mask > 0.5` missing (one mask value per
    /// pixel, for every channel). Only inpainting models use the mask; for them no mask
    /// means nothing is missing and the image comes back unchanged.
    pub fn restore_masked(&self, image: &Image, mask: Option<&[f32]>) -> Image {
        self.restore_with(image, mask, self.kernel.as_ref())
    }

    /// As [`Restorer::restore_masked`], with `kernel` (instead of the one given to
    /// [`Restorer::for_task`]) as the blur a non-blind deblurring model undoes.
    pub fn restore_with(
        &self,
        image: &Image,
        mask: Option<&[f32]>,
        kernel: Option<&Kernel>,
    ) -> Image {
        self.restore_told(image, mask, kernel, self.sigma)
    }

    /// As [`Restorer::restore_with`], telling a model with a noise level map the noise
    /// sigma `sigma` (0-255) instead of [`Restorer::sigma`]; `None` estimates it.
    pub fn restore_told(
        &self,
        image: &Image,
        mask: Option<&[f32]>,
        kernel: Option<&Kernel>,
        sigma: Option<f32>,
    ) -> Image {
        let model = self.model_for(image);
        let s = Settings {
            sigma,
            ..self.settings()
        };
        model.restore_image(image, mask, kernel, s)
    }

    /// As [`Restorer::restore_masked`] with `sigma` told to a model that takes a noise
    /// level (`None`: estimated), telling `watch` the tiles done and stopping when it says
    /// so: `None` when cancelled.
    pub fn restore_watched(
        &self,
        image: &Image,
        mask: Option<&[f32]>,
        sigma: Option<f32>,
        watch: &dyn Watch,
    ) -> Option<Image> {
        let kernel = self.kernel.as_ref();
        let ticker = Ticker {
            watch,
            done: AtomicUsize::new(0),
            total: AtomicUsize::new(0),
            stopped: AtomicBool::new(false),
        };
        let model = self.model_for(image);
        let s = Settings {
            sigma,
            ticker: Some(&ticker),
            ..self.settings()
        };
        let out = model.restore_image(image, mask, kernel, s);
        (!ticker.stopped.load(Ordering::Relaxed)).then_some(out)
    }

    fn restore_image(
        &self,
        image: &Image,
        mask: Option<&[f32]>,
        kernel: Option<&Kernel>,
        s: Settings,
    ) -> Image {
        let mut out = image.clone();
        let (h, w) = (image.height, image.width);
        let cc = image.color_channels();
        if let Some(t) = s.ticker {
            let calls = if self.config.image_channels() == 1 {
                cc
            } else {
                1
            };
            let per_call = h.div_ceil(s.tile.max(8)) * w.div_ceil(s.tile.max(8));
            let views = if s.ensemble { 8 } else { 1 };
            t.total.store(calls * per_call * views, Ordering::Relaxed);
        }
        match (self.config.image_channels(), cc) {
            (1, _) => {
                for c in 0..cc {
                    let r = self.restore_planes(&[image.plane(c)], mask, kernel, s, h, w);
                    out.plane_mut(c).copy_from_slice(&r[0]);
                }
            }
            (3, 3) => {
                let planes = [image.plane(0), image.plane(1), image.plane(2)];
                let r = self.restore_planes(&planes, mask, kernel, s, h, w);
                for (c, p) in r.iter().enumerate() {
                    out.plane_mut(c).copy_from_slice(p);
                }
            }
            _ => {
                // A gray image through a colour model: as an RGB image with three equal
                // planes, whose restored planes are averaged back into one.
                let p = image.plane(0);
                let r = self.restore_planes(&[p, p, p], mask, kernel, s, h, w);
                let mean = (0..h * w).map(|i| (r[0][i] + r[1][i] + r[2][i]) / 3.0);
                for (o, v) in out.plane_mut(0).iter_mut().zip(mean) {
                    *o = v;
                }
            }
        }
        out
    }

    /// Restores one `h` x `w` plane (values clamped to [0, 1]) with a gray model; `mask`
    /// as in [`Restorer::restore_masked`], `kernel` as in [`Restorer::restore_with`].
    pub fn restore_plane(
        &self,
        plane: &[f32],
        mask: Option<&[f32]>,
        kernel: Option<&Kernel>,
        h: usize,
        w: usize,
    ) -> Vec<f32> {
        let mut r = self.restore_planes(&[plane], mask, kernel, self.settings(), h, w);
        r.swap_remove(0)
    }

    /// Restores the model's image planes (one or three, `h` x `w`) together; values
    /// clamped to [0, 1].
    fn restore_planes(
        &self,
        image: &[&[f32]],
        mask: Option<&[f32]>,
        kernel: Option<&Kernel>,
        s: Settings,
        h: usize,
        w: usize,
    ) -> Vec<Vec<f32>> {
        let c = image.len();
        let inpaint = self.task == Task::Inpaint && task_planes(&self.config) > c;
        let sigma = self
            .config
            .has_noise_map()
            .then(|| s.sigma.unwrap_or_else(|| estimate_sigma(image, h, w)));
        let planes = model_inputs(&self.config, self.task, image, mask, kernel, sigma, h, w);
        if inpaint && !planes[c].iter().any(|&m| m > 0.5) {
            return image.iter().map(|p| p.to_vec()).collect();
        }
        let mut out = if s.ensemble {
            let mut acc = vec![vec![0.0f32; h * w]; c];
            for t in 0..8 {
                let (th, tw) = if t & 4 != 0 { (w, h) } else { (h, w) };
                let map = dihedral_map(t, h, w);
                let moved: Vec<Vec<f32>> = planes
                    .iter()
                    .map(|p| map.iter().map(|&i| p[i]).collect())
                    .collect();
                let r = self.restore_tiled(&moved, th, tw, s);
                for (a, rp) in acc.iter_mut().zip(&r) {
                    for (k, &i) in map.iter().enumerate() {
                        a[i] += rp[k] / 8.0;
                    }
                }
            }
            acc
        } else {
            self.restore_tiled(&planes, h, w, s)
        };
        for (o, plane) in out.iter_mut().zip(image) {
            if inpaint {
                for ((o, &mv), &known) in o.iter_mut().zip(&planes[c]).zip(plane.iter()) {
                    if mv <= 0.5 {
                        *o = known;
                    }
                }
            }
            for v in o.iter_mut() {
                *v = v.clamp(0.0, 1.0);
            }
        }
        out
    }

    /// Restores the image planes tile by tile, without clamping.
    fn restore_tiled(&self, planes: &[Vec<f32>], h: usize, w: usize, s: Settings) -> Vec<Vec<f32>> {
        let c = self.config.image_channels();
        let mut out = vec![vec![0.0; h * w]; c];
        let (t, m) = (s.tile.max(8), s.margin);
        for y0 in (0..h).step_by(t) {
            for x0 in (0..w).step_by(t) {
                if s.ticker.is_some_and(|k| !k.go_on()) {
                    return out;
                }
                let (y1, x1) = ((y0 + t).min(h), (x0 + t).min(w));
                let (cy0, cx0) = (y0.saturating_sub(m), x0.saturating_sub(m));
                let (cy1, cx1) = ((y1 + m).min(h), (x1 + m).min(w));
                let (th, tw) = (cy1 - cy0, cx1 - cx0);
                let tiles: Vec<Vec<f32>> = planes
                    .iter()
                    .map(|p| {
                        let mut tile = Vec::with_capacity(th * tw);
                        for y in cy0..cy1 {
                            tile.extend_from_slice(&p[y * w + cx0..y * w + cx1]);
                        }
                        tile
                    })
                    .collect();
                let res = self.run(&tiles, th, tw);
                for (o, r) in out.iter_mut().zip(&res) {
                    for y in y0..y1 {
                        let src = (y - cy0) * tw + (x0 - cx0);
                        o[y * w + x0..y * w + x1].copy_from_slice(&r[src..src + (x1 - x0)]);
                    }
                }
                if let Some(k) = s.ticker {
                    k.tile_done();
                }
            }
        }
        out
    }

    /// One forward pass on `h` x `w` input planes, padded by reflection to the network's
    /// multiple and cropped back: one plane per image channel.
    fn run(&self, planes: &[Vec<f32>], h: usize, w: usize) -> Vec<Vec<f32>> {
        let k = self.config.multiple();
        let (ph, pw) = (h.div_ceil(k) * k, w.div_ceil(k) * k);
        let mut padded = Vec::with_capacity(planes.len() * ph * pw);
        for p in planes {
            padded.extend(crate::pad::pad_reflect(p, h, w, ph, pw));
        }
        let device = crate::device::device();
        let x = Tensor::<4>::from_data(TensorData::new(padded, [1, planes.len(), ph, pw]), &device);
        let y: Vec<f32> = self
            .net
            .forward(x)
            .into_data()
            .try_to_vec::<f32>()
            .expect("f32 output");
        y.chunks(ph * pw)
            .map(|p| {
                let mut out = Vec::with_capacity(h * w);
                for r in 0..h {
                    out.extend_from_slice(&p[r * pw..r * pw + w]);
                }
                out
            })
            .collect()
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

/// Reads an inpainting mask for an `h` x `w` image: white (> 0.5 in the first channel) is
/// missing. A mask of another size, or one with every pixel missing, is refused.
pub fn load_mask(path: &Path, h: usize, w: usize) -> Result<Vec<f32>> {
    mask_from_image(&Image::load(path)?, h, w).map_err(|reason| Error::bad_file(path, reason))
}

/// The inpainting mask an image holds, as [`load_mask`] reads it; the error says what is
/// wrong with it.
pub fn mask_from_image(m: &Image, h: usize, w: usize) -> std::result::Result<Vec<f32>, String> {
    if (m.height, m.width) != (h, w) {
        return Err(format!(
            "mask is {}x{} but the image is {w}x{h}; masks must have the image's size",
            m.width, m.height
        ));
    }
    let v: Vec<f32> = m
        .plane(0)
        .iter()
        .map(|&x| if x > 0.5 { 1.0 } else { 0.0 })
        .collect();
    if v.iter().all(|&x| x > 0.5) {
        return Err("mask marks every pixel as missing; nothing is left to inpaint from".into());
    }
    Ok(v)
}

/// The mask of an image's transparent pixels (alpha below one half are missing), for
/// inpainting what a user erased in a paint program; `None` when it has no alpha.
pub fn mask_from_alpha(image: &Image) -> Option<Vec<f32>> {
    let a = image.channels.checked_sub(image.color_channels())?;
    (a > 0).then(|| {
        image
            .plane(image.color_channels())
            .iter()
            .map(|&x| if x < 0.5 { 1.0 } else { 0.0 })
            .collect()
    })
}

/// Wiener balance of the estimate a non-blind deblurring model is given: a little sharper
/// and noisier than the best Wiener on its own (0.003 at noise sigma 2 on Set12), since the
/// network can remove noise but not recover detail a stronger regulariser took away.
pub const NONBLIND_BALANCE: f64 = 0.002;

/// Input planes of `config`'s network that come from the task (all but the noise map).
fn task_planes(config: &RestoreConfig) -> usize {
    config.in_channels - usize::from(config.has_noise_map())
}

/// The input planes of `config`'s network for a damaged image (its `image` planes, one or
/// three, each `h` x `w`) of a `task` model: the image planes themselves; for inpainting
/// with a mask input, each plane with its holes (`mask > 0.5`) harmonic-filled and then the
/// mask as 0/1; for non-blind deblurring, the planes and then their Wiener deconvolutions
/// with `kernel` (none: no blur); last, for a model with a noise level map, a plane of
/// `sigma / 255` (0 if none is given). Training and inference both build inputs here.
#[allow(clippy::too_many_arguments)]
pub fn model_inputs(
    config: &RestoreConfig,
    task: Task,
    image: &[&[f32]],
    mask: Option<&[f32]>,
    kernel: Option<&Kernel>,
    sigma: Option<f32>,
    h: usize,
    w: usize,
) -> Vec<Vec<f32>> {
    let extra = task_planes(config) > image.len();
    let mut out: Vec<Vec<f32>> = Vec::with_capacity(config.in_channels);
    if extra && task == Task::Deblur {
        let k = kernel.cloned().unwrap_or_else(Kernel::identity);
        out.extend(image.iter().map(|p| p.to_vec()));
        for p in image {
            out.push(crate::classical::wiener_mirrored(
                p,
                h,
                w,
                &k,
                NONBLIND_BALANCE,
            ));
        }
    } else if extra && task == Task::Inpaint {
        let m: Vec<f32> = match mask {
            Some(m) => m.iter().map(|&v| if v > 0.5 { 1.0 } else { 0.0 }).collect(),
            None => vec![0.0; h * w],
        };
        for p in image {
            out.push(crate::classical::harmonic_fill(p, &m, h, w));
        }
        out.push(m);
    } else {
        out.extend(image.iter().map(|p| p.to_vec()));
    }
    if config.has_noise_map() {
        out.push(vec![sigma.unwrap_or(0.0) / 255.0; h * w]);
    }
    out
}

/// For transform `t` (0..8) of an `h` x `w` plane: entry k is the source index of pixel k of
/// the transformed plane, which is `w` x `h` when bit 2 (transpose) is set. Bit 0 flips
/// horizontally and bit 1 vertically, in the transformed frame.
pub fn dihedral_map(t: usize, h: usize, w: usize) -> Vec<usize> {
    let (th, tw) = if t & 4 != 0 { (w, h) } else { (h, w) };
    let mut map = Vec::with_capacity(h * w);
    for y in 0..th {
        for x in 0..tw {
            let a = if t & 2 != 0 { th - 1 - y } else { y };
            let b = if t & 1 != 0 { tw - 1 - x } else { x };
            let (sy, sx) = if t & 4 != 0 { (b, a) } else { (a, b) };
            map.push(sy * w + sx);
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Arch;

    #[test]
    fn dihedral_maps_are_eight_distinct_permutations() {
        let (h, w) = (2, 3);
        let mut seen = std::collections::HashSet::new();
        for t in 0..8 {
            let mut m = dihedral_map(t, h, w);
            seen.insert(m.clone());
            m.sort();
            assert_eq!(m, (0..h * w).collect::<Vec<_>>());
        }
        assert_eq!(seen.len(), 8);
        // Transpose of [[0,1,2],[3,4,5]] is [[0,3],[1,4],[2,5]].
        assert_eq!(dihedral_map(4, h, w), vec![0, 3, 1, 4, 2, 5]);
    }

    #[test]
    fn tiles_with_enough_margin_match_the_whole_image() {
        let config = RestoreConfig::new()
            .with_arch(Arch::DnCnn)
            .with_width(4)
            .with_depth(4);
        let net = config.init(&crate::device::device());
        let card = ModelCard::new(
            "restore",
            "denoise",
            serde_json::to_value(&config).unwrap(),
            0,
        );
        let mut r = Restorer::new(net, config, card);
        let (h, w) = (37, 50);
        let plane: Vec<f32> = (0..h * w)
            .map(|i| ((i * 37) % 101) as f32 / 100.0)
            .collect();
        r.tile = 1000;
        let whole = r.restore_plane(&plane, None, None, h, w);
        r.tile = 16;
        r.margin = 8; // receptive radius of 4 layers of 3x3 is 4
        let tiled = r.restore_plane(&plane, None, None, h, w);
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
        let net = config.init(&crate::device::device());
        let card = ModelCard::new(
            "restore",
            "denoise",
            serde_json::to_value(&config).unwrap(),
            0,
        );
        Restorer::new(net, config, card)
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
        let mut r = color_denoiser(16);
        let img = rgb_image(12, 20);
        let out = r.restore(&img);
        assert_eq!((out.channels, out.height, out.width), (3, 12, 20));
        let mut red = img.clone();
        red.plane_mut(0).iter_mut().for_each(|v| *v = 1.0 - *v);
        let out_red = r.restore(&red);
        assert_ne!(out.plane(1), out_red.plane(1), "green ignored red");

        let planes = [img.plane(0), img.plane(1), img.plane(2)];
        let inputs = model_inputs(
            r.config(),
            Task::Denoise,
            &planes,
            None,
            None,
            Some(25.5),
            12,
            20,
        );
        assert_eq!(inputs.len(), 4);
        assert!(inputs[3].iter().all(|&v| v == 0.1));
        r.sigma = Some(5.0);
        let low = r.restore(&img);
        r.sigma = Some(45.0);
        assert_ne!(low, r.restore(&img));
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
        let out = r.restore_watched(&img, None, Some(10.0), &all);
        assert_eq!(out, Some(r.restore_told(&img, None, None, Some(10.0))));
        let seen = all.seen.into_inner().unwrap();
        assert_eq!(seen, (1..=6).map(|d| (d, 6)).collect::<Vec<_>>());

        r.ensemble = true;
        let stop = Counter {
            seen: Default::default(),
            stop_after: 10,
        };
        assert_eq!(r.restore_watched(&img, None, None, &stop), None);
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
        let out = r.restore(&ga);
        assert_eq!(out.channels, 2);
        assert!(out.plane(1).iter().all(|&v| v == 0.25));
        let mut rgb = Image::zeros(3, h, w);
        for c in 0..3 {
            rgb.plane_mut(c).copy_from_slice(&plane);
        }
        let color = r.restore(&rgb);
        for (i, &g) in out.plane(0).iter().enumerate() {
            let mean = (color.plane(0)[i] + color.plane(1)[i] + color.plane(2)[i]) / 3.0;
            assert!((g - mean).abs() < 1e-6);
        }
    }
}
