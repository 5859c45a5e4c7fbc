"""Resampling float images with Pillow's filters: Lanczos to shrink, bilinear to enlarge.

A model with a working scale sees the image shrunk to its long side, and its
chroma is enlarged back (:mod:`colorize.infer`). On a large photo neither
the shrinking nor the enlarging needs the whole image in Pillow at once:
`resize` can compute some rows of its result alone, from the rows of the
source they sample (Pillow's ``box``), so the pipeline resamples strip by
strip.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

#: The reach of Pillow's filters, in source pixels at scale 1 (Lanczos: 3 lobes; bilinear: 1).
_SUPPORT = {Image.Resampling.LANCZOS: 3.0, Image.Resampling.BILINEAR: 1.0}


def resize(image: np.ndarray, height: int, width: int, rows: tuple[int, int] | None = None,
           transform=None) -> np.ndarray:
    """Resample a float image to ``height`` × ``width``: Lanczos when it shrinks, bilinear when it grows.

    Parameters
    ----------
    image : ndarray, shape (H, W) or (H, W, C), float
    height, width : int, >= 1
    rows : (first, last), optional
        Compute only these rows of the result, from the source rows they
        sample (cut out, then placed with Pillow's ``box``): the rows of the
        whole result, to float32 rounding of the sampling positions, with
        memory for those rows alone.
    transform : callable rows -> rows, optional
        Applied to the source rows first (e.g. equalisation), so that the
        transformed image is never whole in memory.

    Returns
    -------
    ndarray, shape (last - first, width) or (last - first, width, C), float32
        Each channel goes through Pillow's 32-bit float mode: nothing is
        rounded to 8 bits. Lanczos may overshoot the input's range slightly
        at sharp edges; clip if that matters.

    Notes
    -----
    Pillow's output row i samples source rows within
    :math:`s (i + 1/2) \\pm a \\max(s, 1)`, :math:`s = H / height`, with
    the filter's reach a (3 for Lanczos, 1 for bilinear).

    >>> resize(np.ones((4, 6, 2)), 2, 3).shape
    (2, 3, 2)
    """
    image = np.asarray(image)
    if height < 1 or width < 1:
        raise ValueError(f"cannot resize to {height}x{width}")
    first, last = (0, height) if rows is None else rows
    source_height = image.shape[0]
    shrinks = height * width < source_height * image.shape[1]
    method = Image.Resampling.LANCZOS if shrinks else Image.Resampling.BILINEAR
    scale = source_height / height
    if rows is None:
        top, bottom, box = 0, source_height, None
    else:
        reach = _SUPPORT[method] * max(scale, 1.0)
        top = max(0, int((first + 0.5) * scale - reach) - 1)
        bottom = min(source_height, int((last - 0.5) * scale + reach) + 2)
        box = (0, first * scale - top, image.shape[1], last * scale - top)
    part = image[top:bottom] if transform is None else transform(image[top:bottom])
    part = np.asarray(part, np.float32)
    if image.shape[:2] == (height, width):
        return part[first - top:last - top].copy()
    planes = part[..., None] if part.ndim == 2 else part
    out = np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(planes[..., c])).resize(
        (width, last - first), method, box=box)) for c in range(planes.shape[-1])], axis=-1)
    return out[..., 0] if part.ndim == 2 else out


def fit_size(height: int, width: int, long_side: int) -> tuple[int, int]:
    """The size of a ``height`` × ``width`` image shrunk (keeping its aspect) to a long side of ``long_side``.

    >>> fit_size(640, 1024, 320)
    (200, 320)
    """
    scale = long_side / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def fit_long_side(image: np.ndarray, long_side: int | None) -> np.ndarray:
    """Shrink an image (keeping its aspect) so that its longer side is at most ``long_side`` pixels.

    Returns `image` itself when it already fits or `long_side` is None; never enlarges.

    >>> fit_long_side(np.zeros((640, 1024)), 320).shape
    (200, 320)
    """
    h, w = image.shape[:2]
    if long_side is None or max(h, w) <= long_side:
        return image
    return resize(image, *fit_size(h, w, long_side))
