"""The receptive radius of regen's encoder-decoder (`encdec`), by walking its layers.

An independent check of the closed form in crates/regen/src/models/encdec.rs: for an
output pixel at each position on the strided grid, follow the interval of pixels it
depends on back through the network (tail, decoder blocks, 2x2 stride-2 transposed
convolutions, encoder blocks, 3x3 stride-2 convolutions, head, and the skips), and print
the worst case beside 2^(depth+1) - 1 + n (3 2^depth - 2). Run: python3 bench/receptive_field.py
"""


def reach(depth, n, skips=True):
    """Largest distance, in input pixels, from an output pixel to one it depends on."""
    if depth == 0:
        return n + 1

    def features(level, lo, hi):
        # Interval at `level` of the encoder features there -> input interval.
        if level == 0:
            return lo - n, hi + n  # the head's n 3x3 convolutions
        lo, hi = lo - n, hi + n  # the encoder block
        lo, hi = 2 * lo - 1, 2 * hi + 1  # the 3x3 stride-2 convolution
        return features(level - 1, lo, hi)

    def decoder(level, lo, hi):
        # Interval of decoder block `level`'s output -> input interval.
        lo, hi = lo - n, hi + n  # the decoder block
        parts = [features(level, lo, hi)] if skips else []
        clo, chi = lo // 2, hi // 2  # 2x2 stride-2 transposed: one coarse pixel each
        if level + 1 == depth:
            parts.append(features(depth, clo, chi))
        else:
            parts.append(decoder(level + 1, clo, chi))
        return min(p[0] for p in parts), max(p[1] for p in parts)

    best = 0
    for p in range(2 ** (depth + 1)):
        y = 1000 + p
        lo, hi = decoder(0, y - 1, y + 1)  # the tail's 3x3 convolution
        best = max(best, y - lo, hi - y)
    return best


if __name__ == "__main__":
    for depth in range(0, 6):
        for n in (1, 2, 3):
            closed = 2 ** (depth + 1) - 1 + n * (3 * 2**depth - 2)
            for skips in (True, False):
                walked = reach(depth, n, skips)
                flag = "" if walked == closed else "  MISMATCH"
                print(f"depth {depth} convs {n} skips {skips!s:5}: walk {walked:4}, formula {closed:4}{flag}")
