"""The training data sources: shards mapped, fingerprinted from their zip directories, picklable."""
import binascii
import json
import pickle
import zipfile

import numpy as np
import pytest

from colorize.sources import ShardData, fingerprint_arrays


def _shard(path, windows, compressed=False, long_side=None):
    """A shard file as `write_shards` writes it (or compressed, as no version writes but a user might)."""
    meta = np.frombuffer(json.dumps({"long_side": long_side}).encode(), np.uint8)
    (np.savez_compressed if compressed else np.savez)(path, rgb=windows, meta=meta)


@pytest.fixture
def windows(rng):
    return rng.integers(0, 256, (7, 8, 8, 3), dtype=np.uint8)


def test_shards_are_mapped_and_batches_equal_those_of_the_arrays_in_memory(tmp_path, windows):
    for i, part in enumerate((windows[:4], windows[4:])):
        _shard(tmp_path / f"train-{i:03d}.npz", part, compressed=i == 1)     # old and new shards mix
    data = ShardData(tmp_path, size=8)
    assert isinstance(data.train.parts[0], np.memmap)
    epoch = data.batch(5, 0, 7)
    order = np.random.default_rng([5, 0]).permutation(7)      # the epoch's order, drawn independently
    assert np.array_equal(epoch, windows[order])
    again = pickle.loads(pickle.dumps(data))                    # what a worker process receives
    assert len(pickle.dumps(data)) < windows.nbytes and np.array_equal(again.batch(5, 3, 4), data.batch(5, 3, 4))
    assert again.fingerprint == data.fingerprint


def test_the_fingerprint_reads_no_pair_yet_tells_other_pairs_apart(tmp_path, windows):
    for name, content in (("same", windows), ("again", windows.copy()), ("other", windows[::-1])):
        (tmp_path / name).mkdir()
        _shard(tmp_path / name / "train-000.npz", content)
    prints = {name: ShardData(tmp_path / name, size=8).fingerprint for name in ("same", "again", "other")}
    assert prints["same"] == prints["again"] != prints["other"] and len(prints["same"]) == 32
    with zipfile.ZipFile(tmp_path / "same" / "train-000.npz") as archive:      # the CRC-32s are of every byte
        assert {i.CRC for i in archive.infolist()} == {binascii.crc32(archive.read(i)) for i in archive.infolist()}
    old = ShardData(tmp_path / "same", size=8).content_fingerprint()      # what checkpoints recorded before
    assert old == fingerprint_arrays([windows, windows[:0]])
