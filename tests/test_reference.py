#!/usr/bin/python3
"""test_reference.py - the network module against an independent float64 numpy model.

The reference below is written from the math of include/specsweep/net.h (spectral layers
w_ij = psi_ij (lambda_in_i - lambda_out_j), softmax cross-entropy or MAE, L2 on the
first layer, Keras batch-norm, Adam and AdaMax), not from src/net.c. The C side's numbers
come from the helper tests/net_dump.c: initial parameters, a batch, the loss, every
gradient, and the parameters after a few optimizer steps. Both sides start from the same
float32 parameters and batch; the reference computes loss, gradients and steps in
float64. A dense layer with a trainable subset of its weights (the dump's "L<l>.mask")
gets no gradient, L2 term included, on its frozen weights, which must keep their exact
initial values; the subset holds n_in + n_out weights of each layer (all of them when
that is not fewer).

The cases marked torch=True are also checked against PyTorch (float64 autograd and
torch.optim.Adamax, whose eps sits inside the max: max(b2 u, |g| + eps) instead of
Keras' max(b2 u, |g|) + eps, a difference of order eps (1e-7) relative to |g|, far below
the tolerance): an implementation that shares nothing with either.

Tolerance: float32 C against float64 numpy, per tensor
    rel = max|c - ref| / max|ref|  <=  1e-4        (loss, gradients, parameters)
An all-zero reference tensor (frozen parameters' gradients) must be exactly zero in C.

Usage: test_reference.py [PATH_TO_NET_DUMP]   (else $NET_DUMP). Exit status 0 = pass.
"""
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

TOL = 1e-4
BN_EPS = 1e-3
BN_MOMENTUM = 0.99

CASES = [
    ("classification, all spectral, tanh + batch-norm + L2",
     dict(task="cls", spectral="all", inputs=7, classes=3, hidden="6,5", act="tanh,sigmoid",
          bn=1, train_evec=1, train_lout=1, reg_ev=1e-2, reg_evec=1e-3, lr=1e-2, batch=16,
          seed=3, steps=5)),
    ("regression, first spectral, relu",
     dict(task="reg", spectral="first", inputs=7, classes=1, hidden="6,5", act="relu,relu",
          bn=0, train_evec=1, train_lout=0, reg_ev=1e-2, reg_evec=1e-4, lr=1e-3, batch=16,
          seed=4, steps=5)),
    ("classification, all spectral, frozen eigenvectors",
     dict(task="cls", spectral="all", inputs=7, classes=4, hidden="6,5", act="relu,tanh",
          bn=1, train_evec=0, train_lout=0, reg_ev=1e-2, reg_evec=1e-3, lr=1e-2, batch=16,
          seed=5, steps=5)),
    ("regression, dense baseline, sigmoid + batch-norm",
     dict(task="reg", spectral="none", inputs=7, classes=1, hidden="6,5", act="sigmoid,tanh",
          bn=1, train_evec=1, train_lout=0, reg_ev=1e-2, reg_evec=1e-3, lr=1e-2, batch=16,
          seed=6, steps=5)),
    # 70 % zero inputs through the first layer's sparse-input path; 37 inputs and 20
    # units reach the kernels' vector loop and tail
    ("classification, all spectral, sparse inputs + batch-norm",
     dict(task="cls", spectral="all", inputs=37, classes=3, hidden="20,5", act="tanh,relu",
          bn=1, train_evec=1, train_lout=1, reg_ev=1e-2, reg_evec=1e-3, lr=1e-2, batch=16,
          seed=7, steps=5, sparse=1)),
    ("regression, dense baseline, sparse inputs",
     dict(task="reg", spectral="none", inputs=37, classes=1, hidden="20,5", act="relu,tanh",
          bn=0, train_evec=1, train_lout=0, reg_ev=1e-2, reg_evec=1e-3, lr=1e-2, batch=16,
          seed=8, steps=5, sparse=1)),
    # the spectral-domain regimes: eigenvalues only (lambda_in and lambda_out, psi frozen)
    # on linear layers from the paper's initialisation with AdaMax; a trainable subset of
    # a dense network's weights (Adam and AdaMax); a perceptron with no hidden layer
    ("classification, eigenvalues only, linear layers, AdaMax, paper init",
     dict(task="cls", spectral="all", inputs=9, classes=4, hidden="7,6", act="linear,linear",
          bn=0, train_evec=0, train_lout=1, reg_ev=1e-3, reg_evec=1e-3, lr=3e-2, batch=16,
          seed=9, steps=6, opt="adamax", init_evec=0.5, lout="-0.01:0.01", torch=True)),
    ("classification, dense, trainable subset, AdaMax",
     dict(task="cls", spectral="none", inputs=9, classes=4, hidden="7,6", act="linear,relu",
          bn=0, train_evec=1, train_lout=0, reg_ev=1e-2, reg_evec=1e-2, lr=1e-2, batch=16,
          seed=10, steps=6, opt="adamax", subset=1, torch=True)),
    ("regression, dense, trainable subset, Adam, sparse inputs",
     dict(task="reg", spectral="none", inputs=37, classes=1, hidden="20", act="tanh",
          bn=0, train_evec=1, train_lout=0, reg_ev=1e-2, reg_evec=1e-2, lr=1e-2, batch=16,
          seed=11, steps=5, subset=1, sparse=1)),
    ("classification, perceptron, eigenvalues and eigenvectors, AdaMax",
     dict(task="cls", spectral="all", inputs=9, classes=4, hidden="", act="",
          bn=0, train_evec=1, train_lout=1, reg_ev=0, reg_evec=0, lr=3e-2, batch=16,
          seed=12, steps=6, opt="adamax", init_evec=0.5, lout="-0.01:0.01", torch=True)),
]


# ---- the helper's file ------------------------------------------------------------------

def load_dump(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"SSNETDMP":
        raise ValueError(f"{path}: not a net_dump file")
    version, count = struct.unpack_from("<II", data, 8)
    if version != 1:
        raise ValueError(f"{path}: version {version}")
    pos, out = 16, {}
    for _ in range(count):
        (nlen,) = struct.unpack_from("<I", data, pos)
        pos += 4
        name = data[pos:pos + nlen].decode()
        pos += nlen
        dtype, ndim = struct.unpack_from("<II", data, pos)
        pos += 8
        dims = struct.unpack_from(f"<{ndim}Q", data, pos)
        pos += 8 * ndim
        dt = np.dtype("<f8") if dtype == 1 else np.dtype("<f4")
        n = int(np.prod(dims)) if ndim else 1
        out[name] = np.frombuffer(data, dt, n, pos).reshape(dims).astype(np.float64)
        pos += n * dt.itemsize
    return out


# ---- the reference network ----------------------------------------------------------------

class Net:
    """Shapes and which tensors exist/train, from the configuration alone."""

    def __init__(self, cfg):
        self.cfg = cfg
        hidden = [int(h) for h in str(cfg["hidden"]).split(",") if h]
        self.acts = str(cfg["act"]).split(",")[:len(hidden)] + ["linear"]
        n_out = cfg["classes"] if cfg["task"] == "cls" else 1
        self.sizes = [cfg["inputs"]] + hidden + [n_out]
        self.n_layers = len(hidden) + 1
        self.spectral = [cfg["spectral"] == "all" or (cfg["spectral"] == "first" and l == 0)
                         for l in range(self.n_layers)]
        self.bn = bool(cfg["bn"])
        self.masks = {}      # "L<l>.W" -> 0/1 array of a layer's trainable subset

    def param_names(self):
        names = []
        for l in range(self.n_layers):
            if self.spectral[l]:
                names += [f"L{l}.psi", f"L{l}.lin", f"L{l}.lout"]
            else:
                names.append(f"L{l}.W")
            names.append(f"L{l}.b")
        if self.bn:
            names += ["bn.gamma", "bn.beta"]
        return names

    def trainable(self, name):
        if name.endswith(".psi"):
            return bool(self.cfg["train_evec"])
        if name.endswith(".lout"):
            return bool(self.cfg["train_lout"])
        return True

    def weights(self, P, l):
        if self.spectral[l]:
            return P[f"L{l}.psi"] * (P[f"L{l}.lin"][:, None] - P[f"L{l}.lout"][None, :])
        return P[f"L{l}.W"]


def activation(name, z):
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    return z


def activation_grad(name, z):
    """d act / dz, from the pre-activation."""
    if name == "tanh":
        return 1.0 - np.tanh(z) ** 2
    if name == "relu":
        return (z > 0).astype(np.float64)
    if name == "sigmoid":
        s = 1.0 / (1.0 + np.exp(-z))
        return s * (1.0 - s)
    return np.ones_like(z)


def output_loss(net, z, y):
    """Per-sample losses and d(sum of losses)/dz."""
    if net.cfg["task"] == "cls":
        labels = y.astype(int)
        zs = z - z.max(axis=1, keepdims=True)
        logp = zs - np.log(np.exp(zs).sum(axis=1, keepdims=True))
        onehot = np.eye(z.shape[1])[labels]
        return -(logp * onehot).sum(axis=1), np.exp(logp) - onehot
    r = z[:, 0] - y
    return np.abs(r), np.sign(r)[:, None]


def l2(net, P):
    c = net.cfg
    if net.spectral[0]:
        return c["reg_ev"] * np.sum(P["L0.lin"] ** 2) + c["reg_evec"] * np.sum(P["L0.psi"] ** 2)
    return c["reg_evec"] * np.sum(P["L0.W"] ** 2)


def loss_and_grads(net, P, stats, x, y):
    """Training-mode pass: mean data loss, L2, gradients of (mean loss + L2), and the
    updated running statistics."""
    B = x.shape[0]
    A = [x]          # input of each layer
    Z = []           # pre-activations
    bn = {}
    new_stats = dict(stats)
    for l in range(net.n_layers):
        z = A[l] @ net.weights(P, l) + P[f"L{l}.b"]
        Z.append(z)
        a = activation(net.acts[l], z)
        if l == 0 and net.bn and net.n_layers > 1:
            mu = a.mean(axis=0)
            var = ((a - mu) ** 2).mean(axis=0)
            xhat = (a - mu) / np.sqrt(var + BN_EPS)
            bn = dict(h=a, mu=mu, var=var, xhat=xhat)
            new_stats["bn.mean"] = BN_MOMENTUM * stats["bn.mean"] + (1 - BN_MOMENTUM) * mu
            new_stats["bn.var"] = BN_MOMENTUM * stats["bn.var"] + (1 - BN_MOMENTUM) * var
            a = P["bn.gamma"] * xhat + P["bn.beta"]
        if l + 1 < net.n_layers:
            A.append(a)
    losses, dz = output_loss(net, Z[-1], y)
    dz = dz / B

    G = {}
    for l in reversed(range(net.n_layers)):
        G[f"L{l}.b"] = dz.sum(axis=0)
        gw = A[l].T @ dz
        if net.spectral[l]:
            psi, lin, lout = P[f"L{l}.psi"], P[f"L{l}.lin"], P[f"L{l}.lout"]
            G[f"L{l}.psi"] = gw * (lin[:, None] - lout[None, :])
            G[f"L{l}.lin"] = (gw * psi).sum(axis=1)
            G[f"L{l}.lout"] = -(gw * psi).sum(axis=0)
        else:
            G[f"L{l}.W"] = gw
        if l == 0:
            break
        da = dz @ net.weights(P, l).T              # d loss / d A[l]
        if l == 1 and net.bn:
            h, mu, var, xhat = bn["h"], bn["mu"], bn["var"], bn["xhat"]
            G["bn.gamma"] = (da * xhat).sum(axis=0)
            G["bn.beta"] = da.sum(axis=0)
            dxhat = da * P["bn.gamma"]
            istd = 1.0 / np.sqrt(var + BN_EPS)
            dvar = (dxhat * (h - mu)).sum(axis=0) * -0.5 * istd ** 3
            dmu = -(dxhat * istd).sum(axis=0) + dvar * (-2.0 * (h - mu)).mean(axis=0)
            da = dxhat * istd + dvar * 2.0 * (h - mu) / B + dmu / B
        dz = da * activation_grad(net.acts[l - 1], Z[l - 1])

    c = net.cfg
    if net.spectral[0]:
        G["L0.lin"] = G["L0.lin"] + 2 * c["reg_ev"] * P["L0.lin"]
        G["L0.psi"] = G["L0.psi"] + 2 * c["reg_evec"] * P["L0.psi"]
    else:
        G["L0.W"] = G["L0.W"] + 2 * c["reg_evec"] * P["L0.W"]
    for name in net.param_names():
        if not net.trainable(name):
            G[name] = np.zeros_like(P[name])
    for name, mask in net.masks.items():   # frozen weights of a subset: no gradient at all
        G[name] = G[name] * mask
    return losses.mean(), l2(net, P), G, new_stats


def evaluate(net, P, stats, x, y):
    a = x
    for l in range(net.n_layers):
        z = a @ net.weights(P, l) + P[f"L{l}.b"]
        a = activation(net.acts[l], z)
        if l == 0 and net.bn and net.n_layers > 1:
            a = P["bn.gamma"] * (a - stats["bn.mean"]) / np.sqrt(stats["bn.var"] + BN_EPS) \
                + P["bn.beta"]
    losses, _ = output_loss(net, z, y)
    if net.cfg["task"] == "cls":
        return losses.sum(), float((z.argmax(axis=1) == y.astype(int)).sum())
    return losses.sum(), losses.sum()


def adam(net, P, G, M, V, t):
    """Keras Adam: lr_t = lr sqrt(1 - b2^t) / (1 - b1^t); p -= lr_t m / (sqrt(v) + eps).
    Keras AdaMax (opt=adamax): m = b1 m + (1 - b1) g, u = max(b2 u, |g|),
    p -= lr / (1 - b1^t) m / (u + eps); V holds u. Both with Keras' defaults."""
    lr, b1, b2, eps = net.cfg["lr"], 0.9, 0.999, 1e-7
    adamax = net.cfg.get("opt") == "adamax"
    lr_t = lr / (1 - b1 ** t) if adamax else lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
    for name in net.param_names():
        if not net.trainable(name):
            continue
        M[name] = b1 * M[name] + (1 - b1) * G[name]
        if adamax:
            V[name] = np.maximum(b2 * V[name], np.abs(G[name]))
            P[name] = P[name] - lr_t * M[name] / (V[name] + eps)
        else:
            V[name] = b2 * V[name] + (1 - b2) * G[name] ** 2
            P[name] = P[name] - lr_t * M[name] / (np.sqrt(V[name]) + eps)


# ---- comparison ---------------------------------------------------------------------------

class Report:
    def __init__(self, tol=TOL, width=18):
        self.tol = tol
        self.width = width
        self.failures = 0
        self.passed = 0
        self.worst = 0.0

    def compare(self, label, c, ref):
        """Check c against ref within the tolerance; returns the relative difference."""
        c, ref = np.asarray(c, np.float64), np.asarray(ref, np.float64)
        if c.shape != ref.shape:
            print(f"  FAIL {label}: shape {c.shape} vs reference {ref.shape}")
            self.failures += 1
            return np.inf
        diff = float(np.max(np.abs(c - ref))) if c.size else 0.0
        scale = float(np.max(np.abs(ref))) if ref.size else 0.0
        if scale == 0.0:
            ok, rel = diff == 0.0, (0.0 if diff == 0.0 else np.inf)
        else:
            rel = diff / scale
            ok = rel <= self.tol
        self.worst = max(self.worst, rel)
        print(f"  {'ok  ' if ok else 'FAIL'} {label:<{self.width}} maxdiff {diff:.3e}  rel {rel:.3e}")
        if ok:
            self.passed += 1
        else:
            self.failures += 1
        return rel


def run_case(exe, title, cfg, tmp, report):
    print(f"{title}:")
    out = os.path.join(tmp, "dump.bin")
    args = [exe, out] + [f"{k}={v}" for k, v in cfg.items() if k != "torch"]
    proc = subprocess.run(args, capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"  FAIL net_dump exited {proc.returncode}: {proc.stderr.strip()}")
        report.failures += 1
        return
    D = load_dump(out)
    net = Net(cfg)
    names = net.param_names()
    missing = [n for n in names if n not in D]
    if missing:
        print(f"  FAIL parameters missing from the dump: {missing}")
        report.failures += 1
        return
    P = {n: D[n] for n in names}
    P0 = {n: P[n].copy() for n in names}
    net.masks = {f"L{l}.W": D[f"L{l}.mask"] for l in range(net.n_layers)
                 if f"L{l}.mask" in D}
    if cfg.get("subset"):
        counts = [int(net.masks[f"L{l}.W"].sum()) for l in range(net.n_layers)]
        expect = [min(net.sizes[l] + net.sizes[l + 1], net.sizes[l] * net.sizes[l + 1])
                  for l in range(net.n_layers)]
        ok = counts == expect and len(net.masks) == net.n_layers
        print(f"  {'ok  ' if ok else 'FAIL'} subset sizes {counts} (n_in + n_out, or all: "
              f"{expect})")
        report.passed += ok
        report.failures += not ok
    stats = {k: D[k] for k in ("bn.mean", "bn.var") if k in D}
    if net.bn:
        report.compare("bn init", np.concatenate([stats["bn.mean"], stats["bn.var"] - 1]),
                       np.zeros(2 * net.sizes[1]))
    x, y = D["x"], D["y"]

    loss, pen, G, _ = loss_and_grads(net, P, stats, x, y)
    report.compare("loss_data", D["loss_data"], [loss])
    report.compare("l2", D["l2"], [pen])
    for n in names:
        report.compare("grad " + n, D["grad." + n], G[n])

    M = {n: np.zeros_like(P[n]) for n in names}
    V = {n: np.zeros_like(P[n]) for n in names}
    step_losses = []
    for t in range(1, cfg["steps"] + 1):
        loss, pen, G, stats = loss_and_grads(net, P, stats, x, y)
        step_losses.append(loss + pen)
        adam(net, P, G, M, V, t)
    report.compare("step losses", D["step.loss"], step_losses)
    for n in names:
        report.compare(f"{cfg['steps']} steps {n}", D["step." + n], P[n])
    if net.bn:
        report.compare("running mean", D["step.bn.mean"], stats["bn.mean"])
        report.compare("running var", D["step.bn.var"], stats["bn.var"])
    eloss, ecorrect = evaluate(net, P, stats, x, y)
    report.compare("eval loss", D["eval.loss_sum"], [eloss])
    report.compare("eval correct", D["eval.correct"], [ecorrect])
    for name, mask in net.masks.items():
        frozen = mask == 0
        same = np.array_equal(D["step." + name][frozen], P0[name][frozen])
        moved = np.all(D["step." + name][~frozen] != P0[name][~frozen])
        print(f"  {'ok  ' if same and moved else 'FAIL'} {name}: {int(frozen.sum())} frozen "
              f"weights keep their bits, {int((~frozen).sum())} trainable ones moved")
        report.passed += same and moved
        report.failures += not (same and moved)
    if cfg.get("torch"):
        torch_check(net, cfg, D, P0, report)


def torch_check(net, cfg, D, P0, report):
    """The same steps in PyTorch: float64 autograd of (mean data loss + L2) and
    torch.optim.Adamax with Keras' betas and epsilon; frozen parameters have
    requires_grad False, a subset's frozen weights a zeroed gradient."""
    import torch
    torch.set_default_dtype(torch.float64)
    T = {n: torch.tensor(P0[n], requires_grad=net.trainable(n)) for n in P0}
    masks = {n: torch.tensor(m) for n, m in net.masks.items()}
    x = torch.tensor(D["x"])
    y = torch.tensor(D["y"])
    opt = torch.optim.Adamax([t for t in T.values() if t.requires_grad], lr=cfg["lr"],
                             betas=(0.9, 0.999), eps=1e-7)
    acts = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid,
            "linear": lambda z: z}

    def loss_fn():
        a = x
        for l in range(net.n_layers):
            if net.spectral[l]:
                w = T[f"L{l}.psi"] * (T[f"L{l}.lin"][:, None] - T[f"L{l}.lout"][None, :])
            else:
                w = T[f"L{l}.W"]
            z = a @ w + T[f"L{l}.b"]
            a = acts[net.acts[l]](z)
        if cfg["task"] == "cls":
            data = torch.nn.functional.cross_entropy(z, y.long())
        else:
            data = (z[:, 0] - y).abs().mean()
        if net.spectral[0]:
            pen = cfg["reg_ev"] * (T["L0.lin"] ** 2).sum() + \
                cfg["reg_evec"] * (T["L0.psi"] ** 2).sum()
        else:
            pen = cfg["reg_evec"] * (T["L0.W"] ** 2).sum()
        return data + pen

    for _ in range(cfg["steps"]):
        opt.zero_grad()
        loss_fn().backward()
        for n, m in masks.items():
            T[n].grad *= m
        opt.step()
    for n in P0:
        report.compare(f"torch Adamax {n}", D["step." + n], T[n].detach().numpy())


def main():
    exe = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("NET_DUMP", "")
    if not exe or not os.access(exe, os.X_OK):
        print("test_reference: pass the net_dump executable as argument or in $NET_DUMP")
        return 1
    report = Report()
    with tempfile.TemporaryDirectory(prefix="specsweep-ref-") as tmp:
        for title, cfg in CASES:
            run_case(exe, title, cfg, tmp, report)
    print(f"worst relative difference {report.worst:.3e} (tolerance {TOL:.0e})")
    print(f"{report.passed} passed, {report.failures} failed")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
