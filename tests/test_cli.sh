#!/usr/bin/env bash
# The command line: exit codes, messages that name the file (and line:column), nothing
# written on bad input, hostile input refused at once (headers that lie, paths that are
# not files, tags, NUL bytes, deep nesting, huge files and grids), the writer lock, resume
# refusal after an edited sweep, a diverged run recorded while the sweep goes on,
# validate / list / summary.
set -uo pipefail
: "${SPECSWEEP:?}" "${SS_TEST_DIR:?}"
PY=/usr/bin/python3
tmp=$(mktemp -d /tmp/ss-cli-XXXXXX)
trap 'kill -9 $bg 2>/dev/null; rm -rf "$tmp"' EXIT
bg=
. "$SS_TEST_DIR/checks.sh"
run() { "$SPECSWEEP" "$@" > "$tmp/out" 2> "$tmp/err"; rc=$?; }

cd "$tmp"
cat > good.yaml <<'YAML'
name: cli
seeds: 2
datasets:
  g:
    kind: gaussian
    features: 6
    relevant: 3
    samples: 1200
model:
  hidden: [8]
  activations: [tanh]
training:
  epochs: 5
  batch_size: 100
relevance:
  topk: [1, 3, 6]
YAML

run;                      check "no arguments: exit 2 (got $rc)" '[ $rc -eq 2 ]'
run --version;            check "--version: exit 0" '[ $rc -eq 0 ] && grep -q "^specsweep [0-9]" out'
run --help;               check "--help: exit 0, shows usage" '[ $rc -eq 0 ] && grep -q "specsweep run SWEEP.yaml" out'
run frobnicate x.yaml;    check "unknown command: exit 2" '[ $rc -eq 2 ] && grep -q "unknown command" err'
run run good.yaml --bogus; check "unknown option: exit 2" '[ $rc -eq 2 ] && grep -q "unknown or incomplete option" err'
run run good.yaml --ranks-per-run 0; check "--ranks-per-run 0: exit 2" '[ $rc -eq 2 ]'
run run missing.yaml;     check "missing sweep file: exit 2 naming it" '[ $rc -eq 2 ] && grep -q "missing.yaml" err'

# A malformed sweep file: FILE:LINE:COLUMN, exit 2, nothing written.
sed 's/epochs: 5/epochs: 0/' good.yaml > bad.yaml
run run bad.yaml -o badout.h5
check "epochs 0: exit 2 (got $rc)" '[ $rc -eq 2 ]'
check "epochs 0: message is bad.yaml:LINE:COL ($(cat err))" 'grep -Eq "bad.yaml:1[0-9]:[0-9]+: .*epochs" err'
check "epochs 0: nothing written" '[ ! -e badout.h5 ] && [ ! -e badout.h5.log ]'
printf 'name: x\ndatasets:\n  g: {kind: gaussian\n' > syntax.yaml
run validate syntax.yaml; check "YAML syntax error: exit 2 with position ($(cat err))" '[ $rc -eq 2 ] && grep -Eq "syntax.yaml:[0-9]+:[0-9]+:" err'

# A dataset file that does not exist: exit 2 naming it, nothing written.
cat > idx.yaml <<'YAML'
name: idx
datasets:
  d:
    kind: idx
    train_images: nowhere/train-images.gz
    train_labels: nowhere/train-labels.gz
    test_images: nowhere/test-images.gz
    test_labels: nowhere/test-labels.gz
YAML
run run idx.yaml -o idxout.h5
check "missing dataset file: exit 2 naming it ($(cat err))" '[ $rc -eq 2 ] && grep -q "nowhere/train-images.gz" err'
check "missing dataset file: nothing written" '[ ! -e idxout.h5 ] && [ ! -e idxout.h5.log ]'

# Hostile input: every case exit 2 at once, naming the file (and line:column in a sweep
# file); none may hang or take memory (2 GB of address space is plenty for all of them;
# a sanitizer build needs its own address space and is only bound in time).
hostile() {
  ( [ -n "${SS_SANITIZE:-}" ] || ulimit -v 2000000
    timeout 20 "$SPECSWEEP" "$@" > "$tmp/out" 2> "$tmp/err" ); rc=$?
}
$PY -c '
import struct
open("lie-img", "wb").write(struct.pack(">IIII", 0x803, 2**31 - 1, 28, 28) + bytes(1008))
open("lab", "wb").write(struct.pack(">II", 0x801, 4) + bytes([0, 1, 0, 1]))
open("img", "wb").write(struct.pack(">IIII", 0x803, 4, 2, 2) + bytes(16))'
idx_yaml() { printf 'name: h\ndatasets:\n  d: {kind: idx, train_images: %s, train_labels: %s, test_images: img, test_labels: lab}\n' "$1" "$2" > "$3"; }
idx_yaml lie-img lab lie.yaml
hostile validate lie.yaml
check "IDX of 1 KB claiming 2^31 images: exit 2 naming it ($(cat err))" \
      '[ $rc -eq 2 ] && grep -q "lie-img: truncated: the header announces 2147483647 images" err'
idx_yaml /dev/zero lab zero.yaml
hostile validate zero.yaml
check "/dev/zero as IDX images: exit 2 naming it ($(cat err))" \
      '[ $rc -eq 2 ] && grep -q "/dev/zero: not a regular file (a character device)" err'
mkfifo fifo
printf 'name: h\ndatasets:\n  d: {kind: csv, path: fifo}\n' > fifo.yaml
hostile validate fifo.yaml
check "a FIFO as CSV path: exit 2 at once ($(cat err))" \
      '[ $rc -eq 2 ] && grep -q "fifo: not a regular file (a FIFO)" err'
$PY -c '
import h5py
with h5py.File("claim.h5", "w") as f:
    f.create_dataset("X", shape=(10**9, 1000), dtype="f4")
    f.create_dataset("y", shape=(10**9,), dtype="i1")'
printf 'name: h\ndatasets:\n  d: {kind: hdf5, path: claim.h5}\n' > claim.yaml
hostile validate claim.yaml
check "HDF5 X declared 1e9 x 1000: exit 2 naming it ($(cat err))" \
      '[ $rc -eq 2 ] && grep -q "claim.h5: dataset \"X\" declares 1000000000000 values" err'
printf 'name: h\ndatasets:\n  g: {kind: gaussian, features: 1000, samples: 1000000000}\n' > gen.yaml
hostile validate gen.yaml
check "samples: 1000000000: exit 2 at its line:column ($(cat err))" \
      '[ $rc -eq 2 ] && grep -q "gen.yaml:3:48: dataset .g.: 1000000000 samples x 1000 features would need" err'
printf 'name: h\nseeds: 1000000\ndatasets:\n  g: {kind: gaussian}\nsweep:\n  epochs: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n' > grid.yaml
hostile validate grid.yaml
check "a grid of 1e7 runs: exit 2 at its line:column ($(cat err))" \
      '[ $rc -eq 2 ] && grep -q "grid.yaml:2:8: the sweep has 10000000 runs" err'
printf 'name: h\ntraining:\n  epochs: !!str 3\ndatasets:\n  g: {kind: gaussian}\n' > tag.yaml
hostile validate tag.yaml
check "epochs: !!str 3: exit 2 at its line:column ($(cat err))" \
      '[ $rc -eq 2 ] && grep -q "tag.yaml:3:11: epochs must be a positive integer, got .3. (tagged as text)" err'
printf 'name: h\n\0datasets:\n  g: {kind: gaussian}\n' > nul.yaml
hostile validate nul.yaml
check "a NUL byte: exit 2 at its line:column ($(cat err))" \
      '[ $rc -eq 2 ] && grep -q "nul.yaml:2:1: a NUL byte" err'
{ printf 'name: h\ndatasets:\n  g: {kind: gaussian}\nx: '; head -c 200000 /dev/zero | tr '\0' '['; } > deep.yaml
hostile validate deep.yaml
check "200 KB of brackets: exit 2 at once ($(cat err))" \
      '[ $rc -eq 2 ] && grep -q "deep.yaml:4:67: nested deeper than 64 levels" err'
{ printf 'name: h\ndatasets:\n  g: {kind: gaussian}\n'; head -c 1100000 /dev/zero | tr '\0' '\n'; } > big.yaml
hostile validate big.yaml
check "a sweep file over 1 MB: exit 2 ($(cat err))" \
      '[ $rc -eq 2 ] && grep -q "big.yaml: the sweep file is larger than 1048576 bytes" err'
printf 'a,b,a,label\n1,2,3,0\n4,5,6,1\n7,8,9,0\n1,1,1,1\n1,2,3,0\n' > dup.csv
printf 'name: h\ndatasets:\n  d: {kind: csv, path: dup.csv}\n' > dup.yaml
hostile validate dup.yaml
check "duplicate CSV column names: exit 2 naming FILE:LINE ($(cat err))" \
      '[ $rc -eq 2 ] && grep -q "dup.csv:1: column 3 has the name \"a\" of column 1" err'

# validate and list.
run validate good.yaml;   check "validate: exit 0 and the plan" '[ $rc -eq 0 ] && grep -q "2 runs" out && grep -q "6 inputs" out'
run list good.yaml -o r.h5; check "list before running: all pending" '[ $rc -eq 0 ] && [ $(grep -c "^pending" out) -eq 2 ]'

# A real run, then summary and list.
run run good.yaml -o r.h5; check "run: exit 0 ($(tail -1 err))" '[ $rc -eq 0 ] && [ -s r.h5 ] && [ -s r.h5.log ]'
check "run: progress lines with runs done/total and ETA" 'grep -q "^\[1/2\] .*ETA" out && grep -q "^\[2/2\]" out'
check "run: closing line" 'grep -q "done: 2 runs (2 ok, 0 diverged)" out'
run list good.yaml -o r.h5; check "list after running: all ok" '[ $(grep -c "^ok" out) -eq 2 ]'
run summary r.h5;          check "summary: exit 0 with a cell line" '[ $rc -eq 0 ] && grep -q "g" out'
run summary nothere.h5;    check "summary of a missing file: exit 2" '[ $rc -eq 2 ] && grep -q "nothere.h5" err'
echo "not hdf5" > junk.h5
run summary junk.h5;       check "summary of a non-HDF5 file: exit 2" '[ $rc -eq 2 ] && grep -q "junk.h5" err'

# An edited sweep file is refused without --fresh, and nothing is touched.
sum_before=$(cat r.h5 r.h5.log | md5sum)
sed 's/epochs: 5/epochs: 6/' good.yaml > good2.yaml; cp good2.yaml good.yaml.edited
cp good.yaml good.orig.yaml; cp good2.yaml good.yaml
run run good.yaml -o r.h5
check "edited sweep: exit 2 mentioning --fresh ($(cat err))" '[ $rc -eq 2 ] && grep -q -- "--fresh" err'
check "edited sweep: results untouched" '[ "$(cat r.h5 r.h5.log | md5sum)" = "$sum_before" ]'
run run good.yaml -o r.h5 --fresh
check "--fresh: exit 0 and old files kept as .old" '[ $rc -eq 0 ] && [ -s r.h5.old ] && [ -s r.h5.log.old ]'
cp good.orig.yaml good.yaml

# A second writer on the same output is refused while the first runs.
sed -e 's/epochs: 5/epochs: 2000/' -e 's/samples: 1200/samples: 20000/' -e 's/hidden: \[8\]/hidden: [64]/' good.yaml > slow.yaml
"$SPECSWEEP" run slow.yaml -o slow.h5 > slow.out 2>&1 & bg=$!
for _ in $(seq 1 100); do [ -e slow.h5 ] && break; sleep 0.1; done
run run slow.yaml -o slow.h5
check "second writer refused: exit 2 with a clear message ($(cat err))" '[ $rc -eq 2 ] && grep -q "in use" err'
kill -9 $bg 2>/dev/null; wait $bg 2>/dev/null; bg=

# A run that diverges is recorded as such and the sweep goes on.
cat > div.yaml <<'YAML'
name: div
seeds: 1
datasets:
  g: {kind: gaussian, features: 6, relevant: 3, samples: 1200}
  h: {kind: gaussian, features: 6, relevant: 3, samples: 1200, training: {learning_rate: 1.0e+30}}
model: {hidden: [8], activations: [relu]}
training: {epochs: 20, batch_size: 100}
relevance: {topk: [1]}
YAML
run run div.yaml -o div.h5
check "diverging run: sweep exits 0 ($(tail -2 out))" '[ $rc -eq 0 ]'
check "diverging run: recorded with status diverged" '$PY -c "
import h5py,sys
f=h5py.File(\"div.h5\")
st={n: f[\"runs\"][n].attrs[\"status\"] for n in f[\"runs\"]}
st={k:(v.decode() if isinstance(v,bytes) else v) for k,v in st.items()}
sys.exit(0 if st.get(\"h__seed=0\")==\"diverged\" and st.get(\"g__seed=0\")==\"ok\" else 1)"'

checks_done
