"""The passes around a convolution's implicit GEMM, whose φ is never written.

For one image x (C, H, W) and a k×k kernel, the value of φ(x) at row
(c, i, j) and output position (oh, ow) is x[c, oh + i, ow + j]: in the
flattened plane of channel c, ``(i·W + j) + (oh·W + ow)``. So if the output
positions are numbered t = oh·W + ow, in the image's width W rather than
the output's Wo, then row (c, i, j) of φ is a run of adjacent values of x
starting at ``c·H·W + i·W + j``, and :func:`kernels.gemm_rows` reads it
there. The columns t with ow ≥ Wo are positions off the output's right
edge: the GEMM computes them and the passes below skip them (k - 1 of
every W, 5 % of a 4×4 layer's columns on 57-wide maps). t runs to
(Ho - 1)·W + Wo - 1, where the last field's last value is the plane's.

Forward: Y' = W · φ'(x) is a (C_out, T) "wide" matrix, T = (Ho - 1)·W + Wo;
:func:`wide_to_planes` adds the bias, rectifies and keeps the Ho×Wo
values of every channel. Backward: dW = Σ_n φ'(x_n) · dY'_nᵀ, with dY'ᵀ's
rows at the t of each output position and zero rows at the others; and
dX = the full correlation of dY, zero-padded by k - 1 on every side, with
the kernel turned by 180°: again φ-rows read in place, now in the padded
dY (:func:`dy_to_fields` writes both layouts in one pass).

Plain loops: under ``NUMBA_DISABLE_JIT=1`` they run as written.
"""
import numpy as np
from numba import njit


@njit(cache=True)
def wide_to_planes(wide, width, out, b=None, relu=False):
    """out[c, oh, ow] = wide[c, oh·width + ow] (+ b[c]; with ``relu`` max(that, 0)), out shaped (C, Ho, Wo)."""
    channels, rows, cols = out.shape
    for c in range(channels):
        bias = 0.0 if b is None else b[c]
        for oh in range(rows):
            src = wide[c, oh * width:oh * width + cols]
            dst = out[c, oh]
            for ow in range(cols):
                v = src[ow] + bias
                dst[ow] = v if (v > 0 or not relu) else 0.0


@njit(cache=True, fastmath={"reassoc"})
def dy_to_fields(dy, k, db, padded, dyt, y=None):
    """One sample's dy (C, Ho, Wo) in the two layouts of the implicit backward; db += its sums.

    ``padded`` (C, Ho + 2k - 2, W + k - 1), W = Wo + k - 1: dy with k - 1 zeros on every side, the
    image whose φ-rows dX's product reads. ``dyt`` (T, C), T = (Ho - 1)·W + Wo: dyt[oh·W + ow, c] =
    dy[c, oh, ow], and zero at the t with ow ≥ Wo: the B of dW's product. Given the rectified output
    ``y`` of a fused ReLU, dy passes only where y > 0. Each sum of db runs in float64
    (``reassoc``: several partial sums at once).

    Two passes: dy into ``padded`` a row at a time (a loop LLVM vectorises, with the mask and the
    sums), then ``padded`` into dyt an output row at a time, whose (Wo, C) block of dyt stays in
    the L1 cache while its columns are written.
    """
    channels, rows, cols = dy.shape
    width = cols + k - 1
    edge = k - 1
    for c in range(channels):
        plane = padded[c]
        plane[:edge] = 0.0
        plane[edge + rows:] = 0.0
        total = 0.0
        for oh in range(rows):
            line = plane[edge + oh]
            line[:edge] = 0.0
            line[edge + cols:] = 0.0
            src = dy[c, oh]
            dst = line[edge:edge + cols]
            if y is None:
                for ow in range(cols):
                    v = src[ow]
                    dst[ow] = v
                    total += v
            else:
                mask = y[c, oh]
                for ow in range(cols):
                    v = src[ow] if mask[ow] > 0 else 0.0
                    dst[ow] = v
                    total += v
        db[c] += total
    for oh in range(rows):
        block = dyt[oh * width:oh * width + cols]       # the output row's (Wo, C) block: in the L1 cache
        for c in range(channels):
            src = padded[c, edge + oh, edge:edge + cols]
            for ow in range(cols):
                block[ow, c] = src[ow]
        if oh < rows - 1:
            dyt[oh * width + cols:(oh + 1) * width] = 0.0
