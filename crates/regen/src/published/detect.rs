//! Which architecture a state dict is, found as spandrel finds it: by the names of its
//! tensors, with the hyper-parameters (channels, features, blocks, scale) read from their
//! shapes; then its tensors renamed to regen's modules. Batch norm (IPOL's FFDNet, KAIR's
//! DnCNN in its `BR` mode) is folded into the convolution before it, which is exact at
//! inference: `w' = w g / sqrt(v + eps)`, `b' = (b - m) g / sqrt(v + eps) + beta`.

use super::{Format, Imported, StateDict, Weight};
use crate::corrupt::Task;
use crate::models::{
    CompactConfig, Descriptor, DnCnnConfig, DrUnetConfig, EsrganConfig, FdnCnnConfig, FfdNetConfig,
    FfdNetLayout, RestoreArch, SpanConfig,
};
use crate::planes::{self, Plane};

/// The architectures regen recognises, for messages.
pub const KNOWN: &str =
    "ESRGAN (RRDBNet), Compact (SRVGGNetCompact), DnCNN, FDnCNN, FFDNet, DRUNet";

type Res<T> = std::result::Result<T, String>;

/// Finds the architecture of `sd` and maps its weights onto regen's network.
pub fn detect(mut sd: StateDict, format: Format) -> Res<Imported> {
    sd.strip_common_prefix(&["module.", "netG."]);
    let mut out = Builder {
        sd: &sd,
        weights: Vec::new(),
    };
    let (arch, task, detected) = if sd.has("model.0.weight")
        && sd.has("model.1.sub.0.RDB1.conv1.0.weight")
    {
        esrgan(&mut out, &OLD_ESRGAN)?
    } else if sd.has("conv_first.weight") && sd.has("body.0.rdb1.conv1.weight") {
        esrgan(&mut out, &REAL_ESRGAN)?
    } else if sd.has("conv_first.weight") && sd.has("RRDB_trunk.0.RDB1.conv1.weight") {
        esrgan(&mut out, &BSRGAN)?
    } else if sd.has("body.0.weight") && sd.has("body.1.weight") {
        compact(&mut out)?
    } else if sd.has("conv_1.sk.weight") && sd.has("block_1.c1_r.sk.weight") {
        span(&mut out)?
    } else if sd.has("m_head.weight") && sd.has("m_down1.0.res.0.weight") {
        drunet(&mut out)?
    } else if sd.has("intermediate_dncnn.itermediate_dncnn.0.weight") {
        ffdnet(
            &mut out,
            "intermediate_dncnn.itermediate_dncnn",
            FfdNetLayout::Ipol,
        )?
    } else if sd.has("model.0.weight") && sd.has("model.2.weight") {
        // KAIR's DnCNN, FDnCNN and FFDNet share their keys; the shapes tell them apart.
        let cin = out.shape("model.0.weight", 1)?;
        if cin % 4 == 1 && [1, 3].contains(&(cin / 4)) {
            ffdnet(&mut out, "model", FfdNetLayout::Kair)?
        } else {
            dncnn(&mut out)?
        }
    } else {
        let keys: Vec<&str> = sd.keys().take(4).collect();
        return Err(format!(
            "no architecture regen knows ({KNOWN}) has these tensors (first: {}); a safetensors, .pth or ncnn file of one of them loads",
            keys.join(", ")
        ));
    };
    let inputs = inputs_for(&arch, task);
    let descriptor = Descriptor::restore(task, arch, inputs)
        .map_err(|e| format!("detected {detected}, but {e}"))?;
    let weights = out.weights;
    Ok(Imported {
        format,
        detected,
        descriptor,
        weights,
    })
}

/// The input planes of a published network: the image, then a noise level map for those
/// that take one.
fn inputs_for(arch: &RestoreArch, task: Task) -> Vec<Plane> {
    let c = arch.out_channels();
    let noise = arch.in_planes() == c + 1;
    planes::for_task(task, c, false, noise)
}

struct Builder<'a> {
    sd: &'a StateDict,
    weights: Vec<(String, Weight)>,
}

impl Builder<'_> {
    fn get(&self, key: &str) -> Res<&Weight> {
        self.sd
            .get(key)
            .ok_or_else(|| format!("tensor {key} is missing"))
    }

    fn shape(&self, key: &str, dim: usize) -> Res<usize> {
        self.get(key)?
            .shape
            .get(dim)
            .copied()
            .ok_or_else(|| format!("tensor {key} has no dimension {dim}"))
    }

    /// Copies `from` to regen's `to`.
    fn put(&mut self, to: String, from: &str) -> Res<()> {
        let w = self.get(from)?.clone();
        self.weights.push((to, w));
        Ok(())
    }

    /// A convolution: `{from}.weight` and `{from}.bias` (zeros when the file has none and
    /// regen's layer has one, `bias`).
    fn conv(&mut self, to: &str, from: &str, bias: bool) -> Res<()> {
        self.put(format!("{to}.weight"), &format!("{from}.weight"))?;
        let b = format!("{from}.bias");
        if bias {
            if self.sd.has(&b) {
                self.put(format!("{to}.bias"), &b)?;
            } else {
                let n = self.shape(&format!("{from}.weight"), 0)?;
                self.weights
                    .push((format!("{to}.bias"), Weight::new(vec![n], vec![0.0; n])));
            }
        }
        Ok(())
    }

    /// The convolutions of a `Sequential` under `prefix` (indices in order), each with
    /// its bias and any batch norm after it folded in.
    fn conv_chain(&self, prefix: &str, eps: f32) -> Res<Vec<(Weight, Vec<f32>)>> {
        let mut idx: Vec<usize> = self
            .sd
            .keys()
            .filter_map(|k| {
                let rest = k.strip_prefix(prefix)?.strip_prefix('.')?;
                let (n, field) = rest.split_once('.')?;
                (field == "weight").then(|| n.parse().ok())?
            })
            .collect();
        idx.sort_unstable();
        idx.dedup();
        let mut convs: Vec<(Weight, Vec<f32>)> = Vec::new();
        for i in idx {
            let key = |f: &str| format!("{prefix}.{i}.{f}");
            let w = self.get(&key("weight"))?;
            match w.shape.len() {
                4 => {
                    let o = w.shape[0];
                    let b = match self.sd.get(&key("bias")) {
                        Some(b) if b.data.len() == o => b.data.clone(),
                        Some(_) => {
                            return Err(format!("tensor {} has the wrong size", key("bias")));
                        }
                        None => vec![0.0; o],
                    };
                    convs.push((w.clone(), b));
                }
                1 if self.sd.has(&key("running_mean")) => {
                    let (conv, bias) = convs
                        .last_mut()
                        .ok_or_else(|| format!("batch norm {prefix}.{i} before any convolution"))?;
                    fold_bn(conv, bias, eps, &|f| self.get(&key(f)).map(|w| &w.data[..]))
                        .map_err(|e| format!("batch norm {prefix}.{i}: {e}"))?;
                }
                _ => {
                    return Err(format!(
                        "tensor {} is neither a convolution nor a batch norm",
                        key("weight")
                    ));
                }
            }
        }
        if convs.is_empty() {
            return Err(format!("no convolutions under {prefix}"));
        }
        Ok(convs)
    }
}

/// Folds a batch norm (`weight`, `bias`, `running_mean`, `running_var` by `field`) into
/// the convolution before it.
fn fold_bn<'a>(
    conv: &mut Weight,
    bias: &mut [f32],
    eps: f32,
    field: &dyn Fn(&str) -> Res<&'a [f32]>,
) -> Res<()> {
    let (g, beta, m, v) = (
        field("weight")?,
        field("bias")?,
        field("running_mean")?,
        field("running_var")?,
    );
    let o = conv.shape[0];
    if [g.len(), beta.len(), m.len(), v.len()] != [o; 4] {
        return Err(format!("{} channels after a convolution of {o}", g.len()));
    }
    let per = conv.data.len() / o;
    for c in 0..o {
        let s = g[c] / (v[c] + eps).sqrt();
        for x in &mut conv.data[c * per..(c + 1) * per] {
            *x *= s;
        }
        bias[c] = (bias[c] - m[c]) * s + beta[c];
    }
    Ok(())
}

/// The key names of one ESRGAN layout.
struct EsrganKeys {
    name: &'static str,
    first: &'static str,
    /// Block `b`, dense block `d` (1-3), convolution `c` (1-5).
    dense: fn(usize, usize, usize) -> String,
    /// The trunk convolution, after `nb` blocks.
    trunk: fn(usize) -> String,
    /// Upsampling convolution `u` (1-based).
    up: fn(usize) -> String,
    /// The last two, after `n` upsamplings.
    hr: fn(usize) -> String,
    last: fn(usize) -> String,
}

const OLD_ESRGAN: EsrganKeys = EsrganKeys {
    name: "ESRGAN keys",
    first: "model.0",
    dense: |b, d, c| format!("model.1.sub.{b}.RDB{d}.conv{c}.0"),
    trunk: |nb| format!("model.1.sub.{nb}"),
    up: |u| format!("model.{}", 3 * u),
    hr: |n| format!("model.{}", 3 * n + 2),
    last: |n| format!("model.{}", 3 * n + 4),
};

const REAL_ESRGAN: EsrganKeys = EsrganKeys {
    name: "Real-ESRGAN keys",
    first: "conv_first",
    dense: |b, d, c| format!("body.{b}.rdb{d}.conv{c}"),
    trunk: |_| "conv_body".into(),
    up: |u| format!("conv_up{u}"),
    hr: |_| "conv_hr".into(),
    last: |_| "conv_last".into(),
};

const BSRGAN: EsrganKeys = EsrganKeys {
    name: "BSRGAN keys",
    first: "conv_first",
    dense: |b, d, c| format!("RRDB_trunk.{b}.RDB{d}.conv{c}"),
    trunk: |_| "trunk_conv".into(),
    up: |u| format!("upconv{u}"),
    hr: |_| "HRconv".into(),
    last: |_| "conv_last".into(),
};

fn esrgan(o: &mut Builder, k: &EsrganKeys) -> Res<(RestoreArch, Task, String)> {
    let w = |s: &str| format!("{s}.weight");
    let blocks = (0..)
        .take_while(|&b| o.sd.has(&w(&(k.dense)(b, 1, 1))))
        .count();
    let ups = (1..).take_while(|&u| o.sd.has(&w(&(k.up)(u)))).count();
    if ups > 4 {
        return Err(format!("an RRDBNet of {ups} upsamplings (x16 at most)"));
    }
    if k.name == "ESRGAN keys" && o.sd.keys().any(|k| k.contains(".conv1x1.")) {
        return Err("ESRGAN+ (its dense blocks have 1x1 convolutions) is not supported".into());
    }
    let first = w(k.first);
    let (features, cin) = (o.shape(&first, 0)?, o.shape(&first, 1)?);
    let growth = o.shape(&w(&(k.dense)(0, 1, 1)), 0)?;
    let out = o.shape(&w(&(k.last)(ups)), 0)?;
    let unshuffle = if cin == out * 16 {
        4
    } else if cin == out * 4 {
        2
    } else {
        1
    };
    let inner = 1usize << ups;
    if inner < unshuffle {
        return Err(format!(
            "an RRDBNet that unshuffles by {unshuffle} but upsamples by {inner}"
        ));
    }
    let cfg = EsrganConfig::new(cin / (unshuffle * unshuffle), out)
        .with_features(features)
        .with_blocks(blocks)
        .with_growth(growth)
        .with_scale(inner / unshuffle)
        .with_unshuffle(unshuffle);
    o.conv("Esrgan.first", k.first, true)?;
    for b in 0..blocks {
        for d in 0..3 {
            for c in 0..5 {
                o.conv(
                    &format!("Esrgan.blocks.{b}.dense.{d}.convs.{c}"),
                    &(k.dense)(b, d + 1, c + 1),
                    true,
                )?;
            }
        }
    }
    o.conv("Esrgan.trunk", &(k.trunk)(blocks), true)?;
    for u in 0..ups {
        o.conv(&format!("Esrgan.ups.{u}"), &(k.up)(u + 1), true)?;
    }
    o.conv("Esrgan.hr", &(k.hr)(ups), true)?;
    o.conv("Esrgan.last", &(k.last)(ups), true)?;
    let detected = format!(
        "ESRGAN / RRDBNet ({}): x{}, {} blocks, {} features, growth {}{}",
        k.name,
        cfg.scale,
        blocks,
        features,
        growth,
        if unshuffle > 1 {
            format!(", pixel unshuffle {unshuffle}")
        } else {
            String::new()
        }
    );
    let task = if cfg.scale > 1 {
        Task::Upscale
    } else {
        Task::Denoise
    };
    Ok((RestoreArch::Esrgan(cfg), task, detected))
}

fn compact(o: &mut Builder) -> Res<(RestoreArch, Task, String)> {
    let highest =
        o.sd.keys()
            .filter_map(|k| {
                k.strip_prefix("body.")?
                    .strip_suffix(".weight")?
                    .parse::<usize>()
                    .ok()
            })
            .max()
            .ok_or("no body tensors")?;
    if highest < 2 || highest % 2 != 0 {
        return Err(format!("a Compact body ending at layer {highest}"));
    }
    let convs = (highest - 2) / 2;
    let (features, cin) = (o.shape("body.0.weight", 0)?, o.shape("body.0.weight", 1)?);
    let last_out = o.shape(&format!("body.{highest}.weight"), 0)?;
    let scale = (1..=8)
        .find(|s| s * s * cin == last_out)
        .ok_or_else(|| format!("{last_out} output planes fit no scale of {cin} channels"))?;
    for i in 0..=convs {
        o.conv(
            &format!("Compact.convs.{i}"),
            &format!("body.{}", 2 * i),
            true,
        )?;
        let prelu = format!("body.{}.weight", 2 * i + 1);
        if o.get(&prelu)?.shape != [features] {
            return Err(format!(
                "{prelu}: a PReLU of one slope per feature expected"
            ));
        }
        o.put(format!("Compact.acts.{i}.weight"), &prelu)?;
    }
    o.conv("Compact.last", &format!("body.{highest}"), true)?;
    let cfg = CompactConfig::new(cin, cin)
        .with_features(features)
        .with_convs(convs)
        .with_scale(scale);
    let detected =
        format!("Compact / SRVGGNetCompact: x{scale}, {convs} convolutions, {features} features");
    let task = if scale > 1 {
        Task::Upscale
    } else {
        Task::Denoise
    };
    Ok((RestoreArch::Compact(cfg), task, detected))
}

/// SPAN's re-parameterised convolution under `prefix` (a 1x1 shortcut `sk` beside a 1x1,
/// a 3x3 and a 1x1 in a row, `conv.0-2`) folded into the one 3x3 convolution it computes at
/// inference: `W = w3 w2 w1` (plus the shortcut at the centre tap), `B = w3 (sum(w2) b1 +
/// b2) + b3 + b_sk`.
fn conv3xc(o: &Builder, prefix: &str) -> Res<(Weight, Vec<f32>)> {
    let g = |k: &str| o.get(&format!("{prefix}.{k}"));
    let (w1, b1) = (g("conv.0.weight")?, g("conv.0.bias")?);
    let (w2, b2) = (g("conv.1.weight")?, g("conv.1.bias")?);
    let (w3, b3) = (g("conv.2.weight")?, g("conv.2.bias")?);
    let (wsk, bsk) = (g("sk.weight")?, g("sk.bias")?);
    let (gi, ci) = (w1.shape[0], w1.shape.get(1).copied().unwrap_or(0));
    let go = w2.shape[0];
    let co = w3.shape[0];
    let ok = w1.shape == [gi, ci, 1, 1]
        && w2.shape == [go, gi, 3, 3]
        && w3.shape == [co, go, 1, 1]
        && wsk.shape == [co, ci, 1, 1]
        && [b1.data.len(), b2.data.len(), b3.data.len(), bsk.data.len()] == [gi, go, co, co];
    if !ok {
        return Err(format!("{prefix}: not SPAN's 1x1-3x3-1x1 convolution"));
    }
    // w21[G, i, k] = sum_g w2[G, g, k] w1[g, i]
    let mut w21 = vec![0f32; go * ci * 9];
    for gg in 0..go {
        for g1 in 0..gi {
            for i in 0..ci {
                let a = w1.data[g1 * ci + i];
                for k in 0..9 {
                    w21[(gg * ci + i) * 9 + k] += w2.data[(gg * gi + g1) * 9 + k] * a;
                }
            }
        }
    }
    let mut w = vec![0f32; co * ci * 9];
    let mut b = vec![0f32; co];
    for oo in 0..co {
        for gg in 0..go {
            let a = w3.data[oo * go + gg];
            for j in 0..ci * 9 {
                w[oo * ci * 9 + j] += a * w21[gg * ci * 9 + j];
            }
            let mid: f32 = b2.data[gg]
                + (0..gi)
                    .map(|g1| {
                        (0..9).map(|k| w2.data[(gg * gi + g1) * 9 + k]).sum::<f32>() * b1.data[g1]
                    })
                    .sum::<f32>();
            b[oo] += a * mid;
        }
        b[oo] += b3.data[oo] + bsk.data[oo];
        for i in 0..ci {
            w[(oo * ci + i) * 9 + 4] += wsk.data[oo * ci + i];
        }
    }
    Ok((Weight::new(vec![co, ci, 3, 3], w), b))
}

fn span(o: &mut Builder) -> Res<(RestoreArch, Task, String)> {
    let (features, cin) = (
        o.shape("conv_1.sk.weight", 0)?,
        o.shape("conv_1.sk.weight", 1)?,
    );
    let up = o.shape("upsampler.0.weight", 0)?;
    let scale = (1..=8)
        .find(|s| s * s * cin == up)
        .ok_or_else(|| format!("{up} output planes fit no scale of {cin} channels"))?;
    let mut folded = vec![("Span.first".to_string(), conv3xc(o, "conv_1")?)];
    for b in 0..6 {
        for c in 1..=3 {
            let from = format!("block_{}.c{c}_r", b + 1);
            folded.push((format!("Span.blocks.{b}.c{c}"), conv3xc(o, &from)?));
        }
    }
    folded.push(("Span.last".to_string(), conv3xc(o, "conv_2")?));
    for (to, (w, b)) in folded {
        let n = b.len();
        o.weights.push((format!("{to}.weight"), w));
        o.weights
            .push((format!("{to}.bias"), Weight::new(vec![n], b)));
    }
    o.conv("Span.cat", "conv_cat", true)?;
    o.conv("Span.up", "upsampler.0", true)?;
    let norm = !o.sd.has("no_norm");
    let cfg = SpanConfig::new(cin, cin)
        .with_features(features)
        .with_scale(scale)
        .with_norm(norm);
    let detected = format!(
        "SPAN: x{scale}, {features} features{}",
        if norm { "" } else { ", no input normalisation" }
    );
    let task = if scale > 1 {
        Task::Upscale
    } else {
        Task::Denoise
    };
    Ok((RestoreArch::Span(cfg), task, detected))
}

fn drunet(o: &mut Builder) -> Res<(RestoreArch, Task, String)> {
    let blocks = (0..)
        .take_while(|i| o.sd.has(&format!("m_body.{i}.res.0.weight")))
        .count();
    if !o.sd.has(&format!("m_down1.{blocks}.weight")) {
        return Err(
            "a DRUNet that pools to go down; regen runs the strided-convolution one".into(),
        );
    }
    if o.sd.has("m_up3.1.weight") || o.shape("m_up3.0.weight", 2)? != 2 {
        return Err("a DRUNet that upsamples by upconv or pixel shuffle; regen runs the transposed-convolution one".into());
    }
    let widths = [
        o.shape("m_head.weight", 0)?,
        o.shape("m_down2.0.res.0.weight", 0)?,
        o.shape("m_down3.0.res.0.weight", 0)?,
        o.shape("m_body.0.res.0.weight", 0)?,
    ];
    let cin = o.shape("m_head.weight", 1)?;
    let res = |o: &mut Builder, to: String, from: String| -> Res<()> {
        o.conv(&format!("{to}.a"), &format!("{from}.res.0"), false)?;
        o.conv(&format!("{to}.b"), &format!("{from}.res.2"), false)
    };
    o.conv("DrUnet.head", "m_head", false)?;
    for l in 0..3 {
        for i in 0..blocks {
            res(
                o,
                format!("DrUnet.down_blocks.{l}.{i}"),
                format!("m_down{}.{i}", l + 1),
            )?;
        }
        o.conv(
            &format!("DrUnet.down.{l}"),
            &format!("m_down{}.{blocks}", l + 1),
            false,
        )?;
        o.conv(
            &format!("DrUnet.up.{l}"),
            &format!("m_up{}.0", 3 - l),
            false,
        )?;
        for i in 0..blocks {
            res(
                o,
                format!("DrUnet.up_blocks.{l}.{i}"),
                format!("m_up{}.{}", 3 - l, i + 1),
            )?;
        }
    }
    for i in 0..blocks {
        res(o, format!("DrUnet.body.{i}"), format!("m_body.{i}"))?;
    }
    o.conv("DrUnet.tail", "m_tail", false)?;
    let cfg = DrUnetConfig::new(cin.saturating_sub(1))
        .with_widths(widths)
        .with_blocks(blocks);
    let detected = format!("DRUNet: {blocks} blocks per stage, widths {widths:?}");
    Ok((RestoreArch::DrUnet(cfg), Task::Denoise, detected))
}

fn ffdnet(o: &mut Builder, prefix: &str, layout: FfdNetLayout) -> Res<(RestoreArch, Task, String)> {
    // The IPOL code's batch norm has PyTorch's epsilon; KAIR's has 1e-4.
    let eps = match layout {
        FfdNetLayout::Ipol => 1e-5,
        FfdNetLayout::Kair => 1e-4,
    };
    let convs = o.conv_chain(prefix, eps)?;
    let cin = convs[0].0.shape[1];
    let channels = match layout {
        FfdNetLayout::Ipol => cin / 5,
        FfdNetLayout::Kair => cin.saturating_sub(1) / 4,
    };
    let features = convs[0].0.shape[0];
    let cfg = FfdNetConfig::new(channels)
        .with_features(features)
        .with_layers(convs.len())
        .with_layout(layout);
    push_chain(o, "FfdNet.convs", convs);
    let name = match layout {
        FfdNetLayout::Ipol => "the authors' IPOL layout, batch norm folded",
        FfdNetLayout::Kair => "KAIR layout",
    };
    let detected = format!(
        "FFDNet ({name}): {} layers, {features} features",
        cfg.layers
    );
    Ok((RestoreArch::FfdNet(cfg), Task::Denoise, detected))
}

fn dncnn(o: &mut Builder) -> Res<(RestoreArch, Task, String)> {
    // KAIR's batch norm (its `BR` mode) has an epsilon of 1e-4.
    let convs = o.conv_chain("model", 1e-4)?;
    let (cin, features) = (convs[0].0.shape[1], convs[0].0.shape[0]);
    let out = convs.last().expect("at least one").0.shape[0];
    let layers = convs.len();
    let bn = o.sd.has("model.3.running_mean");
    let (arch, prefix, name) = if cin == out {
        let cfg = DnCnnConfig::new(cin, out)
            .with_width(features)
            .with_layers(layers);
        (RestoreArch::DnCnn(cfg), "DnCnn", "DnCNN")
    } else if cin == out + 1 {
        let cfg = FdnCnnConfig::new(out)
            .with_width(features)
            .with_layers(layers);
        (RestoreArch::FdnCnn(cfg), "FdnCnn", "FDnCNN")
    } else {
        return Err(format!(
            "a DnCNN-like stack of {cin} planes in and {out} out"
        ));
    };
    let mut convs = convs;
    let tail = convs.pop().expect("at least one");
    push_chain(o, &format!("{prefix}.body.convs"), convs);
    o.weights.push((format!("{prefix}.tail.weight"), tail.0));
    let n = tail.1.len();
    o.weights
        .push((format!("{prefix}.tail.bias"), Weight::new(vec![n], tail.1)));
    let detected = format!(
        "{name} (KAIR layout{}): {layers} layers, {features} features",
        if bn { ", batch norm folded" } else { "" }
    );
    Ok((arch, Task::Denoise, detected))
}

fn push_chain(o: &mut Builder, to: &str, convs: Vec<(Weight, Vec<f32>)>) {
    for (i, (w, b)) in convs.into_iter().enumerate() {
        let n = b.len();
        o.weights.push((format!("{to}.{i}.weight"), w));
        o.weights
            .push((format!("{to}.{i}.bias"), Weight::new(vec![n], b)));
    }
}
