#!/usr/bin/env python3
"""Compare /runs of two specsweep results files bit for bit.

    h5compare.py A.h5 B.h5 [--tolerance REL]

Every run group, every attribute and every dataset must be present in both and equal
byte for byte (NaN equal to NaN), except timing attributes (train_seconds,
samples_per_second), which measure the machine, not the run. With --tolerance, float
datasets and attributes may differ by that relative amount instead (max abs diff
printed). Exit 0 if equal, 1 with the differences listed otherwise.
"""
import sys

import h5py
import numpy as np

TIMING = {"train_seconds", "samples_per_second"}


def same(a, b, tol):
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False, f"shape {a.shape} vs {b.shape}"
    if a.dtype.kind in "fc":
        if tol is None:
            eq = (a.tobytes() == b.astype(a.dtype).tobytes()) or np.array_equal(a, b, equal_nan=True) and a.dtype == b.dtype
            return bool(eq), "" if eq else f"max |diff| {np.nanmax(np.abs(a - b)) if a.size else 0:.3g}"
        scale = np.maximum(np.abs(a), np.abs(b))
        diff = np.abs(a - b)
        ok = np.all((diff <= tol * np.maximum(scale, 1e-12)) | (np.isnan(a) & np.isnan(b)))
        return bool(ok), f"max |diff| {np.nanmax(diff) if a.size else 0:.3g}"
    eq = np.array_equal(a, b)
    return bool(eq), "" if eq else f"{a!r} vs {b!r}"


def main():
    args = sys.argv[1:]
    tol = None
    if "--tolerance" in args:
        i = args.index("--tolerance")
        tol = float(args[i + 1])
        del args[i:i + 2]
    fa, fb = (h5py.File(p, "r") for p in args[:2])
    ra, rb = fa["runs"], fb["runs"]
    problems = []
    if set(ra) != set(rb):
        problems.append(f"run sets differ: only in A {sorted(set(ra) - set(rb))[:5]}, only in B {sorted(set(rb) - set(ra))[:5]}")
    for run in sorted(set(ra) & set(rb)):
        ga, gb = ra[run], rb[run]
        for k in sorted(set(ga.attrs) | set(gb.attrs)):
            if k in TIMING:
                continue
            if k not in ga.attrs or k not in gb.attrs:
                problems.append(f"{run}: attribute {k} missing on one side")
                continue
            ok, why = same(ga.attrs[k], gb.attrs[k], tol)
            if not ok:
                problems.append(f"{run}: attribute {k} differs ({why})")
        for k in sorted(set(ga) | set(gb)):
            if k not in ga or k not in gb:
                problems.append(f"{run}: dataset {k} missing on one side")
                continue
            ok, why = same(ga[k][()], gb[k][()], tol)
            if not ok:
                problems.append(f"{run}: dataset {k} differs ({why})")
    for p in problems[:40]:
        print(p)
    print(f"compared {len(set(ra) & set(rb))} runs: {'identical' if not problems else f'{len(problems)} differences'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
