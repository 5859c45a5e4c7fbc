"""Inference: the networks' chroma of a whole image, from 64×64 windows, in strips of rows.

The network maps a ``patch``×``patch`` window of Y (64) to the chroma of its
centre ``out``×``out`` (56), ``margin`` = 4 pixels in from each edge. So we
cut the image into windows at stride ``out``: their centres tile the image
exactly once, neighbouring windows overlap by ``patch - out`` = 8 pixels (the
paper's overlap), and reflect padding gives the border windows something to
look at.

A window's result depends on that window alone, so the image need not go
through the network at once: `WindowRows` runs it one row of windows after
another (as many rows as fill a batch) and hands out the chroma rows in
order, forgetting the rows already passed. Memory is then that of a few rows
of windows, whatever the image's height, and the output is bit for bit the
whole image's (`colorize_y` is the whole image in one call).

A model that remembers a working scale (``model.long_side``, the long side
its training photos were shrunk to) sees the image at that scale too: the
windows then hold as much of the scene as they did in training, and chroma,
which varies slowly, is enlarged back to the image's size (`predict_chroma`),
where the guided filter aligns it with the full-resolution edges of Y
(:mod:`colorize.pipeline`).
"""
from __future__ import annotations

import numpy as np

from colorize.architecture import margin
from colorize.options import BATCH, check_positive_int
from colorize.resample import fit_size, resize
from colorize.yuv import rgb_to_gray

#: Rows of pixels checked or shrunk at a time by the pixel-wise passes here (bounds their temporaries).
PASS_ROWS = 256


def window_grid(height: int, width: int, patch: int, out: int) -> tuple[int, int, tuple]:
    """Number of windows and padding so that the window centres tile the image.

    Window (i, j) starts at row ``i·out``, column ``j·out`` of the padded
    image; its centre covers rows ``[i·out, (i+1)·out)`` of the image itself.

    Returns
    -------
    rows, cols, ((top, bottom), (left, right))

    Notes
    -----
    With margin :math:`m = \\lfloor (patch - out) / 2 \\rfloor`, rows
    :math:`= \\lceil H / out \\rceil`; the padded height is
    :math:`(rows - 1)\\, out + patch`, so the top pad is m and the bottom pad
    is :math:`rows \\cdot out + patch - out - m - H` (at least
    :math:`patch - out - m`); the same for columns.

    >>> window_grid(57, 56, 64, 56)
    (2, 1, ((4, 59), (4, 4)))
    """
    m = margin(patch, out)

    def axis(n: int) -> tuple[int, tuple[int, int]]:
        count = -(-n // out)                              # ceil(n / out)
        return count, (m, count * out + patch - out - m - n)

    (rows, pad_rows), (cols, pad_cols) = axis(height), axis(width)
    return rows, cols, (pad_rows, pad_cols)


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
        Only the padded image is allocated.

    >>> tile_windows(np.arange(6.0).reshape(2, 3), 3, 1)[1, 2].tolist()
    [[1.0, 2.0, 1.0], [4.0, 5.0, 4.0], [1.0, 2.0, 1.0]]
    """
    *_, pad = window_grid(*y.shape, patch, out)
    return np.lib.stride_tricks.sliding_window_view(_reflect_pad(y, pad), (patch, patch))[::out, ::out]


def check_y(y: np.ndarray, name: str = "y") -> np.ndarray:
    """A luminance image (H, W), or RGB (H, W, 3) turned into its Y, as float32 in [0, 1].

    Valid float32 luminance is returned as it is (no copy: images can be
    large); values within 1e-6 outside [0, 1] are clipped. Raises TypeError
    or ValueError saying what was expected.
    """
    y = np.asarray(y)
    if not np.issubdtype(y.dtype, np.floating):
        raise TypeError(f"{name} must be a float array in [0, 1], got dtype {y.dtype}")
    if y.ndim == 3 and y.shape[-1] == 3:
        y = rgb_to_gray(y)
    if y.ndim != 2 or 0 in y.shape:
        raise ValueError(f"{name} must be a non-empty (H, W) gray or (H, W, 3) RGB image, "
                         f"got shape {np.shape(y)}")
    low, high = np.inf, -np.inf
    for top in range(0, len(y), PASS_ROWS):
        rows = y[top:top + PASS_ROWS]
        if not np.isfinite(rows).all():
            raise ValueError(f"{name} must hold values in [0, 1], got NaN or infinity")
        low, high = min(low, rows.min()), max(high, rows.max())
    if low < -1e-6 or high > 1 + 1e-6:
        raise ValueError(f"{name} must hold values in [0, 1], got [{low}, {high}]")
    if y.dtype == np.float32 and 0 <= low and high <= 1:
        return y
    return np.clip(y, 0.0, 1.0).astype(np.float32)


class WindowRows:
    """The chroma of an image's rows, from the network, produced top to bottom.

    Parameters
    ----------
    y : ndarray, shape (H, W), float32 in [0, 1]
    model : ColorizationModel, or any object with ``patch``, ``out`` and
        ``predict((N, patch, patch)) -> (N, 2, out, out)``
    batch : int
        Windows per ``model.predict`` call.
    transform : callable rows -> rows, optional
        Applied to the rows of `y` the network sees (e.g. equalisation).

    Notes
    -----
    Rows of windows are computed in order, as many at a time as fill a
    batch, and their chroma kept until a call asks for rows below them:
    ``rows(first, last)`` may only move down. Window row i needs rows
    ``[i·out - m, i·out - m + patch)`` of the image, reflected at its
    edges; they are gathered through the index map of the padding, so the
    windows are exactly those of `tile_windows`.
    """

    def __init__(self, y: np.ndarray, model, batch: int = BATCH, transform=None):
        self.y, self.model, self.transform = y, model, transform
        self.batch = check_positive_int(batch, "batch")
        self.window_rows, self.cols, (pad_rows, self.pad_cols) = window_grid(*y.shape, model.patch, model.out)
        self.source_row = _reflect_pad(np.arange(len(y))[:, None], (pad_rows, (0, 0)))[:, 0]   # padded -> image
        self.step = -(-self.batch // self.cols)               # window rows per step: enough for a full batch
        self.done, self.first = 0, 0                         # window rows computed; first row kept
        self.kept = np.empty((0, y.shape[1], 2), np.float32)

    def rows(self, first: int, last: int) -> np.ndarray:
        """U, V of rows ``[first, last)``: (last - first, W, 2) float32."""
        if first < self.first:
            raise ValueError(f"rows must move down: row {first} was already passed (kept from {self.first})")
        self.kept, self.first = self.kept[first - self.first:], first
        while self.first + len(self.kept) < last:
            self.kept = np.concatenate([self.kept, self._next_rows()])
        return self.kept[:last - first]

    def _next_rows(self) -> np.ndarray:
        """The chroma of the next `step` rows of windows, cut at the image's bottom and right edge."""
        patch, out = self.model.patch, self.model.out
        start, stop = self.done, min(self.done + self.step, self.window_rows)
        self.done = stop
        rows = self.y[self.source_row[start * out:(stop - 1) * out + patch]]
        if self.transform is not None:
            rows = self.transform(rows)
        padded = _reflect_pad(rows, ((0, 0), self.pad_cols))
        windows = np.lib.stride_tricks.sliding_window_view(padded, (patch, patch))[::out, ::out]
        n = (stop - start) * self.cols
        uv = np.empty((stop - start, out, self.cols, out, 2), np.float32)    # one out×out block per window
        for begin in range(0, n, self.batch):
            i, j = np.divmod(np.arange(begin, min(begin + self.batch, n)), self.cols)
            chroma = np.asarray(self.model.predict(windows[i, j]))             # (n, 2, out, out)
            uv[i, :, j] = chroma.transpose(0, 2, 3, 1)
        height, width = self.y.shape
        return uv.reshape((stop - start) * out, self.cols * out, 2)[:height - start * out, :width]


def colorize_y(y: np.ndarray, model, batch: int = BATCH) -> np.ndarray:
    """Predict the chroma of a whole image, window by window.

    Parameters
    ----------
    y : ndarray, shape (H, W), float in [0, 1]
        Luminance; any size from 1×1.
    model : as in `WindowRows`
    batch : int
        Windows per ``model.predict`` call (>= 1).

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
    chunks of at most `batch`; each window's result depends only on that
    window, so the batch size does not change the output.
    """
    y = check_y(y)
    return np.ascontiguousarray(WindowRows(y, model, batch).rows(0, len(y)))


def predict_small(y: np.ndarray, model, batch: int = BATCH, transform=None) -> np.ndarray | None:
    """The chroma of `y` shrunk to the model's working scale, or None if it predicts at full size.

    None when the model has no ``long_side`` or the image fits in it; else
    `colorize_y` of ``transform(y)`` (default: `y`) shrunk to that long side
    (Lanczos), shrunk a few rows at a time (`colorize.resample.resize`): no
    full-size copy of the image is made.
    """
    long_side = getattr(model, "long_side", None)
    if long_side is None or max(y.shape) <= long_side:
        return None
    height, width = fit_size(*y.shape, long_side)
    small = np.empty((height, width), np.float32)
    step = max(1, PASS_ROWS * height // len(y))                 # about PASS_ROWS source rows per step
    for first in range(0, height, step):
        last = min(height, first + step)
        small[first:last] = resize(y, height, width, rows=(first, last), transform=transform)
    return colorize_y(np.clip(small, 0.0, 1.0), model, batch)      # Lanczos may overshoot [0, 1] a little


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
    y = check_y(y)
    small = predict_small(y, model, batch)
    return colorize_y(y, model, batch) if small is None else resize(small, *y.shape)
