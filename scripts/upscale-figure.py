"""A before/after strip of one real photo upscaled x4: a crop of the photo enlarged by
nearest neighbour, bicubic and Lanczos (Pillow) beside each model given, each run by
`regen restore --model M`. Writes a PNG with the panels side by side, labelled.

    bench/.venv/bin/python scripts/upscale-figure.py PHOTO X0 Y0 SIDE OUT.png \
        upscale-photo-x4 target/published/ncnn/realesrgan-x4plus.param
"""
import os
import subprocess
import sys
import tempfile

from PIL import Image, ImageDraw

photo, x0, y0, side, out = sys.argv[1], *map(int, sys.argv[2:5]), sys.argv[5]
models = sys.argv[6:]
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
regen = os.path.join(root, "target", "release", "regen")
crop = Image.open(photo).convert("RGB").crop((x0, y0, x0 + side, y0 + side))
big = side * 4
panels = [
    ("nearest", crop.resize((big, big), Image.NEAREST)),
    ("bicubic", crop.resize((big, big), Image.BICUBIC)),
    ("Lanczos", crop.resize((big, big), Image.LANCZOS)),
]
with tempfile.TemporaryDirectory() as tmp:
    src = os.path.join(tmp, "crop.png")
    crop.save(src)
    for m in models:
        dst = os.path.join(tmp, "out.png")
        subprocess.check_call([regen, "restore", "--model", m, src, "-o", dst])
        label = os.path.basename(m).split(".")[0]
        panels.append((label, Image.open(dst).convert("RGB")))
strip = Image.new("RGB", (big * len(panels), big + 20), "white")
draw = ImageDraw.Draw(strip)
for i, (label, img) in enumerate(panels):
    strip.paste(img, (i * big, 20))
    draw.text((i * big + 4, 4), label, fill="black")
strip.save(out)
print("wrote", out, strip.size)
