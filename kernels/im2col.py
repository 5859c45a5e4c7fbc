"""φ and φᵀ as loops: im2col and col2im for a k×k kernel, stride 1, valid.

Layout (the one used everywhere in this project)::

    cols[(c*k + i)*k + j, (n*Ho + oh)*Wo + ow] = x[n, c, oh + i, ow + j]

Rows are the receptive-field offsets (c, i, j), columns the output positions
(n, oh, ow), both in C order, ``Ho = H - k + 1``, ``Wo = W - k + 1``.
"""
from numba import njit, prange


@njit(cache=True, parallel=True)
def im2col(x, k, cols):
    """Fill ``cols`` (C·k·k, N·Ho·Wo) with the receptive fields of ``x``."""
    n_batch, channels, height, width = x.shape
    out_h = height - k + 1
    out_w = width - k + 1
    # One row per (c, i, j): every write is a contiguous run of Wo values,
    # and rows are independent, so threads never touch the same memory.
    for row in prange(channels * k * k):
        c = row // (k * k)
        i = (row // k) % k
        j = row % k
        for n in range(n_batch):
            base = n * out_h * out_w
            for oh in range(out_h):
                start = base + oh * out_w
                for ow in range(out_w):
                    cols[row, start + ow] = x[n, c, oh + i, ow + j]


@njit(cache=True, parallel=True)
def col2im(cols, k, x):
    """Add every column of ``cols`` back onto its receptive field in ``x``.

    ``x`` (N, C, H, W) must hold zeros (or what the sum should start from):
    overlapping fields are summed, which makes this the exact adjoint of
    :func:`im2col`.
    """
    n_batch, channels, height, width = x.shape
    out_h = height - k + 1
    out_w = width - k + 1
    # One task per (n, c) image plane: planes are disjoint, so the sums need
    # no atomics, and a layer with one channel still uses every thread.
    for plane in prange(n_batch * channels):
        n = plane // channels
        c = plane % channels
        base = n * out_h * out_w
        for i in range(k):
            for j in range(k):
                row = (c * k + i) * k + j
                for oh in range(out_h):
                    start = base + oh * out_w
                    for ow in range(out_w):
                        x[n, c, oh + i, ow + j] += cols[row, start + ow]
