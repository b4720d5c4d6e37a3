//! Harmonic (diffusion) inpainting: the missing pixels solve Laplace's equation with the
//! known pixels as boundary values, the smoothest fill there is.
//!
//! Discretely, every missing pixel equals the mean of its 4-neighbours inside the image:
//! `deg(p) u_p - sum_{q missing} u_q = sum_{q known} f_q`. The matrix is symmetric
//! positive definite whenever some pixel is known, and is solved by conjugate gradients,
//! matrix-free, started from the mean of the known pixels.

/// Fills the pixels of `plane` (`h` x `w`) where `mask > 0.5`. With no known pixel at all
/// the result is 0.5 everywhere (the equation has no unique solution).
pub fn harmonic_fill(plane: &[f32], mask: &[f32], h: usize, w: usize) -> Vec<f32> {
    let missing: Vec<bool> = mask.iter().map(|&m| m > 0.5).collect();
    let idx: Vec<usize> = (0..h * w).filter(|&i| missing[i]).collect();
    let mut out = plane.to_vec();
    if idx.is_empty() {
        return out;
    }
    let known = h * w - idx.len();
    if known == 0 {
        return vec![0.5; h * w];
    }
    // Position of each missing pixel in the unknown vector.
    let mut slot = vec![usize::MAX; h * w];
    for (k, &i) in idx.iter().enumerate() {
        slot[i] = k;
    }
    let neighbours = |i: usize| {
        let (y, x) = (i / w, i % w);
        [
            (y > 0).then(|| i - w),
            (y + 1 < h).then(|| i + w),
            (x > 0).then(|| i - 1),
            (x + 1 < w).then(|| i + 1),
        ]
        .into_iter()
        .flatten()
    };
    let n = idx.len();
    let mut b = vec![0.0f64; n];
    let mut deg = vec![0.0f64; n];
    for (k, &i) in idx.iter().enumerate() {
        for q in neighbours(i) {
            deg[k] += 1.0;
            if !missing[q] {
                b[k] += plane[q] as f64;
            }
        }
    }
    let apply = |u: &[f64], out: &mut [f64]| {
        for (k, &i) in idx.iter().enumerate() {
            let mut s = deg[k] * u[k];
            for q in neighbours(i) {
                if missing[q] {
                    s -= u[slot[q]];
                }
            }
            out[k] = s;
        }
    };
    let mean = (0..h * w)
        .filter(|&i| !missing[i])
        .map(|i| plane[i] as f64)
        .sum::<f64>()
        / known as f64;
    let mut u = vec![mean; n];
    let mut r = vec![0.0f64; n];
    apply(&u, &mut r);
    for k in 0..n {
        r[k] = b[k] - r[k];
    }
    let mut p = r.clone();
    let mut ap = vec![0.0f64; n];
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let mut rr = dot(&r, &r);
    let tol = 1e-12 * dot(&b, &b).max(1e-30);
    // CG needs at most n iterations in exact arithmetic; holes of diameter d take ~d.
    for _ in 0..n.max(1) {
        if rr <= tol {
            break;
        }
        apply(&p, &mut ap);
        let alpha = rr / dot(&p, &ap);
        for k in 0..n {
            u[k] += alpha * p[k];
            r[k] -= alpha * ap[k];
        }
        let rr_new = dot(&r, &r);
        let beta = rr_new / rr;
        rr = rr_new;
        for k in 0..n {
            p[k] = r[k] + beta * p[k];
        }
    }
    for (k, &i) in idx.iter().enumerate() {
        out[i] = u[k] as f32;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Golden values from scipy 1.17.1, solving the same system directly:
    /// ```python
    /// h, w = 6, 7
    /// f = np.array([np.sin(0.5*i) + 0.1*(i % 7) for i in range(h*w)]).reshape(h, w)
    /// m = np.zeros((h, w), bool); m[1:4, 2:5] = True; m[5, 0] = True; m[0, 6] = True
    /// idx = np.flatnonzero(m); slot = {p: k for k, p in enumerate(idx)}
    /// A = scipy.sparse.lil_matrix((len(idx), len(idx))); b = np.zeros(len(idx))
    /// for k, p in enumerate(idx):
    ///     y, x = divmod(p, w)
    ///     for yy, xx in [(y-1, x), (y+1, x), (y, x-1), (y, x+1)]:
    ///         if 0 <= yy < h and 0 <= xx < w:
    ///             A[k, k] += 1; q = yy*w + xx
    ///             if m.flat[q]: A[k, slot[q]] -= 1
    ///             else: b[k] += f.flat[q]
    /// u = scipy.sparse.linalg.spsolve(A.tocsr(), b)
    /// ```
    #[test]
    fn harmonic_fill_matches_a_direct_sparse_solve() {
        let (h, w) = (6, 7);
        let f: Vec<f32> = (0..h * w)
            .map(|i| (0.5 * i as f32).sin() + 0.1 * (i % 7) as f32)
            .collect();
        let mut m = vec![0.0f32; h * w];
        for y in 1..4 {
            for x in 2..5 {
                m[y * w + x] = 1.0;
            }
        }
        m[5 * w] = 1.0;
        m[6] = 1.0;
        let out = harmonic_fill(&f, &m, h, w);
        let want = GOLDEN;
        let got: Vec<f64> = (0..h * w)
            .filter(|&i| m[i] > 0.5)
            .map(|i| out[i] as f64)
            .collect();
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-5, "{got:?} vs {want:?}");
        }
        // Known pixels are untouched.
        for i in 0..h * w {
            if m[i] < 0.5 {
                assert_eq!(out[i], f[i]);
            }
        }
    }

    const GOLDEN: [f64; 11] = [
        0.95679607, 0.42946261, 0.75702976, 0.71174052, 0.57615219, 0.58942090, 0.56005041,
        0.24772527, 0.46445125, 0.51419135, 0.16981005,
    ];

    #[test]
    fn all_missing_is_flat_gray_and_nothing_missing_is_the_input() {
        let f = vec![0.2f32; 12];
        assert_eq!(harmonic_fill(&f, &[1.0; 12], 3, 4), vec![0.5; 12]);
        assert_eq!(harmonic_fill(&f, &[0.0; 12], 3, 4), f);
    }
}
