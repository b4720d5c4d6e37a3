"""PyTorch twin of regen's default GAN (crates/regen/src/models/gan.rs: the seed's DCGAN
size, G: linear to 128x7x7, two 4x4 stride-2 transposed convs with batch norm and ReLU,
tanh; D: two 4x4 stride-2 convs with leaky ReLU 0.2, linear to one logit), trained the way
`regen train gan` trains it (crates/regen/src/train/gan/): weights and biases from
N(0, 0.02), Adam(lr 2e-4, betas (0.5, 0.999), eps 1e-8) for both networks, batch 64, the
training images in a fresh random order each epoch (last partial batch dropped), one
generator forward per step whose output serves the discriminator step (detached) and then
the generator step against the updated discriminator, non-saturating BCE loss, and an
exponential moving average of the generator (decay min(0.999, (1+t)/(10+t)), batch-norm
buffers copied) used for sampling in eval mode.

Writes N samples as an 8-bit IDX file and prints one JSON line with the speed.

Usage: gan_twin.py TRAIN_IDX EPOCHS THREADS SEED N_SAMPLES OUT_IDX
"""
import copy
import gzip
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def load_idx(path):
    raw = gzip.open(path).read() if path.endswith(".gz") else open(path, "rb").read()
    nd = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(raw[4 + 4 * nd:], np.uint8).reshape(dims)


def save_idx(path, imgs):
    n, h, w = imgs.shape
    header = bytes([0, 0, 8, 3]) + b"".join(int(v).to_bytes(4, "big") for v in (n, h, w))
    with open(path, "wb") as f:
        f.write(header + imgs.astype(np.uint8).tobytes())


class G(nn.Module):
    def __init__(self, latent=100, top=128, s0=7):
        super().__init__()
        self.fc = nn.Linear(latent, top * s0 * s0)
        self.bn0 = nn.BatchNorm2d(top)
        self.up0 = nn.ConvTranspose2d(top, top // 2, 4, stride=2, padding=1)
        self.bn1 = nn.BatchNorm2d(top // 2)
        self.up1 = nn.ConvTranspose2d(top // 2, 1, 4, stride=2, padding=1)
        self.top, self.s0 = top, s0

    def forward(self, z):
        h = self.fc(z).reshape(-1, self.top, self.s0, self.s0)
        h = self.up0(torch.relu(self.bn0(h)))
        return torch.tanh(self.up1(torch.relu(self.bn1(h))))


class D(nn.Module):
    def __init__(self, width=64, size=28):
        super().__init__()
        self.c0 = nn.Conv2d(1, width, 4, stride=2, padding=1)
        self.c1 = nn.Conv2d(width, 2 * width, 4, stride=2, padding=1)
        self.head = nn.Linear(2 * width * (size // 4) ** 2, 1)

    def forward(self, x):
        h = F.leaky_relu(self.c0(x), 0.2)
        h = F.leaky_relu(self.c1(h), 0.2)
        return self.head(h.flatten(1))


def dcgan_init(m):
    for mod in m.modules():
        if isinstance(mod, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(mod.weight, 0.0, 0.02)
            nn.init.normal_(mod.bias, 0.0, 0.02)


def main():
    train_path, epochs, threads, seed, n, out = sys.argv[1:7]
    epochs, threads, seed, n = int(epochs), int(threads), int(seed), int(n)
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    x = torch.tensor(load_idx(train_path), dtype=torch.float32).unsqueeze(1) / 127.5 - 1.0
    g, d = G(), D()
    dcgan_init(g)
    dcgan_init(d)
    ema = copy.deepcopy(g)
    for p in ema.parameters():
        p.requires_grad_(False)
    og = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999), eps=1e-8)
    od = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999), eps=1e-8)
    b, steps = 64, 0
    # GAN_TWIN_LOG=FILE: the same health record regen writes (means over 50 steps).
    log = open(os.environ["GAN_TWIN_LOG"], "w") if os.environ.get("GAN_TWIN_LOG") else None
    window = []
    t0 = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(x))
        for s in range(0, len(x) - b + 1, b):
            real = x[order[s:s + b]]
            fake = g(torch.randn(b, 100))
            lr_, lf = d(real), d(fake.detach())
            dl = F.binary_cross_entropy_with_logits(lr_, torch.ones_like(lr_)) + \
                F.binary_cross_entropy_with_logits(lf, torch.zeros_like(lf))
            od.zero_grad()
            dl.backward()
            od.step()
            for p in d.parameters():
                p.requires_grad_(False)
            lg = d(fake)
            gl = F.binary_cross_entropy_with_logits(lg, torch.ones_like(lg))
            og.zero_grad()
            gl.backward()
            og.step()
            for p in d.parameters():
                p.requires_grad_(True)
            decay = min(0.999, (1 + steps) / (10 + steps))
            with torch.no_grad():
                for pe, pg in zip(ema.parameters(), g.parameters()):
                    pe.mul_(decay).add_(pg, alpha=1 - decay)
                for be, bg in zip(ema.buffers(), g.buffers()):
                    be.copy_(bg)
            steps += 1
            if log is not None:
                window.append((dl.item(), gl.item(), torch.sigmoid(lr_).mean().item(),
                               torch.sigmoid(lf).mean().item()))
                if steps % 50 == 0:
                    m = [sum(v) / len(v) for v in zip(*window)]
                    log.write(json.dumps({"step": steps, "d_loss": m[0], "g_loss": m[1],
                                          "d_real": m[2], "d_fake": m[3]}) + "\n")
                    window = []
    secs = time.perf_counter() - t0
    ema.eval()
    imgs = []
    with torch.no_grad():
        for s in range(0, n, 500):
            y = ema(torch.randn(min(500, n - s), 100))
            imgs.append(((y.clamp(-1, 1) + 1) * 127.5).round().squeeze(1).numpy())
    save_idx(out, np.concatenate(imgs))
    print(json.dumps({"torch": torch.__version__, "steps": steps, "train_seconds": secs,
                      "steps_per_second": steps / secs,
                      "params": sum(p.numel() for p in g.parameters()) +
                      sum(bf.numel() for bf in g.buffers() if bf.dtype == torch.float32) +
                      sum(p.numel() for p in d.parameters())}))


if __name__ == "__main__":
    main()
