#!/usr/bin/env bash
# Nothing committed is ever lost: a damaged log (a flipped byte in a result, a dataset or
# the header record), a deleted log, a full disk, an output path that is not ours, --fresh
# twice, temporary files of a killed writer. Each case: the exit code, the message, and
# that the files hold what they must (compared with an undamaged sweep, bit for bit).
set -uo pipefail
: "${SPECSWEEP:?}" "${SS_TEST_DIR:?}"
PY=/usr/bin/python3
tmp=$(mktemp -d /tmp/ss-durable-XXXXXX)
full=""
trap '[ -n "$full" ] && umount "$full" 2>/dev/null; rm -rf "$tmp"' EXIT
. "$SS_TEST_DIR/checks.sh"
cd "$tmp"

cat > s.yaml <<'YAML'
name: durable
seeds: 3
datasets:
  g: {kind: gaussian, features: 8, relevant: 4, samples: 2000}
model: {hidden: [16], activations: [tanh]}
training: {epochs: 3, batch_size: 200}
sweep:
  reg_eigenvalues: [1.0e-3, 1.0e-2]
relevance: {topk: [1, 4]}
YAML
"$SPECSWEEP" run s.yaml -o ref.h5 > ref.out 2>&1; rc=$?
check "reference sweep exits 0 (got $rc)" '[ $rc -eq 0 ]'

# Offsets of the log's records: "type offset length" per line.
records() {
  $PY - "$1" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read()
off = 8
while off + 16 <= len(b):
    magic, t, n = struct.unpack_from("<IIQ", b, off)
    print(t, off, 16 + n + 4)
    off += 16 + n + 4
PY
}
# flip LOG OFFSET: xor one byte
flip() { $PY -c 'import sys; p, o = sys.argv[1], int(sys.argv[2]); b = bytearray(open(p, "rb").read()); b[o] ^= 0x5a; open(p, "wb").write(b)' "$1" "$2"; }
fresh_copy() { rm -f r.h5 r.h5.log r.h5.log.damaged.*; cp ref.h5 r.h5; cp ref.h5.log r.h5.log; }

# ---- 1. a flipped byte in the middle of the log, in each kind of record ------------------
for kind in result dataset header; do
  fresh_copy
  case $kind in
    result)  off=$(records r.h5.log | awk '$1 == 3' | sed -n 2p | awk '{print $2 + 40}') ;;
    dataset) off=$(records r.h5.log | awk '$1 == 2 {print $2 + 30; exit}') ;;
    header)  off=$(records r.h5.log | awk '$1 == 1 {print $2 + 30; exit}') ;;
  esac
  flip r.h5.log "$off"
  cp r.h5.log damaged.log; cp r.h5 damaged.h5
  "$SPECSWEEP" list s.yaml -o r.h5 > list.out 2> list.err; rc=$?
  check "$kind record damaged: list exits 2 (got $rc)" '[ $rc -eq 2 ]'
  check "$kind record damaged: list names file, offset and intact records" \
        'grep -q "r.h5.log is damaged: .* at byte offset [0-9]* .*, and [0-9]* intact record" list.err'
  "$SPECSWEEP" summary r.h5 > sum.out 2> sum.err; rc=$?
  check "$kind record damaged: summary warns" '[ $rc -eq 0 ] && grep -q "r.h5.log is damaged" sum.err'
  "$SPECSWEEP" run s.yaml -o r.h5 > run.out 2>&1; rc=$?
  check "$kind record damaged: run refuses (exit 2, got $rc) and points to --salvage" \
        '[ $rc -eq 2 ] && grep -q "nothing was changed" run.out && grep -q -- "--salvage" run.out'
  check "$kind record damaged: the refusal changed no byte" 'cmp -s r.h5.log damaged.log && cmp -s r.h5 damaged.h5'
  "$SPECSWEEP" run s.yaml -o r.h5 --salvage > salvage.out 2>&1; rc=$?
  check "$kind record damaged: --salvage exits 0 (got $rc)" '[ $rc -eq 0 ]'
  check "$kind record damaged: the damaged bytes are kept aside" '[ -s r.h5.log.damaged.0 ]'
  check "$kind record damaged: no run is trained again (the snapshot gives back the lost one)" \
        'grep -q "6 done, 0 to run" salvage.out'
  $PY "$SS_TEST_DIR/h5compare.py" ref.h5 r.h5 --all > cmp.out; rc=$?
  check "$kind record damaged: salvaged results equal the undamaged sweep ($(tail -1 cmp.out))" '[ $rc -eq 0 ]'
  n=$("$SPECSWEEP" list s.yaml -o r.h5 2>/dev/null | grep -c '^ok')
  check "$kind record damaged: the log holds all 6 runs again (got $n)" '[ "$n" -eq 6 ]'
done

# A second salvage never overwrites the first one's damaged bytes.
off=$(records r.h5.log | awk '$1 == 3' | sed -n 3p | awk '{print $2 + 50}')
flip r.h5.log "$off"
"$SPECSWEEP" run s.yaml -o r.h5 --salvage > salvage2.out 2>&1; rc=$?
check "second salvage exits 0 and keeps the first one's bytes" '[ $rc -eq 0 ] && [ -s r.h5.log.damaged.0 ] && [ -s r.h5.log.damaged.1 ]'

# Without the snapshot's help, --salvage trains exactly the damaged run again.
fresh_copy
rm r.h5
off=$(records r.h5.log | awk '$1 == 3' | sed -n 4p | awk '{print $2 + 60}')
flip r.h5.log "$off"
"$SPECSWEEP" run s.yaml -o r.h5 --salvage > salvage3.out 2>&1; rc=$?
check "salvage without a snapshot trains only the damaged run (exit $rc)" \
      '[ $rc -eq 0 ] && grep -q "5 done, 1 to run" salvage3.out'
$PY "$SS_TEST_DIR/h5compare.py" ref.h5 r.h5 --all > cmp.out; rc=$?
check "the damaged run trained again equals the original ($(tail -1 cmp.out))" '[ $rc -eq 0 ]'

# ---- 2. a deleted log: the snapshot still holds every run -------------------------------
fresh_copy
rm r.h5.log
"$SPECSWEEP" run s.yaml -o r.h5 > nolog.out 2>&1; rc=$?
check "results file without its log: refused (exit 2, got $rc), --fresh and --salvage offered" \
      '[ $rc -eq 2 ] && grep -q -- "--salvage" nolog.out && cmp -s r.h5 ref.h5'
"$SPECSWEEP" run s.yaml -o r.h5 --salvage > nolog2.out 2>&1; rc=$?
check "--salvage rebuilds the log from the results file without training (exit $rc)" \
      '[ $rc -eq 0 ] && grep -q "6 done, 0 to run" nolog2.out'
$PY "$SS_TEST_DIR/h5compare.py" ref.h5 r.h5 --all > cmp.out; rc=$?
check "results rebuilt from the recovered log equal the original ($(tail -1 cmp.out))" '[ $rc -eq 0 ]'

# ---- 3. output paths that are not ours ----------------------------------------------------
mkdir outdir; echo keep > outdir/x
for flag in "" --fresh; do
  "$SPECSWEEP" run s.yaml -o outdir $flag > dir.out 2>&1; rc=$?
  check "-o a directory ${flag:-(plain)}: exit 2 (got $rc), no advice to use --fresh, untouched" \
        '[ $rc -eq 2 ] && grep -q "is a directory" dir.out && ! grep -q -- "--fresh" dir.out && [ -d outdir ] && [ -f outdir/x ] && [ ! -e outdir.old ]'
done
# a device node of our own (a character device like /dev/null), never a system one
if mknod dev.h5 c 1 3 2>/dev/null; then
  "$SPECSWEEP" run s.yaml -o dev.h5 --fresh > dev.out 2>&1; rc=$?
  check "-o a device: exit 2 (got $rc), left in place" '[ $rc -eq 2 ] && grep -q "is a device" dev.out && [ -c dev.h5 ] && [ ! -e dev.h5.old ]'
else
  echo "note: not root, the device case (mknod) is not run here"
fi
mkfifo fifo.h5
timeout 20 "$SPECSWEEP" run s.yaml -o fifo.h5 > fifo.out 2>&1; rc=$?
check "-o a FIFO: exit 2 at once (got $rc)" '[ $rc -eq 2 ] && grep -q "is a FIFO" fifo.out'
echo "precious notes" > notes.h5
for flag in "" --fresh; do
  "$SPECSWEEP" run s.yaml -o notes.h5 $flag > notes.out 2>&1; rc=$?
  check "-o a file that is not a results file ${flag:-(plain)}: exit 2 (got $rc), untouched" \
        '[ $rc -eq 2 ] && grep -q "not a specsweep results file" notes.out && [ "$(cat notes.h5)" = "precious notes" ] && [ ! -e notes.h5.old ]'
done

# ---- 4. --fresh twice rotates: nothing of the first sweep is overwritten ------------------
rm -f f.h5*
"$SPECSWEEP" run s.yaml -o f.h5 > /dev/null 2>&1
cp f.h5.log first.log
"$SPECSWEEP" run s.yaml -o f.h5 --fresh > fresh1.out 2>&1
"$SPECSWEEP" run s.yaml -o f.h5 --fresh > fresh2.out 2>&1; rc=$?
check "--fresh twice: f.h5.old and f.h5.old.1 (logs too), the first sweep's log intact" \
      '[ $rc -eq 0 ] && [ -f f.h5.old ] && [ -f f.h5.old.1 ] && cmp -s f.h5.log.old first.log && [ -f f.h5.log.old.1 ]'
check "--fresh says where the old results went" 'grep -q "kept as f.h5.old.1 and f.h5.log.old.1" fresh2.out'

# ---- 5. temporary snapshots of a killed writer are removed under the lock -----------------
touch f.h5.tmp.12345 f.h5.tmp.999 f.h5.tmp.keep
"$SPECSWEEP" run s.yaml -o f.h5 > tmpfiles.out 2>&1; rc=$?
check "stale f.h5.tmp.<pid> files removed, others kept (exit $rc)" \
      '[ $rc -eq 0 ] && [ ! -e f.h5.tmp.12345 ] && [ ! -e f.h5.tmp.999 ] && [ -e f.h5.tmp.keep ] && grep -q "removed 2 temporary files" tmpfiles.out'

# ---- 6. a full disk: exit 1 with a true message, never a crash; resumable ----------------
sed 's/seeds: 3/seeds: 20/' s.yaml > s20.yaml
"$SPECSWEEP" run s20.yaml -o ref20.h5 > /dev/null 2>&1
full="$tmp/full"
mkdir -p "$full"
if mount -t tmpfs -o size=120k tmpfs "$full" 2>/dev/null; then
  "$SPECSWEEP" run s20.yaml -o "$full/r.h5" > full.out 2>&1; rc=$?
  check "snapshot on a full disk: exit 1, not a crash (got $rc)" '[ $rc -eq 1 ]'
  check "full disk: the message says the committed runs are in the log" \
        'grep -q "No space left on device" full.out && grep -q "committed runs are in the log $full/r.h5.log" full.out'
  check "full disk: no temporary file left" '! ls "$full" | grep -q tmp'
  umount "$full"; mount -t tmpfs -o size=60k tmpfs "$full"
  "$SPECSWEEP" run s20.yaml -o "$full/r.h5" > full2.out 2>&1; rc=$?
  check "log on a full disk: exit 1, not a crash (got $rc)" '[ $rc -eq 1 ] && grep -q "No space left on device" full2.out'
  mkdir big; cp "$full"/r.h5* big/ 2>/dev/null
  umount "$full"; full=""
  (cd big && "$SPECSWEEP" run ../s20.yaml -o r.h5 > ../full3.out 2>&1); rc=$?
  check "after the disk is freed, the same command resumes (exit $rc)" '[ $rc -eq 0 ]'
  $PY "$SS_TEST_DIR/h5compare.py" ref20.h5 big/r.h5 --all > cmp.out; rc=$?
  check "resumed after a full disk: equal to an undisturbed sweep ($(tail -1 cmp.out))" '[ $rc -eq 0 ]'
elif [ "$(id -u)" -eq 0 ]; then
  check "root can mount a small tmpfs for the full-disk case" 'false'
else
  echo "note: not root, the full-disk case (a small tmpfs) is not run here"
fi

checks_done
