"""Time one whole SGD step of a colorization network: ours, PyTorch, the naive loops.

The step and its three engines are in ``train_step.py``; this script times
them for the networks people train here (``small``; the bundled default's
8-layer ``deep8``) and for the paper's width, at several batch sizes, then
says where our step's time goes (``train_breakdown.py``: per layer and per
pass), the training throughput of ``colorize train --jobs 2`` (two
single-threaded processes, one per chroma channel), the peak memory of one
step against PyTorch's, and the guided filter against OpenCV's.

Times are medians of interleaved runs after a warm-up, in wall and in CPU
time: on one thread, CPU time leaves out the time the process waited for a
core, which on a shared machine is most of the noise. Run it with the BLAS
variables of the shell unset, e.g.::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 benchmarks/bench_train.py --threads 1
"""
import argparse
import datetime
import multiprocessing
import os
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):                      # run as a script: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from benchmarks.bench_memory import memory_fields
from benchmarks.results import machine_lines, median_times, timed_turns, write_section
from benchmarks.train_breakdown import breakdown, breakdown_tables, per_layer
from benchmarks.train_step import (LR, MOMENTUM, arch, check_same_update, data, describe, naive_step, our_step,
                                   threads, torch_module, torch_step)
from colorize import model as colorize_model
from colorize.guided_filter import guided_filter

SECTION = "bench_train"


def measure(cases, runs=3, thread_counts=(2,), with_torch=True, naive_cases=(), log=print) -> list:
    """Median seconds per step (wall; ``*_cpu``: CPU) for every (network, batch) in ``cases``,
    ours and PyTorch's interleaved. ``naive_cases``: the (network, batch) pairs also timed by the
    direct loops (one run after a compile on a tiny input: they take seconds)."""
    rows = []
    for count in thread_counts:
        with threads(count):
            for name, batch in cases:
                specs = arch(name)
                net = colorize_model.init_network(specs, 0, "u")
                x, target = data(batch, specs)
                steps = {"ours": our_step(net, x, target)[0]}
                if with_torch and torch_module():
                    steps["torch"] = torch_step(net, x, target)
                row = {"net": name, "batch": batch, "threads": count}
                for engine, t in timed_turns(steps, runs).items():
                    row[engine], row[f"{engine}_cpu"] = statistics.median(t["wall"]), statistics.median(t["cpu"])
                if (name, batch) in naive_cases:
                    naive_step(colorize_model.init_network(specs, 0, "u"), *data(1, specs))()   # compiles
                    row["naive"] = median_times({"naive": naive_step(net, x, target)}, 1, warmup=0)["naive"]
                log("  " + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()))
                rows.append(row)
    return rows


def _in_processes(target, *args, count: int = 1) -> list:
    """Run ``target(*args, queue)`` in ``count`` fresh processes at once, each started with one BLAS and
    one Numba thread (as ``colorize train --jobs 2`` starts its workers); what each put on the queue."""
    from colorize.processes import single_threaded
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args, queue)) for _ in range(count)]
    with single_threaded():
        for proc in procs:
            proc.start()
    results = [queue.get() for _ in procs]
    for proc in procs:
        proc.join()
    return results


def _step_of(engine, name, batch):
    specs = arch(name)
    net = colorize_model.init_network(specs, 0, "u")
    if engine == "torch":
        torch_module().set_num_threads(1)
        return torch_step(net, *data(batch, specs))
    return our_step(net, *data(batch, specs))[0]


def _throughput_worker(engine, name, batch, steps, queue):
    step = _step_of(engine, name, batch)
    step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    queue.put((time.perf_counter() - start) / steps)


def throughput(engine, name, batch, steps=5) -> float:
    """Windows per second of both channels trained at once, as ``colorize train --jobs 2`` runs them:
    two single-threaded processes at the same time."""
    return sum(batch / s for s in _in_processes(_throughput_worker, engine, name, batch, steps, count=2))


def _peak_rss() -> int:
    """Bytes: the process's peak resident set, VmHWM (not ``getrusage``'s maxrss, which a child started
    by fork + exec inherits from its parent), read as ``bench_memory.py`` reads it."""
    return memory_fields(os.getpid())["VmHWM"] * 1024


def _memory_worker(engine, name, batch, queue):
    step = _step_of(engine, name, batch)
    before = _peak_rss()
    step()
    step()
    queue.put((before, _peak_rss()))


def peak_memory(engine, name, batch) -> dict:
    """Peak resident set (bytes) of a fresh single-threaded process that takes two steps, and before them
    (the interpreter, the libraries, the network and the data). Linux only (/proc)."""
    (before, peak), = _in_processes(_memory_worker, engine, name, batch)
    return {"before": before, "peak": peak}


def guided_filter_times(size=(1000, 1000), radii=(4, 40), eps=1e-4, runs=3) -> list:
    """Median seconds of our guided filter and OpenCV's (if importable) on one channel, 1-MP guide."""
    rng = np.random.default_rng(0)
    I = rng.uniform(0, 1, size).astype(np.float32)
    p = rng.uniform(-0.4, 0.4, size).astype(np.float32)
    try:
        import cv2
        opencv = cv2.ximgproc.guidedFilter
    except (ImportError, AttributeError):
        opencv = None
    rows = []
    for r in radii:
        fns = {"ours": lambda r=r: guided_filter(I, p, r, eps)}
        if opencv is not None:
            fns["opencv"] = lambda r=r: opencv(I, p, r, eps)
        rows.append({"radius": r, **median_times(fns, runs)})
    return rows


def _table(head, lines) -> str:
    return "\n".join(["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
                     + ["| " + " | ".join(cells) + " |" for cells in lines])


def step_table(rows) -> str:
    has_torch = any("torch" in r for r in rows)
    has_naive = any("naive" in r for r in rows)
    head = ["network", "batch", "threads", "ours ms"]
    head += ["PyTorch ms", "ours / PyTorch", "ours CPU ms", "PyTorch CPU ms", "ours / PyTorch, CPU"] if has_torch else []
    head += ["naive s", "naive / ours"] if has_naive else []
    lines = []
    for r in rows:
        cells = [f"`{r['net']}`", str(r["batch"]), str(r["threads"]), f"{1e3 * r['ours']:.0f}"]
        if has_torch:
            cells += ([f"{1e3 * r['torch']:.0f}", f"{r['ours'] / r['torch']:.2f}", f"{1e3 * r['ours_cpu']:.0f}",
                       f"{1e3 * r['torch_cpu']:.0f}", f"**{r['ours_cpu'] / r['torch_cpu']:.2f}**"]
                      if "torch" in r else ["–"] * 5)
        if has_naive:
            cells += [f"{r['naive']:.2f}", f"{r['naive'] / r['ours']:.0f}×"] if "naive" in r else ["–"] * 2
        lines.append(cells)
    return _table(head, lines)


def report(rows, breakdown_text, jobs_rows, guided_rows, command, torch_version, load_at_start,
           memory_rows=()) -> str:
    load = ", ".join(f"{v:.2f}" for v in load_at_start)
    parts = [
        "## One SGD step of a colorization network (`bench_train.py`)", "",
        f"Command: `{command}`  ", f"Date: {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}", "",
        *machine_lines({"torch": torch_version}),
        f"- load average at the start: {load} (a load above the core count means other work "
        "shares the cores: absolute times are inflated, ratios of the same run hold better)", "",
        "Networks: " + "; ".join(describe(n) for n in dict.fromkeys(r["net"] for r in rows)) + ". "
        "One step = forward, Euclidean loss, backward (no gradient for the input), momentum update "
        f"(lr {LR}, momentum {MOMENTUM}), on 64×64 windows; PyTorch takes the same step from the same "
        "weights (checked: same weights after two steps, to float32 round-off). Medians of interleaved "
        "runs after a warm-up, wall time and the process's CPU time (on one thread the CPU time leaves "
        "out the waits for a core that the load adds to the wall time).", "",
        step_table(rows),
    ]
    if breakdown_text:
        parts += ["", "### Where our step's time goes", "", breakdown_text]
    if jobs_rows:
        parts += ["", "### Training throughput as `colorize train --jobs 2` runs it", "",
                  "Two processes at once, one per chroma channel, one BLAS and one Numba (or torch) thread "
                  "each; windows per second of both channels together (the step only, no data loading).", "",
                  _table(["network", "batch", "ours windows/s", "PyTorch windows/s", "ours / PyTorch (time)"],
                         [[f"`{r['net']}`", str(r["batch"]), f"{r['ours']:.1f}"]
                          + ([f"{r['torch']:.1f}", f"**{r['torch'] / r['ours']:.2f}**"] if r.get("torch")
                             else ["–", "–"]) for r in jobs_rows])]
    if memory_rows:
        parts += ["", "### Peak memory of a step", "",
                  "A fresh process with one thread per engine takes two steps; peak resident set "
                  "(VmHWM), and before the steps (interpreter, libraries, network and data).", "",
                  _table(["network", "batch", "engine", "before the steps MiB", "peak MiB", "peak − before MiB"],
                         [[f"`{r['net']}`", str(r["batch"]), r["engine"], f"{r['before'] / 2 ** 20:.0f}",
                           f"{r['peak'] / 2 ** 20:.0f}", f"{(r['peak'] - r['before']) / 2 ** 20:.0f}"]
                          for r in memory_rows])]
    if guided_rows:
        has_cv = any("opencv" in r for r in guided_rows)
        parts += ["", "### The guided filter, one channel, 1-megapixel guide (1000×1000, eps 1e-4)", "",
                  _table(["radius", "ours ms"] + (["OpenCV ms", "ours / OpenCV"] if has_cv else []),
                         [[str(r["radius"]), f"{1e3 * r['ours']:.1f}"]
                          + ([f"{1e3 * r['opencv']:.1f}", f"**{r['ours'] / r['opencv']:.2f}**"] if has_cv else [])
                          for r in guided_rows])]
    return "\n".join(parts)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nets", default="small,deep8,paper", help="comma-separated architectures")
    parser.add_argument("--batches", default="8,16,64", help="comma-separated batch sizes")
    parser.add_argument("--threads", default=None, help="comma-separated thread counts (default: all cores)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per measurement")
    parser.add_argument("--paper-max-batch", type=int, default=16, help="largest batch timed for `paper`")
    parser.add_argument("--memory", default="paper:8", help="NET:BATCH whose peak memory is measured ('' for none)")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch column")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive loops")
    parser.add_argument("--no-jobs", action="store_true", help="skip the --jobs 2 throughput")
    parser.add_argument("--out", default=str(Path(__file__).with_name("RESULTS.md")), help="markdown file to update")
    args = parser.parse_args(argv)
    load_at_start = os.getloadavg()
    cores = len(os.sched_getaffinity(0))
    thread_counts = [int(t) for t in args.threads.split(",")] if args.threads else [cores]
    nets, batches = args.nets.split(","), [int(b) for b in args.batches.split(",")]
    cases = [(n, b) for n in nets for b in batches if n != "paper" or b <= args.paper_max_batch]
    torch = None if args.no_torch else torch_module()
    torch_version = f"{torch.__version__} (oneDNN {'on' if torch.backends.mkldnn.is_available() else 'off'})" \
        if torch else "not installed"
    if torch:
        print("same update as PyTorch: relative difference", check_same_update(arch(nets[0])))
    naive_cases = [] if args.no_naive else [(n, min(batches)) for n in nets if n != "paper"]
    rows = measure(cases, args.runs, thread_counts, torch is not None, naive_cases)
    focus = ("deep8" if "deep8" in nets else nets[0], 16 if 16 in batches else batches[0])
    with threads(thread_counts[0]):
        text = breakdown_tables(*focus, per_layer(*focus, args.runs), breakdown(*focus, args.runs))
    jobs_rows = []
    for name in [] if args.no_jobs else [n for n in nets if n != "paper"]:
        jobs_rows.append({"net": name, "batch": focus[1], "ours": throughput("ours", name, focus[1]),
                          **({"torch": throughput("torch", name, focus[1])} if torch else {})})
        print(jobs_rows[-1])
    memory_rows = []
    if args.memory:
        name, batch = args.memory.split(":")
        for engine in ["ours"] + (["torch"] if torch else []):
            memory_rows.append({"net": name, "batch": int(batch), "engine": engine,
                                **peak_memory(engine, name, int(batch))})
            print(memory_rows[-1])
    guided_rows = guided_filter_times(runs=args.runs)
    command = "python3 benchmarks/bench_train.py " + " ".join(sys.argv[1:] if argv is None else argv)
    with threads(thread_counts[0]):             # the machine lines name the thread counts the steps ran with
        text = report(rows, text, jobs_rows, guided_rows, command.strip(), torch_version, load_at_start, memory_rows)
    print(text)
    write_section(args.out, SECTION, text)
    print("written to", args.out)


if __name__ == "__main__":
    main()
