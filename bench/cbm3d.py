"""Colour BM3D (the `bm3d` package from PyPI, `bm3d_rgb`) on exactly the inputs that
`regen eval restore` scores, so regen's colour table has the classical anchor beside it.

The noisy inputs are written by `regen corrupt --task denoise --sigma S --seed SEED` on the
whole folder: image i (in sorted name order) gets seed SEED + i, Gaussian noise added to
the float image, clipped and rounded to 8 bits, exactly as `regen eval restore --seed SEED`
makes them. BM3D is told the true sigma (as published CBM3D tables are). PSNR is over all
three channels together (mean squared error over every value, peak 1), and SSIM is the mean
over the channels of scikit-image's gray SSIM with regen's settings (Gaussian window of
sigma 1.5, K1 0.01, K2 0.03), as `regen eval restore` computes them.

Usage: python3 bench/cbm3d.py REGEN_BINARY CLEAN_DIR SIGMA [SEED] [--json OUT]
Needs: pip install bm3d scikit-image pillow numpy
"""
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from bm3d import bm3d_rgb
from PIL import Image
from skimage.metrics import structural_similarity


def load(path):
    return np.asarray(Image.open(path).convert("RGB"), np.float64) / 255.0


def psnr(a, b):
    return 10 * np.log10(1.0 / np.mean((a - b) ** 2))


def ssim(a, b):
    return np.mean([
        structural_similarity(a[..., c], b[..., c], data_range=1.0, gaussian_weights=True,
                              sigma=1.5, use_sample_covariance=False)
        for c in range(3)
    ])


def main():
    args = [a for a in sys.argv[1:] if a != "--json"]
    out_json = sys.argv[sys.argv.index("--json") + 1] if "--json" in sys.argv else None
    if out_json:
        args.remove(out_json)
    regen, clean_dir, sigma = args[0], args[1], float(args[2])
    seed = int(args[3]) if len(args) > 3 else 0
    names = sorted(n for n in os.listdir(clean_dir) if n.lower().endswith(".png"))
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([regen, "corrupt", "--task", "denoise", "--sigma", str(sigma),
                        "--seed", str(seed), clean_dir, "-o", tmp], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        rows = {"noisy": [], "cbm3d": []}
        seconds = 0.0
        for n in names:
            clean = load(os.path.join(clean_dir, n))
            noisy = load(os.path.join(tmp, n))
            t = time.perf_counter()
            out = np.clip(bm3d_rgb(noisy, sigma / 255.0), 0, 1)
            seconds += time.perf_counter() - t
            rows["noisy"].append((psnr(noisy, clean), ssim(noisy, clean)))
            rows["cbm3d"].append((psnr(out, clean), ssim(out, clean)))
    report = {"data": clean_dir, "sigma": sigma, "seed": seed, "images": len(names),
              "seconds": seconds}
    print(f"{len(names)} images, Gaussian noise sigma {sigma:g} (inputs rounded to 8 bits)")
    for k, v in rows.items():
        p, s = np.mean(v, axis=0)
        report[k] = {"psnr": p, "ssim": s}
        secs = seconds if k == "cbm3d" else 0.0
        print(f"{k:<16} {p:>10.2f} {s:>8.4f} {secs:>9.2f}")
    if out_json:
        with open(out_json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
