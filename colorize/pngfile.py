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
#: Bytes inflated at a time by `read_png16` (then unfiltered: whole rows).
INFLATE_BYTES = 2 ** 20


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


class _Rows:
    """The pixels of a 16-bit PNG, restored from its zlib stream a few rows at a time.

    Inflated data waits in ``pending`` until it holds whole rows (1 filter byte
    + ``stride`` bytes each); those are unfiltered (with the last restored row
    above them, as PNG's filters need it) and stored, in the machine's byte
    order, into ``pixels``, which is allocated once at its final size (with
    a channel more for a colour key's alpha). Apart from it, memory holds a
    row or two and INFLATE_BYTES of inflated data, never the whole stream.
    """

    def __init__(self, width: int, height: int, channels: int, key: np.ndarray | None):
        self.width, self.height, self.channels, self.key = width, height, channels, key
        self.stride = width * channels * 2
        self.expected = height * (1 + self.stride)                  # bytes of the inflated stream
        self.pixels = np.empty((height, width, channels + (key is not None)), np.uint16)
        self.stream, self.pending, self.inflated, self.done = zlib.decompressobj(), bytearray(), 0, 0
        self.above = np.zeros(self.stride, np.uint8)                # the row above the first: zeros

    def feed(self, compressed: bytes) -> None:
        """Inflate an IDAT chunk's bytes (at most one byte past the expected size) and restore whole rows."""
        while compressed:
            try:
                piece = self.stream.decompress(compressed, max(1, min(INFLATE_BYTES, self.expected + 1 - self.inflated)))
            except zlib.error as err:
                raise ValueError(f"damaged PNG: {err}") from None
            compressed = self.stream.unconsumed_tail
            self.inflated += len(piece)
            if not piece or self.inflated > self.expected:
                return
            self.pending += piece
            self._restore(min(len(self.pending) // (1 + self.stride), self.height - self.done))

    def _restore(self, n: int) -> None:
        if n == 0:
            return
        row = 1 + self.stride                   # the row above goes first, stored unfiltered (filter 0)
        data = np.empty((n + 1) * row, np.uint8)
        data[0], data[1:row] = 0, self.above
        data[row:] = np.frombuffer(self.pending, np.uint8, n * row)
        rows = np.empty((n + 1, self.stride), np.uint8)
        bad = kernels.png_unfilter(data, n + 1, self.stride, self.channels * 2, rows)
        if bad:
            raise ValueError(f"damaged PNG: unknown row filter {bad}")
        self.above = rows[-1].copy()
        colour = rows[1:].view(">u2").reshape(n, self.width, self.channels)
        done = slice(self.done, self.done + n)
        self.pixels[done, :, :self.channels] = colour                   # big-endian to the machine's order
        if self.key is not None:
            self.pixels[done, :, -1] = np.any(colour != self.key, axis=-1) * np.uint16(65535)
        del self.pending[:n * row]
        self.done += n


def read_png16(path: str | os.PathLike) -> np.ndarray:
    """The pixels of a 16-bit PNG, which Pillow reads at 8 bits when it has colour or alpha.

    Parameters
    ----------
    path : a non-interlaced PNG of bit depth 16 (gray, gray + alpha, RGB or RGBA)

    Returns
    -------
    pixels : ndarray, shape (H, W, C), C in 1..4 (gray, gray + alpha, RGB, RGBA), uint16
        A colour key (``tRNS`` of a gray or RGB file, before the pixel data)
        becomes an alpha channel: 0 where a pixel has the key's value, 65535
        elsewhere.

    Raises
    ------
    NotForThisReader
        For a PNG of another depth, an interlaced one, or one whose EXIF
        (``eXIf`` chunk) rotates it: Pillow's to read.
    ValueError
        On a damaged file (bad CRC, a header of the wrong size, short or
        corrupt data, unknown row filter), saying what; nothing else for a
        damaged file.

    Notes
    -----
    Memory: the pixels (2 bytes per channel and pixel) and one chunk of the
    file at a time; rows are inflated and unfiltered a few at a time (`_Rows`).
    """
    with open(path, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        if file.read(8) != PNG_SIGNATURE:
            raise ValueError("not a PNG file")
        pos, header, key, rows = 8, None, None, None
        while pos + 12 <= size:
            head = file.read(8)
            if len(head) < 8:               # the file shrank since its size was taken
                raise ValueError("damaged PNG: the file ends inside a chunk's length and type")
            length, kind = struct.unpack(">I4s", head)
            if length > size - pos - 12:    # checked before reading: a length may claim up to 4 GB
                raise ValueError(f"damaged PNG: a {kind.decode('latin-1')} chunk of {length:,} bytes, "
                                 f"past the end of the file")
            body, crc = file.read(length), file.read(4)
            if len(crc) < 4 or len(body) < length or struct.unpack(">I", crc)[0] != zlib.crc32(body, zlib.crc32(kind)):
                raise ValueError(f"damaged PNG: bad or missing CRC of a {kind.decode('latin-1')} chunk")
            pos += 12 + length
            if kind == b"IHDR":
                if header is not None:      # a second header would resize the image past the checked size limit
                    raise ValueError("damaged PNG: a second IHDR chunk")
                if length != 13:
                    raise ValueError(f"damaged PNG: an IHDR chunk of {length} bytes, not 13")
                width, height, depth, colour, _, _, interlace = header = struct.unpack(">IIBBBBB", body)
                if depth != 16 or colour not in _CHANNELS or interlace:
                    raise NotForThisReader(f"expected a non-interlaced 16-bit PNG, got depth {depth}, "
                                           f"colour type {colour}, interlace {interlace}")
            elif header is None:
                raise ValueError("damaged PNG: no IHDR chunk first")
            elif kind == b"tRNS" and colour in (0, 2) and length == 2 * _CHANNELS[colour] and rows is None:
                key = np.frombuffer(body, ">u2")
            elif kind == b"eXIf":
                exif = Image.Exif()
                try:
                    exif.load(body)
                    turned = exif.get(EXIF_ORIENTATION, 1) != 1
                except Exception:           # EXIF that Pillow cannot parse: Pillow's reader says what it can
                    turned = True
                if turned:
                    raise NotForThisReader("rotated by its EXIF orientation")
            elif kind == b"IDAT":
                rows = rows or _Rows(width, height, _CHANNELS[colour], key)
                rows.feed(body)
            elif kind == b"IEND":
                break
    expected = rows.expected if rows else 0
    if rows is None or rows.inflated != rows.expected or rows.done != rows.height:
        raise ValueError(f"damaged PNG: {rows.inflated if rows else 0:,} bytes of pixel data, expected {expected:,}")
    return rows.pixels
