//! File and folder batches for `regen restore` and `regen corrupt`: inputs are files or
//! one folder; outputs keep the input names. Bad files are reported and the rest go on.

use std::path::{Path, PathBuf};

use crate::data::{Image, is_image_path, list_images};
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

/// Runs `f` on every job (load, transform, save), collecting the failures.
pub fn run(jobs: &[Job], mut f: impl FnMut(usize, &Image) -> Result<Image>) -> Vec<Error> {
    let mut errors = Vec::new();
    for (i, job) in jobs.iter().enumerate() {
        let r = Image::load(&job.input)
            .and_then(|img| f(i, &img))
            .and_then(|out| out.save(&job.output));
        if let Err(e) = r {
            errors.push(e);
        }
    }
    errors
}
