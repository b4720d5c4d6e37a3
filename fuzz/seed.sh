#!/usr/bin/env bash
# Builds the fuzzers' seed corpora under fuzz/corpus/ from the repository's fixtures (and,
# for checkpoints, two tiny models trained for that by the release binary).
# Run from the repository root after `cargo build --release -p regen-cli`.
set -euo pipefail
F=crates/regen/tests/fixtures
C=fuzz/corpus
R=target/release/regen
mkdir -p $C/image $C/idx $C/checkpoint $C/config $C/pth $C/ncnn
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
# Published weights: the small PyTorch and safetensors fixtures (the ESRGAN ones, 400 kB
# each, would slow every run), the hostile pickles, and an ncnn Compact graph with its
# weights after a zero byte (regen::fuzz::ncnn).
P=$F/published
cp $P/compact-*.pth $P/compact-*.safetensors $P/dncnn-*.* $P/fdncnn-gray.pth \
  $P/ffdnet-kair-*.* $P/drunet-gray.pth $P/evil*.pth $C/pth/
python3 - "$C/ncnn" <<'PY'
import math, struct, sys
param = (b"7767517\n5 5\nInput in 0 1 data\nConvolution c0 1 1 data a 0=4 1=3 4=1 5=1 6=108\n"
         b"PReLU p0 1 1 a b 0=4\nConvolution c1 1 1 b c 0=12 1=3 4=1 5=1 6=144\n"
         b"PixelShuffle ps 1 1 c output 0=2\n")
vals = lambda n: b"".join(struct.pack("<f", math.sin(i * 0.37) * 0.1) for i in range(n))
tag = struct.pack("<I", 0)
fp16 = struct.pack("<I", 0x01306B47) + b"".join(struct.pack("<e", math.cos(i)) for i in range(144))
open(f"{sys.argv[1]}/compact.bin", "wb").write(param + b"\0" + tag + vals(108) + vals(4) + vals(4) + tag + vals(144) + vals(12))
open(f"{sys.argv[1]}/compact-fp16.bin", "wb").write(param + b"\0" + tag + vals(108) + vals(4) + vals(4) + fp16 + vals(12))
PY
ls $C/* | wc -l
