//! Random training patches with the eight flips and 90-degree rotations, and seeded
//! train/validation splits.

use crate::data::Image;
use crate::rng::Rng;

/// Draws square patches from a set of images, all with the same number of channels.
pub struct PatchSampler {
    images: Vec<Image>,
    /// Side of each patch in pixels.
    pub size: usize,
}

impl PatchSampler {
    /// A sampler over `images` (the same channel count each, at least `size` on both
    /// sides).
    pub fn new(images: Vec<Image>, size: usize) -> Self {
        assert!(images.iter().all(|i| i.height >= size && i.width >= size));
        assert!(images.iter().all(|i| i.channels == images[0].channels));
        PatchSampler { images, size }
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.images.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.images.is_empty()
    }

    /// Channels of each patch.
    pub fn channels(&self) -> usize {
        self.images.first().map_or(1, |i| i.channels)
    }

    /// One patch, `channels * size * size` values, plane by plane, row-major: a random
    /// image, a random position and a random one of the eight dihedral transforms.
    pub fn sample(&self, rng: &mut Rng) -> Vec<f32> {
        let img = &self.images[rng.below(self.images.len())];
        let s = self.size;
        let y0 = rng.below(img.height - s + 1);
        let x0 = rng.below(img.width - s + 1);
        let t = rng.below(8);
        let mut out = vec![0.0; img.channels * s * s];
        for (c, dst) in out.chunks_mut(s * s).enumerate() {
            let src = img.plane(c);
            for y in 0..s {
                for x in 0..s {
                    let (sy, sx) = dihedral(t, y, x, s);
                    dst[y * s + x] = src[(y0 + sy) * img.width + x0 + sx];
                }
            }
        }
        out
    }
}

/// Maps output position (y, x) to the source position under transform `t` (0..8) of an
/// `s` x `s` square: bit 0 flips horizontally, bit 1 flips vertically, bit 2 transposes.
pub fn dihedral(t: usize, y: usize, x: usize, s: usize) -> (usize, usize) {
    let (mut y, mut x) = if t & 4 != 0 { (x, y) } else { (y, x) };
    if t & 1 != 0 {
        x = s - 1 - x;
    }
    if t & 2 != 0 {
        y = s - 1 - y;
    }
    (y, x)
}

/// Splits indices 0..n into (train, validation) with `val` items in validation, chosen by
/// a seeded shuffle.
pub fn split(n: usize, val: usize, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut idx: Vec<usize> = (0..n).collect();
    let mut rng = Rng::new(seed);
    rng.shuffle(&mut idx);
    let val = val.min(n);
    let v = idx[..val].to_vec();
    let mut t = idx[val..].to_vec();
    t.sort();
    let mut v = v;
    v.sort();
    (t, v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dihedral_transforms_are_eight_distinct_bijections() {
        let s = 3;
        let mut seen = std::collections::HashSet::new();
        for t in 0..8 {
            let map: Vec<_> = (0..s * s).map(|k| dihedral(t, k / s, k % s, s)).collect();
            let uniq: std::collections::HashSet<_> = map.iter().collect();
            assert_eq!(uniq.len(), s * s);
            seen.insert(map);
        }
        assert_eq!(seen.len(), 8);
    }

    #[test]
    fn split_is_seeded_and_disjoint() {
        let (t, v) = split(10, 3, 5);
        assert_eq!((t.len(), v.len()), (7, 3));
        assert!(v.iter().all(|i| !t.contains(i)));
        assert_eq!(split(10, 3, 5), (t, v));
    }
}
