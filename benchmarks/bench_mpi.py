"""Scaling out: training throughput on 1 and 2 MPI ranks, and what the Allreduce costs.

Each measurement is a real training run of the U network (`train_channel`,
the code ``colorize train`` runs) started as its own process: 1 rank as a
plain ``python``, K ranks under ``mpiexec -n K``, with BLAS and Numba threads
set so that ranks × threads = the cores this process may use. Step times are
the gaps between the per-step reports of rank 0, after warm-up steps (the
first Numba call compiles); the sum of the gradients is then timed alone,
after a barrier, three ways: as training does it (`sum_gradients`), all in
one flat buffer, and one ``Allreduce`` per array. The training data are random windows, a function of
(seed, step) like the real sources: a step's cost does not depend on pixels.

Run it with the BLAS variables of the shell unset, e.g.::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 benchmarks/bench_mpi.py     # ~5-8 min
    python3 benchmarks/bench_mpi.py --quick --out /tmp/RESULTS.md                    # small width only
"""
import argparse
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):                      # run as a script: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from benchmarks.results import blas_info, machine_lines, write_section
from colorize.model import WIDTHS, architecture, init_network
from colorize.parallel import sum_gradients, world
from colorize.processes import THREAD_VARIABLES
from colorize.train import TrainConfig, train_channel
from vcnn import phi

SECTION = "bench_mpi"
ALLREDUCE = ("packed", "flat", "per_array")
# Terminal escape sequences: CSI (colours, cursor), OSC (titles, ended by BEL or ESC backslash), two-byte ones.
ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
RESULT = re.compile(r"RESULT (\{.*\})")


class NoiseData:
    """Random uint8 windows, a pure function of (seed, step): a `colorize.sources.DataSource`."""

    description = {"kind": "noise"}

    def batch(self, seed, step, size):
        return np.random.default_rng([seed, step]).integers(0, 256, (size, 64, 64, 3), dtype=np.uint8)

    def validation(self, seed, count):
        return self.batch(seed, 10**6, count)

    @property
    def fingerprint(self) -> str:
        """Names the data in checkpoints, as the real sources do; these data are a function of the seed alone."""
        return "noise"


def _barrier(comm):
    comm.sum(np.zeros(1))


def _allreduce_times(grads, comm, repeats):
    """Median seconds of summing the gradients: as training does, all in one flat buffer, one call per array."""
    methods = {"packed": lambda: sum_gradients(grads, comm),
               "flat": lambda: sum_gradients(grads, comm, pack_below=sys.maxsize),
               "per_array": lambda: sum_gradients(grads, comm, pack_below=0)}
    times = {name: [] for name in methods}
    for _ in range(repeats):
        for name, fn in methods.items():
            _barrier(comm)
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: max(comm.gather(statistics.median(t))) for name, t in times.items()}


def worker(widths, batch, warmup, steps, repeats) -> dict:
    """Train ``warmup + steps`` steps of the U network on this job's ranks; rank 0's timings."""
    comm = world()
    config = TrainConfig(architecture(widths), warmup + steps, batch=batch, checkpoint_every=10**9,
                         log_every=10**9, val_patches=1)
    stamps = []
    with tempfile.TemporaryDirectory() as tmp:          # rank 0 writes the last checkpoint there
        _barrier(comm)
        stamps.append(time.perf_counter())
        train_channel("u", init_network(config.specs, config.seed, "u"), NoiseData(), config, Path(tmp) / "bench.npz",
                      report=lambda channel, step, loss: stamps.append(time.perf_counter()), comm=comm)
    step = statistics.median(np.diff(stamps)[warmup:]) if comm.rank == 0 else None
    grads = [g for _, _, g in init_network(config.specs, 0, "u").parameters()]
    comm_times = _allreduce_times(grads, comm, repeats) if comm.size > 1 else dict.fromkeys(ALLREDUCE, 0.0)
    return {"ranks": comm.size, "step_s": step, "patches_per_s": batch / step if step else None,
            "params": sum(g.size for g in grads), "grad_bytes": sum(g.nbytes for g in grads),
            **{f"allreduce_{name}_s": t for name, t in comm_times.items()}, "blas": blas_info()}


def run(ranks, threads, widths, batch, warmup, steps, repeats, timeout=900) -> dict:
    """One measurement in a fresh process (or ``mpiexec -n ranks`` of them)."""
    env = {**os.environ, **dict.fromkeys(THREAD_VARIABLES, str(threads))}
    job = json.dumps({"widths": list(widths), "batch": batch, "warmup": warmup, "steps": steps,
                      "repeats": repeats})
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", job]
    if ranks > 1:
        command = ["mpiexec", "-n", str(ranks)] + command
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    result = find_result(done.stdout)
    if done.returncode or result is None:
        raise RuntimeError(f"{' '.join(command[:4])} ... failed ({done.returncode}): {done.stderr[-2000:]}")
    return {**result, "threads": threads}


def find_result(stdout: str) -> dict | None:
    """The worker's ``RESULT {json}``, found in its output as the launcher forwarded it, or None.

    MPICH passes the line through as printed; Open MPI's ``mpiexec`` may wrap
    forwarded output in terminal escape codes or prefix it with the rank
    (``--tag-output``), so the line no longer starts with ``RESULT``.
    """
    for line in stdout.splitlines():
        found = RESULT.search(ESCAPES.sub("", line))
        if found:
            return json.loads(found.group(1))
    return None


def layouts(cores) -> list:
    """(ranks, threads per rank): one core alone, then ranks × threads = cores with 1 and 2 ranks."""
    return [(1, 1), (1, cores), (2, max(cores // 2, 1))]


def measure(cases, cores, rounds) -> list:
    """Every case in every layout, the layouts taking turns round after round."""
    rows = []
    for label, widths, batch, warmup, steps, repeats in cases:
        runs = {layout: [] for layout in layouts(cores)}
        for _ in range(rounds):
            for ranks, threads in runs:
                runs[ranks, threads].append(run(ranks, threads, widths, batch, warmup, steps, repeats))
                print(f"{label}, {ranks} rank(s) x {threads} thread(s): step "
                      f"{runs[ranks, threads][-1]['step_s']:.3f} s", file=sys.stderr, flush=True)
        for results in runs.values():
            row = dict(results[0])
            for key in ["step_s"] + [f"allreduce_{name}_s" for name in ALLREDUCE]:
                row[key] = statistics.median(r[key] for r in results)
            row.update(label=label, widths=widths, batch=batch, patches_per_s=batch / row["step_s"])
            rows.append(row)
    return rows


def table(rows, cores) -> list:
    lines = ["| network | params (gradient bytes) | batch | ranks × threads | step (s) | patches/s "
             f"| speed-up vs 1 × 1 | vs 1 × {cores} | Allreduce as trained (ms) | one flat buffer (ms) "
             "| one per array (ms) | Allreduce / step |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    base = {(r["label"], r["threads"]): r for r in rows if r["ranks"] == 1}
    for r in rows:
        speedups = [r["patches_per_s"] / base[r["label"], t]["patches_per_s"] for t in (1, cores)]
        comm = (" | ".join(f"{1e3 * r[f'allreduce_{name}_s']:.2f}" for name in ALLREDUCE)
                + f" | {100 * r['allreduce_packed_s'] / r['step_s']:.2f} %") if r["ranks"] > 1 else "– | – | – | –"
        lines.append(f"| {r['label']} {tuple(r['widths'])} | {r['params']:,} ({r['grad_bytes'] / 1e6:.2f} MB) "
                     f"| {r['batch']} | {r['ranks']} × {r['threads']} | {r['step_s']:.3f} "
                     f"| {r['patches_per_s']:.2f} | {speedups[0]:.2f}× | {speedups[1]:.2f}× | {comm} |")
    return lines


LINKS = {"10 GbE": (1.25e9, 50e-6), "100 Gb/s InfiniBand": (12.5e9, 2e-6)}     # bytes/s, latency (s)


def cluster_paragraph(rows, ranks=64) -> str:
    """What to expect on ``ranks`` ranks over a network, from the measured compute and gradient sizes.

    A ring Allreduce of S bytes sends and receives 2·(K-1)/K·S bytes per rank
    in 2·(K-1) messages (a tree: 2·log₂K messages of S); a rank with b patches
    computes for b·t seconds (t: one patch, forward + backward, on one core).
    Communication takes over below b* = T_comm / t patches per rank.
    """
    out = [f"Per step, every rank sends and receives ≈ 2·(K−1)/K·S bytes, S = 4 bytes × parameters "
           f"(the ring Allreduce of a large buffer), and pays ≈ 2·log₂K message latencies. "
           f"Estimates for K = {ranks} ranks, one core each, with the compute measured above (1 × 1):"]
    for r in (r for r in rows if r["ranks"] == 1 and r["threads"] == 1):
        per_patch, size = r["step_s"] / r["batch"], r["grad_bytes"]
        out.append(f"{r['label']}: S = {size / 1e6:.2f} MB, one patch = {per_patch:.3g} core-seconds;")
        for link, (bandwidth, latency) in LINKS.items():
            t_comm = 2 * (ranks - 1) / ranks * size / bandwidth + 2 * np.log2(ranks) * latency
            out.append(f"over {link} an Allreduce ≈ {1e3 * t_comm:.3g} ms, so communication dominates "
                       f"below {t_comm / per_patch:.2g} patches per rank;")
    out.append("both far below one patch per rank, the least a rank can take (`--batch` ≥ K). What bounds K "
               "is the batch, not the network: more ranks need a larger `--batch`, which changes the "
               "optimisation (and may want another `--lr`); each rank also draws the whole global batch and "
               "holds the whole training set in memory.")
    return " ".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="small width only, one round")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each case, 1 and 2 ranks taking turns")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "RESULTS.md")
    args = parser.parse_args(argv)
    if args.worker:
        result = worker(**json.loads(args.worker))
        if world().rank == 0:
            print("RESULT " + json.dumps(result), flush=True)
        return
    if shutil.which("mpiexec") is None:
        sys.exit("bench_mpi needs mpiexec: pip install '.[mpi]'")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    # (label, widths, batch, warm-up steps, timed steps, Allreduce repeats): the paper's width costs
    # ≈ 100 GFLOP per patch, so it runs one patch per rank, and few steps.
    cases = [("small", WIDTHS["small"], 16, 2, 8, 50)]
    if not args.quick:
        cases.append(("paper", WIDTHS["paper"], 2, 1, 2, 10))
    rows = measure(cases, cores, 1 if args.quick else args.rounds)
    phi(np.zeros((1, 1, 4, 4), np.float32), 3)         # starts Numba's threading layer, which machine_lines names
    body = [
        "## Scaling out: data-parallel training over MPI (`bench_mpi.py`)",
        "",
        f"Run {datetime.date.today().isoformat()}, `{' '.join(['python3', 'benchmarks/bench_mpi.py'] + (argv or sys.argv[1:]))}`.",
        *machine_lines({"mpi4py": _mpi4py_version()}),
        "- BLAS in the runs (threadpoolctl): " + "; ".join(sorted({r["blas"] for r in rows})),
        "",
        "One training step of the U network (`train_channel`, synchronous SGD: forward, backward, "
        "Allreduce of the gradients, update), median of the steps after warm-up and of "
        f"{1 if args.quick else args.rounds} runs per row taking turns. Threads are BLAS and Numba threads "
        f"per rank; 1 × 1 is one core alone, the other rows use all {cores} cores. "
        "The Allreduce columns time the gradient sum alone, after a barrier, on the slowest rank: "
        "as training does it (`sum_gradients`: arrays of 256 KB or more alone and in place, the "
        "smaller ones packed into one buffer), everything packed into one flat buffer, and one call "
        "per array. The last column is the first one over the whole step.",
        "",
        *table(rows, cores),
        "",
        "**On this machine.** Both ranks share one machine, its memory bus and, when others use it "
        "(see the load average), its cores. A rank with several threads meets its threads at a barrier "
        "in every GEMM and every Numba loop, and waits for the slowest: on a loaded machine one "
        "descheduled thread stalls the others, which single-threaded ranks do not suffer. MPICH's "
        "waiting ranks spin on their core. Compare rows of the same run only.",
        "",
        "**On a cluster.** " + cluster_paragraph(rows),
    ]
    write_section(args.out, SECTION, "\n".join(body))
    print("\n".join(table(rows, cores)))


def _mpi4py_version():
    try:
        import mpi4py
        return mpi4py.__version__
    except ImportError:
        return "not installed"


if __name__ == "__main__":
    main()
