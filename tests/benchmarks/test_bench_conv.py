"""Smoke test of benchmarks/bench_conv.py on tiny shapes: the script must not rot.

No timing assertions: the machine is shared and times move. torch is not needed.
"""
import numpy as np
import pytest

import vcnn.layers

from benchmarks import bench_conv, conv_report
from benchmarks.results import write_section

TINY = [bench_conv.Case("layer 2, 3 ch", n, 3, 2, 4, 9) for n in (1, 2)]


@pytest.fixture(scope="module")
def rows():
    return bench_conv.measure(TINY, runs=1, naive_budget=1e-5, with_torch=False, log=lambda *_: None)


def test_measure_times_every_engine(rows):
    assert [r["case"] for r in rows] == TINY
    for r in rows:
        for engine in ("vcnn", "numba naive", "pure Python"):
            assert r[engine] > 0
        assert "torch" not in r
        assert "pure Python" in r["notes"]              # always extrapolated, and marked so
    assert "numba naive" in rows[1]["notes"]            # over the budget: timed on a proxy


def test_table_has_one_line_per_case(rows):
    lines = conv_report.table(rows).splitlines()
    assert len(lines) == 2 + len(TINY)
    assert "vcnn GFLOP/s" in lines[0] and "torch" not in lines[0]
    assert lines[3].startswith("| layer 2, 3 ch | 2 |") and "*(extrap.)*" in lines[3]


@pytest.mark.parametrize("reads_fields", [False, True])
def test_breakdown_memory_and_report(rows, tmp_path, reads_fields, monkeypatch):
    """The breakdown names the passes of the layer's path: φ, GEMMs and φᵀ, or (reading φ's rows in
    place, where the engine's tile runs) no φ at all."""
    if reads_fields and not vcnn.layers.OWN_GEMM:
        pytest.skip("the engine's tile needs the JIT and 512-bit vectors")
    monkeypatch.setattr(vcnn.layers, "OWN_GEMM", reads_fields)
    times = bench_conv.breakdown(TINY[1], runs=1)
    names = ({"reshuffle  dY padded and transposed", "GEMM  dX = φᵀ(Wᵀ·dY)"} if reads_fields
             else {"φ  φ(X), forward and again in backward", "φᵀ  φᵀ", "GEMM  Wᵀ·dY"})
    assert names | {"GEMM  Y = W·φ(X)", "GEMM  dW += dY·φ(X)ᵀ", "whole layer"} <= set(times)
    assert reads_fields or not any(name.startswith("reshuffle") for name in times)
    assert all(s > 0 for s in times.values())
    memory = bench_conv.peak_memory(TINY[1])
    assert memory["first step"] >= memory["im2col buffer"] > 0
    text = conv_report.report(rows, times, memory, 1.0, "python3 benchmarks/bench_conv.py", "not installed")
    assert "Peak memory" in text and "not installed" in text

    out = tmp_path / "RESULTS.md"
    out.write_text("# Results\n\n<!-- other:start -->\nkept\n<!-- other:end -->\n")
    write_section(out, bench_conv.SECTION, text)
    write_section(out, bench_conv.SECTION, "second run")
    written = out.read_text()
    assert "kept" in written and "second run" in written and text not in written
    assert written.count("<!-- bench_conv:start -->") == 1


def test_targets_and_torch_column_from_given_figures():
    """The formatting of a paper-width run with PyTorch, on made-up figures (nothing timed)."""
    case = bench_conv.Case("layer 2, 512 ch", 8, 512, 512, 4, 54)
    rows = [{"case": case, "vcnn": 1.2, "numba naive": 600.0, "pure Python": 6e6, "torch": 1.0,
             "notes": {"pure Python": "extrapolated"}}]
    times = {"φ (im2col)": 0.05, "GEMM  Y = W·φ(X)": 0.35, "φᵀ (col2im)": 0.05, "whole layer": 1.2}
    lines = conv_report.targets(rows, phi_share=0.1)
    assert "**500×**" in lines[0] and "**5,000,000×**" in lines[0]
    assert "vcnn / PyTorch = **1.20**" in lines[1] and "**10.0 %**" in lines[2]
    assert conv_report.table(rows).splitlines()[2].endswith("| 1 | 524 | 1.20 |")
    assert "1.20× PyTorch's time" in conv_report.verdict(rows, times, peak=100.0)


def test_the_vcnn_column_is_vcnns_formulation_never_winograds_tiles():
    """At the paper's width the shipped layer takes Winograd's tiles; bench_conv times φ + GEMMs."""
    case = bench_conv.Case("layer 3, 128 ch", 1, 128, 128, 3, 6)
    layer = bench_conv.vcnn_layer(case)
    layer.forward(np.ones((1, 128, 6, 6), np.float32))
    assert not layer.takes_winograd and layer._takes_winograd() is False
    shipped = vcnn.Conv2D(128, 128, 3, rng=0)
    shipped.forward(np.ones((1, 128, 6, 6), np.float32))
    assert shipped.takes_winograd
