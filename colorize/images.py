"""Reading, writing and listing image files.

`read_image` turns any supported file into float32 RGB in [0, 1] plus an
`ImageInfo`, `read_luminance` into its luminance alone, a strip of rows at a
time (a photo of 96 megapixels is never whole as float RGB); `write_png`
(:mod:`colorize.pngfile`) writes images back, atomically. Decoding, with its
size limit, lives in :mod:`colorize.decode`. Every failure to read is one
exception type, `ImageError`, so the CLI can catch just that.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from colorize.decode import ImageError, read_pixels
from colorize.pngfile import write_png  # noqa: F401  (files are read here, written there: one import for both)
from colorize.yuv import rgb_to_gray

#: The stem ending of this tool's outputs (``colorize apply`` writes ``<stem>_colorized.png``):
#: `list_images` leaves them out of folders, so that no command takes them for photos.
OUTPUT_SUFFIX = "_colorized"
#: File name extensions that `list_images` picks up in folders (lower case).
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"})
#: Default tolerance of `is_gray`: two 8-bit levels, the noise of a gray JPEG.
GRAY_TOL = 2 / 255
#: Rows converted at a time by `read_luminance` (bounds its temporaries).
STRIP_ROWS = 256


@dataclass(frozen=True)
class ImageInfo:
    """What `read_image` learned about a file besides its colours.

    Attributes
    ----------
    gray : bool
        Stored as gray, or as colour whose R, G, B differ by at most
        `read_image`'s ``gray_tol`` at every pixel (by default 0: all
        channels exactly equal).
    alpha_pixels : ndarray of shape (H, W), uint8 or uint16, or None
        The alpha channel as the file stores it, if it has one (kept as
        integers: `colorize.apply` writes it back as it is).
    bit_depth : int
        Bits per channel of the decoded data: 1, 8 or 16.
    """

    gray: bool
    alpha_pixels: np.ndarray | None
    bit_depth: int

    @property
    def alpha(self) -> np.ndarray | None:
        """The alpha channel as float32 in [0, 1], (H, W), or None."""
        if self.alpha_pixels is None:
            return None
        return (self.alpha_pixels / np.float32(2 ** self.bit_depth - 1)).astype(np.float32, copy=False)


def _unit_rgb(pixels: np.ndarray, depth: int) -> np.ndarray:
    """Integer pixels (h, W, C) as float32 RGB (h, W, 3) in [0, 1] (gray repeated), alpha left out."""
    colour = pixels[..., :3] if pixels.shape[-1] >= 3 else pixels[..., :1]
    rgb = (colour / np.float32(2 ** depth - 1)).astype(np.float32, copy=False)    # float32 already: no copy
    return np.repeat(rgb, 3, axis=-1) if rgb.shape[-1] == 1 else rgb


def _alpha_pixels(pixels: np.ndarray) -> np.ndarray | None:
    """The alpha channel (H, W) of integer pixels (H, W, C), a copy (so that `pixels` can go), or None."""
    return pixels[..., -1].copy() if pixels.shape[-1] in (2, 4) else None


def read_image(path: str | os.PathLike, gray_tol: float = 0.0) -> tuple[np.ndarray, ImageInfo]:
    """Read a PNG, JPEG, TIFF or BMP file as float32 RGB in [0, 1].

    Parameters
    ----------
    path : str or PathLike
    gray_tol : float
        The tolerance of `is_gray` that ``info.gray`` is computed with (once,
        here): 0 asks for exactly equal channels, GRAY_TOL forgives a gray
        JPEG's noise.

    Returns
    -------
    rgb : ndarray, shape (H, W, 3), float32 in [0, 1]
        Gray files are repeated on the three channels. EXIF orientation is
        applied, so (H, W) is the image as it should be displayed.
    info : ImageInfo
        Whether it was gray, its alpha channel (or None), its bit depth.

    Raises
    ------
    ImageError
        If the file is missing, not an image, corrupt or of an unsupported
        pixel type; the message reads ``cannot read image <path>: <reason>``.

    Notes
    -----
    8-bit data is divided by 255, 16-bit data by 65535. Gray, gray + alpha,
    RGB and RGBA are read at their depth: 16-bit PNGs by
    `colorize.png16.read_png16` and 16-bit colour TIFFs by imageio's
    ``TIFF`` plugin, as Pillow reads 16-bit colour at 8 bits (it has no
    16-bit RGB mode), and so it does for the rare such files that are
    interlaced or carry an EXIF rotation. Transparency stored as a palette
    entry or a colour key (PNG ``tRNS``) becomes the alpha channel, like a
    stored one. Multi-frame files (TIFF stacks, GIF) give their first frame.
    """
    pixels, depth = read_pixels(path)
    rgb = _unit_rgb(pixels, depth)
    info = ImageInfo(gray=pixels.shape[-1] in (1, 2) or is_gray(rgb, tol=gray_tol), alpha_pixels=_alpha_pixels(pixels),
                     bit_depth=depth)
    return np.ascontiguousarray(rgb), info


def read_luminance(path: str | os.PathLike) -> tuple[np.ndarray, ImageInfo]:
    """Read an image file as its luminance: `read_image` reduced to Y, with a few bytes per pixel.

    Returns
    -------
    y : ndarray, shape (H, W), float32 in [0, 1]
        ``rgb_to_gray`` of `read_image`'s RGB, clipped to [0, 1] (float
        rounding can pass 1 by an ulp), computed STRIP_ROWS rows at a time:
        the float RGB image is never whole in memory.
    info : ImageInfo, as `read_image`'s

    Raises
    ------
    ImageError, as `read_image`
    """
    pixels, depth = read_pixels(path)
    y = np.empty(pixels.shape[:2], np.float32)
    stored_gray, gray = pixels.shape[-1] in (1, 2), True
    for top in range(0, len(pixels), STRIP_ROWS):
        rgb = _unit_rgb(pixels[top:top + STRIP_ROWS], depth)
        y[top:top + STRIP_ROWS] = np.clip(rgb_to_gray(rgb), 0.0, 1.0)
        gray = gray and (stored_gray or is_gray(rgb, tol=0.0))
    return y, ImageInfo(gray=gray, alpha_pixels=_alpha_pixels(pixels), bit_depth=depth)


def skipped_gray(names) -> str:
    """The one line every command says when it leaves gray photos out (they hold no colour to learn or
    to score).

    >>> skipped_gray(["a.png", "b.jpg"])
    'skipped 2 gray photos (no colour in them): a.png, b.jpg'
    """
    return f"skipped {len(names)} gray photo{'s' * (len(names) != 1)} (no colour in them): {', '.join(names)}"


def is_gray(rgb: np.ndarray, tol: float = GRAY_TOL) -> bool:
    """Whether an image holds no colour: one channel, or R, G, B equal within `tol`.

    Parameters
    ----------
    rgb : ndarray, shape (H, W) or (H, W, C), C = 1 (gray), 2 (gray + alpha),
        3 (RGB) or 4 (RGBA); values in [0, 1]
    tol : float
        Largest allowed difference between the channels of one pixel.

    Returns
    -------
    bool

    Notes
    -----
    Gray when :math:`\\max_{pixels} (\\max(R, G, B) - \\min(R, G, B)) \\le tol`.

    >>> is_gray(np.array([[[0.2, 0.2, 0.2, 1.0]]])), is_gray(np.array([[[1.0, 0, 0]]]))
    (True, False)
    """
    rgb = np.asarray(rgb)
    if rgb.ndim == 2 or (rgb.ndim == 3 and rgb.shape[-1] in (1, 2)):
        return True
    if rgb.ndim != 3 or rgb.shape[-1] not in (3, 4):
        raise ValueError(f"rgb must be (H, W) or (H, W, 1..4), got shape {rgb.shape}")
    return all(np.ptp(rgb[top:top + STRIP_ROWS, :, :3], axis=-1).max(initial=0) <= tol    # in strips: the
               for top in range(0, len(rgb), STRIP_ROWS))                                # temporaries of ptp


def list_images(paths: str | os.PathLike | Iterable[str | os.PathLike], skipped: list | None = None) -> list[Path]:
    """Expand files and folders into a sorted list of image files, without duplicates.

    Parameters
    ----------
    paths : path or iterable of paths
        A file is taken as given, whatever its extension. A folder gives its
        files with an extension in IMAGE_EXTENSIONS (any case), not
        recursively, skipping hidden files (such as unfinished atomic writes)
        and this tool's outputs (``*_colorized.*``, see OUTPUT_SUFFIX): every
        command that lists photos (apply, evaluate, tone, patches, train)
        lists them here.
    skipped : list, optional
        Receives the outputs left out of folders (to tell the user).

    Returns
    -------
    list of Path
        Sorted by name; a file reached twice is listed once.

    Raises
    ------
    ImageError
        If a path does not exist.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    found: dict[Path, Path] = {}
    for path in map(Path, paths):
        if path.is_dir():
            files = sorted(f for f in path.iterdir() if f.is_file() and not f.name.startswith(".")
                           and f.suffix.lower() in IMAGE_EXTENSIONS)
            if skipped is not None:
                skipped += [f for f in files if f.stem.endswith(OUTPUT_SUFFIX)]
            files = [f for f in files if not f.stem.endswith(OUTPUT_SUFFIX)]
        elif path.exists():
            files = [path]
        else:
            raise ImageError(f"cannot read image {path}: no such file or folder")
        for f in files:
            found.setdefault(f.resolve(), f)
    return sorted(found.values(), key=str)
