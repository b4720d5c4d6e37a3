//! Border handling, in its two conventions, which differ in whether the edge pixel repeats:
//!
//! - [`mirror`] / [`mirror_pad`]: scipy.ndimage's `reflect` (`d c b a | a b c d | d c b a`),
//!   used by the blur and the classical filters, which follow scipy;
//! - [`pad_reflect`]: numpy's `reflect` and PyTorch's `ReflectionPad2d`
//!   (`d c b | a b c d | c b a`), used to bring a tile to the network's multiple.

/// Mirror index for borders, scipy's `reflect` mode (`d c b a | a b c d | d c b a`).
pub fn mirror(i: isize, n: usize) -> usize {
    let n = n as isize;
    let period = 2 * n;
    let mut j = i.rem_euclid(period);
    if j >= n {
        j = period - 1 - j;
    }
    j as usize
}

/// `plane` extended by `r` mirrored pixels on every side; deconvolution baselines run on it
/// so that neither the FFT's wrap-around (Wiener) nor zero padding (Richardson-Lucy) puts
/// false edges at the border, which would handicap them unfairly.
pub fn mirror_pad(plane: &[f32], h: usize, w: usize, r: usize) -> Vec<f32> {
    let (ph, pw) = (h + 2 * r, w + 2 * r);
    let mut out = Vec::with_capacity(ph * pw);
    for y in 0..ph {
        let sy = mirror(y as isize - r as isize, h);
        for x in 0..pw {
            out.push(plane[sy * w + mirror(x as isize - r as isize, w)]);
        }
    }
    out
}

/// The `h` x `w` centre of a plane padded by [`mirror_pad`] with `r`.
pub fn crop(plane: &[f32], h: usize, w: usize, r: usize) -> Vec<f32> {
    let pw = w + 2 * r;
    (0..h)
        .flat_map(|y| {
            plane[(y + r) * pw + r..(y + r) * pw + r + w]
                .iter()
                .copied()
        })
        .collect()
}

/// Extends an `h` x `w` plane to `ph` x `pw` (bottom and right) by mirror reflection
/// without repeating the edge (`d c b | a b c d | c b a`).
pub fn pad_reflect(plane: &[f32], h: usize, w: usize, ph: usize, pw: usize) -> Vec<f32> {
    let refl = |i: usize, n: usize| -> usize {
        if n == 1 {
            return 0;
        }
        let period = 2 * (n - 1);
        let j = i % period;
        if j < n { j } else { period - j }
    };
    let mut out = Vec::with_capacity(ph * pw);
    for y in 0..ph {
        let sy = refl(y, h);
        for x in 0..pw {
            out.push(plane[sy * w + refl(x, w)]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflect_padding_mirrors_without_repeating_the_edge() {
        let p = pad_reflect(&[1.0, 2.0, 3.0], 1, 3, 2, 6);
        assert_eq!(
            p,
            vec![1.0, 2.0, 3.0, 2.0, 1.0, 2.0, 1.0, 2.0, 3.0, 2.0, 1.0, 2.0]
        );
    }

    #[test]
    fn mirror_repeats_the_edge_as_scipy_reflect_does() {
        // scipy's `reflect` of a b c: (b a) | a b c | (c b), by the definition in the
        // scipy.ndimage docs ("reflecting about the edge of the last pixel").
        let got: Vec<usize> = (-2..5).map(|i| mirror(i, 3)).collect();
        assert_eq!(got, vec![1, 0, 0, 1, 2, 2, 1]);
        let p = mirror_pad(&[1.0, 2.0], 1, 2, 1);
        assert_eq!(crop(&p, 1, 2, 1), vec![1.0, 2.0]);
    }
}
