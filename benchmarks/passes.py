"""The passes of a conv layer's step, one callable each, for the benchmarks' breakdowns.

:class:`vcnn.Conv2D` runs its GEMMs one sample's block of φ's columns at a
time; each callable here makes one kind of pass over the whole batch the same
way (same shapes, same kernels, its own buffers), so that timing them one by
one says where a step's time goes. Used by ``bench_conv.py`` and
``bench_train.py``.
"""
import numpy as np

import kernels
from vcnn.layers import Conv2D
from vcnn.phi import phi, phi_adjoint


def conv_passes(layer: Conv2D, x: np.ndarray, dy: np.ndarray, need_dx: bool = True) -> dict:
    """{(category, pass): callable} for one forward + backward of ``layer`` on ``x`` and ``dy``.

    Categories: "φ", "GEMM", "bias", "φᵀ". Without ``need_dx`` (the
    network's first layer in training) the Wᵀ·dY GEMM and φᵀ are left out.
    """
    n, c_in, h, w = x.shape
    k, c_out = layer.k, layer.c_out
    ho, wo = h - k + 1, w - k + 1
    W = layer.W.reshape(c_out, -1)
    cols = np.empty((c_in * k * k, ho * wo), x.dtype)
    y = np.empty((n, c_out, ho * wo), x.dtype)
    dY, dWt, db = np.empty((c_out, ho * wo), x.dtype), np.empty((c_in * k * k, c_out), x.dtype), np.zeros(c_out, x.dtype)
    dy = np.ascontiguousarray(dy).reshape(n, c_out, -1)
    dx = np.empty((1, c_in, h, w), x.dtype)
    mask = y if layer.relu else None

    def each(fn):
        return lambda: [fn(i) for i in range(n)]
    passes = {
        ("φ", "φ(X_n), forward and again in backward"): each(lambda i: (phi(x[i:i + 1], k, out=cols),
                                                                           phi(x[i:i + 1], k, out=cols))),
        ("GEMM", "Y_n = W·φ(X_n)"): each(lambda i: np.matmul(W, cols, out=y[i])),
        ("bias", "+ b (and ReLU)"): each(lambda i: kernels.add_bias(y[i], layer.b, layer.relu)),
        ("bias", "dY_n (ReLU mask), db"): each(lambda i: kernels.bias_gradient(
            dy[i], dY, db, None if mask is None else mask[i])),
        ("GEMM", "dW += dY_n·φ(X_n)ᵀ"): each(lambda i: np.matmul(cols, dY.T, out=dWt)),
    }
    if k == 1:
        del passes[("φ", "φ(X_n), forward and again in backward")]
    if need_dx:
        passes[("GEMM", "Wᵀ·dY_n")] = each(lambda i: np.matmul(W.T, dY, out=cols))
        if k > 1:
            passes[("φᵀ", "φᵀ")] = each(lambda i: phi_adjoint(cols, dx.shape, k, out=dx))
    return passes
