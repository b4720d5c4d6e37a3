#!/usr/bin/env python3
"""Times a training step and a 512x512 restore of regen's restoration networks against
their PyTorch twins, in one run, 2 threads each, and prints the ratios.

Run from the repository root:  python3 bench/restore_speed.py
It makes bench/.venv with torch from PyPI on first use, and builds regen-bench in release.
"""
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
VENV = os.path.join(HERE, ".venv")
PY = os.path.join(VENV, "bin", "python")

# (label, arch, width, depth, batch, patch): the shipped denoiser first.
NETS = [
    ("encdec w32 d3 (shipped denoise)", "encdec", 32, 3, 16, 64),
    ("dncnn w64 d17 (DnCNN-S size)", "dncnn", 64, 17, 16, 40),
    # The shipped upscalers' network and training batch (RGB, L1; restores of a 512x512 input).
    ("compact w64 d32 x2 (shipped upscale-x2, grown 2026-12-08)", "compact-x2", 64, 32, 16, 48),
    ("compact w64 d16 x4 (shipped upscale-x4)", "compact-x4", 64, 16, 16, 32),
]
STEPS, SIZE, REPS = 10, 512, 5


def ensure_venv():
    if not os.path.exists(PY):
        subprocess.check_call([sys.executable, "-m", "venv", VENV])
    if subprocess.call([PY, "-c", "import torch"], stderr=subprocess.DEVNULL) != 0:
        subprocess.check_call([PY, "-m", "pip", "install", "-q", "torch", "numpy"])


def idle_report(seconds=2.0):
    """How busy the CPU was over the last `seconds`, from /proc/stat: a busy core slows
    PyTorch's threads far more than regen's, so a ratio measured beside other work flatters
    regen."""

    def snap():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return v[3] + v[4], sum(v)

    i0, t0 = snap()
    time.sleep(seconds)
    i1, t1 = snap()
    busy = 1.0 - (i1 - i0) / max(1, t1 - t0)
    verdict = "idle" if busy < 0.1 else "NOT idle: the ratios below flatter regen"
    return f"CPU before timing: {100 * busy:.0f}% busy over {seconds:.0f} s ({verdict})"


def run(cmd, env):
    out = subprocess.check_output(cmd, env=env, cwd=ROOT, text=True)
    return json.loads(out.strip().splitlines()[-1])


def main():
    ensure_venv()
    subprocess.check_call(["cargo", "build", "--release", "-q", "-p", "regen-bench"], cwd=ROOT)
    env = dict(os.environ, RAYON_NUM_THREADS="2", OMP_NUM_THREADS="2", MKL_NUM_THREADS="2")
    print(idle_report())
    rows = []
    for label, arch, w, d, b, p in NETS:
        args = [arch, str(w), str(d), str(b), str(p), str(STEPS), str(SIZE), str(REPS)]
        r = run([os.path.join(ROOT, "target", "release", "regen-bench")] + args, env)
        t = run([PY, os.path.join(HERE, "torch_twin.py")] + args, env)
        assert r["params"] == t["params"], (r, t)
        rows.append((label, b, p, r, t))
    print(f"torch {rows[0][4]['torch']}, 2 threads each, median of {STEPS} steps / {REPS} passes")
    print(f"| network | params | batch x patch | step regen ms | step torch ms | regen/torch | 512x512 regen ms | 512x512 torch ms | regen/torch |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, b, p, r, t in rows:
        print(
            f"| {label} | {r['params']:,} | {b} x {p}x{p} | {r['train_step_ms']:.0f} | {t['train_step_ms']:.0f} "
            f"| {r['train_step_ms'] / t['train_step_ms']:.2f}x | {r['restore_ms']:.0f} | {t['restore_ms']:.0f} "
            f"| {r['restore_ms'] / t['restore_ms']:.2f}x |"
        )
    print()
    print("Memory of a training step (MiB): resident before the network is built, peak after the")
    print("training steps, and the difference (what the steps themselves took)")
    print("| network | regen base / peak / step | torch base / peak / step |")
    print("|---|---|---|")
    for label, b, p, r, t in rows:
        print(
            f"| {label} | {r['base_mb']:.0f} / {r['train_peak_mb']:.0f} / {r['train_peak_mb'] - r['base_mb']:.0f} "
            f"| {t['base_mb']:.0f} / {t['train_peak_mb']:.0f} / {t['train_peak_mb'] - t['base_mb']:.0f} |"
        )
    print()
    print("Where a training step's time goes (ms, medians of each part, regen / torch):")
    print("| network | forward | backward | optimizer |")
    print("|---|---|---|---|")
    for label, b, p, r, t in rows:
        ro, to = r["optimizer_ms"], t["optimizer_ms"]
        print(
            f"| {label} | {r['forward_ms']:.0f} / {t['forward_ms']:.0f} | "
            f"{r['backward_ms']:.0f} / {t['backward_ms']:.0f} | {ro:.0f} / {to:.0f} |"
        )


if __name__ == "__main__":
    main()
