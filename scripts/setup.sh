#!/usr/bin/env bash
# Install what specsweep needs on Debian 12 (run as root, or with sudo available): the
# toolchain (gcc; clang with libFuzzer and the sanitizer runtimes for scripts/test-sanitize.sh),
# Open MPI, OpenBLAS, libyaml, HDF5, zlib, the Python of the analysis and its tests, and
# Chromium (headless, for the test of the report page) with a font.
# Idempotent: packages already present are skipped quickly.
set -euo pipefail
packages=(build-essential cmake pkg-config clang libclang-rt-14-dev
          libopenmpi-dev openmpi-bin libopenblas-dev libyaml-dev libhdf5-dev hdf5-tools zlib1g-dev
          python3-numpy python3-h5py python3-matplotlib python3-scipy python3-pytest
          chromium fonts-dejavu-core dataset-fashion-mnist)
# libxsmm (small-matrix kernels for the network's products; optional, x86-64 only)
if [ "$(dpkg --print-architecture)" = amd64 ]; then packages+=(libxsmm-dev); fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
