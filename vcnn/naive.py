"""The naive reference: convolution straight from its definition, by loops.

The loops are written once, in :mod:`kernels.naive_conv`, and run two ways:
``jit=True`` compiles them with Numba (what the benchmark times against the
vectorized layer); ``jit=False`` runs the same source as pure Python (slow:
tiny shapes only; this is the version to read while learning). They are the
first rung of three: :mod:`vcnn.im2col_gemm` writes the same convolution as
φ and one GEMM, and :class:`vcnn.Conv2D` makes that fast. Every faster rung is
tested against these loops, never against itself.
"""
import numpy as np

import kernels
from vcnn._checks import as_nchw, check_conv


def _run(kernel, jit):
    return kernel if jit else getattr(kernel, "py_func", kernel)


def _check_full_conv(x, W, k, name):
    W = np.ascontiguousarray(W)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"{name}: kernel size k must be a positive integer, got {k!r}")
    if W.ndim != 2 or W.shape[0] % (k * k):
        raise ValueError(f"{name}: W must be (C_out·k·k, C_in) with k={k}, got shape {W.shape}")
    return as_nchw(x, channels=W.shape[1], dtype=W.dtype), W


def conv2d_forward(x, W, b, jit=True):
    """Valid cross-correlation by direct loops: (N, C_in, H, W) → (N, C_out, H-k+1, W-k+1).

    ``y[n, o, p, q] = b[o] + Σ_{c,i,j} W[o, c, i, j] · x[n, c, p+i, q+j]``.
    """
    x, W = check_conv(x, W, "conv2d_forward")
    n, _, h, w = x.shape
    c_out, _, k, _ = W.shape
    y = np.zeros((n, c_out, h - k + 1, w - k + 1), dtype=x.dtype)
    _run(kernels.conv_forward_direct, jit)(x, W, np.asarray(b, x.dtype), y)
    return y


def conv2d_backward(x, W, dy, jit=True):
    """(dx, dW, db) of :func:`conv2d_forward` for the output gradient dy."""
    x, W = check_conv(x, W, "conv2d_backward")
    dx, dW, db = np.zeros_like(x), np.zeros_like(W), np.zeros(W.shape[0], x.dtype)
    _run(kernels.conv_backward_direct, jit)(x, W, np.ascontiguousarray(dy, x.dtype), dx, dW, db)
    return dx, dW, db


def full_conv2d_forward(x, W, b, k, jit=True):
    """The mapping layer by loops: (N, C_in, H, W) → (N, C_out, H+k-1, W+k-1).

    ``W`` is (C_out·k·k, C_in) with rows ordered (o, i, j); every output pixel
    is the mean of the k×k patch predictions that cover it.
    """
    x, W = _check_full_conv(x, W, k, "full_conv2d_forward")
    n, _, h, w = x.shape
    y = np.zeros((n, W.shape[0] // (k * k), h + k - 1, w + k - 1), dtype=x.dtype)
    _run(kernels.full_conv_forward_direct, jit)(x, W, np.asarray(b, x.dtype), k, y)
    return y


def full_conv2d_backward(x, W, k, dy, jit=True):
    """(dx, dW, db) of :func:`full_conv2d_forward` for the output gradient dy."""
    x, W = _check_full_conv(x, W, k, "full_conv2d_backward")
    dx, dW, db = np.zeros_like(x), np.zeros_like(W), np.zeros(W.shape[0], x.dtype)
    _run(kernels.full_conv_backward_direct, jit)(x, W, k, np.ascontiguousarray(dy, x.dtype), dx, dW, db)
    return dx, dW, db
