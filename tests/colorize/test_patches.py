"""Shard files: members memory-mapped when stored, rows of several shards gathered as one array."""
import numpy as np

from colorize.patches import Windows, map_member


def test_a_stored_member_is_mapped_and_a_compressed_one_read(tmp_path, rng):
    windows = rng.integers(0, 256, (7, 8, 8, 3), dtype=np.uint8)
    np.savez(tmp_path / "a.npz", rgb=windows)                    # as write_shards stores it
    np.savez_compressed(tmp_path / "b.npz", rgb=windows)         # as no version writes, but a user might
    mapped, read = map_member(tmp_path / "a.npz", "rgb"), map_member(tmp_path / "b.npz", "rgb")
    assert isinstance(mapped, np.memmap) and not isinstance(read, np.memmap)
    assert np.array_equal(mapped, windows) and np.array_equal(read, windows)


def test_windows_gather_rows_across_parts_as_one_array_would(rng):
    parts = [rng.integers(0, 256, (n, 2, 2, 3), dtype=np.uint8) for n in (3, 1, 4)]
    whole, rows = np.concatenate(parts), Windows(parts, (2, 2, 3))
    picks = rng.integers(0, 8, 20)
    assert len(rows) == 8 and np.array_equal(rows[picks], whole[picks])
    assert np.array_equal(rows[2:6], whole[2:6]) and np.array_equal(rows[5], whole[5])
    assert np.array_equal(np.asarray(rows), whole)
