"""The guided filter's passes: box means by running sums, and He's coefficients on the way.

The quantities averaged are kept as planes, (Q, H, W), so that every loop runs
along a contiguous image row (which LLVM vectorises). A box mean never looks
at a window twice: ``acc`` holds, per plane and column, the sum of the image
rows inside the window, updated as a row enters the window and as one leaves
it; a running sum along ``acc`` then gives each window's sum. O(H·W) whatever
the radius. Sums are float64 whatever the input's dtype.
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
def _window_means(acc, r, rows, inv_cols, out):
    """out[q, j] = Σ acc[q, max(0, j - r) : j + r + 1] / (rows · cols_j): the box means of one image row."""
    planes, width = acc.shape
    inv_rows = 1.0 / rows
    for q in range(planes):
        total = 0.0
        for j in range(min(width, r + 1)):
            total += acc[q, j]
        for j in range(width):
            out[q, j] = total * (inv_rows * inv_cols[j])
            if j + r + 1 < width:
                total += acc[q, j + r + 1]
            if j - r >= 0:
                total -= acc[q, j - r]


@njit(cache=True)
def _inverse_counts(width, r, inv_cols):
    """inv_cols[j] = 1 / (number of columns in the window of column j, truncated at the border)."""
    for j in range(width):
        inv_cols[j] = 1.0 / (min(width, j + r + 1) - max(0, j - r))


@njit(cache=True)
def box_mean(src, r, work, out):
    """out[q, i, j] = mean of src[q] over the (2r+1)² window at (i, j), truncated at the border.

    ``work``: float64 scratch of shape (2, Q, W) + 1 row, (2·Q + 1, W).
    """
    planes, height, width = src.shape
    acc, means, inv_cols = work[:planes], work[planes:2 * planes], work[2 * planes]
    acc[:, :] = 0.0
    _inverse_counts(width, r, inv_cols)
    top = bottom = 0
    for i in range(height):
        while bottom < min(height, i + r + 1):
            _slide(acc, src[:, bottom, :], 1.0)
            bottom += 1
        while top < i - r:
            _slide(acc, src[:, top, :], -1.0)
            top += 1
        _window_means(acc, r, bottom - top, inv_cols, means)
        for q in range(planes):
            for j in range(width):
                out[q, i, j] = means[q, j]


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
    ``work``: float64 scratch (3·Q + 1, W) with Q = 2 + 2C.
    """
    height, width, channels = p.shape
    planes = 2 + 2 * channels
    acc, rows = work[:planes], work[planes:2 * planes]
    means, inv_cols = work[2 * planes:3 * planes], work[3 * planes]
    acc[:, :] = 0.0
    _inverse_counts(width, r, inv_cols)
    top = bottom = 0
    for i in range(height):
        while bottom < min(height, i + r + 1):
            _guide_rows(I, p, bottom, rows)
            _slide(acc, rows, 1.0)
            bottom += 1
        while top < i - r:
            _guide_rows(I, p, top, rows)
            _slide(acc, rows, -1.0)
            top += 1
        _window_means(acc, r, bottom - top, inv_cols, means)
        for c in range(channels):
            for j in range(width):
                mean_I = means[0, j]
                mean_p = means[2 + c, j]
                a = (means[2 + channels + c, j] - mean_I * mean_p) / (means[1, j] - mean_I * mean_I + eps)
                ab[c, i, j] = a
                ab[channels + c, i, j] = mean_p - a * mean_I


@njit(cache=True)
def guided_output(mean_ab, I, q):
    """q[.., .., c] = mean(a_c)·I + mean(b_c) at every pixel; q is (H, W, C)."""
    height, width, channels = q.shape
    for i in range(height):
        for c in range(channels):
            for j in range(width):
                q[i, j, c] = mean_ab[c, i, j] * I[i, j] + mean_ab[channels + c, i, j]
