#!/usr/bin/env python3
"""Many short runs: does a large study stay cheap for rank 0?

    bench/many_runs.py [--runs N] [--epochs E] [--specsweep BUILD/specsweep] [--keep DIR]

Runs one sweep of N tiny runs (default 20,000: a regularization study of N / 10 strengths
x 10 seeds, a 4-2-2 network on 125 Gaussian samples) whose learning curves are E epochs
long (default 500), in one process, and reports:

  - runs per second over the first and the last 1,000 runs (the time per run must not
    grow as the results accumulate);
  - the snapshots' share of the wall time (specsweep's closing line; it bounds it at 5 %
    by spacing snapshots, see engine.c);
  - the process's peak resident memory (rank 0 keeps only the scalars of each result; the
    arrays stay in the log and are read back for each snapshot);
  - the sizes of the log and the results file.

The machine's load changes the seconds; the memory and the ratios are what to compare.
"""
import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

SWEEP = """name: many-runs
seeds: 10
sweep:
  reg_eigenvalues: {{logspace: [-6, -1, {cells}]}}
datasets:
  g: {{kind: gaussian, features: 4, relevant: 2, samples: 125}}
model: {{hidden: [2], activations: [tanh]}}
training: {{epochs: {epochs}, batch_size: 100}}
relevance: {{topk: [1, 2]}}
"""


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=20000)
    ap.add_argument("--epochs", type=int, default=500)
    ap.add_argument("--specsweep", default=os.path.join(root, "build", "specsweep"))
    ap.add_argument("--keep", help="directory for the sweep and its results (kept)")
    args = ap.parse_args()

    work = args.keep or tempfile.mkdtemp(prefix="ss-many-")
    os.makedirs(work, exist_ok=True)
    sweep = os.path.join(work, "many.yaml")
    out = os.path.join(work, "many.h5")
    for f in (out, out + ".log"):
        if os.path.exists(f):
            os.remove(f)
    with open(sweep, "w") as f:
        f.write(SWEEP.format(cells=max(1, args.runs // 10), epochs=args.epochs))

    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    t0 = time.monotonic()
    stamps, tail = [], []
    proc = subprocess.Popen([args.specsweep, "run", sweep, "-o", out], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    for line in proc.stdout:
        if line.startswith("["):
            stamps.append(time.monotonic() - t0)
        else:
            tail.append(line.rstrip())
    rc = proc.wait()
    wall = time.monotonic() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if rc != 0:
        print("\n".join(tail[-10:]))
        sys.exit(f"specsweep exited {rc}")

    def rate(a, b):
        return (b - a) / (stamps[b - 1] - stamps[a - 1]) if stamps[b - 1] > stamps[a - 1] else float("nan")

    n = len(stamps)
    k = min(1000, n // 2)
    share = next((m.group(1) for l in tail for m in [re.search(r"snapshots took .*, ([0-9.]+) %", l)] if m), "?")
    print(f"{n} runs of {args.epochs} epochs in {wall:.1f} s ({n / wall:.0f} runs/s)")
    print(f"runs/s, first {k}: {rate(1, k):.0f}   last {k}: {rate(n - k + 1, n):.0f}")
    print(f"snapshots: {share} % of the wall time")
    print(f"peak resident memory: {peak_kb / 1024:.0f} MB")
    print(f"log {os.path.getsize(out + '.log') / 1e6:.0f} MB, results file {os.path.getsize(out) / 1e6:.0f} MB"
          + (f"  ({work})" if args.keep else ""))


if __name__ == "__main__":
    main()
