#!/usr/bin/env bash
# Memory and start-up of a sweep on real Fashion-MNIST (60000 + 10000 images of 784
# pixels, 220 MB as float32) at 1, 2 and 4 ranks on this machine (oversubscribed where
# needed), side by side in one invocation:
#  1. memory: 4 small runs (784-32-10, 2 epochs each), the peak over time of the sum of
#     every rank's proportional set size (PSS, /proc/PID/smaps_rollup: a page that n
#     processes map counts 1/n in each, so a copy the ranks share counts once) and of
#     their resident set sizes (RSS: a shared page counts once per rank), sampled every
#     20 ms; and the ratio of the summed peak PSS to the 1-rank peak;
#  2. start-up: the wall time of one run of one epoch of a tiny network (784-8-10) per
#     rank, from mpirun's start to its exit: MPI start-up, rank 0's check of the data,
#     the loads of the data, one epoch and the snapshot; the longest train_seconds of the
#     runs (the epoch itself) is printed beside it.
# Each configuration runs REPEAT times (default 3), the configurations alternating; memory
# prints the smallest and largest peak, start-up the best wall time and all of them.
# Usage: bench/memory.sh [BUILD_DIR] [REPEAT]   (default build/, 3). The data: data/
# fashion-mnist (scripts/fetch-data.sh), or the directory in $FASHION_DIR. Environment
# given to specsweep (SPECSWEEP_SHARED_DATA=0 for one copy of the data per rank) passes
# through. Prints a table; not a test.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
exe="${1:-$root/build}/specsweep"
repeat="${2:-3}"
fm="${FASHION_DIR:-$root/data/fashion-mnist}"
[ -x "$exe" ] || { echo "bench: build specsweep first (scripts/build.sh)"; exit 2; }
[ -e "$fm/train-images-idx3-ubyte.gz" ] || { echo "bench: no Fashion-MNIST in $fm (scripts/fetch-data.sh)"; exit 2; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
mpi=(mpirun --oversubscribe --bind-to none)
tmp=$(mktemp -d /tmp/ss-memory-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

dataset() {
  cat <<YAML
datasets:
  fashion:
    kind: idx
    train_images: $fm/train-images-idx3-ubyte.gz
    train_labels: $fm/train-labels-idx1-ubyte.gz
    test_images: $fm/t10k-images-idx3-ubyte.gz
    test_labels: $fm/t10k-labels-idx1-ubyte.gz
YAML
}
{ echo "name: bench-memory"; echo "seeds: 4"; dataset
  echo "model: {hidden: [32], activations: [relu]}"
  echo "training: {epochs: 2, batch_size: 500}"
  echo "relevance: {topk: [20]}"; } > "$tmp/memory.yaml"
for np in 1 2 4; do
  { echo "name: bench-startup"; echo "seeds: $np"; dataset
    echo "model: {hidden: [8], activations: [relu]}"
    echo "training: {epochs: 1, batch_size: 500}"
    echo "relevance: {topk: [20]}"; } > "$tmp/startup$np.yaml"
done

# sample.py OUT COMMAND...: runs COMMAND in its own session, samples the PSS and RSS of
# every specsweep process in that session, and writes "peak_pss_kb peak_rss_kb wall_s rc"
# to OUT (each peak is the largest sum over one sample).
cat > "$tmp/sample.py" <<'PY'
import os, subprocess, sys, time

def fields(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("Rss", "Pss"):
                    out[k] = int(v.split()[0])
    except OSError:
        pass
    return out

def ranks(sid):
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
        except OSError:
            continue
        comm = st[st.index("(") + 1:st.rindex(")")]
        rest = st[st.rindex(")") + 2:].split()
        if comm == "specsweep" and int(rest[3]) == sid:
            pids.append(int(d))
    return pids

out, cmd = sys.argv[1], sys.argv[2:]
t0 = time.monotonic()
p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True)
peak_pss = peak_rss = 0
while p.poll() is None:
    pss = rss = 0
    for pid in ranks(p.pid):
        f = fields(pid)
        pss += f.get("Pss", 0)
        rss += f.get("Rss", 0)
    peak_pss, peak_rss = max(peak_pss, pss), max(peak_rss, rss)
    time.sleep(0.02)
wall = time.monotonic() - t0
with open(out, "w") as f:
    f.write(f"{peak_pss} {peak_rss} {wall:.3f} {p.returncode}\n")
PY

py() { /usr/bin/python3 -c "$@"; }
max_train_s() { py "
import h5py, sys
f = h5py.File(sys.argv[1]); print(max(r.attrs['train_seconds'] for r in f['runs'].values()))" "$1"; }

declare -A pss rss wall
for _ in $(seq "$repeat"); do
  for np in 1 2 4; do
    /usr/bin/python3 "$tmp/sample.py" "$tmp/m.txt" "${mpi[@]}" -np $np "$exe" run "$tmp/memory.yaml" -o "$tmp/m$np.h5" --fresh
    read -r p r _ rc < "$tmp/m.txt"
    [ "$rc" -eq 0 ] || { echo "bench: the memory sweep at $np ranks exited $rc"; exit 1; }
    pss[$np]+="$p "; rss[$np]+="$r "
    t0=$EPOCHREALTIME
    "${mpi[@]}" -np $np "$exe" run "$tmp/startup$np.yaml" -o "$tmp/s$np.h5" --fresh > /dev/null \
      || { echo "bench: the start-up sweep at $np ranks failed"; exit 1; }
    wall[$np]+="$(py "print(f'{$EPOCHREALTIME - $t0:.2f}')")/$(max_train_s "$tmp/s$np.h5") "
  done
done

echo "memory: 4 runs 784-32-10 x 2 epochs on Fashion-MNIST; peak of the sum over ranks, MB (min-max of $repeat)${SPECSWEEP_SHARED_DATA:+; SPECSWEEP_SHARED_DATA=$SPECSWEEP_SHARED_DATA}"
printf '  %-6s %16s %16s %14s\n' ranks "PSS" "RSS" "PSS / 1 rank"
one=$(py "print(min(int(x) for x in '${pss[1]}'.split()))")
for np in 1 2 4; do
  py "
p = sorted(int(x) / 1024 for x in '${pss[$np]}'.split())
r = sorted(int(x) / 1024 for x in '${rss[$np]}'.split())
print(f'  {$np:<6} {p[0]:7.0f}-{p[-1]:<7.0f} {r[0]:7.0f}-{r[-1]:<7.0f} {p[0] * 1024 / $one:13.2f}x')"
done
echo "start-up: one run of 1 epoch (784-8-10) per rank, wall time of mpirun, s (best; all as wall/longest train_seconds)"
for np in 1 2 4; do
  py "
w = [tuple(float(v) for v in x.split('/')) for x in '${wall[$np]}'.split()]
print(f'  {$np} rank{\"s\" if $np > 1 else \" \"}  {min(a for a, _ in w):6.2f}   (' + ', '.join(f'{a:.2f}/{b:.2f}' for a, b in w) + ')')"
done
