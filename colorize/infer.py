"""Inference: colorize a whole image with a model that sees 64×64 windows.

The network maps a ``patch``×``patch`` window of Y (64) to the chroma of its
centre ``out``×``out`` (56), ``margin`` = 4 pixels in from each edge. So we
cut the image into windows at stride ``out``: their centres tile the image
exactly once, neighbouring windows overlap by ``patch - out`` = 8 pixels (the
paper's overlap), and reflect padding gives the border windows something to
look at. U and V are then recombined with the untouched input Y, optionally
after the guided filter has snapped their edges to the edges of Y.

A model that remembers a working scale (``model.long_side``, the long side
its training photos were shrunk to) sees the image at that scale too: the
windows then hold as much of the scene as they did in training, and chroma,
which varies slowly, is enlarged back to the image's size, where the guided
filter aligns it with the full-resolution edges of Y (`predict_chroma`).
"""
from __future__ import annotations

from numbers import Integral
from typing import NamedTuple

import numpy as np

import kernels
from colorize.guided_filter import guided_filter
from colorize.images import fit_long_side, resize
from colorize.architecture import margin
from colorize.yuv import YUV_TO_RGB, rgb_to_gray, yuv_to_rgb

#: Guided-filter defaults (SPEC §2): He's radius convention, eps on [0, 1] intensities.
RADIUS, EPS = 40, 1e-4
#: Windows per network call: memory grows with it, the result does not change.
BATCH = 16
#: Limits of the options (against careless or hostile values): windows per
#: call (with the paper's widths a window takes about 6 MB in the network),
#: and the guided filter's radius (any radius beyond the image's side filters
#: as the image's side does).
MAX_BATCH, MAX_RADIUS = 256, 100_000
#: Pixels per strip of `guided_filter_in_strips` (each strip also reads 2r rows either side).
STRIP_PIXELS = 4_000_000
#: Bins of `equalize`: one per 16-bit level, so 8-bit levels land in distinct bins too.
EQUALIZE_BINS = 2 ** 16


class WindowGrid(NamedTuple):
    """How windows cover an image: ``rows × cols`` windows and the padding that makes room."""

    rows: int
    cols: int
    pad: tuple[tuple[int, int], tuple[int, int]]    # ((top, bottom), (left, right))


def window_grid(height: int, width: int, patch: int, out: int) -> WindowGrid:
    """Number of windows and padding so that the window centres tile the image.

    Window (i, j) starts at row ``i·out``, column ``j·out`` of the padded
    image; its centre covers rows ``[i·out, (i+1)·out)`` of the image itself.

    Notes
    -----
    With margin :math:`m = \\lfloor (patch - out) / 2 \\rfloor`, rows
    :math:`= \\lceil H / out \\rceil`; the padded height is
    :math:`(rows - 1)\\, out + patch`, so the top pad is m and the bottom pad
    is :math:`rows \\cdot out + patch - out - m - H` (at least
    :math:`patch - out - m`); the same for columns.

    >>> window_grid(57, 56, 64, 56)
    WindowGrid(rows=2, cols=1, pad=((4, 59), (4, 4)))
    """
    m = margin(patch, out)

    def axis(n: int) -> tuple[int, tuple[int, int]]:
        count = -(-n // out)                              # ceil(n / out)
        return count, (m, count * out + patch - out - m - n)

    rows, pad_rows = axis(height)
    cols, pad_cols = axis(width)
    return WindowGrid(rows, cols, (pad_rows, pad_cols))


def _reflect_pad(y: np.ndarray, pad) -> np.ndarray:
    """np.pad 'reflect', axis by axis; a 1-pixel axis is repeated instead.

    Reflection about a lone pixel is undefined (older NumPy raises); its
    limit, repeating the pixel ('edge'), is the only sensible reading.
    Pads wider than the image reflect back and forth (NumPy does this).
    """
    for axis, widths in enumerate(pad):
        mode = "reflect" if y.shape[axis] > 1 else "edge"
        y = np.pad(y, [widths if a == axis else (0, 0) for a in range(2)], mode=mode)
    return y


def tile_windows(y: np.ndarray, patch: int, out: int) -> np.ndarray:
    """All windows of a reflect-padded image, as a view (no copy of the windows).

    Parameters
    ----------
    y : ndarray, shape (H, W)
    patch, out : int
        Window side and side of its predicted centre.

    Returns
    -------
    windows : ndarray, shape (rows, cols, patch, patch)
        ``windows[i, j]`` is the window whose centre is
        ``y[i·out:(i+1)·out, j·out:(j+1)·out]`` (cut at the image's edge).
        Only the padded image is allocated: O(H W) memory.

    >>> tile_windows(np.arange(6.0).reshape(2, 3), 3, 1)[1, 2].tolist()
    [[1.0, 2.0, 1.0], [4.0, 5.0, 4.0], [1.0, 2.0, 1.0]]
    """
    grid = window_grid(*y.shape, patch, out)
    padded = _reflect_pad(y, grid.pad)
    return np.lib.stride_tricks.sliding_window_view(padded, (patch, patch))[::out, ::out]


def _check_y(y: np.ndarray, name: str = "y") -> np.ndarray:
    """Validate a luminance image (H, W), or RGB (H, W, 3) turned into its Y."""
    y = np.asarray(y)
    if not np.issubdtype(y.dtype, np.floating):
        raise TypeError(f"{name} must be a float array in [0, 1], got dtype {y.dtype}")
    if y.ndim == 3 and y.shape[-1] == 3:
        y = rgb_to_gray(y)
    if y.ndim != 2 or 0 in y.shape:
        raise ValueError(f"{name} must be a non-empty (H, W) gray or (H, W, 3) RGB image, "
                         f"got shape {np.shape(y)}")
    if not np.isfinite(y).all() or y.min() < -1e-6 or y.max() > 1 + 1e-6:
        raise ValueError(f"{name} must hold values in [0, 1], got [{y.min()}, {y.max()}]")
    return np.clip(y, 0.0, 1.0).astype(np.float32)


def _check_positive_int(value, name: str) -> int:
    if not isinstance(value, Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def check_options(refine: bool = True, radius: int = RADIUS, eps: float = EPS,
                  batch: int = BATCH) -> None:
    """Raise ValueError on a bad `batch`, or a bad `radius` or `eps` when refining.

    Callers that colorize many images call it once, up front, so that a bad
    option is one error rather than one per image.
    """
    if _check_positive_int(batch, "batch") > MAX_BATCH:
        raise ValueError(f"batch must be at most {MAX_BATCH} windows per network call, got {batch}")
    if refine:      # the guided filter validates its own arguments
        if isinstance(radius, Integral) and radius > MAX_RADIUS:
            raise ValueError(f"radius must be at most {MAX_RADIUS}, got {radius}")
        guided_filter(np.zeros((1, 1)), np.zeros((1, 1)), radius, eps)


def guided_filter_in_strips(I: np.ndarray, p: np.ndarray, radius: int, eps: float,
                            rows: int | None = None) -> np.ndarray:
    """`colorize.guided_filter.guided_filter`, computed in horizontal strips: the same output, less memory.

    Parameters
    ----------
    I, p, radius, eps
        As in `guided_filter`.
    rows : int, optional
        Output rows per strip (default: STRIP_PIXELS / width, at least 1).

    Returns
    -------
    q : ndarray, like `p`

    Notes
    -----
    The output at a pixel depends only on the pixels within 2r rows of it
    (its coefficients are means over windows of radius r, of statistics over
    windows of radius r), and windows are truncated at the image's own
    border, not the strip's. So each strip is filtered with 2r rows of
    context above and below, and its own rows kept: exact, up to float
    rounding. The float64 temporaries of the filter (about 100 bytes per
    pixel) are then those of one strip plus its context.
    """
    h, w = np.shape(I)[:2]
    rows = max(1, STRIP_PIXELS // max(w, 1)) if rows is None else int(rows)
    if h <= rows:
        return guided_filter(I, p, radius, eps)
    margin = 2 * radius
    q = np.empty(np.shape(p), np.asarray(p).dtype)
    for top in range(0, h, rows):
        bottom = min(top + rows, h)
        first, last = max(0, top - margin), min(h, bottom + margin)
        q[top:bottom] = guided_filter(I[first:last], p[first:last], radius, eps)[top - first:bottom - first]
    return q


def colorize_y(y: np.ndarray, model, batch: int = BATCH) -> np.ndarray:
    """Predict the chroma of a whole image, window by window.

    Parameters
    ----------
    y : ndarray, shape (H, W), float in [0, 1]
        Luminance; any size from 1×1.
    model : ColorizationModel, or any object with ``patch``, ``out`` and
        ``predict((N, patch, patch)) -> (N, 2, out, out)``
    batch : int
        Windows per ``model.predict`` call (>= 1). Memory is O(H W) for the
        image and O(batch) for the network, whatever the image size.

    Returns
    -------
    uv : ndarray, shape (H, W, 2), float32
        U and V; pixel (r, c) comes from window (r // out, c // out).

    Raises
    ------
    ValueError
        On an empty or non-2-D `y`, values outside [0, 1], or `batch` < 1.

    Notes
    -----
    The windows are those of `tile_windows`, taken in row-major order in
    chunks of `batch`; each window's result depends only on that window, so
    the batch size does not change the output.
    """
    y = _check_y(y)
    batch = _check_positive_int(batch, "batch")
    h, w = y.shape
    windows = tile_windows(y, model.patch, model.out)
    rows, cols = windows.shape[:2]
    out = model.out
    # Every window's centre is one out×out block of this (rows, out, cols, out, 2) array.
    uv = np.empty((rows, out, cols, out, 2), np.float32)
    for start in range(0, rows * cols, batch):
        k = np.arange(start, min(start + batch, rows * cols))
        i, j = np.divmod(k, cols)
        chroma = np.asarray(model.predict(windows[i, j]))           # (n, 2, out, out)
        uv[i, :, j] = chroma.transpose(0, 2, 3, 1)                  # (n, out, out, 2)
    return np.ascontiguousarray(uv.reshape(rows * out, cols * out, 2)[:h, :w])


def predict_chroma(y: np.ndarray, model, batch: int = BATCH) -> np.ndarray:
    """U and V of a whole image, predicted at the model's working scale.

    Parameters
    ----------
    y : ndarray, shape (H, W), float in [0, 1]
    model : as in `colorize_y`; its ``long_side`` (None if it has none) is
        the scale it predicts at
    batch : int, as in `colorize_y`

    Returns
    -------
    uv : ndarray, shape (H, W, 2), float32
        `colorize_y` of `y` shrunk to the model's long side (Lanczos),
        enlarged back to (H, W) (bilinear); `colorize_y` of `y` itself when
        the image is no larger than that or the model has no working scale.
    """
    y = _check_y(y)
    small = fit_long_side(y, getattr(model, "long_side", None))
    uv = colorize_y(np.clip(small, 0.0, 1.0), model, batch)      # Lanczos may overshoot [0, 1] a little
    return uv if small is y else resize(uv, *y.shape)


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
    y = _check_y(y)
    bins = _check_positive_int(bins, "bins")
    level = np.rint(y * (bins - 1)).astype(np.int64)
    cdf = np.cumsum(np.bincount(level.ravel(), minlength=bins))
    lowest = cdf[level.min()]
    if lowest == y.size:                                  # a single level
        return y.copy()
    return ((cdf[level] - lowest) / (y.size - lowest)).astype(np.float32)


_equalize = equalize        # colorize_yuv's flag of the same name hides the function


class ColorizedYUV(NamedTuple):
    """The two results of `colorize_yuv`, each (H, W, 3) float32 YUV with the input's Y."""

    raw: np.ndarray                 # network output, as tiled (enlarged to the image size if predicted smaller)
    refined: np.ndarray | None      # after the guided filter, None if not asked for


def colorize_yuv(gray_or_y: np.ndarray, model, refine: bool = True, radius: int = RADIUS,
                 eps: float = EPS, batch: int = BATCH, equalize: bool = False) -> ColorizedYUV:
    """Colorize a gray image, returning YUV before and after refinement.

    Parameters
    ----------
    gray_or_y : ndarray, shape (H, W) luminance or (H, W, 3) RGB, float in [0, 1]
        An RGB image is reduced to its Y: its colours are discarded.
    model : ColorizationModel
        Its chroma is predicted at its working scale, if it has one (`predict_chroma`).
    refine : bool
        Apply the guided filter to U and V (guide: the input Y, at full size).
    radius, eps : guided-filter window radius (>= 0) and regularisation (> 0)
    batch : int
        Windows per network call; see `colorize_y`.
    equalize : bool
        Feed the network the histogram-equalised Y (`equalize`). Only the
        network sees it: the output keeps the input's Y, and the guided filter
        is guided by the input's Y, whose edges are the ones in the output.

    Returns
    -------
    ColorizedYUV
        ``raw`` and ``refined`` (None when `refine` is False), both with
        ``[..., 0]`` equal to the input's Y.

    Raises
    ------
    ValueError
        On a bad image, `batch`, `radius` or `eps`.
    """
    y = _check_y(gray_or_y, "gray_or_y")
    check_options(refine, radius, eps, batch)         # before the slow part
    uv = predict_chroma(_equalize(y) if equalize else y, model, batch)
    raw = np.concatenate([y[..., None], uv], axis=-1)
    refined = None
    if refine:
        refined = np.concatenate([y[..., None], guided_filter_in_strips(y, uv, radius, eps)], axis=-1)
    return ColorizedYUV(raw, refined)


def yuv_to_rgb_in_gamut(yuv: np.ndarray) -> np.ndarray:
    """RGB of YUV pixels, desaturated where needed to fit the RGB cube, keeping Y.

    Predicted chroma can leave the cube (e.g. saturated blue on a bright
    pixel). Clipping R, G, B would change the luminance; instead each pixel
    moves towards the gray of its own Y, just enough to fit.

    Parameters
    ----------
    yuv : ndarray, shape (..., 3), float, Y in [0, 1]

    Returns
    -------
    rgb : ndarray, shape (..., 3), same dtype, in [0, 1]

    Notes
    -----
    With :math:`d = \\mathrm{rgb} - Y` (whose luma is 0),
    :math:`\\mathrm{rgb}' = Y + t d` where t is the largest value in [0, 1]
    keeping every channel in [0, 1]; Y and the hue are unchanged.

    >>> yuv_to_rgb_in_gamut(np.array([1.0, 0.4, 0.0])).round(6).tolist()
    [1.0, 1.0, 1.0]
    """
    yuv = np.asarray(yuv)
    if yuv.ndim < 1 or yuv.shape[-1] != 3 or not np.issubdtype(yuv.dtype, np.floating):
        yuv_to_rgb(yuv)                         # raises the conversion's own ValueError or TypeError
    rgb = np.empty(yuv.shape, yuv.dtype)        # one pass per pixel (kernels/color.py)
    kernels.yuv_to_rgb_in_gamut(np.ascontiguousarray(yuv).reshape(-1, 3), YUV_TO_RGB, rgb.reshape(-1, 3))
    return rgb


def colorize_image(gray_or_y: np.ndarray, model, refine: bool = True, radius: int = RADIUS,
                   eps: float = EPS, batch: int = BATCH, equalize: bool = False) -> np.ndarray:
    """Colorize a gray image: the library's one-call version of ``colorize apply``.

    Parameters
    ----------
    gray_or_y, model, refine, radius, eps, batch, equalize
        As in `colorize_yuv`.

    Returns
    -------
    rgb : ndarray, shape (H, W, 3), float32 in [0, 1]
        Its luma equals the input's Y (to float rounding); see
        `yuv_to_rgb_in_gamut` for out-of-gamut chroma.

    Raises
    ------
    ValueError
        On a bad image or option value.

    Examples
    --------
    >>> from colorize.model import ColorizationModel, architecture
    >>> model = ColorizationModel(architecture((2, 2, 2, 2)), rng=0)
    >>> colorize_image(np.full((3, 5), 0.5, np.float32), model).shape
    (3, 5, 3)
    """
    result = colorize_yuv(gray_or_y, model, refine, radius, eps, batch, equalize)
    yuv = result.refined if refine else result.raw
    del result                                  # the other of the two is freed here
    rows, rgb = max(1, STRIP_PIXELS // yuv.shape[1]), None
    for top in range(0, len(yuv), rows):        # pixel by pixel: strips bound the temporaries
        part = yuv_to_rgb_in_gamut(yuv[top:top + rows])
        rgb = np.empty(yuv.shape, part.dtype) if rgb is None else rgb
        rgb[top:top + rows] = part
    return rgb

