"""Reading, writing and listing image files.

`read_image` turns any supported file into float32 RGB in [0, 1] plus an
`ImageInfo`; `write_png` writes float images back, atomically. Every failure
to read is one exception type, `ImageError`, so the CLI can catch just that.
"""
from __future__ import annotations

import os
import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import imageio.v3 as iio
import numpy as np
from PIL import Image

from vcnn.atomic import atomic_path

#: The stem ending of this tool's outputs (``colorize apply`` writes ``<stem>_colorized.png``):
#: `list_images` leaves them out of folders, so that no command takes them for photos.
OUTPUT_SUFFIX = "_colorized"
#: File name extensions that `list_images` picks up in folders (lower case).
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"})
#: Default tolerance of `is_gray`: two 8-bit levels, the noise of a gray JPEG.
GRAY_TOL = 2 / 255
#: Pillow modes read as they are (palettes are applied by imageio's plugin);
#: every other mode (CMYK, YCbCr, LAB, ...) is converted to RGB or RGBA.
_NATIVE_MODES = frozenset({"1", "L", "LA", "P", "PA", "RGB", "RGBA", "I",
                           "I;16", "I;16B", "I;16L", "I;16N"})
#: Largest image `read_image` decodes, in pixels (width x height), unless the
#: environment variable COLORIZE_MAX_PIXELS sets another limit. Checked from
#: the file's header, before any pixel is decoded: a small file can declare a
#: huge image (a 194 KB PNG of 13000 x 13000 pixels).
MAX_PIXELS = 100_000_000
MAX_PIXELS_VARIABLE = "COLORIZE_MAX_PIXELS"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_COLOUR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}   # channels -> gray, gray+alpha, RGB, RGBA
_PNG_FILTER_UP = 2                            # each row stored minus the row above


class ImageError(ValueError):
    """A file that cannot be read as an image (missing, corrupt, not an image)."""


@dataclass(frozen=True)
class ImageInfo:
    """What `read_image` learned about a file besides its colours.

    Attributes
    ----------
    gray : bool
        Stored as gray, or as colour with all channels exactly equal.
    alpha : ndarray of shape (H, W), float32 in [0, 1], or None
        The alpha channel, if the file has one.
    bit_depth : int
        Bits per channel of the decoded data: 1, 8 or 16.
    """

    gray: bool
    alpha: np.ndarray | None
    bit_depth: int


def max_pixels() -> int:
    """The pixel limit of `read_image`: COLORIZE_MAX_PIXELS if set (a whole number), else MAX_PIXELS."""
    value = os.environ.get(MAX_PIXELS_VARIABLE, "").strip().replace("_", "")
    if not value:
        return MAX_PIXELS
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{MAX_PIXELS_VARIABLE} must be a whole number of pixels, got {value!r}")
    return int(value)


def _check_size(path: Path, limit: int) -> bool:
    """Refuse, from the header alone, a file that cannot be opened or holds more than `limit` pixels.

    Returns whether its transparency is a palette entry or a colour key
    (Pillow's ``transparency``: a PNG ``tRNS`` chunk, a GIF's), not a channel.
    """
    too_large = (f"more than the limit of {limit:,} pixels (set the environment variable "
                 f"{MAX_PIXELS_VARIABLE} to raise it; memory grows with the pixels)")
    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = limit          # Pillow's own bomb check, at our limit
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                keyed = "transparency" in image.info and image.mode in ("P", "L", "RGB", "1", "I", "I;16")
    except Image.DecompressionBombError:
        raise ImageError(f"cannot read image {path}: {too_large}") from None
    except (Image.UnidentifiedImageError, SyntaxError, ValueError, EOFError, struct.error):
        raise ImageError(f"cannot read image {path}: not a recognised image file") from None
    except OSError as err:
        raise ImageError(f"cannot read image {path}: {err.strerror or err}") from None
    finally:
        Image.MAX_IMAGE_PIXELS = previous
    if width * height > limit:
        raise ImageError(f"cannot read image {path}: {width}x{height} pixels, {too_large}")
    return keyed


def _decode(path: Path) -> np.ndarray:
    """Pixels of the first frame, EXIF orientation applied, in their own dtype."""
    keyed = _check_size(path, max_pixels())
    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None           # checked above: no warning for large images within our limit
    try:
        try:
            file = iio.imopen(path, "r", plugin="pillow")
        except Exception as err:
            raise ImageError(f"cannot read image {path}: not a recognised image file") from err
        with file:
            try:
                mode = file.metadata(index=0).get("mode")
                target = None if mode in _NATIVE_MODES else ("RGBA" if mode[-1] in "Aa" else "RGB")
                if keyed:               # a palette entry or colour key made transparent: an alpha channel
                    target = "LA" if mode in ("L", "1") else "RGBA"
                return file.read(index=0, rotate=True, mode=target)
            except MemoryError:
                raise ImageError(f"cannot read image {path}: not enough memory to decode it") from None
            except Exception as err:
                raise ImageError(f"cannot read image {path}: {err}") from err
    finally:
        Image.MAX_IMAGE_PIXELS = previous


def _to_unit_float(pixels: np.ndarray, path: Path) -> tuple[np.ndarray, int]:
    """Integer pixels to float32 in [0, 1]; also return the bit depth."""
    if pixels.dtype == np.int32 and pixels.size and 0 <= pixels.min() and pixels.max() < 2 ** 16:
        pixels = pixels.astype(np.uint16)       # Pillow's mode "I" holding 16-bit data
    depth = {np.dtype(bool): 1, np.dtype(np.uint8): 8, np.dtype(np.uint16): 16}.get(pixels.dtype)
    if depth is None:
        raise ImageError(f"cannot read image {path}: unsupported pixel type {pixels.dtype}")
    return (pixels / np.float32(2 ** depth - 1)).astype(np.float32), depth


def read_image(path: str | os.PathLike) -> tuple[np.ndarray, ImageInfo]:
    """Read a PNG, JPEG, TIFF or BMP file as float32 RGB in [0, 1].

    Parameters
    ----------
    path : str or PathLike

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
    RGB and RGBA are read at their depth, except 16-bit colour, which Pillow
    decodes to 8 bits per channel (it has no 16-bit RGB mode). Transparency
    stored as a palette entry or a colour key (PNG ``tRNS``) becomes the
    alpha channel, like a stored one. Multi-frame
    files (TIFF stacks, GIF) give their first frame.
    """
    path = Path(path)
    if not path.is_file():
        reason = "not a file" if path.exists() else "no such file"
        raise ImageError(f"cannot read image {path}: {reason}")
    pixels = _decode(path)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if pixels.ndim != 3 or pixels.shape[-1] not in _PNG_COLOUR_TYPE or 0 in pixels.shape:
        raise ImageError(f"cannot read image {path}: expected (H, W) or (H, W, 1..4) "
                         f"pixels, got shape {pixels.shape}")
    values, depth = _to_unit_float(pixels, path)
    has_alpha = values.shape[-1] in (2, 4)
    colour = values[..., :-1] if has_alpha else values
    rgb = np.repeat(colour, 3, axis=-1) if colour.shape[-1] == 1 else colour
    info = ImageInfo(gray=colour.shape[-1] == 1 or is_gray(rgb, tol=0.0),
                     alpha=values[..., -1] if has_alpha else None, bit_depth=depth)
    return np.ascontiguousarray(rgb), info


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
    return bool(rgb.size == 0 or np.ptp(rgb[..., :3], axis=-1).max() <= tol)


def resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resample a float image to ``height`` × ``width``: Lanczos when it shrinks, bilinear when it grows.

    Parameters
    ----------
    image : ndarray, shape (H, W) or (H, W, C), float
    height, width : int, >= 1

    Returns
    -------
    ndarray, shape (height, width) or (height, width, C), float32
        Each channel goes through Pillow's 32-bit float mode: nothing is
        rounded to 8 bits. Lanczos may overshoot the input's range slightly
        at sharp edges; clip if that matters.

    >>> resize(np.ones((4, 6, 2)), 2, 3).shape
    (2, 3, 2)
    """
    image = np.asarray(image, np.float32)
    if height < 1 or width < 1:
        raise ValueError(f"cannot resize to {height}x{width}")
    if image.shape[:2] == (height, width):
        return image.copy()
    shrinks = height * width < image.shape[0] * image.shape[1]
    method = Image.Resampling.LANCZOS if shrinks else Image.Resampling.BILINEAR
    planes = image[..., None] if image.ndim == 2 else image
    out = np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(planes[..., c])).resize((width, height), method))
                    for c in range(planes.shape[-1])], axis=-1)
    return out[..., 0] if image.ndim == 2 else out


def fit_long_side(image: np.ndarray, long_side: int | None) -> np.ndarray:
    """Shrink an image (keeping its aspect) so that its longer side is at most ``long_side`` pixels.

    Returns `image` itself when it already fits or `long_side` is None; never enlarges.

    >>> fit_long_side(np.zeros((640, 1024)), 320).shape
    (200, 320)
    """
    h, w = image.shape[:2]
    if long_side is None or max(h, w) <= long_side:
        return image
    scale = long_side / max(h, w)
    return resize(image, max(1, round(h * scale)), max(1, round(w * scale)))


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_bytes(pixels: np.ndarray) -> bytes:
    """Encode uint8 or uint16 pixels (H, W, C), C in 1..4, as a PNG file.

    Written here rather than by Pillow because Pillow cannot write 16-bit RGB.
    """
    h, w, c = pixels.shape
    depth = 8 * pixels.dtype.itemsize
    rows = pixels.astype(">u2" if depth == 16 else np.uint8).reshape(h, -1).view(np.uint8)
    up = rows.copy()
    up[1:] -= rows[:-1]                       # the "Up" filter, modulo 256
    filtered = np.hstack([np.full((h, 1), _PNG_FILTER_UP, np.uint8), up])
    header = struct.pack(">IIBBBBB", w, h, depth, _PNG_COLOUR_TYPE[c], 0, 0, 0)
    return (_PNG_SIGNATURE + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(filtered.tobytes(), 6))
            + _png_chunk(b"IEND", b""))


def write_png(path: str | os.PathLike, image: np.ndarray, bit_depth: int = 8) -> None:
    """Write a float image in [0, 1] as a PNG, atomically.

    Parameters
    ----------
    path : str or PathLike
        Target file; its folder must exist. Replaced only once fully written.
    image : ndarray, shape (H, W) or (H, W, C), float
        C = 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA. Clipped to [0, 1].
    bit_depth : {8, 16}

    Raises
    ------
    ValueError
        On a bad shape, non-finite values or a bit depth other than 8 or 16.
    TypeError
        If `image` is not a float array.

    Notes
    -----
    Stored value :math:`= \\mathrm{round}(\\mathrm{clip}(x, 0, 1) (2^{d} - 1))`.
    """
    image = np.asarray(image)
    if not np.issubdtype(image.dtype, np.floating):
        raise TypeError(f"image must be a float array, got dtype {image.dtype}")
    pixels = image[..., None] if image.ndim == 2 else image
    if pixels.ndim != 3 or pixels.shape[-1] not in _PNG_COLOUR_TYPE or 0 in pixels.shape:
        raise ValueError(f"image must be (H, W) or (H, W, C) with C in 1..4, got shape {image.shape}")
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, got {bit_depth!r}")
    if not np.isfinite(pixels).all():
        raise ValueError("image must hold finite values, got NaN or inf")
    dtype = np.uint8 if bit_depth == 8 else np.uint16
    quantized = np.round(np.clip(pixels, 0.0, 1.0) * (2 ** bit_depth - 1)).astype(dtype)
    data = _png_bytes(quantized)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


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
