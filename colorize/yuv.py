"""BT.601 YUV colour space on RGB in [0, 1].

The colorizer predicts the chroma (U, V) of a photo from its luma Y, so this
is the one place where RGB and YUV meet. The transform is linear: a pixel is a
row vector and ``yuv = rgb @ RGB_TO_YUV.T``.
"""
from __future__ import annotations

import numpy as np

#: Luma weights of R, G and B (ITU-R BT.601); they sum to 1, so gray stays gray.
KR, KG, KB = 0.299, 0.587, 0.114
#: Chroma scales: U = U_SCALE (B - Y), V = V_SCALE (R - Y).
U_SCALE, V_SCALE = 0.492, 0.877
#: Range of U and V over the RGB cube: U_SCALE (1 - KB) and V_SCALE (1 - KR).
U_RANGE = (-0.436, 0.436)
V_RANGE = (-0.615, 0.615)

RGB_TO_YUV = np.array([
    [KR, KG, KB],
    [-U_SCALE * KR, -U_SCALE * KG, U_SCALE * (1.0 - KB)],
    [V_SCALE * (1.0 - KR), -V_SCALE * KG, -V_SCALE * KB],
])
RGB_TO_YUV.flags.writeable = False
#: The exact inverse of RGB_TO_YUV (to float64 rounding).
YUV_TO_RGB = np.linalg.inv(RGB_TO_YUV)
YUV_TO_RGB.flags.writeable = False


def _check_pixels(x: np.ndarray, name: str) -> np.ndarray:
    """Validate an array of 3-vectors of floats; return it as an ndarray."""
    x = np.asarray(x)
    if x.ndim < 1 or x.shape[-1] != 3:
        raise ValueError(f"{name} must have shape (..., 3), got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{name} must be a float array, got dtype {x.dtype}")
    return x


def _apply(matrix: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``x @ matrix.T`` in the dtype of x (float32 stays float32)."""
    return x @ matrix.T.astype(x.dtype)


def rgb_to_yuv(rgb: np.ndarray) -> np.ndarray:
    """Convert RGB in [0, 1] to BT.601 YUV.

    Parameters
    ----------
    rgb : ndarray, shape (..., 3), float
        Red, green, blue in [0, 1] (not checked: values outside map linearly).

    Returns
    -------
    yuv : ndarray, shape (..., 3), same dtype as `rgb`
        Y in [0, 1], U in U_RANGE, V in V_RANGE.

    Raises
    ------
    ValueError
        If the last axis is not 3.
    TypeError
        If `rgb` is not a float array.

    Notes
    -----
    .. math::

        Y = .299 R + .587 G + .114 B, \\quad U = .492 (B - Y), \\quad V = .877 (R - Y)

    Examples
    --------
    >>> rgb_to_yuv(np.array([0.0, 0.0, 1.0])).round(3).tolist()
    [0.114, 0.436, -0.1]
    """
    return _apply(RGB_TO_YUV, _check_pixels(rgb, "rgb"))


def yuv_to_rgb(yuv: np.ndarray) -> np.ndarray:
    """Convert BT.601 YUV back to RGB, the exact inverse of `rgb_to_yuv`.

    Parameters
    ----------
    yuv : ndarray, shape (..., 3), float
        Y, U, V. Predicted chroma may leave the RGB cube: the result is not
        clipped, clip it to [0, 1] before display.

    Returns
    -------
    rgb : ndarray, shape (..., 3), same dtype as `yuv`

    Raises
    ------
    ValueError
        If the last axis is not 3.
    TypeError
        If `yuv` is not a float array.

    Notes
    -----
    ``rgb = yuv @ YUV_TO_RGB.T`` with ``YUV_TO_RGB = inv(RGB_TO_YUV)``; e.g.
    :math:`R = Y + V / .877` and :math:`B = Y + U / .492`.

    Examples
    --------
    >>> yuv_to_rgb(np.array([0.5, 0.0, 0.0])).round(6).tolist()
    [0.5, 0.5, 0.5]
    """
    return _apply(YUV_TO_RGB, _check_pixels(yuv, "yuv"))


def rgb_to_gray(rgb: np.ndarray) -> np.ndarray:
    """Luma Y of RGB pixels, the channel the colorizer keeps untouched.

    Parameters
    ----------
    rgb : ndarray, shape (..., 3), float

    Returns
    -------
    y : ndarray, shape (...,), same dtype as `rgb`

    Raises
    ------
    ValueError, TypeError
        As `rgb_to_yuv`: a last axis that is not 3, an array that is not float.

    Notes
    -----
    :math:`Y = .299 R + .587 G + .114 B`, the first row of RGB_TO_YUV.

    Examples
    --------
    >>> round(float(rgb_to_gray(np.array([1.0, 0.0, 0.0]))), 3)
    0.299
    """
    rgb = _check_pixels(rgb, "rgb")
    return rgb @ RGB_TO_YUV[0].astype(rgb.dtype)
