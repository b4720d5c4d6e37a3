#!/usr/bin/env python3
"""Times each convolution shape of the shipped denoiser (batch 16 of 64x64), of DnCNN-S
(batch 16 of 40x40), of the GAN (batch 64) and of the VAE (batch 128) in regen's engine and in PyTorch, same run, 2 threads each, and prints
a table: forward and backward ms, and achieved GFLOP/s against the two cores' f32 peak.

Run from the repository root:  python3 bench/conv_shapes.py [REPS]
Uses bench/.venv (made by restore_speed.py) and builds regen-conv-bench in release.
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PY = os.path.join(HERE, ".venv", "bin", "python")
sys.path.insert(0, HERE)
from restore_speed import ensure_venv, idle_report  # noqa: E402

# (layer, n, c, h, w, k, ks, stride, pad, transposed)
SHAPES = [
    ("denoise head.0", 16, 1, 64, 64, 32, 3, 1, 1, 0),
    ("denoise head.1, dec0.1", 16, 32, 64, 64, 32, 3, 1, 1, 0),
    ("denoise dec0.0", 16, 64, 64, 64, 32, 3, 1, 1, 0),
    ("denoise enc0, dec1.1", 16, 64, 32, 32, 64, 3, 1, 1, 0),
    ("denoise dec1.0", 16, 128, 32, 32, 64, 3, 1, 1, 0),
    ("denoise enc1, dec2.1", 16, 128, 16, 16, 128, 3, 1, 1, 0),
    ("denoise dec2.0", 16, 256, 16, 16, 128, 3, 1, 1, 0),
    ("denoise enc2", 16, 256, 8, 8, 256, 3, 1, 1, 0),
    ("denoise tail", 16, 32, 64, 64, 1, 3, 1, 1, 0),
    ("denoise down0 (s2)", 16, 32, 64, 64, 64, 3, 2, 1, 0),
    ("denoise down1 (s2)", 16, 64, 32, 32, 128, 3, 2, 1, 0),
    ("denoise down2 (s2)", 16, 128, 16, 16, 256, 3, 2, 1, 0),
    ("denoise up2 (2x2 T)", 16, 256, 8, 8, 128, 2, 2, 0, 1),
    ("denoise up1 (2x2 T)", 16, 128, 16, 16, 64, 2, 2, 0, 1),
    ("denoise up0 (2x2 T)", 16, 64, 32, 32, 32, 2, 2, 0, 1),
    ("dncnn body", 16, 64, 40, 40, 64, 3, 1, 1, 0),
    ("dncnn head", 16, 1, 40, 40, 64, 3, 1, 1, 0),
    # The GAN (batch 64) and the VAE (batch 128) as they train on Fashion-MNIST.
    ("gan G up0 (4x4 T)", 64, 128, 7, 7, 64, 4, 2, 1, 1),
    ("gan G up1 (4x4 T)", 64, 64, 14, 14, 1, 4, 2, 1, 1),
    ("gan D conv0", 64, 1, 28, 28, 64, 4, 2, 1, 0),
    ("gan D conv1", 64, 64, 14, 14, 128, 4, 2, 1, 0),
    ("vae enc0 (s2)", 128, 1, 28, 28, 32, 3, 2, 1, 0),
    ("vae enc1 (s2)", 128, 32, 14, 14, 64, 3, 2, 1, 0),
    ("vae dec0 (4x4 T)", 128, 64, 7, 7, 32, 4, 2, 1, 1),
    ("vae dec1 (4x4 T)", 128, 32, 14, 14, 1, 4, 2, 1, 1),
]

TORCH = r"""
import json, sys, time, torch
torch.set_num_threads(2)
reps = int(sys.argv[1])
for spec in sys.argv[2:]:
    n, c, h, w, k, ks, s, p, t = map(int, spec.split(','))
    x = torch.rand(n, c, h, w, requires_grad=True)
    if t:
        wt = torch.rand(c, k, ks, ks, requires_grad=True)
        f = lambda: torch.nn.functional.conv_transpose2d(x, wt, b, stride=s, padding=p)
    else:
        wt = torch.rand(k, c, ks, ks, requires_grad=True)
        f = lambda: torch.nn.functional.conv2d(x, wt, b, stride=s, padding=p)
    b = torch.rand(k, requires_grad=True)
    g = torch.rand_like(f())
    fwd, bwd = [], []
    for i in range(reps + 1):
        t0 = time.perf_counter()
        y = f()
        t1 = time.perf_counter()
        x.grad = wt.grad = b.grad = None
        (y * g).sum().backward()
        t2 = time.perf_counter()
        if i:
            fwd.append(t1 - t0); bwd.append(t2 - t1)
    med = lambda v: sorted(v)[len(v) // 2]
    print(json.dumps({"spec": spec, "forward_ms": 1000 * med(fwd), "backward_ms": 1000 * med(bwd)}))
"""


def peak_gflops():
    """f32 multiply-add peak of the two cores, measured on registers alone
    (`regen-fma-peak`, bench/src/bin/fma_peak.rs): the clock /proc/cpuinfo reports is not
    the boost clock, and the vector width is the CPU's own (this EPYC runs 512-bit
    multiply-adds at full width)."""
    exe = os.path.join(ROOT, "target", "release", "regen-fma-peak")
    r = json.loads(subprocess.check_output([exe, "2"], text=True))
    return r["all_threads_gflops"], r


def main():
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    ensure_venv()
    subprocess.check_call(["cargo", "build", "--release", "-q", "-p", "regen-bench"], cwd=ROOT)
    env = dict(os.environ, RAYON_NUM_THREADS="2", OMP_NUM_THREADS="2", MKL_NUM_THREADS="2")
    specs = [",".join(map(str, s[1:])) for s in SHAPES]
    print(idle_report())
    exe = os.path.join(ROOT, "target", "release", "regen-conv-bench")
    r = [json.loads(l) for l in subprocess.check_output([exe, str(reps)] + specs, env=env, text=True).splitlines()]
    t = [json.loads(l) for l in subprocess.check_output([PY, "-c", TORCH, str(reps)] + specs, env=env, text=True).splitlines()]
    peak, probe = peak_gflops()
    print(f"2 threads each, median of {reps}; peak = {peak:.0f} GFLOP/s (two threads of "
          f"{probe['isa']} multiply-adds on registers, `regen-fma-peak`; one alone: "
          f"{probe['one_thread_gflops']:.0f})")
    print("| layer | shape n,c,h,w -> k (kernel, stride) | GFLOP fwd | fwd ms regen / torch | bwd ms regen / torch | regen/torch (fwd+bwd) | GFLOP/s regen / torch | % of peak regen / torch |")
    print("|---|---|---|---|---|---|---|---|")
    for s, a, b in zip(SHAPES, r, t):
        name, n, c, h, w, k, ks, st, p, tr = s
        # A convolution's multiply-adds: output pixels x output channels x taps x input
        # channels; the transposed one has its input and output swapped. The backward pass
        # costs twice the forward (input and weight gradients).
        if tr:
            macs = n * h * w * c * k * ks * ks
        else:
            oh, ow = (h + 2 * p - ks) // st + 1, (w + 2 * p - ks) // st + 1
            macs = n * oh * ow * k * c * ks * ks
        gf = 2 * macs / 1e9
        tot_r = a["forward_ms"] + a["backward_ms"]
        tot_t = b["forward_ms"] + b["backward_ms"]
        rate_r, rate_t = 3 * gf / tot_r * 1e3, 3 * gf / tot_t * 1e3
        kind = f"{ks}x{ks} s{st}" + (" T" if tr else "")
        print(
            f"| {name} | {n},{c},{h},{w} -> {k} ({kind}) | {gf:.2f} | {a['forward_ms']:.1f} / {b['forward_ms']:.1f} "
            f"| {a['backward_ms']:.1f} / {b['backward_ms']:.1f} | {tot_r / tot_t:.2f}x | {rate_r:.0f} / {rate_t:.0f} "
            f"| {100 * rate_r / peak:.0f}% / {100 * rate_t / peak:.0f}% |"
        )


if __name__ == "__main__":
    main()
