"""Time ``colorize apply`` on a 1-megapixel photo: with and without refinement, on 1 and 2 threads.

What is timed is :func:`colorize.apply.colorize_file`, the whole of what the
command does for one file (read the PNG, run the U and V networks strip by
strip, the guided filter if refining, YUV → RGB, write the PNG), in this
process after a warm-up: not the command's start (Python, the imports and
Numba's cache, the same for every run). The photo is the bundled
``examples/china_gray.png`` (384×256) enlarged to 1280×800, written to a
temporary folder. The configurations take turns, run after run (medians of
wall and CPU time); threads are BLAS and Numba threads alike. One more row,
at 2 threads, forces one sample per block (``Conv2D.samples_per_block = 1``)
to measure the block rule of :class:`vcnn.Conv2D` (one sample per block with
the engine's own GEMM, else the whole batch per block when BLAS has several
threads; the "blocks" column says which the rule chose)::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 benchmarks/bench_apply.py
"""
import argparse
import datetime
import os
import statistics
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

if __package__ in (None, ""):                      # run as a script: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from benchmarks.results import machine_lines, timed_turns, write_section
from benchmarks.train_step import threads
from colorize.apply import colorize_file
from colorize.images import read_luminance
from colorize.pngfile import write_png
from colorize.resample import resize
import vcnn.layers
from vcnn.layers import Conv2D, FullConv2D

SECTION = "bench_apply"
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "china_gray.png"


def make_photo(path: Path, height: int = 800, width: int = 1280) -> Path:
    """The bundled example photo resized to ``height`` × ``width``, as an 8-bit gray PNG at ``path``."""
    y, _ = read_luminance(EXAMPLE)
    write_png(path, np.round(np.clip(resize(y, height, width), 0, 1) * 255).astype(np.uint8))
    return path


@contextmanager
def one_sample_per_block(on: bool):
    """Inside, every conv and mapping layer takes one sample per block whatever the threads."""
    saved = Conv2D.samples_per_block, FullConv2D.samples_per_block
    if on:
        Conv2D.samples_per_block = FullConv2D.samples_per_block = 1
    try:
        yield
    finally:
        Conv2D.samples_per_block, FullConv2D.samples_per_block = saved


def configurations(thread_counts=(1, 2)) -> list:
    """(threads, refine, one sample per block) of every row."""
    rows = [(t, refine, False) for t in thread_counts for refine in (False, True)]
    return rows + [(t, False, True) for t in thread_counts if t > 1]


def measure(photo: Path, out_dir: Path, runs: int = 3, thread_counts=(1, 2), model=None) -> list:
    """Median wall and CPU seconds of ``colorize_file`` for every configuration, runs taking turns."""
    @contextmanager
    def settings(config):                   # entered outside the clocks: setting the threads is not timed
        count, _, per_sample = config
        with threads(count), one_sample_per_block(per_sample):
            yield

    def run(config):
        colorize_file(photo, out_dir / "out.png", model, overwrite=True, refine=config[1])
    configs = configurations(thread_counts)
    times = timed_turns({config: (lambda c=config: run(c)) for config in configs}, runs,
                        around={config: (lambda c=config: settings(c)) for config in configs})
    return [{"threads": t, "refine": r, "per_sample": p, "wall": statistics.median(times[(t, r, p)]["wall"]),
             "cpu": statistics.median(times[(t, r, p)]["cpu"])} for t, r, p in configs]


def report(rows, command, size, load_at_start) -> str:
    lines = ["## `colorize apply` on a 1-megapixel photo (`bench_apply.py`)", "",
             f"Command: `{command}`  ", f"Date: {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}", "",
             *machine_lines(),
             f"- load average at the start: {', '.join(f'{v:.2f}' for v in load_at_start)} (a load above "
             "the core count means other work shares the cores: wall times are inflated, and more so on "
             "2 threads, whose GEMMs wait at every barrier for a thread the scheduler put aside)", "",
             f"`colorize_file` (all of `colorize apply` for one file but the start of Python and the imports) "
             f"on `examples/china_gray.png` enlarged to {size[1]}×{size[0]}, the bundled model, default "
             "options; medians of interleaved runs after a warm-up. Threads: BLAS and Numba alike.", "",
             "| threads | refinement | blocks | wall s | CPU s |", "| --- | --- | --- | --- | --- |"]
    for r in rows:
        by_rule = r["threads"] == 1 or vcnn.layers.OWN_GEMM
        blocks = "one sample (forced)" if r["per_sample"] else ("one sample" if by_rule else "whole batch")
        lines.append(f"| {r['threads']} | {'guided filter' if r['refine'] else 'none (`--no-refine`)'} | {blocks} "
                     f"| {r['wall']:.2f} | {r['cpu']:.2f} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="timed runs per configuration")
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--size", default="800x1280", help="HEIGHTxWIDTH of the photo")
    parser.add_argument("--out", default=str(Path(__file__).with_name("RESULTS.md")), help="markdown file to update")
    args = parser.parse_args(argv)
    load_at_start = os.getloadavg()
    size = tuple(int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        photo = make_photo(Path(tmp) / "photo.png", *size)
        rows = measure(photo, Path(tmp), args.runs, [int(t) for t in args.threads.split(",")])
    command = "python3 benchmarks/bench_apply.py " + " ".join(sys.argv[1:] if argv is None else argv)
    text = report(rows, command.strip(), size, load_at_start)
    print(text)
    write_section(args.out, SECTION, text)
    print("written to", args.out)


if __name__ == "__main__":
    main()
