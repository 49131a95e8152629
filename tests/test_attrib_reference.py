#!/usr/bin/python3
"""test_attrib_reference.py - the attribution methods against an independent reference.

The C side's numbers come from the helper tests/attrib_dump.c: a network trained for a
few steps, its training inputs and explained samples, the per-sample attributions of
every per-sample method, and the permutation importances. The reference is written from
the methods' definitions, not from src/attrib*.c: the network in float64 PyTorch (its
input gradients by autograd), Gauss-Legendre nodes from numpy.polynomial.legendre.leggauss,
the DFTs from numpy.fft.rfft2, LRP and DeepLIFT as float64 numpy recursions, Shapley
values by enumerating every coalition. SmoothGrad, SpectralLens and the permutations use
the C side's random numbers: the project's generator (splitmix64 seeding, xoshiro256**,
Marsaglia's polar method, FNV-1a keys) is reimplemented here, keyed as attrib.h
documents.

Tolerance, per method and network: rel = max|c - ref| / max|ref| <= 1e-5 (float32
network in C against float64 here; LRP and DeepLIFT run in double in C, on the
network's float32 effective weights, which the reference takes as they are; KernelSHAP
and permutation importance on float32 outputs). Plus: the C check values (sum of the
attributions; f(x) - f(x0) or f(x); LRP's absorbed share) against the reference's.

Usage: test_attrib_reference.py [PATH_TO_ATTRIB_DUMP]   (else $ATTRIB_DUMP).
Exit status 0 = pass.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_reference import (BN_EPS, Net, Report, activation, activation_grad,  # noqa: E402
                            load_dump)

try:
    import torch
except ImportError:  # pragma: no cover
    print("test_attrib_reference: needs PyTorch (apt-get install python3-torch)")
    sys.exit(1)

TOL = 1e-5

CASES = [
    ("classification, all spectral, tanh/sigmoid + batch-norm, 7 flat inputs",
     dict(task="cls", spectral="all", inputs=7, classes=3, hidden="9,6", act="tanh,sigmoid", n=40,
          bn=1, train_evec=1, train_lout=1, seed=3, steps=40)),
    ("classification, dense, relu + batch-norm + dropout, 4 x 6 image",
     dict(task="cls", spectral="none", inputs=24, classes=4, hidden="10,7", act="relu,relu",
          bn=1, train_evec=1, train_lout=0, seed=4, steps=40, rows=4, cols=6, dropout=0.3)),
    ("regression, first spectral, relu/tanh, 8 flat inputs",
     dict(task="reg", spectral="first", inputs=8, classes=1, hidden="9,6", act="relu,tanh",
          bn=0, train_evec=1, train_lout=1, seed=5, steps=40)),
    ("regression, dense, sigmoid/tanh + batch-norm, 3 x 3 image",
     dict(task="reg", spectral="none", inputs=9, classes=1, hidden="8,5", act="sigmoid,tanh",
          bn=1, train_evec=1, train_lout=0, seed=6, steps=40, rows=3, cols=3)),
]


# ---- the project's random numbers (src/util.c), reimplemented ------------------------------

M64 = (1 << 64) - 1


def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & M64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return state, z ^ (z >> 31)


def fnv1a(s):
    h = 0xCBF29CE484222325
    for ch in s.encode():
        h = ((h ^ ch) * 0x100000001B3) & M64
    return h


def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & M64


class Rng:
    def __init__(self, seed, stream):
        _, h = splitmix64(seed & M64)
        h ^= (stream * 0xD1342543DE82EF95) & M64
        self.s = []
        for _ in range(4):
            h, v = splitmix64(h)
            self.s.append(v)
        self.spare = None

    def next(self):
        s = self.s
        result = (rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return result

    def below(self, n):
        if n <= 1:
            return 0
        limit = M64 - M64 % n
        while True:
            r = self.next()
            if r < limit:
                return r % n

    def shuffle(self, a):
        for i in range(len(a), 1, -1):
            j = self.below(i)
            a[i - 1], a[j] = a[j], a[i - 1]

    def uniform(self):
        return (self.next() >> 11) * 2.0 ** -53

    def normal(self):
        if self.spare is not None:
            v, self.spare = self.spare, None
            return v
        while True:
            u = 2.0 * self.uniform() - 1.0
            v = 2.0 * self.uniform() - 1.0
            s = u * u + v * v
            if 0.0 < s < 1.0:
                break
        f = np.sqrt(-2.0 * np.log(s) / s)
        self.spare = v * f
        return u * f


def method_rng(seed, method, key):
    return Rng(seed ^ fnv1a("attrib/" + method), key)


# ---- the reference network --------------------------------------------------------------------

class Model:
    """The trained network in float64: effective weights from the dumped psi/lambda (or
    W), inference batch-norm after the first hidden layer."""

    def __init__(self, cfg, D):
        self.net = Net(cfg)
        P = {n: D[n] for n in self.net.param_names()}
        self.P, self.D = P, D
        self.W = [self.net.weights(P, l) for l in range(self.net.n_layers)]
        self.b = [P[f"L{l}.b"] for l in range(self.net.n_layers)]
        self.acts = self.net.acts
        self.scale = self.shift = None
        if self.net.bn and self.net.n_layers > 1:
            self.scale = P["bn.gamma"] / np.sqrt(D["bn.var"] + BN_EPS)
            self.shift = P["bn.beta"] - D["bn.mean"] * self.scale

    def torch_forward(self, x):
        a = x
        for l in range(self.net.n_layers):
            z = a @ torch.from_numpy(self.W[l]) + torch.from_numpy(self.b[l])
            act = self.acts[l]
            a = torch.tanh(z) if act == "tanh" else torch.relu(z) if act == "relu" \
                else torch.sigmoid(z) if act == "sigmoid" else z
            if l == 0 and self.scale is not None:
                a = a * torch.from_numpy(self.scale) + torch.from_numpy(self.shift)
        return z

    def predict(self, x):
        with torch.no_grad():
            return self.torch_forward(torch.from_numpy(np.asarray(x, np.float64))).numpy()

    def grad(self, x, target):
        """d f_target[r] / d x[r] for the rows of x (R, M)."""
        xt = torch.tensor(np.asarray(x, np.float64), requires_grad=True)
        z = self.torch_forward(xt)
        sel = z[torch.arange(z.shape[0]), torch.as_tensor(target)]
        sel.sum().backward()
        return xt.grad.numpy()

    def folded(self):
        """Dense layers (W, b) with the batch-norm folded into the second, from the
        network's own float32 values: the effective weights psi (lambda_in - lambda_out)
        and the batch-norm scale and shift rounded to float32 as the network computes
        them. (LRP divides by pre-activations, so near a zero pre-activation the float64
        products of the float32 parameters would differ from the weights the network
        uses by more than the algorithm's rounding.)"""
        f32 = np.float32
        W, b = [], [v.copy() for v in self.b]
        for l in range(self.net.n_layers):
            if self.net.spectral[l]:
                P = self.P
                w = P[f"L{l}.psi"].astype(f32) * (P[f"L{l}.lin"].astype(f32)[:, None]
                                                  - P[f"L{l}.lout"].astype(f32)[None, :])
            else:
                w = self.P[f"L{l}.W"].astype(f32)
            W.append(w.astype(np.float64))
        if self.scale is not None:
            P, D = self.P, self.D
            scale = P["bn.gamma"].astype(f32) / np.sqrt(D["bn.var"].astype(f32) + f32(BN_EPS))
            shift = P["bn.beta"].astype(f32) - D["bn.mean"].astype(f32) * scale
            scale, shift = scale.astype(np.float64), shift.astype(np.float64)
            b[1] = b[1] + shift @ W[1]
            W[1] = scale[:, None] * W[1]
        return W, b


# ---- the methods, from their definitions -------------------------------------------------------

def gl_nodes(n):
    """Captum's "gausslegendre": numpy's nodes on [-1, 1] mapped to [0, 1]."""
    x, w = np.polynomial.legendre.leggauss(n)
    return 0.5 * (x + 1.0), 0.5 * w


def ig_avg_grad(model, x, t, x0, steps):
    alphas, weights = gl_nodes(steps)
    rows = x0 + alphas[:, None] * (x - x0)
    g = model.grad(rows, [t] * steps)
    return weights @ g


def reference(cfg, D):
    model = Model(cfg, D)
    x, xt = D["x"], D["x_train"]
    n, M = x.shape
    task = cfg["task"]
    y = D["y"]
    target = y.astype(int) if task == "cls" else np.zeros(n, int)
    ids = D["id"].astype(np.int64)
    st = D["settings"]
    seed, ig_steps, sg_n, sg_noise = int(st[0]), int(st[1]), int(st[2]), st[3]
    sl_k, sl_q, sl_max, sl_p, lrp_eps, f_steps = int(st[4]), int(st[5]), st[6], st[7], st[8], int(st[9])
    rows, cols, sl_noise = int(st[10]), int(st[11]), st[12]
    mean = xt.mean(axis=0)
    std = xt.std(axis=0)
    lo, hi = xt.min(axis=0), xt.max(axis=0)
    sigma = sg_noise * (hi - lo)
    zero = np.zeros(M)
    R = {}   # name -> (attr (n, V), check (n, 3))

    def checks(attr, target_value, absorbed=None):
        c = np.zeros((n, 3))
        c[:, 0] = attr.sum(axis=1)
        c[:, 1] = c[:, 0] if target_value is None else target_value
        if absorbed is not None:
            c[:, 2] = absorbed
        return c

    g = model.grad(x, target)
    R["saliency"] = (np.abs(g), checks(np.abs(g), None))
    R["input_x_gradient"] = (x * g, checks(x * g, None))

    fx = model.predict(x)[np.arange(n), target]
    for name, x0 in (("integrated_gradients", zero), ("integrated_gradients.mean", mean)):
        a = np.stack([(x[i] - x0) * ig_avg_grad(model, x[i], target[i], x0, ig_steps)
                      for i in range(n)])
        f0 = model.predict(x0[None, :])[0, target]
        R[name] = (a, checks(a, fx - f0))

    def noisy_rows(method, i, copies, make):
        rng = method_rng(seed, method, int(ids[i]))
        return np.array([make(rng) for _ in range(copies)])

    for method, sq in (("smoothgrad", False), ("smoothgrad_squared", True)):
        out = []
        for i in range(n):
            rws = noisy_rows(method, i, sg_n, lambda rng: np.float32(
                x[i] + sigma * np.array([rng.normal() for _ in range(M)])))
            gg = model.grad(rws, [target[i]] * sg_n)
            out.append((gg ** 2 if sq else gg).mean(axis=0))
        a = np.stack(out)
        R[method] = (a, checks(a, None))

    # SpectralLens: scales t_k = k / K * max, Q draws of x + t N(0, (noise std)^2) each,
    # weights t_k^p normalised, squared gradients (attrib.c, "SpectralLens")
    ts = (np.arange(1, sl_k + 1) / sl_k) * sl_max
    wk = ts ** sl_p / np.sum(ts ** sl_p)
    out = []
    for i in range(n):
        rng = method_rng(seed, "spectrallens", int(ids[i]))
        rws = []
        for t in ts:
            for _ in range(sl_q):
                sig = t * sl_noise * std
                rws.append(np.float32(x[i] + sig * np.array([rng.normal() for _ in range(M)])))
        gg = model.grad(np.array(rws), [target[i]] * len(rws)) ** 2
        out.append(wk @ gg.reshape(sl_k, sl_q, M).mean(axis=1))
    a = np.stack(out)
    R["spectrallens"] = (a, checks(a, None))

    # LRP-epsilon, batch-norm folded; z^B at the input with the training bounds
    W, b = model.folded()
    L = len(W)
    for name, zb in (("lrp_epsilon", True), ("lrp_epsilon.eps", False)):
        attr, absorbed = np.zeros((n, M)), np.zeros(n)
        for i in range(n):
            acts = [x[i]]
            zs = []
            for l in range(L):
                zs.append(acts[-1] @ W[l] + b[l])
                if l + 1 < L:
                    acts.append(activation(model.acts[l], zs[-1]))
            Rl = np.zeros(W[-1].shape[1])
            Rl[target[i]] = zs[-1][target[i]]
            for l in reversed(range(L)):
                if l == 0 and zb:
                    contrib = x[i][:, None] * W[0] - lo[:, None] * np.maximum(W[0], 0) \
                        - hi[:, None] * np.minimum(W[0], 0)
                    den = contrib.sum(axis=0)
                    stab = lrp_eps * np.where(den >= 0, 1.0, -1.0)
                    absorbed[i] += np.sum(Rl * stab / (den + stab))
                    Rl = (contrib * (Rl / (den + stab))[None, :]).sum(axis=1)
                else:
                    z = zs[l]
                    stab = lrp_eps * np.where(z >= 0, 1.0, -1.0)
                    absorbed[i] += np.sum(Rl * (b[l] + stab) / (z + stab))
                    Rl = acts[l] * (W[l] @ (Rl / (z + stab)))
            attr[i] = Rl
        R[name] = (attr, checks(attr, fx_double(W, b, model.acts, x, target), absorbed))

    # DeepLIFT-Rescale: secant multipliers through the activations
    for name, x0 in (("deeplift", zero), ("deeplift.mean", mean)):
        attr = np.zeros((n, M))
        f0 = fx_double(W, b, model.acts, np.tile(x0, (n, 1)), target)
        for i in range(n):
            zs, zs0, a, a0 = [], [], x[i], x0
            for l in range(L):
                zs.append(a @ W[l] + b[l])
                zs0.append(a0 @ W[l] + b[l])
                a, a0 = activation(model.acts[l], zs[-1]), activation(model.acts[l], zs0[-1])
            m = np.zeros(W[-1].shape[1])
            m[target[i]] = 1.0
            for l in reversed(range(L)):
                m = W[l] @ m
                if l == 0:
                    break
                z, z0 = zs[l - 1], zs0[l - 1]
                dz = z - z0
                act = model.acts[l - 1]
                with np.errstate(divide="ignore", invalid="ignore"):
                    slope = np.where(np.abs(dz) < 1e-10, activation_grad(act, z),
                                     (activation(act, z) - activation(act, z0)) / dz)
                m = m * slope
            attr[i] = (x[i] - x0) * m
        R[name] = (attr, checks(attr, fx_double(W, b, model.acts, x, target) - f0))

    # KernelSHAP with the mean background: for <= 10 inputs its coalitions are all of
    # them, so the exact Shapley values by enumeration
    if M <= 10:
        attr = np.zeros((n, M))
        fact = [float(np.prod(np.arange(1, k + 1))) for k in range(M + 1)]
        masks = np.array([[(S >> j) & 1 for j in range(M)] for S in range(1 << M)], bool)
        for i in range(n):
            rows_ = np.where(masks, x[i][None, :], mean[None, :])
            v = model.predict(rows_)[:, target[i]]
            for j in range(M):
                for S in range(1 << M):
                    if (S >> j) & 1:
                        continue
                    s = bin(S).count("1")
                    attr[i, j] += fact[s] * fact[M - s - 1] / fact[M] * (v[S | (1 << j)] - v[S])
        v0 = model.predict(mean[None, :])[0, target]
        R["kernel_shap"] = (attr, checks(attr, fx - v0))

    # Fourier: IG's path-averaged gradient, both differences through numpy's rfft2
    r_, c_ = (rows, cols) if rows else (1, M)
    kx = np.arange(c_ // 2 + 1)
    cw = np.where((kx > 0) & (2 * kx != c_), 2.0, 1.0)
    out = []
    for i in range(n):
        gbar = ig_avg_grad(model, x[i], target[i], zero, f_steps)
        DX = np.fft.rfft2((x[i] - zero).reshape(r_, c_))
        G = np.fft.rfft2(gbar.reshape(r_, c_))
        out.append((cw[None, :] / (r_ * c_) * np.real(DX * np.conj(G))).ravel())
    a = np.stack(out)
    f0 = model.predict(zero[None, :])[0, target]
    R["fourier"] = (a, checks(a, fx - f0))

    # permutation importance: column c permuted among the explained samples by the
    # shuffle keyed (c * repeats + r); drop of accuracy, rise of MAE
    def score(xs):
        z = model.predict(xs)
        if task == "cls":
            return np.mean(z.argmax(axis=1) == target)
        return np.mean(np.abs(z[:, 0] - y))
    reps = int(D["settings_perm"][0])
    base = score(x)
    imp = np.zeros(M)
    for c in range(M):
        for r in range(reps):
            rng = method_rng(seed, "permutation", c * reps + r)
            perm = list(range(n))
            rng.shuffle(perm)
            xp = x.copy()
            xp[:, c] = x[perm, c]
            s = score(xp)
            imp[c] += (s - base if task == "reg" else base - s) / reps
    R["permutation"] = (imp, np.array([base]))
    return R


def fx_double(W, b, acts, x, target):
    a = x
    for l in range(len(W)):
        z = a @ W[l] + b[l]
        a = activation(acts[l], z)
    return z[np.arange(len(target)), target]


# ---- comparison --------------------------------------------------------------------------------

class MethodReport(Report):
    """test_reference's comparison, with the worst difference kept per method."""

    def __init__(self):
        super().__init__(tol=TOL, width=34)
        self.by_method = {}

    def compare_method(self, label, method, c, ref):
        rel = self.compare(label, c, ref)
        self.by_method[method] = max(self.by_method.get(method, 0.0), rel)


def run_case(exe, title, cfg, tmp, report):
    print(f"{title}:")
    out = os.path.join(tmp, "attrib.bin")
    proc = subprocess.run([exe, out] + [f"{k}={v}" for k, v in cfg.items()],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"  FAIL attrib_dump exited {proc.returncode}: {proc.stderr.strip()}")
        report.failures += 1
        return
    D = load_dump(out)
    ref = reference(cfg, D)
    report.compare_method("permutation", "permutation", D["permutation"], ref["permutation"][0])
    report.compare_method("permutation base score", "permutation", D["permutation.base"],
                   ref["permutation"][1])
    names = sorted(k[5:] for k in D if k.startswith("attr."))
    for name in names:
        method = name.split(".")[0]
        if name not in ref:
            print(f"  --   {name:<34} (no exact reference for {D['x'].shape[1]} inputs)")
            continue
        a, chk = ref[name]
        report.compare_method(name, method, D["attr." + name], a)
        report.compare_method(name + " checks", method, D["check." + name], chk)


def main():
    exe = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("ATTRIB_DUMP", "")
    if not exe or not os.access(exe, os.X_OK):
        print("test_attrib_reference: pass the attrib_dump executable as argument or in "
              "$ATTRIB_DUMP")
        return 1
    torch.set_num_threads(1)
    report = MethodReport()
    with tempfile.TemporaryDirectory(prefix="specsweep-attrib-ref-") as tmp:
        for title, cfg in CASES:
            run_case(exe, title, cfg, tmp, report)
    print("worst relative difference per method (tolerance %.0e):" % TOL)
    for method, rel in sorted(report.by_method.items()):
        print(f"  {method:<22} {rel:.2e}")
    print(f"{report.passed} passed, {report.failures} failed")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
