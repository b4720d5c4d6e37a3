//! A linear probe: multinomial logistic regression with an L2 penalty, fitted by full-batch
//! gradient descent with Nesterov momentum on standardised features. The loss is convex, so
//! the fit converges to the unique optimum that scikit-learn's `LogisticRegression` finds.

/// A fitted probe.
pub struct Probe {
    mean: Vec<f64>,
    scale: Vec<f64>,
    /// `classes x (features + 1)`, bias last.
    w: Vec<f64>,
    classes: usize,
}

fn softmax_row(logits: &mut [f64]) {
    let m = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut s = 0.0;
    for v in logits.iter_mut() {
        *v = (*v - m).exp();
        s += *v;
    }
    for v in logits.iter_mut() {
        *v /= s;
    }
}

impl Probe {
    /// Fits on rows `x` (each `d` features) with labels `y` in `0..classes`; the penalty is
    /// `l2 / 2 * |W|^2` (bias not penalised) added to the mean cross-entropy.
    pub fn fit(x: &[Vec<f32>], y: &[usize], classes: usize, l2: f64, iters: usize) -> Probe {
        let (n, d) = (x.len(), x[0].len());
        let mut mean = vec![0.0; d];
        let mut scale = vec![0.0; d];
        for r in x {
            for j in 0..d {
                mean[j] += r[j] as f64 / n as f64;
            }
        }
        for r in x {
            for j in 0..d {
                scale[j] += (r[j] as f64 - mean[j]).powi(2) / n as f64;
            }
        }
        let scale: Vec<f64> = scale.iter().map(|v| v.sqrt().max(1e-12)).collect();
        let xs: Vec<Vec<f64>> = x
            .iter()
            .map(|r| {
                (0..d)
                    .map(|j| (r[j] as f64 - mean[j]) / scale[j])
                    .chain([1.0])
                    .collect()
            })
            .collect();
        let k = d + 1;
        let mut w = vec![0.0; classes * k];
        let mut v = vec![0.0; classes * k];
        let lr = 0.5;
        let mut p = vec![0.0; classes];
        for _ in 0..iters {
            // Nesterov: gradient at the look-ahead point.
            let look: Vec<f64> = w.iter().zip(&v).map(|(a, b)| a + 0.9 * b).collect();
            let mut g = vec![0.0; classes * k];
            for (r, &label) in xs.iter().zip(y) {
                for c in 0..classes {
                    p[c] = (0..k).map(|j| look[c * k + j] * r[j]).sum();
                }
                softmax_row(&mut p);
                for c in 0..classes {
                    let e = p[c] - if c == label { 1.0 } else { 0.0 };
                    for j in 0..k {
                        g[c * k + j] += e * r[j] / n as f64;
                    }
                }
            }
            for c in 0..classes {
                for j in 0..d {
                    g[c * k + j] += l2 * look[c * k + j];
                }
            }
            for i in 0..w.len() {
                v[i] = 0.9 * v[i] - lr * g[i];
                w[i] += v[i];
            }
        }
        Probe {
            mean,
            scale,
            w,
            classes,
        }
    }

    /// Class probabilities for one row.
    pub fn predict_proba(&self, row: &[f32]) -> Vec<f64> {
        let d = self.mean.len();
        let k = d + 1;
        let xs: Vec<f64> = (0..d)
            .map(|j| (row[j] as f64 - self.mean[j]) / self.scale[j])
            .chain([1.0])
            .collect();
        let mut p: Vec<f64> = (0..self.classes)
            .map(|c| (0..k).map(|j| self.w[c * k + j] * xs[j]).sum())
            .collect();
        softmax_row(&mut p);
        p
    }

    /// Fraction of rows whose most probable class is the label.
    pub fn accuracy(&self, x: &[Vec<f32>], y: &[usize]) -> f64 {
        let hits = x
            .iter()
            .zip(y)
            .filter(|(r, l)| {
                let p = self.predict_proba(r);
                let best = (0..p.len())
                    .max_by(|&a, &b| p[a].total_cmp(&p[b]))
                    .expect("classes");
                best == **l
            })
            .count();
        hits as f64 / y.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> (Vec<Vec<f32>>, Vec<usize>) {
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..60 {
            let c = i % 3;
            let a = (i as f32 * 0.37).sin();
            let b = (i as f32 * 0.73).cos();
            x.push(vec![a + c as f32, b - 0.5 * c as f32]);
            y.push(c);
        }
        (x, y)
    }

    /// Golden probabilities from scikit-learn 1.9.1 (penalty l2, C = 1 / (n * l2) so that its
    /// summed loss matches our mean loss + l2/2 |W|^2, lbfgs at tol 1e-10):
    /// ```python
    /// import numpy as np
    /// from sklearn.linear_model import LogisticRegression
    /// from sklearn.preprocessing import StandardScaler
    /// i = np.arange(60); c = i % 3
    /// x = np.stack([np.sin(i * 0.37) + c, np.cos(i * 0.73) - 0.5 * c], 1).astype(np.float32)
    /// xs = StandardScaler().fit_transform(x.astype(np.float64))
    /// m = LogisticRegression(C=1 / (60 * 0.01), tol=1e-10, max_iter=10000).fit(xs, c)
    /// m.predict_proba(xs[:2])  # [[0.87654669, 0.12040131, 0.00305199],
    ///                         #  [0.25724389, 0.54477826, 0.19797785]]
    /// ```
    #[test]
    fn matches_scikit_learn() {
        let (x, y) = data();
        let p = Probe::fit(&x, &y, 3, 0.01, 3000);
        let got = [p.predict_proba(&x[0]), p.predict_proba(&x[1])];
        for (g, w) in got.iter().flatten().zip(GOLD.iter().flatten()) {
            assert!((g - w).abs() < 1e-4, "{got:?} vs {GOLD:?}");
        }
        // m.score(xs, c) gives the accuracy on the same rows.
        assert!((p.accuracy(&x, &y) - GOLD_ACCURACY).abs() < 1e-12);
    }

    const GOLD_ACCURACY: f64 = 0.6333333333333333; // 38 of 60
    const GOLD: [[f64; 3]; 2] = [
        [0.87654669, 0.12040131, 0.00305199],
        [0.25724389, 0.54477826, 0.19797785],
    ];
}
