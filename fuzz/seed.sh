#!/usr/bin/env bash
# Builds the fuzzers' seed corpora under fuzz/corpus/ from the repository's fixtures (and,
# for checkpoints, two tiny models trained for that by the release binary).
# Run from the repository root after `cargo build --release -p regen-cli`.
set -euo pipefail
F=crates/regen/tests/fixtures
C=fuzz/corpus
R=target/release/regen
mkdir -p $C/image $C/idx $C/checkpoint $C/config
cp $F/odd/* $C/image/
# Small images of each kind, quick to decode: PNGs written here, the other formats by regen.
python3 - "$C/image" <<'PY'
import struct, sys, zlib
def png(path, w, h, depth, ctype, row):
    chunk = lambda k, d: struct.pack(">I", len(d)) + k + d + struct.pack(">I", zlib.crc32(k + d))
    raw = b"".join(b"\0" + row(y) for y in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    open(path, "wb").write(data)
d = sys.argv[1]
png(f"{d}/gray8.png", 16, 12, 8, 0, lambda y: bytes((x * 16 + y * 5) % 256 for x in range(16)))
png(f"{d}/rgba16.png", 9, 7, 16, 6, lambda y: b"".join(struct.pack(">HHHH", x * 7000, y * 9000, 30000, 65535 - x * 999) for x in range(9)))
png(f"{d}/graya8.png", 5, 5, 8, 4, lambda y: bytes([y * 40, 200] * 5))
PY
for ext in jpg bmp tif; do
  $R --threads 1 restore $C/image/gray8.png -o $C/image/gray8.$ext >/dev/null
  $R --threads 1 restore $C/image/rgba16.png -o $C/image/rgba16.$ext >/dev/null
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Five MNIST images: the header says 300, so the file is also a short-body case.
gunzip -c $F/mnist300/mnist300-images-idx3-ubyte.gz > "$tmp/images"
head -c 3936 "$tmp/images" > $C/idx/images-5
gunzip -c $F/mnist300/mnist300-labels-idx1-ubyte.gz > $C/idx/labels-300
$R --threads 1 train restore --data $F/train --width 4 --depth 1 --patch 32 --batch 2 \
  --steps 2 --quiet --out "$tmp/r" >/dev/null
$R --threads 1 train vae --data $F/mnist300/mnist300-images-idx3-ubyte.gz --width 4 --depth 1 \
  --latent 2 --batch 50 --epochs 1 --quiet --out "$tmp/v" >/dev/null
cp "$tmp/r/model.safetensors" $C/checkpoint/restore-tiny.safetensors
cp "$tmp/v/model.safetensors" $C/checkpoint/vae-tiny.safetensors
cp "$tmp/r/config.toml" $C/config/restore.toml
cp "$tmp/v/config.toml" $C/config/vae.toml
ls $C/* | wc -l
