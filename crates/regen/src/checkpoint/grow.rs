//! Rebuilding a restoration checkpoint's tensors for a network that differs at its ends
//! (more input planes, more image channels) or grows (deeper, thicker), so `--init` starts
//! the new network computing what the old one did.

/// Where each input plane of a new network's first convolution takes its weights from:
/// `(plane of the checkpoint, scale)` pairs summed, none for a plane that starts at zero.
pub type PlanePlan = Vec<Vec<(usize, f32)>>;

/// A tensor held by name, dtype, shape and little-endian bytes while a checkpoint is rebuilt.
type Owned = (String, safetensors::Dtype, Vec<usize>, Vec<u8>);

/// Safetensors bytes (without metadata) of `owned`.
fn serialize(owned: &[Owned]) -> std::result::Result<Vec<u8>, String> {
    let views = owned
        .iter()
        .map(|(name, dtype, shape, data)| {
            safetensors::tensor::TensorView::new(*dtype, shape.clone(), data)
                .map(|v| (name.clone(), v))
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    safetensors::serialize(views, None).map_err(|e| e.to_string())
}

/// Safetensors bytes of a restoration network adapted to more input planes or more image
/// channels: the first convolution's weight (`head.convs.0` or `body.convs.0`, `[out, in,
/// k, k]`) gets one input plane per entry of `first`, made as that entry says; the last
/// convolution (`tail`, `[c, w, k, k]` and bias `[c]`) gets `out` output channels, each a
/// copy of the checkpoint's channel `o % c`. A network given more input planes than the
/// checkpoint had thus starts out ignoring them.
pub fn adapt_ends(
    bytes: &[u8],
    first: &PlanePlan,
    out: usize,
) -> std::result::Result<Vec<u8>, String> {
    use safetensors::{Dtype, SafeTensors};
    let st = SafeTensors::deserialize(bytes).map_err(|e| e.to_string())?;
    let floats = |b: &[u8]| -> Vec<f32> {
        b.chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect()
    };
    let bytes_of = |v: &[f32]| -> Vec<u8> { v.iter().flat_map(|x| x.to_le_bytes()).collect() };
    let mut owned: Vec<Owned> = Vec::new();
    let (mut firsts, mut tails) = (0, 0);
    for (name, view) in st.tensors() {
        let shape = view.shape().to_vec();
        let f32s = view.dtype() == Dtype::F32;
        let is_first =
            name.ends_with("head.convs.0.weight") || name.ends_with("body.convs.0.weight");
        let is_tail = name.ends_with("tail.weight") || name.ends_with("tail.bias");
        if is_first && shape.len() == 4 && f32s {
            let (o, cin, kk) = (shape[0], shape[1], shape[2] * shape[3]);
            let src = floats(view.data());
            let mut w = vec![0.0f32; o * first.len() * kk];
            for oo in 0..o {
                for (j, parts) in first.iter().enumerate() {
                    for &(from, scale) in parts {
                        if from >= cin {
                            return Err(format!("{name}: has no input plane {from}"));
                        }
                        for k in 0..kk {
                            w[(oo * first.len() + j) * kk + k] +=
                                scale * src[(oo * cin + from) * kk + k];
                        }
                    }
                }
            }
            owned.push((
                name,
                Dtype::F32,
                vec![o, first.len(), shape[2], shape[3]],
                bytes_of(&w),
            ));
            firsts += 1;
        } else if is_tail && f32s && out != shape[0] {
            let c = shape[0];
            let per: usize = shape[1..].iter().product();
            let src = floats(view.data());
            let w: Vec<f32> = (0..out)
                .flat_map(|o| src[(o % c) * per..(o % c + 1) * per].iter().copied())
                .collect();
            let mut sh = shape.clone();
            sh[0] = out;
            owned.push((name, Dtype::F32, sh, bytes_of(&w)));
            tails += 1;
        } else {
            owned.push((name, view.dtype(), shape, view.data().to_vec()));
        }
    }
    if firsts != 1 {
        return Err(format!(
            "found {firsts} first convolutions to adapt, expected 1"
        ));
    }
    if tails > 2 {
        return Err(format!(
            "found {tails} last-layer tensors, expected at most 2"
        ));
    }
    serialize(&owned)
}

/// Safetensors bytes of a U-Net (`encdec` with skips) of `old_depth` halvings grown to the
/// network whose fresh weights are `fresh`, which has more. The checkpoint's tensors keep
/// their names and values (a level's layers are named by their level, counted from full
/// resolution, so they mean the same in the deeper net); the new levels' layers come from
/// `fresh`, except the decoder block of level `old_depth`, which starts as the identity on
/// its skip input (the old net's bottleneck output) and zero on the new levels' output. So
/// the grown net starts out computing exactly what the old one did, and the zero weights,
/// whose gradients are not zero, open the new levels to training from the first step.
pub fn deepen(
    bytes: &[u8],
    fresh: &[u8],
    old_depth: usize,
) -> std::result::Result<Vec<u8>, String> {
    let bridge = format!("dec.{old_depth}.convs.");
    let (grown, bridged) = grow(bytes, fresh, |name, shape| {
        let in_bridge = name
            .split_once(&bridge)
            .is_some_and(|(pre, _)| pre.is_empty() || pre.ends_with('.'));
        if !in_bridge {
            return Ok(Start::Fresh);
        }
        // The first convolution sees [new levels' output, skip]: the skip is the last `o`
        // planes. Later ones see the block's own `o` planes.
        let skip = match shape {
            [o, cin, ..] => cin.saturating_sub(*o),
            _ => 0,
        };
        pass_through(name, shape, skip).map(Start::Set)
    })?;
    if bridged == 0 {
        return Err(format!("the deeper net has no decoder block {old_depth}"));
    }
    Ok(grown)
}

/// Safetensors bytes of a U-Net or encoder-decoder (`encdec`) with `old_n` convolutions per
/// block grown to the network whose fresh weights are `fresh`, which has more. Blocks are
/// runs of 3x3 convolutions each followed by ReLU, so the checkpoint's convolutions keep
/// their names and values, and each new one, appended at its block's end, starts as the
/// identity (centre tap 1 from its own channel, bias 0): its input has just been through a
/// ReLU, so the ReLU after it changes nothing and the grown net starts out computing
/// exactly what the old one did. Every weight, the identities included, then trains.
pub fn thicken(bytes: &[u8], fresh: &[u8], old_n: usize) -> std::result::Result<Vec<u8>, String> {
    let (grown, added) = grow(bytes, fresh, |name, shape| {
        // A block's convolution `j` is named `...convs.{j}.weight` (or `.bias`).
        let index = name
            .rsplit_once(".convs.")
            .and_then(|(_, rest)| rest.split_once('.'))
            .and_then(|(j, _)| j.parse::<usize>().ok());
        if index.is_none_or(|j| j < old_n) {
            return Err(format!(
                "{name}: not in the checkpoint, and not a new block convolution"
            ));
        }
        // Only a convolution as wide out as in can be the identity.
        if let [o, cin, ..] = shape
            && o != cin
        {
            return Err(format!("{name}: {cin} input channels, {o} output"));
        }
        pass_through(name, shape, 0).map(Start::Set)
    })?;
    if added == 0 {
        return Err(format!(
            "the grown net has no more than {old_n} convolutions per block"
        ));
    }
    Ok(grown)
}

/// Safetensors bytes of a Compact (a chain of 3x3 convolutions `convs.0..=old_convs`, each
/// followed by a PReLU `acts.j`) grown to the deeper one whose fresh weights are `fresh`.
/// The checkpoint's layers keep their names and values; each new convolution, appended
/// after the last old one, starts as the identity (centre tap 1 from its own channel, bias
/// 0) and its PReLU with slope 1, so it too is the identity: the deeper net starts out
/// computing exactly what the old one did (the pixel-shuffle tail sees the same planes),
/// and every weight, the identities included, then trains.
pub fn lengthen_chain(
    bytes: &[u8],
    fresh: &[u8],
    old_convs: usize,
) -> std::result::Result<Vec<u8>, String> {
    let (grown, added) = grow(bytes, fresh, |name, shape| {
        let layer = |kind: &str| {
            name.rsplit_once(kind)
                .filter(|(pre, _)| pre.is_empty() || pre.ends_with('.'))
                .and_then(|(_, rest)| rest.split_once('.'))
                .and_then(|(j, _)| j.parse::<usize>().ok())
                .filter(|&j| j > old_convs)
        };
        if layer("convs.").is_some() {
            if let [o, cin, ..] = shape
                && o != cin
            {
                return Err(format!("{name}: {cin} input channels, {o} output"));
            }
            return pass_through(name, shape, 0).map(Start::Set);
        }
        if layer("acts.").is_some() {
            return Ok(Start::Set(vec![1.0; shape.iter().product()]));
        }
        Err(format!(
            "{name}: not in the checkpoint, and not a new convolution of the chain"
        ))
    })?;
    if added == 0 {
        return Err(format!(
            "the grown net has no more than {old_convs} convolutions"
        ));
    }
    Ok(grown)
}

/// How a tensor of a grown net that its checkpoint lacks starts out.
enum Start {
    /// As the grown net's fresh initialisation has it.
    Fresh,
    /// With these values.
    Set(Vec<f32>),
}

/// The values that make a convolution pass input planes `from..from + o` through unchanged
/// (centre tap 1, zero elsewhere) for its weight `[o, cin, kh, kw]`, or zeros for its bias.
fn pass_through(name: &str, shape: &[usize], from: usize) -> std::result::Result<Vec<f32>, String> {
    let mut w = vec![0.0f32; shape.iter().product()];
    if name.ends_with("weight") {
        let [o, cin, kh, kw] = shape[..] else {
            return Err(format!("{name}: expected a 4-d weight, got {shape:?}"));
        };
        if from + o > cin {
            return Err(format!("{name}: {cin} input channels, {o} output"));
        }
        let centre = (kh / 2) * kw + kw / 2;
        for c in 0..o {
            w[(c * cin + from + c) * kh * kw + centre] = 1.0;
        }
    }
    Ok(w)
}

/// Safetensors bytes of the grown network whose fresh weights are `fresh`: each tensor the
/// checkpoint `bytes` has keeps its value (and must keep its shape); each it lacks starts as
/// `start` says. Also returns how many weights (not biases) `start` set.
fn grow(
    bytes: &[u8],
    fresh: &[u8],
    start: impl Fn(&str, &[usize]) -> std::result::Result<Start, String>,
) -> std::result::Result<(Vec<u8>, usize), String> {
    use safetensors::{Dtype, SafeTensors};
    let old = SafeTensors::deserialize(bytes).map_err(|e| e.to_string())?;
    let new = SafeTensors::deserialize(fresh).map_err(|e| e.to_string())?;
    let mut owned: Vec<Owned> = Vec::new();
    let mut set = 0;
    for (name, view) in new.tensors() {
        let shape = view.shape().to_vec();
        if let Ok(theirs) = old.tensor(&name) {
            if theirs.shape() != shape.as_slice() {
                return Err(format!(
                    "{name}: {:?} in the checkpoint, {shape:?} in the grown net",
                    theirs.shape()
                ));
            }
            owned.push((name, theirs.dtype(), shape, theirs.data().to_vec()));
            continue;
        }
        match start(&name, &shape)? {
            Start::Fresh => owned.push((name, view.dtype(), shape, view.data().to_vec())),
            Start::Set(w) => {
                if view.dtype() != Dtype::F32 {
                    return Err(format!("{name}: not f32"));
                }
                set += usize::from(name.ends_with("weight"));
                let data = w.iter().flat_map(|x| x.to_le_bytes()).collect();
                owned.push((name, Dtype::F32, shape, data));
            }
        }
    }
    if let Some(name) = old.names().into_iter().find(|n| new.tensor(n).is_err()) {
        return Err(format!("{name}: not in the grown net"));
    }
    Ok((serialize(&owned)?, set))
}
