"""Tests of vcnn.atomic beyond tests/colorize/test_messages.py's (error names, temporaries of killed processes)."""
import os

import pytest

from vcnn.atomic import atomic_path


def test_many_writes_into_one_folder_list_it_once(tmp_path, monkeypatch):
    """Looking for temporaries of killed processes globbed the whole folder at every write (N writes into a
    folder of N files: N² names; 4,000 writes took 6.3 s, now 0.5 s). The folder is listed at its first write only."""
    listings = []
    real = os.scandir

    def counted(*args):
        listings.append(args)
        return real(*args)

    monkeypatch.setattr(os, "scandir", counted)
    for i in range(30):
        with atomic_path(tmp_path / f"f{i}.png") as tmp:
            tmp.write_bytes(b"x")
    assert len(listings) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"f{i}.png" for i in range(30))


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "m.npz"
    target.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise KeyboardInterrupt
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"] and target.read_bytes() == b"old"
