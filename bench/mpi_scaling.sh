#!/usr/bin/env bash
# MPI scaling on this machine, side by side in one invocation:
#  1. a sweep of 8 equal runs (the fig. 3 network) at 2 ranks vs 1 rank: wall-time speed-up;
#  2. one MNIST-size run (784-100-100-50-10, relu, batch 500) on real Fashion-MNIST with
#     ranks_per_run 2 vs 1: training speed-up (train_seconds of the run, data parallel);
#  3. the gradient exchange of that run alone (380 KB on 2 ranks; bench/allreduce.c):
#     MPI_Allreduce with Open MPI's default choice, with each coll_tuned algorithm forced,
#     the part-wise exchange the training uses, and all of it without CMA single-copy.
# Each configuration runs REPEAT times (default 3), the configurations alternating; the
# best time of each counts (the machine is shared: the best is the least disturbed).
# Usage: bench/mpi_scaling.sh [BUILD_DIR] [REPEAT]   (default build/, 3). Prints a table;
# not a test. Extra mpirun options can be given in $MPIRUN_ARGS.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
exe="${1:-$root/build}/specsweep"
repeat="${2:-3}"
[ -x "$exe" ] || { echo "bench: build specsweep first (scripts/build.sh)"; exit 2; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
read -r -a extra <<< "${MPIRUN_ARGS:-}"
mpi=(mpirun --oversubscribe --bind-to core "${extra[@]}")
tmp=$(mktemp -d /tmp/ss-bench-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fm=/usr/share/datasets/fashion-mnist
[ -e "$fm/train-images-idx3-ubyte.gz" ] || { echo "bench: needs Debian's dataset-fashion-mnist"; exit 2; }

cat > "$tmp/eight.yaml" <<'YAML'
name: bench-eight
seeds: 8
datasets:
  g: {kind: gaussian, features: 20, relevant: 11, samples: 30000}
model: {hidden: [100, 100, 50], activations: [tanh, relu, relu]}
training: {epochs: 60, batch_size: 500}
relevance: {topk: [1, 5, 20]}
YAML
cat > "$tmp/mnist.yaml" <<YAML
name: bench-mnist
seeds: 1
datasets:
  fashion:
    kind: idx
    train_images: $fm/train-images-idx3-ubyte.gz
    train_labels: $fm/train-labels-idx1-ubyte.gz
    test_images: $fm/t10k-images-idx3-ubyte.gz
    test_labels: $fm/t10k-labels-idx1-ubyte.gz
model: {hidden: [100, 100, 50], activations: [relu, relu, relu]}
training: {epochs: 5, batch_size: 500, learning_rate: 1.0e-4}
relevance: {topk: [20]}
YAML

py() { /usr/bin/python3 -c "$@"; }
wall() { local t0=$EPOCHREALTIME; "$@" > /dev/null; py "print($EPOCHREALTIME - $t0)"; }
train_s() { py "
import h5py, sys
f = h5py.File(sys.argv[1]); r = list(f['runs'].values())[0]
print(r.attrs['train_seconds'])" "$1"; }
best() { py "import sys; print(min(float(x) for x in sys.argv[1:]))" "$@"; }

echo "sweep of 8 equal runs (20-100-100-50-2, 27000 samples x 60 epochs each), best of $repeat:"
w1=(); w2=()
for _ in $(seq "$repeat"); do
  w1+=("$(wall "${mpi[@]}" -np 1 "$exe" run "$tmp/eight.yaml" -o "$tmp/e1.h5" --fresh)")
  w2+=("$(wall "${mpi[@]}" -np 2 "$exe" run "$tmp/eight.yaml" -o "$tmp/e2.h5" --fresh)")
done
b1=$(best "${w1[@]}"); b2=$(best "${w2[@]}")
py "print(f'  1 rank  {$b1:7.2f} s   (all: ${w1[*]})\n  2 ranks {$b2:7.2f} s   (all: ${w2[*]})\n  speed-up {$b1/$b2:.2f} (target >= 1.85)')"

echo "one MNIST-size run (784-100-100-50-10, Fashion-MNIST 54000 samples x 5 epochs), best of $repeat:"
t1=(); t2=()
for _ in $(seq "$repeat"); do
  "${mpi[@]}" -np 1 "$exe" run "$tmp/mnist.yaml" -o "$tmp/m1.h5" --fresh > /dev/null
  t1+=("$(train_s "$tmp/m1.h5")")
  "${mpi[@]}" -np 2 "$exe" run "$tmp/mnist.yaml" -o "$tmp/m2.h5" --fresh --ranks-per-run 2 > /dev/null
  t2+=("$(train_s "$tmp/m2.h5")")
done
b1=$(best "${t1[@]}"); b2=$(best "${t2[@]}")
py "
n = 54000 * 5
print(f'  ranks_per_run 1  {$b1:6.2f} s  {n / $b1:9.0f} samples/s')
print(f'  ranks_per_run 2  {$b2:6.2f} s  {n / $b2:9.0f} samples/s')
print(f'  speed-up {$b1/$b2:.2f} (target >= 1.6)')"

ar="$(dirname "$exe")/bench/allreduce"
if [ -x "$ar" ]; then
  echo "gradient exchange alone (bench/allreduce, 2 ranks):"
  "${mpi[@]}" -np 2 "$ar"
  for alg in 1 2 3 4 5 6; do   # basic linear, nonoverlapping, recursive doubling, ring,
    printf '  coll_tuned_allreduce_algorithm %d:' "$alg"   # segmented ring, rabenseifner
    "${mpi[@]}" -np 2 --mca coll_tuned_use_dynamic_rules 1 \
      --mca coll_tuned_allreduce_algorithm "$alg" "$ar" | head -1 | sed 's/^ *allreduce//'
  done
  echo "  without CMA single-copy (btl_vader_single_copy_mechanism none):"
  "${mpi[@]}" -np 2 --mca btl_vader_single_copy_mechanism none "$ar"
fi
