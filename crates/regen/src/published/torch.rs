//! PyTorch checkpoints (`.pth`, `.pt`, `.ckpt`) read without running code: the zip
//! archive `torch.save` writes since PyTorch 1.6 (`<name>/data.pkl` and one file per
//! storage under `<name>/data/`), and the legacy format before it (a magic-number pickle,
//! the protocol version, system info, the object's pickle, the storage keys' pickle, then
//! each storage as a little-endian element count and its bytes). Pickles go through
//! [`super::pickle`], which refuses every name but tensors' and plain containers'.

use std::collections::HashMap;

use super::pickle::{self, DType, Dict, TensorRef, Value};
use super::{StateDict, Weight};

/// The legacy format's magic number (`torch.serialization.MAGIC_NUMBER`).
const LEGACY_MAGIC: [u8; 10] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

/// Whether `bytes` look like a PyTorch checkpoint (a zip, or a pickle).
pub fn sniff(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(&[0x80, 0x02])
}

/// Reads the weights of a PyTorch checkpoint: the state dict found as spandrel finds it
/// ([`unwrap`]), each tensor as f32.
pub fn read(bytes: &[u8]) -> Result<StateDict, String> {
    if bytes.starts_with(b"PK\x03\x04") {
        read_zip(bytes)
    } else if bytes.starts_with(&[0x80, 0x02]) {
        read_legacy(bytes)
    } else {
        Err("not a PyTorch checkpoint (neither a zip archive nor a pickle)".into())
    }
}

fn read_zip(bytes: &[u8]) -> Result<StateDict, String> {
    let entries = zip_entries(bytes)?;
    let (pkl, _) = entries
        .iter()
        .find(|(n, _)| n.ends_with("data.pkl"))
        .ok_or("a zip archive without data.pkl: not a PyTorch checkpoint")?;
    let root = &pkl[..pkl.len() - "data.pkl".len()];
    let files: HashMap<&str, &[u8]> = entries
        .iter()
        .filter_map(|(n, d)| n.strip_prefix(root).map(|k| (k, *d)))
        .collect();
    let (value, _) = pickle::load(files["data.pkl"], &mut pickle::torch_storage)?;
    let dict = unwrap(&value)?;
    collect(dict, |t| {
        let data = files
            .get(format!("data/{}", t.key).as_str())
            .ok_or_else(|| format!("storage {} is missing from the archive", t.key))?;
        Ok(data)
    })
}

fn read_legacy(bytes: &[u8]) -> Result<StateDict, String> {
    let mut pos = 0;
    let next = |pos: &mut usize| -> Result<Value, String> {
        let (v, n) = pickle::load(&bytes[*pos..], &mut pickle::torch_storage)?;
        *pos += n;
        Ok(v)
    };
    let magic = next(&mut pos)?;
    if !bytes[..pos].windows(10).any(|w| w == LEGACY_MAGIC) || !matches!(magic, Value::Int(_)) {
        return Err("a pickle that is not a PyTorch checkpoint (no magic number)".into());
    }
    next(&mut pos)?; // protocol version
    next(&mut pos)?; // system info
    let value = next(&mut pos)?;
    let keys = next(&mut pos)?;
    let Value::Seq(keys) = keys else {
        return Err("the storage keys are not a list".into());
    };
    let mut storages: HashMap<String, &[u8]> = HashMap::new();
    // Each storage's element size comes from the tensors that use it.
    let sizes: HashMap<String, usize> = tensors_of(&value)
        .into_iter()
        .map(|t| (t.key.clone(), t.dtype.size()))
        .collect();
    for k in &keys.items {
        let k = k.as_str().ok_or("a storage key that is not a string")?;
        let head = bytes
            .get(pos..pos + 8)
            .ok_or("the file ends before its storages")?;
        let numel = u64::from_le_bytes(head.try_into().expect("8 bytes"));
        let size = sizes.get(k).copied().unwrap_or(4) as u64;
        let len = numel
            .checked_mul(size)
            .and_then(|l| usize::try_from(l).ok())
            .filter(|&l| l <= bytes.len() - pos - 8)
            .ok_or("the file ends inside a storage")?;
        storages.insert(k.to_string(), &bytes[pos + 8..pos + 8 + len]);
        pos += 8 + len;
    }
    let dict = unwrap(&value)?;
    collect(dict, |t| {
        storages
            .get(&t.key)
            .copied()
            .ok_or_else(|| format!("storage {} is missing", t.key))
    })
}

fn tensors_of(v: &Value) -> Vec<&TensorRef> {
    let mut out = Vec::new();
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            Value::Tensor(t) => out.push(t),
            Value::Seq(s) => stack.extend(s.items.iter()),
            Value::Dict(d) => stack.extend(d.items.iter().map(|(_, v)| v)),
            _ => {}
        }
    }
    out
}

/// Where the weights are, as spandrel looks: under the first of `model_state_dict`,
/// `state_dict`, `params_ema`, `params-ema`, `params`, `model`, `net` that is a dict, else
/// the only value of a one-entry dict, else the object itself.
pub fn unwrap(v: &Value) -> Result<&Dict, String> {
    let Value::Dict(d) = v else {
        return Err("the checkpoint holds no dict of weights".into());
    };
    const KEYS: [&str; 7] = [
        "model_state_dict",
        "state_dict",
        "params_ema",
        "params-ema",
        "params",
        "model",
        "net",
    ];
    for k in KEYS {
        if let Some(Value::Dict(inner)) = d.get(k) {
            return Ok(inner);
        }
    }
    if d.items.len() == 1
        && let Value::Dict(inner) = &d.items[0].1
    {
        return Ok(inner);
    }
    Ok(d)
}

/// The tensors of `dict` (other entries are left out), read from their storages' bytes.
fn collect<'a>(
    dict: &Dict,
    mut storage: impl FnMut(&TensorRef) -> Result<&'a [u8], String>,
) -> Result<StateDict, String> {
    let mut out = StateDict::default();
    for (k, v) in &dict.items {
        let (Some(name), Value::Tensor(t)) = (k.as_str(), v) else {
            continue;
        };
        let bytes = storage(t)?;
        let data = materialise(t, bytes).map_err(|e| format!("tensor {name}: {e}"))?;
        out.push(name, Weight::new(t.shape.clone(), data));
    }
    if out.is_empty() {
        return Err("the checkpoint holds no tensors".into());
    }
    Ok(out)
}

/// The view `t` of a storage's `bytes`, as f32 in row-major order.
fn materialise(t: &TensorRef, bytes: &[u8]) -> Result<Vec<f32>, String> {
    let es = t.dtype.size();
    let numel = t.numel.min(bytes.len() / es);
    let count = t
        .shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|&n| n <= numel.max(1) * 64)
        .ok_or("a shape larger than its storage")?;
    if count == 0 {
        return Ok(Vec::new());
    }
    // The largest element the view reaches must lie inside the storage.
    let last = t
        .shape
        .iter()
        .zip(&t.stride)
        .try_fold(t.offset, |a, (&d, &s)| {
            a.checked_add((d - 1).checked_mul(s)?)
        })
        .ok_or("a view past the end of its storage")?;
    if last >= numel {
        return Err("a view past the end of its storage".into());
    }
    let read = |i: usize| -> f32 {
        let b = &bytes[i * es..(i + 1) * es];
        match t.dtype {
            DType::F32 => f32::from_le_bytes(b.try_into().expect("4")),
            DType::F64 => f64::from_le_bytes(b.try_into().expect("8")) as f32,
            DType::F16 => f16_to_f32(u16::from_le_bytes(b.try_into().expect("2"))),
            DType::BF16 => {
                f32::from_bits(u32::from(u16::from_le_bytes(b.try_into().expect("2"))) << 16)
            }
            DType::I64 => i64::from_le_bytes(b.try_into().expect("8")) as f32,
            DType::I32 => i32::from_le_bytes(b.try_into().expect("4")) as f32,
            DType::I16 => f32::from(i16::from_le_bytes(b.try_into().expect("2"))),
            DType::I8 => f32::from(b[0] as i8),
            DType::U8 | DType::Bool => f32::from(b[0]),
        }
    };
    let mut out = Vec::with_capacity(count);
    let mut idx = vec![0usize; t.shape.len()];
    for _ in 0..count {
        let at = t.offset + idx.iter().zip(&t.stride).map(|(i, s)| i * s).sum::<usize>();
        out.push(read(at));
        for d in (0..idx.len()).rev() {
            idx[d] += 1;
            if idx[d] < t.shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    Ok(out)
}

/// IEEE half to single.
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let man = u32::from(h & 0x3ff);
    let bits = match (exp, man) {
        (0, 0) => sign,
        (0, m) => {
            // Subnormal: normalise the mantissa.
            let shift = m.leading_zeros() - 21;
            sign | ((113 - shift) << 23) | (((m << shift) & 0x3ff) << 13)
        }
        (31, m) => sign | 0x7f80_0000 | (m << 13),
        (e, m) => sign | ((e + 112) << 23) | (m << 13),
    };
    f32::from_bits(bits)
}

/// The (name, data) entries of a zip archive: stored or deflated, no zip64.
fn zip_entries(bytes: &[u8]) -> Result<Vec<(String, &[u8])>, String> {
    let u16_at = |i: usize| -> Result<usize, String> {
        bytes
            .get(i..i + 2)
            .map(|b| usize::from(u16::from_le_bytes([b[0], b[1]])))
            .ok_or_else(|| "a truncated zip archive".to_string())
    };
    let u32_at = |i: usize| -> Result<usize, String> {
        bytes
            .get(i..i + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .ok_or_else(|| "a truncated zip archive".to_string())
    };
    // The end-of-central-directory record: within the last 64 KiB + 22 bytes.
    let lo = bytes.len().saturating_sub(65_557);
    let eocd = (lo..bytes.len().saturating_sub(21))
        .rev()
        .find(|&i| bytes[i..i + 4] == [0x50, 0x4b, 0x05, 0x06])
        .ok_or("a truncated zip archive (no end record)")?;
    let mut count = u16_at(eocd + 10)?;
    let mut at = u32_at(eocd + 16)?;
    // zip64 (torch writes it for files over 4 GiB, and sometimes for all): its locator
    // sits 20 bytes before the end record.
    if eocd >= 20 && bytes[eocd - 20..eocd - 16] == [0x50, 0x4b, 0x06, 0x07] {
        let rec = u64_at(bytes, eocd - 12)?;
        let rec = usize::try_from(rec)
            .ok()
            .filter(|&r| r <= bytes.len())
            .ok_or("a bad zip64 record")?;
        if bytes.get(rec..rec + 4) != Some(&[0x50, 0x4b, 0x06, 0x06]) {
            return Err("a bad zip64 record".into());
        }
        count = usize::try_from(u64_at(bytes, rec + 32)?).map_err(|_| "bad count")?;
        at = usize::try_from(u64_at(bytes, rec + 48)?).map_err(|_| "bad offset")?;
    }
    // Every offset and size read from the file is checked against its length, so that the
    // sums below (an offset plus a few 16-bit lengths) cannot overflow.
    if count > bytes.len() / 46 || at > bytes.len() {
        return Err("a zip directory larger than the file".into());
    }
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        if u32_at(at)? != 0x0201_4b50 {
            return Err("a corrupt zip directory".into());
        }
        let method = u16_at(at + 10)?;
        let mut csize = u32_at(at + 20)?;
        let (nlen, xlen, clen) = (u16_at(at + 28)?, u16_at(at + 30)?, u16_at(at + 32)?);
        let mut local = u32_at(at + 42)?;
        let name = bytes
            .get(at + 46..at + 46 + nlen)
            .ok_or("a truncated zip directory")?;
        let name = String::from_utf8_lossy(name).into_owned();
        // zip64 sizes and offsets in the extra field.
        let extra = bytes
            .get(at + 46 + nlen..at + 46 + nlen + xlen)
            .ok_or("a truncated zip directory")?;
        if csize == 0xffff_ffff || local == 0xffff_ffff {
            let mut i = 0;
            while i + 4 <= extra.len() {
                let (id, len) = (
                    u16::from_le_bytes([extra[i], extra[i + 1]]),
                    usize::from(u16::from_le_bytes([extra[i + 2], extra[i + 3]])),
                );
                if id == 1 {
                    let mut vals = extra[i + 4..(i + 4 + len).min(extra.len())]
                        .chunks_exact(8)
                        .map(|c| u64::from_le_bytes(c.try_into().expect("8")) as usize);
                    let usize_of = u32_at(at + 24)?;
                    if usize_of == 0xffff_ffff {
                        vals.next();
                    }
                    if csize == 0xffff_ffff {
                        csize = vals.next().ok_or("a bad zip64 field")?;
                    }
                    if local == 0xffff_ffff {
                        local = vals.next().ok_or("a bad zip64 field")?;
                    }
                }
                i += 4 + len;
            }
        }
        if csize > bytes.len() || local > bytes.len() {
            return Err(format!("zip entry {name}: runs past the end of the file"));
        }
        at += 46 + nlen + xlen + clen;
        if u32_at(local)? != 0x0403_4b50 {
            return Err(format!("zip entry {name}: a corrupt local header"));
        }
        let start = local + 30 + u16_at(local + 26)? + u16_at(local + 28)?;
        let data = start
            .checked_add(csize)
            .and_then(|end| bytes.get(start..end))
            .ok_or_else(|| format!("zip entry {name}: runs past the end of the file"))?;
        if method != 0 {
            return Err(format!(
                "zip entry {name}: compressed (method {method}); PyTorch stores its entries"
            ));
        }
        out.push((name, data));
    }
    Ok(out)
}

fn u64_at(bytes: &[u8], i: usize) -> Result<u64, String> {
    bytes
        .get(i..i.saturating_add(8))
        .map(|b| u64::from_le_bytes(b.try_into().expect("8")))
        .ok_or_else(|| "a truncated zip archive".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_floats() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
        assert!(f16_to_f32(0x7e00).is_nan());
    }
}
