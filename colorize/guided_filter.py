"""He et al.'s guided filter, the refinement step of the colorizer.

The network's chroma is blocky at patch seams; filtering U and V with the
untouched luma Y as guide makes their edges follow the edges of Y.

Every step is a mean over a (2r+1) x (2r+1) window. We compute those means
with running sums (a row enters the window's sum as the window reaches it and
leaves it as the window passes; along each row, a window's sum is the
difference of two prefix sums), so the cost is O(H W) whatever the radius;
the loops are Numba kernels (:mod:`kernels.box`) that stream over all the
quantities a step needs at once, and the output is made as the box means of
He's coefficients come, row by row. Windows are truncated at the border and divided by the number of
pixels they actually hold (He's ``boxfilter(ones) = N`` convention): no
padding, so no invented pixels.

Reference: K. He, J. Sun, X. Tang, "Guided Image Filtering", ECCV 2010 /
TPAMI 2013, Algorithm 1.
"""
from __future__ import annotations

from numbers import Integral, Real

import numpy as np

import kernels


def _box_mean(stack: np.ndarray, r: int) -> np.ndarray:
    """Box means of a float64 (Q, H, W) stack of planes, all at once (:func:`kernels.box_mean`)."""
    planes, _, width = stack.shape
    out = np.empty_like(stack)
    kernels.box_mean(stack, r, np.empty((2 * planes + 2, width)), out)
    return out


def _check_radius(radius: int) -> None:
    if not isinstance(radius, Integral) or isinstance(radius, bool) or radius < 0:
        raise ValueError(f"radius must be an integer >= 0, got {radius!r}")


def _check_float(x: np.ndarray, name: str, shapes: str) -> np.ndarray:
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{name} must be a float array, got dtype {x.dtype}")
    if x.ndim not in (2, 3):
        raise ValueError(f"{name} must be {shapes}, got shape {x.shape}")
    return x


def box_mean(img: np.ndarray, radius: int) -> np.ndarray:
    """Mean over (2r+1) x (2r+1) windows truncated at the border.

    Parameters
    ----------
    img : ndarray, shape (H, W) or (H, W, C), float
    radius : int
        Window radius r >= 0 (r = 0 returns the image).

    Returns
    -------
    mean : ndarray, same shape and dtype as `img`

    Raises
    ------
    ValueError
        If `img` is not 2-D or 3-D, or `radius` is not an integer >= 0.
    TypeError
        If `img` is not a float array.

    Notes
    -----
    .. math::

        \\bar{x}_{ij} = \\frac{1}{|\\omega_{ij}|} \\sum_{(k,l) \\in \\omega_{ij}} x_{kl},
        \\quad \\omega_{ij} = [i-r, i+r] \\times [j-r, j+r] \\cap \\text{image}

    computed in O(H W), independent of r: running sums down the columns, prefix sums along the rows.

    Examples
    --------
    >>> box_mean(np.array([[0.0, 3.0, 6.0]]), 1).tolist()
    [[1.5, 3.0, 4.5]]
    """
    img = _check_float(img, "img", "(H, W) or (H, W, C)")
    _check_radius(radius)
    planes = np.moveaxis(img.reshape(img.shape[:2] + (-1,)), -1, 0).astype(np.float64)
    return np.moveaxis(_box_mean(planes, radius), 0, -1).reshape(img.shape).astype(img.dtype)


def check_parameters(radius: int, eps: float) -> None:
    """Raise ``ValueError`` unless `radius` is an integer >= 0 and `eps` a finite number > 0
    (what :func:`guided_filter` checks of them, without filtering anything)."""
    _check_radius(radius)
    if not isinstance(eps, Real) or not np.isfinite(eps) or eps <= 0:
        raise ValueError(f"eps must be a finite number > 0, got {eps!r}")


def guided_filter(I: np.ndarray, p: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """Filter `p` with the edges of the guide `I` (He et al.'s guided filter).

    Parameters
    ----------
    I : ndarray, shape (H, W), float
        Guide image (for the colorizer: the luma Y in [0, 1]).
    p : ndarray, shape (H, W) or (H, W, C), float
        Image to filter; each channel is filtered independently.
    radius : int
        Window radius r >= 0; windows are (2r+1) x (2r+1).
    eps : float
        Regularisation > 0, on the scale of the variance of `I` (1e-4 on
        [0, 1] intensities keeps edges with contrast above about 0.01).

    Returns
    -------
    q : ndarray, same shape and dtype as `p`
        Computed in float64 internally.

    Raises
    ------
    ValueError
        If shapes do not match, `radius` is not an integer >= 0 or `eps` is
        not a finite number > 0.
    TypeError
        If `I` or `p` is not a float array.

    Notes
    -----
    In each window :math:`\\omega_k`, q is a linear function of I:
    :math:`q_i = a_k I_i + b_k`, fitted to p by ridge regression,

    .. math::

        a_k = \\frac{\\overline{Ip}_k - \\bar{I}_k \\bar{p}_k}{\\sigma^2_k + \\epsilon},
        \\qquad b_k = \\bar{p}_k - a_k \\bar{I}_k,

    and the output averages the fits of all windows holding pixel i:
    :math:`q_i = \\bar{a}_i I_i + \\bar{b}_i`. Every bar is `box_mean`.
    When r covers the whole image, q is the global ridge regression of p on I.

    Examples
    --------
    >>> I = np.array([[0.0, 0.0, 1.0, 1.0]])
    >>> guided_filter(I, np.full((1, 4), 0.25), 1, 1e-4).round(6).tolist()
    [[0.25, 0.25, 0.25, 0.25]]
    """
    I = _check_float(I, "I", "(H, W)")
    p = _check_float(p, "p", "(H, W) or (H, W, C)")
    if I.ndim != 2:
        raise ValueError(f"I must be (H, W), got shape {I.shape}")
    if p.shape[:2] != I.shape:
        raise ValueError(f"p must be {I.shape} or {I.shape + ('C',)} like I, "
                         f"got shape {p.shape}")
    check_parameters(radius, eps)

    # Two streaming passes, each a Numba loop: the box means of (I, I², p, I·p)
    # row by row, turned at once into He's coefficients (a, b), a plane each
    # per channel of p; then the box means of (a, b) row by row, turned at once into the output.
    p3 = p.reshape(p.shape[:2] + (-1,))
    if p3.dtype not in (np.float32, np.float64):
        p3 = p3.astype(np.float64)
    I = I if I.dtype in (np.float32, np.float64) else I.astype(np.float64)
    height, width, channels = p3.shape
    ab = np.empty((2 * channels, height, width))
    kernels.guided_coefficients(I, p3, radius, float(eps), np.empty((3 * (2 + 2 * channels) + 2, width)), ab)
    q = np.empty(p3.shape, dtype=p3.dtype)
    kernels.guided_output(ab, radius, I, np.empty((2 * 2 * channels + 2, width)), q)
    return q.reshape(p.shape).astype(p.dtype, copy=False)
