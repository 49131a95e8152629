#!/usr/bin/env bash
# Run every experiment of the papers from the shipped sweep files, then print each
# summary and draw the figures:  results/<name>.h5, results/<name>.summary.txt, figures/<name>/
#
#   scripts/reproduce.sh [--short] [--np N] [NAME ...]
#
# --short runs the reduced settings that fit a 2-core machine in under an hour (listed in
# SHORTEN below and in docs/REPRODUCTION.md); without it, the papers' full settings.
# NAME limits the run to some experiments (e.g. mnist-0v1). Re-running resumes.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
short=0; np=$(nproc); names=()
while [ $# -gt 0 ]; do
  case "$1" in
    --short) short=1 ;;
    --np) np="$2"; shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) names+=("$1") ;;
  esac
  shift
done
all=(correlated-fig4 mnist-0v1 mnist-5v9 gaussian-fig3 spectra-fig11 mnist-all fashion-mnist
     regularization-mnist01 regularization-gaussian)
[ ${#names[@]} -gt 0 ] || names=("${all[@]}")

# The reductions of --short: sed expressions applied to the sweep file.
declare -A SHORTEN=(
  [mnist-all]='s/^  epochs: 5000/  epochs: 1000/'
  [fashion-mnist]='s/^  epochs: 300/  epochs: 50/'
  [regularization-gaussian]='s/^seeds: 10/seeds: 3/; s/^    samples: 60000/    samples: 20000/'
)

exe="${SPECSWEEP:-build/specsweep}"   # the binary to run (default: this checkout's build)
[ -x "$exe" ] || scripts/build.sh
[ -e data/mnist/train-images-idx3-ubyte.gz ] || scripts/fetch-data.sh
mkdir -p results/sweeps
for name in "${names[@]}"; do
  sweep="sweeps/$name.yaml"
  [ -e "$sweep" ] || { echo "reproduce: no $sweep" >&2; exit 2; }
  out="results/$name.h5"
  if [ "$short" = 1 ] && [ -n "${SHORTEN[$name]:-}" ]; then
    # a derived copy; data paths made absolute since the copy lives elsewhere
    derived="results/sweeps/$name.yaml"
    sed -e "${SHORTEN[$name]}" -e "s|\.\./data/|$root/data/|g" "$sweep" > "$derived"
    sweep="$derived"
    echo "reproduce: $name (shortened: ${SHORTEN[$name]})"
  else
    echo "reproduce: $name"
  fi
  scripts/mpirun.sh "$np" "$exe" run "$sweep" -o "$out"
  "$exe" summary "$out" | tee "results/$name.summary.txt"
  /usr/bin/python3 analysis/figures.py "$out" --out "figures/$name"
done
