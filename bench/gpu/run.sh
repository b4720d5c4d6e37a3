#!/usr/bin/env bash
# regen on a GPU machine (one NVIDIA H200, 16 cores, Vulkan through the NVIDIA driver), in
# one run of under 9 minutes:
#   1. the shipped denoiser's network (encdec w32 d3, batch 16 of 64x64): training steps per
#      second and a 512x512 restore, regen on wgpu against its PyTorch twin on CUDA, same run;
#   2. a denoiser trained for MINUTES minutes on the GPU (--resume: a second run continues),
#      checkpoint and metrics.jsonl under OUT/run.
#
# Usage, from the repository root: bash bench/gpu/run.sh [OUT] [MINUTES]
# It uses target/gpu/release/{regen,regen-bench} when they were built here and carried over
# (CARGO_TARGET_DIR=target/gpu cargo build --release --features gpu -p regen-cli -p regen-bench),
# else builds them. The twin needs python3 with a CUDA torch (bench/.venv, or the system's).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-${OUT:-/tmp/regen-gpu}}
MINUTES=${2:-4}
BIN=target/gpu/release
mkdir -p "$OUT"
exec > >(tee "$OUT/log.txt") 2>&1

if [ ! -x "$BIN/regen" ] || [ ! -x "$BIN/regen-bench" ]; then
  CARGO_TARGET_DIR=target/gpu cargo build --release --features gpu -p regen-cli -p regen-bench
fi
PY=python3
[ -x bench/.venv/bin/python ] && PY=bench/.venv/bin/python

echo "== machine"
nvidia-smi -L || true
(vulkaninfo --summary 2>/dev/null | grep -E "deviceName|driverName|apiVersion") || echo "vulkaninfo: not installed"
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" || true

echo "== 1. training step and 512x512 restore, same run"
ARGS="encdec 32 3 16 64 30 512 10"
REGEN_DEVICE=gpu "$BIN/regen-bench" $ARGS | tee "$OUT/regen-gpu.json"
"$PY" bench/torch_twin.py $ARGS cuda | tee "$OUT/torch-cuda.json" || echo '{}' > "$OUT/torch-cuda.json"
"$PY" - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
r = json.load(open(f"{out}/regen-gpu.json"))
t = json.load(open(f"{out}/torch-cuda.json"))
rows = [("training step (ms)", "train_step_ms"), ("512x512 restore (ms)", "restore_ms")]
lines = ["| shipped denoiser network | regen (wgpu) | PyTorch (CUDA) | regen / torch |", "|---|---|---|---|"]
for name, k in rows:
    a, b = r.get(k), t.get(k)
    ratio = f"{a / b:.2f}x" if a and b else "n/a"
    fmt = lambda v: f"{v:.2f}" if v else "n/a"
    lines.append(f"| {name} | {fmt(a)} | {fmt(b)} | {ratio} |")
open(f"{out}/table.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY

echo "== 2. a denoiser trained for $MINUTES minutes on the GPU"
DATA=../shared/data/denoise/train400
[ -d "$DATA" ] || DATA=crates/regen/tests/fixtures/train
timeout "${MINUTES}m" "$BIN/regen" --device gpu train restore --data "$DATA" \
  --steps 100000 --epoch-steps 500 --checkpoint-every 250 --out "$OUT/run" --resume || true
ls -la "$OUT/run" || true
tail -3 "$OUT/run/metrics.jsonl" || true
echo "done: $OUT"
