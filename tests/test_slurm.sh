#!/usr/bin/env bash
# test_slurm: jobs/specsweep.sbatch and jobs/array.sbatch on a real single-node SLURM
# cluster (scripts/slurm-local.sh), as root.
#   a) a tiny sweep over 2 srun ranks completes; every run is in the results file
#   b) a sweep longer than its time limit: the pre-limit SIGUSR1 (--signal=B:USR1@58,
#      --time=1) stops specsweep (exit 3), the job requeues itself and resumes until done
#   c) `scancel --signal=USR1 --batch` mid-run: stopped, requeued, finished
#   d) a job array of two sweeps
#   e) a bad sweep file: exit 2, the job fails, no requeue
# Env: SPECSWEEP (the binary), SS_SOURCE_DIR (the repository). Exit 77 = skipped (not
# root, or this machine has a real SLURM configuration). KEEP=1 keeps the temp dir.
set -u
src="${SS_SOURCE_DIR:?SS_SOURCE_DIR must name the repository}"
bin="${SPECSWEEP:?SPECSWEEP must name the specsweep binary}"
py=/usr/bin/python3
pass=0 fail=0
ok() { echo "ok   - $*"; pass=$((pass + 1)); }
bad() { echo "FAIL - $*"; fail=$((fail + 1)); }
check() { # check DESCRIPTION COMMAND...
  local what="$1"; shift
  if "$@"; then ok "$what"; else bad "$what"; fi
}

if [ "$(id -u)" -ne 0 ]; then
  echo "test_slurm: skipped: starting a SLURM cluster needs root"
  echo "0 passed, 0 failed, 1 skipped"; exit 77
fi
if [ -e /etc/slurm/slurm.conf ] && ! grep -q "specsweep scripts/slurm-local.sh" /etc/slurm/slurm.conf; then
  echo "test_slurm: skipped: /etc/slurm/slurm.conf belongs to a real cluster"
  echo "0 passed, 0 failed, 1 skipped"; exit 77
fi

tmp="$(mktemp -d /tmp/specsweep-test-slurm.XXXXXX)"
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
export SPECSWEEP_BIN="$bin" OPENBLAS_NUM_THREADS=1
jobs_started=()
started=0

cleanup() {
  trap - EXIT INT TERM
  if ((${#jobs_started[@]})); then scancel "${jobs_started[@]}" 2>/dev/null; fi
  if [ "$started" = 1 ]; then
    "$src/scripts/slurm-local.sh" stop
  fi
  if [ "${KEEP:-0}" = 1 ] || [ "$fail" -gt 0 ]; then echo "test_slurm: files kept in $tmp"
  else rm -rf "$tmp"; fi
}
trap 'cleanup; echo "$pass passed, $((fail + 1)) failed"; exit 1' INT TERM
trap 'cleanup' EXIT

# ---- the cluster: our own (fresh state under $tmp), or one that already runs ----------
if command -v scontrol >/dev/null && scontrol ping 2>/dev/null | grep -q "is UP"; then
  echo "test_slurm: using the SLURM cluster that already runs"
else
  export SLURM_LOCAL_DIR="$tmp/cluster"
  started=1
  if ! "$src/scripts/slurm-local.sh" start; then
    bad "scripts/slurm-local.sh start"
    tail -30 "$tmp"/cluster/log/*.log 2>/dev/null
    cleanup; echo "$pass passed, $fail failed"; exit 1
  fi
fi
ok "cluster up: $(sinfo -h -N -o '%N %T %c CPUs' | head -1)"
if srun --mpi=list 2>&1 | grep -qw pmix; then ok "srun offers --mpi=pmix"
else bad "srun --mpi=list has no pmix: $(srun --mpi=list 2>&1 | tr '\n' ' ')"; fi

# ---- helpers ---------------------------------------------------------------------------
sweep() { # sweep FILE NAME SEEDS EPOCHS SAMPLES HIDDEN
  cat >"$tmp/$1" <<EOF
name: $2
output: $2.h5
seeds: $3
datasets:
  gauss6:
    kind: gaussian
    features: 6
    relevant: 3
    samples: $5
model:
  hidden: $6
training:
  epochs: $4
  batch_size: 100
EOF
}

submit() { # submit SBATCH-ARGS... : prints the job id
  local out
  out="$(cd "$tmp" && sbatch --parsable --chdir="$tmp" "$@")" || return 1
  out="${out%%;*}"
  jobs_started+=("$out")
  echo "$out"
}

field() { # field JOBID NAME: a field of `scontrol show job`, or of the last jobcomp line
  local v
  v="$(scontrol show job "$1" -o 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1)"
  if [ -z "$v" ] && [ -n "${SLURM_LOCAL_DIR:-}" ]; then
    v="$(grep "^JobId=$1 " "$SLURM_LOCAL_DIR/log/jobcomp.txt" 2>/dev/null | tail -1 |
         tr ' ' '\n' | sed -n "s/^$2=//p" | head -1)"
  fi
  echo "$v"
}

wait_job() { # wait_job JOBID SECONDS: until a final state; prints it
  local end=$((SECONDS + $2)) st=""
  while [ $SECONDS -lt $end ]; do
    st="$(field "$1" JobState)"
    case "$st" in
      COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE|PREEMPTED)
        echo "$st"; return 0 ;;
    esac
    sleep 1
  done
  echo "TIMEOUT_WAITING($st)"
  return 1
}

done_count() { # done_count SWEEP OUT: "D/N" from specsweep list
  (cd "$tmp" && "$bin" list "$1" -o "$2" 2>/dev/null | tail -1 |
     sed -n 's/^\([0-9]*\) runs: \([0-9]*\) done.*/\2\/\1/p')
}

all_runs_in_h5() { # all_runs_in_h5 SWEEP OUT: /runs holds exactly the sweep's runs, all ok
  local ids
  mapfile -t ids < <(cd "$tmp" && "$bin" list "$1" -o "$2" |
                     awk '$1 ~ /^(ok|diverged|failed|pending)$/ { print $2 }')
  ((${#ids[@]})) || return 1
  "$py" - "$tmp/$2" "${ids[@]}" <<'EOF'
import sys, h5py
want = set(sys.argv[2:])
with h5py.File(sys.argv[1], "r") as f:
    runs = f["runs"]
    have = set(runs.keys())
    status = {k: runs[k].attrs.get("status") for k in have}
status = {k: (v.decode() if isinstance(v, bytes) else str(v)) for k, v in status.items()}
not_ok = sorted(k for k, v in status.items() if v != "ok")
print(f"  {sys.argv[1]}: {len(have)} of {len(want)} runs in /runs;"
      f" missing {sorted(want - have)}; extra {sorted(have - want)}; not ok {not_ok}")
sys.exit(0 if have == want and not not_ok else 1)
EOF
}

show_out() { echo "---- $1"; sed 's/^/  | /' "$1" 2>/dev/null | tail -40; }

# ---- a) a tiny sweep over 2 ranks ------------------------------------------------------
sweep tiny.yaml tiny 2 5 1200 "[8]"
if jid="$(submit -n 2 --time=5 "$src/jobs/specsweep.sbatch" tiny.yaml)"; then
  st="$(wait_job "$jid" 120)"
  check "a) tiny sweep: job $jid state $st, exit $(field "$jid" ExitCode)" \
    test "$st:$(field "$jid" ExitCode)" = "COMPLETED:0:0"
  check "a) specsweep list: $(done_count tiny.yaml tiny.h5) done" test "$(done_count tiny.yaml tiny.h5)" = 2/2
  check "a) results file has every run" all_runs_in_h5 tiny.yaml tiny.h5
  check "a) ran on 2 srun ranks (pmix)" grep -q "on 2 ranks" "$tmp/specsweep-$jid.out"
  [ "$fail" -eq 0 ] || show_out "$tmp/specsweep-$jid.out"
else
  bad "a) sbatch failed"
fi

# ---- b) stopped by the pre-time-limit signal, requeued, resumed ------------------------
# SLURM checks time limits about every 30 s, so USR1@58 with --time=1 arrives 2-32 s into
# each attempt, and specsweep then finishes the runs in progress for up to 30 s: the sweep
# needs ~100 s of 2 otherwise idle cores (each run ~8 s at 1.2e7 samples/s), more than
# those 62 s, so at least one stop is certain even on a quiet machine.
sweep long.yaml long 24 12000 12000 "[32, 32]"
if jid="$(submit -n 2 --time=1 --signal=B:USR1@58 "$src/jobs/specsweep.sbatch" long.yaml)"; then
  st="$(wait_job "$jid" 600)"
  out="$tmp/specsweep-$jid.out"
  check "b) time-limited sweep: job $jid state $st, exit $(field "$jid" ExitCode), restarts $(field "$jid" Restarts)" \
    test "$st:$(field "$jid" ExitCode)" = "COMPLETED:0:0"
  check "b) the batch shell got the pre-limit SIGUSR1" grep -q "got SIGUSR1" "$out"
  check "b) specsweep stopped with exit 3 and the job requeued itself" \
    grep -q "specsweep exited 3" "$out"
  check "b) SLURM_RESTART_COUNT >= 1 in the output" grep -Eq "SLURM_RESTART_COUNT=[1-9]" "$out"
  check "b) specsweep list: $(done_count long.yaml long.h5) done" test "$(done_count long.yaml long.h5)" = 24/24
  check "b) results file has every run" all_runs_in_h5 long.yaml long.h5
  [ "$fail" -eq 0 ] || show_out "$out"
else
  bad "b) sbatch failed"
fi

# ---- c) scancel --signal=USR1 --batch mid-run ------------------------------------------
sweep mid.yaml mid 12 1000 4000 "[32, 32]"
if jid="$(submit -n 2 --time=10 "$src/jobs/specsweep.sbatch" mid.yaml)"; then
  end=$((SECONDS + 120))
  while [ $SECONDS -lt $end ]; do
    d="$(done_count mid.yaml mid.h5)"
    case "$d" in ""|0/*) sleep 0.3 ;; *) break ;; esac
  done
  scancel --signal=USR1 --batch "$jid"
  echo "  c) sent SIGUSR1 to job $jid at $d runs done"
  st="$(wait_job "$jid" 240)"
  out="$tmp/specsweep-$jid.out"
  check "c) stopped by scancel: job $jid state $st, exit $(field "$jid" ExitCode), restarts $(field "$jid" Restarts)" \
    test "$st:$(field "$jid" ExitCode)" = "COMPLETED:0:0"
  check "c) specsweep saw SIGUSR1 and exited 3" grep -q "stopped by SIGUSR1" "$out"
  check "c) SLURM_RESTART_COUNT >= 1 in the output" grep -Eq "SLURM_RESTART_COUNT=[1-9]" "$out"
  check "c) results file has every run" all_runs_in_h5 mid.yaml mid.h5
  [ "$fail" -eq 0 ] || show_out "$out"
else
  bad "c) sbatch failed"
fi

# ---- d) a job array of two sweeps ------------------------------------------------------
sweep arr1.yaml arr1 2 5 1200 "[8]"
sweep arr2.yaml arr2 3 5 1200 "[8]"
printf '# two sweeps\narr1.yaml\n\narr2.yaml -o arr2-other.h5\n' >"$tmp/list.txt"
if jid="$(submit --array=1-2 -n 1 --time=5 "$src/jobs/array.sbatch" list.txt)"; then
  end=$((SECONDS + 120))
  while [ $SECONDS -lt $end ] && squeue -h -j "$jid" 2>/dev/null | grep -q .; do sleep 1; done
  check "d) array task 1: $(done_count arr1.yaml arr1.h5) done" all_runs_in_h5 arr1.yaml arr1.h5
  check "d) array task 2 (with -o): $(done_count arr2.yaml arr2-other.h5) done" \
    all_runs_in_h5 arr2.yaml arr2-other.h5
  check "d) one output file per array task" test -s "$tmp/specsweep-array-${jid}_1.out" -a \
    -s "$tmp/specsweep-array-${jid}_2.out"
  [ "$fail" -eq 0 ] || for f in "$tmp"/specsweep-array-*.out; do show_out "$f"; done
else
  bad "d) sbatch --array failed"
fi

# ---- e) bad input ends the job (exit 2), no requeue ------------------------------------
printf 'name: broken\ndatasets: {g: {kind: nosuchkind}}\n' >"$tmp/broken.yaml"
if jid="$(submit -n 1 --time=5 "$src/jobs/specsweep.sbatch" broken.yaml)"; then
  st="$(wait_job "$jid" 60)"
  check "e) bad sweep file: job $jid state $st, exit $(field "$jid" ExitCode), restarts $(field "$jid" Restarts)" \
    test "$st:$(field "$jid" ExitCode):$(field "$jid" Restarts)" = "FAILED:2:0:0"
else
  bad "e) sbatch failed"
fi

cleanup
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
