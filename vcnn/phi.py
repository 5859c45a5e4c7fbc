"""φ, the vectorization operator of VCNN (im2col), and its adjoint φᵀ.

φ turns a batch of images into one matrix whose columns are the flattened
k×k×C receptive fields, so that a convolution becomes a single matrix product
(Ren & Xu 2015). φᵀ, its adjoint, puts columns back where they came from and
sums where fields overlap (col2im): if we im2col on the forward, we col2im on
the backward.
"""
import operator

import numpy as np

import kernels
from vcnn._checks import as_nchw, check_kernel_size


def phi(x: np.ndarray, k: int, out: np.ndarray | None = None, rows: tuple | None = None,
        sums: np.ndarray | None = None) -> np.ndarray:
    """Vectorize a batch: every receptive field of ``x`` as one column.

    Parameters
    ----------
    x : ndarray, float32 or float64, shape (N, C, H, W)
    k : int
        Kernel size; stride 1, valid placement.
    out : ndarray, shape (C·k·k, N·R·Wo), C-contiguous, dtype of ``x``, optional
        Buffer to fill (overwritten), e.g. one kept from the previous batch:
        φ is the largest array of a layer, and writing into memory already
        mapped spares the first-touch cost of a fresh one.
    rows : (oh0, oh1), optional
        Only the output rows oh0 ≤ oh < oh1 (a strip: R = oh1 - oh0 rows
        instead of Ho; ``out`` then has N·R·Wo columns). For one image these
        are the columns oh0·Wo … oh1·Wo - 1 of its whole φ.
    sums : ndarray, shape (C·k·k,), float32 or float64, optional
        Added to, not overwritten: the sum of every row of the result, taken
        (in float64) as the row is written, e.g. the mapping layer's
        db = Σ dP without a second pass over dP (:class:`vcnn.FullConv2D`).

    Returns
    -------
    cols : ndarray, shape (C·k·k, N·R·Wo), ``Ho = H - k + 1``, ``Wo = W - k + 1``, R = Ho unless ``rows``
        Row index ordered (c, i, j), column index ordered (n, oh, ow), both
        in C order: ``cols[(c·k + i)·k + j, (n·R + oh - oh0)·Wo + ow] = x[n, c, oh+i, ow+j]``.

    Raises
    ------
    ValueError
        If ``x`` is not a non-empty float (N, C, H, W) array, ``k`` does not
        fit, ``rows`` is not a range of output rows, or ``out`` or ``sums``
        is not a buffer of the right shape and dtype.

    Notes
    -----
    A k×k convolution with weights W (C_out, C·k·k) is then ``W @ phi(x, k)``.
    For k = 1, φ is only a transpose of (N, C, H·W) to (C, N·H·W).

    Examples
    --------
    >>> x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    >>> phi(x, 2)[:, :3]
    array([[0., 1., 2.],
           [1., 2., 3.],
           [4., 5., 6.],
           [5., 6., 7.]], dtype=float32)
    """
    x = as_nchw(x)
    n, c, h, w = x.shape
    k = check_kernel_size(k, h, w)
    oh0, oh1 = (0, h - k + 1) if rows is None else _row_range(rows, h - k + 1)
    shape = (c * k * k, n * (oh1 - oh0) * (w - k + 1))
    if out is None:
        out = np.empty(shape, dtype=x.dtype)
    elif out.shape != shape or out.dtype != x.dtype or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous {x.dtype} array of shape {shape}, "
                         f"got {out.dtype} {out.shape}")
    sums = _per_row("sums", sums, shape[0])
    if sums is not None and not sums.flags.writeable:
        raise ValueError("sums must be writeable: the row sums are added to it")
    kernels.im2col(x, k, out, oh0, oh1, sums)
    return out


def phi_adjoint(cols: np.ndarray, x_shape: tuple, k: int, out: np.ndarray | None = None,
                bias: np.ndarray | None = None, counts: np.ndarray | None = None) -> np.ndarray:
    """The adjoint of :func:`phi` (col2im): scatter columns back, summing overlaps.

    Parameters
    ----------
    cols : ndarray, shape (C·k·k, N·Ho·Wo)
    x_shape : tuple (N, C, H, W)
        Shape of the image batch the columns were taken from.
    k : int
    out : ndarray, shape ``x_shape``, C-contiguous, dtype of ``cols``, optional
        Buffer to fill (overwritten).
    bias : ndarray, shape (C·k·k,), optional
        Added to every value of its row of ``cols`` as it is summed:
        φᵀ(cols + bias·1ᵀ), without writing ``cols + bias`` anywhere.
    counts : ndarray, shape (H, W), optional
        Every image plane of the result is divided by it, pixel by pixel,
        while the plane is in the cache. With ``bias``, this is the mapping
        layer's forward, Y = φᵀ(P + b) / counts (:class:`vcnn.FullConv2D`): the
        same float operations in the same order as the three separate steps.

    Returns
    -------
    x : ndarray, shape ``x_shape``, same dtype as ``cols``

    Raises
    ------
    ValueError
        If the shape of ``cols`` does not match ``x_shape`` and ``k``, or
        ``out``, ``bias`` or ``counts`` is not of the right shape and dtype.

    Notes
    -----
    For every x and c, ``<phi(x, k), c> == <x, phi_adjoint(c, x.shape, k)>``.
    """
    if len(x_shape) != 4 or min(x_shape) < 1:
        raise ValueError(f"x_shape must be a non-empty (N, C, H, W), got {tuple(x_shape)}")
    n, c, h, w = (int(s) for s in x_shape)
    k = check_kernel_size(k, h, w)
    expected = (c * k * k, n * (h - k + 1) * (w - k + 1))
    cols = np.asarray(cols)
    if cols.shape != expected:
        raise ValueError(f"cols must have shape {expected} for x_shape {tuple(x_shape)} and k={k}, got {cols.shape}")
    if cols.dtype not in (np.float32, np.float64):
        raise ValueError(f"cols must be float32 or float64, got {cols.dtype}")
    cols = np.ascontiguousarray(cols)
    if out is None:
        out = np.empty((n, c, h, w), dtype=cols.dtype)
    elif out.shape != (n, c, h, w) or out.dtype != cols.dtype or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous {cols.dtype} array of shape {(n, c, h, w)}, "
                         f"got {out.dtype} {out.shape}")
    bias = _per_row("bias", bias, expected[0], cols.dtype)
    if counts is not None and (counts.shape != (h, w) or counts.dtype != cols.dtype):
        raise ValueError(f"counts must be a {cols.dtype} array of shape {(h, w)}, got {counts.dtype} {counts.shape}")
    kernels.col2im(cols, k, out, bias, counts)   # col2im zeroes each plane as it sums into it
    return out


def _per_row(name: str, values: np.ndarray | None, rows: int, dtype=None) -> np.ndarray | None:
    """``values`` checked to be one float per row of a φ-matrix of ``rows`` rows (of ``dtype`` if given)."""
    if values is None:
        return None
    allowed = (np.float32, np.float64) if dtype is None else (dtype,)
    if values.shape != (rows,) or values.dtype not in allowed:
        raise ValueError(f"{name} must be a {dtype or 'float'} array of shape {(rows,)}, "
                         f"got {values.dtype} {values.shape}")
    return values


def _row_range(rows, ho: int) -> tuple:
    """``rows`` checked to be two whole numbers 0 <= oh0 < oh1 <= ho."""
    try:
        oh0, oh1 = (operator.index(r) for r in rows)
    except (TypeError, ValueError):
        raise ValueError(f"rows must be two whole numbers (oh0, oh1), got {rows!r}") from None
    if not 0 <= oh0 < oh1 <= ho:
        raise ValueError(f"rows must be (oh0, oh1) with 0 <= oh0 < oh1 <= {ho}, got {(oh0, oh1)}")
    return oh0, oh1
