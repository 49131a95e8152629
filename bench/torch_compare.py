#!/usr/bin/python3
"""specsweep against PyTorch on the same spectral networks, side by side in one run.

    /usr/bin/python3 bench/torch_compare.py [--build DIR] [--baseline DIR] [--repeat N]
                                [--fashion] [--fig3-epochs E] [--mnist-epochs E]
                                [--only fig3|mnist]

Both sides train the identical network on the identical samples with one core:
spectral layers w = psi * (lambda_in[:, None] - lambda_out[None, :]) with lambda_out
frozen at 0, the same activations, softmax cross-entropy, Adam (Keras lr, betas,
epsilon 1e-7), L2 reg_eigenvalues * sum(lambda_in^2) + reg_eigenvectors * sum(psi^2) on
the first layer, shuffled minibatches of 500, a validation pass over the held-out 10 %
after every epoch. specsweep runs its own command (`specsweep run`, no mpirun) and its
samples/s is the run's `samples_per_second` in the results file (epochs x training
samples / train_seconds, the epoch loop with its validation passes, no data loading).
The PyTorch side times exactly that too: its epochs with their validation passes, from
the first minibatch to the last validation pass. Repetitions alternate between the two;
the best of each counts.

  (a) fig. 3 network 20-100-100-50-2 (tanh, relu, relu), independent Gaussian data
      (60000 samples, 20 features, 11 relevant; specsweep generates them and exports the
      run's training/validation rows, so PyTorch trains on the same samples);
  (b) MNIST network 784-100-100-50-10 (relu) on the real MNIST digits in data/mnist
      (scripts/fetch-data.sh), or with --fashion on Fashion-MNIST
      (/usr/share/datasets/fashion-mnist);
  (c) the training step's share of the FLOP rate of its own products alone, through the
      kernels the network chose (bench binary net_step, dense inputs; OpenBLAS sgemm's
      rate on the same shapes beside it), and the whole run's (FLOPs of the dense
      products x samples/s: above 100 % when the first layer skips zero inputs);
  (d) peak memory (max RSS) of one specsweep run; for (b) against the dataset's float32 size;
  (e) the bound: the core's peak float32 FMA rate (net_step peak) over the FLOPs of a
      training sample (its step plus its share of the validation passes) is the most
      samples/s any float32 implementation of the dense products can reach here;
  (f) which kernel computes each kind of product (forward, weight gradient, input
      gradient): libxsmm, OpenBLAS or the sparse first layer, as shares of the kind's
      FLOPs (dense-equivalent), from net_step's record of the network's kernels (mm.h).

--baseline DIR: a second build (an earlier version) whose `specsweep run` takes its turn
in every repetition too, so that before and after are measured side by side in the same
run; its samples/s, ratio, share of the bound and peak memory are printed beside the
build's. The targets are the build's alone.

Exit status 0 when every target holds, 1 when one is missed, 2 when something needed is
missing (PyTorch: `apt-get install python3-torch`; the build: scripts/build.sh).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

# One thread everywhere, before numpy/torch load their BLAS.
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"


def start_runner():
    """Fork, while this interpreter is still small, a helper that runs commands and reports
    their exit status and peak memory. A process's max RSS counts the pages it had before
    exec, so a child forked later from this process (numpy, torch and the data loaded)
    would report this process's size; the helper's children start from a few MB."""
    req_r, req_w = os.pipe()
    rep_r, rep_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(req_w)
        os.close(rep_r)
        with os.fdopen(req_r) as req, os.fdopen(rep_w, "w") as rep:
            for line in req:
                argv, env, log = json.loads(line)
                child = os.fork()
                if child == 0:
                    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                    os.dup2(fd, 1)
                    os.dup2(fd, 2)
                    try:
                        os.execve(argv[0], argv, env)
                    finally:
                        os._exit(127)
                _, status, usage = os.wait4(child, 0)
                rep.write(json.dumps([os.waitstatus_to_exitcode(status),
                                      usage.ru_maxrss / 1024.0]) + "\n")
                rep.flush()
        os._exit(0)
    os.close(req_r)
    os.close(rep_w)
    return os.fdopen(req_w, "w"), os.fdopen(rep_r)


RUNNER = start_runner()

import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# samples/s vs PyTorch; the step's share of its products' rate; the fig. 3 run's share of
# the peak bound (e)
TARGET_FIG3, TARGET_DIGITS, TARGET_FASHION, TARGET_GEMM, TARGET_PEAK = 4.0, 3.0, 2.5, 0.60, 0.65

FIG3_YAML = """name: bench-fig3
seeds: 1
datasets:
  gauss20: {{kind: gaussian, features: 20, relevant: 11, samples: 60000, sigma: 0.5,
            max_shift: 1.4, data_seed: 1}}
model: {{hidden: [100, 100, 50], activations: [tanh, relu, relu]}}
training: {{learning_rate: 1.0e-2, batch_size: 500, epochs: {epochs},
           reg_eigenvalues: 1.0e-2, reg_eigenvectors: 1.0e-4}}
relevance: {{topk: [1]}}
"""

MNIST_YAML = """name: bench-mnist
seeds: 1
datasets:
  images:
    kind: idx
    train_images: {d}/train-images-idx3-ubyte.gz
    train_labels: {d}/train-labels-idx1-ubyte.gz
    test_images: {d}/t10k-images-idx3-ubyte.gz
    test_labels: {d}/t10k-labels-idx1-ubyte.gz
model: {{hidden: [100, 100, 50], activations: [relu, relu, relu]}}
training: {{learning_rate: 1.0e-4, batch_size: 500, epochs: {epochs},
           reg_eigenvalues: 1.0e-2, reg_eigenvectors: 1.0e-4}}
relevance: {{topk: [1]}}
"""


def die(msg, code=2):
    print(f"torch_compare: {msg}", file=sys.stderr)
    sys.exit(code)


def run_specsweep(exe, sweep, out, env):
    """One `specsweep run` (through the runner); returns (samples_per_second, max RSS in MB
    of the specsweep process)."""
    for p in (out, out + ".log"):
        if os.path.exists(p):
            os.remove(p)
    req, rep = RUNNER
    log = out + ".out"
    req.write(json.dumps([[exe, "run", sweep, "-o", out, "--fresh"], env, log]) + "\n")
    req.flush()
    code, rss = json.loads(rep.readline())
    if code != 0:
        die(f"specsweep run failed ({code}):\n{open(log).read()}", 1)
    import h5py
    with h5py.File(out, "r") as f:
        run = next(iter(f["runs"].values()))
        sps = float(run.attrs["samples_per_second"])
    return sps, rss


def load_export(d):
    n_fit, n_val, n_in, n_cls = map(int, open(os.path.join(d, "shape.txt")).read().split())

    def raw(name, shape):
        return np.fromfile(os.path.join(d, name), dtype="<f4").reshape(shape)
    return (raw("x_fit", (n_fit, n_in)), raw("y_fit", (n_fit,)),
            raw("x_val", (n_val, n_in)), raw("y_val", (n_val,)), n_cls)


class TorchSpectral:
    """The same spectral network in plain PyTorch (eager mode, autograd, torch.optim.Adam)."""

    def __init__(self, torch, sizes, acts, lr, reg_l, reg_psi, seed):
        self.torch = torch
        g = torch.Generator().manual_seed(seed)
        self.layers = []
        params = []
        for i in range(len(sizes) - 1):
            n_in, n_out = sizes[i], sizes[i + 1]
            lim = (6.0 / (n_in + n_out)) ** 0.5        # Glorot uniform, as specsweep
            psi = ((torch.rand(n_in, n_out, generator=g) * 2 - 1) * lim).requires_grad_()
            lin = torch.ones(n_in, requires_grad=True)
            lout = torch.zeros(n_out)                     # frozen at 0
            bias = torch.zeros(n_out, requires_grad=True)
            self.layers.append((psi, lin, lout, bias))
            params += [psi, lin, bias]
        act = {"tanh": torch.tanh, "relu": torch.relu}
        self.acts = [act[a] for a in acts]
        self.reg_l, self.reg_psi = reg_l, reg_psi
        # Keras Adam defaults: beta_1 0.9, beta_2 0.999, epsilon 1e-7. foreach: the
        # multi-tensor implementation, the faster one on CPU.
        self.opt = torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999), eps=1e-7,
                                    foreach=True)

    def forward(self, x):
        h = x
        last = len(self.layers) - 1
        for i, (psi, lin, lout, bias) in enumerate(self.layers):
            w = psi * (lin[:, None] - lout[None, :])
            h = self.torch.addmm(bias, h, w)
            if i < last:
                h = self.acts[i](h)
        return h

    def train(self, x_fit, y_fit, x_val, y_val, epochs, batch, seed):
        """Epochs of shuffled minibatches + a validation pass each; returns seconds and
        the last validation accuracy."""
        torch = self.torch
        F = torch.nn.functional
        g = torch.Generator().manual_seed(seed)
        n = x_fit.shape[0]
        psi0, lin0 = self.layers[0][0], self.layers[0][1]
        t0 = time.perf_counter()
        acc = float("nan")
        for _ in range(epochs):
            perm = torch.randperm(n, generator=g)
            loss_sum = torch.zeros(())
            for start in range(0, n, batch):
                idx = perm[start:start + batch]
                xb, yb = x_fit[idx], y_fit[idx]
                self.opt.zero_grad(set_to_none=True)
                loss = (F.cross_entropy(self.forward(xb), yb)
                        + self.reg_l * (lin0 * lin0).sum() + self.reg_psi * (psi0 * psi0).sum())
                loss.backward()
                self.opt.step()
                loss_sum += loss.detach() * idx.shape[0]
            with torch.no_grad():
                correct = 0
                for start in range(0, x_val.shape[0], batch):
                    z = self.forward(x_val[start:start + batch])
                    correct += int((z.argmax(1) == y_val[start:start + batch]).sum())
                acc = correct / x_val.shape[0]
        return time.perf_counter() - t0, acc


def net_flops(sizes):
    """GEMM FLOPs per training sample: forward + weight gradient everywhere, input
    gradient for every layer but the first (as net_step counts)."""
    return sum((3 if l > 0 else 2) * 2 * sizes[l] * sizes[l + 1] for l in range(len(sizes) - 1))


def kernel_shares(rows, sparse_first):
    """'forward: libxsmm 100 %; ...' from net_step's KERNEL lines of one network; with a
    sparse first layer its forward and weight gradient count as 'sparse'."""
    kinds = {}
    for r in rows:
        kern = r["kernel"]
        if sparse_first and r["layer"] == "0" and r["product"] != "input_grad":
            kern = "sparse"
        k = kinds.setdefault(r["product"].replace("_", " "), {})
        k[kern] = k.get(kern, 0.0) + float(r["flops"])
    parts = []
    for kind, by in kinds.items():
        total = sum(by.values())
        parts.append(kind + ": " + ", ".join(f"{kern} {100 * f / total:.0f} %"
                                             for kern, f in sorted(by.items(), key=lambda t: -t[1])))
    return "; ".join(parts)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"),
                    help="build directory with specsweep and bench/ (default build/)")
    ap.add_argument("--baseline", help="a second build directory, run in every repetition "
                    "beside the build (before/after in one run)")
    ap.add_argument("--repeat", type=int, default=3, help="repetitions per side (best counts)")
    ap.add_argument("--fig3-epochs", type=int, default=30)
    ap.add_argument("--mnist-epochs", type=int,
                    help="epochs of (b) (default 30 on the digits, 5 on Fashion-MNIST)")
    ap.add_argument("--fashion", action="store_true",
                    help="(b) on Fashion-MNIST instead of the MNIST digits of data/mnist")
    ap.add_argument("--only", choices=["fig3", "mnist"], help="one of the two networks")
    args = ap.parse_args()

    try:
        import torch
    except ImportError:
        die("PyTorch is missing: apt-get install python3-torch")
    torch.set_num_threads(1)
    exe = os.path.join(args.build, "specsweep")
    tb = os.path.join(args.build, "bench", "train_bench")
    ns = os.path.join(args.build, "bench", "net_step")
    base_exe = os.path.join(args.baseline, "specsweep") if args.baseline else None
    for p in (exe, tb, ns) + ((base_exe,) if base_exe else ()):
        if not os.access(p, os.X_OK):
            die(f"{p} missing: build first (scripts/build.sh; SPECSWEEP_BENCH=ON)")
    img_dir = ("/usr/share/datasets/fashion-mnist" if args.fashion
               else os.path.join(ROOT, "data", "mnist"))
    if not os.path.exists(os.path.join(img_dir, "train-images-idx3-ubyte.gz")):
        die(f"no images in {img_dir} (" + ("apt-get install dataset-fashion-mnist"
                                           if args.fashion else "scripts/fetch-data.sh") + ")")
    if args.mnist_epochs is None:
        args.mnist_epochs = 5 if args.fashion else 30
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")

    cases = [
        ("fig3", "(a) fig. 3 network 20-100-100-50-2 (tanh, relu, relu), Gaussian data",
         FIG3_YAML.format(epochs=args.fig3_epochs), [20, 100, 100, 50, 2],
         ["tanh", "relu", "relu"], 1e-2, args.fig3_epochs, TARGET_FIG3),
        ("mnist", "(b) MNIST network 784-100-100-50-10 (relu), "
         + ("Fashion-MNIST" if args.fashion else "MNIST digits"),
         MNIST_YAML.format(d=img_dir, epochs=args.mnist_epochs), [784, 100, 100, 50, 10],
         ["relu", "relu", "relu"], 1e-4, args.mnist_epochs,
         TARGET_FASHION if args.fashion else TARGET_DIGITS),
    ]
    if args.only:
        cases = [c for c in cases if c[0] == args.only]
    ok = True
    step, kernels = {}, {}
    out = subprocess.run([ns, "peak"] + [c[0] for c in cases], env=env, capture_output=True,
                         text=True)
    if out.returncode != 0:
        die(f"net_step failed:\n{out.stderr}", 1)
    for line in out.stdout.splitlines():
        if line.startswith(("RESULT ", "KERNEL ")):
            kv = dict(f.split("=") for f in line.split()[1:])
            if line.startswith("RESULT "):
                step[kv["name"]] = kv
            else:
                kernels.setdefault(kv["name"], []).append(kv)

    summary = []
    with tempfile.TemporaryDirectory(prefix="ss-torch-") as tmp:
        for name, title, yaml, sizes, acts, lr, epochs, target in cases:
            print(title)
            sweep = os.path.join(tmp, name + ".yaml")
            with open(sweep, "w") as f:
                f.write(yaml)
            exp = os.path.join(tmp, name + "-data")
            os.mkdir(exp)
            r = subprocess.run([tb, sweep, "--repeat", "0", "--export", exp], env=env,
                               capture_output=True, text=True)
            if r.returncode != 0:
                die(f"exporting the data failed:\n{r.stderr}", 1)
            data_mb = float(r.stdout.split("dataset float32")[1].split()[0])
            density = float(r.stdout.split("input density")[1].split()[0])
            first = r.stdout.split("input density")[1].split("(")[1].split()[0]
            x_fit, y_fit, x_val, y_val, n_cls = load_export(exp)
            xt, xv = torch.from_numpy(x_fit), torch.from_numpy(x_val)
            yt, yv = torch.from_numpy(y_fit).long(), torch.from_numpy(y_val).long()
            n_fit = x_fit.shape[0]
            print(f"    {n_fit} training + {x_val.shape[0]} validation samples, {epochs} "
                  f"epochs, batch 500, {args.repeat} repetitions each (best counts); "
                  f"{100 * density:.0f} % of the inputs nonzero: {first} first layer")

            best_ss = best_pt = best_base = 0.0
            rss = rss_base = 0.0
            for rep in range(args.repeat):
                sps, rss_mb = run_specsweep(exe, sweep, os.path.join(tmp, name + ".h5"), env)
                rss = max(rss, rss_mb)
                base = ""
                if base_exe:
                    bsps, brss = run_specsweep(base_exe, sweep,
                                               os.path.join(tmp, name + "-base.h5"), env)
                    rss_base = max(rss_base, brss)
                    best_base = max(best_base, bsps)
                    base = f"baseline {bsps:10.0f}   "
                model = TorchSpectral(torch, sizes, acts, lr, 1e-2, 1e-4, seed=rep)
                secs, acc = model.train(xt, yt, xv, yv, epochs, 500, seed=rep)
                pt = epochs * n_fit / secs
                print(f"    repetition {rep + 1}: specsweep {sps:10.0f} samples/s   {base}"
                      f"PyTorch {pt:10.0f} samples/s (val. accuracy {acc:.3f})")
                best_ss, best_pt = max(best_ss, sps), max(best_pt, pt)
            ratio = best_ss / best_pt
            ok &= ratio >= target
            print(f"    best: specsweep {best_ss:.0f} samples/s, PyTorch {best_pt:.0f} samples/s"
                  f"  ratio {ratio:.2f} (target >= {target})")
            if base_exe:
                print(f"    baseline: {best_base:.0f} samples/s, ratio {best_base / best_pt:.2f}; "
                      f"the build is {best_ss / best_base:.3f} x the baseline")
            flops = net_flops(sizes)
            s = step.get(name)
            if s:
                frac_step = float(s["fraction"])
                frac_run = best_ss * flops / 1e9 / float(s["kernels_gflops"])
                ok &= frac_step >= TARGET_GEMM
                print(f"    (c) the step's products alone through its kernels "
                      f"{float(s['kernels_gflops']):.1f} GFLOP/s (OpenBLAS sgemm alone "
                      f"{float(s['sgemm_gflops']):.1f}); the training step reaches "
                      f"{float(s['step_gflops']):.1f} GFLOP/s = {100 * frac_step:.0f} % (target >= "
                      f"{100 * TARGET_GEMM:.0f} %); the whole run {best_ss * flops / 1e9:.1f} "
                      f"GFLOP/s = {100 * frac_run:.0f} %"
                      + (" (dense-product FLOPs; the sparse first layer does fewer)"
                         if first == "sparse" else ""))
            if "peak" in step:
                peak = float(step["peak"]["gflops"])
                fwd = sum(2 * sizes[l] * sizes[l + 1] for l in range(len(sizes) - 1))
                per_sample = flops + fwd * x_val.shape[0] / n_fit  # + validation share
                cap = peak * 1e9 / per_sample
                share = best_ss / cap
                if name == "fig3":
                    ok &= share >= TARGET_PEAK
                print(f"    (e) bound: peak float32 rate {peak:.1f} GFLOP/s / {per_sample / 1e3:.1f}"
                      f" kFLOP per sample (step + validation share) = {cap:.0f} samples/s at "
                      f"most for dense float32 products = {cap / best_pt:.2f} x PyTorch's rate; "
                      f"specsweep is at {100 * share:.1f} % of it"
                      + (f" (target >= {100 * TARGET_PEAK:.0f} %)" if name == "fig3" else "")
                      + (f"; the baseline at {100 * best_base / cap:.1f} %" if base_exe else ""))
            if name in kernels:
                print("    (f) kernels, share of each product kind's FLOPs: "
                      + kernel_shares(kernels[name], first == "sparse"))
            summary.append((name, best_ss, best_pt, ratio, target))
            if name != "mnist":
                print(f"    (d) peak memory of one specsweep run: max RSS {rss:.1f} MB"
                      + (f"; the baseline {rss_base:.1f} MB" if base_exe else ""))
            if name == "mnist":
                # data_mb: inputs + labels of the training and test parts as float32
                limit = 1.5 * data_mb + 50
                ok &= rss <= limit
                print(f"    (d) peak memory of one specsweep run: max RSS {rss:.1f} MB; dataset "
                      f"float32 {data_mb:.0f} MB; limit 1.5 x {data_mb:.0f} + 50 = {limit:.0f} MB "
                      f"-> {'ok' if rss <= limit else 'OVER'}"
                      + (f"; the baseline {rss_base:.1f} MB" if base_exe else ""))
            del xt, xv, yt, yv, x_fit, x_val
    print("summary: " + "; ".join(f"{n} {r:.2f}x (target {t})" for n, _, _, r, t in summary))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
