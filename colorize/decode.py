"""Decoding image files into integer pixels, within a size limit, at their own bit depth.

Pillow (through imageio) decodes every format; the size is checked from the
file's header before any pixel is decoded. Pillow has no 16-bit colour mode,
so 16-bit PNGs go to :func:`colorize.png16.read_png16` and 16-bit colour
TIFFs to imageio's tifffile-based ``TIFF`` plugin.
"""
from __future__ import annotations

import os
import struct
import warnings
from pathlib import Path

import imageio.v3 as iio
import numpy as np
from PIL import Image

from colorize.png16 import NotForThisReader, read_png16
from colorize.pngfile import COLOUR_TYPE, EXIF_ORIENTATION

#: Pillow modes read as they are (palettes are applied by imageio's plugin);
#: every other mode (CMYK, YCbCr, LAB, ...) is converted to RGB or RGBA.
_NATIVE_MODES = frozenset({"1", "L", "LA", "P", "PA", "RGB", "RGBA", "I",
                           "I;16", "I;16B", "I;16L", "I;16N"})
#: Largest image decoded, in pixels (width x height), unless the environment
#: variable COLORIZE_MAX_PIXELS sets another limit. Checked from the file's
#: header, before any pixel is decoded: a small file can declare a huge image
#: (a 194 KB PNG of 13000 x 13000 pixels).
MAX_PIXELS = 100_000_000
MAX_PIXELS_VARIABLE = "COLORIZE_MAX_PIXELS"


class ImageError(ValueError):
    """A file that cannot be read as an image (missing, corrupt, not an image)."""


def max_pixels() -> int:
    """The pixel limit of `read_pixels`: COLORIZE_MAX_PIXELS if set (a whole number), else MAX_PIXELS."""
    value = os.environ.get(MAX_PIXELS_VARIABLE, "").strip().replace("_", "")
    if not value:
        return MAX_PIXELS
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{MAX_PIXELS_VARIABLE} must be a whole number of pixels, got {value!r}")
    return int(value)


def _check_size(path: Path, limit: int) -> tuple[bool, str]:
    """Refuse, from the header alone, a file that cannot be opened or holds more than `limit` pixels.

    Returns whether its transparency is a palette entry or a colour key
    (Pillow's ``transparency``: a PNG ``tRNS`` chunk, a GIF's), not a
    channel, and which reader keeps its bit depth: ``"png16"`` for a 16-bit
    PNG (`colorize.png16.read_png16`), ``"tiff16"`` for a 16-bit colour
    TIFF (imageio's tifffile-based ``TIFF`` plugin), ``"pillow"`` for the rest
    (and for those with an EXIF rotation, or interlaced, which Pillow reads
    at 8 bits per colour channel).
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
                args = image.tile[0].args if image.tile else ""
                deep = ";16" in (args if isinstance(args, str) else str(args[0]))
                reader = "pillow"
                if deep and image.format == "PNG":      # read_png16 leaves interlaced or rotated ones to Pillow
                    reader = "png16"
                elif deep and image.format == "TIFF" and image.mode in ("RGB", "RGBA") \
                        and image.getexif().get(EXIF_ORIENTATION, 1) == 1:
                    reader = "tiff16"
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
    return keyed, reader


def _decode(path: Path) -> np.ndarray:
    """Pixels of the first frame, EXIF orientation applied, in their own dtype."""
    keyed, reader = _check_size(path, max_pixels())
    if reader == "tiff16":
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)     # imageio's vendored tifffile
                return iio.imread(path, plugin="TIFF", index=0)
        except MemoryError:
            raise ImageError(f"cannot read image {path}: not enough memory to decode it") from None
        except Exception:
            pass                    # the plugin gone or the file beyond it: Pillow reads it, at 8 bits
    if reader == "png16":       # our own reader: what a damaged file raises is known, anything else is a bug
        try:
            return read_png16(path)
        except MemoryError:
            raise ImageError(f"cannot read image {path}: not enough memory to decode it") from None
        except NotForThisReader:
            pass                    # interlaced or EXIF-rotated: Pillow reads it, colour at 8 bits
        except ValueError as err:   # damaged: it says what (CRC, chunk, zlib, size, row filter)
            raise ImageError(f"cannot read image {path}: {err}") from None
        except OSError as err:
            raise ImageError(f"cannot read image {path}: {err.strerror or err}") from None
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


def read_pixels(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """The file's integer pixels (H, W, C), C in 1..4 (gray, gray + alpha, RGB, RGBA), and their bit depth."""
    path = Path(path)
    if not path.is_file():
        reason = "not a file" if path.exists() else "no such file"
        raise ImageError(f"cannot read image {path}: {reason}")
    pixels = _decode(path)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if pixels.ndim != 3 or pixels.shape[-1] not in COLOUR_TYPE or 0 in pixels.shape:
        raise ImageError(f"cannot read image {path}: expected (H, W) or (H, W, 1..4) "
                         f"pixels, got shape {pixels.shape}")
    if pixels.dtype == np.int32 and 0 <= pixels.min() and pixels.max() < 2 ** 16:
        pixels = pixels.astype(np.uint16)       # Pillow's mode "I" holding 16-bit data
    depth = {np.dtype(bool): 1, np.dtype(np.uint8): 8, np.dtype(np.uint16): 16}.get(pixels.dtype)
    if depth is None:
        raise ImageError(f"cannot read image {path}: unsupported pixel type {pixels.dtype}")
    return pixels, depth
