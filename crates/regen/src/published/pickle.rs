//! A pickle reader that runs no code: the subset of Python's pickle machine that PyTorch
//! checkpoints use, as `torch.load(weights_only=True)` accepts it.
//!
//! A pickle is a program for a stack machine, and its GLOBAL and REDUCE instructions can
//! name and call any Python function (`os.system` included): that is how a `.pth` file
//! runs code when PyTorch loads it without `weights_only`. This machine knows a fixed list
//! of names ([`Callable`]): the ordered dict, torch's tensor and parameter rebuilders, its
//! storage types and `torch.Size`. Any other name is refused where it appears, naming it,
//! before anything could use it; nothing is ever called. Values are plain data ([`Value`]).
//!
//! The input is untrusted, so every size is bounded: a memoised value fetched again counts
//! against a budget of nodes (a pickle cannot double a value a hundred times), containers
//! nest at most [`MAX_DEPTH`] deep, and every read is checked against the end of the input.

use std::collections::HashMap;

/// How deep containers may nest.
pub const MAX_DEPTH: u32 = 100;
/// How many value nodes one pickle may make, copies from the memo included.
const NODE_BUDGET: u64 = 20_000_000;

/// The element type of a torch storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DType {
    /// 32-bit float.
    F32,
    /// 64-bit float.
    F64,
    /// IEEE half.
    F16,
    /// bfloat16.
    BF16,
    /// 64-bit integer.
    I64,
    /// 32-bit integer.
    I32,
    /// 16-bit integer.
    I16,
    /// 8-bit integer.
    I8,
    /// 8-bit unsigned integer.
    U8,
    /// bool (one byte).
    Bool,
}

impl DType {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::F64 | DType::I64 => 8,
            DType::F32 | DType::I32 => 4,
            DType::F16 | DType::BF16 | DType::I16 => 2,
            DType::I8 | DType::U8 | DType::Bool => 1,
        }
    }

    fn from_storage(name: &str) -> Option<DType> {
        Some(match name {
            "FloatStorage" => DType::F32,
            "DoubleStorage" => DType::F64,
            "HalfStorage" => DType::F16,
            "BFloat16Storage" => DType::BF16,
            "LongStorage" => DType::I64,
            "IntStorage" => DType::I32,
            "ShortStorage" => DType::I16,
            "CharStorage" => DType::I8,
            "ByteStorage" => DType::U8,
            "BoolStorage" => DType::Bool,
            _ => return None,
        })
    }
}

/// The functions and classes a weights-only pickle may name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Callable {
    /// `collections.OrderedDict`.
    OrderedDict,
    /// `torch._utils._rebuild_tensor` and `_rebuild_tensor_v2`.
    RebuildTensor,
    /// `torch._utils._rebuild_parameter` (and `_with_state`): the tensor it wraps.
    RebuildParameter,
    /// `torch.FloatStorage` and its kin: a storage's element type.
    Storage(DType),
    /// `torch.Size`: a tuple.
    Size,
}

impl Callable {
    fn find(module: &str, name: &str) -> Option<Callable> {
        Some(match (module, name) {
            ("collections", "OrderedDict") => Callable::OrderedDict,
            ("torch._utils", "_rebuild_tensor" | "_rebuild_tensor_v2") => Callable::RebuildTensor,
            ("torch._utils", "_rebuild_parameter" | "_rebuild_parameter_with_state") => {
                Callable::RebuildParameter
            }
            ("torch", "Size") => Callable::Size,
            ("torch", s) => Callable::Storage(DType::from_storage(s)?),
            _ => return None,
        })
    }
}

/// A tensor as a pickle describes it: a view of a storage.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorRef {
    /// The storage's key (its file name in a zip checkpoint).
    pub key: String,
    /// Element type.
    pub dtype: DType,
    /// Elements the storage holds.
    pub numel: usize,
    /// First element of the view.
    pub offset: usize,
    /// Shape.
    pub shape: Vec<usize>,
    /// Strides, in elements.
    pub stride: Vec<usize>,
}

/// A value the machine made.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `None`.
    None,
    /// A bool.
    Bool(bool),
    /// An int (one that fits 64 bits).
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// Bytes.
    Bytes(Vec<u8>),
    /// A tuple, list, set or frozen set.
    Seq(Seq),
    /// A dict or ordered dict, in insertion order.
    Dict(Dict),
    /// A name from the allowed list, not yet called.
    Callable(Callable),
    /// A storage a persistent id named: (key, element type, elements).
    Storage(String, DType, usize),
    /// A tensor.
    Tensor(TensorRef),
}

/// The items of a sequence, with how deep they nest and how many nodes they hold.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Seq {
    /// The items.
    pub items: Vec<Value>,
    depth: u32,
    nodes: u64,
}

/// The pairs of a dict, with how deep they nest and how many nodes they hold.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Dict {
    /// The (key, value) pairs, in insertion order.
    pub items: Vec<(Value, Value)>,
    depth: u32,
    nodes: u64,
}

impl Value {
    fn depth(&self) -> u32 {
        match self {
            Value::Seq(s) => s.depth,
            Value::Dict(d) => d.depth,
            _ => 0,
        }
    }

    fn nodes(&self) -> u64 {
        match self {
            Value::Seq(s) => s.nodes,
            Value::Dict(d) => d.nodes,
            _ => 1,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Bool(b) => Some(i64::from(*b)),
            _ => None,
        }
    }
}

impl Seq {
    fn push(&mut self, v: Value) -> Result<(), String> {
        self.depth = self.depth.max(v.depth() + 1);
        self.nodes += v.nodes();
        if self.depth > MAX_DEPTH {
            return Err(format!("containers nest more than {MAX_DEPTH} deep"));
        }
        self.items.push(v);
        Ok(())
    }

    fn of(items: Vec<Value>) -> Result<Seq, String> {
        let mut s = Seq {
            items: Vec::with_capacity(items.len()),
            depth: 1,
            nodes: 1,
        };
        for v in items {
            s.push(v)?;
        }
        Ok(s)
    }
}

impl Dict {
    fn insert(&mut self, k: Value, v: Value) -> Result<(), String> {
        self.depth = self.depth.max(k.depth().max(v.depth()) + 1);
        self.nodes += k.nodes() + v.nodes();
        if self.depth > MAX_DEPTH {
            return Err(format!("containers nest more than {MAX_DEPTH} deep"));
        }
        // A key set again replaces its value, as Python's dict does.
        if let Some(slot) = self.items.iter_mut().find(|(key, _)| *key == k) {
            slot.1 = v;
        } else {
            self.items.push((k, v));
        }
        Ok(())
    }

    fn new() -> Dict {
        Dict {
            items: Vec::new(),
            depth: 1,
            nodes: 1,
        }
    }

    /// The value under string key `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.items
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }
}

enum Slot {
    Mark,
    Value(Value),
}

/// Resolves a persistent id (BINPERSID) into a value, as the checkpoint format decides.
pub type PersistentLoad<'a> = dyn FnMut(Value) -> Result<Value, String> + 'a;

/// Runs the pickle at the start of `data`; returns its value and the bytes it took.
pub fn load(data: &[u8], persistent: &mut PersistentLoad) -> Result<(Value, usize), String> {
    let mut m = Machine {
        data,
        pos: 0,
        stack: Vec::new(),
        memo: HashMap::new(),
        budget: NODE_BUDGET,
    };
    let v = m.run(persistent)?;
    Ok((v, m.pos))
}

struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<Slot>,
    memo: HashMap<u64, Value>,
    budget: u64,
}

impl Machine<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or("the pickle ends early")?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn le(&mut self, n: usize) -> Result<u64, String> {
        let b = self.take(n)?;
        Ok(b.iter().rev().fold(0u64, |a, &x| (a << 8) | u64::from(x)))
    }

    fn line(&mut self) -> Result<String, String> {
        let rest = &self.data[self.pos..];
        let n = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or("the pickle ends early")?;
        let s = String::from_utf8_lossy(&rest[..n]).into_owned();
        self.pos += n + 1;
        Ok(s)
    }

    fn len(&mut self, bytes: usize) -> Result<usize, String> {
        let n = self.le(bytes)?;
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.data.len() - self.pos)
            .ok_or_else(|| "a string runs past the end of the pickle".to_string())
    }

    fn push(&mut self, v: Value) {
        self.stack.push(Slot::Value(v));
    }

    fn pop(&mut self) -> Result<Value, String> {
        match self.stack.pop() {
            Some(Slot::Value(v)) => Ok(v),
            Some(Slot::Mark) => Err("a mark where a value was expected".into()),
            None => Err("the pickle's stack is empty".into()),
        }
    }

    fn top(&mut self) -> Result<&mut Value, String> {
        match self.stack.last_mut() {
            Some(Slot::Value(v)) => Ok(v),
            _ => Err("no value on the pickle's stack".into()),
        }
    }

    /// The values since the last mark, which is removed.
    fn pop_mark(&mut self) -> Result<Vec<Value>, String> {
        let at = self
            .stack
            .iter()
            .rposition(|s| matches!(s, Slot::Mark))
            .ok_or("no mark on the pickle's stack")?;
        let items = self.stack.split_off(at + 1);
        self.stack.pop();
        Ok(items
            .into_iter()
            .map(|s| match s {
                Slot::Value(v) => v,
                Slot::Mark => unreachable!("marks were searched from the top"),
            })
            .collect())
    }

    fn memo_get(&mut self, key: u64) -> Result<(), String> {
        let v = self
            .memo
            .get(&key)
            .ok_or_else(|| format!("memo entry {key} is not set"))?;
        self.budget = self
            .budget
            .checked_sub(v.nodes())
            .ok_or("the pickle copies more values than any checkpoint holds")?;
        let v = v.clone();
        self.push(v);
        Ok(())
    }

    fn memo_put(&mut self, key: u64) -> Result<(), String> {
        let v = self.top()?.clone();
        self.memo.insert(key, v);
        Ok(())
    }

    fn global(&mut self, module: &str, name: &str) -> Result<(), String> {
        match Callable::find(module, name) {
            Some(c) => {
                self.push(Value::Callable(c));
                Ok(())
            }
            None => Err(format!(
                "the pickle names {module}.{name}, which is code, not weights; only tensors and plain containers are read"
            )),
        }
    }

    fn run(&mut self, persistent: &mut PersistentLoad) -> Result<Value, String> {
        loop {
            let op = self.u8()?;
            match op {
                0x80 => {
                    self.u8()?; // PROTO
                }
                0x95 => {
                    self.le(8)?; // FRAME
                }
                b'.' => return self.pop(),
                b'(' => self.stack.push(Slot::Mark),
                b'0' => {
                    self.stack.pop().ok_or("POP on an empty stack")?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let v = self.top()?.clone();
                    self.budget = self
                        .budget
                        .checked_sub(v.nodes())
                        .ok_or("too many copies")?;
                    self.push(v);
                }
                b'J' => {
                    let v = self.le(4)? as u32 as i32;
                    self.push(Value::Int(i64::from(v)));
                }
                b'K' => {
                    let v = self.u8()?;
                    self.push(Value::Int(i64::from(v)));
                }
                b'M' => {
                    let v = self.le(2)?;
                    self.push(Value::Int(v as i64));
                }
                0x8a | 0x8b => {
                    let n = if op == 0x8a { self.le(1)? } else { self.le(4)? } as usize;
                    let b = self.take(n)?;
                    if n > 8 {
                        // Pickle's own header (torch's legacy magic number) is a 10-byte int;
                        // its value is never needed beyond being an int.
                        self.push(Value::Int(i64::MAX));
                    } else {
                        let mut v: i64 = 0;
                        for (i, &x) in b.iter().enumerate() {
                            v |= i64::from(x) << (8 * i);
                        }
                        if n > 0 && n < 8 && b[n - 1] & 0x80 != 0 {
                            v -= 1i64 << (8 * n);
                        }
                        self.push(Value::Int(v));
                    }
                }
                b'I' | b'L' => {
                    let s = self.line()?;
                    let s = s.trim_end_matches('L');
                    let v = match s {
                        "01" => Value::Bool(true),
                        "00" => Value::Bool(false),
                        _ => Value::Int(s.parse().map_err(|_| format!("bad int {s:?}"))?),
                    };
                    self.push(v);
                }
                b'G' => {
                    let b = self.take(8)?;
                    let v = f64::from_be_bytes(b.try_into().expect("8 bytes"));
                    self.push(Value::Float(v));
                }
                b'F' => {
                    let s = self.line()?;
                    let v = s.trim().parse().map_err(|_| format!("bad float {s:?}"))?;
                    self.push(Value::Float(v));
                }
                b'N' => self.push(Value::None),
                0x88 => self.push(Value::Bool(true)),
                0x89 => self.push(Value::Bool(false)),
                b'X' | 0x8c | 0x8d | b'T' | b'U' => {
                    let n = match op {
                        b'X' | b'T' => self.len(4)?,
                        0x8d => self.len(8)?,
                        _ => self.len(1)?,
                    };
                    let b = self.take(n)?;
                    let s = if matches!(op, b'T' | b'U') {
                        b.iter().map(|&c| char::from(c)).collect()
                    } else {
                        String::from_utf8(b.to_vec()).map_err(|_| "a string is not UTF-8")?
                    };
                    self.push(Value::Str(s));
                }
                b'B' | b'C' | 0x8e => {
                    let n = match op {
                        b'B' => self.len(4)?,
                        0x8e => self.len(8)?,
                        _ => self.len(1)?,
                    };
                    let b = self.take(n)?.to_vec();
                    self.push(Value::Bytes(b));
                }
                b')' => self.push(Value::Seq(Seq::of(Vec::new())?)),
                b't' | b'l' | 0x91 => {
                    let items = self.pop_mark()?;
                    self.push(Value::Seq(Seq::of(items)?));
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.pop()?);
                    }
                    items.reverse();
                    self.push(Value::Seq(Seq::of(items)?));
                }
                b']' | 0x8f => self.push(Value::Seq(Seq::of(Vec::new())?)),
                b'a' => {
                    let v = self.pop()?;
                    match self.top()? {
                        Value::Seq(s) => s.push(v)?,
                        _ => return Err("APPEND to something not a list".into()),
                    }
                }
                b'e' | 0x90 => {
                    let items = self.pop_mark()?;
                    match self.top()? {
                        Value::Seq(s) => {
                            for v in items {
                                s.push(v)?;
                            }
                        }
                        _ => return Err("APPENDS to something not a list".into()),
                    }
                }
                b'}' => self.push(Value::Dict(Dict::new())),
                b'd' => {
                    let items = self.pop_mark()?;
                    let d = pairs_into(Dict::new(), items)?;
                    self.push(Value::Dict(d));
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    match self.top()? {
                        Value::Dict(d) => d.insert(k, v)?,
                        _ => return Err("SETITEM on something not a dict".into()),
                    }
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    match self.top()? {
                        Value::Dict(d) => {
                            let mut it = items.into_iter();
                            while let Some(k) = it.next() {
                                let v = it.next().ok_or("SETITEMS with an odd count")?;
                                d.insert(k, v)?;
                            }
                        }
                        _ => return Err("SETITEMS on something not a dict".into()),
                    }
                }
                b'q' => {
                    let k = self.le(1)?;
                    self.memo_put(k)?;
                }
                b'r' => {
                    let k = self.le(4)?;
                    self.memo_put(k)?;
                }
                0x94 => {
                    let k = self.memo.len() as u64;
                    self.memo_put(k)?;
                }
                b'p' => {
                    let s = self.line()?;
                    let k = s.trim().parse().map_err(|_| "bad PUT")?;
                    self.memo_put(k)?;
                }
                b'h' => {
                    let k = self.le(1)?;
                    self.memo_get(k)?;
                }
                b'j' => {
                    let k = self.le(4)?;
                    self.memo_get(k)?;
                }
                b'g' => {
                    let s = self.line()?;
                    let k = s.trim().parse().map_err(|_| "bad GET")?;
                    self.memo_get(k)?;
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    self.global(&module, &name)?;
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    match (module, name) {
                        (Value::Str(m), Value::Str(n)) => self.global(&m, &n)?,
                        _ => return Err("STACK_GLOBAL without two strings".into()),
                    }
                }
                b'R' => {
                    let args = self.pop()?;
                    let f = self.pop()?;
                    let v = call(f, args)?;
                    self.push(v);
                }
                b'b' => {
                    // BUILD sets an object's state: an ordered dict's `_metadata` or a
                    // parameter's attributes, neither of which weights need.
                    self.pop()?;
                    self.top()?;
                }
                b'Q' => {
                    let pid = self.pop()?;
                    let v = persistent(pid)?;
                    self.push(v);
                }
                b'P' => {
                    let s = self.line()?;
                    let v = persistent(Value::Str(s))?;
                    self.push(v);
                }
                0x81 | 0x92 | b'i' | b'o' | 0x82..=0x84 => {
                    return Err(format!(
                        "the pickle builds an object (opcode 0x{op:02x}); only tensors and plain containers are read"
                    ));
                }
                _ => return Err(format!("unknown pickle opcode 0x{op:02x}")),
            }
        }
    }
}

fn pairs_into(mut d: Dict, items: Vec<Value>) -> Result<Dict, String> {
    if !items.len().is_multiple_of(2) {
        return Err("a dict with an odd count".into());
    }
    let mut it = items.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        d.insert(k, v)?;
    }
    Ok(d)
}

fn count(v: Option<&Value>, what: &str) -> Result<usize, String> {
    v.and_then(Value::as_int)
        .and_then(|i| usize::try_from(i).ok())
        .ok_or_else(|| format!("{what} is not a count"))
}

fn counts(v: Option<&Value>, what: &str) -> Result<Vec<usize>, String> {
    match v {
        Some(Value::Seq(s)) => s.items.iter().map(|x| count(Some(x), what)).collect(),
        _ => Err(format!("{what} is not a tuple")),
    }
}

/// Applies an allowed callable; anything else on the stack is not callable.
fn call(f: Value, args: Value) -> Result<Value, String> {
    let Value::Callable(c) = f else {
        return Err("REDUCE of something not a known function".into());
    };
    let Value::Seq(args) = args else {
        return Err("REDUCE arguments are not a tuple".into());
    };
    let a = &args.items;
    match c {
        Callable::OrderedDict => match a.first() {
            None => Ok(Value::Dict(Dict::new())),
            Some(Value::Seq(pairs)) => {
                let mut d = Dict::new();
                for p in &pairs.items {
                    match p {
                        Value::Seq(kv) if kv.items.len() == 2 => {
                            d.insert(kv.items[0].clone(), kv.items[1].clone())?
                        }
                        _ => return Err("OrderedDict of something not pairs".into()),
                    }
                }
                Ok(Value::Dict(d))
            }
            Some(Value::Dict(d)) => Ok(Value::Dict(d.clone())),
            Some(_) => Err("OrderedDict of something not pairs".into()),
        },
        Callable::Size => match a.first() {
            Some(Value::Seq(s)) => Ok(Value::Seq(s.clone())),
            _ => Err("torch.Size of something not a tuple".into()),
        },
        Callable::RebuildParameter => match a.first() {
            Some(t @ Value::Tensor(_)) => Ok(t.clone()),
            _ => Err("a parameter of something not a tensor".into()),
        },
        Callable::RebuildTensor => {
            let Some(Value::Storage(key, dtype, numel)) = a.first() else {
                return Err("a tensor rebuilt from something not a storage".into());
            };
            let offset = count(a.get(1), "a tensor's offset")?;
            let shape = counts(a.get(2), "a tensor's shape")?;
            let stride = counts(a.get(3), "a tensor's stride")?;
            if shape.len() != stride.len() {
                return Err("a tensor's shape and stride differ in length".into());
            }
            Ok(Value::Tensor(TensorRef {
                key: key.clone(),
                dtype: *dtype,
                numel: *numel,
                offset,
                shape,
                stride,
            }))
        }
        Callable::Storage(_) => Err("a storage type called as a function".into()),
    }
}

/// The usual persistent id of torch: `('storage', type, key, location, numel, ...)`.
pub fn torch_storage(pid: Value) -> Result<Value, String> {
    let Value::Seq(t) = pid else {
        return Err("a persistent id that is not a tuple".into());
    };
    let a = &t.items;
    match (a.first().and_then(Value::as_str), a.get(1), a.get(2)) {
        (Some("storage"), Some(Value::Callable(Callable::Storage(dtype))), Some(key)) => {
            let key = match key {
                Value::Str(s) => s.clone(),
                Value::Int(i) => i.to_string(),
                _ => return Err("a storage key that is not a string".into()),
            };
            let numel = count(a.get(4), "a storage's size")?;
            Ok(Value::Storage(key, *dtype, numel))
        }
        _ => Err("a persistent id that is not a torch storage".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(bytes: &[u8]) -> Result<Value, String> {
        load(bytes, &mut torch_storage).map(|(v, _)| v)
    }

    #[test]
    fn refuses_os_system() {
        // pickle.dumps of a class whose __reduce__ returns (os.system, ("echo hi",)),
        // protocol 2: GLOBAL 'posix system', the argument, TUPLE1, REDUCE.
        let p = b"\x80\x02cposix\nsystem\nq\x00X\x07\x00\x00\x00echo hiq\x01\x85q\x02Rq\x03.";
        let e = run(p).unwrap_err();
        assert!(e.contains("posix.system"), "{e}");
    }

    #[test]
    fn reads_containers() {
        // pickle.dumps({'a': [1, 2.5, None], 'b': (True, 'x')}, protocol=2)
        let p = b"\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01]q\x02(K\x01G@\x04\x00\x00\x00\x00\x00\x00Neq\x03X\x01\x00\x00\x00bq\x04\x88X\x01\x00\x00\x00xq\x05\x86q\x06u.";
        let Value::Dict(d) = run(p).unwrap() else {
            panic!("not a dict")
        };
        let Some(Value::Seq(a)) = d.get("a") else {
            panic!("no list")
        };
        assert_eq!(a.items, vec![Value::Int(1), Value::Float(2.5), Value::None]);
        assert!(matches!(d.get("b"), Some(Value::Seq(t)) if t.items.len() == 2));
    }

    #[test]
    fn bounds_copies_and_depth() {
        // A list copied into itself by memo: each round doubles its nodes.
        let mut p = vec![0x80, 2, b']', b'q', 0];
        for _ in 0..40 {
            p.extend_from_slice(&[b'h', 0, b'h', 0, 0x86, b'q', 0]);
        }
        p.push(b'.');
        assert!(run(&p).is_err());
        let mut deep = vec![0x80, 2];
        deep.extend(std::iter::repeat_n(b']', 200));
        deep.extend(std::iter::repeat_n(b'a', 199));
        deep.push(b'.');
        assert!(run(&deep).unwrap_err().contains("nest"));
    }

    #[test]
    fn truncated_is_an_error() {
        let p = b"\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01]q\x02(K\x01";
        for n in 0..p.len() {
            assert!(run(&p[..n]).is_err());
        }
    }
}
