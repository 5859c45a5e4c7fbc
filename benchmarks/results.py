"""What every benchmark here shares: timing, the machine it ran on, RESULTS.md.

Each benchmark owns one section of ``benchmarks/RESULTS.md``, between
``<!-- NAME:start -->`` and ``<!-- NAME:end -->``; writing it replaces that
section only, so the sections of other benchmarks survive.
"""
import os
import platform
import re
import statistics
import time
from contextlib import nullcontext
from pathlib import Path

import numba
import numpy as np

from colorize.resample import resize
from vcnn._threads import blas_pools
from vcnn.atomic import atomic_path


def timed_turns(fns: dict, runs: int, warmup: int = 1, around: dict | None = None) -> dict:
    """Wall and CPU seconds of every run of each callable, runs interleaved: {name: {"wall": [..], "cpu": [..]}}.

    Every callable is called ``warmup`` times first (the first Numba call
    compiles, the first BLAS call spins up its threads). Then the callables
    take turns, run after run, so that a disturbance of the shared machine
    hits them all alike and the ratios between them hold. CPU time is the
    process's (all its threads): on one thread it leaves out the time the
    process waited for a core, which wall time on a loaded machine does not.
    ``around``: {name: a function returning a context manager} entered before
    each of that callable's calls and left after it, outside the clocks (its
    settings, such as thread counts, are not timed).
    """
    around = around or {}
    for name, fn in fns.items():
        for _ in range(warmup):
            with around.get(name, nullcontext)():
                fn()
    times = {name: {"wall": [], "cpu": []} for name in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            with around.get(name, nullcontext)():
                wall, cpu = time.perf_counter(), time.process_time()
                fn()
                times[name]["cpu"].append(time.process_time() - cpu)
                times[name]["wall"].append(time.perf_counter() - wall)
    return times


def median_times(fns: dict, runs: int, warmup: int = 1, clock: str = "wall") -> dict:
    """Median seconds (``clock`` "wall" or "cpu") of each callable, runs interleaved (:func:`timed_turns`)."""
    return {name: statistics.median(t[clock]) for name, t in timed_turns(fns, runs, warmup).items()}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_info() -> str:
    """The BLAS libraries loaded, as threadpoolctl reports them (kernel = 'architecture').

    numpy's comes first (:func:`vcnn._threads.blas_pools`): it is the one the
    GEMMs of vcnn call. scipy, OpenCV or torch may load others.
    """
    pools = blas_pools()
    if pools is None:
        return "unknown (threadpoolctl not installed)"
    pools = [pool.info() for pool in pools]
    described = [f"{Path(p.get('filepath', '?')).parent.name}/: {p.get('internal_api')} {p.get('version')}, "
                 f"kernel {p.get('architecture')}, {p.get('num_threads')} threads" for p in pools]
    return "; ".join(described) or "unknown (no BLAS pool found)"


def machine_lines(extra_versions: dict | None = None) -> list:
    """Markdown bullet lines describing this machine and the software versions."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    versions = {"python": platform.python_version(), "numpy": np.__version__, "numba": numba.__version__}
    versions.update(extra_versions or {})
    pinned = {v: os.environ[v] for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
                                         "OMP_NUM_THREADS", "NUMBA_NUM_THREADS") if v in os.environ}
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    try:
        layer = numba.threading_layer()
    except ValueError:                              # no parallel kernel has run yet
        layer = "not started"
    return [
        f"- CPU: {cpu_model()}, {cores} cores available",
        f"- BLAS (threadpoolctl): {blas_info()}",
        f"- Numba threading layer: {layer}, {numba.get_num_threads()} threads in use "
        f"(at most {numba.config.NUMBA_NUM_THREADS})",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()),
        "- BLAS/thread variables set: " + (", ".join(f"{k}={v}" for k, v in pinned.items()) or "none"),
        f"- load average when written (1, 5, 15 min): {load}",
    ]


def grid(rows: list, cell_height: int, gutter: int) -> np.ndarray:
    """RGB canvas of rows of images, each scaled to ``cell_height``, centred in equal columns, white gutters."""
    scaled = [[resize(c, cell_height, max(1, round(c.shape[1] * cell_height / c.shape[0]))) for c in row]
              for row in rows]
    cell_w = max(c.shape[1] for row in scaled for c in row)
    step_w, step_h = cell_w + gutter, cell_height + gutter
    canvas = np.ones((len(scaled) * step_h - gutter, max(map(len, scaled)) * step_w - gutter, 3), np.float32)
    for i, row in enumerate(scaled):
        for j, cell in enumerate(row):
            left = j * step_w + (cell_w - cell.shape[1]) // 2
            canvas[i * step_h:i * step_h + cell_height, left:left + cell.shape[1]] = cell
    return canvas


def write_section(path, name: str, body: str) -> None:
    """Put ``body`` between this benchmark's markers in ``path``, keeping every other section."""
    path = Path(path)
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    section = f"{start}\n{body.rstrip()}\n{end}"
    text = path.read_text() if path.exists() else "# Benchmark results\n\nWritten by the scripts in `benchmarks/`.\n"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    with atomic_path(path) as tmp:
        tmp.write_text(text)
