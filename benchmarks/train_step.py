"""One SGD step of a colorization network three ways, on the same weights and data.

What ``bench_train.py`` times, and what its tests check:

- ``ours``: :class:`vcnn.Network` + :class:`vcnn.SGD` (what we ship);
- ``torch``: the same network, loss and update in PyTorch on the CPU, when the
  ``bench`` extra is installed (imported here only, never by the package);
  :func:`check_same_update` proves both take the same step;
- ``naive``: the direct loops of :mod:`vcnn.naive` (compiled).

One step is what ``colorize train`` does per batch for one channel: forward
through every layer, the Euclidean loss, backward (no gradient for the
input), the momentum update.
"""
from contextlib import contextmanager

import numba
import numpy as np

import vcnn
from colorize import model as colorize_model
from colorize.losses import euclidean
from colorize.yuv import U_RANGE
from vcnn import naive
from vcnn.layers import FullConv2D, ReLU

PATCH = 64
LR, MOMENTUM = 0.01, 0.9


def arch(name: str) -> list:
    """Layer specs of ``small``, ``paper`` or ``deep8`` (the bundled default's architecture)."""
    return colorize_model.parse_architecture(name)


def describe(name: str) -> str:
    specs = arch(name)
    convs = [s for s in specs if s["type"] == "conv"]
    mapping = specs[-1]["k"]
    return (f"`{name}` ({len(convs) + 1} layers: k {'/'.join(str(s['k']) for s in convs)}, "
            f"widths {'/'.join(str(s['c_out']) for s in convs)}, {mapping}×{mapping} mapping)")


def data(batch: int, specs: list, seed: int = 0):
    """Luma windows (the network's input, Y − 0.5) and U targets of the output size."""
    rng = np.random.default_rng(seed)
    out = colorize_model.output_size(specs, PATCH)
    x = rng.uniform(-0.5, 0.5, (batch, 1, PATCH, PATCH)).astype(np.float32)
    target = rng.uniform(U_RANGE[0], U_RANGE[1], (batch, 1, out, out)).astype(np.float32)
    return x, target


def our_step(net, x, target, opt=None):
    """One SGD step of ``net`` as training takes it; returns the callable and the optimiser."""
    opt = opt or vcnn.SGD(net.parameters(), LR, MOMENTUM)

    def step():
        _, dz = euclidean(net.forward(x), target, *U_RANGE)
        net.backward(dz, need_dx=False)
        opt.step()
    return step, opt


class TorchNet:
    """The same network in PyTorch, from our weights (copied), with the same loss and update.

    conv: ``F.conv2d`` (+ in-place ReLU); the mapping layer: a 1×1 conv to
    C_out·k·k channels, then ``F.fold`` (col2im: φᵀ) and division by the
    counts, exactly our formula. The update is written out as ours:
    ``v ← μ·v − lr·g, W ← W + v``.
    """

    def __init__(self, net, torch):
        self.torch, self.F = torch, torch.nn.functional
        self.layers, self.params = [], []
        for layer in net.layers:
            if isinstance(layer, ReLU):
                self.layers.append(("relu",))
                continue
            W = torch.tensor(layer.W, requires_grad=True)
            b = torch.tensor(layer.b, requires_grad=True)
            self.params += [W, b]
            if isinstance(layer, FullConv2D):
                self.layers.append(("full", W, b, layer.k, layer.c_out))
            else:
                self.layers.append(("conv", W, b))
        self.velocity = [torch.zeros_like(p) for p in self.params]
        self.counts = {}

    def forward(self, x):
        F = self.F
        for layer in self.layers:
            if layer[0] == "relu":
                x = F.relu(x, inplace=True)
            elif layer[0] == "conv":
                x = F.conv2d(x, layer[1], layer[2])
            else:
                _, W, b, k, c_out = layer
                n, c_in, h, w = x.shape
                size = (h + k - 1, w + k - 1)
                if size not in self.counts:
                    ones = self.torch.ones(1, k * k, h * w)
                    self.counts[size] = F.fold(ones, size, k)
                P = F.conv2d(x, W.view(c_out * k * k, c_in, 1, 1), b)
                x = F.fold(P.view(n, c_out * k * k, h * w), size, k) / self.counts[size]
        return x

    def step(self, x, target, lo, hi):
        torch = self.torch
        for p in self.params:
            p.grad = None
        s = torch.sigmoid(self.forward(x))
        loss = 0.5 * torch.mean(torch.square(lo + (hi - lo) * s - target))
        loss.backward()
        with torch.no_grad():
            for p, v in zip(self.params, self.velocity):
                v.mul_(MOMENTUM).sub_(p.grad, alpha=LR)
                p.add_(v)
        return loss


def torch_module():
    try:
        import torch
    except ImportError:
        return None
    return torch


def torch_step(net, x, target):
    """PyTorch's step on a copy of ``net``'s weights, or None without torch."""
    torch = torch_module()
    if torch is None:
        return None
    model = TorchNet(net, torch)
    tx, tt = torch.from_numpy(x), torch.from_numpy(target)
    return lambda: model.step(tx, tt, *U_RANGE)


def naive_step(net, x, target):
    """The same step by the direct loops of :mod:`vcnn.naive` (compiled), weights updated in place."""
    opt = vcnn.SGD(net.parameters(), LR, MOMENTUM)

    def step():
        acts, a = [], x
        for layer in net.layers:
            acts.append(a)
            if isinstance(layer, ReLU):
                a = np.maximum(a, 0)
            elif isinstance(layer, FullConv2D):
                a = naive.full_conv2d_forward(a, layer.W, layer.b, layer.k)
            else:
                a = naive.conv2d_forward(a, layer.W, layer.b)
        _, d = euclidean(a, target, *U_RANGE)
        for layer, a in zip(reversed(net.layers), reversed(acts)):
            if isinstance(layer, ReLU):
                d = d * (a > 0)
                continue
            if isinstance(layer, FullConv2D):
                d, dW, db = naive.full_conv2d_backward(a, layer.W, layer.k, d)
            else:
                d, dW, db = naive.conv2d_backward(a, layer.W, d)
            layer.dW[...], layer.db[...] = dW, db
        opt.step()
    return step


def check_same_update(specs, batch=2, seed=0) -> float:
    """Largest difference between our weights and PyTorch's after two steps from the same start,
    relative to the largest value of the layer's parameters.

    Raises AssertionError above float32 round-off (1e-4), so the two engines
    timed side by side are known to compute the same thing. Relative to the
    layer, not to each array: a bias's gradient is a sum over every output
    position whose terms mostly cancel, so after two steps from zero a bias
    of ``paper`` is ~1e-7 while its terms' round-off is ~1e-9 (relative to
    the bias alone, 6e-3 between two correct engines).
    """
    torch = torch_module()
    net = colorize_model.init_network(specs, seed, "u")
    x, target = data(batch, specs, seed)
    theirs = TorchNet(net, torch)
    ours, _ = our_step(net, x, target)
    for _ in range(2):
        ours()
        theirs.step(torch.from_numpy(x), torch.from_numpy(target), *U_RANGE)
    pairs = [(name.split(".")[0], value, p.detach().numpy()) for (name, value, _), p in zip(net.parameters(),
                                                                                           theirs.params)]
    scale = {}
    for layer, _, p in pairs:
        scale[layer] = max(scale.get(layer, 0.0), float(np.max(np.abs(p))))
    worst = max(float(np.max(np.abs(value - p))) / max(scale[layer], 1e-30) for layer, value, p in pairs)
    assert worst < 1e-4, f"our step and PyTorch's differ: relative {worst:.2e}"
    return worst


@contextmanager
def threads(count: int):
    """BLAS, Numba and torch threads set to ``count`` inside."""
    from threadpoolctl import threadpool_limits
    torch = torch_module()
    saved_numba = numba.get_num_threads()
    saved_torch = torch.get_num_threads() if torch else None
    numba.set_num_threads(min(count, numba.config.NUMBA_NUM_THREADS))
    if torch:
        torch.set_num_threads(count)
    try:
        with threadpool_limits(count, "blas"):
            yield
    finally:
        numba.set_num_threads(saved_numba)
        if torch:
            torch.set_num_threads(saved_torch)

