//! Distances between two sets of feature vectors (real vs generated), as used to judge
//! generative models: Frechet distance (Heusel et al. 2017), kernel inception distance
//! (Binkowski et al. 2018) and precision/recall with k-nearest-neighbour manifolds
//! (Kynkaanniemi et al. 2019). Features are rows of equal length; all sums in f64.

use crate::rng::Rng;

fn mean_cov(x: &[Vec<f32>]) -> (Vec<f64>, Vec<f64>) {
    let (n, d) = (x.len(), x[0].len());
    let mut mu = vec![0.0; d];
    for r in x {
        for j in 0..d {
            mu[j] += r[j] as f64 / n as f64;
        }
    }
    let mut cov = vec![0.0; d * d];
    for r in x {
        for a in 0..d {
            let da = r[a] as f64 - mu[a];
            for b in a..d {
                cov[a * d + b] += da * (r[b] as f64 - mu[b]);
            }
        }
    }
    for a in 0..d {
        for b in a..d {
            let v = cov[a * d + b] / (n as f64 - 1.0);
            cov[a * d + b] = v;
            cov[b * d + a] = v;
        }
    }
    (mu, cov)
}

/// Eigenvalues and eigenvectors (columns of the returned row-major matrix) of a symmetric
/// `d` x `d` matrix, by cyclic Jacobi rotations.
pub fn symmetric_eigen(m: &[f64], d: usize) -> (Vec<f64>, Vec<f64>) {
    let mut a = m.to_vec();
    let mut v = vec![0.0; d * d];
    for i in 0..d {
        v[i * d + i] = 1.0;
    }
    for _sweep in 0..100 {
        let off: f64 = (0..d)
            .flat_map(|i| (0..d).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * d + j] * a[i * d + j])
            .sum();
        let scale: f64 = (0..d)
            .map(|i| a[i * d + i] * a[i * d + i])
            .sum::<f64>()
            .max(1e-300);
        if off <= 1e-24 * scale {
            break;
        }
        for p in 0..d {
            for q in p + 1..d {
                let apq = a[p * d + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (a[q * d + q] - a[p * d + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..d {
                    let (akp, akq) = (a[k * d + p], a[k * d + q]);
                    a[k * d + p] = c * akp - s * akq;
                    a[k * d + q] = s * akp + c * akq;
                }
                for k in 0..d {
                    let (apk, aqk) = (a[p * d + k], a[q * d + k]);
                    a[p * d + k] = c * apk - s * aqk;
                    a[q * d + k] = s * apk + c * aqk;
                }
                for k in 0..d {
                    let (vkp, vkq) = (v[k * d + p], v[k * d + q]);
                    v[k * d + p] = c * vkp - s * vkq;
                    v[k * d + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..d).map(|i| a[i * d + i]).collect(), v)
}

fn matmul(a: &[f64], b: &[f64], d: usize) -> Vec<f64> {
    let mut c = vec![0.0; d * d];
    for i in 0..d {
        for k in 0..d {
            let aik = a[i * d + k];
            for j in 0..d {
                c[i * d + j] += aik * b[k * d + j];
            }
        }
    }
    c
}

/// Frechet distance between Gaussians fitted to `a` and `b`:
/// |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)).
pub fn frechet_distance(a: &[Vec<f32>], b: &[Vec<f32>]) -> f64 {
    let d = a[0].len();
    let (ma, sa) = mean_cov(a);
    let (mb, sb) = mean_cov(b);
    let dm: f64 = ma.iter().zip(&mb).map(|(x, y)| (x - y).powi(2)).sum();
    // tr((Sa Sb)^(1/2)) = tr((Sa^(1/2) Sb Sa^(1/2))^(1/2)), and the inner matrix is
    // symmetric positive semi-definite, so its eigenvalues give the trace directly.
    let (ev, vecs) = symmetric_eigen(&sa, d);
    let mut root = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..d {
            root[i * d + j] = (0..d)
                .map(|k| vecs[i * d + k] * ev[k].max(0.0).sqrt() * vecs[j * d + k])
                .sum();
        }
    }
    let inner = matmul(&matmul(&root, &sb, d), &root, d);
    let sym: Vec<f64> = (0..d * d)
        .map(|k| 0.5 * (inner[k] + inner[(k % d) * d + k / d]))
        .collect();
    let (ei, _) = symmetric_eigen(&sym, d);
    let tr_sqrt: f64 = ei.iter().map(|v| v.max(0.0).sqrt()).sum();
    let tr: f64 = (0..d).map(|i| sa[i * d + i] + sb[i * d + i]).sum();
    dm + tr - 2.0 * tr_sqrt
}

fn poly_kernel(x: &[f32], y: &[f32]) -> f64 {
    let d = x.len() as f64;
    let dot: f64 = x.iter().zip(y).map(|(a, b)| *a as f64 * *b as f64).sum();
    (dot / d + 1.0).powi(3)
}

/// Unbiased squared MMD with the cubic polynomial kernel (x.y / d + 1)^3.
fn mmd2(a: &[&Vec<f32>], b: &[&Vec<f32>]) -> f64 {
    let (m, n) = (a.len() as f64, b.len() as f64);
    let within = |s: &[&Vec<f32>]| {
        let mut t = 0.0;
        for i in 0..s.len() {
            for j in 0..s.len() {
                if i != j {
                    t += poly_kernel(s[i], s[j]);
                }
            }
        }
        t
    };
    let mut cross = 0.0;
    for x in a {
        for y in b {
            cross += poly_kernel(x, y);
        }
    }
    within(a) / (m * (m - 1.0)) + within(b) / (n * (n - 1.0)) - 2.0 * cross / (m * n)
}

/// Kernel inception distance: mean and standard deviation of the unbiased MMD^2 over
/// `subsets` random subsets of `size` rows from each set (drawn with `seed`).
pub fn kid(a: &[Vec<f32>], b: &[Vec<f32>], subsets: usize, size: usize, seed: u64) -> (f64, f64) {
    let size = size.min(a.len()).min(b.len());
    let mut rng = Rng::new(seed);
    let mut pick = |s: &[Vec<f32>]| -> Vec<usize> {
        let mut idx: Vec<usize> = (0..s.len()).collect();
        for i in 0..size {
            let j = i + rng.below(s.len() - i);
            idx.swap(i, j);
        }
        idx.truncate(size);
        idx
    };
    let vals: Vec<f64> = (0..subsets.max(1))
        .map(|_| {
            let ia = pick(a);
            let ib = pick(b);
            let sa: Vec<&Vec<f32>> = ia.iter().map(|&i| &a[i]).collect();
            let sb: Vec<&Vec<f32>> = ib.iter().map(|&i| &b[i]).collect();
            mmd2(&sa, &sb)
        })
        .collect();
    let m = vals.iter().sum::<f64>() / vals.len() as f64;
    let sd = (vals.iter().map(|v| (v - m).powi(2)).sum::<f64>() / vals.len() as f64).sqrt();
    (m, sd)
}

fn dist2(x: &[f32], y: &[f32]) -> f64 {
    x.iter()
        .zip(y)
        .map(|(a, b)| (*a as f64 - *b as f64).powi(2))
        .sum()
}

/// Squared distance from each row to its k-th nearest other row of the same set.
fn knn_radii2(s: &[Vec<f32>], k: usize) -> Vec<f64> {
    s.iter()
        .enumerate()
        .map(|(i, x)| {
            let mut d: Vec<f64> = s
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, y)| dist2(x, y))
                .collect();
            let k = k.min(d.len()) - 1;
            *d.select_nth_unstable_by(k, f64::total_cmp).1
        })
        .collect()
}

/// Fraction of `query` rows inside the union of balls around `set` rows with `radii2`.
fn coverage(query: &[Vec<f32>], set: &[Vec<f32>], radii2: &[f64]) -> f64 {
    let inside = query
        .iter()
        .filter(|q| set.iter().zip(radii2).any(|(s, r)| dist2(q, s) <= *r))
        .count();
    inside as f64 / query.len() as f64
}

/// Improved precision and recall (Kynkaanniemi et al. 2019) with `k` nearest neighbours:
/// precision is the share of generated rows inside the real manifold, recall the share of
/// real rows inside the generated one.
pub fn precision_recall(real: &[Vec<f32>], fake: &[Vec<f32>], k: usize) -> (f64, f64) {
    let rr = knn_radii2(real, k);
    let rf = knn_radii2(fake, k);
    (coverage(fake, real, &rr), coverage(real, fake, &rf))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Eigenvalues against numpy (2.4):
    /// ```python
    /// import numpy as np
    /// n = 6
    /// a = np.array([[np.sin(i + 2 * j) + np.sin(j + 2 * i) + (i == j) * (i + 1)
    ///                for j in range(n)] for i in range(n)])
    /// print(np.linalg.eigvalsh(a))
    /// ```
    /// Tolerance 1e-9 (f64 on both sides).
    #[test]
    fn eigenvalues_match_numpy() {
        let n = 6;
        let a: Vec<f64> = (0..n * n)
            .map(|k| {
                let (i, j) = ((k / n) as f64, (k % n) as f64);
                (i + 2.0 * j).sin()
                    + (j + 2.0 * i).sin()
                    + if k / n == k % n { i + 1.0 } else { 0.0 }
            })
            .collect();
        let (mut got, _) = symmetric_eigen(&a, n);
        got.sort_by(f64::total_cmp);
        let want = [
            -0.822_074_429_258_807_5,
            0.914_538_204_370_518_5,
            3.087_360_646_229_702,
            3.891_822_683_557_645,
            6.273_562_889_096_583,
            8.429_865_840_523_12,
        ];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-9, "{got:?}");
        }
    }

    /// Two deterministic 3-feature sets, as in the Python below.
    fn sets() -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
        let row = |i: usize, s: f64| -> Vec<f32> {
            let t = i as f64;
            vec![
                (t * 0.7).sin() as f32,
                ((t * 1.3).cos() * s) as f32,
                ((t * 0.31).sin() * (t * 0.17).cos() + 0.1 * s) as f32,
            ]
        };
        (
            (0..40).map(|i| row(i, 1.0)).collect(),
            (0..30).map(|i| row(i + 100, 1.5)).collect(),
        )
    }

    /// Golden values from numpy 2.4.6 / scipy 1.17.1:
    /// ```python
    /// import numpy as np, scipy.linalg
    /// def row(i, s):
    ///     return [np.sin(i * 0.7), np.cos(i * 1.3) * s, np.sin(i * 0.31) * np.cos(i * 0.17) + 0.1 * s]
    /// a = np.array([row(i, 1.0) for i in range(40)], np.float32).astype(np.float64)
    /// b = np.array([row(i + 100, 1.5) for i in range(30)], np.float32).astype(np.float64)
    /// ma, mb = a.mean(0), b.mean(0); sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    /// fd = ((ma - mb) ** 2).sum() + np.trace(sa + sb - 2 * scipy.linalg.sqrtm(sa @ sb).real)
    /// k = lambda x, y: (x @ y.T / 3 + 1) ** 3
    /// kaa, kbb, kab = k(a, a), k(b, b), k(a, b)
    /// mmd = ((kaa.sum() - np.trace(kaa)) / (40 * 39) + (kbb.sum() - np.trace(kbb)) / (30 * 29)
    ///        - 2 * kab.mean())
    /// def radii(s): d = ((s[:, None] - s[None]) ** 2).sum(-1); return np.sort(d, 1)[:, 5]
    /// d_ab = ((a[:, None] - b[None]) ** 2).sum(-1)
    /// precision = (d_ab <= radii(a)[:, None]).any(0).mean()
    /// recall = (d_ab <= radii(b)[None, :]).any(1).mean()
    /// ```
    #[test]
    fn match_numpy_and_scipy() {
        let (a, b) = sets();
        let fd = frechet_distance(&a, &b);
        assert!((fd - GOLD_FD).abs() < 1e-9, "{fd}");
        let (ra, rb): (Vec<&Vec<f32>>, Vec<&Vec<f32>>) = (a.iter().collect(), b.iter().collect());
        let m = mmd2(&ra, &rb);
        assert!((m - GOLD_MMD).abs() < 1e-9, "{m}");
        // KID draws equal-size subsets: one subset of 30 from each set has no spread.
        let (_, sd) = kid(&a, &b, 1, 1000, 0);
        assert_eq!(sd, 0.0);
        let (p, r) = precision_recall(&a, &b, 5);
        assert_eq!((p, r), (GOLD_P, GOLD_R));
    }

    #[test]
    fn a_set_is_at_distance_zero_from_itself() {
        let (a, _) = sets();
        assert!(frechet_distance(&a, &a).abs() < 1e-9);
        assert_eq!(precision_recall(&a, &a, 5), (1.0, 1.0));
    }

    #[test]
    fn jacobi_recovers_a_known_spectrum() {
        // [[2, 1], [1, 2]] has eigenvalues 1 and 3.
        let (mut ev, _) = symmetric_eigen(&[2.0, 1.0, 1.0, 2.0], 2);
        ev.sort_by(f64::total_cmp);
        assert!((ev[0] - 1.0).abs() < 1e-12 && (ev[1] - 3.0).abs() < 1e-12);
    }

    // fd, mmd, precision, recall as printed by the Python above.
    const GOLD_FD: f64 = 0.13080852734148116;
    const GOLD_MMD: f64 = -0.02689167019063987;
    const GOLD_P: f64 = 0.9666666666666667; // 29 of 30
    const GOLD_R: f64 = 1.0;
}
