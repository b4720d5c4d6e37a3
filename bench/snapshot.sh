#!/usr/bin/env bash
# Writes what every shipped model produces on fixed inputs (restore of each task, with the
# ensemble and small tiles; generate, reconstruct, interpolate, encode; eval tables as JSON
# with timings dropped) and every command's --help, into OUT, so two builds can be compared
# byte for byte after a refactor. Give both binaries the name `regen` (--help prints it):
#   cp target/release/regen /tmp/old/regen; bash bench/snapshot.sh /tmp/old/regen /tmp/before
#   ... change the code, rebuild ...
#   bash bench/snapshot.sh target/release/regen /tmp/after && diff -r /tmp/before /tmp/after
# Needs ../shared/data (the colour, Set12 and Fashion-MNIST test sets).
set -euo pipefail
regen=$(realpath "$1")
out=$2
data=$(realpath "$(dirname "$0")/../../shared/data")
rm -rf "$out"
mkdir -p "$out"/{in,restore,gen,eval,help}
cd "$out"
gray=$data/denoise/set12/05.png
color=$data/color/test/kodak24/kodim05.png
mcm=$data/color/test/mcmaster/1.tif
[ -f "$mcm" ] || mcm=$(ls "$data"/color/test/mcmaster/* | head -1)
r() { "$regen" --threads 2 "$@"; }

# Inputs, made by regen corrupt (same seeds every time).
r corrupt --sigma 25 --seed 1 "$gray" -o in/gray-noisy.png
r corrupt --sigma 25 --seed 2 "$color" -o in/color-noisy.png
r corrupt --task inpaint --seed 3 --masks in/gray-mask.png "$gray" -o in/gray-holes.png
r corrupt --task inpaint --seed 4 --masks in/color-mask.png "$color" -o in/color-holes.png
r corrupt --task deblur --sigma 2 --seed 5 "$gray" -o in/gray-blur.png
r corrupt --task deblur --sigma 2 --seed 6 "$color" -o in/color-blur.png

# Restore: each shipped model, default pair, --sigma, ensemble, tiles smaller than the image.
r restore in/gray-noisy.png -o restore/default-gray.png
r restore in/color-noisy.png -o restore/default-color.png
r restore --sigma 15 in/color-noisy.png -o restore/default-color-s15.png
r restore --tile 64 in/color-noisy.png -o restore/default-color-tile64.png
r restore --ensemble --tile 200 in/gray-noisy.png -o restore/default-gray-ensemble.png
r restore --model denoise in/color-noisy.png -o restore/gray-model-on-color.png
r restore --model denoise-color --ensemble in/gray-noisy.png -o restore/color-model-on-gray-ens.png
r restore --task inpaint --mask in/gray-mask.png in/gray-holes.png -o restore/inpaint-gray.png
r restore --task inpaint --mask in/color-mask.png --tile 96 in/color-holes.png -o restore/inpaint-color-tile96.png
r restore --task inpaint --model inpaint --mask in/color-mask.png in/color-holes.png -o restore/inpaint-graymodel.png
r restore --task deblur in/gray-blur.png -o restore/deblur-gray.png
r restore --task deblur --tile 100 in/color-blur.png -o restore/deblur-color-tile100.png
r restore --task deblur --blur gaussian --blur-sigma 1.6 in/gray-blur.png -o restore/deblur-nonblind.png
r restore --task deblur --blur motion --length 7 --angle 30 --ensemble in/gray-blur.png -o restore/deblur-nonblind-motion-ens.png

# Generate, reconstruct, interpolate, encode.
for m in gan-fashion cgan-mnist vae-fashion cvae-mnist; do
  r generate --model "$m" -n 16 --seed 3 --grid gen/$m-grid.png -o gen/$m
done
r generate --model cgan-mnist --class 7 -n 4 -o gen/cgan-7
r generate --model cvae-mnist --class 2 -n 4 -o gen/cvae-2
r generate -o gen/gan-default-a -n 3
r generate --model vae-fashion -n 2 -o gen/vae-a
r reconstruct --model vae-fashion gen/vae-a/*.png -o gen/recon
r reconstruct --model cvae-mnist --class 7 gen/cgan-7/*.png -o gen/recon-c
a=$(ls gen/vae-a/*.png | head -1); b=$(ls gen/vae-a/*.png | tail -1)
r interpolate --model vae-fashion "$a" "$b" -o gen/interp.png
r interpolate --model vae-fashion --spherical --steps 5 "$a" "$b" -o gen/interp-slerp.png
r interpolate --model cvae-mnist --class 3 "$a" "$b" -o gen/interp-c.png
r encode --model vae-fashion gen/gan-fashion -o gen/encode.csv

# Eval tables, timings dropped.
mkdir -p in/evalset in/evalgray
cp "$data"/color/test/kodak24/kodim0{1,2}.png in/evalset/
cp "$data"/denoise/set12/0{1,2}.png in/evalgray/
untimed() { python3 -c '
import json, sys
def drop(v):
    if isinstance(v, dict):
        return {k: drop(x) for k, x in v.items() if not any(t in k for t in ("second", "time", "_s", "elapsed"))}
    if isinstance(v, list):
        return [drop(x) for x in v]
    return v
print(json.dumps(drop(json.load(sys.stdin)), sort_keys=True, indent=1))
'; }
r eval restore --data in/evalset --sigma 25 --json | untimed > eval/denoise-color.json
r eval restore --data in/evalgray --sigma 15 --ensemble --json | untimed > eval/denoise-gray-ens.json
r eval restore --data in/evalgray --task inpaint --json | untimed > eval/inpaint.json
r eval restore --data in/evalset --task deblur --json | untimed > eval/deblur.json
r eval restore --data in/evalgray --task deblur --model deblur-nonblind --json | untimed > eval/deblur-nonblind.json
r eval vae --model vae-fashion --data "$data"/fashion-mnist/t10k-images-idx3-ubyte.gz --k 5 --json | untimed > eval/vae.json || echo "eval vae failed" > eval/vae.json

# Every command's --help.
for c in "" restore corrupt generate reconstruct interpolate encode serve train "train restore" "train vae" "train gan" eval "eval restore" "eval vae" "eval generate" "eval augment" "eval noise"; do
  # shellcheck disable=SC2086
  "$regen" $c --help > "help/${c// /-}.txt"
done
echo "snapshot in $out: $(find . -type f | wc -l) files"
