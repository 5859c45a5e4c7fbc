"""Colour conversion as one loop over pixels: YUV to RGB, pulled into the RGB cube.

``colorize.pipeline.yuv_to_rgb_in_gamut`` validates and calls this; the formula
is in its docstring. As numpy expressions it made eight temporary arrays the
size of the image (0.15 s of CPU per megapixel, a third of ``colorize apply``
at one thread); here every pixel is read once and written once.
"""
from numba import njit


@njit(cache=True)
def yuv_to_rgb_in_gamut(yuv, matrix, rgb):
    """rgb[p] = Y + t·(M·yuv[p] − Y), Y = clip(yuv[p, 0], 0, 1), t ∈ [0, 1] the largest keeping rgb in [0, 1].

    ``yuv`` and ``rgb`` are (P, 3), float32 or float64 (the wrapper casts float16 and longdouble);
    ``matrix`` is YUV → RGB, (3, 3).
    """
    d = [0.0, 0.0, 0.0]
    for p in range(yuv.shape[0]):
        y = min(max(yuv[p, 0], 0.0), 1.0)
        t = 1.0
        for c in range(3):
            d[c] = matrix[c, 0] * yuv[p, 0] + matrix[c, 1] * yuv[p, 1] + matrix[c, 2] * yuv[p, 2] - y
            if d[c] > 0:
                t = min(t, (1.0 - y) / d[c])
            elif d[c] < 0:
                t = min(t, -y / d[c])
        for c in range(3):
            rgb[p, c] = min(max(y + t * d[c], 0.0), 1.0)
