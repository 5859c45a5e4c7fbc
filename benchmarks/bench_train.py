"""Time one whole SGD step of a colorization network: ours, PyTorch, the naive loops.

One step is what ``colorize train`` does per batch for one channel: forward
through every layer, the Euclidean loss, backward through every layer, the
momentum update. It is timed for the networks people train here (``small``;
the bundled default's 8-layer ``deep8``) and for the paper's width, at
several batch sizes, three ways on the same weights and the same data:

- ``ours``: :class:`vcnn.Network` + :class:`vcnn.SGD` (what we ship);
- ``torch``: the same network, loss and update in PyTorch on the CPU, when the
  ``bench`` extra is installed (imported here only, never by the package);
  the bundled check :func:`check_same_update` proves both take the same step;
- ``naive``: the direct loops of :mod:`vcnn.naive` (compiled), where affordable.

Then where our step's time goes (per layer and per pass: φ, GEMMs, φᵀ,
reshuffles, ReLU, the mapping layer, the loss, the update), the training
throughput of ``colorize train --jobs 2`` (two single-threaded processes, one
per chroma channel), and the guided filter against OpenCV's.

Run it with the BLAS variables of the shell unset, e.g.::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 benchmarks/bench_train.py
"""
import argparse
import datetime
import multiprocessing
import os
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path

if __package__ in (None, ""):                      # run as a script: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numba
import numpy as np

import kernels
import vcnn
from benchmarks.passes import conv_passes
from benchmarks.results import machine_lines, median_times, write_section
from colorize import model as colorize_model
from colorize.losses import euclidean
from colorize.guided_filter import guided_filter
from colorize.yuv import U_RANGE
from vcnn import naive
from vcnn.layers import Conv2D, FullConv2D, ReLU

SECTION = "bench_train"
PATCH = 64
LR, MOMENTUM = 0.01, 0.9


def arch(name: str) -> list:
    """Layer specs of ``small``, ``paper`` or ``deep8`` (the bundled default's architecture)."""
    return colorize_model.parse_architecture(name)


def describe(name: str) -> str:
    specs = arch(name)
    convs = [s for s in specs if s["type"] == "conv"]
    mapping = specs[-1]["k"]
    return (f"`{name}` ({len(convs) + 1} layers: k {'/'.join(str(s['k']) for s in convs)}, "
            f"widths {'/'.join(str(s['c_out']) for s in convs)}, {mapping}×{mapping} mapping)")


def data(batch: int, specs: list, seed: int = 0):
    """Luma windows (the network's input, Y − 0.5) and U targets of the output size."""
    rng = np.random.default_rng(seed)
    out = colorize_model.output_size(specs, PATCH)
    x = rng.uniform(-0.5, 0.5, (batch, 1, PATCH, PATCH)).astype(np.float32)
    target = rng.uniform(U_RANGE[0], U_RANGE[1], (batch, 1, out, out)).astype(np.float32)
    return x, target


def our_step(net, x, target, opt=None):
    """One SGD step of ``net`` as training takes it; returns the callable and the optimiser."""
    opt = opt or vcnn.SGD(net.parameters(), LR, MOMENTUM)

    def step():
        _, dz = euclidean(net.forward(x), target, *U_RANGE)
        net.backward(dz, need_dx=False)
        opt.step()
    return step, opt


class TorchNet:
    """The same network in PyTorch, from our weights (copied), with the same loss and update.

    conv: ``F.conv2d`` (+ in-place ReLU); the mapping layer: a 1×1 conv to
    C_out·k·k channels, then ``F.fold`` (col2im: φᵀ) and division by the
    counts, exactly our formula. The update is written out as ours:
    ``v ← μ·v − lr·g, W ← W + v``.
    """

    def __init__(self, net, torch):
        self.torch, self.F = torch, torch.nn.functional
        self.layers, self.params = [], []
        for layer in net.layers:
            if isinstance(layer, ReLU):
                self.layers.append(("relu",))
                continue
            W = torch.tensor(layer.W, requires_grad=True)
            b = torch.tensor(layer.b, requires_grad=True)
            self.params += [W, b]
            if isinstance(layer, FullConv2D):
                self.layers.append(("full", W, b, layer.k, layer.c_out))
            else:
                self.layers.append(("conv", W, b))
        self.velocity = [torch.zeros_like(p) for p in self.params]
        self.counts = {}

    def forward(self, x):
        F = self.F
        for layer in self.layers:
            if layer[0] == "relu":
                x = F.relu(x, inplace=True)
            elif layer[0] == "conv":
                x = F.conv2d(x, layer[1], layer[2])
            else:
                _, W, b, k, c_out = layer
                n, c_in, h, w = x.shape
                size = (h + k - 1, w + k - 1)
                if size not in self.counts:
                    ones = self.torch.ones(1, k * k, h * w)
                    self.counts[size] = F.fold(ones, size, k)
                P = F.conv2d(x, W.view(c_out * k * k, c_in, 1, 1), b)
                x = F.fold(P.view(n, c_out * k * k, h * w), size, k) / self.counts[size]
        return x

    def step(self, x, target, lo, hi):
        torch = self.torch
        for p in self.params:
            p.grad = None
        s = torch.sigmoid(self.forward(x))
        loss = 0.5 * torch.mean(torch.square(lo + (hi - lo) * s - target))
        loss.backward()
        with torch.no_grad():
            for p, v in zip(self.params, self.velocity):
                v.mul_(MOMENTUM).sub_(p.grad, alpha=LR)
                p.add_(v)
        return loss


def torch_module():
    try:
        import torch
    except ImportError:
        return None
    return torch


def torch_step(net, x, target):
    """PyTorch's step on a copy of ``net``'s weights, or None without torch."""
    torch = torch_module()
    if torch is None:
        return None
    model = TorchNet(net, torch)
    tx, tt = torch.from_numpy(x), torch.from_numpy(target)
    return lambda: model.step(tx, tt, *U_RANGE)


def naive_step(net, x, target):
    """The same step by the direct loops of :mod:`vcnn.naive` (compiled), weights updated in place."""
    opt = vcnn.SGD(net.parameters(), LR, MOMENTUM)

    def step():
        acts, a = [], x
        for layer in net.layers:
            acts.append(a)
            if isinstance(layer, ReLU):
                a = np.maximum(a, 0)
            elif isinstance(layer, FullConv2D):
                a = naive.full_conv2d_forward(a, layer.W, layer.b, layer.k)
            else:
                a = naive.conv2d_forward(a, layer.W, layer.b)
        _, d = euclidean(a, target, *U_RANGE)
        for layer, a in zip(reversed(net.layers), reversed(acts)):
            if isinstance(layer, ReLU):
                d = d * (a > 0)
                continue
            if isinstance(layer, FullConv2D):
                d, dW, db = naive.full_conv2d_backward(a, layer.W, layer.k, d)
            else:
                d, dW, db = naive.conv2d_backward(a, layer.W, d)
            layer.dW[...], layer.db[...] = dW, db
        opt.step()
    return step


def check_same_update(specs, batch=2, seed=0) -> float:
    """Largest relative difference between our weights and PyTorch's after two steps from the same start.

    Raises AssertionError above float32 round-off (1e-4), so the two engines
    timed side by side are known to compute the same thing.
    """
    torch = torch_module()
    net = colorize_model.init_network(specs, seed, "u")
    x, target = data(batch, specs, seed)
    theirs = TorchNet(net, torch)
    ours, _ = our_step(net, x, target)
    for _ in range(2):
        ours()
        theirs.step(torch.from_numpy(x), torch.from_numpy(target), *U_RANGE)
    worst = 0.0
    for (_, value, _), p in zip(net.parameters(), theirs.params):
        p = p.detach().numpy()
        worst = max(worst, float(np.max(np.abs(value - p)) / max(np.max(np.abs(p)), 1e-30)))
    assert worst < 1e-4, f"our step and PyTorch's differ: relative {worst:.2e}"
    return worst


@contextmanager
def threads(count: int):
    """BLAS, Numba and torch threads set to ``count`` inside."""
    from threadpoolctl import threadpool_limits
    torch = torch_module()
    saved_numba = numba.get_num_threads()
    saved_torch = torch.get_num_threads() if torch else None
    numba.set_num_threads(min(count, numba.config.NUMBA_NUM_THREADS))
    if torch:
        torch.set_num_threads(count)
    try:
        with threadpool_limits(count, "blas"):
            yield
    finally:
        numba.set_num_threads(saved_numba)
        if torch:
            torch.set_num_threads(saved_torch)


def measure(cases, runs=3, thread_counts=(2,), with_torch=True, naive_cases=(), log=print) -> list:
    """Median seconds per step for every (network, batch) in ``cases``, ours and PyTorch's interleaved.

    ``naive_cases``: the (network, batch) pairs also timed by the direct
    loops (one run after a compile on a tiny input: they take seconds).
    """
    rows = []
    for count in thread_counts:
        with threads(count):
            for name, batch in cases:
                specs = arch(name)
                net = colorize_model.init_network(specs, 0, "u")
                x, target = data(batch, specs)
                steps = {"torch": torch_step(net, x, target)} if with_torch else {}
                steps = {"ours": our_step(net, x, target)[0], **{k: v for k, v in steps.items() if v}}
                row = {"net": name, "batch": batch, "threads": count, **median_times(steps, runs)}
                if (name, batch) in naive_cases:
                    tiny = colorize_model.init_network(specs, 0, "u")
                    naive_step(tiny, *data(1, specs))                      # compiles on the first call
                    step = naive_step(net, x, target)
                    row["naive"] = median_times({"naive": step}, 1, warmup=0)["naive"]
                log("  " + ", ".join(f"{k} {v}" if not isinstance(v, float) else f"{k} {v:.3f} s"
                                     for k, v in row.items()))
                rows.append(row)
    return rows


# --- where the time goes -------------------------------------------------------------------------


def layer_label(index, layer) -> str:
    if isinstance(layer, FullConv2D):
        return f"{index}: mapping {layer.c_in}→{layer.c_out}·{layer.k}²"
    if isinstance(layer, ReLU):
        return f"{index}: ReLU"
    return f"{index}: conv {layer.k}×{layer.k} {layer.c_in}→{layer.c_out}" + (" + ReLU" if layer.relu else "")


def run_layers(net) -> list:
    """The layers as the network runs them (a ReLU after a conv runs inside it, where fused)."""
    return list(getattr(net, "steps", net.layers))


def per_layer(name, batch, runs=3) -> dict:
    """Median (forward s, backward s) of every layer inside whole steps, and of the loss and the update."""
    specs = arch(name)
    net = colorize_model.init_network(specs, 0, "u")
    x, target = data(batch, specs)
    opt = vcnn.SGD(net.parameters(), LR, MOMENTUM)
    times = {}

    def record(key, fn, *args, **kwargs):
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        times.setdefault(key, []).append(time.perf_counter() - start)
        return result

    layers = run_layers(net)
    for run in range(runs + 1):                      # run 0 warms up
        a = x
        for i, layer in enumerate(layers):
            a = record((i, "forward"), layer.forward, a)
        _, d = record(("loss", ""), euclidean, a, target, *U_RANGE)
        for i in reversed(range(len(layers))):
            layer = layers[i]
            d = record((i, "backward"), layer.backward, d, **({"need_dx": False} if i == 0 else {}))
        record(("update", ""), opt.step)
        if run == 0:
            times.clear()
    med = {key: statistics.median(t) for key, t in times.items()}
    labels = {i: layer_label(i, layer) for i, layer in enumerate(layers)}
    return {"layers": [(labels[i], med[(i, "forward")], med[(i, "backward")]) for i in labels],
            "loss": med[("loss", "")], "update": med[("update", "")]}


def step_passes(name, batch) -> dict:
    """{(category, pass, layer label): callable} for every pass of one step."""
    specs = arch(name)
    net = colorize_model.init_network(specs, 0, "u")
    x, target = data(batch, specs)
    layers = run_layers(net)
    acts, a = [], x
    for layer in layers:
        acts.append(a)
        a = layer.forward(a).copy()
    _, dz = euclidean(a, target, *U_RANGE)
    grads, d = [None] * len(layers), dz
    for i in reversed(range(len(layers))):
        grads[i] = d
        d = layers[i].backward(d).copy() if i else None
    passes = {}
    for i, layer in enumerate(layers):
        label = layer_label(i, layer)
        if isinstance(layer, Conv2D):
            for (cat, what), fn in conv_passes(layer, acts[i], grads[i], need_dx=i > 0).items():
                passes[(cat, what, label)] = fn
        elif isinstance(layer, ReLU):
            y, dy = layer.forward(acts[i]), grads[i]
            out = np.empty_like(y)
            passes[("ReLU", "forward", label)] = lambda y=y, a=acts[i], out=out: kernels.relu_forward(
                a.reshape(-1), out.reshape(-1))
            passes[("ReLU", "backward", label)] = lambda y=y, dy=dy, out=out: kernels.relu_backward(
                y.reshape(-1), dy.reshape(-1), out.reshape(-1))
        else:
            passes[("mapping layer", "forward", label)] = lambda layer=layer, a=acts[i]: layer.forward(a)
            passes[("mapping layer", "backward", label)] = lambda layer=layer, a=acts[i], g=grads[i]: (
                layer.forward(a), layer.backward(g))
    opt = vcnn.SGD(net.parameters(), LR, MOMENTUM)
    passes[("loss", "euclidean", "")] = lambda: euclidean(a, target, *U_RANGE)
    passes[("update", "momentum step", "")] = opt.step
    step, _ = our_step(net, x, target)
    passes[("whole step", "", "")] = step
    return passes


def breakdown(name, batch, runs=3) -> dict:
    """Median seconds of every pass of one step, taking turns with the whole step."""
    passes = step_passes(name, batch)
    times = median_times(passes, runs)
    key = ("mapping layer", "backward")
    for k in [k for k in times if k[:2] == key]:            # timed as forward + backward: keep backward
        times[k] -= times[("mapping layer", "forward", k[2])]
    return times


def breakdown_tables(name, batch, layer_times, pass_times) -> str:
    step = pass_times[("whole step", "", "")]
    lines = [f"Per layer, inside whole steps of {name} at batch {batch} (median ms):", "",
             "| layer | forward | backward | share of the step |", "| --- | --- | --- | --- |"]
    total = sum(f + b for _, f, b in layer_times["layers"]) + layer_times["loss"] + layer_times["update"]
    for label, f, b in layer_times["layers"]:
        lines.append(f"| {label} | {1e3 * f:.1f} | {1e3 * b:.1f} | {100 * (f + b) / total:.1f} % |")
    lines.append(f"| loss | {1e3 * layer_times['loss']:.1f} | | {100 * layer_times['loss'] / total:.1f} % |")
    lines.append(f"| update | | {1e3 * layer_times['update']:.1f} | "
                 f"{100 * layer_times['update'] / total:.1f} % |")
    lines.append(f"| sum | | | {1e3 * total:.1f} ms |")
    cats = {}
    for (cat, what, _), s in pass_times.items():
        if cat != "whole step":
            cats.setdefault(cat, {}).setdefault(what, 0.0)
            cats[cat][what] += s
    lines += ["", f"Per pass, summed over the layers, each pass timed alone taking turns with the whole "
              f"step ({1e3 * step:.1f} ms):", "", "| pass | ms | share of the step |", "| --- | --- | --- |"]
    summed = 0.0
    for cat, whats in cats.items():
        for what, s in whats.items():
            summed += s
            lines.append(f"| {cat}: {what} | {1e3 * s:.1f} | {100 * s / step:.1f} % |")
    lines.append(f"| rest (allocation, validation, Python) | {1e3 * (step - summed):.1f} | "
                 f"{100 * (step - summed) / step:.1f} % |")
    return "\n".join(lines)


# --- colorize train --jobs 2 ---------------------------------------------------------------------


def _throughput_worker(engine, name, batch, steps, queue):
    """One single-threaded process timing ``steps`` steps (after one warm-up) of one channel."""
    specs = arch(name)
    net = colorize_model.init_network(specs, 0, "u")
    x, target = data(batch, specs)
    if engine == "torch":
        torch_module().set_num_threads(1)
        step = torch_step(net, x, target)
    else:
        step = our_step(net, x, target)[0]
    step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    queue.put((time.perf_counter() - start) / steps)


def throughput(engine, name, batch, steps=5) -> float:
    """Windows per second of both channels trained at once, as ``colorize train --jobs 2`` runs them:
    two processes started with one BLAS and one Numba thread each (the same environment)."""
    from colorize.processes import single_threaded
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_throughput_worker, args=(engine, name, batch, steps, queue)) for _ in range(2)]
    with single_threaded():
        for proc in procs:
            proc.start()
    seconds = [queue.get() for _ in procs]
    for proc in procs:
        proc.join()
    return sum(batch / s for s in seconds)


# --- the guided filter -----------------------------------------------------------------------------


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


# --- the report ------------------------------------------------------------------------------------


def step_table(rows) -> str:
    has_torch = any("torch" in r for r in rows)
    has_naive = any("naive" in r for r in rows)
    head = ["network", "batch", "threads", "ours ms"]
    head += ["PyTorch ms", "ours / PyTorch"] if has_torch else []
    head += ["naive s", "naive / ours"] if has_naive else []
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for r in rows:
        cells = [f"`{r['net']}`", str(r["batch"]), str(r["threads"]), f"{1e3 * r['ours']:.0f}"]
        if has_torch:
            cells += [f"{1e3 * r['torch']:.0f}", f"**{r['ours'] / r['torch']:.2f}**"] if "torch" in r else ["–"] * 2
        if has_naive:
            cells += [f"{r['naive']:.2f}", f"{r['naive'] / r['ours']:.0f}×"] if "naive" in r else ["–"] * 2
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def guided_table(rows) -> str:
    has_cv = any("opencv" in r for r in rows)
    lines = ["| radius | ours ms | OpenCV ms | ours / OpenCV |" if has_cv else "| radius | ours ms |",
             "| --- | --- | --- | --- |" if has_cv else "| --- | --- |"]
    for r in rows:
        cells = [str(r["radius"]), f"{1e3 * r['ours']:.1f}"]
        if has_cv:
            cells += [f"{1e3 * r['opencv']:.1f}", f"**{r['ours'] / r['opencv']:.2f}**"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(rows, breakdown_text, jobs_rows, guided_rows, command, torch_version, load_at_start) -> str:
    load = ", ".join(f"{v:.2f}" for v in load_at_start)
    parts = [
        "## One SGD step of a colorization network (`bench_train.py`)",
        "",
        f"Command: `{command}`  ",
        f"Date: {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
        "",
        *machine_lines({"torch": torch_version}),
        f"- load average at the start: {load} (a load above the core count means other work "
        "shares the cores: absolute times are inflated, ratios of the same run hold better)",
        "",
        "Networks: " + "; ".join(describe(n) for n in dict.fromkeys(r["net"] for r in rows)) + ". "
        "One step = forward, Euclidean loss, backward (no gradient for the input), momentum update "
        f"(lr {LR}, momentum {MOMENTUM}), on 64×64 windows; PyTorch takes the same step from the same "
        "weights (checked: same weights after two steps, to float32 round-off). Medians of interleaved "
        "runs after a warm-up.",
        "",
        step_table(rows),
    ]
    if breakdown_text:
        parts += ["", "### Where our step's time goes", "", breakdown_text]
    if jobs_rows:
        parts += ["", "### Training throughput as `colorize train --jobs 2` runs it", "",
                  "Two processes at once, one per chroma channel, one BLAS and one Numba (or torch) thread "
                  "each; windows per second of both channels together (the step only, no data loading).", "",
                  "| network | batch | ours windows/s | PyTorch windows/s | ours / PyTorch (time) |",
                  "| --- | --- | --- | --- | --- |"]
        for r in jobs_rows:
            t = r.get("torch")
            parts.append(f"| `{r['net']}` | {r['batch']} | {r['ours']:.1f} | "
                         + (f"{t:.1f} | **{t / r['ours']:.2f}** |" if t else "– | – |"))
    if guided_rows:
        parts += ["", "### The guided filter, one channel, 1-megapixel guide (1000×1000, eps 1e-4)", "",
                  guided_table(guided_rows)]
    return "\n".join(parts)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nets", default="small,deep8,paper", help="comma-separated architectures")
    parser.add_argument("--batches", default="8,16,64", help="comma-separated batch sizes")
    parser.add_argument("--threads", default=None, help="comma-separated thread counts (default: all cores)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per measurement")
    parser.add_argument("--paper-max-batch", type=int, default=16, help="largest batch timed for `paper`")
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
    if not args.no_jobs:
        for name in [n for n in nets if n != "paper"]:
            row = {"net": name, "batch": focus[1], "ours": throughput("ours", name, focus[1])}
            if torch:
                row["torch"] = throughput("torch", name, focus[1])
            print(row)
            jobs_rows.append(row)
    guided_rows = guided_filter_times(runs=args.runs)
    command = "python3 benchmarks/bench_train.py " + " ".join(sys.argv[1:] if argv is None else argv)
    text = report(rows, text, jobs_rows, guided_rows, command.strip(), torch_version, load_at_start)
    print(text)
    write_section(args.out, SECTION, text)
    print("written to", args.out)


if __name__ == "__main__":
    main()
