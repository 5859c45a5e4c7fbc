"""Training pairs: 64×64 windows of Y with the centre 56×56 of U and V.

A pair is stored as the window's RGB pixels (uint8, 64×64×3): Y, U and V
follow from them exactly (:func:`targets`), and a shard of the paper's
10,000 pairs takes 123 MB instead of 410 MB as float32 Y, U, V.

Shards are written by :func:`write_shards` (the paper's layout:
``train-000.npz`` … and ``val-000.npz``) with ``numpy.savez``, which stores
the arrays uncompressed, so that they can be memory-mapped (`map_member`;
`Windows` sees the shards' arrays as one, and :mod:`colorize.sources` reads them).
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from colorize.batch import check_output, prepare_folder
from colorize.architecture import margin
from colorize.images import GRAY_TOL, list_images, read_image, skipped_gray
from colorize.resample import fit_long_side
from colorize.yuv import rgb_to_yuv
from vcnn.atomic import atomic_path

#: Limits of `write_shards`: pairs per shard (a shard is built in memory, 12 KB a pair) and shards.
MAX_SHARD_SIZE, MAX_SHARDS = 100_000, 10_000


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    """[0, 1] floats to uint8, rounded."""
    return np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8)


def random_windows(photos: list[np.ndarray], n: int, rng: np.random.Generator, size: int) -> np.ndarray:
    """``n`` random size×size windows (uint8 RGB), each from a photo drawn in
    proportion to its area, at a uniform position, mirrored left-right with
    probability ½."""
    areas = np.array([max(p.shape[0] - size + 1, 0) * max(p.shape[1] - size + 1, 0) for p in photos], float)
    if not areas.sum():
        raise ValueError(f"no photo is at least {size}x{size} pixels")
    out = np.empty((n, size, size, 3), np.uint8)
    which = rng.choice(len(photos), size=n, p=areas / areas.sum())
    for t, i in enumerate(which):
        h, w = photos[i].shape[:2]
        top, left = rng.integers(h - size + 1), rng.integers(w - size + 1)
        window = photos[i][top:top + size, left:left + size]
        out[t] = window[:, ::-1] if rng.random() < 0.5 else window
    return out


def targets(windows: np.ndarray, out: int):
    """Network input and targets of uint8 RGB windows.

    Parameters
    ----------
    windows : ndarray, uint8, shape (N, P, P, 3)
    out : int
        Side of the predicted centre (56 for P = 64).

    Returns
    -------
    y : ndarray, float32, (N, P, P)
    u, v : ndarray, float32, (N, out, out)
        The centre crops of U and V.
    """
    yuv = rgb_to_yuv(windows.astype(np.float32) / 255)
    m = margin(windows.shape[1], out)
    centre = yuv[:, m:m + out, m:m + out]
    return yuv[..., 0], np.ascontiguousarray(centre[..., 1]), np.ascontiguousarray(centre[..., 2])


def load_photos(paths, long_side: int | None = None) -> tuple[list[np.ndarray], list[str]]:
    """The colour images under ``paths`` as uint8 RGB (the training pool), and the names of the gray ones.

    Each is shrunk to ``long_side`` pixels on its longer side if it is larger
    (None: as is). Gray images (`colorize.images.is_gray`) are left out: they
    have no colour to learn and would teach the networks to predict none.
    """
    files = list_images(paths)
    photos, gray = [], []
    for f in files:
        rgb, info = read_image(f, gray_tol=GRAY_TOL)
        if info.gray:
            gray.append(f.name)
        else:
            photos.append(to_uint8(fit_long_side(rgb, long_side)))
    if not photos:
        raise ValueError(f"no colour images found in {', '.join(map(str, paths))}"
                         + (f" (only gray ones: {', '.join(gray)})" if gray else ""))
    return photos, gray


def write_shards(photos, out_dir, shard_size: int = 10_000, train_shards: int = 20, val_shards: int = 1,
                 seed: int = 0, size: int = 64, long_side: int | None = None, val_photos=None,
                 progress=None, report=None) -> list[Path]:
    """Cut random windows from ``photos`` into shard files (atomically written).

    Parameters
    ----------
    photos : list of image files and folders (gray ones are skipped: see `load_photos`)
    out_dir : folder, created if needed; existing shards are refused
    shard_size, train_shards, val_shards : int
        The paper: 10,000 pairs per shard, 20 training shards, 1 validation.
    seed : int
        Shard i is drawn from ``default_rng([seed, i])``.
    long_side : int, optional
        Shrink larger photos to this long side first (recorded in every
        shard; a model trained on them colorizes at this scale).
    val_photos : list of image files and folders, optional
        Cut the validation shards from these instead of ``photos``: photos
        never trained on make the validation loss a held-out loss.
    progress : callable(int), optional
        Called after every shard.
    report : callable(str), optional
        Told which gray photos were skipped, if any.

    Returns
    -------
    list of Path
    """
    for name, value, low, high in [("shard size", shard_size, 1, MAX_SHARD_SIZE),
                                   ("training shards", train_shards, 1, MAX_SHARDS),
                                   ("validation shards", val_shards, 0, MAX_SHARDS)]:
        if not low <= value <= high:
            raise ValueError(f"{name} must be in {low}..{high}, got {value}")
    out_dir = prepare_folder(out_dir)              # every output checked before the photos are read
    names = [f"train-{i:03d}.npz" for i in range(train_shards)] + [f"val-{i:03d}.npz" for i in range(val_shards)]
    inputs = list_images(photos) + (list_images(val_photos) if val_photos is not None else [])
    try:
        for name in names:
            check_output(out_dir / name, inputs, what="shard", probe=False)
    except FileExistsError:
        raise ValueError(f"{out_dir} already holds shards ({name} …): choose an empty folder") from None
    pool, gray = load_photos(photos, long_side)
    val_pool, val_gray = (pool, []) if val_photos is None else load_photos(val_photos, long_side)
    if report and gray + val_gray:
        report(skipped_gray(gray + val_gray))
    written = []
    for i, name in enumerate(names):
        source = pool if i < train_shards else val_pool
        windows = random_windows(source, shard_size, np.random.default_rng([seed, i]), size)
        meta = json.dumps({"seed": seed, "index": i, "photos": len(source), "size": size, "long_side": long_side,
                           "gray_skipped": gray if i < train_shards else val_gray})
        with atomic_path(out_dir / name) as tmp, open(tmp, "wb") as f:     # uncompressed: mappable
            np.savez(f, rgb=windows, meta=np.frombuffer(meta.encode(), np.uint8))
        written.append(out_dir / name)
        if progress:
            progress(1)
    return written


def map_member(path, name: str) -> np.ndarray:
    """Array ``name`` of an ``.npz`` file, memory-mapped (read-only) when it is stored uncompressed.

    ``numpy.savez`` stores its members uncompressed, so a member is an
    ``.npy`` file lying whole inside the zip: after the member's local header
    (30 bytes, its name and an extra field) come the ``.npy`` header and the
    raw array. A compressed member (``savez_compressed``) is read instead.
    """
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(f"{name}.npy")
        if info.compress_type != zipfile.ZIP_STORED:
            with archive.open(info) as member:
                return np.lib.format.read_array(member, allow_pickle=False)
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        local = f.read(30)
        f.seek(info.header_offset + 30 + int.from_bytes(local[26:28], "little") + int.from_bytes(local[28:30], "little"))
        read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                       (2, 0): np.lib.format.read_array_header_2_0}[np.lib.format.read_magic(f)]
        shape, fortran, dtype = read_header(f)
        offset = f.tell()
    if dtype.hasobject:
        raise ValueError(f"{path}: member {name} holds Python objects")
    return np.memmap(path, dtype, "r", offset, shape, "F" if fortran else "C")


class Windows:
    """Rows of several arrays (one per shard) seen as one sequence, without copying them together.

    ``windows[i]``, ``windows[a:b]`` and ``windows[[i, j, …]]`` gather rows;
    ``np.asarray(windows)`` copies them all into one array.
    """

    def __init__(self, parts: list[np.ndarray], row_shape: tuple):
        self.parts, self.row_shape = parts, row_shape
        self.ends = np.cumsum([len(p) for p in parts], dtype=np.int64)

    def __len__(self) -> int:
        return int(self.ends[-1]) if len(self.parts) else 0

    def __getitem__(self, key) -> np.ndarray:
        rows = np.arange(len(self))[key]
        if np.ndim(rows) == 0:
            return self[[int(rows)]][0]
        out = np.empty(rows.shape + self.row_shape, np.uint8)
        part = np.searchsorted(self.ends, rows, side="right")
        for p in np.unique(part):
            mine = part == p
            out[mine] = self.parts[p][rows[mine] - (self.ends[p] - len(self.parts[p]))]
        return out

    def __array__(self, dtype=None, copy=None):
        return self[:] if dtype is None else self[:].astype(dtype)
