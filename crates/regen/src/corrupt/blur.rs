//! Blur kernels (point spread functions) and their application.
//!
//! A kernel is a small odd-sided square of non-negative weights summing to 1. Blurring
//! convolves each colour plane with it, borders reflected (scipy.ndimage's `reflect` mode),
//! so the result has the size of the input.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::rng::Rng;

/// How a blur kernel is made.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BlurKind {
    /// Isotropic Gaussian of standard deviation `sigma` pixels, truncated at 3 sigma.
    Gaussian {
        /// Standard deviation in pixels.
        sigma: f32,
    },
    /// Camera shake along a straight line: `length` pixels at `angle` degrees
    /// (counter-clockwise from the x axis). Length 0 is no blur.
    Motion {
        /// Length of the path in pixels.
        length: f32,
        /// Direction in degrees.
        angle: f32,
    },
    /// For blind training: per image, a motion of length in `length` at any angle with
    /// probability `motion`, else a Gaussian with sigma in `sigma`.
    Random {
        /// Range of Gaussian sigmas.
        sigma: (f32, f32),
        /// Range of motion lengths.
        length: (f32, f32),
        /// Probability of a motion blur (0.5 when not given).
        #[serde(default = "half")]
        motion: f32,
    },
}

fn half() -> f32 {
    0.5
}

/// A blur kernel: `size` x `size` weights, row-major, summing to 1.
#[derive(Clone, Debug, PartialEq)]
pub struct Kernel {
    /// Side (odd).
    pub size: usize,
    /// Weights.
    pub data: Vec<f32>,
}

/// The blurs a user names (`--blur`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlurShape {
    /// Gaussian, of a sigma.
    Gaussian,
    /// Straight-line motion, of a length and an angle.
    Motion,
}

crate::choice::named!(BlurShape, "blur", "gaussian or motion");

/// The kernel of a blur a user says is known: `--blur-sigma` (Gaussian) or `--length` and
/// `--angle` (motion), `shape` optional when the parameter tells; `None` when no blur
/// option is given.
pub fn known_kernel(
    shape: Option<BlurShape>,
    sigma: Option<f32>,
    length: Option<f32>,
    angle: f32,
) -> Result<Option<Kernel>> {
    use BlurShape::{Gaussian, Motion};
    let kind = match (shape, sigma, length) {
        (None, None, None) => return Ok(None),
        (None | Some(Gaussian), Some(sigma), None) => BlurKind::Gaussian { sigma },
        (None | Some(Motion), None, Some(length)) => BlurKind::Motion { length, angle },
        (Some(Gaussian), None, _) => {
            return Err(Error::arg("--blur gaussian needs --blur-sigma"));
        }
        (Some(Motion), _, None) => {
            return Err(Error::arg("--blur motion needs --length (and --angle)"));
        }
        _ => {
            return Err(Error::arg(
                "give one blur: --blur-sigma (Gaussian) or --length and --angle (motion)",
            ));
        }
    };
    kind.validate()?;
    Ok(Some(kind.kernel(&mut Rng::new(0))))
}

impl BlurKind {
    /// The blur named `shape` with its parameters.
    pub fn named(shape: BlurShape, sigma: f32, length: f32, angle: f32) -> BlurKind {
        match shape {
            BlurShape::Gaussian => BlurKind::Gaussian { sigma },
            BlurShape::Motion => BlurKind::Motion { length, angle },
        }
    }

    /// Checks the parameters.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::arg(m));
        let ok = |v: f32, hi: f32| v.is_finite() && (0.0..=hi).contains(&v);
        match *self {
            BlurKind::Gaussian { sigma } if !ok(sigma, 25.0) => {
                bad(format!("--blur-sigma {sigma}: must be between 0 and 25 pixels"))
            }
            BlurKind::Motion { length, angle } if !ok(length, 101.0) || !angle.is_finite() => bad(
                format!("--length {length} --angle {angle}: the length must be between 0 and 101 pixels"),
            ),
            BlurKind::Random {
                sigma,
                length,
                motion,
            } if !(ok(motion, 1.0)
                && ok(sigma.0, 25.0)
                    && ok(sigma.1, 25.0)
                    && sigma.0 <= sigma.1
                    && ok(length.0, 101.0)
                    && ok(length.1, 101.0)
                    && length.0 <= length.1) =>
            {
                bad("random blur: sigma and length ranges must be increasing and within 0-25 and 0-101 pixels, the motion share within 0-1".into())
            }
            _ => Ok(()),
        }
    }

    /// The kernel for one image (`Random` draws from `rng`).
    pub fn kernel(&self, rng: &mut Rng) -> Kernel {
        match *self {
            BlurKind::Gaussian { sigma } => gaussian_kernel(sigma),
            BlurKind::Motion { length, angle } => motion_kernel(length, angle),
            BlurKind::Random {
                sigma,
                length,
                motion,
            } => {
                if rng.uniform() >= motion as f64 {
                    gaussian_kernel(sigma.0 + (sigma.1 - sigma.0) * rng.uniform() as f32)
                } else {
                    let l = length.0 + (length.1 - length.0) * rng.uniform() as f32;
                    motion_kernel(l, 180.0 * rng.uniform() as f32)
                }
            }
        }
    }
}

/// Normalised Gaussian, radius ceil(3 sigma); sigma 0 is the identity.
pub fn gaussian_kernel(sigma: f32) -> Kernel {
    if sigma <= 0.0 {
        return Kernel::identity();
    }
    let r = (3.0 * sigma).ceil() as isize;
    let size = (2 * r + 1) as usize;
    let mut data = Vec::with_capacity(size * size);
    for y in -r..=r {
        for x in -r..=r {
            data.push((-((x * x + y * y) as f64) / (2.0 * (sigma as f64).powi(2))).exp() as f32);
        }
    }
    Kernel { size, data }.normalised()
}

/// A line of `length` pixels at `angle` degrees, centred, drawn with sub-pixel samples
/// spread bilinearly so short and diagonal lines keep their length and weight.
pub fn motion_kernel(length: f32, angle: f32) -> Kernel {
    if length < 1.0 {
        return Kernel::identity();
    }
    let r = (length / 2.0).ceil() as isize + 1;
    let size = (2 * r + 1) as usize;
    let mut data = vec![0.0f32; size * size];
    let (dx, dy) = (
        angle.to_radians().cos() as f64,
        -angle.to_radians().sin() as f64,
    );
    let samples = (length * 8.0).ceil() as usize + 1;
    for i in 0..samples {
        let t = (i as f64 / (samples - 1) as f64 - 0.5) * length as f64;
        let (x, y) = (r as f64 + t * dx, r as f64 + t * dy);
        let (x0, y0) = (x.floor(), y.floor());
        let (fx, fy) = ((x - x0) as f32, (y - y0) as f32);
        for (oy, wy) in [(0, 1.0 - fy), (1, fy)] {
            for (ox, wx) in [(0, 1.0 - fx), (1, fx)] {
                let (xi, yi) = (x0 as usize + ox, y0 as usize + oy);
                if xi < size && yi < size {
                    data[yi * size + xi] += wx * wy;
                }
            }
        }
    }
    Kernel { size, data }.normalised()
}

impl Kernel {
    /// The 1x1 kernel that changes nothing.
    pub fn identity() -> Kernel {
        Kernel {
            size: 1,
            data: vec![1.0],
        }
    }

    fn normalised(mut self) -> Kernel {
        let s: f32 = self.data.iter().sum();
        for v in &mut self.data {
            *v /= s;
        }
        self
    }

    /// Convolves `plane` (`h` x `w`) with the kernel, borders reflected (scipy.ndimage
    /// `convolve(plane, k, mode='reflect')`).
    pub fn convolve(&self, plane: &[f32], h: usize, w: usize) -> Vec<f32> {
        let r = (self.size / 2) as isize;
        let mut out = vec![0.0f32; h * w];
        for y in 0..h {
            for x in 0..w {
                let mut s = 0.0f64;
                for ky in 0..self.size {
                    // Convolution flips the kernel: output(y) = sum k(j) in(y - (j - r)).
                    let sy = crate::pad::mirror(y as isize - (ky as isize - r), h);
                    for kx in 0..self.size {
                        let sx = crate::pad::mirror(x as isize - (kx as isize - r), w);
                        s += self.data[ky * self.size + kx] as f64 * plane[sy * w + sx] as f64;
                    }
                }
                out[y * w + x] = s as f32;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_are_normalised_and_shaped() {
        for k in [
            gaussian_kernel(1.6),
            motion_kernel(9.0, 30.0),
            motion_kernel(2.0, 90.0),
        ] {
            assert!(k.size % 2 == 1);
            assert!((k.data.iter().sum::<f32>() - 1.0).abs() < 1e-5);
            assert!(k.data.iter().all(|&v| v >= 0.0));
        }
        assert_eq!(gaussian_kernel(1.6).size, 11);
        assert_eq!(motion_kernel(0.0, 45.0), Kernel::identity());
        // A horizontal motion kernel lies on the middle row.
        let m = motion_kernel(7.0, 0.0);
        let mid = m.size / 2;
        let row: f32 = m.data[mid * m.size..(mid + 1) * m.size].iter().sum();
        assert!((row - 1.0).abs() < 1e-5, "{row}");
    }

    /// Golden values from scipy 1.17.1:
    /// ```python
    /// x = np.array([np.sin(0.37*i) + 0.05*i for i in range(7*9)]).reshape(7, 9)
    /// k = np.array([[0.0, 0.1, 0.05], [0.2, 0.3, 0.1], [0.05, 0.0, 0.2]])
    /// y = scipy.ndimage.convolve(x, k, mode='reflect')
    /// y[0, :4], y[3, 4], y[6, 5:]
    /// ```
    #[test]
    fn random_blur_draws_motion_at_the_asked_share() {
        let share = |motion: f32| {
            let kind = BlurKind::Random {
                sigma: (0.5, 3.0),
                length: (3.0, 15.0),
                motion,
            };
            let mut rng = Rng::new(4);
            // A Gaussian kernel is symmetric under transposition; a motion one at a random
            // angle almost never is.
            let n = 400;
            let moved = (0..n)
                .filter(|_| {
                    let k = kind.kernel(&mut rng);
                    let t = |i: usize| (i % k.size) * k.size + i / k.size;
                    (0..k.data.len()).any(|i| (k.data[i] - k.data[t(i)]).abs() > 1e-6)
                })
                .count();
            moved as f64 / n as f64
        };
        assert_eq!(share(0.0), 0.0);
        let s = share(0.2);
        // 400 draws: the share is within 0.2 +- 0.06 with probability > 0.99.
        assert!((s - 0.2).abs() < 0.06, "{s}");
        let old: BlurKind = serde_json::from_str(
            r#"{"type": "random", "sigma": [0.5, 3.0], "length": [3.0, 15.0]}"#,
        )
        .unwrap();
        assert!(matches!(old, BlurKind::Random { motion, .. } if motion == 0.5));
        assert!(
            BlurKind::Random {
                sigma: (0.5, 3.0),
                length: (3.0, 15.0),
                motion: 1.5
            }
            .validate()
            .is_err()
        );
    }

    #[test]
    fn convolution_matches_scipy_reflect() {
        let x: Vec<f32> = (0..63)
            .map(|i| (0.37 * i as f32).sin() + 0.05 * i as f32)
            .collect();
        let k = Kernel {
            size: 3,
            data: vec![0.0, 0.1, 0.05, 0.2, 0.3, 0.1, 0.05, 0.0, 0.2],
        };
        let y: Vec<f64> = k.convolve(&x, 7, 9).into_iter().map(f64::from).collect();
        let want_row0 = [0.14230966, 0.32720826, 0.59063719, 0.79611976];
        for (g, w) in y[..4].iter().zip(want_row0) {
            assert!((g - w).abs() < 1e-5, "{g} vs {w}");
        }
        assert!((y[3 * 9 + 4] - 1.36645921).abs() < 1e-5, "{}", y[31]);
        let want_last = [2.8004041, 2.6647545, 2.55857572, 2.51087444];
        for (g, w) in y[6 * 9 + 5..].iter().zip(want_last) {
            assert!((g - w).abs() < 1e-5, "{g} vs {w}");
        }
    }
}
