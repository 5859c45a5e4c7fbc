"""vcnn._threads: the BLAS thread count that a layer's block size follows."""
import pytest

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


def test_threads_from_the_environment_in_the_order_blas_reads_them():
    assert threads_from_environment({"OMP_NUM_THREADS": "3", "OPENBLAS_NUM_THREADS": "1"}) == 1
    assert threads_from_environment({"OMP_NUM_THREADS": "3,2"}) == 3
    assert threads_from_environment({"MKL_NUM_THREADS": "2", "OMP_NUM_THREADS": "4"}) == 2
    assert threads_from_environment({"OPENBLAS_NUM_THREADS": "0", "OMP_NUM_THREADS": "x"}) >= 1    # the cores
