//! Synchronous data-parallel training (as Horovod and PyTorch's DDP do it), over MPI when
//! regen is built with the `mpi` feature and started by `mpirun` or `srun`.
//!
//! Every rank holds the whole model. A step's global batch of `B` samples is split by
//! global sample index ([`shard`]): rank `r` of `N` takes a contiguous run of `B / N` (the
//! first `B mod N` ranks one more), and every random draw of a sample (its patch, noise,
//! mask, latent code) is keyed by that index, so the `N` ranks together see exactly the
//! samples one process with batch `B` sees. Each rank's loss is its samples' share of the
//! global mean (`local mean x n_r / B`, [`loss_weight`]), so the gradients summed over the
//! ranks are the global batch's gradient, and batch normalisation, which needs the whole
//! batch's statistics, sums its per-channel moments over the ranks too
//! ([`crate::engine::norm`]). After the backward pass the gradients are packed into one
//! buffer and summed with one all-reduce ([`all_reduce_grads`]); every rank then takes the
//! same optimizer step from the same state. Rank 0 alone validates, logs and writes.
//!
//! Without a launcher, or with one rank, [`world`] is a single process and none of this
//! code runs: a one-rank job is the plain program.

use std::ops::Range;
use std::sync::OnceLock;

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::store::{BurnpackStore, ModuleSnapshot};
use burn::tensor::{Bytes, Tensor, TensorData};

use crate::error::{Error, Result};

#[cfg(feature = "mpi")]
pub mod mpi;

/// The collective operations data-parallel training needs. Every rank must call them in
/// the same order with buffers of the same length.
pub trait Comm: Send + Sync {
    /// This process's rank, from 0.
    fn rank(&self) -> usize;
    /// How many ranks train together.
    fn size(&self) -> usize;
    /// Replaces `buf` on every rank with its elementwise sum over the ranks.
    fn all_reduce_f32(&self, buf: &mut [f32]);
    /// Replaces `buf` on every rank with its elementwise sum over the ranks.
    fn all_reduce_f64(&self, buf: &mut [f64]);
    /// The smallest and the largest of `v` over the ranks.
    fn min_max_u64(&self, v: u64) -> (u64, u64);
    /// Replaces `buf` on every rank with rank 0's (any length).
    fn broadcast(&self, buf: &mut Vec<u8>);
    /// Ends every rank of the job with `code` (a rank that fails alone would leave the
    /// others waiting in a collective forever).
    fn abort(&self, code: i32) -> !;
}

/// One process: the collectives are identities.
struct Solo;

impl Comm for Solo {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn all_reduce_f32(&self, _: &mut [f32]) {}
    fn all_reduce_f64(&self, _: &mut [f64]) {}
    fn min_max_u64(&self, v: u64) -> (u64, u64) {
        (v, v)
    }
    fn broadcast(&self, _: &mut Vec<u8>) {}
    fn abort(&self, code: i32) -> ! {
        std::process::exit(code)
    }
}

/// How many ranks the launcher that started this process (Open MPI's `mpirun`, MPICH's
/// Hydra, Slurm's PMI) says the job has, if one did: a build without MPI uses it to refuse
/// to run as several unconnected copies of one training, racing on its run folder.
pub fn launched_ranks() -> Option<usize> {
    ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"]
        .iter()
        .find_map(|v| std::env::var(v).ok()?.trim().parse().ok())
}

static WORLD: OnceLock<Box<dyn Comm>> = OnceLock::new();

/// The ranks this process trains with: what [`install`] set, else one process.
pub fn world() -> &'static dyn Comm {
    WORLD.get().map_or(&Solo, |w| w.as_ref())
}

/// Makes `comm` the world for the rest of the process (the first call wins).
pub fn install(comm: Box<dyn Comm>) {
    let _ = WORLD.set(comm);
}

/// Whether this process is rank 0, which validates, logs and writes.
pub fn is_root() -> bool {
    world().rank() == 0
}

/// Whether more than one rank trains.
pub fn parallel() -> bool {
    world().size() > 1
}

/// The global sample indices of a batch of `batch` that rank `rank` of `size` takes.
pub fn shard_of(batch: usize, rank: usize, size: usize) -> Range<usize> {
    let (base, extra) = (batch / size, batch % size);
    let start = rank * base + rank.min(extra);
    start..start + base + usize::from(rank < extra)
}

/// This rank's global sample indices of a batch of `batch`.
pub fn shard(batch: usize) -> Range<usize> {
    let w = world();
    shard_of(batch, w.rank(), w.size())
}

/// Refuses a global batch that leaves a rank without a sample.
pub fn check_batch(batch: usize) -> Result<()> {
    let n = world().size();
    if batch < n {
        return Err(Error::arg(format!(
            "--batch {batch} is the global batch and cannot give each of {n} ranks a sample; use at least {n}"
        )));
    }
    Ok(())
}

/// What this rank's loss (a mean over its `local` samples) is multiplied by so that the
/// ranks' losses sum to the mean over the `global` batch: `local / global`; `None` on one
/// process, where nothing is multiplied.
pub fn loss_weight(local: usize, global: usize) -> Option<f64> {
    parallel().then(|| local as f64 / global as f64)
}

/// The line a run prints at its start: how the batch is spread.
pub fn describe(batch: usize) -> Option<String> {
    let n = world().size();
    (n > 1).then(|| {
        let r = shard_of(batch, 0, n);
        format!(
            "{n} ranks (MPI): --batch {batch} is the global batch, {} samples per rank{}",
            r.len(),
            if batch.is_multiple_of(n) {
                ""
            } else {
                " or one fewer"
            }
        )
    })
}

/// Each float parameter's id, element count and shape, in the module's order (the same on
/// every rank: the ranks hold the same network).
struct Layout(Vec<(ParamId, Vec<usize>)>);

impl ModuleVisitor for Layout {
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
        self.0.push((p.id, p.val().dims().to_vec()));
    }
}

fn grad_of<const D: usize>(grads: &mut GradientsParams, id: ParamId) -> Option<Tensor<D>> {
    grads.remove::<D>(id)
}

/// Sums `grads` (of `module`'s parameters) over the ranks with one all-reduce, together with
/// `extra` (loss values and other per-step sums, summed in place). Parameters no rank has a
/// gradient for stay without one (the optimizer leaves them as they are on one process
/// too). `device` is where gradients live (the training device without autodiff), for a
/// rank that has none of its own. On one process `grads` come back untouched.
pub fn all_reduce_grads<M: Module>(
    mut grads: GradientsParams,
    module: &M,
    extra: &mut [f32],
    device: &burn::tensor::Device,
) -> GradientsParams {
    if !parallel() {
        return grads;
    }
    let mut layout = Layout(Vec::new());
    module.visit(&mut layout);
    // [presence flags | extra | every gradient, flat]
    let n_params = layout.0.len();
    let total: usize = layout
        .0
        .iter()
        .map(|(_, s)| s.iter().product::<usize>())
        .sum();
    let mut buf = vec![0.0f32; n_params + extra.len() + total];
    buf[n_params..n_params + extra.len()].copy_from_slice(extra);
    let mut at = n_params + extra.len();
    let mut found = None;
    for (k, (id, shape)) in layout.0.iter().enumerate() {
        let n: usize = shape.iter().product();
        let g: Option<Vec<f32>> = match shape.len() {
            1 => grad_of::<1>(&mut grads, *id).map(flat),
            2 => grad_of::<2>(&mut grads, *id).map(flat),
            3 => grad_of::<3>(&mut grads, *id).map(flat),
            4 => grad_of::<4>(&mut grads, *id).map(flat),
            d => panic!("a {d}-d parameter"),
        }
        .map(|(v, d)| {
            found.get_or_insert(d);
            v
        });
        if let Some(v) = g {
            buf[k] = 1.0;
            buf[at..at + n].copy_from_slice(&v);
        }
        at += n;
    }
    world().all_reduce_f32(&mut buf);
    extra.copy_from_slice(&buf[n_params..n_params + extra.len()]);
    let device = found.unwrap_or_else(|| device.clone());
    let mut at = n_params + extra.len();
    let mut out = GradientsParams::new();
    for (k, (id, shape)) in layout.0.iter().enumerate() {
        let n: usize = shape.iter().product();
        if buf[k] > 0.0 {
            let data = TensorData::new(buf[at..at + n].to_vec(), shape.clone());
            match shape.len() {
                1 => out.register::<1>(*id, Tensor::from_data(data, &device)),
                2 => out.register::<2>(*id, Tensor::from_data(data, &device)),
                3 => out.register::<3>(*id, Tensor::from_data(data, &device)),
                _ => out.register::<4>(*id, Tensor::from_data(data, &device)),
            }
        }
        at += n;
    }
    out
}

fn flat<const D: usize>(t: Tensor<D>) -> (Vec<f32>, burn::tensor::Device) {
    let d = t.device();
    (
        t.into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .expect("f32"),
        d,
    )
}

/// Sends rank 0's training model, optimizer state and `state` (JSON) to every rank, so all
/// start the first step from rank 0's (its initial weights, its `--init`, or the
/// checkpoint it resumed). On one process nothing moves.
pub fn share_start<M: Module + ModuleSnapshot>(
    model: &mut M,
    optim: ModuleOptimizer,
    state: &mut Vec<u8>,
) -> Result<ModuleOptimizer> {
    if !parallel() {
        return Ok(optim);
    }
    let w = world();
    let root = w.rank() == 0;
    let mut weights = Vec::new();
    let mut opt = Vec::new();
    if root {
        let mut store = BurnpackStore::from_bytes(None);
        model
            .save_into(&mut store)
            .map_err(|e| Error::internal(format!("cannot serialise the model: {e}")))?;
        weights = store
            .get_bytes()
            .map_err(|e| Error::internal(format!("cannot serialise the model: {e}")))?
            .to_vec();
        opt = optim
            .into_bytes()
            .map_err(|e| Error::internal(format!("cannot serialise the optimizer: {e:?}")))?
            .to_vec();
    }
    w.broadcast(&mut weights);
    w.broadcast(&mut opt);
    w.broadcast(state);
    if root {
        return Ok(optim);
    }
    let mut store = BurnpackStore::from_bytes(Some(Bytes::from_bytes_vec(weights)));
    model
        .load_from(&mut store)
        .map_err(|e| Error::internal(format!("rank 0's model does not load: {e}")))?;
    optim
        .from_bytes(Bytes::from_bytes_vec(opt))
        .map_err(|e| Error::internal(format!("rank 0's optimizer state does not load: {e:?}")))
}

/// A checksum of every float parameter's bits (FNV-1a), to compare across ranks.
pub fn checksum<M: Module>(module: &M) -> u64 {
    struct Sum(u64);
    impl ModuleVisitor for Sum {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            let v = p.val().into_data().convert::<f32>();
            for x in v.as_slice::<f32>().expect("f32") {
                for b in x.to_bits().to_le_bytes() {
                    self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
                }
            }
        }
    }
    let mut s = Sum(0xcbf2_9ce4_8422_2325);
    module.visit(&mut s);
    s.0
}

/// Checks that every rank holds the same parameters after `step` (one small all-reduce);
/// a difference is a bug, reported rather than trained on.
pub fn check_in_step<M: Module>(module: &M, step: u64) -> Result<()> {
    check_on(world(), module, step)
}

fn check_on<M: Module>(comm: &dyn Comm, module: &M, step: u64) -> Result<()> {
    if comm.size() == 1 {
        return Ok(());
    }
    let (lo, hi) = comm.min_max_u64(checksum(module));
    if lo != hi {
        return Err(Error::internal(format!(
            "after step {step} the ranks hold different parameters (checksums {lo:016x} to {hi:016x})"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two ranks, the other holding parameters whose checksum is `theirs`.
    struct Pair {
        theirs: u64,
    }

    impl Comm for Pair {
        fn rank(&self) -> usize {
            0
        }
        fn size(&self) -> usize {
            2
        }
        fn all_reduce_f32(&self, _: &mut [f32]) {}
        fn all_reduce_f64(&self, _: &mut [f64]) {}
        fn min_max_u64(&self, v: u64) -> (u64, u64) {
            (v.min(self.theirs), v.max(self.theirs))
        }
        fn broadcast(&self, _: &mut Vec<u8>) {}
        fn abort(&self, code: i32) -> ! {
            std::process::exit(code)
        }
    }

    /// The per-step check passes when the ranks' parameters agree and names the step when
    /// they do not; the checksum sees a one-bit change.
    #[test]
    fn ranks_that_disagree_are_caught() {
        use crate::models::Architecture;
        let device = crate::device::train_device();
        let net = crate::models::CompactConfig::new(1, 1)
            .with_features(4)
            .with_convs(1)
            .with_scale(2)
            .init(&device);
        crate::train::run::materialise(&net);
        let mine = checksum(&net);
        assert!(check_on(&Pair { theirs: mine }, &net, 3).is_ok());
        let e = check_on(&Pair { theirs: mine ^ 1 }, &net, 3).unwrap_err();
        assert!(
            e.to_string()
                .contains("after step 3 the ranks hold different parameters"),
            "{e}"
        );
        struct Nudge;
        impl burn::module::ModuleMapper for Nudge {
            fn map_float<const D: usize>(&mut self, p: Param<Tensor<D>>) -> Param<Tensor<D>> {
                p.map(|t| {
                    let mut v: Vec<f32> = t.to_data().convert::<f32>().try_to_vec().unwrap();
                    v[0] = f32::from_bits(v[0].to_bits() ^ 1);
                    Tensor::from_data(TensorData::new(v, t.dims().to_vec()), &t.device())
                })
            }
        }
        assert_ne!(checksum(&net.clone().map(&mut Nudge)), mine);
    }

    /// Every global index goes to exactly one rank, in order, the sizes differing by at most
    /// one.
    #[test]
    fn shards_cover_the_batch_once() {
        for batch in 1..40 {
            for size in 1..=batch.min(9) {
                let parts: Vec<Range<usize>> =
                    (0..size).map(|r| shard_of(batch, r, size)).collect();
                let flat: Vec<usize> = parts.iter().flat_map(|r| r.clone()).collect();
                assert_eq!(flat, (0..batch).collect::<Vec<_>>());
                let (lo, hi) = (
                    parts.iter().map(Range::len).min().unwrap(),
                    parts.iter().map(Range::len).max().unwrap(),
                );
                assert!(hi - lo <= 1 && lo >= 1, "{batch} over {size}");
            }
        }
    }
}
