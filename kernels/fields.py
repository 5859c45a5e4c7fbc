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

:func:`conv_forward` and :func:`conv_backward` run a layer's samples in
Numba's threads (``prange``), each thread with its own buffers, through
the tile (:func:`kernels.gemm_rows`'s loops) and the passes below; a
sample's numbers do not depend on the thread that computes it, and the
sums over samples (db, dW) are left to the caller, in sample order. The
passes are plain loops: under ``NUMBA_DISABLE_JIT=1`` they run as written
(the tile does not: :mod:`vcnn` does not take this path then).
"""
from numba import njit, prange

from kernels.elementwise import nchw_to_rows
from kernels.gemm import _gemm, check_rows


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


@njit(cache=True, parallel=True)
def conv_forward(w, w_offsets, x, x_offsets, b, relu, wide, y):
    """y[s] = W · φ(x[s]) + b (with ``relu`` max(that, 0)) for every sample s, φ's rows read in x[s] at
    ``x_offsets``; W (C_out, C, k, k) as rows at ``w_offsets``. ``wide`` (threads, C_out, T): one wide
    matrix per thread; thread t takes the samples t, t + threads, …"""
    n, width = x.shape[0], x.shape[3]
    threads = wide.shape[0]
    c_out, ho, wo = y.shape[1], x.shape[2] - w.shape[2] + 1, x.shape[3] - w.shape[3] + 1
    if (y.shape[0] != n or y.shape[2:] != (ho, wo) or w.shape[0] != c_out or b.shape[0] != c_out or threads < 1
            or wide.shape[1] != c_out or wide.shape[2] < (ho - 1) * width + wo):
        raise ValueError("conv_forward: y, w, b or wide do not fit x")
    check_rows(w, w_offsets, 4, x[0], x_offsets, wide[0])
    for t in prange(threads):
        for s in range(t, n, threads):
            _gemm(w, w_offsets, 4, x[s], x_offsets, wide[t])
            wide_to_planes(wide[t], width, y[s], b, relu)


@njit(cache=True, parallel=True)
def conv_backward(x, x_offsets, dy, y, k, rows, padded, dyt, dyt_offsets, terms, db_terms,
                  w_swapped=None, swapped_offsets=None, turned_offsets=None, wide=None, dx=None):
    """For every sample s: dy[s] masked by [y[s] > 0] (unless ``y`` is None) into rows, its sum into
    db_terms[s] (float64, zeroed by the caller); the rows padded and transposed
    (:func:`rows_to_fields`); terms[s] = φ(x[s]) · dY_sᵀ, φ's rows read in x[s]; and given ``dx``,
    dx[s] = the full correlation of the padded dY with the kernel turned by 180° (``w_swapped``,
    (C_in, C_out, k, k), as rows at ``swapped_offsets``; its φ's rows at ``turned_offsets``).
    ``rows``, ``padded``, ``dyt`` and ``wide`` hold one buffer per thread, as in :func:`conv_forward`."""
    n, channels, ho, wo = dy.shape
    threads = rows.shape[0]
    height, width = ho + k - 1, wo + k - 1
    if (x.shape[0] != n or x.shape[2:] != (height, width) or (y is not None and y.shape != dy.shape)
            or terms.shape[0] != n or db_terms.shape != (n, channels) or threads < 1
            or rows.shape[1:] != (channels, ho * wo) or padded.shape != (threads, channels, ho + 2 * k - 2, width + k - 1)
            or dyt.shape != (threads, (ho - 1) * width + wo, channels)):
        raise ValueError("conv_backward: dy, y, the buffers or the sums do not fit x")
    check_rows(x[0], x_offsets, 4, dyt[0], dyt_offsets, terms[0])
    if dx is not None:
        if (dx.shape != x.shape or wide.shape[0] != threads or wide.shape[1] != x.shape[1]
                or wide.shape[2] < (height - 1) * (width + k - 1) + width):
            raise ValueError("conv_backward: dx or wide do not fit x")
        check_rows(w_swapped, swapped_offsets, 4, padded[0], turned_offsets, wide[0])
    for t in prange(threads):
        for s in range(t, n, threads):
            if y is None:
                nchw_to_rows(dy[s:s + 1].reshape((1, channels, ho * wo)), rows[t], db_terms[s])
            else:
                nchw_to_rows(dy[s:s + 1].reshape((1, channels, ho * wo)), rows[t], db_terms[s],
                             y[s:s + 1].reshape((1, channels, ho * wo)))
            rows_to_fields(rows[t], wo, k, padded[t], dyt[t])
            _gemm(x[s], x_offsets, 4, dyt[t], dyt_offsets, terms[s])
            if dx is not None:
                _gemm(w_swapped, swapped_offsets, 4, padded[t], turned_offsets, wide[t])
                wide_to_planes(wide[t], padded.shape[3], dx[s])
