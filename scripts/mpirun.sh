#!/usr/bin/env bash
# mpirun with the settings a single machine needs: root allowed, more ranks than cores
# allowed, one OpenBLAS thread per rank. Usage: scripts/mpirun.sh NP COMMAND...
set -euo pipefail
np="$1"; shift
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
exec mpirun -np "$np" --oversubscribe --bind-to none "$@"
