"""Tests of colorize.images and vcnn.atomic on tiny files made in tmp_path."""
import os
import struct
import subprocess
import sys
import zlib

import imageio.v3 as iio
import numpy as np
import pytest
from PIL import Image

from vcnn.atomic import atomic_path
from colorize.images import ImageError, is_gray, list_images, read_image, write_png
from colorize.resample import fit_long_side, resize



def test_gray_8bit_png(tmp_path, rng):
    gray = rng.integers(0, 256, (5, 7), dtype=np.uint8)
    iio.imwrite(tmp_path / "g.png", gray)
    rgb, info = read_image(tmp_path / "g.png")
    assert rgb.shape == (5, 7, 3) and rgb.dtype == np.float32
    np.testing.assert_array_equal(rgb, np.repeat(gray[..., None] / np.float32(255), 3, axis=2))
    assert info.gray and info.alpha is None and info.bit_depth == 8


def test_gray_16bit_png_keeps_precision(tmp_path, rng):
    gray = rng.integers(0, 2 ** 16, (4, 6), dtype=np.uint16)
    iio.imwrite(tmp_path / "g16.png", gray)
    rgb, info = read_image(tmp_path / "g16.png")
    np.testing.assert_allclose(rgb[..., 1], gray / 65535, atol=1e-7)
    assert info.gray and info.bit_depth == 16


def test_rgba_and_gray_alpha_png(tmp_path, rng):
    rgba = rng.integers(0, 256, (3, 4, 4), dtype=np.uint8)
    iio.imwrite(tmp_path / "c.png", rgba)
    rgb, info = read_image(tmp_path / "c.png")
    np.testing.assert_array_equal(rgb * 255, rgba[..., :3])
    np.testing.assert_array_equal(info.alpha * 255, rgba[..., 3])
    assert info.alpha.shape == (3, 4) and not info.gray

    iio.imwrite(tmp_path / "la.png", rgba[..., 2:])          # gray + alpha
    rgb, info = read_image(tmp_path / "la.png")
    np.testing.assert_array_equal(rgb[..., 0] * 255, rgba[..., 2])
    np.testing.assert_array_equal(info.alpha * 255, rgba[..., 3])
    assert info.gray and rgb.shape == (3, 4, 3)


def test_jpeg_and_tiff(tmp_path, rng):
    colour = np.zeros((16, 16, 3), np.uint8)
    colour[...] = (200, 40, 90)
    iio.imwrite(tmp_path / "c.jpg", colour)
    rgb, info = read_image(tmp_path / "c.jpg")
    assert rgb.shape == (16, 16, 3) and not info.gray
    np.testing.assert_allclose(rgb * 255, colour, atol=4)    # lossy

    noise = rng.integers(0, 256, (5, 6, 3), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / "c.tif")
    rgb, info = read_image(tmp_path / "c.tif")
    np.testing.assert_array_equal(rgb * 255, noise)
    assert info.bit_depth == 8


def test_exif_orientation_is_applied(tmp_path):
    stored = np.zeros((16, 24, 3), np.uint8)
    stored[:8, :8] = 255                                     # block at the top left
    image = Image.fromarray(stored)
    exif = image.getexif()
    exif[0x0112] = 6                                         # Orientation: rotate 90 CW
    image.save(tmp_path / "r.jpg", exif=exif, quality=95)
    rgb, _ = read_image(tmp_path / "r.jpg")
    assert rgb.shape == (24, 16, 3)                          # transposed
    assert rgb[:8, 8:].mean() > 0.9 and rgb[:8, :8].mean() < 0.1   # now top right


def test_is_gray():
    gray = np.full((2, 2, 3), 0.4)
    assert is_gray(gray) and is_gray(gray[..., 0]) and is_gray(gray[..., :2])
    gray[0, 0, 0] += 1 / 255
    assert is_gray(gray) and not is_gray(gray, tol=0.0)
    gray[0, 0, 2] -= 3 / 255
    assert not is_gray(gray)
    with pytest.raises(ValueError, match="got shape"):
        is_gray(np.zeros((2, 2, 5)))


def test_colour_file_with_equal_channels_counts_as_gray(tmp_path):
    iio.imwrite(tmp_path / "g3.png", np.full((3, 3, 3), 77, np.uint8))
    assert read_image(tmp_path / "g3.png")[1].gray


@pytest.mark.parametrize("name, content, reason", [
    ("text.png", b"hello, not a picture", "not a recognised image file"),
    ("trunc.png", None, "truncated"),
])
def test_unreadable_files_raise_image_error(tmp_path, name, content, reason, rng):
    if content is None:                                      # a PNG cut short
        iio.imwrite(tmp_path / "full.png", rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
        content = (tmp_path / "full.png").read_bytes()[:200]
    (tmp_path / name).write_bytes(content)
    with pytest.raises(ImageError, match=f"cannot read image .*{name}: .*{reason}"):
        read_image(tmp_path / name)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ImageError, match="cannot read image .*nope.png: no such file"):
        read_image(tmp_path / "nope.png")
    with pytest.raises(ValueError, match="not a file"):      # ImageError is a ValueError
        read_image(tmp_path)


def test_write_png_round_trip_8_and_16_bit(tmp_path, rng):
    rgba = rng.random((5, 6, 4)).astype(np.float32)
    write_png(tmp_path / "o.png", rgba)
    rgb, info = read_image(tmp_path / "o.png")
    np.testing.assert_allclose(rgb, rgba[..., :3], atol=0.5 / 255 + 1e-7)
    np.testing.assert_allclose(info.alpha, rgba[..., 3], atol=0.5 / 255 + 1e-7)

    gray = rng.random((5, 6))
    write_png(tmp_path / "g.png", gray, bit_depth=16)
    rgb, info = read_image(tmp_path / "g.png")
    assert info.bit_depth == 16
    np.testing.assert_allclose(rgb[..., 0], gray, atol=0.5 / 65535 + 1e-7)


def _decode_png16_rgb(data):
    """Minimal decoder for our own 16-bit RGB PNG: one IDAT, every row filter Up."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    w, h, depth, colour_type = struct.unpack(">IIBB", data[16:26])
    assert (depth, colour_type) == (16, 2)
    length = struct.unpack(">I", data[33:37])[0]
    assert data[37:41] == b"IDAT"
    rows = np.frombuffer(zlib.decompress(data[41:41 + length]), np.uint8).reshape(h, -1)
    assert (rows[:, 0] == 2).all()
    raw = (np.cumsum(rows[:, 1:], axis=0, dtype=np.uint64) % 256).astype(np.uint8)
    return raw.view(">u2").reshape(h, w, 3)


def test_write_png_16_bit_rgb_and_clipping(tmp_path, rng):
    rgb = rng.random((4, 3, 3))
    rgb[0, 0] = (-0.5, 1.5, 0.5)
    write_png(tmp_path / "c16.png", rgb, bit_depth=16)
    stored = _decode_png16_rgb((tmp_path / "c16.png").read_bytes())
    expected = np.round(np.clip(rgb, 0, 1) * 65535)
    np.testing.assert_array_equal(stored, expected)
    assert tuple(stored[0, 0]) == (0, 65535, 32768)
    # Pillow reads it too (at 8 bits per channel): a valid file.
    np.testing.assert_allclose(read_image(tmp_path / "c16.png")[0], rgb.clip(0, 1), atol=1 / 255)


@pytest.mark.parametrize("image, kwargs, error, message", [
    (np.full((2, 2), np.nan), {}, ValueError, "finite"),
    (np.zeros((2, 2, 5)), {}, ValueError, r"got shape \(2, 2, 5\)"),
    (np.zeros((2, 2)), {"bit_depth": 12}, ValueError, "8 or 16, got 12"),
    (np.zeros((2, 2), np.int32), {}, TypeError, "got dtype int32"),
])
def test_write_png_validation_leaves_target_alone(tmp_path, image, kwargs, error, message):
    (tmp_path / "keep.png").write_bytes(b"old")
    with pytest.raises(error, match=message):
        write_png(tmp_path / "keep.png", image, **kwargs)
    assert (tmp_path / "keep.png").read_bytes() == b"old"


def test_write_png_leaves_no_temporary_file(tmp_path):
    write_png(tmp_path / "a.png", np.zeros((2, 2, 3)))
    write_png(tmp_path / "a.png", np.ones((2, 2, 3)))        # replaces
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]
    assert read_image(tmp_path / "a.png")[0].min() == 1.0


def test_atomic_path_does_not_clobber_on_failure(tmp_path):
    target = tmp_path / "model.npz"
    target.write_bytes(b"old model")
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_path(target) as tmp:
            assert tmp.parent == tmp_path and tmp.suffix == ".npz" and tmp.name.startswith(".")
            tmp.write_bytes(b"half a new mo")
            raise RuntimeError("disk full")
    assert target.read_bytes() == b"old model"
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]

    with atomic_path(target) as tmp:
        np.savez(tmp, x=np.arange(3))
    np.testing.assert_array_equal(np.load(target)["x"], np.arange(3))
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]

    with pytest.raises(FileNotFoundError, match="does not exist"):
        with atomic_path(tmp_path / "no_folder" / "x.png"):
            pass


def test_list_images(tmp_path):
    for name in ["b.jpg", "a.PNG", "c.txt", ".hidden.png", "d.TIFF", "sub/e.png"]:
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    found = list_images([tmp_path, tmp_path / "b.jpg", tmp_path / "sub" / "e.png"])
    assert [p.name for p in found] == ["a.PNG", "b.jpg", "d.TIFF", "e.png"]
    assert list_images(tmp_path / "c.txt") == [tmp_path / "c.txt"]   # a file is taken as given
    with pytest.raises(ImageError, match="no such file or folder"):
        list_images([tmp_path / "missing"])


def test_resize_keeps_float_values_and_shrinks_or_grows():
    flat = np.full((30, 50, 2), 0.123456, np.float32)
    for h, w in ((10, 17), (61, 99)):
        out = resize(flat, h, w)
        assert out.shape == (h, w, 2) and out.dtype == np.float32
        np.testing.assert_allclose(out, 0.123456, atol=1e-6)          # no rounding to 8 bits
    ramp = np.tile(np.linspace(0, 1, 200, dtype=np.float32), (20, 1))   # a smooth ramp halves to itself
    np.testing.assert_allclose(resize(ramp, 10, 100)[:, 5:-5], ramp[:10, 1::2][:, 5:-5], atol=3e-3)
    with pytest.raises(ValueError, match="cannot resize to 0x5"):
        resize(ramp, 0, 5)


def test_fit_long_side_only_ever_shrinks():
    image = np.zeros((640, 1024, 3), np.float32)
    assert fit_long_side(image, 320).shape == (200, 320, 3)
    assert fit_long_side(image, 2000) is image and fit_long_side(image, None) is image
    assert fit_long_side(np.zeros((1000, 3)), 10).shape == (10, 1)          # a side never reaches 0


@pytest.mark.parametrize("mode,transparency", [("P", 3), ("L", 50), ("RGB", (50, 50, 50))])
def test_palette_and_colour_key_transparency_become_alpha(tmp_path, mode, transparency):
    """Issue 12, item 6: a tRNS entry is transparency as much as an alpha channel is."""
    levels = (np.arange(16, dtype=np.uint8).reshape(4, 4) * (1 if mode == "P" else 10))
    image = Image.fromarray(np.dstack([levels] * 3) if mode == "RGB" else levels)
    if mode == "P":
        image = image.convert("P")
    path = tmp_path / "keyed.png"
    image.save(path, transparency=transparency)
    rgb, info = read_image(path)
    assert info.alpha is not None and rgb.shape == (4, 4, 3)
    transparent = np.argwhere(info.alpha == 0).tolist()
    assert transparent == ([[0, 3]] if mode == "P" else [[1, 1]]) and info.alpha.sum() == 15


@pytest.mark.parametrize("dtype, channels", [(np.uint8, 3), (np.uint16, 1), (np.uint8, 4)])
def test_write_png_streams_integer_pixels_in_strips_and_chunks(tmp_path, monkeypatch, dtype, channels):
    """Issue 12, item 2: rows are filtered and compressed a strip at a time, into several IDAT chunks;
    the file decodes to exactly the pixels given (an integer image is written as it is)."""
    import colorize.pngfile as pngfile
    monkeypatch.setattr(pngfile, "STRIP_ROWS", 3)
    monkeypatch.setattr(pngfile, "IDAT_BYTES", 4096)
    pixels = np.random.default_rng(8).integers(0, np.iinfo(dtype).max, (150, 200, channels), dtype=dtype,
                                                        endpoint=True)            # incompressible
    write_png(tmp_path / "p.png", pixels)
    data = (tmp_path / "p.png").read_bytes()
    assert data.count(b"IDAT") > 2
    back = iio.imread(tmp_path / "p.png") if dtype == np.uint8 else None
    if back is not None:
        np.testing.assert_array_equal(back.reshape(pixels.shape), pixels)
    rgb, info = read_image(tmp_path / "p.png")
    assert info.bit_depth == 8 * np.dtype(dtype).itemsize
    scale = np.iinfo(dtype).max
    np.testing.assert_array_equal(np.round(rgb[..., 0] * scale), pixels[..., 0])


def _png(header: bytes, rows: bytes, extra: bytes = b"") -> bytes:
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + extra + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


def _filter_rows(raw: np.ndarray, bpp: int) -> bytes:
    """PNG's five row filters, forward, written from the specification (row i uses filter i mod 5)."""
    out = bytearray()
    for i, row in enumerate(raw.astype(int)):
        up = raw[i - 1].astype(int) if i else np.zeros_like(row)
        kind = i % 5
        out.append(kind)
        for j, x in enumerate(row):
            a = row[j - bpp] if j >= bpp else 0
            b, c = up[j], (up[j - bpp] if j >= bpp else 0)
            p = a + b - c
            paeth = a if abs(p - a) <= abs(p - b) and abs(p - a) <= abs(p - c) else (b if abs(p - b) <= abs(p - c) else c)
            out.append((x - (0, a, b, (a + b) // 2, paeth)[kind]) % 256)
    return bytes(out)


@pytest.mark.parametrize("inflate_bytes", [2 ** 20, 7])
@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_16_bit_pngs_are_read_at_16_bits_with_every_row_filter(tmp_path, rng, monkeypatch, channels, inflate_bytes):
    """Issue 12, item 6: Pillow reads 16-bit colour PNGs at 8 bits; colorize.png16.read_png16 keeps
    all 16, whichever of the five row filters each row uses, whether the rows are restored all at once
    or a few at a time (7 inflated bytes at a time: a row every few pieces, its filter using the one above)."""
    import colorize.png16
    monkeypatch.setattr(colorize.png16, "INFLATE_BYTES", inflate_bytes)
    pixels = rng.integers(0, 2 ** 16, (7, 6, channels), dtype=np.uint16)
    header = struct.pack(">IIBBBBB", 6, 7, 16, {1: 0, 2: 4, 3: 2, 4: 6}[channels], 0, 0, 0)
    (tmp_path / "deep.png").write_bytes(_png(header, _filter_rows(pixels.astype(">u2").reshape(7, -1).view(np.uint8),
                                                                     2 * channels)))
    rgb, info = read_image(tmp_path / "deep.png")
    assert info.bit_depth == 16
    colour = pixels[..., :3] if channels > 2 else np.repeat(pixels[..., :1], 3, axis=-1)
    np.testing.assert_array_equal(np.round(rgb * 65535), colour)
    if channels in (2, 4):
        np.testing.assert_array_equal(np.round(info.alpha * 65535), pixels[..., -1])


def test_a_second_16_bit_header_is_refused(tmp_path):
    """The size limit is checked on the first IHDR (Pillow stops there); a second one, which would
    resize the image after that check (and allocate before the one after decoding), is refused."""
    small, large = (struct.pack(">IIBBBBB", side, side, 16, 2, 0, 0, 0) for side in (5, 40))
    chunk = struct.pack(">I", len(large)) + b"IHDR" + large + struct.pack(">I", zlib.crc32(b"IHDR" + large))
    (tmp_path / "two.png").write_bytes(_png(small, bytes(40 * (1 + 40 * 6)), extra=chunk))
    with pytest.raises(ImageError, match="two.png.*second IHDR"):
        read_image(tmp_path / "two.png")


def test_a_16_bit_colour_key_becomes_alpha_and_a_damaged_16_bit_png_is_one_error(tmp_path, rng):
    pixels = rng.integers(0, 2 ** 16, (3, 4, 3), dtype=np.uint16)
    pixels[1, 2] = (7, 8, 9)
    header = struct.pack(">IIBBBBB", 4, 3, 16, 2, 0, 0, 0)
    rows = _filter_rows(pixels.astype(">u2").reshape(3, -1).view(np.uint8), 6)
    key = struct.pack(">IIII", 6, 0, 0, 0)[:4] + b"tRNS" + struct.pack(">HHH", 7, 8, 9)
    key += struct.pack(">I", zlib.crc32(b"tRNS" + struct.pack(">HHH", 7, 8, 9)))
    (tmp_path / "keyed.png").write_bytes(_png(header, rows, key))
    rgb, info = read_image(tmp_path / "keyed.png")
    assert info.bit_depth == 16 and np.argwhere(info.alpha == 0).tolist() == [[1, 2]] and info.alpha.sum() == 11
    damaged = bytearray(_png(header, rows))
    damaged[-20] ^= 0xFF                                        # inside the IDAT data: its CRC no longer holds
    (tmp_path / "damaged.png").write_bytes(bytes(damaged))
    with pytest.raises(ImageError, match="damaged.png"):
        read_image(tmp_path / "damaged.png")


def test_a_16_bit_header_of_the_wrong_size_is_one_image_error(tmp_path):
    """Pillow reads the first 13 bytes of a longer IHDR; read_png16 says what is wrong (not struct's words)."""
    header = struct.pack(">IIBBBBB", 2, 2, 16, 2, 0, 0, 0) + b"\0"
    (tmp_path / "long.png").write_bytes(_png(header, bytes(2 * (1 + 2 * 6))))
    with pytest.raises(ImageError, match="long.png: damaged PNG: an IHDR chunk of 14 bytes, not 13"):
        read_image(tmp_path / "long.png")


def test_a_bug_in_the_16_bit_reader_is_not_taken_for_a_damaged_file(tmp_path, rng, monkeypatch):
    """read_png16's caller catches what a damaged file raises (ValueError, OSError, MemoryError), not
    everything: a bug in our own reader (here an IndexError in the row filters) surfaces, so that the
    16-bit fuzz test (tests/colorize/test_fuzz.py) can find one."""
    import kernels
    pixels = rng.integers(0, 2 ** 16, (3, 4, 3), dtype=np.uint16)
    write_png(tmp_path / "deep.png", pixels)
    assert read_image(tmp_path / "deep.png")[1].bit_depth == 16

    def buggy(*args):
        raise IndexError("index 12 is out of bounds")

    monkeypatch.setattr(kernels, "png_unfilter", buggy)
    with pytest.raises(IndexError):
        read_image(tmp_path / "deep.png")


def test_a_16_bit_colour_tiff_is_read_at_16_bits(tmp_path, rng):
    pixels = rng.integers(0, 2 ** 16, (5, 7, 3), dtype=np.uint16)
    iio.imwrite(tmp_path / "deep.tif", pixels)
    rgb, info = read_image(tmp_path / "deep.tif")
    assert info.bit_depth == 16
    np.testing.assert_array_equal(np.round(rgb * 65535), pixels)


def test_an_exif_rotated_16_bit_png_is_left_to_pillow_and_comes_out_rotated(tmp_path, rng):
    pixels = rng.integers(0, 2 ** 16, (3, 5, 3), dtype=np.uint16)
    header = struct.pack(">IIBBBBB", 5, 3, 16, 2, 0, 0, 0)
    exif = Image.Exif()
    exif[0x0112] = 6                                            # rotate 90 degrees clockwise to display
    body = exif.tobytes()
    body = body[6:] if body.startswith(b"Exif\x00\x00") else body
    chunk = struct.pack(">I", len(body)) + b"eXIf" + body + struct.pack(">I", zlib.crc32(b"eXIf" + body))
    (tmp_path / "turned.png").write_bytes(_png(header, _filter_rows(pixels.astype(">u2").reshape(3, -1)
                                                                     .view(np.uint8), 6), chunk))
    rgb, info = read_image(tmp_path / "turned.png")
    assert rgb.shape == (5, 3, 3) and info.bit_depth == 8       # Pillow: rotated, colour at 8 bits


def test_reading_a_16_bit_rgba_png_holds_a_few_bytes_per_pixel(tmp_path, rng):
    """tracemalloc's peak per added pixel (images of 1000 and 3000 rows) while reading a 16-bit RGBA PNG:
    its pixels (8 bytes, plus the reader's bounded buffers, which still grow a little at these sizes) and,
    to read it as float, its RGB (12) or its luminance (4), with the alpha as the file's integers (2).
    It was 15.5, 39.5 and 16.0 bytes: the whole inflated stream beside the unfiltered rows beside a
    byte-swapped copy, float copies of every channel, a float32 alpha, `is_gray`'s whole-image temporaries."""
    import tracemalloc
    from colorize.images import read_luminance
    from colorize.png16 import read_png16
    width, peaks = 400, {}
    for height in (1000, 3000):
        yy, xx = np.mgrid[0:height, 0:width]
        smooth = np.stack([yy / height, xx / width, (yy + xx) / (height + width), 1 - yy / height], -1)
        write_png(tmp_path / f"{height}.png", (smooth * 60000 + rng.integers(0, 64, smooth.shape)).astype(np.uint16))
        read_png16(tmp_path / f"{height}.png")                      # warm: Numba's cache
        for name, read in (("read_png16", read_png16), ("read_image", read_image), ("read_luminance", read_luminance)):
            tracemalloc.start()
            kept = read(tmp_path / f"{height}.png")
            peaks[name, height] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            del kept
    per_pixel = {name: (peaks[name, 3000] - peaks[name, 1000]) / (2000 * width) for name, _ in peaks}
    assert per_pixel["read_png16"] < 10 and per_pixel["read_image"] < 23 and per_pixel["read_luminance"] < 13, \
        per_pixel


def _huge_chunk_png() -> bytes:
    """A 16-bit PNG of under 100 bytes whose IDAT chunk claims 4,294,967,280 bytes."""
    header = struct.pack(">IIBBBBB", 2, 2, 16, 2, 0, 0, 0)
    ihdr = struct.pack(">I", 13) + b"IHDR" + header + struct.pack(">I", zlib.crc32(b"IHDR" + header))
    return b"\x89PNG\r\n\x1a\n" + ihdr + struct.pack(">I", 2 ** 32 - 16) + b"IDAT" + bytes(20)


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/statm and needs RLIMIT_AS enforced: Linux only")
def test_a_16_bit_chunk_longer_than_the_file_is_refused_before_it_is_read(tmp_path):
    """The length a chunk claims is checked against the file's size before reading: under a memory limit of
    half a GB above what the process holds, a tiny file is a damaged PNG, not "not enough memory"."""
    (tmp_path / "huge.png").write_bytes(_huge_chunk_png())
    code = ("import resource, sys\n"
            "from colorize.png16 import read_png16\n"
            "held = int(open('/proc/self/statm').read().split()[0]) * resource.getpagesize()\n"
            "resource.setrlimit(resource.RLIMIT_AS, (held + 2 ** 29, resource.RLIM_INFINITY))\n"
            "try:\n    read_png16(sys.argv[1])\n"
            "except (ValueError, MemoryError) as e:\n    print(type(e).__name__, e)\n")
    said = subprocess.run([sys.executable, "-c", code, str(tmp_path / "huge.png")], capture_output=True, text=True)
    assert said.stdout.strip() == ("ValueError damaged PNG: a IDAT chunk of 4,294,967,280 bytes, "
                                   "past the end of the file"), said.stdout + said.stderr


def test_a_16_bit_png_that_shrinks_while_read_is_a_damaged_png(tmp_path, monkeypatch):
    """The size is taken once; a file cut shorter after that ends inside a chunk's head: a ValueError
    saying so, not struct's error."""
    import colorize.png16
    path = tmp_path / "cut.png"
    path.write_bytes(_huge_chunk_png()[:33])                    # the signature and IHDR, nothing after
    real = os.fstat
    monkeypatch.setattr(colorize.png16.os, "fstat", lambda fd: os.stat_result((*real(fd)[:6], 1000, *real(fd)[7:])))
    with pytest.raises(ValueError, match="^damaged PNG: the file ends inside a chunk's length and type$"):
        colorize.png16.read_png16(path)
