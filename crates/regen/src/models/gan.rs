//! DCGAN-style generative adversarial network (Radford et al. 2016), optionally
//! class-conditional.
//!
//! Generator: z (and a one-hot label) -> linear to `g_width * 2^(depth-1)` maps of side
//! `size / 2^depth` -> `depth` 4x4 stride-2 transposed convolutions, each doubling the side
//! and halving the channels, batch norm and ReLU between them -> tanh, so images are in
//! [-1, 1]. Discriminator: `depth` 4x4 stride-2 convolutions from `d_width` channels,
//! doubling, with leaky ReLU (0.2) -> a linear layer to one logit; `sigmoid(logit)` is the
//! probability that the image is real. A conditional discriminator adds the projection term
//! `<embed(y), features>` (Miyato and Koyama 2018). Spectral normalisation (Miyato et al.
//! 2018) divides each discriminator weight by its largest singular value, estimated by one
//! power iteration per training forward pass, as PyTorch's `spectral_norm` does.

use burn::config::Config;
use burn::module::{Module, RunningState};
use burn::nn::{BatchNorm, BatchNormConfig, Initializer, Linear, LinearConfig};
use burn::tensor::activation::{leaky_relu, relu, tanh};
use burn::tensor::module::linear;
use burn::tensor::{Device, Distribution, Tensor};

use crate::engine::nn::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use crate::engine::{Act, conv_transpose2d};

/// Shape of a GAN (generator and discriminator).
#[derive(Config, Debug, PartialEq)]
pub struct GanConfig {
    /// Image channels (1 gray, 3 RGB).
    #[config(default = 1)]
    pub channels: usize,
    /// Image side in pixels (square images); a multiple of 2^depth (28 or 64 typically).
    #[config(default = 28)]
    pub size: usize,
    /// Noise dimensions.
    #[config(default = 100)]
    pub latent: usize,
    /// Up- and down-sampling stages in each network.
    #[config(default = 2)]
    pub depth: usize,
    /// Generator channels before the last transposed convolution; the linear layer makes
    /// `g_width * 2^(depth-1)`.
    #[config(default = 64)]
    pub g_width: usize,
    /// Discriminator channels after its first convolution, doubled at each further one.
    #[config(default = 64)]
    pub d_width: usize,
    /// Batch normalisation in the generator (DCGAN).
    #[config(default = true)]
    pub g_batchnorm: bool,
    /// Spectral normalisation of every discriminator weight.
    #[config(default = false)]
    pub spectral_norm: bool,
    /// Number of classes of a conditional GAN; 0 for an unconditional one.
    #[config(default = 0)]
    pub classes: usize,
}

impl GanConfig {
    /// Checks sizes before building.
    pub fn validate(&self) -> crate::Result<()> {
        let bad = |m: String| Err(crate::Error::arg(format!("gan config: {m}")));
        if [
            self.depth,
            self.latent,
            self.g_width,
            self.d_width,
            self.channels,
        ]
        .contains(&0)
        {
            return bad("depth, latent, widths and channels must be positive".into());
        }
        if self.size == 0 || !self.size.is_multiple_of(1 << self.depth) {
            return bad(format!(
                "size {} must be a multiple of 2^depth = {}",
                self.size,
                1 << self.depth
            ));
        }
        Ok(())
    }

    /// Builds the generator with fresh weights.
    pub fn init_generator(&self, device: &Device) -> GanGenerator {
        let top = self.g_width << (self.depth - 1);
        let s0 = self.size >> self.depth;
        let ups: Vec<ConvTranspose2d> = (0..self.depth)
            .map(|i| {
                let cin = top >> i;
                let cout = if i + 1 == self.depth {
                    self.channels
                } else {
                    top >> (i + 1)
                };
                ConvTranspose2dConfig::new([cin, cout], [4, 4])
                    .with_stride([2, 2])
                    .with_padding([1, 1])
                    .with_initializer(dcgan_init())
                    .init(device)
            })
            .collect();
        // One norm after the linear layer and one after each transposed conv but the last.
        let norms = if self.g_batchnorm {
            (0..self.depth)
                .map(|i| BatchNormConfig::new(top >> i).init(device))
                .collect()
        } else {
            Vec::new()
        };
        GanGenerator {
            fc: LinearConfig::new(self.latent + self.classes, top * s0 * s0)
                .with_initializer(dcgan_init())
                .init(device),
            ups,
            norms,
            top,
            s0,
            classes: self.classes,
        }
    }

    /// Builds the discriminator with fresh weights.
    pub fn init_discriminator(&self, device: &Device) -> GanDiscriminator {
        let sn = self.spectral_norm;
        let convs: Vec<SnConv2d> = (0..self.depth)
            .map(|i| {
                let cin = if i == 0 {
                    self.channels
                } else {
                    self.d_width << (i - 1)
                };
                let conv = Conv2dConfig::new([cin, self.d_width << i], [4, 4])
                    .with_stride([2, 2])
                    .with_padding([1, 1])
                    .with_initializer(dcgan_init())
                    .init(device);
                SnConv2d::new(conv, sn, device)
            })
            .collect();
        let s = self.size >> self.depth;
        let feat = (self.d_width << (self.depth - 1)) * s * s;
        let embed = (self.classes > 0).then(|| {
            SnLinear::new(
                LinearConfig::new(self.classes, feat)
                    .with_bias(false)
                    .with_initializer(dcgan_init())
                    .init(device),
                sn,
                device,
            )
        });
        GanDiscriminator {
            convs,
            head: SnLinear::new(
                LinearConfig::new(feat, 1)
                    .with_initializer(dcgan_init())
                    .init(device),
                sn,
                device,
            ),
            embed,
        }
    }
}

/// Weights (and biases) drawn from N(0, 0.02), as in the DCGAN paper.
fn dcgan_init() -> Initializer {
    Initializer::Normal {
        mean: 0.0,
        std: 0.02,
    }
}

/// The generator.
#[derive(Module, Debug)]
pub struct GanGenerator {
    fc: Linear,
    ups: Vec<ConvTranspose2d>,
    norms: Vec<BatchNorm>,
    top: usize,
    s0: usize,
    classes: usize,
}

impl GanGenerator {
    /// Images `[b, c, size, size]` in [-1, 1] from noise `[b, latent]` (and one-hot labels
    /// `[b, classes]` for a conditional model).
    pub fn forward(&self, z: Tensor<2>, labels: Option<Tensor<2>>) -> Tensor<4> {
        let b = z.dims()[0];
        let z = match labels {
            Some(y) => Tensor::cat(vec![z, y], 1), // [b, latent + k]
            None => z,
        };
        let mut h = self.fc.forward(z).reshape([b, self.top, self.s0, self.s0]);
        let last = self.ups.len() - 1;
        for (i, up) in self.ups.iter().enumerate() {
            if let Some(norm) = self.norms.get(i) {
                h = crate::engine::norm::batch_norm(norm, h);
            }
            h = up.forward(relu(h)); // side doubles, channels halve
            if i == last {
                h = tanh(h);
            }
        }
        h
    }

    /// Number of classes (0: unconditional).
    pub fn classes(&self) -> usize {
        self.classes
    }
}

/// The discriminator.
#[derive(Module, Debug)]
pub struct GanDiscriminator {
    convs: Vec<SnConv2d>,
    head: SnLinear,
    embed: Option<SnLinear>,
}

impl GanDiscriminator {
    /// Logits `[b, 1]` (real if positive) for images `[b, c, size, size]` in [-1, 1] (and
    /// one-hot labels `[b, classes]` for a conditional model).
    pub fn forward(&self, x: Tensor<4>, labels: Option<Tensor<2>>) -> Tensor<2> {
        let mut h = x;
        for conv in &self.convs {
            h = conv.forward_act(h, Act::LeakyRelu(0.2)); // side halves
        }
        let h: Tensor<2> = h.flatten(1, 3); // [b, feat]
        let out = self.head.forward(h.clone()); // [b, 1]
        match (&self.embed, labels) {
            // Projection: + <embed(y), h>.
            (Some(embed), Some(y)) => out + (embed.forward(y) * h).sum_dim(1),
            _ => out,
        }
    }
}

impl GanDiscriminator {
    /// Logits `[b, 1]` and, beside them, the gradient of each image's logit with respect to
    /// that image, `[b, c, size, size]`, written out layer by layer with differentiable
    /// operations so that a penalty on it can itself be trained (R1). burn's autodiff has no
    /// double backward, so the input gradient is built by hand: the transpose of each
    /// convolution, and the leaky ReLU's slope (0.2 or 1) held as a constant, exactly what
    /// autograd does almost everywhere.
    pub fn forward_with_input_grad(
        &self,
        x: Tensor<4>,
        labels: Option<Tensor<2>>,
    ) -> (Tensor<2>, Tensor<4>) {
        let mut h = x;
        let mut layers = Vec::with_capacity(self.convs.len());
        for conv in &self.convs {
            let w = conv.weight();
            let a = conv.apply(h, w.clone());
            h = leaky_relu(a.clone(), 0.2);
            layers.push((a, w));
        }
        let dims = h.dims();
        let f: Tensor<2> = h.flatten(1, 3); // [b, feat]
        let [b, feat] = f.dims();
        let w_head = self.head.weight(); // [feat, 1]
        let mut out = linear(f.clone(), w_head.clone(), self.head.bias());
        // d logit / d features, [b, feat].
        let mut g = w_head.transpose().expand([b, feat]);
        if let (Some(embed), Some(y)) = (&self.embed, labels) {
            let e = embed.forward(y);
            out = out + (e.clone() * f).sum_dim(1);
            g = g + e;
        }
        let mut g: Tensor<4> = g.reshape(dims);
        for (a, w) in layers.into_iter().rev() {
            let slope = a.detach().greater_elem(0.0).float() * 0.8 + 0.2;
            g = conv_transpose2d(g * slope, w, None, [2, 2], [1, 1], [0, 0], Act::None);
        }
        (out, g)
    }
}

/// Divides `w` (`[rows, cols]`) by its spectral norm estimated from the stored left singular
/// vector `u` after one power iteration; on a training forward pass `u` is updated.
fn spectral(w: Tensor<2>, u: &RunningState<Tensor<1>>) -> Tensor<2> {
    let wd = w.clone().detach();
    let u0 = u.value_sync().unsqueeze::<2>(); // [1, rows]
    let v = u0.matmul(wd.clone()); // [1, cols]
    let v = v.clone() / (v.square().sum().sqrt() + 1e-12).unsqueeze();
    let wv = wd.matmul(v.clone().transpose()); // [rows, 1]
    let u1 = wv.clone() / (wv.square().sum().sqrt() + 1e-12).unsqueeze();
    if w.device().is_autodiff() {
        u.update(u1.clone().flatten(0, 1));
        // Fold the update into the stored value now, so a checkpoint saves the current u.
        let _ = u.value_sync();
    }
    // sigma = u1^T W v, differentiable in W only (u1 and v are constants, as in the paper).
    let sigma = u1.transpose().matmul(w.clone()).matmul(v.transpose()); // [1, 1]
    w / sigma
}

fn unit_vector(n: usize, device: &Device) -> RunningState<Tensor<1>> {
    let u = Tensor::<1>::random([n], Distribution::Normal(0.0, 1.0), device);
    let norm = u.clone().square().sum().sqrt();
    RunningState::new(u / norm)
}

/// A 4x4 stride-2 convolution whose weight may be spectrally normalised.
#[derive(Module, Debug)]
pub struct SnConv2d {
    conv: Conv2d,
    u: Option<RunningState<Tensor<1>>>,
}

impl SnConv2d {
    fn new(conv: Conv2d, sn: bool, device: &Device) -> SnConv2d {
        let rows = conv.weight.dims()[0];
        SnConv2d {
            conv,
            u: sn.then(|| unit_vector(rows, device)),
        }
    }

    /// `[b, cin, h, w]` -> `act(conv(x))`, `[b, cout, h / 2, w / 2]`.
    pub fn forward_act(&self, x: Tensor<4>, act: Act) -> Tensor<4> {
        self.conv.forward_with(x, self.weight(), act)
    }

    /// The weight in use: spectrally normalised if asked (one power iteration when training).
    fn weight(&self) -> Tensor<4> {
        let w = self.conv.weight.val();
        match &self.u {
            Some(u) => {
                let shape = w.dims();
                spectral(w.flatten(1, 3), u).reshape(shape)
            }
            None => w,
        }
    }

    fn apply(&self, x: Tensor<4>, w: Tensor<4>) -> Tensor<4> {
        self.conv.forward_with(x, w, Act::None)
    }
}

/// A linear layer whose weight may be spectrally normalised.
#[derive(Module, Debug)]
pub struct SnLinear {
    lin: Linear,
    u: Option<RunningState<Tensor<1>>>,
}

impl SnLinear {
    fn new(lin: Linear, sn: bool, device: &Device) -> SnLinear {
        let out = lin.weight.dims()[1];
        SnLinear {
            lin,
            u: sn.then(|| unit_vector(out, device)),
        }
    }

    /// `[b, in]` -> `[b, out]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        linear(x, self.weight(), self.bias())
    }

    /// The weight in use, `[in, out]`.
    fn weight(&self) -> Tensor<2> {
        let w = self.lin.weight.val();
        match &self.u {
            Some(u) => spectral(w.transpose(), u).transpose(),
            None => w,
        }
    }

    fn bias(&self) -> Option<Tensor<1>> {
        self.lin.bias.as_ref().map(|b| b.val())
    }
}

/// Images in [0, 1] from generator output in [-1, 1].
pub fn to_unit(x: Tensor<4>) -> Tensor<4> {
    ((x + 1.0) * 0.5).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_for_28_and_64_pixel_images_gray_and_rgb() {
        let device = crate::device::device();
        for (size, depth, channels, classes) in [(28, 2, 1, 0), (64, 4, 3, 10)] {
            let c = GanConfig::new()
                .with_size(size)
                .with_depth(depth)
                .with_channels(channels)
                .with_classes(classes)
                .with_g_width(8)
                .with_d_width(8)
                .with_spectral_norm(true);
            c.validate().unwrap();
            let (g, d) = (c.init_generator(&device), c.init_discriminator(&device));
            let z = Tensor::<2>::zeros([3, c.latent], &device);
            let y = (classes > 0).then(|| Tensor::<2>::zeros([3, classes], &device));
            let x = g.forward(z, y.clone());
            assert_eq!(x.dims(), [3, channels, size, size]);
            assert_eq!(d.forward(x, y).dims(), [3, 1]);
        }
    }

    /// After enough power iterations the normalised weight has spectral norm 1.
    /// numpy: `np.linalg.norm(W / s, 2)` is 1 for `s = np.linalg.svd(W)[1][0]`.
    ///
    /// The weight and the starting vector come from a seeded generator: power iteration
    /// converges as (s2 / s1)^(2k), so a draw with two near-equal singular values (or a
    /// start nearly orthogonal to the top one) left the unseeded version of this test 1e-3
    /// short after 50 iterations, once in many runs.
    #[test]
    fn spectral_norm_converges_to_unit_norm() {
        use burn::tensor::TensorData;
        let device = crate::device::train_device();
        let mut rng = crate::rng::Rng::new(11);
        let w = Tensor::<2>::from_data(TensorData::new(rng.normals(60), [6, 10]), &device);
        let u0 = Tensor::<1>::from_data(TensorData::new(rng.normals(6), [6]), &device);
        let u = RunningState::new(u0.clone() / u0.square().sum().sqrt());
        let mut wn = w.clone();
        for _ in 0..50 {
            wn = spectral(w.clone(), &u);
        }
        // Largest singular value of wn by many power iterations on wn^T wn.
        let wn = wn.detach();
        let mut v = Tensor::<2>::ones([10, 1], &device);
        for _ in 0..200 {
            let next = wn.clone().transpose().matmul(wn.clone().matmul(v.clone()));
            v = next.clone() / next.square().sum().sqrt().unsqueeze();
        }
        let s: f32 = wn.matmul(v).square().sum().sqrt().into_scalar();
        assert!((s - 1.0).abs() < 1e-4, "spectral norm {s}");
    }
}

#[cfg(test)]
mod batchnorm_golden {
    use burn::module::Param;
    use burn::nn::BatchNormConfig;
    use burn::tensor::{Tensor, TensorData};

    /// burn's training-mode batch norm, forward and backward, against PyTorch 2.15 (the
    /// generator's normalisation is the first layer regen uses whose gradient mixes a batch):
    /// ```python
    /// x = torch.tensor([math.sin(i*0.7)*2 + 0.1*i for i in range(24)]).reshape(2,3,2,2).requires_grad_()
    /// g = torch.tensor([1.0, 0.5, 2.0], requires_grad=True); b = torch.tensor([0.1, -0.2, 0.3], requires_grad=True)
    /// w = torch.tensor([math.cos(i*1.3) for i in range(24)]).reshape(2,3,2,2)
    /// y = F.batch_norm(x, None, None, g, b, training=True, eps=1e-5); (y*w).sum().backward()
    /// ```
    /// Tolerance 1e-4 absolute (f32, sums over 8 values).
    #[test]
    fn batch_norm_forward_and_gradients_match_pytorch() {
        let device = crate::device::train_device();
        let xs: Vec<f32> = (0..24)
            .map(|i| (i as f32 * 0.7).sin() * 2.0 + 0.1 * i as f32)
            .collect();
        let ws: Vec<f32> = (0..24).map(|i| (i as f32 * 1.3).cos()).collect();
        // burn's module, then regen's fused pass ([`crate::engine::norm`]) that training uses.
        for fused in [false, true] {
            let x = Tensor::<4>::from_data(TensorData::new(xs.clone(), [2, 3, 2, 2]), &device)
                .require_grad();
            let w = Tensor::<4>::from_data(TensorData::new(ws.clone(), [2, 3, 2, 2]), &device);
            let mut bn = BatchNormConfig::new(3).init(&device);
            bn.gamma = Param::from_tensor(Tensor::from_data(
                TensorData::new(vec![1.0f32, 0.5, 2.0], [3]),
                &device,
            ));
            bn.beta = Param::from_tensor(Tensor::from_data(
                TensorData::new(vec![0.1f32, -0.2, 0.3], [3]),
                &device,
            ));
            let y = if fused {
                crate::engine::norm::batch_norm(&bn, x.clone())
            } else {
                bn.forward(x.clone())
            };
            let grads = (y.clone() * w).sum().backward();
            let v = |t: Tensor<4>| -> Vec<f32> { t.into_data().try_to_vec().unwrap() };
            let close = |got: &[f32], want: &[f32]| {
                for (g, w) in got.iter().zip(want) {
                    assert!((g - w).abs() < 1e-4, "{got:?} vs {want:?}");
                }
            };
            close(
                &v(y.detach())[..6],
                &[-1.192852, 0.131804, 0.878325, 0.740481, 0.01125, -0.428406],
            );
            let gx: Vec<f32> = x.grad(&grads).unwrap().into_data().try_to_vec().unwrap();
            close(
                &gx,
                &[
                    0.063315, 0.287766, -0.264636, -0.235774, 0.117105, 0.392213, 0.146831,
                    -0.189993, -0.73088, 0.945091, 1.278503, -0.254497, 0.095348, 0.045362,
                    0.312603, -0.303985, -0.061335, -0.341202, -0.162989, 0.099371, 0.868153,
                    -0.837978, -1.35941, 0.091017,
                ],
            );
            let grad = |p: &Param<Tensor<1>>| -> Vec<f32> {
                p.val()
                    .grad(&grads)
                    .unwrap()
                    .into_data()
                    .try_to_vec()
                    .unwrap()
            };
            close(&grad(&bn.gamma), &[-5.844592, 2.616407, 0.199079]);
            let gb = grad(&bn.beta);
            close(&gb, &[-0.087101, -0.066755, 0.024549]);
        }
    }
}

#[cfg(test)]
mod r1_golden {
    use super::*;
    use burn::module::Param;
    use burn::tensor::TensorData;

    /// The hand-built input gradient, and the gradient of the R1 penalty through it (a second
    /// derivative), against PyTorch 2.15's double backward in float64:
    /// ```python
    /// t = lambda n, f: torch.tensor([f(i) for i in range(n)], dtype=torch.float64)
    /// x = t(128, lambda i: math.sin(0.13*i) + 0.2*math.cos(0.05*i)).reshape(2,1,8,8).requires_grad_()
    /// w1 = t(32, lambda i: 0.3*math.sin(0.7*i + 0.1)).reshape(2,1,4,4).requires_grad_(); b1 = [0.05, -0.05]
    /// w2 = t(128, lambda i: 0.2*math.cos(0.3*i)).reshape(4,2,4,4).requires_grad_(); b2 = [0.01, 0.02, -0.01, 0.0]
    /// wh = t(16, lambda j: 0.25*math.sin(1.1*j)).reshape(1,16).requires_grad_(); bh = [0.1]
    /// D = lambda x: F.linear(F.leaky_relu(F.conv2d(F.leaky_relu(F.conv2d(x, w1, b1, stride=2,
    ///     padding=1), 0.2), w2, b2, stride=2, padding=1), 0.2).flatten(1), wh, bh)
    /// out = D(x); g, = torch.autograd.grad(out.sum(), x, create_graph=True)
    /// pen = g.pow(2).sum(); pen.backward()
    /// ```
    /// Tolerance 1e-5 absolute (regen computes in f32).
    #[test]
    fn input_gradient_and_r1_penalty_gradients_match_pytorch_double_backward() {
        let device = crate::device::train_device();
        let cfg = GanConfig::new().with_size(8).with_d_width(2).with_depth(2);
        let mut d = cfg.init_discriminator(&device);
        let t = |n: usize, f: &dyn Fn(usize) -> f64| -> Vec<f32> {
            (0..n).map(|i| f(i) as f32).collect()
        };
        let p4 = |v: Vec<f32>, s: [usize; 4]| {
            Param::from_tensor(Tensor::<4>::from_data(TensorData::new(v, s), &device))
        };
        let p1 = |v: Vec<f32>| {
            let n = v.len();
            Param::from_tensor(Tensor::<1>::from_data(TensorData::new(v, [n]), &device))
        };
        d.convs[0].conv.weight = p4(t(32, &|i| 0.3 * (0.7 * i as f64 + 0.1).sin()), [2, 1, 4, 4]);
        d.convs[0].conv.bias = Some(p1(vec![0.05, -0.05]));
        d.convs[1].conv.weight = p4(t(128, &|i| 0.2 * (0.3 * i as f64).cos()), [4, 2, 4, 4]);
        d.convs[1].conv.bias = Some(p1(vec![0.01, 0.02, -0.01, 0.0]));
        d.head.lin.weight = Param::from_tensor(Tensor::<2>::from_data(
            TensorData::new(t(16, &|j| 0.25 * (1.1 * j as f64).sin()), [16, 1]),
            &device,
        ));
        d.head.lin.bias = Some(p1(vec![0.1]));
        let x = Tensor::<4>::from_data(
            TensorData::new(
                t(128, &|i| {
                    (0.13 * i as f64).sin() + 0.2 * (0.05 * i as f64).cos()
                }),
                [2, 1, 8, 8],
            ),
            &device,
        );
        let (out, g) = d.forward_with_input_grad(x, None);
        let v = |t: Tensor<4>| -> Vec<f32> { t.into_data().try_to_vec().unwrap() };
        let close = |got: &[f32], want: &[f64]| {
            for (g, w) in got.iter().zip(want) {
                assert!((*g as f64 - w).abs() < 1e-5, "{got:?} vs {want:?}");
            }
        };
        let o: Vec<f32> = out.clone().into_data().try_to_vec().unwrap();
        close(&o, &[0.01881500, 0.10788597]);
        let gv = v(g.clone().detach());
        close(
            &gv[..5],
            &[
                0.00548626,
                0.00643292,
                -0.00351385,
                -0.00124453,
                -0.00749735,
            ],
        );
        close(&gv[70..73], &[-0.00159618, -0.00108302, -0.00612515]);
        let pen = g.square().sum();
        let pv: f32 = pen.clone().into_scalar();
        close(&[pv], &[0.01873506]);
        let grads = pen.backward();
        let gw1 = v(d.convs[0].conv.weight.val().grad(&grads).unwrap());
        close(&gw1[..4], &[0.00976239, 0.01161307, 0.01050354, 0.00951439]);
        let gw2 = v(d.convs[1].conv.weight.val().grad(&grads).unwrap());
        close(&gw2[10..13], &[0.01526992, 0.01741285, 0.00082989]);
        let gh: Vec<f32> = d
            .head
            .lin
            .weight
            .val()
            .grad(&grads)
            .unwrap()
            .into_data()
            .try_to_vec()
            .unwrap();
        close(
            &gh[..4],
            &[0.02398767, 0.01966788, -0.15975733, -0.15946217],
        );
    }
}
