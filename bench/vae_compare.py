#!/usr/bin/env python3
"""Trains regen's default VAE and its PyTorch twin the same way on Fashion-MNIST in one run
(2 threads each) and prints test -ELBO and training speed side by side.

Run from the repository root:  python3 bench/vae_compare.py [EPOCHS]
Needs ../shared/data/fashion-mnist; makes bench/.venv with torch on first use.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from restore_speed import PY, ensure_venv  # noqa: E402

DATA = os.path.join(ROOT, "..", "shared", "data", "fashion-mnist")
TRAIN = os.path.join(DATA, "train-images-idx3-ubyte.gz")
TEST = os.path.join(DATA, "t10k-images-idx3-ubyte.gz")


def main():
    epochs = sys.argv[1] if len(sys.argv) > 1 else "5"
    ensure_venv()
    subprocess.check_call(["cargo", "build", "--release", "-q", "-p", "regen-cli"], cwd=ROOT)
    regen = os.path.join(ROOT, "target", "release", "regen")
    with tempfile.TemporaryDirectory() as tmp:
        run = os.path.join(tmp, "vae")
        train = subprocess.run([regen, "--threads", "2", "train", "vae", "--data", TRAIN,
                                "--epochs", epochs, "--batch", "128", "--out", run],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               check=True)
        params = int(re.search(r"(\d+) parameters", train.stderr).group(1))
        metrics = [json.loads(l) for l in open(os.path.join(run, "metrics.jsonl"))]
        secs = max(m.get("elapsed_s", 0) for m in metrics)
        steps = max(m["step"] for m in metrics)
        out = subprocess.check_output([regen, "--threads", "2", "eval", "vae", "--model",
                                       os.path.join(run, "model.safetensors"), "--data", TEST,
                                       "--k", "1", "--json"], text=True)
        r = json.loads(out)
    t = json.loads(subprocess.check_output([PY, os.path.join(HERE, "vae_twin.py"), TRAIN, TEST,
                                            epochs, "2"], text=True).strip().splitlines()[-1])
    assert params == t["params"], (params, t["params"])
    r_ips = steps * 128 / secs
    print(f"Fashion-MNIST, {epochs} epochs, batch 128, 2 threads each; test split, nats per image")
    print("| | test -ELBO | reconstruction | KL | train images/s | train seconds |")
    print("|---|---|---|---|---|---|")
    print(f"| regen | {r['nelbo']:.2f} | {r['recon']:.2f} | {r['kl']:.2f} | {r_ips:.0f} | {secs:.0f} |")
    print(f"| PyTorch {t['torch']} | {t['nelbo']:.2f} | {t['recon']:.2f} | {t['kl']:.2f} | "
          f"{t['images_per_second']:.0f} | {t['train_seconds']:.0f} |")
    print(f"regen - torch: {r['nelbo'] - t['nelbo']:+.2f} nats; speed regen/torch: "
          f"{r_ips / t['images_per_second']:.2f}x")


if __name__ == "__main__":
    main()
