"""Direct loop convolutions: the reference every fast path is tested against.

Written once, as plain loops. ``vcnn.naive`` runs the very same source two
ways: compiled by Numba (for the benchmark) and as pure Python through the
dispatcher's ``py_func`` (for teaching and for tests on tiny shapes).
No φ, no GEMM, no reshuffle: only the definition of the operation.
"""
from numba import njit


@njit(cache=True)
def conv_forward_direct(x, W, b, y):
    """y[n, o, p, q] = b[o] + Σ_{c,i,j} W[o, c, i, j] · x[n, c, p+i, q+j]."""
    n_batch, c_in, height, width = x.shape
    c_out, _, k, _ = W.shape
    for n in range(n_batch):
        for o in range(c_out):
            for p in range(height - k + 1):
                for q in range(width - k + 1):
                    total = b[o]
                    for c in range(c_in):
                        for i in range(k):
                            for j in range(k):
                                total += W[o, c, i, j] * x[n, c, p + i, q + j]
                    y[n, o, p, q] = total


@njit(cache=True)
def conv_backward_direct(x, W, dy, dx, dW, db):
    """Gradients of :func:`conv_forward_direct`; dx, dW, db must be zeros.

    Each term of the forward sum ``W[o,c,i,j] · x[n,c,p+i,q+j]`` sends
    ``dy[n,o,p,q]`` back to both of its factors.
    """
    n_batch, c_in, height, width = x.shape
    c_out, _, k, _ = W.shape
    for n in range(n_batch):
        for o in range(c_out):
            for p in range(height - k + 1):
                for q in range(width - k + 1):
                    g = dy[n, o, p, q]
                    db[o] += g
                    for c in range(c_in):
                        for i in range(k):
                            for j in range(k):
                                dW[o, c, i, j] += g * x[n, c, p + i, q + j]
                                dx[n, c, p + i, q + j] += g * W[o, c, i, j]


@njit(cache=True)
def full_conv_forward_direct(x, W, b, k, y):
    """The mapping layer by its definition; ``y`` must be zeros.

    Input pixel (h, w) predicts a k×k patch of every output channel o,
    ``b[(o,i,j)] + Σ_c W[(o,i,j), c] · x[n, c, h, w]``, placed at
    (h+i, w+j); every output pixel is the mean of the predictions covering it.
    """
    n_batch, c_in, height, width = x.shape
    c_out = y.shape[1]
    for n in range(n_batch):
        for o in range(c_out):
            for i in range(k):
                for j in range(k):
                    row = (o * k + i) * k + j
                    for h in range(height):
                        for w in range(width):
                            total = b[row]
                            for c in range(c_in):
                                total += W[row, c] * x[n, c, h, w]
                            y[n, o, h + i, w + j] += total
    for n in range(n_batch):
        for o in range(c_out):
            for h in range(height + k - 1):
                for w in range(width + k - 1):
                    rows_covering = min(h, k - 1) - max(0, h - height + 1) + 1
                    cols_covering = min(w, k - 1) - max(0, w - width + 1) + 1
                    y[n, o, h, w] /= rows_covering * cols_covering


@njit(cache=True)
def full_conv_backward_direct(x, W, k, dy, dx, dW, db):
    """Gradients of :func:`full_conv_forward_direct`; dx, dW, db zeros."""
    n_batch, c_in, height, width = x.shape
    c_out = dy.shape[1]
    for n in range(n_batch):
        for o in range(c_out):
            for i in range(k):
                for j in range(k):
                    row = (o * k + i) * k + j
                    for h in range(height):
                        for w in range(width):
                            oh = h + i
                            ow = w + j
                            rows_covering = min(oh, k - 1) - max(0, oh - height + 1) + 1
                            cols_covering = min(ow, k - 1) - max(0, ow - width + 1) + 1
                            g = dy[n, o, oh, ow] / (rows_covering * cols_covering)
                            db[row] += g
                            for c in range(c_in):
                                dW[row, c] += g * x[n, c, h, w]
                                dx[n, c, h, w] += g * W[row, c]
