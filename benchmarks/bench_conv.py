"""Time one conv layer, forward + backward: VCNN against the direct loops and PyTorch.

Four ways to compute the same thing (y, then dx, dW, db):

- ``vcnn``: :class:`vcnn.Conv2D`, φ + GEMMs block by block of samples (what we
  ship), Winograd's tiles switched off (``Conv2D.use_winograd = False``): this
  benchmark measures VCNN's formulation, which the layer takes below 128
  channels; at the paper's width the shipped layer multiplies less, on
  Winograd's tiles, and ``bench_train.py`` times the whole step as shipped;
- ``numba naive``: the direct six-loop convolution of :mod:`vcnn.naive`, compiled;
- ``pure Python``: the same loops run as Python (tiny shapes only, so always
  extrapolated by FLOPs);
- ``torch``: ``torch.nn.functional.conv2d`` + autograd on the CPU, when the
  ``bench`` extra is installed (torch is imported here only, never by the package).

The shapes are those inside the paper's network for a 64×64 patch: layer 2
(k = 4) sees the 54×54 maps of the 11×11 first layer, layer 3 (k = 3) the 51×51
maps of layer 2; at the paper's width (512 → 512) and at a small one (64 → 64).
FLOPs of forward + backward = 3 × 2·C_out·C_in·k²·N·Ho·Wo (three GEMMs' worth).

Run it with the BLAS variables of the shell unset, e.g.::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 benchmarks/bench_conv.py

``--threads`` sets BLAS, Numba and torch threads alike (default: all cores).
"""
import argparse
import gc
import os
import sys
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):                      # run as a script: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from benchmarks.passes import conv_passes
from benchmarks.conv_report import ENGINES, report
from benchmarks.results import median_times, write_section
from benchmarks.train_step import threads
from vcnn import Conv2D, naive

SECTION = "bench_conv"


@dataclass(frozen=True)
class Case:
    """One conv layer: (N, C_in, H, H) → (N, C_out, H-k+1, H-k+1)."""
    name: str
    n: int
    c_in: int
    c_out: int
    k: int
    h: int

    @property
    def out(self) -> int:
        return self.h - self.k + 1

    @property
    def gflop(self) -> float:
        return 3 * 2 * self.c_out * self.c_in * self.k ** 2 * self.n * self.out ** 2 / 1e9

    def shrunk(self, n=None, c=None, out=None) -> "Case":
        """The same layer with fewer samples, channels or output pixels (a proxy to extrapolate from)."""
        out = self.out if out is None else out
        return Case(self.name, n or self.n, c or self.c_in, c or self.c_out, self.k, out + self.k - 1)


def paper_cases(widths=(512, 64), batches=(1, 8)) -> list:
    cases = []
    for width in widths:
        for label, k, h in (("layer 2", 4, 54), ("layer 3", 3, 51)):
            cases += [Case(f"{label}, {width} ch", n, width, width, k, h) for n in batches]
    return cases


def _data(case, dtype=np.float32):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((case.n, case.c_in, case.h, case.h), dtype=np.float32).astype(dtype)
    dy = rng.standard_normal((case.n, case.c_out, case.out, case.out), dtype=np.float32).astype(dtype)
    return x, dy


def vcnn_layer(case) -> Conv2D:
    """The layer timed as ``vcnn``: φ + GEMMs (or φ's rows read in place), never Winograd's tiles."""
    layer = Conv2D(case.c_in, case.c_out, case.k, rng=0)
    layer.use_winograd = False
    return layer


def vcnn_step(case):
    layer = vcnn_layer(case)
    x, dy = _data(case)
    return lambda: (layer.forward(x), layer.backward(dy))


def naive_step(case, jit=True):
    W = Conv2D(case.c_in, case.c_out, case.k, rng=0).W
    b = np.zeros(case.c_out, np.float32)
    x, dy = _data(case)
    return lambda: (naive.conv2d_forward(x, W, b, jit=jit), naive.conv2d_backward(x, W, dy, jit=jit))


def pure_python_step(case):
    return naive_step(case, jit=False)


def torch_step(case):
    """PyTorch's conv2d + autograd on the same shapes, or None when torch is missing."""
    try:
        import torch
    except ImportError:
        return None
    x, dy = (torch.from_numpy(a) for a in _data(case))
    x.requires_grad_()
    W = torch.from_numpy(Conv2D(case.c_in, case.c_out, case.k, rng=0).W).requires_grad_()
    b = torch.zeros(case.c_out, requires_grad=True)

    def step():
        x.grad = W.grad = b.grad = None
        torch.nn.functional.conv2d(x, W, b).backward(dy)
    return step


def _extrapolated(case, proxy, step, runs, timed, clock="wall"):
    """Seconds for ``case``, timed on ``proxy`` and scaled by FLOPs (the loops' cost is per FLOP).

    ``timed`` remembers the proxies already timed: batch 8 reuses batch 1's.
    """
    key = (proxy.n, proxy.c_in, proxy.c_out, proxy.k, proxy.h, step)
    if key not in timed:
        timed[key] = median_times({"proxy": step(proxy)}, runs, warmup=0, clock=clock)["proxy"]
    return timed[key] * case.gflop / proxy.gflop


def measure(cases, runs=5, naive_budget=70.0, with_torch=True, log=print, clock="wall") -> list:
    """Time every case; one dict per case with seconds per engine and how each was obtained.

    ``naive_budget`` (GFLOP) caps one timed run of the compiled direct loops:
    bigger cases are timed at batch 1 and, if still too big, on fewer output
    pixels, then extrapolated by FLOPs (marked so). The pure-Python loops are
    always timed on a tiny proxy (4 channels, 6×6 outputs, batch 1).
    ``clock``: "wall", or "cpu" on one thread (the waits for a core left out).
    """
    naive_step(Case("warm-up", 1, 1, 1, 2, 3))()                  # compile the direct loops once
    rows, timed = [], {}
    for case in cases:
        log(f"{case.name}, N={case.n}: {case.gflop:.1f} GFLOP")
        steps = {"vcnn": vcnn_step(case)}
        torch_fn = torch_step(case) if with_torch else None
        if torch_fn is not None:
            steps["torch"] = torch_fn
        row = {"case": case, **median_times(steps, runs, clock=clock), "notes": {}}
        steps = None
        gc.collect()

        proxy = case if case.gflop <= naive_budget else case.shrunk(n=1)
        if proxy.gflop > naive_budget:
            out = max(1, int(case.out * (naive_budget / proxy.gflop) ** 0.5))
            proxy = proxy.shrunk(out=out)
        naive_runs = runs if proxy.gflop < 0.5 else 1
        row["numba naive"] = _extrapolated(case, proxy, naive_step, naive_runs, timed, clock)
        if proxy != case:
            row["notes"]["numba naive"] = f"extrapolated from N={proxy.n}, {proxy.out}×{proxy.out} outputs"

        tiny = Case(case.name, 1, min(4, case.c_in), min(4, case.c_out), case.k, 6 + case.k - 1)
        row["pure Python"] = _extrapolated(case, tiny, pure_python_step, max(1, min(runs, 3)), timed, clock)
        row["notes"]["pure Python"] = "extrapolated from 4 ch, 6×6 outputs"
        log("  " + ", ".join(f"{e} {row[e]:.3g} s" for e in ENGINES if e in row))
        rows.append(row)
    return rows


def breakdown(case, runs=5, clock="wall") -> dict:
    """Median seconds of each pass of a conv layer on ``case``, and of the whole :class:`vcnn.Conv2D`.

    Each pass is one public function on the layer's shapes, run over the
    batch block by block as the layer runs it (``benchmarks/passes.py``):
    φ and φᵀ (:mod:`vcnn.phi`), the three GEMMs (``numpy.matmul``, dW in the
    orientation the layer computes it, φ(X)·dYᵀ), the bias passes
    (:mod:`kernels`). The passes take turns with the whole layer, so that all
    see the same machine load; the report's "sum of the passes" row says how
    much of the layer's time they account for.
    """
    layer = vcnn_layer(case)
    x, dy = _data(case)
    passes = {f"{cat}  {what}": fn for (cat, what), fn in conv_passes(layer, x, dy).items()}
    passes["whole layer"] = lambda: (layer.forward(x), layer.backward(dy))   # interleaved with its passes
    return median_times(passes, runs, clock=clock)


def peak_memory(case) -> dict:
    """Peak bytes allocated (tracemalloc, which sees numpy's buffers) by a first and a second step."""
    layer = vcnn_layer(case)
    x, dy = _data(case)
    gc.collect()
    tracemalloc.start()
    peaks = []
    for _ in range(2):
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        layer.forward(x)
        layer.backward(dy)
        peaks.append(tracemalloc.get_traced_memory()[1] - base)
    tracemalloc.stop()
    cols_bytes = layer._scratch["cols"].nbytes if case.k > 1 else 0    # the φ the layer kept: one block
    return {"first step": peaks[0], "next steps": peaks[1], "im2col buffer": cols_bytes,
            "input x": x.nbytes, "output y": dy.nbytes}


def gemm_peak(size=4096, runs=3, clock="wall") -> float:
    """GFLOP/s of numpy's float32 GEMM on square matrices: the ceiling for the layer's GEMMs."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((size, size), dtype=np.float32) for _ in range(2))
    out = np.empty_like(a)
    return 2 * size ** 3 / 1e9 / median_times({"gemm": lambda: np.matmul(a, b, out=out)}, runs, clock=clock)["gemm"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small width and paper layer 2 only, 3 runs")
    parser.add_argument("--runs", type=int, default=None, help="timed runs per measurement (default 5, quick 3)")
    parser.add_argument("--out", default=str(Path(__file__).with_name("RESULTS.md")), help="markdown file to update")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch column")
    parser.add_argument("--threads", type=int, default=None, help="BLAS, Numba and torch threads (default: all cores)")
    args = parser.parse_args(argv)
    count = args.threads or len(os.sched_getaffinity(0))
    with threads(count):
        run(args, argv, clock="cpu" if count == 1 else "wall")   # on one thread CPU time: the waits for a core left out


def run(args, argv, clock):
    """Measure, print and write this benchmark's section; ``clock`` as main chose it ("cpu" on one thread)."""
    runs = args.runs or (3 if args.quick else 5)
    cases = paper_cases(batches=(1, 8))
    if args.quick:
        cases = [c for c in cases if c.name.startswith("layer 2") or c.c_in == 64]
    load_at_start = os.getloadavg()
    torch_version = "not installed"
    if not args.no_torch:
        try:
            import torch
            torch_version = (f"{torch.__version__} ({torch.get_num_threads()} threads, "
                             f"oneDNN {'on' if torch.backends.mkldnn.is_available() else 'off'})")
        except ImportError:
            print("torch is not installed: no PyTorch column (pip install .[bench])")
    rows = measure(cases, runs, naive_budget=5.0 if args.quick else 70.0, with_torch=not args.no_torch, clock=clock)
    focus = max(cases, key=lambda c: c.gflop)
    print("breakdown of", focus.name, "N =", focus.n)
    times = breakdown(focus, runs, clock)
    memory = peak_memory(focus)
    peak = gemm_peak(clock=clock)
    command = "python3 benchmarks/bench_conv.py " + " ".join(sys.argv[1:] if argv is None else argv)
    text = report(rows, times, memory, peak, command.strip(), torch_version, load_at_start, clock)
    print(text)
    write_section(args.out, SECTION, text)
    print("written to", args.out)


if __name__ == "__main__":
    main()
