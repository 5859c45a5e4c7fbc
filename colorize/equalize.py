"""Histogram equalisation of the luminance, the paper's §5 preprocessing for gray inputs.

The network may see the equalised Y (``colorize apply --equalize``); the
output keeps the input's own Y. `equalizer` counts the levels once, a strip
of rows at a time, and returns the mapping, so that the pipeline equalises
only the rows the networks are about to see.
"""
from __future__ import annotations

import numpy as np

from colorize.infer import PASS_ROWS, check_y
from colorize.options import check_positive_int

#: Bins of `equalize`: one per 16-bit level, so 8-bit levels land in distinct bins too.
EQUALIZE_BINS = 2 ** 16


def equalizer(y: np.ndarray, bins: int = EQUALIZE_BINS):
    """The function that histogram-equalises `y`, to apply to `y` or to any rows of it (see `equalize`)."""
    y = check_y(y)
    bins = check_positive_int(bins, "bins")
    counts = np.zeros(bins, np.int64)
    for top in range(0, len(y), PASS_ROWS):
        counts += np.bincount(np.rint(y[top:top + PASS_ROWS] * (bins - 1)).astype(np.int64).ravel(), minlength=bins)
    cdf = np.cumsum(counts)
    lowest = cdf[np.flatnonzero(counts)[0]]

    def apply(rows: np.ndarray) -> np.ndarray:
        if lowest == y.size:                              # a single level
            return rows.copy()
        return ((cdf[np.rint(rows * (bins - 1)).astype(np.int64)] - lowest) / (y.size - lowest)).astype(np.float32)
    return apply


def equalize(y: np.ndarray, bins: int = EQUALIZE_BINS) -> np.ndarray:
    """Histogram-equalise a luminance image (the paper's §5 preprocessing).

    Parameters
    ----------
    y : ndarray, shape (H, W), float in [0, 1]
    bins : int
        Levels of the histogram, evenly spaced on [0, 1]. The default 65536
        gives every 16-bit level, and so every 8-bit level, its own bin: the
        result is the exact discrete equalisation of such images.

    Returns
    -------
    ndarray, shape (H, W), float32 in [0, 1]
        A non-decreasing function of `y`; the darkest level maps to 0, the
        brightest to 1. A constant image is returned unchanged.

    Notes
    -----
    With level :math:`l(v) = \\mathrm{round}(v (bins - 1))`, cumulative count
    :math:`c(l)` and :math:`n` pixels,
    :math:`\\mathrm{eq}(v) = (c(l(v)) - c_{min}) / (n - c_{min})`.

    >>> equalize(np.array([[0.4, 0.4, 0.5, 0.6]])).tolist()
    [[0.0, 0.0, 0.5, 1.0]]
    """
    y = check_y(y)
    return equalizer(y, bins)(y)
