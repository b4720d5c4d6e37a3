//! The work queue: every model run (restore, sample, interpolate) is a [`Job`], done one at
//! a time on one worker thread inside regen's thread pool, since the models already use
//! every core. The queue is bounded: a request that finds it full is refused (429) rather
//! than left to wait without end. Restoration jobs report tiles done and can be cancelled
//! between tiles.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use regen::corrupt::Task;
use regen::corrupt::blur::Kernel;
use regen::data::{Image, SaveOptions, grid};
use regen::generate::{Generator, mix};
use regen::restore::{Condition, Restorer, Watch};
use regen::{Error, Result};
use serde::Serialize;
use tokio::sync::watch;

/// Finished jobs kept for their results; older ones are forgotten.
const KEEP_FINISHED: usize = 8;
/// Loaded models kept for the next request.
const KEEP_MODELS: usize = 4;

/// What a job does.
pub enum Work {
    /// Restore `image`: `model` is a catalogue spec (`None`: the shipped default for the
    /// task), `mask` marks missing pixels for inpainting, `sigma` the noise level told to a
    /// model that takes one, `kernel` the blur a non-blind deblurrer undoes.
    Restore {
        image: Box<Image>,
        task: Task,
        model: Option<String>,
        mask: Option<Vec<f32>>,
        sigma: Option<f32>,
        kernel: Option<Kernel>,
    },
    /// `count` samples drawn with `seed` (of `class` for a conditional model), as the grid
    /// `regen generate --grid` writes.
    Sample {
        model: String,
        count: usize,
        class: Option<usize>,
        seed: u64,
    },
    /// The image a fraction `t` of the way between the latent codes of samples `a` and `b`
    /// of those drawn with `seed`, along the great circle.
    Between {
        model: String,
        seed: u64,
        a: usize,
        b: usize,
        t: f64,
        class: Option<usize>,
    },
}

/// Where a job is.
#[derive(Clone, Debug)]
pub enum State {
    /// Waiting for the worker.
    Queued,
    /// Being worked on.
    Running,
    /// Finished: the result as a PNG file's bytes.
    Done(Arc<Vec<u8>>),
    /// Failed: whether the request was at fault (else regen was), and why.
    Failed { user: bool, message: String },
    /// Stopped on request.
    Cancelled,
}

impl State {
    /// Whether it will not change any more.
    pub fn finished(&self) -> bool {
        !matches!(self, State::Queued | State::Running)
    }

    fn name(&self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Running => "running",
            State::Done(_) => "done",
            State::Failed { .. } => "failed",
            State::Cancelled => "cancelled",
        }
    }
}

/// One unit of work and its progress.
pub struct Job {
    /// Its number, unique in this server's life.
    pub id: u64,
    work: Mutex<Option<Work>>,
    state: watch::Sender<State>,
    done: AtomicUsize,
    total: AtomicUsize,
    cancel: AtomicBool,
}

/// A job as the API shows it.
#[derive(Serialize)]
pub struct Status {
    /// The job's number.
    pub id: u64,
    /// `queued`, `running`, `done`, `failed` or `cancelled`.
    pub state: &'static str,
    /// Tiles restored so far.
    pub done: usize,
    /// Tiles in all (0 until known).
    pub total: usize,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Job {
    /// Where it is now.
    pub fn state(&self) -> State {
        self.state.borrow().clone()
    }

    /// Its state and progress.
    pub fn status(&self) -> Status {
        let state = self.state();
        Status {
            id: self.id,
            state: state.name(),
            done: self.done.load(Ordering::Relaxed),
            total: self.total.load(Ordering::Relaxed),
            error: match state {
                State::Failed { message, .. } => Some(message),
                _ => None,
            },
        }
    }

    /// Asks it to stop: a queued job is cancelled at once, a running one before its next
    /// tile.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
        self.state.send_if_modified(|s| {
            let queued = matches!(s, State::Queued);
            if queued {
                *s = State::Cancelled;
            }
            queued
        });
    }

    /// Waits until it has finished and returns how.
    pub async fn finished(&self) -> State {
        let mut rx = self.state.subscribe();
        let state = rx.wait_for(State::finished).await.map(|s| s.clone());
        // The sender lives in `self`, so the channel cannot close while we wait.
        state.unwrap_or(State::Cancelled)
    }
}

impl Watch for Job {
    fn tiles(&self, done: usize, total: usize) {
        self.total.store(total, Ordering::Relaxed);
        self.done.store(done, Ordering::Relaxed);
    }

    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

/// The queue and its worker.
pub struct Jobs {
    table: Mutex<Table>,
    tx: Mutex<Sender<Arc<Job>>>,
    limit: usize,
}

#[derive(Default)]
struct Table {
    next: u64,
    jobs: BTreeMap<u64, Arc<Job>>,
}

/// The queue already holds its limit of unfinished jobs.
#[derive(Debug)]
pub struct Full(pub usize);

impl Jobs {
    /// Starts the worker thread; at most `limit` jobs wait or run at once.
    pub fn start(limit: usize) -> Jobs {
        let (tx, rx) = channel();
        std::thread::Builder::new()
            .name("regen-worker".into())
            .spawn(move || regen::device::in_pool(move || work(rx)))
            .expect("the worker thread starts");
        Jobs {
            table: Mutex::new(Table::default()),
            tx: Mutex::new(tx),
            limit,
        }
    }

    /// Queues `work`, or refuses it when the queue is full.
    pub fn submit(&self, work: Work) -> std::result::Result<Arc<Job>, Full> {
        let mut t = self.table.lock().expect("job table");
        let unfinished = t.jobs.values().filter(|j| !j.state().finished()).count();
        if unfinished >= self.limit {
            return Err(Full(self.limit));
        }
        t.next += 1;
        let job = Arc::new(Job {
            id: t.next,
            work: Mutex::new(Some(work)),
            state: watch::Sender::new(State::Queued),
            done: AtomicUsize::new(0),
            total: AtomicUsize::new(0),
            cancel: AtomicBool::new(false),
        });
        t.jobs.insert(job.id, Arc::clone(&job));
        let finished: Vec<u64> = t
            .jobs
            .iter()
            .filter(|(_, j)| j.state().finished())
            .map(|(&id, _)| id)
            .collect();
        for id in finished
            .iter()
            .take(finished.len().saturating_sub(KEEP_FINISHED))
        {
            t.jobs.remove(id);
        }
        // The worker only stops when this sender is dropped, so sending cannot fail.
        let _ = self.tx.lock().expect("job sender").send(Arc::clone(&job));
        Ok(job)
    }

    /// The job numbered `id`, while it is remembered.
    pub fn get(&self, id: u64) -> Option<Arc<Job>> {
        self.table.lock().expect("job table").jobs.get(&id).cloned()
    }
}

/// The worker: each job in turn, with loaded models kept for the next.
fn work(rx: Receiver<Arc<Job>>) {
    let mut models = Models::default();
    for job in rx {
        let start = job.state.send_if_modified(|s| {
            let queued = matches!(s, State::Queued);
            if queued {
                *s = State::Running;
            }
            queued
        });
        let Some(work) = job.work.lock().expect("job work").take() else {
            continue;
        };
        if !start {
            continue; // cancelled while queued
        }
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run(&mut models, work, &job)
        }));
        let state = match outcome {
            Ok(Ok(Some(png))) => State::Done(Arc::new(png)),
            Ok(Ok(None)) => State::Cancelled,
            Ok(Err(e)) => State::Failed {
                user: e.is_user_error(),
                message: e.to_string(),
            },
            Err(_) => State::Failed {
                user: false,
                message: "internal error: the model run panicked".into(),
            },
        };
        job.state.send_replace(state);
    }
}

/// Loaded models by what they were loaded for.
#[derive(Default)]
struct Models {
    restorers: HashMap<String, Arc<Restorer>>,
    generators: HashMap<String, Arc<Generator>>,
}

impl Models {
    fn restorer(
        &mut self,
        model: Option<&str>,
        task: Task,
        known_blur: bool,
    ) -> Result<Arc<Restorer>> {
        let key = format!("{model:?} {task} {known_blur}");
        cached(&mut self.restorers, key, || {
            Restorer::for_task(model, Some(task), known_blur, None)
        })
    }

    fn generator(&mut self, spec: &str) -> Result<Arc<Generator>> {
        cached(&mut self.generators, spec.into(), || Generator::load(spec))
    }
}

/// The model under `key` in `cache`, loaded by `load` the first time; the cache is emptied
/// when it holds [`KEEP_MODELS`].
fn cached<T>(
    cache: &mut HashMap<String, Arc<T>>,
    key: String,
    load: impl FnOnce() -> Result<T>,
) -> Result<Arc<T>> {
    if let Some(m) = cache.get(&key) {
        return Ok(Arc::clone(m));
    }
    let m = Arc::new(load()?);
    if cache.len() >= KEEP_MODELS {
        cache.clear();
    }
    cache.insert(key, Arc::clone(&m));
    Ok(m)
}

/// Does `work`: the PNG bytes, or `None` when cancelled.
fn run(models: &mut Models, work: Work, job: &Job) -> Result<Option<Vec<u8>>> {
    let save = SaveOptions::default();
    match work {
        Work::Restore {
            image,
            task,
            model,
            mask,
            sigma,
            kernel,
        } => {
            let r = models.restorer(model.as_deref(), task, kernel.is_some())?;
            if sigma.is_some() && !r.takes_sigma() {
                return Err(Error::arg(format!(
                    "sigma: model {} has no noise level input; leave sigma out",
                    model.as_deref().unwrap_or("default")
                )));
            }
            let cond = Condition {
                mask: mask.as_deref(),
                kernel: kernel.as_ref(),
                sigma,
            };
            let out = r.restore_watched(&image, &cond, job);
            out.map(|img| img.encode_png(&save)).transpose()
        }
        Work::Sample {
            model,
            count,
            class,
            seed,
        } => {
            let images = models.generator(&model)?.sample(count, class, seed)?;
            let cols = (count as f64).sqrt().ceil() as usize;
            grid(&images, cols).encode_png(&save).map(Some)
        }
        Work::Between {
            model,
            seed,
            a,
            b,
            t,
            class,
        } => {
            let g = models.generator(&model)?;
            let z = g.sample_latents(a.max(b) + 1, seed);
            let between = mix(&z[a], &z[b], t, true);
            let classes = class.map(|c| vec![c]);
            let mut img = g.decode_latents(&[between], classes.as_deref())?;
            img.remove(0).encode_png(&save).map(Some)
        }
    }
}
