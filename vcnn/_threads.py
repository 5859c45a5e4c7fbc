"""How many threads numpy's BLAS runs a GEMM on: what a layer's block size follows.

A conv layer's only parallel work is its GEMMs (φ, φᵀ and the elementwise
passes are serial loops), so the thread count that matters is BLAS's, not
Numba's: with ``OMP_NUM_THREADS=1`` and Numba on 2 threads, a rule that read
Numba's count gave one whole-batch block to a single-threaded BLAS.

OpenBLAS (the BLAS of numpy's wheels) answers ``openblas_get_num_threads``,
under one of the names its builds export; we ask the library numpy loaded,
so a limit set at run time (``threadpoolctl.threadpool_limits``) is seen.
Another BLAS (MKL, Accelerate, a system OpenBLAS outside ``numpy.libs``) is
read from the environment variables it honours, as it would be at start-up.
"""
import ctypes
import functools
import os
from pathlib import Path

import numpy as np

_GETTERS = ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads",
            "openblas_get_num_threads64_", "openblas_get_num_threads")
_VARIABLES = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")


@functools.cache
def _openblas_getter():
    """The ``get_num_threads`` function of the OpenBLAS in numpy's wheel, or None."""
    for path in sorted((Path(np.__file__).resolve().parent.parent / "numpy.libs").glob("*openblas*")):
        try:
            lib = ctypes.CDLL(str(path))              # already loaded by numpy: the same library, not a copy
        except OSError:
            continue
        for name in _GETTERS:
            getter = getattr(lib, name, None)
            if getter is not None:
                getter.restype = ctypes.c_int
                return getter
    return None


def threads_from_environment(environ=os.environ) -> int:
    """The first of OPENBLAS_NUM_THREADS, MKL_NUM_THREADS, OMP_NUM_THREADS that is a positive integer,
    else the cores this process may run on."""
    for name in _VARIABLES:
        value = environ.get(name, "").split(",")[0].strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def blas_threads() -> int:
    """Threads numpy's BLAS runs a GEMM on (at least 1)."""
    getter = _openblas_getter()
    return max(1, int(getter())) if getter is not None else threads_from_environment()
