"""φ and φᵀ as loops: im2col and col2im for a k×k kernel, stride 1, valid.

Layout (the one used everywhere in this project)::

    cols[(c*k + i)*k + j, (n*R + oh - oh0)*Wo + ow] = x[n, c, oh + i, ow + j]

Rows are the receptive-field offsets (c, i, j), columns the output positions
(n, oh, ow), both in C order, ``Ho = H - k + 1``, ``Wo = W - k + 1``.
im2col takes a range of output rows oh0 ≤ oh < oh1 (R = oh1 - oh0 of them;
R = Ho in col2im): the whole image is oh0 = 0, oh1 = Ho; a strip of rows is
how a layer's forward keeps one sample's φ within the cache
(:class:`vcnn.Conv2D`, Notes).

Both loops are serial. They were ``prange`` loops; on this shared 2-core
machine every parallel region waits at its barrier for a thread the
scheduler has put aside: a profile of ``colorize apply`` on a 1-megapixel
photo (2 threads under load, taken by hand when the loops were made serial,
recorded in ``benchmarks/RESULTS.md``; the parallel loops are gone, so no
script can time them again) found 4.3 of its 8.2 network seconds in 32 calls
of a parallel im2col. A layer makes one φ per block of samples; the GEMMs,
where the time goes, use BLAS's threads, or the engine's serial tile, and
where φ is never written the samples run in Numba's threads, one parallel
region per pass (``kernels.fields``; ``benchmarks/bench_apply.py`` times
``colorize apply`` as it is now).
"""
import numpy as np
from numba import njit


@njit(cache=True, fastmath={"reassoc"})
def im2col(x, k, cols, oh0, oh1, sums=None):
    """Fill ``cols`` (C·k·k, N·R·Wo) with the receptive fields of ``x`` at output rows oh0..oh1-1.

    Given ``sums`` (C·k·k,), adds to it the sum of every row of ``cols`` as the row is written
    (the mapping layer's db = Σ dP, without a second pass over dP). Each row's sum runs in
    float64; ``reassoc`` lets LLVM keep several partial sums at once (vectorised), the same
    sum in another order (it changes nothing in the copy).
    """
    n_batch, channels, height, width = x.shape
    rows = oh1 - oh0
    out_w = width - k + 1
    # One row per (c, i, j): every write is a contiguous run of Wo values.
    # The innermost loop runs over two 1-D views, with no index arithmetic,
    # so LLVM sees a plain unit-stride copy and vectorises it (2.5-3x faster than
    # indexing cols and x inside the loop, at the paper's layer 2).
    for row in range(channels * k * k):
        c = row // (k * k)
        i = (row // k) % k
        j = row % k
        total = np.float64(0.0)                    # float64 as plain Python too (0.0 + float32 is float32)
        for n in range(n_batch):
            base = n * rows * out_w
            for oh in range(oh0, oh1):
                start = base + (oh - oh0) * out_w
                dst = cols[row, start:start + out_w]
                src = x[n, c, oh + i, j:j + out_w]
                if sums is None:
                    for ow in range(out_w):
                        dst[ow] = src[ow]
                else:
                    for ow in range(out_w):
                        v = src[ow]
                        dst[ow] = v
                        total += v
        if sums is not None:
            sums[row] += total


@njit(cache=True)
def col2im(cols, k, x, b=None, counts=None):
    """Write into ``x`` the sum of every column of ``cols`` put back on its receptive field.

    ``x`` (N, C, H, W) is overwritten, not added to: overlapping fields are
    summed, which makes this the exact adjoint of :func:`im2col`.

    The mapping layer's forward in the same pass: given ``b`` (C·k·k,),
    every value of row r of ``cols`` is summed as ``cols[r, ·] + b[r]``, and
    given ``counts`` (H, W), each plane is then divided by it, pixel by
    pixel: x = φᵀ(cols + b·1ᵀ) / counts, the same float operations in the
    same order as adding b to cols, φᵀ, then dividing, without the two
    extra passes over memory.
    """
    n_batch, channels, height, width = x.shape
    out_h = height - k + 1
    out_w = width - k + 1
    # One (n, c) image plane at a time (planes are disjoint). The
    # plane is zeroed here, while it is in the cache it is summed in: no
    # separate pass over x. The innermost loop adds one 1-D view onto
    # another, as in im2col, so that it vectorises; j innermost of the rest
    # sums the k rows (c, i, 0..k-1) of cols into one image row at a time
    # (25 % faster than j outside oh, at the paper's layer 2: as fast as
    # a plain read of cols).
    for plane in range(n_batch * channels):
        n = plane // channels
        c = plane % channels
        for h in range(height):
            for w in range(width):
                x[n, c, h, w] = 0.0
        base = n * out_h * out_w
        for i in range(k):
            for oh in range(out_h):
                start = base + oh * out_w
                for j in range(k):
                    row = (c * k + i) * k + j
                    dst = x[n, c, oh + i, j:j + out_w]
                    src = cols[row, start:start + out_w]
                    if b is None:
                        for ow in range(out_w):
                            dst[ow] += src[ow]
                    else:
                        bias = b[row]
                        for ow in range(out_w):
                            dst[ow] += src[ow] + bias
        if counts is not None:
            for h in range(height):
                line = x[n, c, h]
                scale = counts[h]
                for w in range(width):
                    line[w] /= scale[w]
