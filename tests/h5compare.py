#!/usr/bin/env python3
"""Compare /runs of two specsweep results files bit for bit.

    h5compare.py A.h5 B.h5 [--tolerance REL] [--all] [--additions]

Every run group, every attribute and every dataset must be present in both and equal
byte for byte (NaN equal to NaN), except timing attributes (train_seconds,
samples_per_second, and the relevance methods' seconds), which measure the machine, not
the run. With --all, /summary and
/datasets are compared the same way, group by group. With --additions, attributes and
datasets that only B has are allowed (B was written by a version that adds to the
format); everything A has must still be in B and equal. With --tolerance, float
datasets and attributes may differ by that relative amount instead (max abs diff
printed). Exit 0 if equal, 1 with the differences listed otherwise.
"""
import sys

import h5py
import numpy as np

TIMING = {"train_seconds", "samples_per_second", "seconds", "seconds_mean", "seconds_std"}
ADDITIONS = False


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
    global ADDITIONS
    if "--additions" in args:
        args.remove("--additions")
        ADDITIONS = True
    tops = ["runs"]
    if "--all" in args:
        args.remove("--all")
        tops += ["summary", "datasets"]
    fa, fb = (h5py.File(p, "r") for p in args[:2])
    problems = []
    for top in tops:
        compare_top(fa, fb, top, tol, problems)
    n = len(set(fa["runs"]) & set(fb["runs"]))
    for p in problems[:40]:
        print(p)
    print(f"compared {n} runs{' with summaries and datasets' if len(tops) > 1 else ''}: "
          f"{'identical' if not problems else f'{len(problems)} differences'}")
    return 1 if problems else 0


def compare_top(fa, fb, top, tol, problems):
    """Every group under /top: attributes and datasets (a nested group is walked too)."""
    ra, rb = fa[top], fb[top]
    if set(ra) != set(rb):
        problems.append(f"{top}: group sets differ: only in A {sorted(set(ra) - set(rb))[:5]}, only in B {sorted(set(rb) - set(ra))[:5]}")
    for run in sorted(set(ra) & set(rb)):
        compare_group(f"{top}/{run}", ra[run], rb[run], tol, problems)


def compare_group(run, ga, gb, tol, problems):
    """Attributes and datasets of one group, recursing into subgroups."""
    for k in sorted(set(ga.attrs) | set(gb.attrs)):
        if k in TIMING:
            continue
        if k not in ga.attrs or k not in gb.attrs:
            if not (ADDITIONS and k not in ga.attrs):
                problems.append(f"{run}: attribute {k} missing on one side")
            continue
        ok, why = same(ga.attrs[k], gb.attrs[k], tol)
        if not ok:
            problems.append(f"{run}: attribute {k} differs ({why})")
    for k in sorted(set(ga) | set(gb)):
        if k in TIMING:
            continue
        if k not in ga or k not in gb:
            if not (ADDITIONS and k not in ga):
                problems.append(f"{run}: dataset {k} missing on one side")
            continue
        if isinstance(ga[k], h5py.Group) or isinstance(gb[k], h5py.Group):
            if not (isinstance(ga[k], h5py.Group) and isinstance(gb[k], h5py.Group)):
                problems.append(f"{run}: {k} is a group on one side only")
            else:
                compare_group(f"{run}/{k}", ga[k], gb[k], tol, problems)
            continue
        ok, why = same(ga[k][()], gb[k][()], tol)
        if not ok:
            problems.append(f"{run}: dataset {k} differs ({why})")


if __name__ == "__main__":
    sys.exit(main())
