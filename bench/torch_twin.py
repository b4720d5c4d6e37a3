"""PyTorch twins of regen's restoration networks, layer for layer the same as
crates/regen/src/models/restore.rs, and the same timing protocol as src/main.rs."""
import json
import sys
import time

import torch
from torch import nn


def conv3(cin, cout):
    return nn.Conv2d(cin, cout, 3, padding=1)


class Block(nn.Module):
    def __init__(self, cin, cout, n):
        super().__init__()
        self.convs = nn.ModuleList([conv3(cin if i == 0 else cout, cout) for i in range(n)])

    def forward(self, x):
        for c in self.convs:
            x = torch.relu(c(x))
        return x


class EncDec(nn.Module):
    def __init__(self, width=32, depth=3, n=2, skips=True, in_ch=1):
        super().__init__()
        ch = lambda i: width << i
        self.head = Block(in_ch, ch(0), n)
        self.down = nn.ModuleList([nn.Conv2d(ch(i), ch(i + 1), 3, stride=2, padding=1) for i in range(depth)])
        self.enc = nn.ModuleList([Block(ch(i + 1), ch(i + 1), n) for i in range(depth)])
        self.up = nn.ModuleList([nn.ConvTranspose2d(ch(i + 1), ch(i), 2, stride=2) for i in range(depth)])
        k = 2 if skips else 1
        self.dec = nn.ModuleList([Block(k * ch(i), ch(i), n) for i in range(depth)])
        self.tail = conv3(ch(0), 1)
        self.skips = skips

    def forward(self, inp):
        x = self.head(inp)
        feats = []
        for down, enc in zip(self.down, self.enc):
            feats.append(x)
            x = enc(torch.relu(down(x)))
        for i in reversed(range(len(self.up))):
            x = torch.relu(self.up[i](x))
            skip = feats.pop()
            if self.skips:
                x = torch.cat([x, skip], 1)
            x = self.dec[i](x)
        return inp - self.tail(x)


class DnCnn(nn.Module):
    def __init__(self, width=64, depth=17):
        super().__init__()
        self.body = Block(1, width, depth - 1)
        self.tail = conv3(width, 1)

    def forward(self, inp):
        return inp - self.tail(self.body(inp))


class Compact(nn.Module):
    """SRVGGNetCompact (Real-ESRGAN): conv + PReLU, `depth` more, a last conv to 3 s^2
    planes, pixel shuffle, plus the input upsampled by nearest neighbour."""

    def __init__(self, width=64, depth=16, s=4):
        super().__init__()
        self.s = s
        self.body = nn.ModuleList([nn.Conv2d(3 if i == 0 else width, width, 3, padding=1) for i in range(depth + 1)])
        self.acts = nn.ModuleList([nn.PReLU(width) for _ in range(depth + 1)])
        self.last = nn.Conv2d(width, 3 * s * s, 3, padding=1)

    def forward(self, x):
        y = x
        for c, a in zip(self.body, self.acts):
            y = a(c(y))
        return nn.functional.pixel_shuffle(self.last(y), self.s) + nn.functional.interpolate(x, scale_factor=self.s, mode="nearest")


def status_mb(field):
    """A memory figure of this process from /proc/self/status (VmRSS now, VmHWM the peak)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def main():
    arch, width, depth, batch, patch, steps, size, reps = sys.argv[1:9]
    width, depth, batch, patch, steps, size, reps = map(int, (width, depth, batch, patch, steps, size, reps))
    # An optional ninth argument, `cuda`, times the twin on the GPU (bench/gpu/run.sh).
    dev = sys.argv[9] if len(sys.argv) > 9 else "cpu"
    sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
    torch.set_num_threads(2)
    torch.manual_seed(0)
    # Resident memory before the network exists (the libraries are loaded by now): the
    # training step's peak is measured above it.
    base_mb = status_mb("VmRSS")
    s, c = 1, 1
    if arch.startswith("compact-x"):
        s, c = int(arch[len("compact-x"):]), 3
        model = Compact(width, depth, s).to(dev)
    else:
        model = (DnCnn(width, depth) if arch == "dncnn" else EncDec(width, depth)).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    x = torch.rand(batch, c, patch, patch, device=dev)
    y = torch.rand(batch, c, s * patch, s * patch, device=dev)
    # Upscalers train with L1, as regen's do; the denoisers with MSE.
    lossf = (lambda d: d.abs().mean()) if s > 1 else (lambda d: (d ** 2).mean())
    times, fwd, bwd, opt_t = [], [], [], []
    for i in range(steps + 2):
        t = time.perf_counter()
        opt.zero_grad()
        loss = lossf(model(x) - y)
        loss.item()
        t_fwd = time.perf_counter() - t
        loss.backward()
        t_bwd = time.perf_counter() - t
        opt.step()
        sync()
        if i >= 2:
            total = time.perf_counter() - t
            times.append(total)
            fwd.append(t_fwd)
            bwd.append(t_bwd - t_fwd)
            opt_t.append(total - t_bwd)
    peak_mb = status_mb("VmHWM")
    model.eval()
    img = torch.rand(1, c, size, size, device=dev)
    ftimes = []
    with torch.no_grad():
        for i in range(reps + 1):
            t = time.perf_counter()
            out = model(img).cpu().numpy()
            assert out.size == c * s * s * size * size
            if i >= 1:
                ftimes.append(time.perf_counter() - t)
    med = lambda v: sorted(v)[len(v) // 2]
    print(json.dumps({
        "params": sum(p.numel() for p in model.parameters()),
        "train_step_ms": 1000 * med(times),
        "forward_ms": 1000 * med(fwd),
        "backward_ms": 1000 * med(bwd),
        "optimizer_ms": 1000 * med(opt_t),
        "restore_ms": 1000 * med(ftimes),
        "base_mb": base_mb,
        "train_peak_mb": peak_mb,
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
