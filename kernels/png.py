"""Undoing PNG's row filters: each byte was stored minus a prediction from its left, upper and upper-left
neighbours (PNG specification, §9); the prediction needs the bytes already restored, hence a loop.
"""
from numba import njit


@njit(cache=True)
def png_unfilter(data, height, stride, bpp, out):
    """Restore the rows of a decompressed PNG image.

    ``data``: uint8, ``height`` rows of 1 filter byte + ``stride`` bytes;
    ``bpp``: bytes per complete pixel (at least 1); ``out``: uint8
    (height, stride), filled with the raw bytes. Returns the first invalid
    filter type found (> 4), or 0. a = left, b = up, c = upper left.
    """
    for i in range(height):
        kind = int(data[i * (stride + 1)])
        if kind > 4:
            return kind
        base = i * (stride + 1) + 1
        for j in range(stride):
            a = int(out[i, j - bpp]) if j >= bpp else 0           # int: no uint8 wrap-around in a + b - c
            b = int(out[i - 1, j]) if i > 0 else 0
            c = int(out[i - 1, j - bpp]) if i > 0 and j >= bpp else 0
            if kind == 0:
                predicted = 0
            elif kind == 1:
                predicted = a
            elif kind == 2:
                predicted = b
            elif kind == 3:
                predicted = (a + b) // 2
            else:                                   # Paeth: the neighbour nearest to a + b - c
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                predicted = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            out[i, j] = (int(data[base + j]) + predicted) & 255
    return 0
