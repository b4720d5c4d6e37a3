//! Masks of missing pixels for inpainting: 1 = missing, 0 = known, one value per pixel.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::rng::Rng;

/// How the missing region is drawn. Sizes are fractions of the image side (of the shorter
/// side for brush widths), so a mask kind means the same on a thumbnail and on a photo.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MaskKind {
    /// One box of `frac` x `frac` of the sides, centred.
    CenterBox {
        /// Side of the box as a fraction of the image's.
        frac: f32,
    },
    /// `count` boxes, each side uniform in [0.05, `max_frac`] of the image's, anywhere.
    Boxes {
        /// Number of boxes.
        count: usize,
        /// Largest side fraction.
        max_frac: f32,
    },
    /// Free-form brush strokes (random polylines of random width, as in DeepFill v2) until
    /// a coverage drawn uniformly from `coverage` is reached.
    Strokes {
        /// Range of the fraction of pixels missing.
        coverage: (f32, f32),
        /// Range of brush widths as fractions of the shorter side.
        width: (f32, f32),
    },
}

/// The mask kinds `regen corrupt --mask-kind` draws, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MaskShape {
    /// Free-form strokes.
    Strokes,
    /// One centred box, half the sides.
    Box,
    /// Three random boxes of up to 0.3 of the sides.
    Boxes,
}

crate::choice::named!(MaskShape, "mask kind", "strokes, box or boxes");

/// `0.1` or `0.1-0.25` as a (low, high) range of fractions; `flag` names it in errors.
pub fn parse_fraction_range(flag: &str, v: &str) -> Result<(f32, f32)> {
    let num = |t: &str| {
        t.trim()
            .parse::<f32>()
            .map_err(|_| Error::arg(format!("{flag} {v}: not a number or a range like 0.1-0.25")))
    };
    Ok(match v.split_once('-') {
        Some((lo, hi)) => (num(lo)?, num(hi)?),
        None => (num(v)?, num(v)?),
    })
}

impl MaskKind {
    /// Strokes over `coverage` of the image, of the test brush widths
    /// ([`crate::corrupt::TEST_STROKE_WIDTH`]).
    pub fn strokes(coverage: (f32, f32)) -> MaskKind {
        MaskKind::Strokes {
            coverage,
            width: crate::corrupt::TEST_STROKE_WIDTH,
        }
    }

    /// The mask kind named `shape`; `coverage` is that of strokes.
    pub fn named(shape: MaskShape, coverage: (f32, f32)) -> MaskKind {
        match shape {
            MaskShape::Strokes => MaskKind::strokes(coverage),
            MaskShape::Box => MaskKind::CenterBox { frac: 0.5 },
            MaskShape::Boxes => MaskKind::Boxes {
                count: 3,
                max_frac: 0.3,
            },
        }
    }

    /// Checks the parameters.
    pub fn validate(&self) -> Result<()> {
        let unit = |v: f32| v.is_finite() && v > 0.0 && v <= 1.0;
        let ok = match *self {
            MaskKind::CenterBox { frac } => unit(frac),
            MaskKind::Boxes { count, max_frac } => count > 0 && unit(max_frac) && max_frac >= 0.05,
            MaskKind::Strokes { coverage, width } => {
                unit(coverage.0)
                    && unit(coverage.1)
                    && coverage.0 <= coverage.1
                    && coverage.1 <= 0.9
                    && unit(width.0)
                    && unit(width.1)
                    && width.0 <= width.1
            }
        };
        if ok {
            Ok(())
        } else {
            Err(Error::arg(format!(
                "mask {self:?}: fractions must be in (0, 1], ranges increasing, stroke coverage at most 0.9"
            )))
        }
    }

    /// A mask for an `h` x `w` image.
    pub fn draw(&self, h: usize, w: usize, rng: &mut Rng) -> Vec<f32> {
        let mut m = vec![0.0f32; h * w];
        match *self {
            MaskKind::CenterBox { frac } => {
                let (bh, bw) = (side(h, frac), side(w, frac));
                fill_box(&mut m, w, (h - bh) / 2, (w - bw) / 2, bh, bw);
            }
            MaskKind::Boxes { count, max_frac } => {
                for _ in 0..count {
                    let f = |rng: &mut Rng| 0.05 + (max_frac - 0.05) * rng.uniform() as f32;
                    let (bh, bw) = (side(h, f(rng)), side(w, f(rng)));
                    let (y, x) = (rng.below(h - bh + 1), rng.below(w - bw + 1));
                    fill_box(&mut m, w, y, x, bh, bw);
                }
            }
            MaskKind::Strokes { coverage, width } => {
                let target = coverage.0 + (coverage.1 - coverage.0) * rng.uniform() as f32;
                let short = h.min(w) as f32;
                let mut covered = 0usize;
                // Each stroke is a polyline of 4-12 segments; stop at the target coverage.
                for _ in 0..200 {
                    if covered as f32 >= target * (h * w) as f32 {
                        break;
                    }
                    let bw = (width.0 + (width.1 - width.0) * rng.uniform() as f32) * short;
                    let radius = (bw / 2.0).max(0.5);
                    let (mut y, mut x) = (rng.uniform() * h as f64, rng.uniform() * w as f64);
                    let vertices = 4 + rng.below(9);
                    for _ in 0..vertices {
                        let angle = rng.uniform() * std::f64::consts::TAU;
                        let len = (0.05 + 0.2 * rng.uniform()) * short as f64;
                        let (ny, nx) = (
                            (y + len * angle.sin()).clamp(0.0, (h - 1) as f64),
                            (x + len * angle.cos()).clamp(0.0, (w - 1) as f64),
                        );
                        covered += stamp_segment(&mut m, h, w, (y, x), (ny, nx), radius as f64);
                        if covered as f32 >= target * (h * w) as f32 {
                            break;
                        }
                        (y, x) = (ny, nx);
                    }
                }
            }
        }
        m
    }
}

fn side(n: usize, frac: f32) -> usize {
    ((n as f32 * frac).round() as usize).clamp(1, n)
}

fn fill_box(m: &mut [f32], w: usize, y: usize, x: usize, bh: usize, bw: usize) {
    for row in m.chunks_mut(w).skip(y).take(bh) {
        row[x..x + bw].fill(1.0);
    }
}

/// Marks every pixel within `r` of the segment a-b; returns how many were newly marked.
fn stamp_segment(m: &mut [f32], h: usize, w: usize, a: (f64, f64), b: (f64, f64), r: f64) -> usize {
    let (y0, y1) = (a.0.min(b.0) - r, a.0.max(b.0) + r);
    let (x0, x1) = (a.1.min(b.1) - r, a.1.max(b.1) + r);
    let (dy, dx) = (b.0 - a.0, b.1 - a.1);
    let len2 = (dy * dy + dx * dx).max(1e-12);
    let mut added = 0;
    for y in (y0.floor().max(0.0) as usize)..=(y1.ceil().min((h - 1) as f64) as usize) {
        for x in (x0.floor().max(0.0) as usize)..=(x1.ceil().min((w - 1) as f64) as usize) {
            let (py, px) = (y as f64 - a.0, x as f64 - a.1);
            let t = ((py * dy + px * dx) / len2).clamp(0.0, 1.0);
            let (ey, ex) = (py - t * dy, px - t * dx);
            if ey * ey + ex * ex <= r * r && m[y * w + x] == 0.0 {
                m[y * w + x] = 1.0;
                added += 1;
            }
        }
    }
    added
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share(m: &[f32]) -> f32 {
        m.iter().sum::<f32>() / m.len() as f32
    }

    #[test]
    fn center_box_covers_its_fraction_in_the_middle() {
        let m = MaskKind::CenterBox { frac: 0.5 }.draw(40, 60, &mut Rng::new(0));
        assert!((share(&m) - 0.25).abs() < 1e-6);
        assert_eq!(m[20 * 60 + 30], 1.0);
        assert_eq!(m[0], 0.0);
    }

    #[test]
    fn strokes_reach_the_drawn_coverage_and_depend_on_the_seed() {
        let k = MaskKind::Strokes {
            coverage: (0.10, 0.25),
            width: (0.04, 0.10),
        };
        k.validate().unwrap();
        for seed in 0..20 {
            let m = k.draw(180, 180, &mut Rng::new(seed));
            let s = share(&m);
            // The last stamp may overshoot the target a little.
            assert!((0.10..0.30).contains(&s), "seed {seed}: {s}");
            assert_eq!(m, k.draw(180, 180, &mut Rng::new(seed)));
        }
        assert_ne!(
            k.draw(64, 64, &mut Rng::new(1)),
            k.draw(64, 64, &mut Rng::new(2))
        );
    }

    #[test]
    fn boxes_stay_inside_and_bad_parameters_are_refused() {
        let m = MaskKind::Boxes {
            count: 3,
            max_frac: 0.4,
        }
        .draw(32, 32, &mut Rng::new(3));
        assert!(share(&m) > 0.0 && share(&m) < 0.5);
        assert!(MaskKind::CenterBox { frac: 0.0 }.validate().is_err());
        assert!(
            MaskKind::Strokes {
                coverage: (0.3, 0.1),
                width: (0.1, 0.2)
            }
            .validate()
            .is_err()
        );
    }
}
