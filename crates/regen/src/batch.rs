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

/// Plans a batch. One file in: `output` is the output file (or, if it is an existing
/// folder, the file goes into it). One folder in: every image below it goes to the same
/// relative path under `output`. Several files in: `output` is a folder.
/// Returns the jobs and the inputs that cannot be processed (missing, not an image).
pub fn plan(inputs: &[PathBuf], output: &Path) -> Result<(Vec<Job>, Vec<Error>)> {
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
        if p.is_dir() {
            bad.push(Error::arg(format!(
                "{}: a folder can only be given on its own",
                p.display()
            )));
        } else if !p.exists() {
            bad.push(Error::io(
                p,
                std::io::Error::from(std::io::ErrorKind::NotFound),
            ));
        } else if !is_image_path(p) {
            bad.push(Error::bad_file(
                p,
                "not an image file name (.png, .jpg, .bmp, .tif)",
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
            match r {
                Ok(()) => out.done += 1,
                Err(e) => out.errors.push(e),
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
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
