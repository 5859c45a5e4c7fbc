"""PNG files: written here, row strips at a time, at 8 or 16 bits per channel; 16-bit colour read here.

Written here rather than by Pillow because Pillow cannot write 16-bit RGB,
and because an image of 96 megapixels should not be held three times over
(filtered, serialised, compressed) to be saved: rows are filtered and fed to
one zlib stream a strip at a time, and each strip's compressed bytes go
straight to the file as an ``IDAT`` chunk (a PNG's ``IDAT`` chunks are one
zlib stream cut anywhere). The file is written under a temporary name and
renamed when complete.

Pillow reads every PNG but 16-bit colour, which it reduces to 8 bits:
`read_png16` reads those (chunks, inflate, undo the row filters with
:func:`kernels.png_unfilter`).
"""
from __future__ import annotations

import os
import struct
import zlib

import numpy as np
from PIL import Image

import kernels
from vcnn.atomic import atomic_path

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: PNG colour type of each channel count: gray, gray + alpha, RGB, RGBA.
COLOUR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}
_CHANNELS = {colour: channels for channels, colour in COLOUR_TYPE.items()}
EXIF_ORIENTATION = 0x0112                   # the EXIF tag
_FILTER_UP = 2                              # each row stored minus the row above
#: Rows quantised, filtered and compressed at a time; compressed bytes per IDAT chunk (the last one may be shorter).
STRIP_ROWS, IDAT_BYTES = 256, 2 ** 20


def chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data, CRC of type and data."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def quantize(image: np.ndarray, bit_depth: int) -> np.ndarray:
    """Float values in [0, 1] as the integers a ``bit_depth``-bit file stores.

    Stored value :math:`= \\mathrm{round}(\\mathrm{clip}(x, 0, 1) (2^{d} - 1))`.

    >>> quantize(np.array([0.0, 0.5, 1.2]), 8).tolist()
    [0, 128, 255]
    """
    dtype = np.uint8 if bit_depth == 8 else np.uint16
    return np.round(np.clip(image, 0.0, 1.0) * (2 ** bit_depth - 1)).astype(dtype)


def write_png(path: str | os.PathLike, image: np.ndarray, bit_depth: int = 8) -> None:
    """Write an image as a PNG, atomically.

    Parameters
    ----------
    path : str or PathLike
        Target file; its folder must exist. Replaced only once fully written.
    image : ndarray, shape (H, W) or (H, W, C), C = 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA
        Float values in [0, 1] (clipped, then quantised to `bit_depth`), or
        uint8 / uint16 values written as they are (their dtype sets the depth).
    bit_depth : {8, 16}
        Bits per channel of a float image.

    Raises
    ------
    ValueError
        On a bad shape, non-finite values or a bit depth other than 8 or 16.
    TypeError
        If `image` is neither float nor uint8 / uint16.
    """
    image = np.asarray(image)
    integer = image.dtype in (np.uint8, np.uint16)
    if not (integer or np.issubdtype(image.dtype, np.floating)):
        raise TypeError(f"image must be a float array (or uint8, uint16 pixels), got dtype {image.dtype}")
    pixels = image[..., None] if image.ndim == 2 else image
    if pixels.ndim != 3 or pixels.shape[-1] not in COLOUR_TYPE or 0 in pixels.shape:
        raise ValueError(f"image must be (H, W) or (H, W, C) with C in 1..4, got shape {image.shape}")
    if integer:
        bit_depth = 8 * pixels.dtype.itemsize
    elif bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, got {bit_depth!r}")
    elif not all(np.isfinite(pixels[top:top + STRIP_ROWS]).all() for top in range(0, len(pixels), STRIP_ROWS)):
        raise ValueError("image must hold finite values, got NaN or inf")
    height, width, channels = pixels.shape
    header = struct.pack(">IIBBBBB", width, height, bit_depth, COLOUR_TYPE[channels], 0, 0, 0)
    stream, previous = zlib.compressobj(6), np.zeros((1, width * channels * bit_depth // 8), np.uint8)
    pending = bytearray()
    with atomic_path(path) as tmp, open(tmp, "wb") as file:
        file.write(PNG_SIGNATURE + chunk(b"IHDR", header))
        for top in range(0, height, STRIP_ROWS):
            strip = pixels[top:top + STRIP_ROWS]
            strip = strip if integer else quantize(strip, bit_depth)
            rows = np.ascontiguousarray(strip.astype(">u2" if bit_depth == 16 else np.uint8)).reshape(len(strip), -1)
            rows = rows.view(np.uint8)
            up = rows - np.concatenate([previous, rows[:-1]])       # the "Up" filter, modulo 256
            previous = rows[-1:]
            filtered = np.hstack([np.full((len(rows), 1), _FILTER_UP, np.uint8), up])
            pending += stream.compress(filtered.tobytes())
            if len(pending) >= IDAT_BYTES:
                file.write(chunk(b"IDAT", bytes(pending)))
                pending.clear()
        file.write(chunk(b"IDAT", bytes(pending + stream.flush())) + chunk(b"IEND", b""))


class NotForThisReader(ValueError):
    """A valid PNG that `read_png16` leaves to Pillow: not 16-bit, interlaced, or EXIF-rotated."""


def read_png16(path: str | os.PathLike) -> np.ndarray:
    """The pixels of a 16-bit PNG, which Pillow reads at 8 bits when it has colour or alpha.

    Parameters
    ----------
    path : a non-interlaced PNG of bit depth 16 (gray, gray + alpha, RGB or RGBA)

    Returns
    -------
    pixels : ndarray, shape (H, W, C), C in 1..4 (gray, gray + alpha, RGB, RGBA), uint16
        A colour key (``tRNS`` of a gray or RGB file) becomes an alpha
        channel: 0 where a pixel has the key's value, 65535 elsewhere.

    Raises
    ------
    NotForThisReader
        For a PNG of another depth, an interlaced one, or one whose EXIF
        (``eXIf`` chunk) rotates it: Pillow's to read.
    ValueError
        On a damaged file (bad CRC, a header of the wrong size, short or
        corrupt data, unknown row filter), saying what; nothing else for a
        damaged file.
    """
    with open(path, "rb") as file:
        data = file.read()
    if data[:8] != PNG_SIGNATURE:
        raise ValueError("not a PNG file")
    pos, header, key, stream, raw = 8, None, None, zlib.decompressobj(), bytearray()
    while pos + 12 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body, crc = data[pos + 8:pos + 8 + length], data[pos + 8 + length:pos + 12 + length]
        if len(crc) < 4 or struct.unpack(">I", crc)[0] != zlib.crc32(kind + body):
            raise ValueError(f"damaged PNG: bad or missing CRC of a {kind.decode('latin-1')} chunk")
        pos += 12 + length
        if kind == b"IHDR":
            if header is not None:          # a second header would resize the image past the checked size limit
                raise ValueError("damaged PNG: a second IHDR chunk")
            if length != 13:
                raise ValueError(f"damaged PNG: an IHDR chunk of {length} bytes, not 13")
            width, height, depth, colour, _, _, interlace = header = struct.unpack(">IIBBBBB", body)
            if depth != 16 or colour not in _CHANNELS or interlace:
                raise NotForThisReader(f"expected a non-interlaced 16-bit PNG, got depth {depth}, "
                                 f"colour type {colour}, interlace {interlace}")
            channels = _CHANNELS[colour]
            expected = height * (1 + width * channels * 2)
        elif header is None:
            raise ValueError("damaged PNG: no IHDR chunk first")
        elif kind == b"tRNS" and colour in (0, 2) and length == 2 * channels:
            key = np.frombuffer(body, ">u2")
        elif kind == b"eXIf":
            exif = Image.Exif()
            try:
                exif.load(body)
                turned = exif.get(EXIF_ORIENTATION, 1) != 1
            except Exception:               # EXIF that Pillow cannot parse: Pillow's reader says what it can
                turned = True
            if turned:
                raise NotForThisReader("rotated by its EXIF orientation")
        elif kind == b"IDAT":
            try:
                raw += stream.decompress(body, max(1, expected + 1 - len(raw)))
            except zlib.error as err:
                raise ValueError(f"damaged PNG: {err}") from None
        elif kind == b"IEND":
            break
    if header is None or len(raw) != expected:
        raise ValueError(f"damaged PNG: {len(raw):,} bytes of pixel data, expected {expected if header else 0:,}")
    del data
    rows = np.empty((height, width * channels * 2), np.uint8)
    bad = kernels.png_unfilter(np.frombuffer(raw, np.uint8), height, rows.shape[1], channels * 2, rows)
    if bad:
        raise ValueError(f"damaged PNG: unknown row filter {bad}")
    del raw
    pixels = rows.view(">u2").reshape(height, width, channels).astype(np.uint16)
    if key is not None:
        opaque = np.any(pixels != key.astype(np.uint16), axis=-1)
        pixels = np.concatenate([pixels, (opaque * np.uint16(65535))[..., None]], axis=-1)
    return pixels
