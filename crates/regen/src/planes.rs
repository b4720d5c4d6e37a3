//! The damage's side of a restoration model: which input planes it takes ([`Plane`], in
//! order, as its descriptor lists them) and how a task's condition (the mask, the blur
//! kernel, the noise sigma) turns a damaged image into those planes ([`inputs`]) and the
//! network's output back into the restored image ([`finish`]). Training and inference both
//! go through here, so a model sees at inference exactly what it saw in training.
//!
//! - Denoising: the image planes, then (FFDNet-style) a plane of `sigma / 255`.
//! - Inpainting: each image plane with its holes pre-filled by the harmonic fill of the
//!   whole plane, then the mask (1 = missing). Known pixels are copied to the output.
//! - Non-blind deblurring: the blurred planes, then their Wiener deconvolutions with the
//!   known kernel (of the whole image, mirror-padded, balance [`NONBLIND_BALANCE`]), as in
//!   Schuler et al. 2013. The blurred image comes first, so a blind deblurrer's weights
//!   start one (`--init deblur`): with zero weights on the new planes it computes exactly
//!   the blind model's output.

use serde::{Deserialize, Serialize};

use crate::classical::{harmonic_fill, wiener_mirrored};
use crate::corrupt::Task;
use crate::corrupt::blur::Kernel;

/// One input plane of a restoration network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Plane {
    /// Channel `c` of the damaged image, as it is.
    Image(usize),
    /// Channel `c` with the mask's holes harmonic-filled (inpainting).
    Filled(usize),
    /// The inpainting mask: 1 where a pixel is missing, 0 elsewhere.
    Mask,
    /// Channel `c` deconvolved with the known blur kernel (non-blind deblurring).
    Deconvolved(usize),
    /// The noise sigma / 255 at every pixel (a noise level map).
    NoiseLevel,
}

/// What the user (or the training damage) tells a model besides the image.
#[derive(Clone, Copy, Debug, Default)]
pub struct Condition<'a> {
    /// Inpainting: one value per pixel, > 0.5 = missing. None: nothing is missing.
    pub mask: Option<&'a [f32]>,
    /// Non-blind deblurring: the blur to undo. None: no blur (the model only cleans up).
    pub kernel: Option<&'a Kernel>,
    /// The noise sigma (0-255) a model with a noise level map is told. None: estimated
    /// from the image at inference ([`crate::classical::estimate_sigma`]).
    pub sigma: Option<f32>,
}

/// Wiener balance of the estimate a non-blind deblurring model is given: a little sharper
/// and noisier than the best Wiener on its own (0.003 at noise sigma 2 on Set12), since the
/// network can remove noise but not recover detail a stronger regulariser took away.
pub const NONBLIND_BALANCE: f64 = 0.002;

/// The planes of a network for `task` on `channels`-channel images: see the module notes.
/// `non_blind` applies to deblurring only.
pub fn for_task(task: Task, channels: usize, non_blind: bool, noise_map: bool) -> Vec<Plane> {
    let mut planes: Vec<Plane> = match task {
        Task::Inpaint => (0..channels).map(Plane::Filled).collect(),
        _ => (0..channels).map(Plane::Image).collect(),
    };
    match task {
        Task::Inpaint => planes.push(Plane::Mask),
        Task::Deblur if non_blind => planes.extend((0..channels).map(Plane::Deconvolved)),
        _ => {}
    }
    if noise_map {
        planes.push(Plane::NoiseLevel);
    }
    planes
}

/// The planes of a network of `task` that counts `in_channels` planes for `channels` image
/// channels, as checkpoints from before descriptors said them (by count): `None` when the
/// count fits no layout of the task.
pub fn from_count(
    task: Task,
    channels: usize,
    in_channels: usize,
    noise_map: bool,
) -> Option<Vec<Plane>> {
    let extra = in_channels.checked_sub(channels + usize::from(noise_map))?;
    let mut planes = match (task, extra) {
        // An inpainter without a mask input sees the image with its holes as they are.
        (_, 0) => (0..channels).map(Plane::Image).collect(),
        (Task::Inpaint, 1) => for_task(task, channels, false, false),
        (Task::Deblur, e) if e == channels => for_task(task, channels, true, false),
        _ => return None,
    };
    if noise_map {
        planes.push(Plane::NoiseLevel);
    }
    Some(planes)
}

/// Image channels among `planes` (the channels the network restores).
pub fn image_channels(planes: &[Plane]) -> usize {
    planes
        .iter()
        .filter(|p| matches!(p, Plane::Image(_) | Plane::Filled(_)))
        .count()
}

/// The input planes for a damaged image (its `image` planes, each `h` x `w`): each
/// `Image` plane as it is, each `Filled` one with the mask's holes harmonic-filled, the
/// mask as 0/1 (none: nothing missing), each `Deconvolved` one with the condition's kernel
/// (none: no blur), and `sigma / 255` (0 if none is given) for a noise level map.
pub fn inputs(
    planes: &[Plane],
    image: &[&[f32]],
    cond: &Condition,
    h: usize,
    w: usize,
) -> Vec<Vec<f32>> {
    let mask = || -> Vec<f32> {
        match cond.mask {
            Some(m) => m.iter().map(|&v| if v > 0.5 { 1.0 } else { 0.0 }).collect(),
            None => vec![0.0; h * w],
        }
    };
    let kernel = cond.kernel.cloned().unwrap_or_else(Kernel::identity);
    let binary = planes.contains(&Plane::Mask).then(mask);
    planes
        .iter()
        .map(|&p| match p {
            Plane::Image(c) => image[c].to_vec(),
            Plane::Filled(c) => harmonic_fill(image[c], binary.as_ref().expect("mask"), h, w),
            Plane::Mask => binary.clone().unwrap_or_else(mask),
            Plane::Deconvolved(c) => wiener_mirrored(image[c], h, w, &kernel, NONBLIND_BALANCE),
            Plane::NoiseLevel => vec![cond.sigma.unwrap_or(0.0) / 255.0; h * w],
        })
        .collect()
}

/// Where the model takes a mask, whether `inputs` (made by [`inputs`]) leave nothing to do:
/// no pixel is missing, so the image comes back unchanged.
pub fn nothing_missing(planes: &[Plane], inputs: &[Vec<f32>]) -> bool {
    planes
        .iter()
        .position(|&p| p == Plane::Mask)
        .is_some_and(|i| !inputs[i].iter().any(|&m| m > 0.5))
}

/// Turns the network's output planes into the restored image planes: with a mask input,
/// each known pixel (mask <= 0.5) is the damaged image's own; then every value is clamped to
/// [0, 1]. `inputs` are the planes [`inputs`] made, at the output's size (scale 1).
pub fn finish(planes: &[Plane], image: &[&[f32]], inputs: &[Vec<f32>], out: &mut [Vec<f32>]) {
    let mask = planes.iter().position(|&p| p == Plane::Mask);
    for (o, plane) in out.iter_mut().zip(image) {
        if let Some(i) = mask {
            for ((o, &mv), &known) in o.iter_mut().zip(&inputs[i]).zip(plane.iter()) {
                if mv <= 0.5 {
                    *o = known;
                }
            }
        }
        for v in o.iter_mut() {
            *v = v.clamp(0.0, 1.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each task's layout, and the count-based reading of old checkpoints gives it back.
    #[test]
    fn layouts_by_task_and_by_count_agree() {
        use Plane::*;
        assert_eq!(
            for_task(Task::Denoise, 1, false, true),
            [Image(0), NoiseLevel]
        );
        assert_eq!(
            for_task(Task::Inpaint, 3, false, false),
            [Filled(0), Filled(1), Filled(2), Mask]
        );
        assert_eq!(
            for_task(Task::Deblur, 1, true, false),
            [Image(0), Deconvolved(0)]
        );
        assert_eq!(
            for_task(Task::Deblur, 1, false, true),
            [Image(0), NoiseLevel]
        );
        for task in [Task::Denoise, Task::Inpaint, Task::Deblur] {
            for c in [1, 3] {
                for (nb, map) in [(false, false), (true, false), (false, true), (true, true)] {
                    let p = for_task(task, c, nb, map);
                    assert_eq!(from_count(task, c, p.len(), map), Some(p.clone()));
                    assert_eq!(image_channels(&p), c);
                }
            }
        }
        assert_eq!(from_count(Task::Inpaint, 1, 3, false), None);
        assert_eq!(from_count(Task::Denoise, 3, 2, false), None);
    }
}
