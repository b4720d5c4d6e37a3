"""How far can regen's inpainting network go with far more training than a CPU gives it?

A measurement, not a way to make shipped models: it trains the PyTorch twin of regen's
inpainting U-Net (bench/torch_twin.py's EncDec with two input planes: the harmonic
pre-fill and the mask) on a GPU, with regen's training recipe (random 8-bit Train400
patches under each of the 8 flips and rotations, free-form stroke masks cut from 256x256
canvases, the harmonic fill of the patch as the first plane, known pixels copied through
before the MSE), and scores it, whole images, on the Set12 / BSD68 holes that
`regen eval restore --task inpaint` uses. Masks and test holes are made by regen itself
(see bench/README.md, "Inpainting: the same network trained longer"). The trained
weights are written beside OUT_JSON in regen's format, so regen's own eval can score them.

Usage: python3 inpaint_ceiling.py DATA_DIR SECONDS WIDTH DEPTH INIT|- LR OUT_JSON
DATA_DIR holds train400/, set12/, bsd68/ (clean), masks/ (training canvases),
tm_set12/, th_set12/, tm_bsd68/, th_bsd68/ (test masks and holed images). INIT is a regen
.safetensors file (weights loaded by name) or - for a random start. Training runs SECONDS
of wall time on a cosine learning-rate schedule over that time. Environment: SKIP_START=1
skips the evaluation before training; POOL sets how many patches are made at once (1024).
"""
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_twin import EncDec  # noqa: E402

dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
CROSS = torch.tensor([[0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=torch.float32).view(1, 1, 3, 3)


def load_dir(d):
    names = sorted(os.listdir(d))
    return names, [np.asarray(Image.open(os.path.join(d, n)).convert("L"), np.float32) / 255 for n in names]


def nbr(x):
    """Sum of the 4 neighbours inside the image (zero outside)."""
    return F.conv2d(x, CROSS.to(x.device), padding=1)


def harmonic_fill(u, m, iters):
    """Batched conjugate gradients for regen's harmonic fill: on the hole (m = 1),
    deg * x - (sum of hole neighbours) = sum of known neighbours, started from the mean of
    the known pixels. u, m: [b, 1, h, w]."""
    known = 1 - m
    deg = nbr(torch.ones_like(u))
    b = nbr(u * known) * m
    mean = (u * known).sum((1, 2, 3), keepdim=True) / known.sum((1, 2, 3), keepdim=True).clamp(min=1)
    x = mean * m
    A = lambda v: (deg * v - nbr(v)) * m
    r = b - A(x)
    p = r.clone()
    rr = (r * r).sum((1, 2, 3), keepdim=True)
    for _ in range(iters):
        Ap = A(p)
        alpha = rr / (p * Ap).sum((1, 2, 3), keepdim=True).clamp(min=1e-30)
        x = x + alpha * p
        r = r - alpha * Ap
        rr_new = (r * r).sum((1, 2, 3), keepdim=True)
        p = r + (rr_new / rr.clamp(min=1e-30)) * p
        rr = rr_new
    return u * known + x * m, float(rr.max().sqrt())


def load_regen(net, path):
    from safetensors.torch import load_file
    net.load_state_dict({k.split(".", 1)[1]: v for k, v in load_file(path).items()}, strict=True)


def dihedral(x, t):
    if t & 4:
        x = x.transpose(-1, -2)
    if t & 1:
        x = x.flip(-1)
    if t & 2:
        x = x.flip(-2)
    return x


def restore(net, img, mask, multiple, iters=3000):
    """Whole-image inference as regen's Restorer (no tiling): pre-fill, reflect-pad to a
    multiple of 2^depth, run, crop, copy known pixels, clamp."""
    u = torch.from_numpy(img).to(dev)[None, None]
    m = torch.from_numpy(mask).to(dev)[None, None]
    u = u * (1 - m)
    pre, res = harmonic_fill(u, m, iters)
    h, w = img.shape
    ph, pw = -h % multiple, -w % multiple
    x = torch.cat([pre, m], 1)
    xp = F.pad(x, (0, pw, 0, ph), mode="reflect")
    with torch.no_grad():
        y = net(xp)[:, :1, :h, :w]
    out = (y * m + pre * (1 - m)).clamp(0, 1)
    return pre[0, 0].cpu().numpy(), out[0, 0].cpu().numpy(), res


def psnr(a, b):
    return 10 * math.log10(1.0 / float(np.mean((a.astype(np.float64) - b) ** 2)))


def evaluate(net, data, sets, cache, multiple):
    net.eval()
    out = {}
    for s in sets:
        if s not in cache:
            cache[s] = load_dir(os.path.join(data, s))
        names, clean = cache[s]
        hp, npsnr, worst = [], [], 0.0
        for n, c in zip(names, clean):
            holes = np.asarray(Image.open(os.path.join(data, "th_" + s, n)).convert("L"), np.float32) / 255
            mask = (np.asarray(Image.open(os.path.join(data, "tm_" + s, n)).convert("L")) > 127).astype(np.float32)
            pre, o, res = restore(net, holes, mask, multiple)
            worst = max(worst, res)
            hp.append(psnr(pre, c))
            npsnr.append(psnr(o, c))
        out[s] = {"harmonic": float(np.mean(hp)), "net": float(np.mean(npsnr)), "cg_residual": worst}
    net.train()
    return out


def main():
    data, seconds, width, depth, init, lr, out_json = sys.argv[1:8]
    seconds, width, depth, lr = float(seconds), int(width), int(depth), float(lr)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    net = EncDec(width, depth, in_ch=2).to(dev)  # planes: pre-fill, mask
    if init != "-":
        load_regen(net, init)
    cache = {}
    report = {"width": width, "depth": depth, "init": init, "lr": lr, "device": str(dev),
              "params": sum(p.numel() for p in net.parameters())}
    if not os.environ.get("SKIP_START"):
        report["start"] = evaluate(net, data, ["set12", "bsd68"], cache, 2**depth)
        print(json.dumps(report), flush=True)

    _, train = load_dir(os.path.join(data, "train400"))
    train = torch.from_numpy(np.stack(train)).to(dev)[:, None]  # [400, 1, 180, 180]
    _, masks = load_dir(os.path.join(data, "masks"))
    masks = torch.from_numpy((np.stack(masks) > 0.5).astype(np.float32)).to(dev)[:, None]
    S = F.pad(masks[:, 0].cumsum(1).cumsum(2), (1, 0, 1, 0))  # integral images [n, 257, 257]
    P, B, POOL = 128, 32, int(os.environ.get("POOL", 1024))
    opt = torch.optim.Adam(net.parameters(), lr=lr)

    def pool():
        """POOL fresh (input, clean, mask) triples."""
        i = torch.from_numpy(rng.integers(0, train.shape[0], POOL)).to(dev)
        ys, xs = rng.integers(0, 180 - P + 1, POOL), rng.integers(0, 180 - P + 1, POOL)
        clean = torch.stack([dihedral(train[i[k], :, ys[k]:ys[k] + P, xs[k]:xs[k] + P], int(t))
                             for k, t in enumerate(rng.integers(0, 8, POOL))])
        # Up to 8 window tries per patch, as regen's apply_patch: the first with >= 2% holes.
        j = rng.integers(0, masks.shape[0], (POOL, 8))
        y0, x0 = rng.integers(0, 256 - P + 1, (POOL, 8)), rng.integers(0, 256 - P + 1, (POOL, 8))
        J, Y0, X0 = (torch.from_numpy(a).to(dev) for a in (j, y0, x0))
        cov = (S[J, Y0 + P, X0 + P] - S[J, Y0, X0 + P] - S[J, Y0 + P, X0] + S[J, Y0, X0]) / (P * P)
        ok = (cov >= 0.02).cpu().numpy()
        pick = np.where(ok.any(1), ok.argmax(1), 7)
        mk = [masks[j[k, c], :, y0[k, c]:y0[k, c] + P, x0[k, c]:x0[k, c] + P] for k, c in enumerate(pick)]
        m = torch.stack(mk)
        pre, _ = harmonic_fill(clean * (1 - m), m, 400)
        return torch.cat([pre, m], 1), clean, m

    t0, step, losses, log = time.time(), 0, [], []
    while True:
        el = time.time() - t0
        if el >= seconds:
            break
        if step % (POOL // B) == 0:
            X, Y, M = pool()
        k = (step % (POOL // B)) * B
        x, y, m = X[k:k + B], Y[k:k + B], M[k:k + B]
        for g in opt.param_groups:
            g["lr"] = 1e-6 + 0.5 * (lr - 1e-6) * (1 + math.cos(math.pi * el / seconds))
        pred = net(x)[:, :1]
        pred = pred * m + x[:, :1] * (1 - m)
        loss = F.mse_loss(pred, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        step += 1
        if step % 1000 == 0:
            log.append({"step": step, "s": round(time.time() - t0, 1), "loss": float(np.mean(losses[-1000:]))})
            print(json.dumps(log[-1]), flush=True)
    report["steps"], report["batch"], report["patch"], report["train_s"] = step, B, P, time.time() - t0
    report["log"] = log
    report["end"] = evaluate(net, data, ["set12", "bsd68"], cache, 2**depth)
    print(json.dumps(report), flush=True)
    with open(out_json, "w") as f:
        json.dump(report, f, indent=1)
    if init != "-" and report["params"] < 4_000_000:
        save_regen(net, init, out_json.rsplit(".", 1)[0] + ".safetensors", step)


def save_regen(net, init, path, step):
    """The twin's weights in a file regen loads (names and card as INIT's), so that regen's
    own `eval restore` can score them too."""
    from safetensors import safe_open
    from safetensors.torch import save_file
    with safe_open(init, "pt") as f:
        meta = f.metadata()
    card = json.loads(meta["regen"])
    card["step"] = step
    card["notes"] = {"trained_by": "bench/inpaint_ceiling.py (PyTorch twin on a GPU); a measurement, not shipped"}
    meta["regen"] = json.dumps(card)
    sd = {"EncDec." + k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    save_file(sd, path, metadata=meta)


if __name__ == "__main__":
    main()
