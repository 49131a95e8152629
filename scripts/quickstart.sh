#!/usr/bin/env bash
# The main job on one machine: install, build, run the quick sweep on every core,
# print its summary, draw its figures and write its report page.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/setup.sh
scripts/build.sh
sweep="${1:-sweeps/quick.yaml}"
out="results/$(basename "$sweep" .yaml).h5"
np="$(nproc)"
rc=0
scripts/mpirun.sh "$np" build/specsweep run "$sweep" -o "$out" || rc=$?
if [ "$rc" -ne 0 ]; then
  echo "quickstart: specsweep run exited $rc (3 = stopped; run this script again to resume)" >&2
  exit "$rc"
fi
build/specsweep summary "$out"
page="results/$(basename "$sweep" .yaml).html"
/usr/bin/python3 analysis/report.py "$out" -o "$page" --figures "figures/$(basename "$sweep" .yaml)"
echo "quickstart: open the report page file://$root/$page"
