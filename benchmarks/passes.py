"""The passes of a conv layer's step, one callable each, for the benchmarks' breakdowns.

:class:`vcnn.Conv2D` takes its GEMMs one block of samples at a time (one
sample on one thread, the whole batch on several); each callable here makes
one kind of pass over the whole batch the same way (same blocks, same shapes,
same kernels, its own buffers), so that timing them one by one says where a
step's time goes. Used by ``bench_conv.py`` and ``bench_train.py``.
"""
import numpy as np

import kernels
from vcnn.layers import Conv2D, _blocks
from vcnn.phi import phi, phi_adjoint


def conv_passes(layer: Conv2D, x: np.ndarray, dy: np.ndarray, need_dx: bool = True) -> dict:
    """{(category, pass): callable} for one forward + backward of ``layer`` on ``x`` and ``dy``.

    Categories: "φ", "GEMM", "bias", "φᵀ". Without ``need_dx`` (the
    network's first layer in training) the Wᵀ·dY GEMM and φᵀ are left out.
    """
    n, c_in, h, w = x.shape
    k, c_out = layer.k, layer.c_out
    blocks = _blocks(layer, n)
    size = blocks[0][1]                                      # samples in the (first, largest) block
    p = (h - k + 1) * (w - k + 1)
    W = layer.W.reshape(c_out, -1)
    cols = np.empty((c_in * k * k, size * p), x.dtype)
    phi(x[:size], k, out=cols)                               # filled once, for the passes that read it
    rows, y = np.zeros((c_out, size * p), x.dtype), np.zeros((n, c_out, p), x.dtype)
    dWt, db = np.empty((c_in * k * k, c_out), x.dtype), np.zeros(c_out, x.dtype)
    dy = np.ascontiguousarray(dy).reshape(n, c_out, -1)
    dx = np.empty((size, c_in, h, w), x.dtype)

    def each(fn):
        return lambda: [fn(s, e) for s, e in blocks]

    def phi_block(s, e):
        return phi(x[s:e], k, out=cols[:, :(e - s) * p])
    passes = {
        ("φ", "φ(X), forward and again in backward"): each(lambda s, e: (phi_block(s, e), phi_block(s, e))),
        ("GEMM", "Y = W·φ(X)"): each(lambda s, e: np.matmul(W, cols[:, :(e - s) * p], out=rows[:, :(e - s) * p])),
        ("bias", "+ b (and ReLU), to (N, C, H, W)"): each(lambda s, e: kernels.bias_to_nchw(
            rows, layer.b, y[s:e], layer.relu)),
        ("bias", "dY (ReLU mask), db"): each(lambda s, e: kernels.nchw_to_rows(
            dy[s:e], rows[:, :(e - s) * p], db, y[s:e] if layer.relu else None)),
        ("GEMM", "dW += dY·φ(X)ᵀ"): each(lambda s, e: np.matmul(cols[:, :(e - s) * p], rows[:, :(e - s) * p].T,
                                                               out=dWt)),
    }
    if k == 1 and size == 1:
        del passes[("φ", "φ(X), forward and again in backward")]        # φ(X_n) is X_n itself
    if need_dx:
        passes[("GEMM", "Wᵀ·dY")] = each(lambda s, e: np.matmul(W.T, rows[:, :(e - s) * p],
                                                                 out=cols[:, :(e - s) * p]))
        if not (k == 1 and size == 1):
            passes[("φᵀ", "φᵀ")] = each(lambda s, e: phi_adjoint(cols[:, :(e - s) * p], (e - s, c_in, h, w), k,
                                                                  out=dx[:e - s]))
    return passes
