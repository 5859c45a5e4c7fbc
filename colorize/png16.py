"""16-bit colour PNGs, read here: Pillow reads them at 8 bits.

`read_png16` walks the chunks, inflates the ``IDAT`` stream a piece at a
time and undoes the row filters with :func:`kernels.png_unfilter` (`_Rows`);
PNGs it leaves to Pillow (another depth, interlaced, EXIF-rotated) raise
`NotForThisReader`. Writing PNGs is :mod:`colorize.pngfile`'s.
"""
from __future__ import annotations

import os
import struct
import zlib

import numpy as np
from PIL import Image

import kernels
from colorize.pngfile import COLOUR_TYPE, EXIF_ORIENTATION, PNG_SIGNATURE

#: Bytes inflated at a time by `read_png16` (then unfiltered: whole rows).
INFLATE_BYTES = 2 ** 20
_CHANNELS = {colour: channels for channels, colour in COLOUR_TYPE.items()}


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
                wanted = max(1, min(INFLATE_BYTES, self.expected + 1 - self.inflated))   # one byte past: too long
                piece = self.stream.decompress(compressed, wanted)
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
                if rows is None:
                    rows = _Rows(width, height, _CHANNELS[colour], key)
                rows.feed(body)
            elif kind == b"IEND":
                break
    if rows is None or rows.inflated != rows.expected:     # all of it inflated: all rows restored (feed)
        raise ValueError(f"damaged PNG: {rows.inflated if rows else 0:,} bytes of pixel data, "
                         f"expected {rows.expected if rows else 0:,}")
    return rows.pixels
