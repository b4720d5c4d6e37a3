//! The MPI world (rsmpi over the system's Open MPI or MPICH), for `--features mpi`.

use std::sync::Mutex;

use mpi::collective::SystemOperation;
use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;

use super::Comm;

/// Environment variables a launcher sets in the processes it starts: Open MPI's `mpirun`,
/// MPICH's Hydra and Slurm's PMI-2, PMIx (Open MPI 5, `srun --mpi=pmix`).
const LAUNCHED: [&str; 4] = [
    "OMPI_COMM_WORLD_SIZE",
    "PMI_SIZE",
    "PMIX_RANK",
    "MPI_LOCALNRANKS",
];

/// Keeps MPI initialised; dropping it finalises MPI (at the end of `main`).
pub struct Session {
    _universe: Universe,
}

/// The world communicator, reached through a lock: MPI is initialised at the `Serialized`
/// threading level (any thread may call, one at a time), and regen's collectives run from
/// whichever pool thread runs the training loop. The handle itself is made on each call
/// (`MPI_COMM_WORLD`, a constant), so nothing thread-bound is kept.
struct World {
    lock: Mutex<()>,
    rank: usize,
    size: usize,
}

impl World {
    fn with<T>(&self, f: impl FnOnce(&SimpleCommunicator) -> T) -> T {
        let _held = self
            .lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&SimpleCommunicator::world())
    }
}

impl Comm for World {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.size
    }

    fn all_reduce_f32(&self, buf: &mut [f32]) {
        let send = buf.to_vec();
        self.with(|c| c.all_reduce_into(&send[..], buf, SystemOperation::sum()));
    }

    fn all_reduce_f64(&self, buf: &mut [f64]) {
        let send = buf.to_vec();
        self.with(|c| c.all_reduce_into(&send[..], buf, SystemOperation::sum()));
    }

    fn min_max_u64(&self, v: u64) -> (u64, u64) {
        let (mut lo, mut hi) = (0u64, 0u64);
        self.with(|c| {
            c.all_reduce_into(&v, &mut lo, SystemOperation::min());
            c.all_reduce_into(&v, &mut hi, SystemOperation::max());
        });
        (lo, hi)
    }

    fn broadcast(&self, buf: &mut Vec<u8>) {
        self.with(|c| {
            let root = c.process_at_rank(0);
            let mut len = buf.len() as u64;
            root.broadcast_into(&mut len);
            buf.resize(len as usize, 0);
            // MPI counts are C ints: send large buffers in pieces.
            for piece in buf.chunks_mut(1 << 30) {
                root.broadcast_into(piece);
            }
        });
    }

    fn abort(&self, code: i32) -> ! {
        // Not through the lock: a rank may abort while another thread holds it.
        let world = SimpleCommunicator::world();
        world.abort(code)
    }
}

/// Starts MPI if a launcher started this process, and makes its world regen's
/// ([`super::install`]); `None` (and MPI untouched) otherwise, so the `mpi` build runs
/// alone exactly as the default one does.
pub fn start() -> Option<Session> {
    if !LAUNCHED.iter().any(|v| std::env::var_os(v).is_some()) {
        return None;
    }
    let (universe, _) = mpi::initialize_with_threading(mpi::Threading::Serialized)?;
    let comm = universe.world();
    let (rank, size) = (comm.rank() as usize, comm.size() as usize);
    super::install(Box::new(World {
        lock: Mutex::new(()),
        rank,
        size,
    }));
    Some(Session {
        _universe: universe,
    })
}
