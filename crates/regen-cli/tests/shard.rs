//! Sharded batches: `regen restore --shard K/N` over a folder of 200 photos, for N = 1, 3
//! and 7, does each file in exactly one shard, and the shards' outputs together are the
//! unsharded run's, byte for byte; a Slurm job array's and a Kubernetes Indexed Job's
//! variables pick the same shards as `--shard`; `--json` ends with the counts; a retried
//! shard with `--skip-existing` redoes only what is missing; bad shard specs are one line
//! and exit 2.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{TempDir, assert_user_error, regen, run};

/// 200 small noisy images in nested folders (so relative paths matter).
fn make_inputs(dir: &Path) {
    for i in 0..200u32 {
        let sub = dir.join(format!("roll{}/day{}", i % 4, i % 3));
        std::fs::create_dir_all(&sub).unwrap();
        let img = image::GrayImage::from_fn(16, 16, |x, y| {
            image::Luma([((x * 13 + y * 7 + i * 31) % 251) as u8])
        });
        img.save(sub.join(format!("scan{i:03}.png"))).unwrap();
    }
}

/// Every file under `dir`, by its path relative to `dir`, with its bytes.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, d: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(
                    p.strip_prefix(root).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    if dir.exists() {
        walk(dir, dir, &mut out);
    }
    out
}

fn ok(o: &std::process::Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The JSON summary line's value for `key`.
fn count(stdout: &str, key: &str) -> u64 {
    let line = stdout.lines().last().expect("a summary line");
    let v: serde_json::Value = serde_json::from_str(line).expect("JSON");
    v[key].as_u64().unwrap_or_else(|| panic!("{key} in {line}"))
}

#[test]
fn shards_together_equal_one_run_and_the_schedulers_pick_the_same() {
    let dir = TempDir::new("shard");
    let input = dir.join("in");
    make_inputs(&input);
    let inp = input.to_str().unwrap();
    let whole = dir.join("whole");
    let stdout = ok(&run(&[
        "restore",
        inp,
        "-o",
        whole.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(count(&stdout, "done"), 200);
    assert!(count(&stdout, "bytes_in") > 0 && count(&stdout, "bytes_out") > 0);
    let want = files(&whole);
    assert_eq!(want.len(), 200);

    for n in [1usize, 3, 7] {
        let mut union = BTreeMap::new();
        let mut sizes = Vec::new();
        for k in 0..n {
            let out = dir.join(&format!("n{n}-k{k}"));
            let stdout = ok(&run(&[
                "restore",
                inp,
                "-o",
                out.to_str().unwrap(),
                "--shard",
                &format!("{k}/{n}"),
                "--json",
            ]));
            let got = files(&out);
            assert_eq!(count(&stdout, "done") as usize, got.len());
            sizes.push(got.len());
            for (p, b) in got {
                assert!(union.insert(p.clone(), b).is_none(), "{p:?} in two shards");
            }
        }
        println!("{n} shards: {sizes:?} files");
        assert!(union == want, "{n} shards together differ from one run");
        if n == 7 {
            // A hash spreads 200 files roughly evenly.
            assert!(sizes.iter().all(|&s| (15..=45).contains(&s)), "{sizes:?}");
        }
    }

    // The schedulers' variables give the same shards as --shard.
    let by_env = |vars: &[(&str, &str)], extra: &[&str], out: &str| {
        let mut c = regen();
        c.args(["restore", inp, "-o", dir.join(out).to_str().unwrap()])
            .args(extra);
        for (k, v) in vars {
            c.env(k, v);
        }
        let o = c.output().unwrap();
        ok(&o);
        (
            files(&dir.join(out)),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    // Slurm: --array=5-11 has IDs 5..11, MIN 5, COUNT 7; ID 7 is shard 2 of 7.
    let (slurm, said) = by_env(
        &[
            ("SLURM_ARRAY_TASK_ID", "7"),
            ("SLURM_ARRAY_TASK_MIN", "5"),
            ("SLURM_ARRAY_TASK_COUNT", "7"),
        ],
        &[],
        "slurm",
    );
    assert!(slurm == files(&dir.join("n7-k2")), "Slurm's shard 2 of 7");
    assert!(
        said.contains("shard 2 of 7 from the Slurm job array"),
        "{said}"
    );
    // Kubernetes: JOB_COMPLETION_INDEX 1 with --shards 3 is shard 1 of 3.
    let (k8s, said) = by_env(&[("JOB_COMPLETION_INDEX", "1")], &["--shards", "3"], "k8s");
    assert!(
        k8s == files(&dir.join("n3-k1")),
        "the Indexed Job's shard 1 of 3"
    );
    assert!(
        said.contains("shard 1 of 3 from the Kubernetes Indexed Job"),
        "{said}"
    );

    // A retried shard redoes only what is missing.
    let out = dir.join("n3-k0");
    let first = files(&out).keys().next().unwrap().clone();
    std::fs::remove_file(out.join(&first)).unwrap();
    let stdout = ok(&run(&[
        "restore",
        inp,
        "-o",
        out.to_str().unwrap(),
        "--shard",
        "0/3",
        "--skip-existing",
        "--json",
    ]));
    assert_eq!(count(&stdout, "done"), 1);
    assert_eq!(count(&stdout, "skipped") as usize, files(&out).len() - 1);
}

#[test]
fn bad_shards_are_one_line_each() {
    let dir = TempDir::new("shard-bad");
    let input = dir.join("in");
    make_inputs(&input);
    let inp = input.to_str().unwrap();
    let out = dir.join("out");
    let o = out.to_str().unwrap();
    for (spec, needle) in [
        (
            "3/3",
            "shard 3 of 3 does not exist (shards count from 0 to 2)",
        ),
        ("1-3", "--shard 1-3: use K/N"),
        ("0/0", "the shard count must be at least 1"),
    ] {
        let r = run(&["restore", inp, "-o", o, "--shard", spec]);
        assert_user_error(&r, needle);
    }
    let r = run(&["restore", inp, "-o", o, "--shards", "4"]);
    assert_user_error(&r, "--shards N needs JOB_COMPLETION_INDEX");
    let r = regen()
        .args(["restore", inp, "-o", o])
        .env("JOB_COMPLETION_INDEX", "2")
        .output()
        .unwrap();
    assert_user_error(&r, "give --shards N, the Job's completions");
}
