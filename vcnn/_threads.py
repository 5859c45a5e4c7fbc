"""The machine as a layer's GEMMs see it: how many threads numpy's BLAS runs a GEMM on (what a
layer's block size follows), the size of the L2 cache (what its strips of output rows follow,
:func:`l2_cache_bytes`), and whether the CPU has 512-bit vectors (what the engine's own GEMM tile
needs, :func:`has_512_bit_vectors`).

On the φ path a conv layer's only parallel work is its GEMMs (φ, φᵀ and the
elementwise passes are serial loops), so the thread count that matters there
is BLAS's, not Numba's: with ``OMP_NUM_THREADS=1`` and Numba on 2 threads, a
rule that read Numba's count gave one whole-batch block to a single-threaded
BLAS. Where the engine's own GEMM runs (``vcnn.layers.OWN_GEMM``) the block
is one sample whatever BLAS's threads, and a layer that reads φ's rows in
place runs its samples in Numba's threads (``kernels.conv_forward``).

Asked in this order, the first that answers:

1. the OpenBLAS bundled in numpy's wheel (``numpy.libs`` on Linux and
   Windows, ``numpy/.dylibs`` on macOS), through its
   ``openblas_get_num_threads`` under one of the names its builds export;
2. threadpoolctl, if it is installed (optional, not a dependency of vcnn):
   the thread count of numpy's BLAS pool, the one whose library lies in
   numpy's wheel (:func:`blas_pools`), else of the first BLAS pool it finds
   (MKL, BLIS, FlexiBLAS, a system OpenBLAS; Accelerate is not among them:
   it goes to step 3). The first is not always numpy's: scipy, OpenCV and
   torch bring their own BLAS, and whichever was loaded first is listed first.

Both read the library's current setting, so a limit set at run time
(``threadpoolctl.threadpool_limits``) is seen. Failing both,
3. the environment variables the BLAS numpy was built against reads at
   start-up (:func:`threads_from_environment`): a limit set at run time is
   *not* seen there, and a BLAS we do not know is assumed to honour
   ``OMP_NUM_THREADS`` and else to use every core.
"""
import ctypes
import functools
import os
from pathlib import Path

import numpy as np

_GETTERS = ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads",
            "openblas_get_num_threads64_", "openblas_get_num_threads")

# The variables each BLAS reads at start-up, first match wins.
_VARIABLES = {
    "openblas": ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS"),
    "mkl": ("MKL_NUM_THREADS", "OMP_NUM_THREADS"),
    "accelerate": ("VECLIB_MAXIMUM_THREADS",),
    "blis": ("BLIS_NUM_THREADS", "OMP_NUM_THREADS"),
    "reference": (),              # netlib BLAS has no threads
}
_SINGLE_THREADED_BY_DEFAULT = ("blis", "reference")   # one thread unless a variable says otherwise


@functools.cache
def _numpy_wheel_dirs() -> tuple:
    """Where numpy's wheel keeps its libraries: ``numpy.libs`` (Linux, Windows), ``numpy/.dylibs`` (macOS)."""
    numpy_dir = Path(np.__file__).resolve().parent
    return numpy_dir.parent / "numpy.libs", numpy_dir / ".dylibs"


@functools.cache
def _openblas_getter():
    """The ``get_num_threads`` function of the OpenBLAS in numpy's wheel, or None."""
    paths = [path for folder in _numpy_wheel_dirs() for path in folder.glob("*openblas*")]
    for path in sorted(paths):
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


def blas_pools() -> list | None:
    """threadpoolctl's controllers of the BLAS pools loaded, numpy's first; None if threadpoolctl is not installed.

    numpy's pool is the one whose library lies in numpy's wheel
    (``numpy.libs/``, ``numpy/.dylibs/``). The others (scipy's, OpenCV's,
    torch's, and numpy's own when it does not come from a wheel) keep
    threadpoolctl's order. The benchmarks describe the machine with it too.
    """
    try:
        import threadpoolctl
    except ImportError:
        return None
    pools = threadpoolctl.ThreadpoolController().select(user_api="blas").lib_controllers
    return sorted(pools, key=lambda pool: Path(pool.filepath).resolve().parent not in _numpy_wheel_dirs())


@functools.cache
def _threadpoolctl_blas():
    """threadpoolctl's controller of numpy's BLAS pool (else of the first it finds), or None."""
    pools = blas_pools()
    return pools[0] if pools else None


@functools.cache
def _blas_vendor() -> str:
    """'openblas', 'mkl', 'accelerate', 'blis', 'reference' or '' (unknown): the BLAS numpy was built against."""
    try:
        name = np.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"].lower()
    except Exception:          # an older numpy, or a build that does not record it
        return ""
    for vendor in ("openblas", "mkl", "accelerate", "blis"):
        if vendor in name:
            return vendor
    return "reference" if name in ("blas", "cblas", "netlib") else ""


def threads_from_environment(environ=os.environ, vendor: str = "openblas") -> int:
    """Threads the BLAS ``vendor`` starts with under the variables in ``environ``.

    The first of that BLAS's variables (``_VARIABLES``) that is a positive
    integer, else one thread for the reference BLAS and BLIS, else the cores
    this process may run on. An unknown vendor is read through
    ``OMP_NUM_THREADS`` alone.
    """
    for name in _VARIABLES.get(vendor, ("OMP_NUM_THREADS",)):
        value = environ.get(name, "").split(",")[0].strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    if vendor in _SINGLE_THREADED_BY_DEFAULT:
        return 1
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def blas_threads() -> int:
    """Threads numpy's BLAS runs a GEMM on (at least 1); see the module's docstring for how it is read."""
    getter = _openblas_getter()
    if getter is not None:
        return max(1, int(getter()))
    pool = _threadpoolctl_blas()
    if pool is not None:
        return max(1, int(pool.num_threads))
    return threads_from_environment(os.environ, _blas_vendor())


@functools.cache
def l2_cache_bytes(root: str = "/sys/devices/system/cpu/cpu0/cache") -> int:
    """The size of the L2 cache that the first core uses (some CPUs share one between cores), read from
    Linux's sysfs (``root``); 1 MiB where it cannot be read. A cache entry that cannot be read is skipped."""
    for index in sorted(Path(root).glob("index*")):
        try:
            if (index / "level").read_text().strip() == "2":
                size = (index / "size").read_text().strip().upper()
                scale = {"K": 1 << 10, "M": 1 << 20}.get(size[-1:], 1)
                return int(size.rstrip("KM ")) * scale
        except (OSError, ValueError):
            continue
    return 1 << 20


@functools.cache
def has_512_bit_vectors() -> bool:
    """Whether the CPU LLVM compiles for has AVX-512F: ``kernels.sgemm``'s tile holds its 24 accumulators in
    512-bit registers; with 256-bit ones LLVM splits them into 48, which do not fit in 16 registers (measured
    compiled for AVX2: spilled to the stack, 1.7-2.3× OpenBLAS's time on the nets' shapes)."""
    try:
        import llvmlite.binding as llvm
        return bool(llvm.get_host_cpu_features().get("avx512f", False))
    except Exception:                         # a platform llvmlite cannot read: do not assume the vectors
        return False
