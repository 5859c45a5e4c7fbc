"""He et al.'s guided filter, the refinement step of the colorizer.

The network's chroma is blocky at patch seams; filtering U and V with the
untouched luma Y as guide makes their edges follow the edges of Y.

Every step is a mean over a (2r+1) x (2r+1) window. We compute those means
with a summed-area table (cumulative sums), so the cost is O(H W) whatever
the radius. Windows are truncated at the border and divided by the number of
pixels they actually hold (He's ``boxfilter(ones) = N`` convention): no
padding, so no invented pixels.

Reference: K. He, J. Sun, X. Tang, "Guided Image Filtering", ECCV 2010 /
TPAMI 2013, Algorithm 1.
"""
from __future__ import annotations

from numbers import Integral, Real

import numpy as np


def _window_bounds(n: int, r: int) -> tuple[np.ndarray, np.ndarray]:
    """First and one-past-last index of each truncated window along an axis."""
    i = np.arange(n)
    return np.clip(i - r, 0, n), np.clip(i + r + 1, 0, n)


def _box_mean(img: np.ndarray, r: int) -> np.ndarray:
    """Mean of a 2-D float64 image over truncated (2r+1)^2 windows, O(H W)."""
    h, w = img.shape
    # Summed-area table with a zero first row and column:
    # S[i, j] = sum of img[:i, :j], so any rectangle sum is 4 lookups.
    S = np.zeros((h + 1, w + 1))
    S[1:, 1:] = img.cumsum(axis=0).cumsum(axis=1)
    top, bottom = _window_bounds(h, r)
    left, right = _window_bounds(w, r)
    window_sum = (S[np.ix_(bottom, right)] - S[np.ix_(top, right)]
                  - S[np.ix_(bottom, left)] + S[np.ix_(top, left)])
    count = np.outer(bottom - top, right - left)
    return window_sum / count


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

    computed from the summed-area table in O(H W), independent of r.

    Examples
    --------
    >>> box_mean(np.array([[0.0, 3.0, 6.0]]), 1).tolist()
    [[1.5, 3.0, 4.5]]
    """
    img = _check_float(img, "img", "(H, W) or (H, W, C)")
    _check_radius(radius)
    channels = img[..., None] if img.ndim == 2 else img
    out = np.stack([_box_mean(channels[..., c].astype(np.float64), radius)
                    for c in range(channels.shape[-1])], axis=-1)
    return out.reshape(img.shape).astype(img.dtype)


def _guided_filter_channel(I: np.ndarray, mean_I: np.ndarray, var_I: np.ndarray,
                           p: np.ndarray, r: int, eps: float) -> np.ndarray:
    """Guided filter of one float64 channel p; the guide statistics are given."""
    mean_p = _box_mean(p, r)
    cov_Ip = _box_mean(I * p, r) - mean_I * mean_p
    a = cov_Ip / (var_I + eps)
    b = mean_p - a * mean_I
    return _box_mean(a, r) * I + _box_mean(b, r)


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
    _check_radius(radius)
    if not isinstance(eps, Real) or not np.isfinite(eps) or eps <= 0:
        raise ValueError(f"eps must be a finite number > 0, got {eps!r}")

    I64 = I.astype(np.float64)
    mean_I = _box_mean(I64, radius)           # shared by all channels of p
    var_I = _box_mean(I64 * I64, radius) - mean_I * mean_I
    channels = p[..., None] if p.ndim == 2 else p
    q = np.stack([_guided_filter_channel(I64, mean_I, var_I,
                                         channels[..., c].astype(np.float64),
                                         radius, float(eps))
                  for c in range(channels.shape[-1])], axis=-1)
    return q.reshape(p.shape).astype(p.dtype)
