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
values of every channel. Backward: dWᵀ = Σ_n φ'(x_n) · dY'_nᵀ, with dY'ᵀ's
rows at the t of each output position and zero rows at the others; and
dX = the full correlation of dY, zero-padded by k - 1 on every side, with
the kernel turned by 180°: again φ-rows read in place, now in the padded
dY (:func:`rows_to_fields` writes both layouts).

Plain loops: under ``NUMBA_DISABLE_JIT=1`` they run as written.
"""
from numba import njit


@njit(cache=True)
def wide_to_planes(wide, width, out, b=None, relu=False):
    """out[c, oh, ow] = wide[c, oh·width + ow] (+ b[c]; with ``relu`` max(that, 0)), out shaped (C, Ho, Wo)."""
    channels, ho, wo = out.shape
    for c in range(channels):
        bias = 0.0 if b is None else b[c]
        for oh in range(ho):
            src = wide[c, oh * width:oh * width + wo]
            dst = out[c, oh]
            for ow in range(wo):
                v = src[ow] + bias
                dst[ow] = v if (v > 0 or not relu) else 0.0


@njit(cache=True)
def rows_to_fields(dY, wo, k, padded, dyt):
    """One sample's dY, as rows (C, Ho·Wo), in the two layouts of the implicit backward.

    ``padded`` (C, Ho + 2k - 2, W + k - 1), W = Wo + k - 1: dY with k - 1 zeros on every side, the
    image whose φ-rows dX's product reads. ``dyt`` (T, C), T = (Ho - 1)·W + Wo: dyt[oh·W + ow, c] =
    dY[c, oh·Wo + ow], and zero at the t with ow ≥ Wo: the B of dW's product. (The rows come
    from :func:`kernels.nchw_to_rows`, which masks dy by a fused ReLU and sums db.)
    """
    channels = dY.shape[0]
    ho = dY.shape[1] // wo
    width = wo + k - 1
    edge = k - 1
    for oh in range(ho):
        for ow in range(wo):
            line = dyt[oh * width + ow]            # one row of dyt, its C values adjacent
            for c in range(channels):
                line[c] = dY[c, oh * wo + ow]
        if oh < ho - 1:
            dyt[oh * width + wo:(oh + 1) * width] = 0.0
    padded[...] = 0.0
    for c in range(channels):
        for oh in range(ho):
            src = dY[c, oh * wo:(oh + 1) * wo]
            dst = padded[c, edge + oh, edge:edge + wo]
            for ow in range(wo):
                dst[ow] = src[ow]
