"""What ``bench_conv.py`` writes: its tables, the issue's targets and the verdict on PyTorch.

Formatting only: every figure comes from the measurements of ``bench_conv.py``
(rows of :func:`bench_conv.measure`, the pass times of its breakdown, its
peak memory and GEMM peak).
"""
import datetime

from benchmarks.results import machine_lines

ENGINES = ("vcnn", "numba naive", "pure Python", "torch")


def _fmt_s(seconds):
    return f"{seconds:.3g}" if seconds < 100 else f"{seconds:,.0f}"


def table(rows) -> str:
    """Markdown table: medians (s), GFLOP/s, and the ratios against vcnn."""
    has_torch = any("torch" in r for r in rows)
    head = ["layer", "N", "GFLOP", "vcnn s", "vcnn GFLOP/s", "numba naive s", "naive / vcnn",
            "pure Python s", "Python / vcnn"]
    if has_torch:
        head += ["torch s", "torch GFLOP/s", "vcnn / torch"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        case, v = r["case"], r["vcnn"]
        mark = {e: " *(extrap.)*" if e in r["notes"] else "" for e in ENGINES}
        cells = [case.name, str(case.n), f"{case.gflop:.2f}", _fmt_s(v), f"{case.gflop / v:.0f}",
                 _fmt_s(r["numba naive"]) + mark["numba naive"], f"{r['numba naive'] / v:.1f}×",
                 _fmt_s(r["pure Python"]) + mark["pure Python"], f"{r['pure Python'] / v:,.0f}×"]
        if has_torch:
            t = r.get("torch")
            cells += [_fmt_s(t), f"{case.gflop / t:.0f}", f"{v / t:.2f}"] if t else ["n/a"] * 3
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def breakdown_table(times) -> str:
    total = times["whole layer"]
    lines = ["| pass | median s | share of the layer |", "|---|---|---|"]
    for name, s in times.items():
        lines.append(f"| {name} | {s:.3f} | {100 * s / total:.1f} % |")
    passes = sum(s for name, s in times.items() if name != "whole layer")
    lines.append(f"| sum of the passes | {passes:.3f} | {100 * passes / total:.1f} % |")
    return "\n".join(lines)


def verdict(rows, times, peak) -> str:
    """The paragraph on the PyTorch comparison, from the numbers of this run."""
    focus = max(rows, key=lambda r: r["case"].gflop)
    case, v, t = focus["case"], focus["vcnn"], focus.get("torch")
    gemms = sum(s for name, s in times.items() if name.startswith("GEMM"))
    others = sum(s for name, s in times.items() if name != "whole layer" and not name.startswith("GEMM"))
    text = (f"On {case.name}, N={case.n}, the three GEMMs take {gemms:.2f} s "
            f"({case.gflop / gemms:.0f} GFLOP/s, against a square-GEMM peak of {peak:.0f} GFLOP/s "
            f"measured in this run); φ, φᵀ and the bias passes take {others:.2f} s "
            f"({100 * others / times['whole layer']:.0f} % of the layer). ")
    if t is None:
        return text + "PyTorch is not installed (`pip install .[bench]`), so there is no comparison."
    if v <= t:
        return text + f"The layer runs in {v / t:.2f}× PyTorch's time: we beat it."
    return text + (
        f"The layer takes {v / t:.2f}× PyTorch's time ({t:.2f} s, {case.gflop / t:.0f} GFLOP/s). "
        f"What stands in the way: PyTorch (oneDNN) convolves directly from the image, "
        f"so it never writes or reads the {case_cols_mb(case):.0f} MB "
        f"φ matrix; we pay two passes to write it (φ, in forward and again in backward), one to read it "
        f"back (φᵀ), and the Wᵀ·dY GEMM writes an output of that size. Even with those passes free, the GEMMs alone take "
        f"{gemms / t:.2f}× PyTorch's whole layer.")


def case_cols_mb(case) -> float:
    """MB of a whole batch's φ for ``case``."""
    return case.c_in * case.k ** 2 * case.n * case.out ** 2 * 4 / 1e6


def report(rows, times, memory, peak, command, torch_version, load_at_start=None, clock="wall") -> str:
    mb = {k: v / 1e6 for k, v in memory.items()}
    focus = max(rows, key=lambda r: r["case"].gflop)["case"]
    phi_share = sum(s for name, s in times.items() if name.startswith("φ")) / times["whole layer"]
    return "\n".join([
        "## Conv layer, forward + backward (`bench_conv.py`)",
        "",
        f"Command: `{command}`  ",
        f"Date: {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
        "",
        *machine_lines({"torch": torch_version}),
        *([f"- load average at the start: {', '.join(f'{v:.2f}' for v in load_at_start)} "
           "(other work on the machine; a load above the core count slows every column)"]
          if load_at_start else []),
        "",
        "Shapes are those inside the paper's network for a 64×64 patch: layer 2 (k = 4) on the "
        "54×54 output of the 11×11 first layer (→ 51×51), layer 3 (k = 3) on 51×51 (→ 49×49). "
        "FLOPs of forward + backward = 3 × 2·C_out·C_in·k²·N·Ho·Wo. Medians of interleaved runs after a "
        f"warm-up, {'CPU time of the process (one thread: the waits for a core left out)' if clock == 'cpu' else 'wall time'}; "
        "ratios from the same run. *(extrap.)*: timed on a smaller proxy of the same layer "
        "and scaled by FLOPs (the direct loops cost the same per FLOP).",
        "",
        table(rows),
        "",
        f"### Inside the vectorized layer ({focus.name}, N={focus.n})",
        "",
        breakdown_table(times),
        "",
        f"Peak memory of one forward + backward (tracemalloc, allocations beyond the inputs x and dy): "
        f"first step {mb['first step']:.0f} MB: the layer's output y and dx ({mb['output y']:.0f} and "
        f"{mb['input x']:.0f} MB) and φ ({mb['im2col buffer']:.0f} MB: one block of samples, the whole batch "
        f"on several threads, one sample on one; Wᵀ·dY is written over it), {case_cols_mb(focus):.0f} MB "
        f"for the whole batch. The layer keeps them from step to step: later steps allocate "
        f"{mb['next steps']:.0f} MB.",
        "",
        *targets(rows, phi_share),
        "",
        verdict(rows, times, peak),
    ])


def targets(rows, phi_share) -> list:
    """The issue's speed targets, as bullet lines with this run's figures."""
    paper = [r for r in rows if r["case"].c_in == 512]
    if not paper:
        return []
    naive_x = min(r["numba naive"] / r["vcnn"] for r in paper)
    python_x = min(r["pure Python"] / r["vcnn"] for r in paper)
    lines = [f"- vcnn vs naive Numba direct convolution at paper width: at least **{naive_x:.0f}×** faster "
             f"(target ≥ 5×); vs pure Python: at least **{python_x:,.0f}×** (extrapolated)."]
    focus = max(paper, key=lambda r: r["case"].gflop)
    if "torch" in focus:
        lines.append(f"- {focus['case'].name}, N={focus['case'].n}: vcnn / PyTorch = "
                     f"**{focus['vcnn'] / focus['torch']:.2f}** (target ≤ 1.10, aim < 1).")
    lines.append(f"- φ + φᵀ: **{100 * phi_share:.1f} %** of the layer (target ≤ 20 %).")
    return lines
