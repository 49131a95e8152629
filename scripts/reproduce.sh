#!/usr/bin/env bash
# Run every experiment of the papers from the shipped sweep files, then print each
# summary and draw the figures:  results/<name>.h5, results/<name>.summary.txt, figures/<name>/
#
#   scripts/reproduce.sh [--short] [--np N] [NAME ...]
#   scripts/reproduce.sh --spectral-domain [--short] [--np N]
#   scripts/reproduce.sh --compare [--np N]
#
# --short runs the reduced settings that fit a 2-core machine in under an hour (listed in
# SHORTEN below and in docs/REPRODUCTION.md); without it, the papers' full settings.
# NAME limits the run to some experiments (e.g. mnist-0v1). Re-running resumes.
# --spectral-domain runs the four sweeps of "Machine learning in spectral domain"
# (sweeps/spectral-domain-*.yaml: the perceptron, linear wide, linear deep, non-linear
# families on MNIST digits and Fashion-MNIST), then prints Table 1 of both data sets and
# draws its figures with analysis/table1.py: results/spectral-domain-table1.md,
# figures/spectral-domain/. With --short: 3 realizations instead of 5 and 10 epochs
# instead of 20 on Fashion-MNIST (about 1.5 core-hours instead of about 5).
# --compare runs the four comparison sweeps of docs/COMPARISON.md (sweeps/compare-*.yaml:
# every relevance method on a spectral and a dense network; retraining on the Gaussian,
# correlated and MNIST 0 vs 1 data) and writes, besides the summary and figures, the
# method and retraining tables (analysis/compare_tables.py: results/compare-*.md) and a
# report page per sweep (analysis/report.py: results/compare-*.html); about an hour on 2
# cores.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
short=0; np=$(nproc); names=(); spectral=0; compare=0
while [ $# -gt 0 ]; do
  case "$1" in
    --short) short=1 ;;
    --spectral-domain) spectral=1 ;;
    --compare) compare=1 ;;
    --np) np="$2"; shift ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) names+=("$1") ;;
  esac
  shift
done
all=(correlated-fig4 mnist-0v1 mnist-5v9 gaussian-fig3 spectra-fig11 mnist-all fashion-mnist
     regularization-mnist01 regularization-gaussian)
domain=(spectral-domain-perceptron spectral-domain-wide spectral-domain-deep
        spectral-domain-nonlinear)
comparison=(compare-gaussian compare-correlated compare-mnist01 compare-spectra)
# The k of the comparison tables' top-k column: the papers' claims (11 relevant Gaussian
# features, the 8 paired ones of fig. 4, ~20 pixels for 0 vs 1, ~100 wavelengths).
declare -A COMPARE_K=([compare-gaussian]=11 [compare-correlated]=8 [compare-mnist01]=20
                      [compare-spectra]=100)
if [ "$spectral" = 1 ]; then names=("${domain[@]}"); fi
if [ "$compare" = 1 ]; then names=("${comparison[@]}"); fi
[ ${#names[@]} -gt 0 ] || names=("${all[@]}")

# The reductions of --short: sed expressions applied to the sweep file.
declare -A SHORTEN=(
  [mnist-all]='s/^  epochs: 5000/  epochs: 1000/'
  [fashion-mnist]='s/^  epochs: 300/  epochs: 50/'
  [regularization-gaussian]='s/^seeds: 10/seeds: 3/; s/^    samples: 60000/    samples: 20000/'
)
# The spectral-domain sweeps: 3 seeds, and Fashion-MNIST (the larger set) at 10 epochs.
for name in "${domain[@]}"; do
  SHORTEN[$name]='s/^seeds: 5/seeds: 3/; /fashion-mnist\/t10k-labels/a\    training: {epochs: 10}'
done

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
  "$exe" summary "$out" > "results/$name.summary.txt"
  case "$name" in
    spectral-domain-*) ;;    # figures: analysis/table1.py below, over the four files
    *) cat "results/$name.summary.txt"
       /usr/bin/python3 analysis/figures.py "$out" --out "figures/$name" ;;
  esac
  case "$name" in
    compare-*) /usr/bin/python3 analysis/compare_tables.py "$out" --k "${COMPARE_K[$name]}" \
                 > "results/$name.md"
               /usr/bin/python3 analysis/report.py "$out" -o "results/$name.html"
               echo "reproduce: results/$name.md, results/$name.html" ;;
  esac
done
if [ "$spectral" = 1 ]; then
  files=()
  for name in "${domain[@]}"; do files+=("results/$name.h5"); done
  /usr/bin/python3 analysis/table1.py "${files[@]}" --out figures/spectral-domain \
    | tee results/spectral-domain-table1.md
fi
