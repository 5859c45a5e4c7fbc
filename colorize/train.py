"""Training the U and V networks: plain SGD with the paper's alternating losses.

Each channel trains on its own (:func:`train_channel`), so the two can run in
two processes (``jobs=2``). Everything a step depends on is a function of
(seed, step): the batch (see :mod:`colorize.patches`), the loss in force (the
cycled schedule), and the state saved in the checkpoint (weights, SGD
velocities, step). Hence the same arguments give the same weights bit for
bit, and a run interrupted and resumed ends where an uninterrupted one does.

Under ``mpiexec -n K`` (see :mod:`colorize.parallel`) each step is spread over
the K ranks, synchronous data-parallel SGD: every rank draws the same global
batch of (seed, step), takes its share of rows, and computes the gradient of
its share weighted by share/batch; the sum of these over the ranks
(``Allreduce``) is the gradient of the mean over the whole batch, and every
rank applies the same update to the same weights. So K ranks reach the
weights of one process, up to the float32 rounding of another summation
order. Rank 0 alone validates, reports, and writes logs, checkpoints and the
model; the others write nothing.

Files beside ``MODEL.npz``: ``MODEL.ckpt-u.npz`` and ``MODEL.ckpt-v.npz``
(checkpoints, written atomically), ``MODEL.u.csv`` and ``MODEL.v.csv`` (the
loss log, one row per ``log_every`` steps).
"""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import multiprocessing
import numbers
import os
import queue as queue_module
import signal
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

import vcnn
from colorize.batch import check_output
from colorize.images import skipped_gray
from colorize.model import (CHROMA_RANGES, DEFAULT_ARCH, PATCH, ColorizationModel, check_long_side,
                            describe_architecture, init_network, named_architecture, network_input, output_size)
from colorize.losses import LOSSES, loss_at, parse_schedule
from colorize.parallel import Communicator, share_of, sum_gradients, world
from colorize.patches import open_data, targets
from vcnn.atomic import atomic_path
from vcnn.modelfile import check_arrays, fill_network, load_arrays, network_arrays, save_arrays


#: Training has diverged when a weight's magnitude passes MAX_WEIGHT (trained weights stay
#: near 1: inputs are in [-0.5, 0.5] and the outputs go through a sigmoid) or a loss passes
#: LOSS_BLOWUP times the largest of its first LOSS_REFERENCE_STEPS values in the run (one lucky
#: near-gray batch is no reference): it is stopped, not saved.
MAX_WEIGHT, LOSS_BLOWUP, LOSS_REFERENCE_STEPS = 1e4, 100.0, 10
#: Limits of the options: pairs per step, validation windows (kept in memory, 12 KB each).
MAX_BATCH, MAX_VAL_PATCHES = 4096, 100_000


class TrainingError(RuntimeError):
    """Training cannot go on (diverged, mismatched checkpoint, failed worker)."""


class Interrupted(RuntimeError):
    """Training stopped on SIGINT after saving its checkpoints."""


@dataclasses.dataclass
class TrainConfig:
    """Everything that decides the weights (``iterations`` only says where to stop).

    The defaults are the bundled default model's recipe (with ``specs`` of
    ``colorize.model.named_architecture("deep8")``): SGD with momentum 0.9 at
    rate 3, halved every 8,000 steps, batches of 16.
    """
    specs: list
    iterations: int
    batch: int = 16
    lr: float = 3.0
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "euclidean:100,cross_entropy:100"
    seed: int = 0
    patch: int = PATCH
    checkpoint_every: int = 500
    log_every: int = 50
    val_patches: int = 64
    long_side: int | None = None    # photos shrunk to this long side (the model's working scale)
    lr_half_life: int | None = 8000  # steps over which the learning rate halves (None: constant)

    def __post_init__(self):
        for name in ("iterations", "batch", "checkpoint_every", "log_every", "val_patches"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name, limit in (("batch", MAX_BATCH), ("val_patches", MAX_VAL_PATCHES)):
            if getattr(self, name) > limit:
                raise ValueError(f"{name} must be at most {limit}, got {getattr(self, name)}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, numbers.Integral) or self.seed < 0:
            raise ValueError(f"seed must be a whole number >= 0, got {self.seed!r}")
        for name in ("lr", "momentum", "weight_decay"):
            if not np.isfinite(getattr(self, name)):
                raise ValueError(f"{name} must be a finite number, got {getattr(self, name)}")
        if self.lr * self.weight_decay >= 1:
            raise ValueError(f"lr x weight_decay must be below 1 (each step shrinks every weight by that "
                             f"fraction), got {self.lr} x {self.weight_decay}")
        if self.lr_half_life is not None and self.lr_half_life < 1:
            raise ValueError(f"the learning rate's half-life must be at least 1 step, got {self.lr_half_life}")
        parse_schedule(self.schedule)
        check_long_side(self.long_side)
        vcnn.SGD([], self.lr, self.momentum, self.weight_decay)     # validates the solver settings

    def fingerprint(self) -> dict:
        """What a checkpoint must share with the run that resumes it (a constant
        learning rate is left out, as in checkpoints made before it could decay)."""
        return {k: v for k, v in dataclasses.asdict(self).items()
                if k not in ("iterations", "checkpoint_every", "log_every")
                and not (k == "lr_half_life" and v is None)}

    def lr_at(self, step: int) -> float:
        """The learning rate of step ``step``: ``lr``, halved every ``lr_half_life`` steps, smoothly."""
        return self.lr if self.lr_half_life is None else self.lr * 0.5 ** (step / self.lr_half_life)


#: The command-line flag of each setting a checkpoint fixes (`TrainConfig.fingerprint`).
FLAGS = {"specs": "--arch", "batch": "--batch", "lr": "--lr", "momentum": "--momentum",
         "weight_decay": "--weight-decay", "schedule": "--schedule", "seed": "--seed", "patch": "patch",
         "val_patches": "--val-patches", "long_side": "--long-side", "lr_half_life": "--lr-half-life"}
#: Settings a checkpoint made before they existed leaves out: they were None then.
_NEWER_SETTINGS = ("long_side", "lr_half_life")


def _shown(name: str, value) -> str:
    """A setting as a user writes it on the command line."""
    if name == "specs":
        return describe_architecture(value)
    if name == "lr_half_life" and value is None:
        return "none (a constant rate)"
    return "none" if value is None else str(value)


def setting_differences(saved: dict, config: "TrainConfig", source) -> list[str]:
    """One phrase per setting where a checkpoint's fingerprint ``saved`` and ``config`` differ, naming
    the flag, the checkpoint's value and the given one."""
    mine = dataclasses.asdict(config)
    saved = {**dict.fromkeys(_NEWER_SETTINGS), **saved}
    return [f"{FLAGS.get(name, name)}: checkpoint {source} was made with {_shown(name, saved[name])}, "
            f"given {_shown(name, mine[name])}"
            for name in FLAGS if name in mine and _plain(saved.get(name)) != _plain(mine[name])]


def _plain(value):
    """JSON's view of a value (tuples are lists), to compare a setting with a checkpoint's."""
    return json.loads(json.dumps(value))


def checkpoint_settings(model_path) -> tuple[dict, Path] | None:
    """The settings saved in MODEL's checkpoints (U's, else V's) and that checkpoint, or None without one."""
    for channel in CHROMA_RANGES:
        path = checkpoint_path(model_path, channel)
        if path.exists():
            _, meta = load_arrays(path)
            if not isinstance(meta.get("config"), dict):
                raise ValueError(f"checkpoint {path} holds no training settings")
            return {**dict.fromkeys(_NEWER_SETTINGS), **meta["config"]}, path
    return None


def make_config(model_path, iterations: int, resume: bool = False, **given) -> "TrainConfig":
    """The `TrainConfig` of a run from the settings given (a value of None: not given).

    A setting not given is the recipe's default (`TrainConfig`'s, and the
    architecture `colorize.model.DEFAULT_ARCH`), or with
    ``resume`` the checkpoint's, so that ``--resume`` needs no option but
    ``--iterations``; ``lr_half_life=0`` asks for a constant rate. A given one that differs from the checkpoint's raises
    a TrainingError naming the flag, the checkpoint's value and the given one.

    >>> make_config("none.npz", 10, specs=[{"type": "conv", "c_in": 1, "c_out": 1, "k": 1}], lr=1.0).lr
    1.0
    """
    given = {name: value for name, value in given.items() if value is not None}
    if given.get("lr_half_life") == 0:
        given["lr_half_life"] = None                # given as 0: a constant rate
    found = checkpoint_settings(model_path) if resume else None
    if found is None:
        return TrainConfig(iterations=iterations, **{"specs": named_architecture(DEFAULT_ARCH), **given})
    saved, path = found
    settings = {name: saved[name] for name in FLAGS if name in saved}
    config = TrainConfig(iterations=iterations, **{**settings, **given})
    differences = setting_differences(saved, config, path.name)
    if differences:
        raise TrainingError("; ".join(differences) + " (leave an option out to keep the checkpoint's value)")
    return config


def checkpoint_path(model_path, channel: str) -> Path:
    model_path = Path(model_path)
    return model_path.with_name(f"{model_path.stem}.ckpt-{channel}.npz")


def log_path(model_path, channel: str) -> Path:
    model_path = Path(model_path)
    return model_path.with_name(f"{model_path.stem}.{channel}.csv")


VAL_BATCH = 64          # windows per forward pass when measuring the validation loss
LOG_FIELDS = ["channel", "first_step", "last_step", "train_euclidean", "train_cross_entropy",
              "val_euclidean", "val_cross_entropy", "seconds"]


class _StopFlag:
    """Set by SIGINT; training looks at it between steps, never in the middle of one."""
    raised = False


class _ChildStopFlag(_StopFlag):
    """A worker's flag: also raised when its parent is gone, so no orphan trains on."""

    def __init__(self):
        self.parent = os.getppid()
        self.signalled = False

    @property
    def raised(self):
        return self.signalled or os.getppid() != self.parent

    @raised.setter
    def raised(self, value):
        self.signalled = value


@contextmanager
def sigint_sets(flag, forward_to=()):
    """While inside, SIGINT sets ``flag.raised`` (and is passed on to the processes ``forward_to``)."""
    def handler(signum, frame):
        flag.raised = True
        for proc in forward_to:
            if proc.pid and proc.is_alive():
                os.kill(proc.pid, signal.SIGINT)
    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


def _save_checkpoint(path, net, opt, channel, step, config, log, elapsed, data_fingerprint=None):
    arrays = {**network_arrays(net, "net."), **opt.state()}
    meta = {"channel": channel, "step": step, "config": config.fingerprint(), "log": log, "elapsed": elapsed}
    if data_fingerprint is not None:
        meta["data_fingerprint"] = data_fingerprint
    save_arrays(path, arrays, meta)


def check_resume(model_path, config: "TrainConfig", data, note) -> None:
    """Before resuming MODEL's checkpoints: refuse what cannot continue, say what is unusual.

    Refuses (ValueError) a checkpoint past ``config.iterations``
    (its weights are those of more steps than asked for) or made on other
    data (its ``data_fingerprint`` differs from `data`'s); tells ``note``
    when there is no checkpoint (training starts at step 0) or when one made
    before fingerprints were recorded cannot be checked.
    """
    found = [checkpoint_path(model_path, c) for c in CHROMA_RANGES if checkpoint_path(model_path, c).exists()]
    if not found:
        note(f"--resume: no checkpoint of {model_path} ({checkpoint_path(model_path, 'u').name}) found; "
             f"training starts at step 0")
        return
    for path in found:
        _, meta = load_arrays(path)
        _check_checkpoint_meta(meta, path)
        if meta["step"] > config.iterations:
            raise ValueError(f"checkpoint {path} is at step {meta['step']}, past --iterations {config.iterations}: "
                             f"give --iterations {meta['step']} or more to continue it")
        saved = meta.get("data_fingerprint")
        if saved is None:
            note(f"checkpoint {path.name} does not record its training data (made by an older version): "
                 f"resuming on {data_path_of(data)} unchecked")
        elif saved != data.fingerprint:
            raise ValueError(f"checkpoint {path} was trained on other data than {data_path_of(data)} "
                                f"(fingerprint {saved[:12]}, this data {data.fingerprint[:12]}); "
                                f"resume on the same data, or start a new model")


def data_path_of(data) -> str:
    """The data's folder or paths, as the user gave them, for messages."""
    return str(data.description.get("folder") or ", ".join(data.description.get("paths") or []))


def _check_checkpoint_meta(meta: dict, path) -> None:
    """Raise ValueError naming the field unless the checkpoint's metadata has the types training relies on."""
    fields = {"step": numbers.Integral, "log": list, "elapsed": numbers.Real, "config": dict}
    for name, kind in fields.items():
        value = meta.get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ValueError(f"checkpoint {path}: field {name!r} must be {kind.__name__.lower()}, "
                             f"got {str(value)[:60]!r}")
    if meta["step"] < 0 or not np.isfinite(meta["elapsed"]) or not all(isinstance(row, dict) for row in meta["log"]):
        raise ValueError(f"checkpoint {path}: a negative step, a non-finite time or a log row that is not a dict")


def _load_checkpoint(path, net, opt, config):
    arrays, meta = load_arrays(path)
    _check_checkpoint_meta(meta, path)
    if meta.get("config") != config.fingerprint():
        differences = setting_differences(meta.get("config") or {}, config, path) or [
            f"checkpoint {path} was made with other settings"]
        raise TrainingError("; ".join(differences) + "; resume with the same settings")
    expected = {**{k: v.shape for k, v in network_arrays(net, "net.").items()},
                **{k: v.shape for k, v in opt.state().items()}}
    check_arrays(arrays, expected, path)
    fill_network(net, arrays, "net.")
    opt.load_state(arrays)
    return meta["step"], meta["log"], meta["elapsed"]


def _write_log(path, rows):
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


def _resume(ckpt, net, opt, config, comm):
    """(step, log, elapsed) of the checkpoint, or (0, [], 0.0) without one.

    Rank 0 reads it and sends its arrays to every rank (the other ranks need
    not see the file), so that all start from the same state; an error
    reading it is raised on every rank.
    """
    found = None
    if comm.rank == 0 and ckpt.exists():
        try:
            found = _load_checkpoint(ckpt, net, opt, config)
        except (TrainingError, ValueError, OSError) as e:
            found = e
    found = comm.share(found)
    if isinstance(found, Exception):
        raise found
    if found is None:
        return 0, [], 0.0
    for value in [value for _, value, _ in net.parameters()] + list(opt.velocity.values()):
        comm.broadcast(value)
    return found


def train_channel(channel, data, config: TrainConfig, model_path, resume=False, report=None, stop=None,
                  comm: Communicator | None = None):
    """Train the network of one channel ("u" or "v") to ``config.iterations`` steps.

    Saves its checkpoint every ``checkpoint_every`` steps and at the end; on
    ``stop.raised`` (a flag set by SIGINT, if given) it saves and raises :class:`Interrupted`; on
    divergence (a NaN or infinite loss, a loss LOSS_BLOWUP times its early
    values, or a weight beyond MAX_WEIGHT) it raises :class:`TrainingError`
    and leaves the last good checkpoint as it was. ``report(channel, step, loss)`` is called after
    every step.

    With a communicator of K > 1 ranks (``comm``, default
    :func:`colorize.parallel.world`), every rank calls this with the same
    arguments and each step is spread over them (see the module's notes).
    Interrupted and TrainingError are then raised on every rank at the same
    step: the stop flag and the loss are summed over the ranks before anyone
    acts on them.
    """
    comm = comm or world()
    stop = stop or _StopFlag()                      # no flag given: never raised
    lead = comm.rank == 0
    out = output_size(config.specs, config.patch)
    net = init_network(config.specs, config.seed, channel)
    opt = vcnn.SGD(net.parameters(), config.lr, config.momentum, config.weight_decay)
    grads = [grad for _, _, grad in net.parameters()]
    ckpt = checkpoint_path(model_path, channel)
    step, log, elapsed = _resume(ckpt, net, opt, config, comm) if resume else (0, [], 0.0)
    schedule = parse_schedule(config.schedule)
    rows = share_of(config.batch, comm)
    weight = (rows.stop - rows.start) / config.batch    # the losses are means over this rank's rows only
    val = data.validation(config.seed, config.val_patches) if lead else None
    started, first = time.perf_counter() - elapsed, step
    losses = {name: [] for name in LOSSES}      # this log row's training losses, by the loss in force

    first_loss, saved = {}, {"step": step if resume and step else None}

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
        if lead:
            _save_checkpoint(ckpt, net, opt, channel, step, config, log, time.perf_counter() - started,
                             data.fingerprint)
        saved["step"] = step

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
                _write_log(log_path(model_path, channel), log)
            first, losses = step, {name: [] for name in LOSSES}
        if step % config.checkpoint_every == 0 or step == config.iterations:
            save()
    return log


def _worker(channel, data_path, config, model_path, resume, messages):
    """One channel in a child process; everything it has to say goes through ``messages``."""
    flag = _ChildStopFlag()
    with sigint_sets(flag):
        try:
            data = open_data(data_path, config.patch, config.long_side)
            train_channel(channel, data, config, model_path, resume,
                          lambda c, s, loss: messages.put(("step", c, s, loss)), flag)
            messages.put(("done", channel, None, None))
        except (Interrupted, TrainingError, ValueError, OSError) as e:
            messages.put(("interrupted" if isinstance(e, Interrupted) else "error", channel, str(e), None))


@contextmanager
def _single_threaded_children():
    """Two training processes on two cores: one BLAS and one Numba thread each."""
    names = ["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"]
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(dict.fromkeys(names, "1"))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _train_parallel(data_path, config, model_path, resume, report):
    ctx = multiprocessing.get_context("spawn")
    messages = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(c, data_path, config, model_path, resume, messages), daemon=True)
             for c in CHROMA_RANGES]
    with _single_threaded_children():
        for proc in procs:
            proc.start()
    outcomes = {}
    with sigint_sets(_StopFlag(), forward_to=procs):
        while len(outcomes) < len(procs):
            try:
                kind, channel, value, loss = messages.get(timeout=0.5)
            except queue_module.Empty:
                dead = [p for p, c in zip(procs, CHROMA_RANGES) if not p.is_alive() and c not in outcomes]
                if dead and messages.empty():
                    raise TrainingError(f"a training process died (exit code {dead[0].exitcode})") from None
                continue
            if kind == "step":
                report(channel, value, loss)
            else:
                outcomes[channel] = (kind, value)
        for proc in procs:
            proc.join()
    errors = [value for kind, value in outcomes.values() if kind == "error"]
    if errors:
        raise TrainingError("; ".join(errors))
    if any(kind == "interrupted" for kind, _ in outcomes.values()):
        raise Interrupted("; ".join(value for kind, value in outcomes.values() if kind == "interrupted"))


def assemble(model_path, config: TrainConfig, data_description: dict) -> ColorizationModel:
    """Put the two finished channel checkpoints together into the model file; it works at
    the scale of the data (``data_description["long_side"]``)."""
    model = ColorizationModel(config.specs, config.patch, long_side=data_description.get("long_side"))
    logs = {}
    for channel, net in model.nets.items():
        ckpt = checkpoint_path(model_path, channel)
        arrays, meta = load_arrays(ckpt)
        fill_network(net, arrays, "net.")
        logs[channel] = meta["log"][-1] if meta["log"] else {}
        logs[channel]["seconds"] = round(meta["elapsed"], 1)
    model.meta = {"training": {**config.fingerprint(), "iterations": config.iterations,
                               "final": logs}, "data": data_description}
    model.save(model_path)
    return model


def _check_outputs(data_path, model_path: Path, overwrite: bool) -> None:
    """Refuse, before any work, to write the model, its checkpoints or logs over the data or an existing model."""
    data_path = Path(data_path)
    inputs = [f for f in data_path.iterdir() if f.is_file()] if data_path.is_dir() else [data_path]
    check_output(model_path, inputs, overwrite, what="model file")
    for channel in CHROMA_RANGES:
        for path in (checkpoint_path(model_path, channel), log_path(model_path, channel)):
            check_output(path, inputs, overwrite=True, what="training file", probe=False)


def train(data_path, model_path, config: TrainConfig, resume: bool = False, jobs: int = 1,
          report=None, comm: Communicator | None = None, overwrite: bool = False,
          note=None) -> ColorizationModel | None:
    """Train both networks on ``data_path`` (shard folder or photos) and write ``model_path``.

    Parameters
    ----------
    data_path : folder of shards, folder of photos, or one photo
    model_path : the .npz to write; checkpoints and logs go beside it
        Never one of the data's files; an existing file is replaced only
        with `overwrite`, or when resuming its checkpoints (checked before
        the data is read).
    config : TrainConfig
    resume : bool
        Continue from the checkpoints that belong to ``model_path`` (up to
        ``config.iterations`` steps in total); without it, existing
        checkpoints are refused rather than overwritten.
    jobs : 1 or 2
        2 trains U and V in two processes at once (not under MPI).
    report : callable(channel, step, loss), optional
        Called on rank 0 only.
    comm : Communicator, optional
        Default :func:`colorize.parallel.world`: under ``mpiexec -n K`` every
        rank calls ``train`` with the same arguments and each step is spread
        over the K ranks; U is trained, then V.
    overwrite : bool
        Replace an existing model file.
    note : callable(str), optional
        Told what is worth knowing but not an error (``--resume`` found no
        checkpoint, an old checkpoint without a data fingerprint, gray
        photos skipped); default: silence. Rank 0 only.

    Returns
    -------
    ColorizationModel, or None on the ranks other than 0

    Raises
    ------
    TrainingError, Interrupted, ValueError
    """
    model_path = Path(model_path)
    if not model_path.parent.is_dir():
        raise ValueError(f"folder {model_path.parent} of the model file does not exist")
    if model_path.suffix != ".npz":
        raise ValueError(f"the model file must end in .npz, got {model_path}")
    if jobs not in (1, 2):
        raise ValueError(f"jobs must be 1 or 2 (one process per network), got {jobs}")
    comm = comm or world()
    if comm.size > 1 and jobs != 1:
        raise ValueError(f"--jobs {jobs} does not combine with mpiexec: under MPI the two networks train "
                         f"one after the other, each spread over all {comm.size} ranks; leave --jobs out")
    if comm.size > config.batch:
        raise ValueError(f"the batch ({config.batch}) must be at least the number of MPI ranks ({comm.size}): "
                         f"every rank takes a share of it")
    existing = [checkpoint_path(model_path, c) for c in CHROMA_RANGES if checkpoint_path(model_path, c).exists()]
    if existing and not resume:
        raise ValueError(f"checkpoint {existing[0]} exists: pass --resume to continue it, or remove it")
    _check_outputs(data_path, model_path, overwrite or (resume and bool(existing)))
    report = report or (lambda channel, step, loss: None)
    data = open_data(data_path, config.patch, config.long_side)
    if note and comm.rank == 0 and data.description.get("gray_skipped"):
        note(skipped_gray(data.description["gray_skipped"]))
    if resume and comm.rank == 0:
        check_resume(model_path, config, data, note or (lambda line: None))
    if jobs == 2:
        _train_parallel(data_path, config, model_path, resume, report)
    else:
        with sigint_sets(_StopFlag()) as flag:
            for channel in CHROMA_RANGES:
                train_channel(channel, data, config, model_path, resume, report, flag, comm)
    return assemble(model_path, config, data.description) if comm.rank == 0 else None
