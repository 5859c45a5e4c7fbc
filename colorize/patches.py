"""Training pairs: 64×64 windows of Y with the centre 56×56 of U and V.

A pair is stored as the window's RGB pixels (uint8, 64×64×3): Y, U and V
follow from them exactly (:func:`targets`), and a shard of the paper's
10,000 pairs takes 123 MB instead of 410 MB as float32 Y, U, V.

Two sources feed training, both deterministic in (seed, step) alone, so that
a resumed run and a run split over MPI ranks see the same batches:

- :class:`ShardData`, a folder of shard files written by :func:`write_shards`
  (the paper's layout: ``train-000.npz`` … and ``val-000.npz``);
- :class:`PhotoData`, a folder of photos, cropped at random on the fly.
"""
from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

import numpy as np

from colorize.batch import check_output, prepare_folder
from colorize.images import fit_long_side, is_gray, list_images, read_image, skipped_gray
from colorize.yuv import rgb_to_yuv
from vcnn.atomic import atomic_path
from vcnn.modelfile import check_npz

VAL_SEED_OFFSET = 1_000_003     # the validation stream never meets a training step's stream
#: Limits of `write_shards`: pairs per shard (a shard is built in memory, 12 KB a pair) and shards.
MAX_SHARD_SIZE, MAX_SHARDS = 100_000, 10_000
#: Largest total uncompressed size of a shard file that `ShardData` opens (checked before reading it).
MAX_SHARD_BYTES = 2 ** 32


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
    m = (windows.shape[1] - out) // 2
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
        rgb, info = read_image(f)
        if info.gray or is_gray(rgb):
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
        with atomic_path(out_dir / name) as tmp, open(tmp, "wb") as f:
            np.savez(f, rgb=windows, meta=np.frombuffer(meta.encode(), np.uint8))
        written.append(out_dir / name)
        if progress:
            progress(1)
    return written


class ShardData:
    """Training pairs from a shard folder.

    Batch ``s`` takes ``batch`` positions of an epoch-wise permutation drawn
    from (seed, epoch): every pair is seen once per epoch.
    """

    def __init__(self, folder, size: int = 64):
        folder = Path(folder)
        train, val = sorted(folder.glob("train-*.npz")), sorted(folder.glob("val-*.npz"))
        if not train:
            raise ValueError(f"{folder} holds no training shards (train-*.npz); make them with 'colorize patches'")
        self.train, scales = self._load(train, size)
        self.val, val_scales = self._load(val, size) if val else (self.train[:0], set())
        scales |= val_scales
        if len(scales) > 1:
            raise ValueError(f"the shards in {folder} were cut from photos at different scales "
                             f"(long sides {sorted(scales, key=str)}): use one 'colorize patches' run")
        self.long_side = scales.pop()
        self.description = {"kind": "shards", "folder": str(folder), "train_pairs": len(self.train),
                            "val_pairs": len(self.val), "long_side": self.long_side}

    @staticmethod
    def _load(files, size):
        """The windows of shard files, and the set of photo scales (long sides) they were cut at."""
        arrays, scales = [], set()
        for f in files:
            check_npz(f, MAX_SHARD_BYTES, what="shard")
            try:
                with np.load(f, allow_pickle=False) as data:
                    rgb = data["rgb"]
                    meta = json.loads(data["meta"].tobytes()) if "meta" in data else {}
            except Exception as e:  # noqa: BLE001 - any unreadable shard gets the same one-line error
                raise ValueError(f"shard {f} is not readable: {e}") from None
            if rgb.dtype != np.uint8 or rgb.ndim != 4 or rgb.shape[1:] != (size, size, 3):
                raise ValueError(f"shard {f} must hold uint8 (N, {size}, {size}, 3) windows, got {rgb.dtype} {rgb.shape}")
            arrays.append(rgb)
            scales.add(meta.get("long_side") if isinstance(meta, dict) else None)
        return np.concatenate(arrays), scales

    @functools.cached_property
    def fingerprint(self) -> str:
        """A hash of every training and validation pair: which data a checkpoint was trained on."""
        return _fingerprint([self.train, self.val])

    def batch(self, seed: int, step: int, size: int) -> np.ndarray:
        n = len(self.train)
        first = step * size
        positions = np.arange(first, first + size)
        epochs = positions // n
        out = np.empty((size,) + self.train.shape[1:], np.uint8)
        for epoch in np.unique(epochs):
            order = np.random.default_rng([seed, int(epoch)]).permutation(n)
            mine = epochs == epoch
            out[mine] = self.train[order[positions[mine] % n]]
        return out

    def validation(self, seed: int, count: int) -> np.ndarray:
        pool = self.val if len(self.val) else self.train
        return pool[:count]


class PhotoData:
    """Training pairs cropped on the fly from a folder of photos.

    Batch ``s`` is drawn from ``default_rng([seed, s])``; the validation
    windows from a stream of their own (they come from the same photos: hold
    photos out yourself to validate on unseen ones).
    """

    def __init__(self, paths, size: int = 64, long_side: int | None = None):
        (self.photos, gray), self.size, self.long_side = load_photos(paths, long_side), size, long_side
        self.description = {"kind": "photos", "paths": [str(p) for p in np.atleast_1d(paths)],
                            "photos": len(self.photos), "gray_skipped": gray, "long_side": long_side}

    @functools.cached_property
    def fingerprint(self) -> str:
        """A hash of every photo's pixels (as shrunk): which data a checkpoint was trained on."""
        return _fingerprint(self.photos)

    def batch(self, seed: int, step: int, size: int) -> np.ndarray:
        return random_windows(self.photos, size, np.random.default_rng([seed, step]), self.size)

    def validation(self, seed: int, count: int) -> np.ndarray:
        return random_windows(self.photos, count, np.random.default_rng([seed, VAL_SEED_OFFSET]), self.size)


def _fingerprint(arrays) -> str:
    """BLAKE2b of the arrays' shapes and bytes, in order (hex, 32 characters)."""
    digest = hashlib.blake2b(digest_size=16)
    for a in arrays:
        digest.update(repr((a.dtype.str, a.shape)).encode())
        digest.update(np.ascontiguousarray(a).data)
    return digest.hexdigest()


def open_data(path, size: int = 64, long_side: int | None = None):
    """A shard folder (it holds ``train-*.npz``) or anything else holding photos.

    Photos are shrunk to ``long_side``; shards were cut at a scale of their
    own (``colorize patches --long-side``), which `long_side`, if given, must match.
    """
    path = Path(path)
    if not path.exists():
        raise ValueError(f"training data {path} does not exist")
    if path.is_dir() and any(path.glob("train-*.npz")):
        data = ShardData(path, size)
        if long_side is not None and long_side != data.long_side:
            raise ValueError(f"the shards in {path} were cut from photos at long side {data.long_side}, "
                             f"not {long_side}: leave --long-side out, or cut new shards with it")
        return data
    return PhotoData([path], size, long_side)
