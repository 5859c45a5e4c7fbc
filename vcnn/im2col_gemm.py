"""The middle rung: a convolution as φ (im2col) and one GEMM, and nothing else.

vcnn computes the same convolution three ways, each tested against the one
before it:

1. :mod:`vcnn.naive`: six nested loops, the definition itself;
2. this module: VCNN's formulas written as they read, ``Y = W·φ(X) + b`` and
   back through φᵀ, with fresh arrays on every call and nothing kept between
   forward and backward;
3. :class:`vcnn.Conv2D`: the same algebra, with its buffers kept from batch
   to batch and the bias and reshuffles fused into Numba passes.

Read this one to see why the layer is right; read the layer to see why it is
fast.
"""
import numpy as np

from vcnn._checks import as_nchw, check_conv
from vcnn.phi import phi, phi_adjoint


def conv2d_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Valid k×k cross-correlation, stride 1, as ``Y = W · φ(X) + b``.

    Parameters
    ----------
    x : ndarray, shape (N, C_in, H, W), float32 or float64
    W : ndarray, shape (C_out, C_in, k, k), dtype of ``x``
    b : ndarray, shape (C_out,)

    Returns
    -------
    y : ndarray, shape (N, C_out, H - k + 1, W - k + 1)

    Raises
    ------
    ValueError
        If the shapes or dtypes of ``x`` and ``W`` do not fit together.

    Notes
    -----
    W reshaped to (C_out, C_in·k·k) times φ(X), (C_in·k·k, N·Ho·Wo), gives Y,
    (C_out, N·Ho·Wo): one row per output channel, one column per output
    position (n, oh, ow). A reshape and a transpose make it (N, C_out, Ho, Wo).
    """
    x, W = check_conv(x, W, "conv2d_forward")
    n, _, h, w = x.shape
    c_out, _, k, _ = W.shape
    b = np.asarray(b, dtype=x.dtype).reshape(c_out)
    cols = phi(x, k)                                       # (C_in·k·k, N·Ho·Wo)
    Y = W.reshape(c_out, -1) @ cols + b[:, None]           # now the conv is a GEMM
    return Y.reshape(c_out, n, h - k + 1, w - k + 1).transpose(1, 0, 2, 3).copy()


def conv2d_backward(x: np.ndarray, W: np.ndarray, dy: np.ndarray):
    """Gradients of :func:`conv2d_forward`: ``dW = dY · φ(X)ᵀ``, ``db = Σ dY``, ``dX = φᵀ(Wᵀ · dY)``.

    Parameters
    ----------
    x : ndarray, shape (N, C_in, H, W), the forward's input
    W : ndarray, shape (C_out, C_in, k, k)
    dy : ndarray, shape (N, C_out, H - k + 1, W - k + 1), ∂L/∂y

    Returns
    -------
    dx : ndarray, shape of ``x``
    dW : ndarray, shape of ``W``
    db : ndarray, shape (C_out,)

    Raises
    ------
    ValueError
        If the shapes or dtypes do not fit together.

    Notes
    -----
    φ(X) is computed again rather than kept from the forward pass: this rung
    trades speed for having no state at all. If we im2col on the forward, we
    col2im on the backward: φᵀ sums the gradients of the columns that shared
    a pixel.
    """
    x, W = check_conv(x, W, "conv2d_backward")
    n, _, h, w = x.shape
    c_out, _, k, _ = W.shape
    dy = as_nchw(dy, "dy", dtype=x.dtype)
    if dy.shape != (n, c_out, h - k + 1, w - k + 1):
        raise ValueError(f"dy must have shape {(n, c_out, h - k + 1, w - k + 1)}, got {dy.shape}")
    dY = dy.transpose(1, 0, 2, 3).reshape(c_out, -1)     # the layout of Y: (C_out, N·Ho·Wo)
    cols = phi(x, k)
    dW = (dY @ cols.T).reshape(W.shape)
    db = dY.sum(axis=1)
    dx = phi_adjoint(W.reshape(c_out, -1).T @ dY, x.shape, k)
    return dx, dW, db
