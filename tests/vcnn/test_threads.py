"""vcnn._threads: the BLAS thread count that a layer's block size follows, and the L2 cache's size."""
import os
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from vcnn import _threads
from vcnn._threads import blas_threads, l2_cache_bytes, threads_from_environment


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


class _FakeController:
    """A BLAS pool as threadpoolctl lists it: a library's path and its thread count."""

    def __init__(self, filepath, num_threads):
        self.filepath, self.num_threads = str(filepath), num_threads
        self.internal_api, self.version = "openblas", "0.3"

    def info(self):
        return {"user_api": "blas", "internal_api": self.internal_api, "version": self.version,
                "num_threads": self.num_threads, "filepath": self.filepath, "architecture": "Haswell"}


def fake_threadpoolctl(monkeypatch, pools):
    """Have ``import threadpoolctl`` find a stand-in listing ``pools`` as the BLAS pools, in that order."""
    class Controller:
        def select(self, user_api):
            assert user_api == "blas"
            return types.SimpleNamespace(lib_controllers=pools)
    monkeypatch.setitem(sys.modules, "threadpoolctl", types.SimpleNamespace(ThreadpoolController=Controller))
    monkeypatch.setattr(_threads, "_openblas_getter", lambda: None)     # threadpoolctl must answer


NUMPY_DIR = Path(np.__file__).resolve().parent
OTHERS = [_FakeController("/opt/numpy-tools/lib/python3/site-packages/scipy.libs/libscipy_openblas.so", 2),
          _FakeController("/usr/lib/x86_64-linux-gnu/libopenblas.so.0", 4)]


@pytest.fixture
def fresh_cache():
    """_threadpoolctl_blas remembers its pool: forget it before and after (the fakes must not outlive the test)."""
    _threads._threadpoolctl_blas.cache_clear()
    yield
    _threads._threadpoolctl_blas.cache_clear()


@pytest.mark.parametrize("numpys", [NUMPY_DIR.parent / "numpy.libs" / "libscipy_openblas64_-1.so",
                                    NUMPY_DIR / ".dylibs" / "libscipy_openblas64_.0.dylib"])
def test_threadpoolctl_is_asked_for_numpys_pool_not_the_first(monkeypatch, fresh_cache, numpys):
    numpys = _FakeController(numpys, 1)
    fake_threadpoolctl(monkeypatch, [*OTHERS, numpys])
    assert _threads.blas_pools() == [numpys, *OTHERS]    # the others keep their order
    assert blas_threads() == 1


def test_without_numpys_pool_threadpoolctl_gives_the_first(monkeypatch, fresh_cache):
    fake_threadpoolctl(monkeypatch, list(OTHERS))
    assert _threads.blas_pools() == OTHERS
    assert blas_threads() == 2


def test_without_threadpoolctl_there_are_no_pools(monkeypatch, fresh_cache):
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)      # import raises ImportError
    assert _threads.blas_pools() is None
    assert _threads._threadpoolctl_blas() is None


def test_the_benchmarks_describe_numpys_pool_first(monkeypatch, fresh_cache):
    from benchmarks.results import blas_info          # the machine lines of benchmarks/RESULTS.md
    numpys = _FakeController(NUMPY_DIR.parent / "numpy.libs" / "libscipy_openblas64_-1.so", 1)
    fake_threadpoolctl(monkeypatch, [*OTHERS, numpys])      # the first path holds "numpy" but is scipy's
    assert blas_info().split("; ") == ["numpy.libs/: openblas 0.3, kernel Haswell, 1 threads",
                                       "scipy.libs/: openblas 0.3, kernel Haswell, 2 threads",
                                       "x86_64-linux-gnu/: openblas 0.3, kernel Haswell, 4 threads"]


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


def test_l2_cache_bytes_reads_sysfs_skipping_what_it_cannot_read(tmp_path):
    (tmp_path / "index0").mkdir()                          # no 'level' file: skipped, not the end
    (tmp_path / "index1").mkdir()
    (tmp_path / "index1" / "level").write_text("1\n")
    (tmp_path / "index1" / "size").write_text("48K\n")
    (tmp_path / "index2").mkdir()
    (tmp_path / "index2" / "level").write_text("2\n")
    (tmp_path / "index2" / "size").write_text("2048K\n")
    assert l2_cache_bytes(str(tmp_path)) == 2 << 20
    (tmp_path / "index2" / "size").write_text("3M\n")
    assert l2_cache_bytes(str(tmp_path / "index2" / "..")) == 3 << 20        # another path: not the cached answer
    assert l2_cache_bytes(str(tmp_path / "nothing")) == 1 << 20               # no sysfs: the default


@pytest.mark.parametrize("features,expected", [({"avx512f": True, "avx2": True}, True), ({"avx2": True}, False)])
def test_512_bit_vectors_are_read_from_llvms_host_features(features, expected, monkeypatch):
    import llvmlite.binding
    from vcnn._threads import has_512_bit_vectors
    monkeypatch.setattr(llvmlite.binding, "get_host_cpu_features", lambda: features)
    has_512_bit_vectors.cache_clear()
    try:
        assert has_512_bit_vectors() is expected
    finally:
        has_512_bit_vectors.cache_clear()
