//! File and folder batches for `regen restore` and `regen corrupt`: inputs are files or
//! one folder; outputs keep the input names. Bad files are reported and the rest go on.

use std::path::{Path, PathBuf};

use crate::data::{Image, SaveOptions, is_image_path, list_images};
use crate::error::{Error, Result};

/// One input file and where its result goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    /// The input file.
    pub input: PathBuf,
    /// The output file.
    pub output: PathBuf,
}

/// One of `count` shards of a batch, `index` counting from 0: the shard a file belongs to
/// is a stable hash of its path relative to the input folder (or of the path as given,
/// for files named one by one), so each file is in exactly one shard, whatever machine
/// or order lists it, and adding or removing files moves no other file between shards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This shard, from 0.
    pub index: usize,
    /// How many shards the batch is split into.
    pub count: usize,
}

impl Shard {
    /// A shard, checked: `index < count`, `count >= 1`.
    pub fn new(index: usize, count: usize, what: &str) -> Result<Shard> {
        if count == 0 {
            return Err(Error::arg(format!(
                "{what}: the shard count must be at least 1"
            )));
        }
        if index >= count {
            return Err(Error::arg(format!(
                "{what}: shard {index} of {count} does not exist (shards count from 0 to {})",
                count - 1
            )));
        }
        Ok(Shard { index, count })
    }

    /// `K/N` (K from 0), as `--shard` takes it.
    pub fn parse(s: &str) -> Result<Shard> {
        let bad = || Error::arg(format!("--shard {s}: use K/N, K counting from 0 to N-1"));
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let k = k.trim().parse().map_err(|_| bad())?;
        let n = n.trim().parse().map_err(|_| bad())?;
        Shard::new(k, n, &format!("--shard {s}"))
    }

    /// The shard a scheduler hands this process through its environment (`var` reads it):
    /// a Slurm job array (`SLURM_ARRAY_TASK_ID` minus `SLURM_ARRAY_TASK_MIN` of
    /// `SLURM_ARRAY_TASK_COUNT`), or a Kubernetes Indexed Job (`JOB_COMPLETION_INDEX`, of
    /// `shards`, the Job's `completions`, which the pod is not told). Also returns a line
    /// saying which it used; `None` when neither is set.
    pub fn from_env(
        var: impl Fn(&str) -> Option<String>,
        shards: Option<usize>,
    ) -> Result<Option<(Shard, String)>> {
        let num = |name: &str| -> Result<Option<usize>> {
            match var(name) {
                None => Ok(None),
                Some(v) => v
                    .trim()
                    .parse()
                    .map(Some)
                    .map_err(|_| Error::arg(format!("{name}={v}: not a whole number"))),
            }
        };
        if let Some(id) = num("SLURM_ARRAY_TASK_ID")? {
            let count = num("SLURM_ARRAY_TASK_COUNT")?.ok_or_else(|| {
                Error::arg("SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not")
            })?;
            let min = num("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
            let index = id.checked_sub(min).ok_or_else(|| {
                Error::arg(format!(
                    "SLURM_ARRAY_TASK_ID {id} is below SLURM_ARRAY_TASK_MIN {min}"
                ))
            })?;
            if let Some(n) = shards
                && n != count
            {
                return Err(Error::arg(format!(
                    "--shards {n}, but the Slurm array has {count} tasks"
                )));
            }
            // An array with a step (0-30:3) numbers its tasks sparsely: not a shard index.
            let shard = Shard::new(
                index,
                count,
                "the Slurm job array (use --array=0-N or --shard)",
            )?;
            let line = format!(
                "shard {index} of {count} from the Slurm job array (SLURM_ARRAY_TASK_ID {id} - SLURM_ARRAY_TASK_MIN {min}, SLURM_ARRAY_TASK_COUNT {count})"
            );
            return Ok(Some((shard, line)));
        }
        if let Some(index) = num("JOB_COMPLETION_INDEX")? {
            let count = shards.ok_or_else(|| {
                Error::arg(
                    "JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job): give --shards N, the Job's completions",
                )
            })?;
            let shard = Shard::new(index, count, "JOB_COMPLETION_INDEX")?;
            let line = format!(
                "shard {index} of {count} from the Kubernetes Indexed Job (JOB_COMPLETION_INDEX {index}, --shards {count})"
            );
            return Ok(Some((shard, line)));
        }
        Ok(None)
    }

    /// Whether the file with key `key` ([`shard_key`]) is in this shard.
    pub fn owns(&self, key: &str) -> bool {
        if self.count == 1 {
            return true;
        }
        // FNV-1a over the key's bytes, then SplitMix64's finaliser so that every bit of the
        // hash, not only the low ones, decides the shard.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in key.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        h = (h ^ (h >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        h = (h ^ (h >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        h ^= h >> 31;
        (h % self.count as u64) as usize == self.index
    }
}

/// The key a file is sharded by: its path relative to `root` (the input folder), or the
/// path as given when there is none, with `/` between the parts on every system.
pub fn shard_key(path: &Path, root: Option<&Path>) -> String {
    let rel = root.and_then(|r| path.strip_prefix(r).ok()).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Plans a batch. One file in: `output` is the output file (or, if it is an existing
/// folder, the file goes into it). One folder in: every image below it goes to the same
/// relative path under `output`. Several files in: `output` is a folder.
/// Returns the jobs and the inputs that cannot be processed (missing, not an image).
pub fn plan(inputs: &[PathBuf], output: &Path) -> Result<(Vec<Job>, Vec<Error>)> {
    let (jobs, bad) = plan_shard(inputs, output, None)?;
    Ok((jobs, bad.into_iter().map(|(_, e)| e).collect()))
}

/// Inputs a batch cannot process, each with the error that says why.
pub type Refused = Vec<(PathBuf, Error)>;

/// As [`plan`], keeping only the files of `shard` (and reporting only its bad inputs, each
/// with its path).
pub fn plan_shard(
    inputs: &[PathBuf],
    output: &Path,
    shard: Option<Shard>,
) -> Result<(Vec<Job>, Refused)> {
    let mine = |p: &Path, root: Option<&Path>| shard.is_none_or(|s| s.owns(&shard_key(p, root)));
    let mut jobs = Vec::new();
    let mut bad = Vec::new();
    if inputs.len() == 1 && inputs[0].is_dir() {
        let dir = &inputs[0];
        let (images, skipped) = list_images(dir)?;
        if images.is_empty() {
            return Err(Error::bad_file(
                dir,
                "folder holds no images (PNG, JPEG, BMP, TIFF)",
            ));
        }
        if output.is_file() {
            return Err(Error::arg(format!(
                "{}: the input is a folder, so the output must be a folder too, but this is a file",
                output.display()
            )));
        }
        for p in skipped {
            eprintln!("note: skipping {} (not an image)", p.display());
        }
        for p in images {
            if !mine(&p, Some(dir)) {
                continue;
            }
            let rel = p.strip_prefix(dir).expect("listed below dir");
            jobs.push(Job {
                output: output.join(rel),
                input: p,
            });
        }
        return Ok((jobs, bad));
    }
    let into_folder = inputs.len() > 1 || output.is_dir();
    for p in inputs {
        if !mine(p, None) {
            continue;
        }
        if p.is_dir() {
            bad.push((
                p.clone(),
                Error::arg(format!(
                    "{}: a folder can only be given on its own",
                    p.display()
                )),
            ));
        } else if !p.exists() {
            bad.push((
                p.clone(),
                Error::io(p, std::io::Error::from(std::io::ErrorKind::NotFound)),
            ));
        } else if !is_image_path(p) {
            bad.push((
                p.clone(),
                Error::bad_file(p, "not an image file name (.png, .jpg, .bmp, .tif)"),
            ));
        } else {
            let out = if into_folder {
                output.join(p.file_name().expect("a file has a name"))
            } else {
                output.to_path_buf()
            };
            jobs.push(Job {
                input: p.clone(),
                output: out,
            });
        }
    }
    Ok((jobs, bad))
}

/// Where the side file (an inpainting mask) of `job` is: `side` itself when it is a file
/// and the batch has one job, else the job's output path relative to `output`, under
/// `side`, so masks and images share their names.
pub fn side_path(side: &Path, job: &Job, output: &Path, jobs: usize) -> PathBuf {
    if jobs == 1 && !side.is_dir() {
        return side.to_path_buf();
    }
    let rel = job
        .output
        .strip_prefix(output)
        .ok()
        .map(Path::to_path_buf)
        .or_else(|| job.output.file_name().map(PathBuf::from))
        .unwrap_or_default();
    side.join(rel)
}

/// How a batch treats its outputs.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// How each output is written.
    pub save: SaveOptions,
    /// Leave jobs whose output file exists alone. Outputs are written to a temporary name
    /// and renamed, so an existing one is complete: a batch killed half way, run again with
    /// this, does only what is left.
    pub skip_existing: bool,
}

/// What a batch did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Jobs whose output was written.
    pub done: usize,
    /// Jobs left alone because their output existed.
    pub skipped: usize,
    /// Jobs not started because the batch was stopped ([`Options`], `stop`).
    pub not_started: usize,
    /// The jobs that failed, one error each.
    pub errors: Vec<Error>,
    /// The inputs of the jobs that failed, in the order of `errors`.
    pub failed: Vec<PathBuf>,
    /// Bytes read from the inputs of the jobs done.
    pub bytes_in: u64,
    /// Bytes written to their outputs.
    pub bytes_out: u64,
    /// Seconds the batch took.
    pub seconds: f64,
}

/// Where a batch has got to, for a progress display.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// Jobs finished (done, skipped or failed).
    pub finished: usize,
    /// All the jobs.
    pub total: usize,
    /// Seconds since the batch began.
    pub elapsed_s: f64,
    /// Estimated seconds left, from the jobs actually processed so far.
    pub left_s: Option<f64>,
}

/// Runs `f` on every job (load, transform, save), collecting the failures. `stop` is asked
/// before each job (a Ctrl-C handler sets it): once true, the jobs left are not started, so
/// nothing is left half way. `progress` hears after each job.
pub fn run(
    jobs: &[Job],
    opts: &Options,
    stop: &dyn Fn() -> bool,
    progress: &mut dyn FnMut(Progress),
    mut f: impl FnMut(usize, &Image) -> Result<Image>,
) -> Outcome {
    run_writing(jobs, opts, stop, progress, |i, img, output, save| {
        f(i, img)?.save_with(output, save)
    })
}

/// As [`run`], for work that writes its output itself (`f(i, image, output path, save
/// options)`), as a restoration streams a large result to its file band by band.
pub fn run_writing(
    jobs: &[Job],
    opts: &Options,
    stop: &dyn Fn() -> bool,
    progress: &mut dyn FnMut(Progress),
    mut f: impl FnMut(usize, &Image, &Path, &SaveOptions) -> Result<()>,
) -> Outcome {
    let t0 = std::time::Instant::now();
    let mut out = Outcome::default();
    let mut worked = 0usize;
    for (i, job) in jobs.iter().enumerate() {
        if stop() {
            out.not_started = jobs.len() - i;
            break;
        }
        if opts.skip_existing && job.output.is_file() {
            out.skipped += 1;
        } else {
            let r = Image::load(&job.input).and_then(|img| f(i, &img, &job.output, &opts.save));
            let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
            match r {
                Ok(()) => {
                    out.done += 1;
                    out.bytes_in += size(&job.input);
                    out.bytes_out += size(&job.output);
                }
                Err(e) => {
                    out.errors.push(e);
                    out.failed.push(job.input.clone());
                }
            }
            worked += 1;
        }
        let elapsed_s = t0.elapsed().as_secs_f64();
        let left = jobs.len() - i - 1;
        progress(Progress {
            finished: i + 1,
            total: jobs.len(),
            elapsed_s,
            left_s: (worked > 0).then(|| elapsed_s / worked as f64 * left as f64),
        });
    }
    out.seconds = t0.elapsed().as_secs_f64();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `K/N` parses with K from 0; the environment of a Slurm array (offset by its first
    /// ID) and of a Kubernetes Indexed Job give the same shard; every key of a set is in
    /// exactly one shard, and a key's shard does not depend on the other keys.
    #[test]
    fn shards_parse_come_from_schedulers_and_cover_every_key_once() {
        assert_eq!(Shard::parse("2/7").unwrap(), Shard { index: 2, count: 7 });
        for bad in ["7/7", "1", "a/3", "1/0", "-1/3"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        }
        let slurm = [
            ("SLURM_ARRAY_TASK_ID", "12"),
            ("SLURM_ARRAY_TASK_MIN", "10"),
            ("SLURM_ARRAY_TASK_COUNT", "7"),
        ];
        let (s, line) = Shard::from_env(env(&slurm), None).unwrap().unwrap();
        assert_eq!(s, Shard { index: 2, count: 7 });
        assert!(line.contains("Slurm"), "{line}");
        let k8s = [("JOB_COMPLETION_INDEX", "2")];
        let (s, _) = Shard::from_env(env(&k8s), Some(7)).unwrap().unwrap();
        assert_eq!(s, Shard { index: 2, count: 7 });
        assert!(Shard::from_env(env(&k8s), None).is_err());
        assert!(Shard::from_env(env(&slurm), Some(3)).is_err());
        assert!(Shard::from_env(env(&[]), None).unwrap().is_none());

        let keys: Vec<String> = (0..1000)
            .map(|i| format!("roll{}/scan{i}.png", i % 9))
            .collect();
        for n in [1, 2, 3, 7, 16] {
            let shards: Vec<Shard> = (0..n).map(|k| Shard::new(k, n, "t").unwrap()).collect();
            let mut sizes = vec![0usize; n];
            for key in &keys {
                let owners: Vec<usize> = shards
                    .iter()
                    .filter(|s| s.owns(key))
                    .map(|s| s.index)
                    .collect();
                assert_eq!(owners.len(), 1, "{key}");
                sizes[owners[0]] += 1;
            }
            let even = 1000 / n;
            assert!(
                sizes
                    .iter()
                    .all(|&s| s * 10 >= even * 7 && s * 10 <= even * 13),
                "{sizes:?}"
            );
        }
        assert_eq!(
            shard_key(Path::new("/data/in/a/b.png"), Some(Path::new("/data/in"))),
            "a/b.png"
        );
    }

    fn jobs_in(dir: &Path, n: usize) -> Vec<Job> {
        (0..n)
            .map(|i| {
                let input = dir.join(format!("in{i}.png"));
                let mut img = Image::zeros(1, 4, 4);
                img.data[0] = i as f32 / 10.0;
                img.save(&input).unwrap();
                Job {
                    input,
                    output: dir.join(format!("out/in{i}.png")),
                }
            })
            .collect()
    }

    #[test]
    fn counts_skips_and_stops() {
        let dir = std::env::temp_dir().join(format!("regen-batch-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut jobs = jobs_in(&dir, 4);
        jobs[2].input = dir.join("missing.png");
        let mut seen = Vec::new();
        let o = run(
            &jobs,
            &Options::default(),
            &|| false,
            &mut |p| seen.push(p.finished),
            |_, img| Ok(img.clone()),
        );
        assert_eq!(
            (o.done, o.skipped, o.errors.len(), o.not_started),
            (3, 0, 1, 0)
        );
        assert_eq!(seen, [1, 2, 3, 4]);

        // Again with skip_existing: the three outputs are kept, the missing input fails again.
        let opts = Options {
            skip_existing: true,
            ..Options::default()
        };
        let mut calls = 0;
        let o = run(&jobs, &opts, &|| false, &mut |_| {}, |_, img| {
            calls += 1;
            Ok(img.clone())
        });
        assert_eq!((o.done, o.skipped, o.errors.len()), (0, 3, 1));
        assert_eq!(calls, 0);

        // Stopped before the third job: two done, two never started.
        let _ = std::fs::remove_dir_all(dir.join("out"));
        let started = std::cell::Cell::new(0);
        let o = run(
            &jobs,
            &Options::default(),
            &|| started.get() == 2,
            &mut |_| {},
            |_, img| {
                started.set(started.get() + 1);
                Ok(img.clone())
            },
        );
        assert_eq!((o.done, o.not_started, o.errors.len()), (2, 2, 0));
        assert!(!jobs[2].output.exists() && !jobs[3].output.exists());
        std::fs::remove_dir_all(&dir).ok();
    }
}
