"""From luminance to colour, in horizontal strips: networks → guided filter → RGB.

`chroma_strips` is the one loop every way of colorizing goes through. It
walks down the image a strip of rows at a time: it takes the strip's U and
V from the networks (`colorize.infer.WindowRows`, or the chroma predicted at
the model's working scale, enlarged for just these rows), filters them with
the guided filter, guided by the strip's Y, and hands the strip on. The
guided filter's output at a pixel depends only on the pixels within 2r rows
of it (its coefficients are means over windows of radius r of statistics
over windows of radius r, and windows are truncated at the image's own
border, not the strip's), so each strip is filtered with 2r rows of context
above and below and its own rows kept: the whole image's result, to float
rounding. The float64 temporaries of the filter (about 40 bytes per pixel
and channel; U and V are filtered one after the other) are then those of one
strip and its context, whatever the image's size.

`colorize_image` (float RGB), `colorize_yuv` (YUV before and after the
filter) and `colorize.apply.colorize_file` (integer pixels for a PNG) all
collect these strips; only their own output is ever whole.
"""
from __future__ import annotations

from typing import Iterator, NamedTuple

import numpy as np

import kernels
from colorize.equalize import equalizer
from colorize.guided_filter import guided_filter
from colorize.infer import WindowRows, check_y, predict_small
from colorize.options import InferenceOptions, inference_options
from colorize.resample import resize
from colorize.yuv import YUV_TO_RGB, yuv_to_rgb

#: Pixels of output per strip (each strip also reads 2r rows of context on either side).
STRIP_PIXELS = 2_000_000


def strips(height: int, width: int, context: int = 0, rows: int | None = None) -> Iterator[tuple[int, int, int, int]]:
    """Horizontal strips covering ``height`` rows: ``(top, bottom, first, last)``.

    Each strip owns rows ``[top, bottom)`` and reads ``[first, last)``, its
    rows with `context` more on either side (cut at the image's edge). By
    default a strip holds STRIP_PIXELS / width rows, and at least 2·context
    rows, so that the context never more than doubles the work.

    >>> list(strips(5, 10, context=1, rows=2))
    [(0, 2, 0, 3), (2, 4, 1, 5), (4, 5, 3, 5)]
    """
    rows = max(1, STRIP_PIXELS // max(width, 1), 2 * context) if rows is None else int(rows)
    for top in range(0, height, rows):
        bottom = min(top + rows, height)
        yield top, bottom, max(0, top - context), min(height, bottom + context)


class Strip(NamedTuple):
    """One strip of `chroma_strips`: rows ``[top, top + len(y))``."""

    top: int
    height: int                     # the image's
    y: np.ndarray                   # (rows, W) the input's luminance
    raw: np.ndarray                 # (rows, W, 2) U, V from the networks
    refined: np.ndarray | None      # (rows, W, 2) after the guided filter, None if not refining

    @property
    def chroma(self) -> np.ndarray:
        """The chroma that goes out: refined if refining, else raw."""
        return self.raw if self.refined is None else self.refined


def chroma_strips(gray_or_y: np.ndarray, model, options: InferenceOptions | None = None,
                  **changes) -> Iterator[Strip]:
    """Colorize an image strip by strip, top to bottom.

    Parameters
    ----------
    gray_or_y : ndarray, shape (H, W) luminance or (H, W, 3) RGB, float in [0, 1]
        An RGB image is reduced to its Y: its colours are discarded.
    model : ColorizationModel
        Its chroma is predicted at its working scale, if it has one
        (`colorize.infer.predict_small`), else at full size, window row by
        window row.
    options, changes : InferenceOptions, or its fields (`colorize.options.inference_options`)

    Yields
    ------
    Strip
        Consecutive strips covering the image.

    Raises
    ------
    ValueError, TypeError
        On a bad image or option, before the networks run.
    """
    options = inference_options(options, **changes)
    y = check_y(gray_or_y, "gray_or_y")
    height, width = y.shape
    transform = equalizer(y) if options.equalize else None
    small = predict_small(y, model, options.batch, transform)
    if small is None:
        chroma_rows = WindowRows(y, model, options.batch, transform).rows
    else:
        def chroma_rows(first: int, last: int) -> np.ndarray:
            return resize(small, height, width, rows=(first, last))
    context = 2 * options.radius if options.refine else 0
    for top, bottom, first, last in strips(height, width, context):
        uv = chroma_rows(first, last)
        own = slice(top - first, bottom - first)
        refined = None
        if options.refine:      # U, then V: each channel alone holds half the filter's temporaries, same numbers
            refined = np.stack([guided_filter(y[first:last], uv[..., c], options.radius, options.eps)[own]
                                for c in range(uv.shape[-1])], axis=-1)
        yield Strip(top, height, y[top:bottom], uv[own], refined)


def yuv_to_rgb_in_gamut(yuv: np.ndarray) -> np.ndarray:
    """RGB of YUV pixels, desaturated where needed to fit the RGB cube, keeping Y.

    Predicted chroma can leave the cube (e.g. saturated blue on a bright
    pixel). Clipping R, G, B would change the luminance; instead each pixel
    moves towards the gray of its own Y, just enough to fit.

    Parameters
    ----------
    yuv : ndarray, shape (..., 3), float, Y in [0, 1]
        float16 is computed in float32, longdouble in float64.

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
    if yuv.dtype not in (np.float32, np.float64):   # float16, longdouble: the kernel is compiled for these two
        work = np.float32 if yuv.dtype.itemsize < 4 else np.float64
        return yuv_to_rgb_in_gamut(yuv.astype(work)).astype(yuv.dtype)
    rgb = np.empty(yuv.shape, yuv.dtype)        # one pass per pixel (kernels/color.py)
    kernels.yuv_to_rgb_in_gamut(np.ascontiguousarray(yuv).reshape(-1, 3), YUV_TO_RGB, rgb.reshape(-1, 3))
    return rgb


def strip_rgb(strip: Strip) -> np.ndarray:
    """The RGB of a strip's output chroma with its Y: (rows, W, 3), in gamut."""
    return yuv_to_rgb_in_gamut(np.concatenate([strip.y[..., None], strip.chroma], axis=-1))


def _collect(whole: np.ndarray | None, strip: Strip, part: np.ndarray) -> np.ndarray:
    """Put a strip's `part` into the whole image's array, made at the first strip."""
    if whole is None:
        whole = np.empty((strip.height, *part.shape[1:]), part.dtype)
    whole[strip.top:strip.top + len(part)] = part
    return whole


class ColorizedYUV(NamedTuple):
    """The two results of `colorize_yuv`, each (H, W, 3) float32 YUV with the input's Y."""

    raw: np.ndarray                 # network output, as tiled (enlarged to the image size if predicted smaller)
    refined: np.ndarray | None      # after the guided filter, None if not asked for


def colorize_yuv(gray_or_y: np.ndarray, model, options: InferenceOptions | None = None,
                 **changes) -> ColorizedYUV:
    """Colorize a gray image, returning YUV before and after refinement.

    Parameters
    ----------
    gray_or_y, model, options, changes
        As in `chroma_strips`, e.g. ``colorize_yuv(y, model, refine=False)``.

    Returns
    -------
    ColorizedYUV
        ``raw`` and ``refined`` (None when not refining), both with
        ``[..., 0]`` equal to the input's Y.

    Raises
    ------
    ValueError
        On a bad image or option.
    """
    options = inference_options(options, **changes)
    raw = refined = None
    for strip in chroma_strips(gray_or_y, model, options):
        raw = _collect(raw, strip, np.concatenate([strip.y[..., None], strip.raw], axis=-1))
        if options.refine:
            refined = _collect(refined, strip, np.concatenate([strip.y[..., None], strip.refined], axis=-1))
    return ColorizedYUV(raw, refined)


def colorize_image(gray_or_y: np.ndarray, model, options: InferenceOptions | None = None,
                   **changes) -> np.ndarray:
    """Colorize a gray image: the library's one-call version of ``colorize apply``.

    Parameters
    ----------
    gray_or_y, model, options, changes
        As in `chroma_strips`.

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
    rgb = None
    for strip in chroma_strips(gray_or_y, model, options, **changes):
        rgb = _collect(rgb, strip, strip_rgb(strip))
    return rgb
