"""The settings of a training run (`TrainConfig`) and how a checkpoint's settings are compared with them.

Everything that decides the weights is a field of `TrainConfig`;
``iterations`` only says where to stop, ``checkpoint_every`` and
``log_every`` only what is written on the way. A checkpoint records the rest
(`TrainConfig.fingerprint`) and resumes only under the same settings.
"""
from __future__ import annotations

import dataclasses
import json
import numbers

import numpy as np

import vcnn
from colorize.losses import parse_schedule
from colorize.model import PATCH, check_long_side, describe_architecture

#: Limits of the options: pairs per step, validation windows (kept in memory, 12 KB each).
MAX_BATCH, MAX_VAL_PATCHES = 4096, 100_000


class TrainingError(RuntimeError):
    """Training cannot go on (diverged, mismatched checkpoint, failed worker)."""


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
NEWER_SETTINGS = ("long_side", "lr_half_life")


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
    saved = {**dict.fromkeys(NEWER_SETTINGS), **saved}
    return [f"{FLAGS.get(name, name)}: checkpoint {source} was made with {_shown(name, saved[name])}, "
            f"given {_shown(name, mine[name])}"
            for name in FLAGS if name in mine and _plain(saved.get(name)) != _plain(mine[name])]


def _plain(value):
    """JSON's view of a value (tuples are lists), to compare a setting with a checkpoint's."""
    return json.loads(json.dumps(value))
