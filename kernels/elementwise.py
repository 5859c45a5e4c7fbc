"""Elementwise passes and the reshuffles around the conv GEMM.

The GEMM of a conv layer produces a (C_out, N·P) matrix; the network passes
(N, C_out, P) tensors. Each reshuffle below is fused with the bias work that
must touch every element anyway, so a layer makes one pass, not two.
"""
from numba import njit, prange


@njit(cache=True, parallel=True)
def relu_forward(x, y):
    """y = max(x, 0) on flat arrays."""
    for t in prange(x.size):
        v = x[t]
        y[t] = v if v > 0 else 0.0


@njit(cache=True, parallel=True)
def relu_backward(y, dy, dx):
    """dx = dy where y > 0, else 0 (flat arrays; y is the forward output)."""
    for t in prange(y.size):
        dx[t] = dy[t] if y[t] > 0 else 0.0


@njit(cache=True, parallel=True)
def bias_to_nchw(rows, b, y):
    """y[n, c, p] = rows[c, n·P + p] + b[c], with y shaped (N, C, P)."""
    n_batch, channels, plane = y.shape
    for c in prange(channels):
        bias = b[c]
        for n in range(n_batch):
            start = n * plane
            for p in range(plane):
                y[n, c, p] = rows[c, start + p] + bias


@njit(cache=True, parallel=True)
def nchw_to_rows(dy, rows, db):
    """rows[c, n·P + p] = dy[n, c, p] and db[c] = Σ dy[:, c, :].

    The inverse reshuffle of :func:`bias_to_nchw`, with the bias gradient
    summed on the way.
    """
    n_batch, channels, plane = dy.shape
    for c in prange(channels):
        total = 0.0
        for n in range(n_batch):
            start = n * plane
            for p in range(plane):
                v = dy[n, c, p]
                rows[c, start + p] = v
                total += v
        db[c] = total
