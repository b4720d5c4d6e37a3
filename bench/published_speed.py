"""regen against PyTorch (spandrel's modules) and ncnn on the CPU: one forward pass of
RRDBNet x4 (23 blocks, 64 features: Real-ESRGAN x4plus) and Compact x4 (64 features, 16
and 32 convolutions: realesr-animevideov3 and realesr-general) on a 256x256 RGB image,
2 threads each, median of REPS passes after a warm-up, all in one run. ncnn runs the
published ncnn files where one exists (scripts/fetch-published.sh), with its default CPU
options (fp16 storage where the CPU has it) and in fp32.

Run from the repository root: python3 bench/published_speed.py (bench/.venv has torch,
spandrel and ncnn; restore_speed.py makes it).
"""

import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from restore_speed import PY, ensure_venv, idle_report  # noqa: E402

SIZE, REPS = 256, 5
NETS = [
    ("RRDBNet x4, 23 blocks", "esrgan", 23, "realesrgan-x4plus"),
    ("Compact x4, 16 convs", "compact", 16, "realesr-animevideov3-x4"),
    ("Compact x4, 32 convs", "compact", 32, None),
]

TWIN = r"""
import json, sys, time, torch
from spandrel.architectures.ESRGAN import ESRGAN
from spandrel.architectures.Compact import Compact
torch.set_num_threads(2)
arch, n, size, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
m = ESRGAN(in_nc=3, out_nc=3, num_filters=64, num_blocks=n, scale=4) if arch == "esrgan" \
    else Compact(num_in_ch=3, num_out_ch=3, num_feat=64, num_conv=n, upscale=4)
m.eval()
x = torch.rand(1, 3, size, size)
ts = []
with torch.no_grad():
    for i in range(reps + 1):
        t = time.perf_counter(); m(x); ts.append((time.perf_counter() - t) * 1e3)
ts = sorted(ts[1:])
print(json.dumps({"params": sum(p.numel() for p in m.parameters()), "forward_ms": ts[len(ts) // 2],
                  "torch": torch.__version__}))
"""

NCNN = r"""
import json, sys, time, numpy as np, ncnn
param, size, reps, fp32 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
net = ncnn.Net()
net.opt.use_vulkan_compute = False
net.opt.num_threads = 2
if fp32:
    for o in ["use_fp16_packed", "use_fp16_storage", "use_fp16_arithmetic", "use_bf16_storage"]:
        setattr(net.opt, o, False)
net.load_param(param + ".param"); net.load_model(param + ".bin")
# ncnn.Mat wraps the array's memory without a copy: the array must outlive it.
arr = np.ascontiguousarray(np.random.rand(3, size, size).astype(np.float32))
x = ncnn.Mat(arr)
ts = []
for i in range(reps + 1):
    t = time.perf_counter()
    ex = net.create_extractor(); ex.input("data", x); ret, out = ex.extract("output")
    assert ret == 0 and np.array(out).shape == (3, 4 * size, 4 * size)
    ts.append((time.perf_counter() - t) * 1e3)
ts = sorted(ts[1:])
print(json.dumps({"forward_ms": ts[len(ts) // 2], "ncnn": ncnn.__version__}))
"""


def run(cmd, env):
    return json.loads(subprocess.check_output(cmd, env=env, cwd=ROOT, text=True).strip().splitlines()[-1])


def main():
    ensure_venv()
    subprocess.check_call([PY, "-m", "pip", "install", "-q", "spandrel==0.4.1", "ncnn"])
    subprocess.check_call(["cargo", "build", "--release", "-q", "-p", "regen-bench"], cwd=ROOT)
    env = dict(os.environ, RAYON_NUM_THREADS="2", OMP_NUM_THREADS="2", MKL_NUM_THREADS="2")
    pub = os.environ.get("REGEN_PUBLISHED", os.path.join(ROOT, "target", "published"))
    print(idle_report())
    rows = []
    for label, arch, n, ncnn_model in NETS:
        args = [arch, str(n), str(SIZE), str(REPS)]
        r = run([os.path.join(ROOT, "target", "release", "regen-published-bench")] + args, env)
        t = run([PY, "-c", TWIN] + args, env)
        assert r["params"] == t["params"], (r, t)
        nc = {}
        path = os.path.join(pub, "ncnn", ncnn_model or "-")
        if ncnn_model and os.path.exists(path + ".bin"):
            for fp32 in ("0", "1"):
                try:
                    nc[fp32] = run([PY, "-c", NCNN, path, str(SIZE), str(REPS), fp32], env)["forward_ms"]
                except subprocess.CalledProcessError as e:
                    nc[fp32] = f"crashed ({e.returncode})"
                    print(f"ncnn {ncnn_model} fp32={fp32}: crashed with code {e.returncode}")
        rows.append((label, r, t, nc))
    print(f"torch {rows[0][2]['torch']}, 2 threads each, {SIZE}x{SIZE} RGB in, median of {REPS} forward passes")
    print("| network | params | regen ms | torch ms | regen/torch | ncnn ms (default / fp32) | regen/ncnn (default / fp32) |")
    print("|---|---|---|---|---|---|---|")
    for label, r, t, nc in rows:
        ms = lambda v: f"{v:.0f}" if isinstance(v, float) else v  # noqa: E731
        ra = lambda v: f"{r['forward_ms'] / v:.2f}x" if isinstance(v, float) else "-"  # noqa: E731
        ncnn_ms = f"{ms(nc['0'])} / {ms(nc['1'])}" if nc else "no ncnn file"
        ratio = f"{ra(nc['0'])} / {ra(nc['1'])}" if nc else "-"
        print(f"| {label} | {r['params']:,} | {r['forward_ms']:.0f} | {t['forward_ms']:.0f} "
              f"| {r['forward_ms'] / t['forward_ms']:.2f}x | {ncnn_ms} | {ratio} |")


if __name__ == "__main__":
    main()
