"""Where training pairs come from: one contract (`DataSource`), two sources.

Training asks a source for the uint8 RGB windows of a step and for its
validation windows; both are functions of (seed, step) alone, so that a
resumed run and a run split over MPI ranks see the same batches.

- :class:`ShardData`, a folder of shard files written by
  :func:`colorize.patches.write_shards` (``train-000.npz`` … ``val-000.npz``).
  Its arrays are memory-mapped, not read: the processes that train U and V
  share one copy of the shards, the operating system's.
- :class:`PhotoData`, a folder of photos, cropped at random on the fly.
"""
from __future__ import annotations

import functools
import hashlib
import json
import zipfile
from pathlib import Path
from typing import Protocol

import numpy as np

from colorize.patches import Windows, load_photos, map_member, random_windows
from vcnn.modelfile import check_npz

VAL_SEED_OFFSET = 1_000_003     # the validation stream never meets a training step's stream
#: Largest total uncompressed size of a shard file that `ShardData` opens (checked before reading it).
MAX_SHARD_BYTES = 2 ** 32


class DataSource(Protocol):
    """What training needs of its data (`ShardData`, `PhotoData`, the MPI benchmark's noise)."""

    #: What the data is, for the model file and messages ("folder" or "paths", "long_side", …).
    description: dict
    #: A short hash that tells these data from others: checkpoints record it, a resume compares it.
    fingerprint: str

    def batch(self, seed: int, step: int, size: int) -> np.ndarray:
        """The ``size`` uint8 RGB windows (size, P, P, 3) of training step ``step``."""

    def validation(self, seed: int, count: int) -> np.ndarray:
        """``count`` uint8 RGB windows (count, P, P, 3) for the validation loss, the same at every call."""


class ShardData:
    """Training pairs from a shard folder (the `DataSource` contract).

    Batch ``s`` takes ``batch`` positions of an epoch-wise permutation drawn
    from (seed, epoch): every pair is seen once per epoch. The validation
    windows are the first of the validation shards (of the training ones
    without any).
    """

    def __init__(self, folder, size: int = 64):
        self.folder, self.size = Path(folder), size
        self.files = sorted(self.folder.glob("train-*.npz")), sorted(self.folder.glob("val-*.npz"))
        if not self.files[0]:
            raise ValueError(f"{folder} holds no training shards (train-*.npz); make them with 'colorize patches'")
        self._map()
        scales = self.scales
        if len(scales) > 1:
            raise ValueError(f"the shards in {folder} were cut from photos at different scales "
                             f"(long sides {sorted(scales, key=str)}): use one 'colorize patches' run")
        self.long_side = scales.pop()
        self.description = {"kind": "shards", "folder": str(folder), "train_pairs": len(self.train),
                            "val_pairs": len(self.val), "long_side": self.long_side}

    def _map(self) -> None:
        """Map every shard's windows; read their metadata (the photos' scale)."""
        parts, self.scales = ([], []), set()
        for files, mapped in zip(self.files, parts):
            for f in files:
                check_npz(f, MAX_SHARD_BYTES, what="shard")
                try:
                    rgb = map_member(f, "rgb")
                    with np.load(f, allow_pickle=False) as data:
                        meta = json.loads(data["meta"].tobytes()) if "meta" in data else {}
                except Exception as e:  # noqa: BLE001 - any unreadable shard gets the same one-line error
                    raise ValueError(f"shard {f} is not readable: {e}") from None
                if rgb.dtype != np.uint8 or rgb.ndim != 4 or rgb.shape[1:] != (self.size, self.size, 3):
                    raise ValueError(f"shard {f} must hold uint8 (N, {self.size}, {self.size}, 3) windows, "
                                     f"got {rgb.dtype} {rgb.shape}")
                mapped.append(rgb)
                self.scales.add(meta.get("long_side") if isinstance(meta, dict) else None)
        row = (self.size, self.size, 3)
        self.train, self.val = Windows(parts[0], row), Windows(parts[1], row)

    def __getstate__(self) -> dict:
        """Pickled for a worker process without its arrays: the worker maps the same files."""
        return {k: v for k, v in self.__dict__.items() if k not in ("train", "val")}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._map()

    @functools.cached_property
    def fingerprint(self) -> str:
        """A hash of every shard's member names, sizes and CRC-32s, read from the zip directories.

        The CRC-32 of a member covers its every byte (zip computed it when
        the shard was written), so this names the pairs without reading them.
        """
        digest = hashlib.blake2b(digest_size=16)
        for f in self.files[0] + self.files[1]:
            with zipfile.ZipFile(f) as archive:
                digest.update(repr([(i.filename, i.file_size, i.CRC) for i in archive.infolist()]).encode())
        return digest.hexdigest()

    def content_fingerprint(self) -> str:
        """The hash of every pair's bytes, which checkpoints recorded before `fingerprint` read zip directories."""
        return fingerprint_arrays([np.asarray(self.train), np.asarray(self.val)])

    def batch(self, seed: int, step: int, size: int) -> np.ndarray:
        n = len(self.train)
        positions = np.arange(step * size, (step + 1) * size)
        epochs = positions // n
        rows = np.empty(size, np.int64)
        for epoch in np.unique(epochs):
            order = np.random.default_rng([seed, int(epoch)]).permutation(n)
            mine = epochs == epoch
            rows[mine] = order[positions[mine] % n]
        return self.train[rows]

    def validation(self, seed: int, count: int) -> np.ndarray:
        pool = self.val if len(self.val) else self.train
        return pool[:count]


class PhotoData:
    """Training pairs cropped on the fly from a folder of photos (the `DataSource` contract).

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
        return fingerprint_arrays(self.photos)

    def batch(self, seed: int, step: int, size: int) -> np.ndarray:
        return random_windows(self.photos, size, np.random.default_rng([seed, step]), self.size)

    def validation(self, seed: int, count: int) -> np.ndarray:
        return random_windows(self.photos, count, np.random.default_rng([seed, VAL_SEED_OFFSET]), self.size)


def fingerprint_arrays(arrays) -> str:
    """BLAKE2b of the arrays' shapes and bytes, in order (hex, 32 characters)."""
    digest = hashlib.blake2b(digest_size=16)
    for a in arrays:
        digest.update(repr((a.dtype.str, a.shape)).encode())
        digest.update(np.ascontiguousarray(a).data)
    return digest.hexdigest()


def open_data(path, size: int = 64, long_side: int | None = None) -> DataSource:
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
