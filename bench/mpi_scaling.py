"""Predicted efficiency of regen's data-parallel training (`--features mpi`) at 2-64 ranks.

Cost model (no overlap: regen sums the gradients after the backward pass, one all-reduce
per update). A ring all-reduce of S bytes over N ranks sends and receives 2 (N - 1) / N * S
bytes per rank in 2 (N - 1) messages, so on a link of B bytes/s with latency a per message

    t_comm(N) = 2 (N - 1) / N * S / B + 2 (N - 1) a

`--batch` is the global batch, so each rank computes 1/N of the one-process step:

    t_step(N) = t1 / N + t_comm(N),   efficiency = t1 / (N t_step(N))

(strong scaling; a user who grows the batch with N gets t1 / (t1 + t_comm) instead).
t1: the network's measured one-process step (2-core AMD EPYC Zen 4, 2 threads), S: its
parameters x 4 bytes (the GAN: both networks, counted as one buffer though a round makes two all-reduces). a = 20 us
(Ethernet with TCP; InfiniBand is ~2 us). Prints the Markdown table of bench/README.md.
"""

NETWORKS = [
    # name, parameters (gradient floats per step), one-process step (s), its source
    ("denoise (U-Net)", 2_700_161, 0.55, "models/README, stage 14"),
    ("upscale-x2 (Compact, 32 convolutions, batch 16 x 48^2)", 1_192_524, 0.62, "models/README, the grown stage's first 50 steps, alone"),
    ("upscale-photo-x4 (Compact, batch 16 x 32^2)", 621_424, 0.45, "models/README, stage 2"),
    ("gan-fashion (G + D, batch 64)", 766_401 + 138_561, 0.21, "models/README, 9,375 rounds in 33 min"),
    ("vae-fashion (batch 128)", 356_385, 0.051, "models/README, 6,915 steps in 5 min 50 s"),
]
LINKS = [("1 Gb/s", 1e9 / 8), ("10 Gb/s", 10e9 / 8), ("100 Gb/s", 100e9 / 8)]
RANKS = [2, 4, 8, 16, 32, 64]
LATENCY = 20e-6


def efficiency(t1, size_bytes, n, bw):
    comm = 2 * (n - 1) / n * size_bytes / bw + 2 * (n - 1) * LATENCY
    return t1 / (n * (t1 / n + comm))


def main():
    head = "| network | gradient MB | t1 (s) | link | " + " | ".join(f"N={n}" for n in RANKS) + " |"
    print(head)
    print("|---|---:|---:|---|" + "---:|" * len(RANKS))
    for name, params, t1, _ in NETWORKS:
        mb = params * 4 / 1e6
        for link, bw in LINKS:
            effs = " | ".join(f"{efficiency(t1, params * 4, n, bw):.0%}" for n in RANKS)
            print(f"| {name} | {mb:.1f} | {t1} | {link} | {effs} |")


if __name__ == "__main__":
    main()
