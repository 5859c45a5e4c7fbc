"""Smoke test of benchmarks/bench_apply.py on a small photo and a tiny model: the script must not rot.

No timing assertions: the machine is shared and times move.
"""
from benchmarks import bench_apply
from colorize.images import read_luminance
from colorize.model import ColorizationModel, architecture
from vcnn.layers import Conv2D


def test_measure_times_every_configuration_and_the_report_lists_them(tmp_path):
    photo = bench_apply.make_photo(tmp_path / "photo.png", 40, 60)
    y, _ = read_luminance(photo)
    assert y.shape == (40, 60) and 0.05 < y.mean() < 0.95            # the example photo, not a blank
    model = ColorizationModel(architecture((2, 2, 2, 2)), rng=0)
    rows = bench_apply.measure(photo, tmp_path, runs=1, thread_counts=(1, 2), model=model)
    assert [(r["threads"], r["refine"], r["per_sample"]) for r in rows] == bench_apply.configurations((1, 2))
    assert all(r["wall"] > 0 and r["cpu"] > 0 for r in rows)
    assert (tmp_path / "out.png").exists()
    assert Conv2D.samples_per_block is None                           # the forced block size is put back
    table = bench_apply.report(rows, "cmd", (40, 60), (0.0, 0.0, 0.0)).splitlines()
    assert sum(line.startswith("| 2 |") for line in table) == 3 and "one sample (forced)" in "\n".join(table)
