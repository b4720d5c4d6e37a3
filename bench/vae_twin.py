"""PyTorch twin of regen's default VAE (crates/regen/src/models/vae.rs: width 32, depth 2,
latent 16, Bernoulli likelihood), trained the way `regen train vae` trains it: Adam
(lr 1e-3, eps 1e-8), batch 128, 5 epochs, 1000 training images held out, minibatches in a
fresh random order each epoch. Prints one JSON line with the test-set -ELBO and the speed.

Usage: vae_twin.py TRAIN_IDX TEST_IDX EPOCHS THREADS
"""
import gzip
import json
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


class Vae(nn.Module):
    def __init__(self, width=32, latent=16, size=28):
        super().__init__()
        self.enc1 = nn.Conv2d(1, width, 3, stride=2, padding=1)
        self.enc2 = nn.Conv2d(width, 2 * width, 3, stride=2, padding=1)
        feat = 2 * width * (size // 4) ** 2
        self.mu = nn.Linear(feat, latent)
        self.logvar = nn.Linear(feat, latent)
        self.dec_in = nn.Linear(latent, feat)
        self.dec1 = nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1)
        self.dec2 = nn.ConvTranspose2d(width, 1, 4, stride=2, padding=1)
        self.width, self.size = width, size

    def forward(self, x):
        h = torch.relu(self.enc2(torch.relu(self.enc1(x)))).flatten(1)
        mu, logvar = self.mu(h), self.logvar(h)
        z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
        h = torch.relu(self.dec_in(z)).reshape(-1, 2 * self.width, self.size // 4, self.size // 4)
        return self.dec2(torch.relu(self.dec1(h))), mu, logvar


def loss_terms(logits, x, mu, logvar):
    b = x.shape[0]
    rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / b
    kl = 0.5 * (mu ** 2 + logvar.exp() - logvar - 1).sum() / b
    return rec, kl


def main():
    train_path, test_path, epochs, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    xtr = torch.tensor(load_idx(train_path), dtype=torch.float32).unsqueeze(1) / 255
    xte = torch.tensor(load_idx(test_path), dtype=torch.float32).unsqueeze(1) / 255
    keep = rng.permutation(len(xtr))[1000:]
    xtr = xtr[keep]
    model = Vae()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-8)
    t0 = time.perf_counter()
    steps = 0
    for _ in range(epochs):
        order = torch.randperm(len(xtr))
        for s in range(0, len(xtr), 128):
            x = xtr[order[s:s + 128]]
            logits, mu, logvar = model(x)
            rec, kl = loss_terms(logits, x, mu, logvar)
            opt.zero_grad()
            (rec + kl).backward()
            opt.step()
            steps += 1
    secs = time.perf_counter() - t0
    model.eval()
    with torch.no_grad():
        rec_t, kl_t = 0.0, 0.0
        for s in range(0, len(xte), 500):
            x = xte[s:s + 500]
            logits, mu, logvar = model(x)
            r, k = loss_terms(logits, x, mu, logvar)
            rec_t += r.item() * len(x)
            kl_t += k.item() * len(x)
    n = len(xte)
    print(json.dumps({
        "recon": rec_t / n, "kl": kl_t / n, "nelbo": (rec_t + kl_t) / n,
        "train_seconds": secs, "images_per_second": steps * 128 / secs if steps else 0,
        "params": sum(p.numel() for p in model.parameters()), "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
