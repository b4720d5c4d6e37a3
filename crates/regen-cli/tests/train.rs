//! Training end to end: a few steps learn something, and a run killed with SIGKILL
//! resumes from its last checkpoint with no checkpoint ever half-written (issue 2).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;

fn small_run(out: &Path, steps: &str) -> Vec<String> {
    let data = fixtures().join("train");
    [
        "train",
        "restore",
        "--task",
        "denoise",
        "--data",
        data.to_str().unwrap(),
        "--arch",
        "encdec",
        "--width",
        "8",
        "--depth",
        "2",
        "--patch",
        "32",
        "--batch",
        "4",
        "--sigma",
        "0-50",
        "--steps",
        steps,
        "--epoch-steps",
        "20",
        "--checkpoint-every",
        "5",
        "--lr",
        "2e-3",
        "--out",
        out.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn metrics(out: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(out.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Every checkpoint folder with a final name must be complete and loadable.
fn check_checkpoints_complete(out: &Path) -> Vec<u64> {
    let mut steps = Vec::new();
    let Ok(rd) = std::fs::read_dir(out.join("checkpoints")) else {
        return steps;
    };
    for e in rd {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let Some(step) = name.strip_prefix("step-") else {
            continue;
        };
        // The folder may be pruned between listing and reading; that is not a torn write.
        let Ok(state) = std::fs::read_to_string(p.join("state.json")) else {
            assert!(!p.exists(), "{name} exists without state.json");
            continue;
        };
        let state: serde_json::Value = serde_json::from_str(&state).expect("state.json complete");
        assert_eq!(state["step"].as_u64(), step.parse().ok());
        for f in ["model.safetensors", "train-model.bpk", "optimizer.bpk"] {
            if !p.exists() {
                break;
            }
            assert!(p.join(f).exists(), "{name}/{f} missing");
        }
        if let Ok(r) = regen::restore::Restorer::load(p.join("model.safetensors").to_str().unwrap())
        {
            assert_eq!(r.card.step, step.parse::<u64>().unwrap());
        } else {
            assert!(!p.exists(), "{name}/model.safetensors unreadable");
        }
        steps.push(step.parse().unwrap());
    }
    steps
}

#[test]
fn a_few_steps_reduce_the_loss_and_write_the_run_folder() {
    let d = TempDir::new("train");
    let out = d.join("run");
    let o = regen().args(small_run(&out, "60")).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let m = metrics(&out);
    let losses: Vec<f64> = m.iter().filter_map(|r| r["loss"].as_f64()).collect();
    assert!(losses.len() >= 2);
    assert!(losses.last().unwrap() < &(0.8 * losses[0]), "{losses:?}");
    assert!(m.iter().any(|r| r["val_psnr"].as_f64().is_some()));
    for f in [
        "config.toml",
        "plot.png",
        "best.safetensors",
        "model.safetensors",
    ] {
        assert!(out.join(f).exists(), "{f}");
    }
    // The same folder without --resume is refused rather than overwritten.
    let o = regen().args(small_run(&out, "60")).output().unwrap();
    assert_user_error(&o, "already holds a training run");
}

#[test]
fn sigkill_mid_run_then_resume_continues_from_the_last_checkpoint() {
    let d = TempDir::new("kill");
    let out = d.join("run");
    let mut child = regen()
        .args(small_run(&out, "100000"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        let steps = check_checkpoints_complete(&out);
        if steps.iter().any(|&s| s >= 15) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "no checkpoint after 300 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    let steps = check_checkpoints_complete(&out);
    let last = *steps.iter().max().unwrap();
    assert!(last >= 15);

    let target = last + 10;
    let o = regen()
        .args(small_run(&out, &target.to_string()))
        .arg("--resume")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("resumed at step {last}")),
        "{}",
        stderr(&o)
    );
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary["resumed_from"].as_u64(), Some(last));
    assert_eq!(summary["step"].as_u64(), Some(target));
    let logged: Vec<u64> = metrics(&out)
        .iter()
        .filter_map(|r| r["step"].as_u64())
        .collect();
    assert!(
        logged.windows(2).all(|w| w[0] <= w[1]),
        "metrics out of order: {logged:?}"
    );
    assert_eq!(*logged.last().unwrap(), target);
    assert!(check_checkpoints_complete(&out).contains(&target));
    let leftovers: Vec<_> = std::fs::read_dir(out.join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn resume_without_a_checkpoint_starts_at_zero() {
    let d = TempDir::new("resume0");
    let out = d.join("run");
    let o = regen()
        .args(small_run(&out, "5"))
        .arg("--resume")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("starting at step 0"), "{}", stderr(&o));
}

#[test]
fn a_resumed_run_ends_where_an_uninterrupted_run_ends() {
    // With a constant schedule the learning rate does not depend on the total, so a run
    // stopped at step 10 and resumed to 20 must match a straight run of 20 steps, if the
    // checkpoint restores weights, optimizer moments and the random generator exactly.
    let d = TempDir::new("exact");
    let straight = d.join("straight");
    let split = d.join("split");
    let args = |out: &Path, steps: &str| {
        let mut a = small_run(out, steps);
        a.extend(["--schedule".into(), "constant".into()]);
        a
    };
    for (out, steps, resume) in [
        (&straight, "20", false),
        (&split, "10", false),
        (&split, "20", true),
    ] {
        let mut c = regen();
        c.args(args(out, steps));
        if resume {
            c.arg("--resume");
        }
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let photo = fixtures().join("photos/clean-256.png");
    let outs: Vec<Vec<u8>> = [&straight, &split]
        .iter()
        .map(|run| {
            let model = run.join("model.safetensors");
            let img = run.join("restored.png");
            let o = super_run(&model, &photo, &img);
            assert!(o.status.success(), "{}", stderr(&o));
            std::fs::read(img).unwrap()
        })
        .collect();
    assert_eq!(
        outs[0], outs[1],
        "resumed run diverged from the straight run"
    );
}

fn super_run(model: &Path, input: &Path, output: &Path) -> std::process::Output {
    run(&[
        "restore",
        "--model",
        model.to_str().unwrap(),
        input.to_str().unwrap(),
        "-o",
        output.to_str().unwrap(),
    ])
}
