//! ncnn models (`.param` text + `.bin` weights), as upscayl and realesrgan-ncnn-vulkan ship
//! them: the graph is parsed, the weights read layer by layer (fp32, or fp16 behind its
//! tag), and the graph recognised as one of regen's architectures (RRDBNet or Compact), so
//! an ncnn model runs on regen's engine, tiles and exports like any other.
//!
//! `.bin` layout (ncnn's `ModelBin`): a convolution's weights start with a four-byte tag
//! (0 = fp32, `0x01306B47` = fp16, padded to four bytes; others are quantised, refused),
//! then its bias as raw fp32; a PReLU's slopes are raw fp32. Layers without weights
//! (Input, Split, Concat, Eltwise, BinaryOp, Interp, PixelShuffle) take nothing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{Format, Imported, Weight};
use crate::corrupt::Task;
use crate::models::{CompactConfig, Descriptor, EsrganConfig, RestoreArch};
use crate::planes;

type Res<T> = std::result::Result<T, String>;

const MAGIC: &str = "7767517";
const FP16_TAG: u32 = 0x0130_6B47;

/// One layer of an ncnn graph.
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    /// Its type (`Convolution`).
    pub kind: String,
    /// Its name.
    pub name: String,
    /// Blobs in.
    pub bottoms: Vec<String>,
    /// Blobs out.
    pub tops: Vec<String>,
    /// Parameters by id: each a list of numbers (one for a scalar).
    pub params: HashMap<i32, Vec<f32>>,
}

impl Layer {
    fn int(&self, id: i32, default: i64) -> i64 {
        self.params
            .get(&id)
            .and_then(|v| v.first())
            .map_or(default, |&v| v as i64)
    }
}

/// Parses a `.param` file's text.
pub fn parse_param(text: &str) -> Res<Vec<Layer>> {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    if lines.next() != Some(MAGIC) {
        return Err(format!(
            "not an ncnn .param file (the first line is not {MAGIC})"
        ));
    }
    let counts = lines
        .next()
        .ok_or("an ncnn .param without its layer count")?;
    let layer_count: usize = counts
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .ok_or("an ncnn .param with a bad layer count")?;
    let mut layers = Vec::new();
    for (i, line) in lines.enumerate() {
        let mut f = line.split_whitespace();
        let bad = || format!("ncnn layer line {}: {line:?}", i + 3);
        let kind = f.next().ok_or_else(bad)?.to_string();
        let name = f.next().ok_or_else(bad)?.to_string();
        let nb: usize = f.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
        let nt: usize = f.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
        if nb > 64 || nt > 64 {
            return Err(bad());
        }
        let bottoms: Vec<String> = f.by_ref().take(nb).map(String::from).collect();
        let tops: Vec<String> = f.by_ref().take(nt).map(String::from).collect();
        if bottoms.len() != nb || tops.len() != nt {
            return Err(bad());
        }
        let mut params = HashMap::new();
        for kv in f {
            let (k, v) = kv.split_once('=').ok_or_else(bad)?;
            let k: i32 = k.parse().map_err(|_| bad())?;
            let (id, vals) = if k <= -23300 {
                // An array: -23300 - id = count,v1,v2...
                let mut it = v.split(',');
                let n: usize = it.next().and_then(|n| n.parse().ok()).ok_or_else(bad)?;
                let vals: Vec<f32> = it
                    .map(|x| x.parse().map_err(|_| bad()))
                    .collect::<Res<_>>()?;
                if vals.len() != n {
                    return Err(bad());
                }
                (-23300 - k, vals)
            } else {
                (k, vec![v.parse::<f32>().map_err(|_| bad())?])
            };
            params.insert(id, vals);
        }
        layers.push(Layer {
            kind,
            name,
            bottoms,
            tops,
            params,
        });
    }
    if layers.len() != layer_count {
        return Err(format!(
            "the ncnn .param says {layer_count} layers but lists {}",
            layers.len()
        ));
    }
    Ok(layers)
}

/// A convolution read from the `.bin`.
#[derive(Clone, Debug)]
pub struct Conv {
    /// `[out, in, k, k]`.
    pub weight: Weight,
    /// `[out]` (zeros when the layer has none).
    pub bias: Vec<f32>,
    /// ncnn's activation: 0 none, 1 ReLU, 2 leaky ReLU.
    pub act: i64,
    /// The leaky ReLU's slope.
    pub slope: f32,
}

struct Bin<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Bin<'_> {
    fn raw(&mut self, n: usize) -> Res<Vec<f32>> {
        let len = n.checked_mul(4).ok_or("a weight count overflows")?;
        let b = self
            .data
            .get(self.pos..self.pos.checked_add(len).ok_or("overflow")?)
            .ok_or("the ncnn .bin ends early")?;
        self.pos += len;
        Ok(b.chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4")))
            .collect())
    }

    fn tagged(&mut self, n: usize) -> Res<Vec<f32>> {
        let tag = self.raw(1)?[0].to_bits();
        match tag {
            0 => self.raw(n),
            FP16_TAG => {
                let len = n.checked_mul(2).ok_or("a weight count overflows")?;
                let padded = len.div_ceil(4) * 4;
                let b = self
                    .data
                    .get(self.pos..self.pos.checked_add(padded).ok_or("overflow")?)
                    .ok_or("the ncnn .bin ends early")?;
                self.pos += padded;
                Ok(b[..len]
                    .chunks_exact(2)
                    .map(|c| super::torch::f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
                    .collect())
            }
            t => Err(format!(
                "quantised ncnn weights (tag 0x{t:08x}); regen reads fp32 and fp16"
            )),
        }
    }
}

/// The graph's weighted layers in order: convolutions, and PReLU slopes.
#[derive(Clone, Debug)]
pub enum Weighted {
    /// A convolution.
    Conv(Conv),
    /// A PReLU's slopes.
    PRelu(Vec<f32>),
}

/// Reads the weights of every layer of `layers` from `bin`.
pub fn read_weights(layers: &[Layer], bin: &[u8]) -> Res<Vec<Weighted>> {
    let mut b = Bin { data: bin, pos: 0 };
    let mut out = Vec::new();
    for l in layers {
        match l.kind.as_str() {
            "Convolution" => {
                let (o, k) = (l.int(0, 0), l.int(1, 0));
                let (kh, size) = (l.int(11, k), l.int(6, 0));
                let (stride, dil) = (l.int(3, 1), l.int(2, 1));
                let pad = l.int(4, 0);
                let ok = (1..=65_536).contains(&o)
                    && (1..=15).contains(&k)
                    && kh == k
                    && stride == 1
                    && dil == 1
                    && pad == k / 2;
                if !ok || l.int(8, 0) != 0 || l.int(19, 0) != 0 {
                    return Err(format!(
                        "ncnn layer {}: a convolution regen does not run (stride, dilation, padding or int8)",
                        l.name
                    ));
                }
                let (o, k, size) = (o as usize, k as usize, size.max(0) as usize);
                if size == 0 || size % (o * k * k) != 0 || size > 1 << 28 {
                    return Err(format!("ncnn layer {}: weight size {size}", l.name));
                }
                let cin = size / (o * k * k);
                let w = b
                    .tagged(size)
                    .map_err(|e| format!("ncnn layer {}: {e}", l.name))?;
                let bias = if l.int(5, 0) != 0 {
                    b.raw(o)
                        .map_err(|e| format!("ncnn layer {}: {e}", l.name))?
                } else {
                    vec![0.0; o]
                };
                let act = l.int(9, 0);
                if !(0..=2).contains(&act) {
                    return Err(format!("ncnn layer {}: activation {act}", l.name));
                }
                out.push(Weighted::Conv(Conv {
                    weight: Weight::new(vec![o, cin, k, k], w),
                    bias,
                    act,
                    slope: l
                        .params
                        .get(&10)
                        .and_then(|v| v.first())
                        .copied()
                        .unwrap_or(0.0),
                }));
            }
            "PReLU" => {
                let n = l.int(0, 0);
                if !(1..=4096).contains(&n) {
                    return Err(format!("ncnn layer {}: {n} slopes", l.name));
                }
                out.push(Weighted::PRelu(b.raw(n as usize)?));
            }
            "Input" | "Split" | "Concat" | "Eltwise" | "BinaryOp" | "Interp" | "PixelShuffle" => {}
            other => {
                return Err(format!(
                    "ncnn layer {} is a {other}, which regen does not run (it runs RRDBNet and Compact graphs)",
                    l.name
                ));
            }
        }
    }
    if b.pos != bin.len() {
        return Err(format!(
            "the ncnn .bin holds {} bytes more than the .param's layers read",
            bin.len() - b.pos
        ));
    }
    Ok(out)
}

/// The `.param` and `.bin` paths of a model given by either.
pub fn paths(path: &Path) -> (PathBuf, PathBuf) {
    (path.with_extension("param"), path.with_extension("bin"))
}

/// Reads the ncnn model at `path` (its `.param` or `.bin`) and recognises it.
pub fn import(path: &Path) -> Res<Imported> {
    let (pp, bp) = paths(path);
    let text = std::fs::read_to_string(&pp).map_err(|e| format!("{}: {e}", pp.display()))?;
    let bin = std::fs::read(&bp).map_err(|e| format!("{}: {e}", bp.display()))?;
    from_parts(&text, &bin)
}

/// Recognises an ncnn model from its `.param` text and `.bin` bytes.
pub fn from_parts(text: &str, bin: &[u8]) -> Res<Imported> {
    let layers = parse_param(text)?;
    let weighted = read_weights(&layers, bin)?;
    let count = |k: &str| layers.iter().filter(|l| l.kind == k).count();
    let shuffle = layers.iter().find(|l| l.kind == "PixelShuffle");
    let interps: Vec<&Layer> = layers.iter().filter(|l| l.kind == "Interp").collect();
    if interps.iter().any(|l| l.int(0, 0) != 1) {
        return Err(
            "an ncnn graph with a non-nearest resize, which neither RRDBNet nor Compact has".into(),
        );
    }
    let (arch, weights, detected) = if count("PReLU") > 0 {
        compact(&weighted, shuffle)?
    } else if count("Eltwise") > 0 && count("Concat") > 0 {
        esrgan(&weighted, interps.len())?
    } else {
        return Err("an ncnn graph that is neither an RRDBNet nor a Compact network".into());
    };
    let task = if arch.scale() > 1 {
        Task::Upscale
    } else {
        Task::Denoise
    };
    let inputs = planes::for_task(task, arch.out_channels(), false, false);
    let descriptor = Descriptor::restore(task, arch, inputs)
        .map_err(|e| format!("detected {detected}, but {e}"))?;
    Ok(Imported {
        format: Format::Ncnn,
        detected,
        descriptor,
        weights,
    })
}

type Mapped = (RestoreArch, Vec<(String, Weight)>, String);

fn push_conv(out: &mut Vec<(String, Weight)>, to: &str, c: &Conv) {
    out.push((format!("{to}.weight"), c.weight.clone()));
    let n = c.bias.len();
    out.push((format!("{to}.bias"), Weight::new(vec![n], c.bias.clone())));
}

fn compact(w: &[Weighted], shuffle: Option<&Layer>) -> Res<Mapped> {
    let scale = shuffle.map_or(1, |l| l.int(0, 1)).max(1) as usize;
    let mut out = Vec::new();
    let (mut convs, mut acts) = (Vec::new(), Vec::new());
    for x in w {
        match x {
            Weighted::Conv(c) => convs.push(c),
            Weighted::PRelu(s) => acts.push(s),
        }
    }
    if convs.len() < 2 || acts.len() != convs.len() - 1 {
        return Err("an ncnn Compact graph whose convolutions and PReLUs do not alternate".into());
    }
    let last = convs.pop().expect("checked");
    let (features, cin) = (convs[0].weight.shape[0], convs[0].weight.shape[1]);
    for (i, (c, a)) in convs.iter().zip(&acts).enumerate() {
        if c.act != 0 || a.len() != features {
            return Err("an ncnn Compact graph with an unexpected activation".into());
        }
        push_conv(&mut out, &format!("Compact.convs.{i}"), c);
        out.push((
            format!("Compact.acts.{i}.weight"),
            Weight::new(vec![features], a.to_vec()),
        ));
    }
    push_conv(&mut out, "Compact.last", last);
    let cfg = CompactConfig::new(cin, cin)
        .with_features(features)
        .with_convs(convs.len() - 1)
        .with_scale(scale);
    let detected = format!(
        "Compact / SRVGGNetCompact (ncnn): x{scale}, {} convolutions, {features} features",
        cfg.convs
    );
    Ok((RestoreArch::Compact(cfg), out, detected))
}

fn esrgan(w: &[Weighted], ups: usize) -> Res<Mapped> {
    if ups > 4 {
        return Err(format!(
            "an ncnn graph of {ups} upsamplings is no RRDBNet (x16 at most)"
        ));
    }
    let convs: Vec<&Conv> = w
        .iter()
        .map(|x| match x {
            Weighted::Conv(c) => Ok(c),
            Weighted::PRelu(_) => Err("an RRDBNet graph with PReLU".to_string()),
        })
        .collect::<Res<_>>()?;
    // first, 15 per block, trunk, the upsampling ones, hr, last.
    let n = convs.len();
    if n < 4 + ups || !(n - 4 - ups).is_multiple_of(15) {
        return Err(format!("an ncnn graph of {n} convolutions is no RRDBNet"));
    }
    let blocks = (n - 4 - ups) / 15;
    let leaky = |c: &Conv| c.act == 2 && (c.slope - 0.2).abs() < 1e-6;
    let mut out = Vec::new();
    let cin = convs[0].weight.shape[1];
    let features = convs[0].weight.shape[0];
    push_conv(&mut out, "Esrgan.first", convs[0]);
    for b in 0..blocks {
        for d in 0..3 {
            for c in 0..5 {
                let conv = convs[1 + 15 * b + 5 * d + c];
                if (c < 4) != leaky(conv) {
                    return Err(
                        "an ncnn RRDBNet whose dense-block activations differ from ESRGAN's".into(),
                    );
                }
                push_conv(
                    &mut out,
                    &format!("Esrgan.blocks.{b}.dense.{d}.convs.{c}"),
                    conv,
                );
            }
        }
    }
    let at = 1 + 15 * blocks;
    push_conv(&mut out, "Esrgan.trunk", convs[at]);
    for u in 0..ups {
        if !leaky(convs[at + 1 + u]) {
            return Err("an ncnn RRDBNet whose upsampling convolutions lack leaky ReLU".into());
        }
        push_conv(&mut out, &format!("Esrgan.ups.{u}"), convs[at + 1 + u]);
    }
    push_conv(&mut out, "Esrgan.hr", convs[at + 1 + ups]);
    push_conv(&mut out, "Esrgan.last", convs[at + 2 + ups]);
    let cout = convs[n - 1].weight.shape[0];
    let growth = if blocks > 0 {
        convs[1].weight.shape[0]
    } else {
        32
    };
    let unshuffle = match cin / cout.max(1) {
        16 => 4,
        4 => 2,
        _ => 1,
    };
    let inner = 1usize << ups;
    if inner < unshuffle {
        return Err("an ncnn RRDBNet that unshuffles more than it upsamples".into());
    }
    let cfg = EsrganConfig::new(cin / (unshuffle * unshuffle), cout)
        .with_features(features)
        .with_blocks(blocks)
        .with_growth(growth)
        .with_scale(inner / unshuffle)
        .with_unshuffle(unshuffle);
    let detected = format!(
        "ESRGAN / RRDBNet (ncnn): x{}, {blocks} blocks, {features} features, growth {growth}",
        cfg.scale
    );
    Ok((RestoreArch::Esrgan(cfg), out, detected))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_params_and_arrays() {
        let p = "7767517\n2 2\nInput in 0 1 data\nConvolution c 1 1 data out 0=4 1=3 4=1 5=1 6=36 9=2 -23310=1,2.000000e-01\n";
        let l = parse_param(p).unwrap();
        assert_eq!(l[1].int(0, 0), 4);
        assert_eq!(l[1].params[&10], vec![0.2]);
        assert!(parse_param("7767517\n3 2\nInput in 0 1 data\n").is_err());
        assert!(parse_param("123\n").is_err());
    }

    #[test]
    fn reads_fp16_and_fp32_weights() {
        let layers = parse_param(
            "7767517\n3 3\nInput in 0 1 data\nConvolution a 1 1 data x 0=1 1=1 4=0 5=1 6=3\nConvolution b 1 1 x y 0=1 1=1 4=0 5=0 6=1\n",
        )
        .unwrap();
        let mut bin = FP16_TAG.to_le_bytes().to_vec();
        for h in [0x3c00u16, 0xc000, 0x3800] {
            bin.extend_from_slice(&h.to_le_bytes());
        }
        bin.extend_from_slice(&[0, 0]); // padding to four bytes
        bin.extend_from_slice(&0.5f32.to_le_bytes()); // bias
        bin.extend_from_slice(&0u32.to_le_bytes()); // fp32 tag
        bin.extend_from_slice(&3.0f32.to_le_bytes());
        let w = read_weights(&layers, &bin).unwrap();
        let Weighted::Conv(a) = &w[0] else { panic!() };
        assert_eq!(a.weight.data, vec![1.0, -2.0, 0.5]);
        assert_eq!(a.bias, vec![0.5]);
        let Weighted::Conv(b) = &w[1] else { panic!() };
        assert_eq!(b.weight.data, vec![3.0]);
        assert!(read_weights(&layers, &bin[..bin.len() - 1]).is_err());
    }
}
