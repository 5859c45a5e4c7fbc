"""Checkpoints: one file per network beside the model, for resuming a run where it stopped.

``MODEL.ckpt-u.npz`` and ``MODEL.ckpt-v.npz`` hold the network's weights,
the SGD velocities and, as JSON, the step, the loss log so far, the seconds
spent, the settings (`TrainConfig.fingerprint`) and the training data's
fingerprint. A resume refuses other settings and other data; checkpoints
serve resuming only (the model is what training returns).
"""
from __future__ import annotations

import numbers
from pathlib import Path

import numpy as np

import vcnn
from colorize.model import CHROMA_RANGES, DEFAULT_ARCH, init_network, named_architecture
from colorize.trainconfig import NEWER_SETTINGS, FLAGS, TrainConfig, TrainingError, setting_differences
from vcnn.modelfile import check_arrays, fill_network, load_arrays, load_meta, network_arrays, save_arrays


def checkpoint_path(model_path, channel: str) -> Path:
    """``MODEL.ckpt-u.npz`` beside ``MODEL.npz`` (channel "u"), ``MODEL.ckpt-v.npz`` (channel "v")."""
    model_path = Path(model_path)
    return model_path.with_name(f"{model_path.stem}.ckpt-{channel}.npz")


def checkpoint_settings(model_path) -> tuple[dict, Path] | None:
    """The settings saved in MODEL's checkpoints (U's, else V's) and that checkpoint, or None without one."""
    for channel in CHROMA_RANGES:
        path = checkpoint_path(model_path, channel)
        if path.exists():
            meta = load_meta(path)              # the settings only: check_resume reads the arrays
            if not isinstance(meta.get("config"), dict):
                raise ValueError(f"checkpoint {path} holds no training settings")
            return {**dict.fromkeys(NEWER_SETTINGS), **meta["config"]}, path
    return None


def make_config(model_path, iterations: int, resume: bool = False, **given) -> TrainConfig:
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


def save_checkpoint(path, net, opt, channel, step, config, log, elapsed, data_fingerprint=None):
    """Write the checkpoint of one network (``channel``) at ``step``, atomically."""
    arrays = {**network_arrays(net, "net."), **opt.state()}
    meta = {"channel": channel, "step": step, "config": config.fingerprint(), "log": log, "elapsed": elapsed}
    if data_fingerprint is not None:
        meta["data_fingerprint"] = data_fingerprint
    save_arrays(path, arrays, meta)


def check_resume(model_path, config: TrainConfig, data, note) -> dict:
    """Before resuming MODEL's checkpoints: refuse what cannot continue, say what is unusual.

    Reads every checkpoint whole and returns what it read, {channel: (arrays,
    meta)}, for the resume (:func:`resume_from`), which then need not read the
    file again. A damaged checkpoint, with a bad CRC, broken deflate data, NaN
    weights or arrays of other shapes, is refused now, not after the other
    network has trained (TrainingError for settings other than ``config``'s).
    Refuses (ValueError) a checkpoint past
    ``config.iterations`` (its weights are those of more steps than asked for) or made on other
    data (its ``data_fingerprint`` differs from `data`'s); tells ``note``
    when there is no checkpoint (training starts at step 0) or when one made
    before fingerprints were recorded cannot be checked.
    """
    found = {c: checkpoint_path(model_path, c) for c in CHROMA_RANGES if checkpoint_path(model_path, c).exists()}
    if not found:
        note(f"--resume: no checkpoint of {model_path} ({checkpoint_path(model_path, 'u').name}) found; "
             f"training starts at step 0")
        return {}
    contents = {}
    older = None                                # older versions' fingerprint: hashes every pair, so once if at all
    for channel, path in found.items():
        net = init_network(config.specs, config.seed, channel)  # a scratch network, to check every array
        contents[channel] = load_arrays(path)
        opt = vcnn.SGD(net.parameters(), config.lr, config.momentum)
        meta = _read_checkpoint(path, net, opt, config, contents[channel])
        if meta["step"] > config.iterations:
            raise ValueError(f"checkpoint {path} is at step {meta['step']}, past --iterations "
                             f"{config.iterations}: give --iterations {meta['step']} or more to continue it")
        saved = meta.get("data_fingerprint")
        if saved is None:
            note(f"checkpoint {path.name} does not record its training data (made by an older version): "
                 f"resuming on {data_path_of(data)} unchecked")
        elif saved != data.fingerprint:
            older = older or _content_fingerprint(data)
            if saved != older:
                raise ValueError(f"checkpoint {path} was trained on other data than {data_path_of(data)} "
                                 f"(fingerprint {saved[:12]}, this data {data.fingerprint[:12]}); "
                                 f"resume on the same data, or start a new model")
    return contents


def _content_fingerprint(data) -> str | None:
    """The fingerprint older versions recorded for shards (a hash of every pair), or None."""
    older = getattr(data, "content_fingerprint", None)
    return older() if older else None


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


def load_checkpoint(path, net, opt, config, contents=None):
    """Fill ``net`` and ``opt`` from a checkpoint made with ``config``'s settings; (step, log, elapsed).

    ``contents``: the checkpoint's (arrays, meta) if already read from ``path``; else the file is read.
    """
    meta = _read_checkpoint(path, net, opt, config, contents)
    return meta["step"], meta["log"], meta["elapsed"]


def _read_checkpoint(path, net, opt, config, contents=None) -> dict:
    """Fill ``net`` and ``opt`` from the checkpoint (``contents``, else the file), every array and field checked.

    Returns its metadata.
    """
    arrays, meta = contents or load_arrays(path)
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
    return meta


def resume_from(ckpt, net, opt, config, comm, contents=None) -> tuple[int, list, float]:
    """(step, log, elapsed) of the checkpoint, or (0, [], 0.0) without one.

    Rank 0 reads it (or takes ``contents``, what :func:`check_resume` read)
    and sends its arrays to every rank (the other ranks need not see the
    file), so that all start from the same state; an error reading it is
    raised on every rank.
    """
    found = None
    if comm.rank == 0 and (contents is not None or ckpt.exists()):
        try:
            found = load_checkpoint(ckpt, net, opt, config, contents)
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
