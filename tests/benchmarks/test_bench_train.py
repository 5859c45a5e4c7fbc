"""Smoke test of benchmarks/bench_train.py at batch 1: the script must not rot.

No timing assertions: the machine is shared and times move. torch is needed
only by the test that checks both engines take the same step.
"""
import numpy as np
import pytest

import vcnn.layers

from benchmarks import bench_train
from colorize.model import output_size


def test_architectures_map_64_to_56():
    for name in ("small", "deep8", "paper"):
        assert output_size(bench_train.arch(name), 64) == 56
    assert "8 layers" in bench_train.describe("deep8")


@pytest.fixture(scope="module")
def rows():
    return bench_train.measure([("small", 1)], runs=1, thread_counts=(1,), with_torch=False,
                               naive_cases=[("small", 1)], log=lambda *_: None)


def test_measure_times_ours_and_the_naive_loops(rows):
    (row,) = rows
    assert row["net"] == "small" and row["batch"] == 1 and row["threads"] == 1
    assert row["ours"] > 0 and row["naive"] > 0 and "torch" not in row
    table = bench_train.step_table(rows).splitlines()
    assert len(table) == 3 and "naive / ours" in table[0] and "PyTorch" not in table[0]


def test_naive_step_takes_our_step():
    """The direct loops and the vectorized engine move the weights alike (float32)."""
    specs = bench_train.arch("small")
    ours, theirs = (bench_train.colorize_model.init_network(specs, 0, "u") for _ in range(2))
    x, target = bench_train.data(1, specs)
    bench_train.our_step(ours, x, target)[0]()
    bench_train.naive_step(theirs, x, target)()
    for (name, a, _), (_, b, _) in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("reads_fields", [False, True])
def test_breakdown_names_every_layer_and_pass(reads_fields, monkeypatch):
    """Every layer, and the passes of the path the conv layers take: φ and φᵀ, or (reading φ's rows in
    place, where the engine's tile runs) the reshuffles around the products instead."""
    if reads_fields and not vcnn.layers.OWN_GEMM:
        pytest.skip("the engine's tile needs the JIT and 512-bit vectors")
    monkeypatch.setattr(vcnn.layers, "OWN_GEMM", reads_fields)
    layers = bench_train.per_layer("small", 1, runs=1)
    assert len(layers["layers"]) == 5 and layers["update"] > 0          # each ReLU runs inside its conv
    passes = bench_train.breakdown("small", 1, runs=1)
    categories = {key[0] for key in passes}
    path = {"reshuffle"} if reads_fields else {"φ", "φᵀ"}
    assert path | {"GEMM", "bias", "mapping layer", "update", "whole step"} <= categories
    assert reads_fields or "reshuffle" not in categories
    text = bench_train.breakdown_tables("small", 1, layers, passes)
    assert "0: conv 11×11 1→32 + ReLU" in text and "4: mapping 16→1·8²" in text and "rest" in text


def test_guided_filter_and_report(rows):
    guided = bench_train.guided_filter_times(size=(40, 50), radii=(2,), runs=1)
    assert guided[0]["radius"] == 2 and guided[0]["ours"] > 0
    jobs = [{"net": "small", "batch": 1, "ours": 10.0, "torch": 20.0}]
    text = bench_train.report(rows, "breakdown here", jobs, guided, "python3 benchmarks/bench_train.py",
                              "not installed", (1.0, 2.0, 3.0))
    assert "breakdown here" in text and "| `small` | 1 | 10.0 | 20.0 | **2.00** |" in text
    assert "load average at the start: 1.00, 2.00, 3.00" in text


@pytest.mark.slow
def test_throughput_runs_two_processes():
    assert bench_train.throughput("ours", "small", 1, steps=1) > 0


def test_pytorch_takes_the_same_step():
    pytest.importorskip("torch", reason="torch is not installed (pip install '.[bench]')")
    assert bench_train.check_same_update(bench_train.arch("deep8"), batch=1) < 1e-4
