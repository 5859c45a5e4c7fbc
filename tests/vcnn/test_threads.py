"""vcnn._threads: the BLAS thread count that a layer's block size follows."""
import os

import pytest

from vcnn import _threads
from vcnn._threads import blas_threads, threads_from_environment


def _numpy_blas_threads(threadpoolctl):
    """What threadpoolctl reports for the BLAS in numpy's wheel, or None."""
    pools = [p for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas" and "numpy.libs" in p["filepath"]]
    return pools[0]["num_threads"] if pools else None


@pytest.mark.parametrize("limit", [1, 2])
def test_blas_threads_reads_a_limit_set_at_run_time(limit):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    with threadpoolctl.threadpool_limits(limit, "blas"):
        reported = _numpy_blas_threads(threadpoolctl)
        if reported is None:
            pytest.skip("numpy's BLAS is not the OpenBLAS of its wheel")
        assert blas_threads() == reported
        if limit == 1:
            assert blas_threads() == 1


class _Pool:
    num_threads = 3


def test_without_the_wheels_openblas_threadpoolctl_answers(monkeypatch):
    monkeypatch.setattr(_threads, "_openblas_getter", lambda: None)
    monkeypatch.setattr(_threads, "_threadpoolctl_blas", lambda: _Pool())
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    assert blas_threads() == 3


@pytest.mark.parametrize("value", ["1", "3"])
def test_without_a_library_to_ask_the_environment_answers(monkeypatch, value):
    monkeypatch.setattr(_threads, "_openblas_getter", lambda: None)
    monkeypatch.setattr(_threads, "_threadpoolctl_blas", lambda: None)
    monkeypatch.setattr(_threads, "_blas_vendor", lambda: "openblas")
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", value)
    assert blas_threads() == int(value)


def _cores():
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def test_threads_from_the_environment_in_the_order_each_blas_reads_them():
    assert threads_from_environment({"OMP_NUM_THREADS": "3", "OPENBLAS_NUM_THREADS": "1"}) == 1
    assert threads_from_environment({"OMP_NUM_THREADS": "3,2"}) == 3
    assert threads_from_environment({"GOTO_NUM_THREADS": "2", "OMP_NUM_THREADS": "4"}) == 2
    assert threads_from_environment({"OPENBLAS_NUM_THREADS": "0", "OMP_NUM_THREADS": "x"}) == _cores()
    # MKL does not read OpenBLAS's variable; Accelerate reads only its own
    assert threads_from_environment({"OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "2"}, "mkl") == 2
    assert threads_from_environment({"OMP_NUM_THREADS": "1"}, "accelerate") == _cores()
    assert threads_from_environment({"VECLIB_MAXIMUM_THREADS": "1"}, "accelerate") == 1
    # the reference BLAS has no threads; BLIS has one unless told
    assert threads_from_environment({"OMP_NUM_THREADS": "4"}, "reference") == 1
    assert threads_from_environment({}, "blis") == 1
    assert threads_from_environment({"BLIS_NUM_THREADS": "2"}, "blis") == 2
    # a BLAS we do not know: OMP_NUM_THREADS alone
    assert threads_from_environment({"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "2"}, "") == 2
