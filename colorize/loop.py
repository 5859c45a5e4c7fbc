"""The training loop of one network: plain SGD with the paper's alternating losses.

Everything a step depends on is a function of (seed, step): the batch (see
:mod:`colorize.sources`), the loss in force (the cycled schedule), and the
state saved in the checkpoint (weights, SGD velocities, step). Hence the same
arguments give the same weights bit for bit, and a run interrupted and
resumed ends where an uninterrupted one does.

Under ``mpiexec -n K`` (see :mod:`colorize.parallel`) each step is spread over
the K ranks, synchronous data-parallel SGD: every rank draws the same global
batch of (seed, step), takes its share of rows, and computes the gradient of
its share weighted by share/batch; the sum of these over the ranks
(``Allreduce``) is the gradient of the mean over the whole batch, and every
rank applies the same update to the same weights. So K ranks reach the
weights of one process, up to the float32 rounding of another summation
order. Rank 0 alone validates, reports, and writes the log and checkpoints.

The log, ``MODEL.u.csv`` (``MODEL.v.csv``), has one row per ``log_every`` steps.
"""
from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import numpy as np

import vcnn
from colorize.checkpoints import checkpoint_path, resume_from, save_checkpoint
from colorize.losses import LOSSES, loss_at, parse_schedule
from colorize.model import CHROMA_RANGES, network_input, output_size
from colorize.parallel import Communicator, share_of, sum_gradients, world
from colorize.patches import targets
from colorize.processes import Interrupted, StopFlag
from colorize.sources import DataSource
from colorize.trainconfig import TrainConfig, TrainingError
from vcnn.atomic import atomic_path

#: Training has diverged when a weight's magnitude passes MAX_WEIGHT (trained weights stay
#: near 1: inputs are in [-0.5, 0.5] and the outputs go through a sigmoid) or a loss passes
#: LOSS_BLOWUP times the largest of its first LOSS_REFERENCE_STEPS values in the run (one lucky
#: near-gray batch is no reference): it is stopped, not saved.
MAX_WEIGHT, LOSS_BLOWUP, LOSS_REFERENCE_STEPS = 1e4, 100.0, 10
VAL_BATCH = 64          # windows per forward pass when measuring the validation loss
LOG_FIELDS = ["channel", "first_step", "last_step", "train_euclidean", "train_cross_entropy",
              "val_euclidean", "val_cross_entropy", "seconds"]


def log_path(model_path, channel: str) -> Path:
    """``MODEL.u.csv`` beside ``MODEL.npz`` (channel "u"): the loss log."""
    model_path = Path(model_path)
    return model_path.with_name(f"{model_path.stem}.{channel}.csv")


def write_log(path, rows: list) -> None:
    """Write the loss log (a CSV of `LOG_FIELDS`), atomically."""
    text = io.StringIO()
    writer = csv.DictWriter(text, LOG_FIELDS)
    writer.writeheader()
    writer.writerows(rows)
    with atomic_path(path) as tmp:
        tmp.write_text(text.getvalue())


def _forward(net, windows, channel, out):
    """(z, target) of ``net`` on uint8 RGB ``windows`` for one chroma channel."""
    y, u, v = targets(windows, out)
    return net.forward(network_input(y)), (u if channel == "u" else v)[:, None]


def _channel_loss(net, windows, channel, loss_name, out):
    """(loss, dz) of ``net`` on uint8 RGB ``windows`` for one chroma channel."""
    return LOSSES[loss_name](*_forward(net, windows, channel, out), *CHROMA_RANGES[channel])


def validation_losses(net, windows, channel, out, batch) -> dict:
    """Mean Euclidean and cross-entropy losses over the validation windows (forward only)."""
    sums = dict.fromkeys(LOSSES, 0.0)
    for first in range(0, len(windows), batch):
        chunk = windows[first:first + batch]
        z, target = _forward(net, chunk, channel, out)
        for name, loss in LOSSES.items():
            sums[name] += loss(z, target, *CHROMA_RANGES[channel])[0] * len(chunk)
    return {name: total / len(windows) for name, total in sums.items()}


def train_channel(channel: str, net: vcnn.Network, data: DataSource, config: TrainConfig, model_path,
                  resume: bool = False, report=None, stop=None, comm: Communicator | None = None,
                  checkpoint=None) -> tuple[list, float]:
    """Train ``net``, the network of one channel ("u" or "v"), in place to ``config.iterations`` steps.

    Saves its checkpoint every ``checkpoint_every`` steps and at the end; on
    ``stop.raised`` (a flag set by SIGINT, if given) it saves and raises :class:`Interrupted`; on
    divergence (a NaN or infinite loss, a loss LOSS_BLOWUP times its early
    values, or a weight beyond MAX_WEIGHT) it raises :class:`TrainingError`
    and leaves the last good checkpoint as it was. ``report(channel, step, loss)`` is called after
    every step. Returns the loss log (rows as in ``MODEL.u.csv``) and the seconds spent.
    With ``resume``, it starts from its checkpoint: ``checkpoint``, the
    (arrays, meta) that :func:`colorize.checkpoints.check_resume` read of it,
    else the file.

    With a communicator of K > 1 ranks (``comm``, default
    :func:`colorize.parallel.world`), every rank calls this with the same
    arguments and each step is spread over them (see the module's notes).
    Interrupted and TrainingError are then raised on every rank at the same
    step: the stop flag and the loss are summed over the ranks before anyone
    acts on them.
    """
    comm = comm or world()
    stop = stop or StopFlag()                      # no flag given: never raised
    lead = comm.rank == 0
    out = output_size(config.specs, config.patch)
    opt = vcnn.SGD(net.parameters(), config.lr, config.momentum, config.weight_decay)
    grads = [grad for _, _, grad in net.parameters()]
    ckpt = checkpoint_path(model_path, channel)
    step, log, elapsed = resume_from(ckpt, net, opt, config, comm, checkpoint) if resume else (0, [], 0.0)
    del checkpoint                                  # copied into net and opt: its arrays can go
    schedule = parse_schedule(config.schedule)
    rows = share_of(config.batch, comm)
    weight = (rows.stop - rows.start) / config.batch    # the losses are means over this rank's rows only
    val = data.validation(config.seed, config.val_patches) if lead else None
    started, first = time.perf_counter() - elapsed, step
    losses = {name: [] for name in LOSSES}      # this log row's training losses, by the loss in force

    first_loss, saved = {}, {"step": step if resume and step else None, "elapsed": elapsed}

    def diverged(what: str) -> TrainingError:
        kept = (f"the checkpoint of step {saved['step']} is kept" if saved["step"] is not None
                else "no checkpoint was written")
        return TrainingError(f"{channel}: training diverged at step {step} ({what}); stopped, {kept}; "
                             f"try a lower --lr")

    def check_weights():
        largest = max(float(np.abs(value).max()) for _, value, _ in net.parameters())
        if not largest <= MAX_WEIGHT:                   # also NaN
            raise diverged(f"a weight reached {largest:.3g}, beyond {MAX_WEIGHT:g}")

    def save():
        check_weights()
        saved["step"], saved["elapsed"] = step, time.perf_counter() - started
        if lead:
            save_checkpoint(ckpt, net, opt, channel, step, config, log, saved["elapsed"], data.fingerprint)

    while step < config.iterations:
        if comm.sum(np.array([stop.raised], np.int32))[0]:         # any rank interrupted: all stop here
            save()
            raise Interrupted(f"{channel} at step {step} (checkpoint {ckpt} saved)")
        loss_name = loss_at(schedule, step)
        opt.lr = config.lr_at(step)
        windows = data.batch(config.seed, step, config.batch)[rows]
        with np.errstate(over="ignore", invalid="ignore"):       # divergence is detected below, in words
            loss, dz = _channel_loss(net, windows, channel, loss_name, out)
        loss = float(comm.sum(np.array([loss * weight]))[0])       # the mean over the whole batch
        if not np.isfinite(loss):
            raise diverged(f"the {loss_name} loss became {loss}")
        seen = first_loss.setdefault(loss_name, [])
        if len(seen) < LOSS_REFERENCE_STEPS:
            seen.append(loss)               # the reference: the largest of the run's first steps of this loss
        elif loss > LOSS_BLOWUP * max(seen) > 0:
            raise diverged(f"the {loss_name} loss reached {loss:.3g}, {loss / max(seen):.0f} times the "
                           f"largest of its first {LOSS_REFERENCE_STEPS} values, {max(seen):.3g}")
        with np.errstate(over="ignore", invalid="ignore"):
            net.backward(dz * np.float32(weight) if comm.size > 1 else dz, need_dx=False)   # the input needs no dX
            sum_gradients(grads, comm)          # Σ over ranks of share-weighted gradients = the batch's gradient
            opt.step()
        step += 1
        check_weights()
        losses[loss_name].append(loss)
        if report and lead:
            report(channel, step, loss)
        if step % config.log_every == 0 or step == config.iterations:
            if lead:
                val_losses = validation_losses(net, val, channel, out, VAL_BATCH)
                log.append({"channel": channel, "first_step": first, "last_step": step - 1,
                            **{f"train_{name}": float(np.mean(values)) if values else ""
                               for name, values in losses.items()},
                            **{f"val_{name}": value for name, value in val_losses.items()},
                            "seconds": round(time.perf_counter() - started, 3)})
                write_log(log_path(model_path, channel), log)
            first, losses = step, {name: [] for name in LOSSES}
        if step % config.checkpoint_every == 0 or step == config.iterations:
            save()
    return log, saved["elapsed"]
