"""Training the U and V networks of a `ColorizationModel`: ``colorize train`` as one function.

The two networks share nothing, so they train one after the other
(:func:`colorize.loop.train_channel`), or at once in two processes
(``jobs=2``, :mod:`colorize.processes`) that send their weights back; under
``mpiexec -n K`` each step of each is spread over the K ranks. Training fills
the model's own networks and returns it with its loss logs; rank 0 writes it.

Files beside ``MODEL.npz``: ``MODEL.ckpt-u.npz`` and ``MODEL.ckpt-v.npz``
(checkpoints, for resuming: :mod:`colorize.checkpoints`), ``MODEL.u.csv`` and
``MODEL.v.csv`` (the loss logs: :mod:`colorize.loop`).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from colorize.batch import check_output
from colorize.checkpoints import check_resume, checkpoint_path, make_config
from colorize.images import skipped_gray
from colorize.loop import log_path, train_channel
from colorize.model import CHROMA_RANGES, ColorizationModel, init_network
from colorize.parallel import Communicator, world
from colorize.processes import Interrupted, StopFlag, run_in_processes, sigint_sets
from colorize.sources import DataSource, open_data
from colorize.trainconfig import MAX_BATCH, MAX_VAL_PATCHES, TrainConfig, TrainingError
from vcnn.modelfile import fill_network, network_arrays

__all__ = ["train", "Trained", "TrainConfig", "TrainingError", "Interrupted", "make_config", "log_path",
           "checkpoint_path", "MAX_BATCH", "MAX_VAL_PATCHES"]


@dataclasses.dataclass
class Trained:
    """What `train` returns: the model (also written to its file) and each channel's loss log
    (``{"u": rows, "v": rows}``, the rows of ``MODEL.u.csv`` and ``MODEL.v.csv`` as dicts)."""
    model: ColorizationModel
    logs: dict


def _train_in_worker(channel, data, config, model_path, resume, checkpoint, report, stop) -> tuple[dict, list, float]:
    """One channel in a worker process: its trained weights (as arrays), loss log and seconds."""
    net = init_network(config.specs, config.seed, channel)
    log, seconds = train_channel(channel, net, data, config, model_path, resume, report, stop, checkpoint=checkpoint)
    return network_arrays(net), log, seconds


def _train_in_processes(model, data, config, model_path, resume, checkpoints, report) -> dict:
    """Both channels at once, one process each; fills ``model``'s networks; channel -> (log, seconds)."""
    data.fingerprint                        # hashed once, here: the workers receive it with the data
    jobs = {c: (c, data, config, model_path, resume, checkpoints.pop(c, None)) for c in CHROMA_RANGES}
    outcomes = run_in_processes(_train_in_worker, jobs, report,
                                expected=(Interrupted, TrainingError, ValueError, OSError))
    errors = [value for kind, value in outcomes.values() if kind == "error"]
    if errors:                                  # the other worker was stopped: say where
        raise TrainingError("; ".join(errors + [f"stopped {value}" for kind, value in outcomes.values()
                                                if kind == "interrupted"]))
    if any(kind == "interrupted" for kind, _ in outcomes.values()):
        raise Interrupted("; ".join(value for kind, value in outcomes.values() if kind == "interrupted"))
    results = {}
    for channel, (_, (arrays, log, seconds)) in outcomes.items():
        fill_network(model.nets[channel], arrays)
        results[channel] = log, seconds
    return results


def _check_outputs(data_path, model_path: Path, overwrite: bool) -> None:
    """Refuse, before any work, to write the model, its checkpoints or logs over the data or an existing model."""
    data_path = Path(data_path)
    inputs = [f for f in data_path.iterdir() if f.is_file()] if data_path.is_dir() else [data_path]
    check_output(model_path, inputs, overwrite, what="model file")
    for channel in CHROMA_RANGES:
        for path in (checkpoint_path(model_path, channel), log_path(model_path, channel)):
            check_output(path, inputs, overwrite=True, what="training file", probe=False)


def _check_arguments(model_path: Path, config: TrainConfig, resume: bool, jobs: int, comm: Communicator) -> list:
    """Refuse arguments that cannot train; return the model's existing checkpoints."""
    if not model_path.parent.is_dir():
        raise ValueError(f"folder {model_path.parent} of the model file does not exist")
    if model_path.suffix != ".npz":
        raise ValueError(f"the model file must end in .npz, got {model_path}")
    if jobs not in (1, 2):
        raise ValueError(f"jobs must be 1 or 2 (one process per network), got {jobs}")
    if comm.size > 1 and jobs != 1:
        raise ValueError(f"--jobs {jobs} does not combine with mpiexec: under MPI the two networks train "
                         f"one after the other, each spread over all {comm.size} ranks; leave --jobs out")
    if comm.size > config.batch:
        raise ValueError(f"the batch ({config.batch}) must be at least the number of MPI ranks ({comm.size}): "
                         f"every rank takes a share of it")
    existing = [checkpoint_path(model_path, c) for c in CHROMA_RANGES if checkpoint_path(model_path, c).exists()]
    if existing and not resume:
        raise ValueError(f"checkpoint {existing[0]} exists: pass --resume to continue it, or remove it")
    return existing


def train(data_path, model_path, config: TrainConfig, resume: bool = False, jobs: int = 1,
          report=None, comm: Communicator | None = None, overwrite: bool = False,
          note=None) -> Trained | None:
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
    Trained (the model, at the data's scale, and the loss logs), or None on the ranks other than 0

    Raises
    ------
    TrainingError, Interrupted, ValueError
    """
    model_path, comm = Path(model_path), comm or world()
    existing = _check_arguments(model_path, config, resume, jobs, comm)
    _check_outputs(data_path, model_path, overwrite or (resume and bool(existing)))
    report = report or (lambda channel, step, loss: None)
    data: DataSource = open_data(data_path, config.patch, config.long_side)
    if note and comm.rank == 0 and data.description.get("gray_skipped"):
        note(skipped_gray(data.description["gray_skipped"]))
    checkpoints = {}                            # what check_resume read, handed on (popped): not read again
    if resume and comm.rank == 0:
        checkpoints = check_resume(model_path, config, data, note or (lambda line: None))
    model = ColorizationModel(config.specs, config.patch, rng=config.seed, long_side=data.description.get("long_side"))
    if jobs == 2:
        results = _train_in_processes(model, data, config, model_path, resume, checkpoints, report)
    else:
        with sigint_sets(StopFlag()) as flag:
            results = {c: train_channel(c, net, data, config, model_path, resume, report, flag, comm,
                                        checkpoints.pop(c, None)) for c, net in model.nets.items()}
    if comm.rank:
        return None
    final = {c: {**(log[-1] if log else {}), "seconds": round(seconds, 1)} for c, (log, seconds) in results.items()}
    model.meta = {"training": {**config.fingerprint(), "iterations": config.iterations, "final": final},
                  "data": data.description}
    model.save(model_path)
    return Trained(model, {c: log for c, (log, _) in results.items()})
