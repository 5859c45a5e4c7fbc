"""Where one SGD step's time goes: per layer inside whole steps, and per pass.

Used by ``bench_train.py``; the passes of a conv layer are those of
``benchmarks/passes.py``, run the way the layer runs them.
"""
import statistics
import time

import numpy as np

import kernels
import vcnn
from benchmarks.passes import conv_passes
from benchmarks.results import median_times
from benchmarks.train_step import LR, MOMENTUM, arch, data, our_step
from colorize import model as colorize_model
from colorize.losses import euclidean
from colorize.yuv import U_RANGE
from vcnn.layers import Conv2D, FullConv2D, ReLU


def layer_label(index, layer) -> str:
    if isinstance(layer, FullConv2D):
        return f"{index}: mapping {layer.c_in}→{layer.c_out}·{layer.k}²"
    if isinstance(layer, ReLU):
        return f"{index}: ReLU"
    return f"{index}: conv {layer.k}×{layer.k} {layer.c_in}→{layer.c_out}" + (" + ReLU" if layer.relu else "")


def run_layers(net) -> list:
    """The layers as the network runs them (a ReLU after a conv runs inside it, where fused)."""
    return list(net.steps)


def per_layer(name, batch, runs=3) -> dict:
    """Median CPU seconds (forward, backward) of every layer inside whole steps, and of the loss and the update."""
    specs = arch(name)
    net = colorize_model.init_network(specs, 0, "u")
    x, target = data(batch, specs)
    opt = vcnn.SGD(net.parameters(), LR, MOMENTUM)
    times = {}

    def record(key, fn, *args, **kwargs):
        start = time.process_time()
        result = fn(*args, **kwargs)
        times.setdefault(key, []).append(time.process_time() - start)
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
    """Median CPU seconds of every pass of one step, taking turns with the whole step."""
    passes = step_passes(name, batch)
    times = median_times(passes, runs, clock="cpu")
    key = ("mapping layer", "backward")
    for k in [k for k in times if k[:2] == key]:            # timed as forward + backward: keep backward
        times[k] -= times[("mapping layer", "forward", k[2])]
    return times


def breakdown_tables(name, batch, layer_times, pass_times) -> str:
    step = pass_times[("whole step", "", "")]
    lines = [f"Per layer, inside whole steps of {name} at batch {batch} (median CPU ms):", "",
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
