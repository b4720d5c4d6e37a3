# Is any Set12 image among the colour training photos (../shared/data/color/train), which
# the gray denoiser's stage 11 trained on in luminance? The colour set's README checked them
# against BSD68 and CBSD68 but not Set12. Run: python3 bench/set12_overlap.py (numpy, Pillow).
# Printed 2026-12-06: whole-image distances 28-45; the crop search's nearest was 04.png
# (a starfish) at 10.15 from 12003.png, another starfish photo (looked at by eye); the
# 512x512 images (08-12) are too large for a crop of a 481x321 photo.
#
# Set12 against the colour training photos: 32x32 box-filtered luminance, mean absolute
# difference on 0-255 over the 8 rotations/flips (the colour README's method), plus a crop
# search: each Set12 image and each training photo shrunk 8x (box mean), the former slid
# over the latter at every offset, so a 256x256 crop of a photo (32x32 there) is found.
import numpy as np, glob
from PIL import Image
def lum(p):
    return np.asarray(Image.open(p).convert('L'), dtype=np.float64)
def box(a, n=32):
    h, w = a.shape
    ys = np.linspace(0, h, n + 1).astype(int); xs = np.linspace(0, w, n + 1).astype(int)
    return np.array([[a[ys[i]:ys[i+1], xs[j]:xs[j+1]].mean() for j in range(n)] for i in range(n)])
def views(s):
    out = []
    for k in range(4):
        v = np.rot90(s, k); out += [v, v[:, ::-1]]
    return out
tr = [(q.split('/')[-1], lum(q)) for q in sorted(glob.glob('../shared/data/color/train/*.png'))]
trs = [(n, box(a)) for n, a in tr]
def shrink(a, f):
    h, w = a.shape[0] // f * f, a.shape[1] // f * f
    return a[:h, :w].reshape(h // f, f, w // f, f).mean(axis=(1, 3))
tr8 = [(n, shrink(a, 8)) for n, a in tr]
for p in sorted(glob.glob('../shared/data/denoise/set12/*.png')):
    a = lum(p); vs = views(box(a))
    d, n = min((min(np.abs(v - t).mean() for v in vs), n) for n, t in trs)
    # crop search at 1/8 scale (a 256 crop is 32x32 there, a 512 crop 64x64)
    s8 = shrink(a, 8); best = (1e9, '')
    for v in views(s8):
        ph, pw = v.shape
        for nm, t in tr8:
            H, W = t.shape
            if ph > H or pw > W: continue
            for y in range(H - ph + 1):
                for x in range(W - pw + 1):
                    e = np.abs(t[y:y+ph, x:x+pw] - v).mean()
                    if e < best[0]: best = (e, nm)
    print(p.split('/')[-1], a.shape, 'whole', round(d, 2), n, 'crop', round(best[0], 2), best[1], flush=True)
