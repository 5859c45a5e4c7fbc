"""Smoke test of benchmarks/bench_mpi.py on a tiny network: the script must not rot.

No timing assertions: the machine is shared and times move.
"""
import shutil

import pytest

from benchmarks import bench_mpi

TINY = ("tiny", (2, 2, 2, 2), 2, 1, 1, 2)      # label, widths, batch, warm-up, timed steps, Allreduce repeats


def test_worker_times_training_in_one_process():
    result = bench_mpi.worker(widths=(2, 2, 2, 2), batch=2, warmup=1, steps=1, repeats=1)
    assert result["ranks"] == 1 and result["step_s"] > 0 and result["patches_per_s"] > 0
    assert result["grad_bytes"] == 4 * result["params"] > 0
    assert result["allreduce_packed_s"] == 0            # one process: nothing to sum


@pytest.mark.slow
@pytest.mark.mpi
def test_every_layout_runs_and_the_report_reads(tmp_path):
    pytest.importorskip("mpi4py", reason="mpi4py is not installed (pip install '.[mpi]')")
    if shutil.which("mpiexec") is None:
        pytest.skip("no mpiexec on PATH (pip install '.[mpi]')")
    rows = bench_mpi.measure([TINY], cores=2, rounds=1)
    assert [(r["ranks"], r["threads"]) for r in rows] == bench_mpi.layouts(2)
    two = rows[-1]
    assert two["ranks"] == 2 and two["step_s"] > 0 and two["allreduce_packed_s"] > 0
    lines = bench_mpi.table(rows, cores=2)
    assert len(lines) == 2 + len(rows) and lines[-1].startswith("| tiny (2, 2, 2, 2) |")
    assert "patches per rank" in bench_mpi.cluster_paragraph(rows)


def test_the_result_line_is_found_under_open_mpi_escape_codes():
    """Open MPI's mpiexec may colour forwarded output, set the terminal title or tag the rank."""
    wrapped = ("[host:01234] some launcher notice\n"
               "\x1b[1m\x1b[32m[1,0]<stdout>:RESULT {\"ranks\": 2, \"step_s\": 0.5}\x1b[0m\x1b]0;mpiexec\x07\n"
               "\x1b[0m\n")
    assert bench_mpi.find_result(wrapped) == {"ranks": 2, "step_s": 0.5}
    assert bench_mpi.find_result('RESULT {"ranks": 1}\n') == {"ranks": 1}          # MPICH: as printed
    assert bench_mpi.find_result("\x1b[31merror: no result\x1b[0m\n") is None
