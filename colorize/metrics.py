"""Image quality metrics for colorization (SPEC section 2, Evaluation).

All functions take images with values: RGB in [0, 1], or YUV / UV on the same
scale as `colorize.yuv`. Chroma metrics accept either YUV, shape (..., 3),
whose Y is ignored, or UV, shape (..., 2). Everything is computed in float64
and returned as a Python float.
"""
from __future__ import annotations

import numpy as np

from colorize.yuv import rgb_to_yuv

#: Peak of RGB values for PSNR.
RGB_PEAK = 1.0
#: Peak of U, V values for PSNR: 1, the scale of Y and RGB (see psnr_uv).
UV_PSNR_PEAK = 1.0
#: Chroma errors are reported on a 0-255 scale for the AuC (Zhang et al. 2016).
AUC_SCALE = 255.0
#: `image_metrics` caps PSNR here: an exact prediction (a constant or gray photo's gray
#: baseline) scores 100 dB, not infinity, so means over photos stay finite numbers.
#: 100 dB is an MSE of 1e-10, below the error of 16-bit rounding (2.3e-10).
PSNR_MAX = 100.0
#: Weight of the mean term in the colourfulness of Hasler and Suesstrunk.
COLOURFULNESS_MEAN_WEIGHT = 0.3


def _pair(a: np.ndarray, b: np.ndarray, names: str) -> tuple[np.ndarray, np.ndarray]:
    """Two arrays of one shape, as float64."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"{names} must have the same shape, got {a.shape} and {b.shape}")
    return a.astype(np.float64), b.astype(np.float64)


def _uv(x: np.ndarray, name: str) -> np.ndarray:
    """The (..., 2) chroma of a YUV (..., 3) or UV (..., 2) array."""
    if x.ndim < 1 or x.shape[-1] not in (2, 3):
        raise ValueError(f"{name} must be YUV (..., 3) or UV (..., 2), got shape {x.shape}")
    return x[..., -2:]


def _rgb(x: np.ndarray, name: str) -> np.ndarray:
    if x.ndim < 1 or x.shape[-1] != 3:
        raise ValueError(f"{name} must be RGB (..., 3), got shape {x.shape}")
    return x


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB.

    Parameters
    ----------
    a, b : ndarray, same shape
    peak : float
        Largest possible value (> 0).

    Returns
    -------
    float
        ``inf`` when ``a == b``.

    Raises
    ------
    ValueError
        If the shapes differ, the arrays are empty or `peak` <= 0.

    Notes
    -----
    :math:`\\mathrm{PSNR} = 10 \\log_{10}(\\mathrm{peak}^2 / \\mathrm{MSE})`,
    :math:`\\mathrm{MSE} = \\mathrm{mean}((a - b)^2)`.

    Examples
    --------
    >>> round(psnr(np.zeros(4), np.full(4, 0.1)), 6)
    20.0
    """
    a, b = _pair(a, b, "a and b")
    if a.size == 0:
        raise ValueError("a and b must not be empty")
    if not peak > 0:
        raise ValueError(f"peak must be > 0, got {peak!r}")
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(peak ** 2 / mse))


def psnr_rgb(rgb_pred: np.ndarray, rgb_true: np.ndarray) -> float:
    """PSNR of two RGB images in [0, 1], with peak RGB_PEAK = 1.

    Parameters
    ----------
    rgb_pred, rgb_true : ndarray, shape (..., 3)

    Returns
    -------
    float
        dB; see `psnr`.

    Raises
    ------
    ValueError
        If the shapes differ or the last axis is not 3.
    """
    rgb_pred, rgb_true = _pair(rgb_pred, rgb_true, "rgb_pred and rgb_true")
    return psnr(_rgb(rgb_pred, "rgb_pred"), _rgb(rgb_true, "rgb_true"), RGB_PEAK)


def psnr_uv(yuv_pred: np.ndarray, yuv_true: np.ndarray) -> float:
    """PSNR of the chroma (U, V) only.

    Parameters
    ----------
    yuv_pred, yuv_true : ndarray, shape (..., 3) YUV (Y is ignored) or (..., 2) UV

    Returns
    -------
    float : dB, as `psnr` gives them, with the peak of the Notes.

    Raises
    ------
    ValueError : if the shapes differ or the last axis is neither 2 nor 3.

    Notes
    -----
    The peak is UV_PSNR_PEAK = 1, the scale shared by Y and RGB, so that the
    RGB and UV numbers read alike. Using the full ranges instead (0.872 for U,
    1.23 for V) would shift every PSNR by a constant, which changes no
    comparison between methods.
    """
    yuv_pred, yuv_true = _pair(yuv_pred, yuv_true, "yuv_pred and yuv_true")
    return psnr(_uv(yuv_pred, "yuv_pred"), _uv(yuv_true, "yuv_true"), UV_PSNR_PEAK)


def mean_abs_chroma_error(uv_pred: np.ndarray, uv_true: np.ndarray) -> float:
    """Mean absolute chroma error, on the scale of U and V.

    Parameters
    ----------
    uv_pred, uv_true : ndarray, shape (..., 2) UV or (..., 3) YUV (Y is ignored)

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If the shapes differ or the last axis is neither 2 nor 3.

    Notes
    -----
    :math:`\\frac{1}{2n} \\sum_i (|\\Delta U_i| + |\\Delta V_i|)`: the mean over
    pixels and both channels (not the per-pixel Euclidean distance, which
    `chroma_error_auc` uses).
    """
    uv_pred, uv_true = _pair(uv_pred, uv_true, "uv_pred and uv_true")
    return float(np.mean(np.abs(_uv(uv_pred, "uv_pred") - _uv(uv_true, "uv_true"))))


def chroma_error_auc(uv_pred: np.ndarray, uv_true: np.ndarray,
                     max_threshold: float = 150, steps: int = 151) -> float:
    """Area under the cumulative curve of per-pixel chroma error (Zhang et al. 2016).

    Parameters
    ----------
    uv_pred, uv_true : ndarray, shape (..., 2) UV or (..., 3) YUV
    max_threshold : float
        Largest error threshold, on the 0-255 scale (> 0).
    steps : int
        Number of thresholds, evenly spaced from 0 to `max_threshold` (>= 2).

    Returns
    -------
    float
        In [0, 1]; 1 when every pixel's error is 0.

    Raises
    ------
    ValueError
        On a shape mismatch, `max_threshold` <= 0 or `steps` < 2.

    Notes
    -----
    With :math:`e_i = 255 \\sqrt{\\Delta U_i^2 + \\Delta V_i^2}` and
    :math:`F(t) = \\mathrm{mean}_i [e_i \\le t]`,

    .. math:: \\mathrm{AuC} = \\frac{1}{T} \\int_0^T F(t)\\, dt,

    integrated by the trapezoid rule over the thresholds ``linspace(0, T,
    steps)``. Zhang et al. measure the error in Lab's ab; we use UV.

    Examples
    --------
    >>> chroma_error_auc(np.zeros((2, 2, 2)), np.zeros((2, 2, 2)))
    1.0
    """
    uv_pred, uv_true = _pair(uv_pred, uv_true, "uv_pred and uv_true")
    if not max_threshold > 0 or int(steps) != steps or steps < 2:
        raise ValueError(f"need max_threshold > 0 and integer steps >= 2, "
                         f"got {max_threshold!r} and {steps!r}")
    diff = _uv(uv_pred, "uv_pred") - _uv(uv_true, "uv_true")
    error = AUC_SCALE * np.sqrt(np.sum(diff ** 2, axis=-1)).ravel()
    thresholds = np.linspace(0.0, max_threshold, int(steps))
    # F(t) for all t at once: the fraction of sorted errors that are <= t.
    fraction = np.searchsorted(np.sort(error), thresholds, side="right") / error.size
    return float(np.trapezoid(fraction, thresholds) / max_threshold)


def colourfulness(rgb: np.ndarray) -> float:
    """Colourfulness M of Hasler and Suesstrunk (2003); 0 for a gray image.

    Parameters
    ----------
    rgb : ndarray, shape (..., 3), values in [0, 1]

    Returns
    -------
    float
        M on the 0-255 scale of the paper.

    Notes
    -----
    With R, G, B scaled to 0-255, :math:`rg = R - G`, :math:`yb = (R + G)/2 - B`,
    and mean μ and standard deviation σ over all pixels,

    .. math:: M = \\sqrt{\\sigma_{rg}^2 + \\sigma_{yb}^2}
              + 0.3 \\sqrt{\\mu_{rg}^2 + \\mu_{yb}^2}.

    Examples
    --------
    >>> colourfulness(np.full((2, 2, 3), 0.5))
    0.0
    """
    rgb = _rgb(np.asarray(rgb, dtype=np.float64), "rgb").reshape(-1, 3) * 255.0
    R, G, B = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    rg, yb = R - G, 0.5 * (R + G) - B
    return float(np.hypot(rg.std(), yb.std())
                 + COLOURFULNESS_MEAN_WEIGHT * np.hypot(rg.mean(), yb.mean()))


def image_metrics(rgb_pred: np.ndarray, rgb_true: np.ndarray) -> dict[str, float]:
    """All metrics of one predicted RGB image against its ground truth.

    Parameters
    ----------
    rgb_pred, rgb_true : ndarray, shape (H, W, 3), values in [0, 1]

    Returns
    -------
    dict
        ``psnr_rgb``, ``psnr_uv`` (dB, at most PSNR_MAX), ``mae_chroma``, ``auc``,
        ``colourfulness_pred``, ``colourfulness_true`` and
        ``colourfulness_ratio`` = pred / true (nan when true is 0).

    Raises
    ------
    ValueError
        If the shapes differ or the last axis is not 3.
    """
    rgb_pred, rgb_true = _pair(rgb_pred, rgb_true, "rgb_pred and rgb_true")
    yuv_pred = rgb_to_yuv(_rgb(rgb_pred, "rgb_pred"))
    yuv_true = rgb_to_yuv(_rgb(rgb_true, "rgb_true"))
    c_pred, c_true = colourfulness(rgb_pred), colourfulness(rgb_true)
    return {
        "psnr_rgb": min(psnr_rgb(rgb_pred, rgb_true), PSNR_MAX),
        "psnr_uv": min(psnr_uv(yuv_pred, yuv_true), PSNR_MAX),
        "mae_chroma": mean_abs_chroma_error(yuv_pred, yuv_true),
        "auc": chroma_error_auc(yuv_pred, yuv_true),
        "colourfulness_pred": c_pred,
        "colourfulness_true": c_true,
        "colourfulness_ratio": c_pred / c_true if c_true > 0 else float("nan"),
    }
