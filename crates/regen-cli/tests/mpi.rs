//! Data-parallel training over MPI (`--features mpi`): 2 and 4 ranks under `mpirun
//! --oversubscribe` train a denoiser, a VAE and a GAN and end with the weights one process
//! gets with the same global batch; one rank under `mpirun` writes the same bytes as the
//! plain program; a run resumes on another rank count; a rank count the batch cannot feed
//! is one line and exit 2. Every multi-rank step also compares a checksum of the
//! parameters across the ranks inside regen (`dist::check_in_step`), so any of these runs
//! fails if the ranks ever disagree.
//!
//! Skipped, with the reason printed, where `mpirun` is not on the PATH.
#![cfg(feature = "mpi")]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use common::{TempDir, fixtures, run};

/// `mpirun` if it runs here.
fn mpirun_found() -> bool {
    let ok = Command::new("mpirun")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        println!("skipped: mpirun is not on the PATH (Debian: apt install openmpi-bin)");
    }
    ok
}

/// `regen args` on `n` ranks, each single-threaded as the tests' plain runs are
/// (`common::regen`): regen's kernels split their sums by thread count, so equal bytes
/// need equal threads. (Open MPI would also bind a lone rank to one core; `--bind-to
/// none` leaves that to the thread count.)
fn mpi(n: usize, args: &[&str]) -> Output {
    Command::new("mpirun")
        .args([
            "--oversubscribe",
            "--bind-to",
            "none",
            "-np",
            &n.to_string(),
        ])
        .arg(env!("CARGO_BIN_EXE_regen"))
        .args(args)
        .env("RAYON_NUM_THREADS", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .output()
        .expect("mpirun runs")
}

fn ok(o: &Output, what: &str) {
    assert!(
        o.status.success(),
        "{what}: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Every tensor of a safetensors file, by name, as f32.
fn tensors(path: &Path) -> BTreeMap<String, Vec<f32>> {
    let bytes = std::fs::read(path).expect("a model file");
    let st = safetensors::SafeTensors::deserialize(&bytes).expect("safetensors");
    st.tensors()
        .into_iter()
        .map(|(name, v)| {
            let f = v
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                .collect();
            (name, f)
        })
        .collect()
}

/// The largest relative difference, `|a - b| / |a|` in the Euclidean norm, of each tensor
/// `keep` accepts; fails on a tensor one file lacks.
fn worst(a: &Path, b: &Path, keep: impl Fn(&str) -> bool) -> (f64, String) {
    let (ta, tb) = (tensors(a), tensors(b));
    assert_eq!(
        ta.keys().collect::<Vec<_>>(),
        tb.keys().collect::<Vec<_>>(),
        "same tensors"
    );
    let mut w = (0.0f64, String::new());
    for (name, x) in &ta {
        if !keep(name) {
            continue;
        }
        let y = &tb[name];
        let d: f64 = x
            .iter()
            .zip(y)
            .map(|(p, q)| (f64::from(*p) - f64::from(*q)).powi(2))
            .sum::<f64>()
            .sqrt();
        let n: f64 = x.iter().map(|p| f64::from(*p).powi(2)).sum::<f64>().sqrt();
        let r = if n > 0.0 { d / n } else { d };
        if r > w.0 {
            w = (r, name.clone());
        }
    }
    w
}

/// Trains `args` on one process and on 2 and 4 ranks, and checks every tensor `keep`
/// accepts is within `tol` of the one-process run's (relative, per tensor).
fn ranks_equal_one_process(
    dir: &TempDir,
    args: &[&str],
    tol: f64,
    keep: impl Fn(&str) -> bool + Copy,
) {
    let one = dir.join("one");
    let o = run(&[args, &["--out", one.to_str().unwrap()]].concat());
    ok(&o, "one process");
    let plain_lines = String::from_utf8_lossy(&o.stdout).lines().count();
    for n in [2, 4] {
        let many = dir.join(&format!("ranks{n}"));
        let o = mpi(n, &[args, &["--out", many.to_str().unwrap()]].concat());
        ok(&o, &format!("{n} ranks"));
        let stdout = String::from_utf8_lossy(&o.stdout);
        let stderr = String::from_utf8_lossy(&o.stderr);
        // Rank 0 alone prints, and says how the batch is spread.
        assert!(
            stderr.contains(&format!("{n} ranks (MPI): --batch")),
            "{stderr}"
        );
        // What the one process prints on stdout, once.
        assert_eq!(stdout.lines().count(), plain_lines, "{stdout}");
        let (r, name) = worst(
            &one.join("model.safetensors"),
            &many.join("model.safetensors"),
            keep,
        );
        println!("{n} ranks: worst relative difference {r:.2e} ({name})");
        assert!(r <= tol, "{n} ranks: {name} differs by {r:.2e} relative");
    }
}

fn train_data() -> String {
    fixtures().join("train").to_string_lossy().into_owned()
}

fn mnist() -> String {
    fixtures()
        .join("mnist300/mnist300-images-idx3-ubyte.gz")
        .to_string_lossy()
        .into_owned()
}

const DENOISER: [&str; 15] = [
    "train",
    "restore",
    "--width",
    "8",
    "--depth",
    "2",
    "--patch",
    "32",
    "--batch",
    "8",
    "--steps",
    "12",
    "--epoch-steps",
    "6",
    "--data",
];

/// A denoiser (U-Net, L2, Adam) for 12 steps of a global batch of 8: within 1e-5.
#[test]
fn a_denoiser_on_2_and_4_ranks_equals_one_process() {
    if !mpirun_found() {
        return;
    }
    let dir = TempDir::new("mpi-restore");
    let data = train_data();
    ranks_equal_one_process(&dir, &[&DENOISER[..], &[&data]].concat(), 1e-5, |_| true);
}

/// A conditional VAE for one epoch of the 300-image set's 150 training images (3 steps of
/// 74, the last of 2, so on 4 ranks two have no sample in it): within 1e-5.
#[test]
fn a_vae_on_2_and_4_ranks_equals_one_process() {
    if !mpirun_found() {
        return;
    }
    let dir = TempDir::new("mpi-vae");
    let data = mnist();
    let args = [
        "train",
        "vae",
        "--data",
        &data,
        "--conditional",
        "--batch",
        "74",
        "--epochs",
        "1",
        "--width",
        "8",
        "--latent",
        "4",
    ];
    ranks_equal_one_process(&dir, &args, 1e-5, |_| true);
}

/// A GAN with batch norm in its generator (synchronised over the ranks), R1 and a moving
/// average, for one epoch (9 rounds of 32): every weight within 1e-5, except the biases
/// of the convolutions that feed a batch norm and the running means after them. Batch norm
/// subtracts the mean, so those biases' true gradient is zero and what they get is float
/// rounding, different in its last bits on one process and on several; Adam divides it by
/// its own size, so they drift apart by up to a learning rate per step (1e-4 of the weight
/// here, bounded by 1e-2), and change nothing the network computes in training.
#[test]
fn a_gan_on_2_and_4_ranks_equals_one_process() {
    if !mpirun_found() {
        return;
    }
    let dir = TempDir::new("mpi-gan");
    let data = mnist();
    let args = [
        "train",
        "gan",
        "--data",
        &data,
        "--batch",
        "32",
        "--epochs",
        "1",
        "--g-width",
        "8",
        "--d-width",
        "8",
        "--latent",
        "8",
        "--r1",
        "1",
        "--ema",
        "0.99",
    ];
    let before_norm =
        |n: &str| n.starts_with("ups.") && n.ends_with(".bias") || n.contains("running_mean");
    ranks_equal_one_process(&dir, &args, 1e-5, |n| !before_norm(n));
    let (r, name) = worst(
        &dir.join("one/model.safetensors"),
        &dir.join("ranks4/model.safetensors"),
        before_norm,
    );
    println!("biases before batch norm: worst relative difference {r:.2e} ({name})");
    assert!(r <= 1e-2, "{name}: {r:.2e}");
}

/// One rank under `mpirun` is the plain program: the same bytes. A 2-rank run resumed on
/// 4 ranks (the batch is global, so the rank count may change) ends where one process
/// does, and its checkpoint records 4 ranks; 16 ranks for a batch of 8 is one line and
/// exit 2.
#[test]
fn one_rank_is_the_plain_program_and_a_run_resumes_on_other_ranks() {
    if !mpirun_found() {
        return;
    }
    let dir = TempDir::new("mpi-resume");
    let data = train_data();
    let args = [&DENOISER[..], &[&data, "--checkpoint-every", "6"]].concat();
    let path = |d: &str| dir.join(d).to_string_lossy().into_owned();
    let out = |d: &str| vec!["--out".to_string(), path(d)];
    let with = |extra: &[String]| -> Vec<String> {
        args.iter()
            .map(|s| s.to_string())
            .chain(extra.iter().cloned())
            .collect()
    };
    let call = |n: usize, v: Vec<String>| -> Output {
        let a: Vec<&str> = v.iter().map(String::as_str).collect();
        if n == 0 { run(&a) } else { mpi(n, &a) }
    };
    ok(&call(0, with(&out("plain"))), "plain");
    ok(&call(1, with(&out("one-rank"))), "one rank");
    let a = std::fs::read(dir.join("plain/model.safetensors")).unwrap();
    let b = std::fs::read(dir.join("one-rank/model.safetensors")).unwrap();
    let first = a.iter().zip(&b).position(|(x, y)| x != y);
    assert!(
        a == b,
        "one rank under mpirun wrote other bytes (from byte {first:?}; tensors {:?})",
        worst(
            &dir.join("plain/model.safetensors"),
            &dir.join("one-rank/model.safetensors"),
            |_| true
        )
    );

    // Half the steps on 2 ranks, the rest on 4.
    let mut half = with(&out("moved"));
    let at = half.iter().position(|s| s == "12").unwrap();
    half[at] = "6".into();
    ok(&call(2, half), "2 ranks, 6 steps");
    let mut rest = with(&out("moved"));
    rest.push("--resume".into());
    let o = call(4, rest.clone());
    ok(&o, "resumed on 4 ranks");
    let state =
        std::fs::read_to_string(dir.join("moved/checkpoints/step-00000012/state.json")).unwrap();
    assert!(state.contains("\"ranks\": 4"), "{state}");
    let (r, name) = worst(
        &dir.join("plain/model.safetensors"),
        &dir.join("moved/model.safetensors"),
        |_| true,
    );
    assert!(r <= 1e-5, "resumed: {name} differs by {r:.2e}");

    // More ranks than samples in a step.
    let o = call(16, with(&out("wide")));
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].contains("--batch 8 is the global batch and cannot give each of 16 ranks"),
        "{stderr}"
    );
}
