//! Training run folders as someone watching them sees them: which runs a folder holds, each
//! one's config, metrics and sample grids. `regen serve`'s runs page reads them through
//! here, so a run name from a web request can never reach outside the runs folder.

use std::path::{Component, Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::Serialize;
use serde_json::Value;

use crate::checkpoint::read_card_file;
use crate::error::{Error, Result};
use crate::models::Family;

/// One run folder at a glance.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunInfo {
    /// The folder's name under the runs folder.
    pub name: String,
    /// The family that trains in it: read from its newest model file's card, or (before
    /// the first checkpoint) told from its metrics; `None` before the first record.
    pub kind: Option<Family>,
    /// The step of the newest metrics record.
    pub last_step: Option<u64>,
    /// Metrics records so far.
    pub records: usize,
    /// When `metrics.jsonl` (or else the folder) last changed, in seconds since 1970: a
    /// page polls this to see that a run moved on.
    pub modified: f64,
}

/// Everything a run folder shows.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Run {
    /// The summary.
    #[serde(flatten)]
    pub info: RunInfo,
    /// `config.toml`, as written.
    pub config: Option<String>,
    /// Every record of `metrics.jsonl`, in order.
    pub metrics: Vec<Value>,
    /// The run's pictures (sample grids, reconstructions, the loss plot), as paths under
    /// the run folder with `/` between parts: the top-level PNGs, then `samples/`'s by name
    /// (one per epoch for a GAN).
    pub images: Vec<String>,
}

/// The runs under `root`: its subfolders that hold `metrics.jsonl` or `config.toml`,
/// newest change first.
pub fn list(root: &Path) -> Result<Vec<RunInfo>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(root).map_err(|e| Error::io(root, e))? {
        let e = e.map_err(|e| Error::io(root, e))?;
        let Some(name) = e.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if let Ok(dir) = resolve(root, &name) {
            out.push(info(&dir, name, &read_metrics(&dir)));
        }
    }
    out.sort_by(|a, b| b.modified.total_cmp(&a.modified).then(a.name.cmp(&b.name)));
    Ok(out)
}

/// The run `name` under `root`. A name that is not one plain folder name (a path, `..`, a
/// hidden name) is refused, as is one that leads out of `root` through a link.
pub fn read(root: &Path, name: &str) -> Result<Run> {
    let dir = resolve(root, name)?;
    let metrics = read_metrics(&dir);
    let config = std::fs::read_to_string(dir.join("config.toml")).ok();
    let mut images = pngs(&dir, "");
    images.extend(pngs(&dir.join("samples"), "samples/"));
    Ok(Run {
        info: info(&dir, name.to_string(), &metrics),
        config,
        metrics,
        images,
    })
}

/// The bytes of picture `image` of run `name`: only one that [`read`] lists.
pub fn image(root: &Path, name: &str, image: &str) -> Result<Vec<u8>> {
    let run = read(root, name)?;
    if !run.images.iter().any(|i| i == image) {
        return Err(not_found(&root.join(name).join(image)));
    }
    let path = resolve(root, name)?.join(image);
    std::fs::read(&path).map_err(|e| Error::io(&path, e))
}

fn not_found(path: &Path) -> Error {
    Error::io(path, std::io::Error::from(std::io::ErrorKind::NotFound))
}

/// One plain, visible folder name.
fn valid_name(name: &str) -> bool {
    let mut parts = Path::new(name).components();
    matches!(parts.next(), Some(Component::Normal(_)))
        && parts.next().is_none()
        && !name.starts_with('.')
        && !name.contains(['/', '\\'])
}

fn is_run(dir: &Path) -> bool {
    dir.is_dir() && (dir.join("metrics.jsonl").is_file() || dir.join("config.toml").is_file())
}

/// The folder of run `name`, checked to be a run inside `root`.
fn resolve(root: &Path, name: &str) -> Result<PathBuf> {
    if !valid_name(name) {
        return Err(Error::arg(format!(
            "run {name:?}: not a run name (one folder name under the runs folder)"
        )));
    }
    let dir = root.join(name);
    let inside = match (dir.canonicalize(), root.canonicalize()) {
        (Ok(d), Ok(r)) => d.parent() == Some(r.as_path()),
        _ => false,
    };
    if !inside || !is_run(&dir) {
        return Err(not_found(&dir));
    }
    Ok(dir)
}

fn read_metrics(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn info(dir: &Path, name: String, metrics: &[Value]) -> RunInfo {
    let kind = card_family(dir).or_else(|| metrics_family(metrics));
    let modified = [dir.join("metrics.jsonl"), dir.to_path_buf()]
        .iter()
        .find_map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0.0, |d| d.as_secs_f64());
    RunInfo {
        name,
        kind,
        last_step: metrics
            .iter()
            .rev()
            .find_map(|r| r.get("step").and_then(Value::as_u64)),
        records: metrics.len(),
        modified,
    }
}

/// The family of the run's model: the card of `model.safetensors`, `best.safetensors` or
/// the newest checkpoint's model, whichever is found first.
fn card_family(dir: &Path) -> Option<Family> {
    let newest = std::fs::read_dir(dir.join("checkpoints"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .max()
        .map(|p| p.join("model.safetensors"));
    [dir.join("model.safetensors"), dir.join("best.safetensors")]
        .into_iter()
        .chain(newest)
        .find_map(|p| read_card_file(&p).ok().map(|c| c.family()))
}

/// The family whose trainer writes `metrics`' keys, for a run with no model file yet.
fn metrics_family(metrics: &[Value]) -> Option<Family> {
    let has = |key: &str| metrics.iter().any(|r| r.get(key).is_some());
    if has("d_loss") {
        Some(Family::Gan)
    } else if has("val_nelbo") || has("kl") {
        Some(Family::Vae)
    } else if has("val_psnr") || has("loss") {
        Some(Family::Restore)
    } else {
        None
    }
}

/// The PNG files directly in `dir`, by name, each prefixed with `prefix`.
fn pngs(dir: &Path, prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_file())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| n.ends_with(".png") && valid_name(n))
        .collect();
    names.sort();
    names.into_iter().map(|n| format!("{prefix}{n}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch folder removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn fixture() -> (Scratch, PathBuf) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let tmp = Scratch(std::env::temp_dir().join(format!(
            "regen-runs-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        )));
        let root = tmp.path().join("runs");
        let gan = root.join("gan-a");
        std::fs::create_dir_all(gan.join("samples")).unwrap();
        std::fs::write(gan.join("config.toml"), "epochs = 2\n").unwrap();
        std::fs::write(
            gan.join("metrics.jsonl"),
            "{\"step\":10,\"d_loss\":1.2}\n{\"step\":20,\"d_loss\":1.1}\n",
        )
        .unwrap();
        std::fs::write(gan.join("samples.png"), b"png").unwrap();
        std::fs::write(gan.join("samples/epoch-0002.png"), b"2").unwrap();
        std::fs::write(gan.join("samples/epoch-0001.png"), b"1").unwrap();
        std::fs::write(gan.join("notes.txt"), b"not listed").unwrap();
        std::fs::create_dir_all(root.join("not-a-run")).unwrap();
        std::fs::write(tmp.path().join("secret.png"), b"outside").unwrap();
        (tmp, root)
    }

    #[test]
    fn lists_runs_and_reads_one() {
        let (_tmp, root) = fixture();
        let runs = list(&root).unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].name, "gan-a");
        assert_eq!(runs[0].kind, Some(Family::Gan));
        assert_eq!(runs[0].last_step, Some(20));
        let run = read(&root, "gan-a").unwrap();
        assert_eq!(run.config.as_deref(), Some("epochs = 2\n"));
        assert_eq!(run.metrics.len(), 2);
        assert_eq!(
            run.images,
            [
                "samples.png",
                "samples/epoch-0001.png",
                "samples/epoch-0002.png"
            ]
        );
        assert_eq!(
            image(&root, "gan-a", "samples/epoch-0002.png").unwrap(),
            b"2"
        );
    }

    /// A run's model card says its family, whatever its metrics would suggest: a folder
    /// whose only record has a `loss` (as a restorer's would) but whose checkpoint holds a
    /// VAE is a VAE run.
    #[test]
    fn the_model_card_tells_the_family() {
        let (_tmp, root) = fixture();
        let run = root.join("vae-b");
        std::fs::create_dir_all(run.join("checkpoints/step-00000007")).unwrap();
        std::fs::write(run.join("metrics.jsonl"), "{\"step\":7,\"loss\":0.5}\n").unwrap();
        assert_eq!(
            info(&run, "vae-b".into(), &read_metrics(&run)).kind,
            Some(Family::Restore)
        );
        let vae = crate::shipped::find("vae-fashion").unwrap().bytes;
        std::fs::write(run.join("checkpoints/step-00000007/model.safetensors"), vae).unwrap();
        assert_eq!(
            info(&run, "vae-b".into(), &read_metrics(&run)).kind,
            Some(Family::Vae)
        );
    }

    #[test]
    fn names_cannot_leave_the_runs_folder() {
        let (_tmp, root) = fixture();
        for name in [
            "..",
            "../runs/gan-a",
            "/etc",
            ".hidden",
            "gan-a/..",
            "a\\b",
            "",
        ] {
            assert!(read(&root, name).is_err(), "{name}");
        }
        assert!(read(&root, "not-a-run").is_err());
        for img in [
            "../secret.png",
            "../../secret.png",
            "notes.txt",
            "/etc/passwd",
        ] {
            assert!(image(&root, "gan-a", img).is_err(), "{img}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_link_out_of_the_runs_folder_is_refused() {
        let (tmp, root) = fixture();
        let outside = tmp.path().join("elsewhere");
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("metrics.jsonl"), "{\"step\":1}\n").unwrap();
        std::os::unix::fs::symlink(&outside, root.join("linked")).unwrap();
        assert!(read(&root, "linked").is_err());
        assert!(list(&root).unwrap().iter().all(|r| r.name != "linked"));
    }
}
