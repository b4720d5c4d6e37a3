#!/usr/bin/env python3
"""Trains regen's default GAN (the seed's DCGAN size) and its PyTorch twin the same way on
Fashion-MNIST in one run (2 threads each), draws 10,000 samples from each, scores both with
`regen eval generate` against the training images, and prints the table and the speed.

Run from the repository root:  python3 bench/gan_compare.py [EPOCHS] [SEEDS]
(SEEDS: comma-separated, default 0,1,2; each seed trains both once.)
Needs ../shared/data/fashion-mnist; makes bench/.venv with torch on first use.
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from restore_speed import PY, ensure_venv  # noqa: E402

TRAIN = os.path.join(ROOT, "..", "shared", "data", "fashion-mnist", "train-images-idx3-ubyte.gz")
N = 10_000


def score(regen, samples):
    out = subprocess.check_output([regen, "--threads", "2", "eval", "generate", "--data", TRAIN,
                                   "--samples", samples, "-n", str(N), "--json"], text=True)
    return json.loads(out)


def main():
    epochs = sys.argv[1] if len(sys.argv) > 1 else "3"
    seeds = [int(v) for v in (sys.argv[2] if len(sys.argv) > 2 else "0,1,2").split(",")]
    ensure_venv()
    subprocess.check_call(["cargo", "build", "--release", "-q", "-p", "regen-cli"], cwd=ROOT)
    regen = os.path.join(ROOT, "target", "release", "regen")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            run = os.path.join(tmp, f"gan{seed}")
            out = subprocess.check_output([regen, "--threads", "2", "train", "gan", "--data", TRAIN,
                                           "--epochs", epochs, "--batch", "64", "--seed", str(seed),
                                           "--quiet", "--out", run], text=True)
            summary = json.loads(out.strip().splitlines()[-1])
            samples = os.path.join(tmp, f"regen{seed}")
            subprocess.check_call([regen, "generate", "--model",
                                   os.path.join(run, "model.safetensors"), "-n", str(N),
                                   "--seed", str(seed), "-o", samples],
                                  stdout=subprocess.DEVNULL)
            rows.append(("regen", seed, 1.0 / summary["s_per_step"], score(regen, samples)))
            idx = os.path.join(tmp, f"torch{seed}.idx")
            t = json.loads(subprocess.check_output(
                [PY, os.path.join(HERE, "gan_twin.py"), TRAIN, epochs, "2", str(seed), str(N), idx],
                text=True).strip().splitlines()[-1])
            rows.append((f"PyTorch {t['torch']}", seed, t["steps_per_second"], score(regen, idx)))
    print(f"Fashion-MNIST, DCGAN (seed size), {epochs} epochs, batch 64, 2 threads each; "
          f"{N} samples scored by `regen eval generate` against the training images")
    print("| | seed | Frechet | KID x1000 | precision | recall | smallest class share | steps/s |")
    print("|---|---|---|---|---|---|---|---|")
    for name, seed, sps, r in rows:
        print(f"| {name} | {seed} | {r['frechet']:.2f} | {r['kid_x1000'][0]:.0f} +- "
              f"{r['kid_x1000'][1]:.0f} | {r['precision']:.3f} | {r['recall']:.3f} | "
              f"{100 * min(r['class_shares']):.1f}% | {sps:.2f} |")
    for i, seed in enumerate(seeds):
        (_, _, rs, rr), (_, _, ts, tr) = rows[2 * i], rows[2 * i + 1]
        print(f"seed {seed}: Frechet regen - torch {rr['frechet'] - tr['frechet']:+.2f}; "
              f"speed regen/torch {rs / ts:.2f}x")

    def mean(name):
        return sum(r["frechet"] for n, _, _, r in rows if n.startswith(name)) / len(seeds)

    print(f"mean Frechet over {len(seeds)} seeds: regen {mean('regen'):.2f}, "
          f"torch {mean('PyTorch'):.2f}")


if __name__ == "__main__":
    main()
