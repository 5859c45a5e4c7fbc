"""What one can ask of inference besides the model, checked once: `InferenceOptions`.

``colorize apply``, ``colorize evaluate`` and the library functions behind
them take the same five options; they travel together as one frozen
dataclass, checked when it is made, so that a bad value is one error before
any model is read or image decoded. `prepare` is the start every command
shares: check the options, then load the model.
"""
from __future__ import annotations

import dataclasses
import os
from numbers import Integral

from colorize.guided_filter import check_parameters
from colorize.model import load_model

#: Guided-filter defaults (SPEC §2): He's radius convention, eps on [0, 1] intensities.
RADIUS, EPS = 40, 1e-4
#: Windows per network call: memory grows with it, the result does not change.
BATCH = 16
#: Limits of the options (against careless or hostile values): windows per
#: call (with the paper's widths a window takes about 6 MB in the network),
#: and the guided filter's radius (any radius beyond the image's side filters
#: as the image's side does).
MAX_BATCH, MAX_RADIUS = 256, 100_000


def check_positive_int(value, name: str) -> int:
    """`value` as an int if it is a whole number >= 1 (not a bool), else a ValueError naming it."""
    if not isinstance(value, Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


@dataclasses.dataclass(frozen=True)
class InferenceOptions:
    """How an image is colorized, besides the model; checked when made (ValueError).

    Attributes
    ----------
    refine : bool
        Apply the guided filter to U and V (guide: the input Y, at full size).
    radius, eps : int >= 0 (at most MAX_RADIUS), float > 0
        The guided filter's window radius and regularisation (checked only when refining).
    batch : int in 1..MAX_BATCH
        Windows per network call: memory, not results.
    equalize : bool
        Feed the network the histogram-equalised Y (`colorize.equalize.equalize`, the paper's
        §5). Only the network sees it: the output keeps the input's Y.

    >>> InferenceOptions(batch=0)
    Traceback (most recent call last):
    ValueError: batch must be an integer >= 1, got 0
    """

    refine: bool = True
    radius: int = RADIUS
    eps: float = EPS
    batch: int = BATCH
    equalize: bool = False

    def __post_init__(self):
        if check_positive_int(self.batch, "batch") > MAX_BATCH:
            raise ValueError(f"batch must be at most {MAX_BATCH} windows per network call, got {self.batch}")
        if self.refine:      # the guided filter's own checks, without running it
            if isinstance(self.radius, Integral) and self.radius > MAX_RADIUS:
                raise ValueError(f"radius must be at most {MAX_RADIUS}, got {self.radius}")
            check_parameters(self.radius, self.eps)


def inference_options(options: InferenceOptions | None = None, **changes) -> InferenceOptions:
    """`options` (default: the defaults) with some fields changed, e.g. ``inference_options(refine=False)``."""
    return dataclasses.replace(options or InferenceOptions(), **changes)


def prepare(model=None, options: InferenceOptions | None = None, **changes):
    """What every command does before its first image: check the options, then load the model.

    Parameters
    ----------
    model : ColorizationModel, a model file's path, a bundled model's name, or None (the default model)
    options, changes : as in `inference_options`

    Returns
    -------
    (model, options)

    Raises
    ------
    ValueError
        On a bad option (before any model is read) or a bad model.
    """
    options = inference_options(options, **changes)
    if model is None or isinstance(model, (str, os.PathLike)):
        model = load_model(model)
    return model, options
