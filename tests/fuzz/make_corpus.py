#!/usr/bin/python3
"""Write the seed corpora of the fuzz targets (tests/fuzz/README.md) into corpus/.

Seeds are small valid inputs, so that the fuzzer starts inside each format: the sweep
files of sweeps/ and a few with every section and tag, CSV tables, IDX image and label
pairs (plain and gzip), HDF5 file descriptions (see fuzz_hdf5.c). The log seeds are
results logs written by specsweep itself (README.md says how); this script keeps them.
Run from anywhere: /usr/bin/python3 tests/fuzz/make_corpus.py
"""
import os
import shutil
import struct

here = os.path.dirname(os.path.abspath(__file__))
corpus = os.path.join(here, "corpus")
root = os.path.dirname(os.path.dirname(here))


def write(kind, name, data):
    d = os.path.join(corpus, kind)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def fresh(kind):
    shutil.rmtree(os.path.join(corpus, kind), ignore_errors=True)


# ---- sweep files -----------------------------------------------------------------------
fresh("sweep")
for name in sorted(os.listdir(os.path.join(root, "sweeps"))):
    with open(os.path.join(root, "sweeps", name), "rb") as f:
        write("sweep", name, f.read())
write("sweep", "every-section.yaml", """name: all
output: out/all.h5
seeds: [3, 7, 11]
datasets:
  g: {kind: gaussian, features: 8, relevant: 4, samples: 500, sigma: 0.5, max_shift: 1.4}
  c: {kind: correlated, pair_probabilities: [0.7, 0.8], noise_features: 2}
  s: {kind: spectra, features: 40, metal_lines: 2, nuisance_lines: 1, samples: 50}
  t: {kind: csv, path: d.csv, label: y, task: regression, max_train: 10}
  i:
    kind: idx
    train_images: a.gz
    train_labels: b.gz
    test_images: c
    test_labels: d
    classes: [0, 1]
    scale: 0.5
    training: {learning_rate: 1.0e-3}
  h: {kind: hdf5, path: x.h5, task: classification, classes: [1, 0], data_seed: 2}
model:
  hidden: [16, 8]
  activations: [tanh, relu]
  spectral: first
  batchnorm_after_first: true
  dropout_after_first: 0.1
  train_lambda_out: false
training:
  optimizer: adam
  batch_size: 50
  epochs: 3
  validation_fraction: 0.1
  reg_eigenvectors: 1.0e-4
  train_eigenvectors: yes
  adam_beta1: 0.9
  adam_beta2: 0.999
  adam_epsilon: 1.0e-7
sweep:
  reg_eigenvalues: {logspace: [-4, -2, 3]}
  learning_rate: [0.1, 0.01]
relevance: {topk: [1, 2, 4], random_repeats: 2}
parallel: {ranks_per_run: 1}
""")
write("sweep", "tags-anchors.yaml", """%YAML 1.1
---
name: !!str tags
seeds: !!int 2
defaults: &d {kind: gaussian, samples: !!int "100"}
datasets: !!map
  a: *d
  b: {kind: gaussian, sigma: !!float 0.25, relevant: ! 3}
training: {train_eigenvectors: !!bool false, epochs: 2}
relevance: !!null
sweep: {batch_size: !!seq [10, 20]}
""")
write("sweep", "flow.yaml", '{name: f, datasets: {g: {kind: gaussian}}, seeds: 1, '
      'model: {hidden: [4]}, training: {epochs: 1}, sweep: {epochs: [1, 2]}}\n')

# ---- CSV: the first byte is fuzz_csv.c's flags -----------------------------------------
fresh("csv")
write("csv", "classes", b"\x00" + b"a,b,label\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n0.5,-1e3,1\n")
write("csv", "regression-y", b"\x03" + b"x1,y,x2\n1.5,0.25,3\n2,1e-3,4\n-1,7,2\n8,9,10\n")
write("csv", "quoted-crlf", b"\x04" + b'\xef\xbb\xbf"a ""q""", "b,c" ,label\r\n'
      b'"1",2,1\r\n 3 , 4 ,0\r\n\r\n5,6,1\r7,8,0\r\n')
write("csv", "subset-limits", b"\x3c" + b"f0,f1,f2,label\n" +
      b"".join(b"%d,%d,%d,%d\n" % (i, i * i, -i, i % 3) for i in range(12)))
write("csv", "miles-like", b"\x02" + b"3540.5,3541.0,3541.5,FeH\n" +
      b"1.0,0.98,0.97,-0.5\n0.99,0.95,0.9,-1.25\n1.01,0.99,0.985,0.1\n")


# ---- IDX: flags | images length (2 bytes) | images | labels ------------------------------
def idx_images(n, rows, cols):
    return struct.pack(">IIII", 0x803, n, rows, cols) + bytes((i * 37) % 256 for i in range(n * rows * cols))


def idx_labels(labels):
    return struct.pack(">II", 0x801, len(labels)) + bytes(labels)


fresh("idx")
for name, flags, n, rows, cols, labels in [
        ("plain", 0x00, 4, 3, 2, [0, 1, 2, 1]),
        ("gzip-both", 0x03, 6, 2, 2, [1, 0, 1, 0, 1, 0]),
        ("gzip-images-test-set", 0x05, 4, 4, 4, [0, 1, 0, 1]),
        ("plain-subset-limits", 0x58, 8, 2, 3, [0, 1, 2, 0, 1, 2, 1, 0])]:
    im, lb = idx_images(n, rows, cols), idx_labels(labels)
    write("idx", name, bytes([flags]) + struct.pack(">H", len(im)) + im + lb)
# raw gzip bytes in the input (flags clear): the fuzzer mutates the stream itself
import gzip
im, lb = idx_images(4, 2, 2), idx_labels([0, 1, 1, 0])
gz = gzip.compress(im, mtime=0)
write("idx", "raw-gzip-images", b"\x00" + struct.pack(">H", len(gz)) + gz + lb)


# ---- HDF5 descriptions: flags, then per dataset presence | type | rank | 3 dims |
#      storage | link (fuzz_hdf5.c), then bytes its values are cycled from --------------
def ds(type_code, rank, dims, storage=0, link=0):
    dims = list(dims) + [0] * (3 - len(dims))
    return bytes([0, type_code, rank]) + b"".join(struct.pack(">I", d) for d in dims) + \
        bytes([storage, link])


fresh("hdf5")
values = bytes(range(0, 64, 1))
write("hdf5", "f64-x-u8-y", b"\x00" + ds(6, 2, [8, 3]) + ds(0, 1, [8]) + b"\x00\x01" * 8 + values)
write("hdf5", "images-i32", b"\x00" + ds(0, 3, [6, 2, 2], 1) + ds(2, 1, [6], 2) + values)
write("hdf5", "regression-f32", b"\x01" + ds(5, 2, [5, 4], 3) + ds(6, 2, [5, 1]) + values)
write("hdf5", "test-set", b"\x10" + ds(1, 2, [6, 2]) + ds(0, 1, [6]) + ds(1, 2, [3, 2]) +
      ds(0, 1, [3], 0, 1) + b"\x00\x01\x00\x01\x00\x01" + values)
write("hdf5", "declared-only", b"\x02" + ds(5, 2, [0x80000001, 4], 4) + ds(0, 1, [4], 4))
