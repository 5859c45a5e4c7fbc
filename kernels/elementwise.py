"""Elementwise passes: ReLU, and the bias (with a fused ReLU) around a conv's GEMM.

The GEMM of a conv layer over a block of B samples produces a (C_out, B·P)
matrix; the network passes (N, C_out, P) tensors. Each reshuffle below is
fused with the bias work that must touch every element anyway, so a layer
makes one pass, not two. For B = 1 the GEMM's output already is the
sample's (C_out, P) block and the "reshuffle" only adds the bias in place
(:func:`bias_in_place`, a loop LLVM vectorises).

These passes are memory-bound and serial on purpose: measured on this
2-core machine with the other core busy, a ``parallel=True`` ReLU took 8 ms
per call on 23k elements (thread wake-up) against 0.009 ms serial, and was
slower than serial even on 10M elements (15 ms against 11 ms).
"""
from numba import njit


@njit(cache=True)
def relu_forward(x, y):
    """y = max(x, 0) on flat arrays."""
    for t in range(x.size):
        v = x[t]
        y[t] = v if v > 0 else 0.0


@njit(cache=True)
def relu_backward(y, dy, dx):
    """dx = dy where y > 0, else 0 (flat arrays; y is the forward output)."""
    for t in range(y.size):
        dx[t] = dy[t] if y[t] > 0 else 0.0


@njit(cache=True)
def bias_to_nchw(rows, b, y, relu=False):
    """y[n, c, p] = rows[c, n·P + p] + b[c], with y shaped (N, C, P); with ``relu``, max(that, 0).

    For N = 1, ``rows`` may be ``y[0]`` itself (the bias is then added in place).
    """
    n_batch, channels, plane = y.shape
    for c in range(channels):
        bias = b[c]
        for n in range(n_batch):
            start = n * plane
            for p in range(plane):
                v = rows[c, start + p] + bias
                y[n, c, p] = v if (v > 0 or not relu) else 0.0


@njit(cache=True)
def bias_in_place(y, b, relu=False):
    """y[c, p] += b[c] for y shaped (C, P); with ``relu``, max(that, 0): :func:`bias_to_nchw` for one
    sample, whose GEMM wrote its output in place.

    The same arithmetic as ``bias_to_nchw(y, b, y[None], relu)``, as a loop over one 1-D view per
    channel that reads and writes the same array: LLVM vectorises it, where the aliasing of the
    two arguments of :func:`bias_to_nchw` keeps that loop scalar.
    """
    channels, plane = y.shape
    for c in range(channels):
        bias = b[c]
        row = y[c]
        if relu:
            for p in range(plane):
                v = row[p] + bias
                row[p] = v if v > 0 else 0.0
        else:
            for p in range(plane):
                row[p] += bias


@njit(cache=True, fastmath={"reassoc"})
def nchw_to_rows(dy, rows, db, y=None):
    """rows[c, n·P + p] = dy[n, c, p] and db[c] += Σ dy[:, c, :] (dy shaped (N, C, P)).

    The inverse reshuffle of :func:`bias_to_nchw`, with the bias gradient
    summed on the way (added to ``db``: a layer sums it block by block).
    Given the rectified output ``y`` of a ReLU fused into
    :func:`bias_to_nchw`, dy passes only where y > 0 (ReLU's backward).

    The sum runs in float64; ``reassoc`` lets LLVM keep several partial
    sums at once (vectorised) instead of one chain of adds: with the 1-D
    views, 68 → 14 µs per 32×51×51 sample (a one-off hand measurement):
    the same sum in another order, equal to the serial one to float64
    round-off, far below float32's.
    """
    n_batch, channels, plane = dy.shape
    for c in range(channels):
        total = 0.0
        for n in range(n_batch):
            src = dy[n, c]
            dst = rows[c, n * plane:(n + 1) * plane]
            if y is None:
                for p in range(plane):
                    v = src[p]
                    dst[p] = v
                    total += v
            else:
                mask = y[n, c]
                for p in range(plane):
                    v = src[p] if mask[p] > 0 else 0.0
                    dst[p] = v
                    total += v
        db[c] += total
