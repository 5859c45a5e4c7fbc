"""The guided filter's passes: box means by running sums, and He's coefficients on the way.

The quantities averaged are kept as planes, (Q, H, W), so that every loop runs
along a contiguous image row (which LLVM vectorises). A box mean never looks
at a window twice: ``acc`` holds, per plane and column, the sum of the image
rows inside the window, updated as a row enters the window and as one leaves
it; the prefix sums along ``acc`` then give each window's sum as the
difference of two of them. O(H·W) whatever the radius. Sums are float64
whatever the input's dtype.
"""
from numba import njit


@njit(cache=True)
def _slide(acc, rows, sign):
    """acc[q, j] += sign · rows[q, j]: a row of every plane enters (+1) or leaves (-1) the window."""
    planes, width = acc.shape
    for q in range(planes):
        for j in range(width):
            acc[q, j] += sign * rows[q, j]


@njit(cache=True)
def _window_means(acc, r, rows, inv_cols, prefix, out):
    """out[q, j] = Σ acc[q, max(0, j - r) : j + r + 1] / (rows · cols_j): the box means of one image row.

    ``prefix`` (W,) is scratch: prefix[j] = Σ acc[q, :j + 1], so a window's sum
    is prefix[j + r] - prefix[j - r - 1] (clipped at the borders). The prefix
    sum is the one chain of dependent adds, one per element; a running window
    sum (add the column entering, subtract the one leaving) had two, and the
    differences, one per column of the interior, vectorise (30 % less time
    than the running sum, 1000-wide rows). A difference of prefix sums rounds
    with the row's total, not the window's: on values in [0, 1] and 6000-wide
    rows, 5.6e-14 against 4.5e-15 for the running sum (float64), far below
    eps.
    """
    planes, width = acc.shape
    inv_rows = 1.0 / rows
    start = min(width, r + 1)                  # interior: r + 1 <= j < width - r, both ends inside
    stop = max(start, width - r)
    for q in range(planes):
        src, dst = acc[q], out[q]
        total = 0.0
        for j in range(width):
            total += src[j]
            prefix[j] = total
        upper, lower = prefix[start + r:stop + r], prefix[start - r - 1:stop - r - 1]
        inner, scale = dst[start:stop], inv_cols[start:stop]
        for t in range(stop - start):
            inner[t] = (upper[t] - lower[t]) * (inv_rows * scale[t])
        for j in range(start):                                            # the borders
            dst[j] = _clipped_sum(prefix, j, r) * (inv_rows * inv_cols[j])
        for j in range(stop, width):
            dst[j] = _clipped_sum(prefix, j, r) * (inv_rows * inv_cols[j])


@njit(cache=True)
def _clipped_sum(prefix, j, r):
    """Σ of the row over columns max(0, j - r) .. min(W - 1, j + r), from its prefix sums."""
    below = prefix[j - r - 1] if j - r - 1 >= 0 else 0.0
    return prefix[min(prefix.size - 1, j + r)] - below


@njit(cache=True)
def _inverse_counts(width, r, inv_cols):
    """inv_cols[j] = 1 / (number of columns in the window of column j, truncated at the border)."""
    for j in range(width):
        inv_cols[j] = 1.0 / (min(width, j + r + 1) - max(0, j - r))


@njit(cache=True)
def _advance(src, r, i, acc, top, bottom):
    """Slide the window to image row i: rows of every plane of ``src`` enter ``acc`` (+) and leave it (-);
    returns the new (top, bottom), the window's rows being top .. bottom - 1."""
    height = src.shape[1]
    while bottom < min(height, i + r + 1):
        _slide(acc, src[:, bottom, :], 1.0)
        bottom += 1
    while top < i - r:
        _slide(acc, src[:, top, :], -1.0)
        top += 1
    return top, bottom


@njit(cache=True)
def box_mean(src, r, work, out):
    """out[q, i, j] = mean of src[q] over the (2r+1)² window at (i, j), truncated at the border.

    ``work``: float64 scratch (2·Q + 2, W).
    """
    planes, height, width = src.shape
    acc, means = work[:planes], work[planes:2 * planes]
    inv_cols, prefix = work[2 * planes], work[2 * planes + 1]
    acc[:, :] = 0.0
    _inverse_counts(width, r, inv_cols)
    top = bottom = 0
    for i in range(height):
        top, bottom = _advance(src, r, i, acc, top, bottom)
        _window_means(acc, r, bottom - top, inv_cols, prefix, means)
        for q in range(planes):
            out[q, i, :] = means[q]


@njit(cache=True)
def _guide_rows(I, p, i, rows):
    """rows = (I, I², p_0 .. p_C-1, I·p_0 .. I·p_C-1) along image row i, in float64."""
    width, channels = p.shape[1], p.shape[2]
    for j in range(width):
        g = float(I[i, j])
        rows[0, j] = g
        rows[1, j] = g * g
        for c in range(channels):
            v = float(p[i, j, c])
            rows[2 + c, j] = v
            rows[2 + channels + c, j] = g * v


@njit(cache=True)
def guided_coefficients(I, p, r, eps, work, ab):
    """He's linear coefficients per window, for every channel c of p (H, W, C).

    The box means of I, I², p_c and I·p_c are made row by row, as in
    :func:`box_mean`, and used at once:
    ``a_c = (mean(I·p_c) - mean(I)·mean(p_c)) / (mean(I²) - mean(I)² + eps)``,
    ``b_c = mean(p_c) - a_c·mean(I)``; plane c of ``ab`` is a_c, plane C + c is b_c.
    ``work``: float64 scratch (3·Q + 2, W) with Q = 2 + 2C.
    """
    height, width, channels = p.shape
    planes = 2 + 2 * channels
    acc, rows = work[:planes], work[planes:2 * planes]
    means, inv_cols, prefix = work[2 * planes:3 * planes], work[3 * planes], work[3 * planes + 1]
    acc[:, :] = 0.0
    _inverse_counts(width, r, inv_cols)
    top = bottom = 0
    for i in range(height):
        # _advance's loops, the rows made as they enter and leave. One helper for this skeleton
        # and box_mean's and guided_output's would be handed the row maker and the use of the
        # means as functions: about as fast (±4 %), but Numba cannot cache a kernel handed
        # functions, so every process would compile it again (3.5 s here).
        while bottom < min(height, i + r + 1):
            _guide_rows(I, p, bottom, rows)
            _slide(acc, rows, 1.0)
            bottom += 1
        while top < i - r:
            _guide_rows(I, p, top, rows)
            _slide(acc, rows, -1.0)
            top += 1
        _window_means(acc, r, bottom - top, inv_cols, prefix, means)
        for c in range(channels):
            for j in range(width):
                mean_I = means[0, j]
                mean_p = means[2 + c, j]
                a = (means[2 + channels + c, j] - mean_I * mean_p) / (means[1, j] - mean_I * mean_I + eps)
                ab[c, i, j] = a
                ab[channels + c, i, j] = mean_p - a * mean_I


@njit(cache=True)
def guided_output(ab, r, I, work, q):
    """q[i, j, c] = mean(a_c)·I + mean(b_c): the box means of He's coefficients, made row by row as in
    :func:`box_mean` and used at once (never stored as planes); ``ab`` as :func:`guided_coefficients`
    leaves it, (2C, H, W), q is (H, W, C). ``work``: float64 scratch (2·2C + 2, W).
    """
    planes, height, width = ab.shape
    channels = planes // 2
    acc, means = work[:planes], work[planes:2 * planes]
    inv_cols, prefix = work[2 * planes], work[2 * planes + 1]
    acc[:, :] = 0.0
    _inverse_counts(width, r, inv_cols)
    top = bottom = 0
    for i in range(height):
        top, bottom = _advance(ab, r, i, acc, top, bottom)
        _window_means(acc, r, bottom - top, inv_cols, prefix, means)
        guide = I[i]
        for c in range(channels):
            mean_a, mean_b = means[c], means[channels + c]
            for j in range(width):
                q[i, j, c] = mean_a[j] * guide[j] + mean_b[j]
