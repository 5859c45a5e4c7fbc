"""Loss curves: the training logs smoothed, and drawn as a picture.

`colorize train` logs one CSV row per ``--log-every`` steps and channel
(``MODEL.u.csv``, ``MODEL.v.csv``, see :mod:`colorize.train`): the mean
training loss of those steps, under the loss then in force (Euclidean or
cross-entropy: the paper alternates them), and both validation losses.
`plot_logs` draws them, one panel per loss, with the steps where the
cross-entropy loss was in force shaded (when the phases are at least a
logged step long: the title says when they are not), in grey when every log
has the same phases, else each log's in a tint of its own colour; each curve
is smoothed as TensorBoard smooths its scalars: a running mean (exponential,
debiased).
Drawing needs matplotlib, an optional extra (``pip install
'vcnn-colorize[plot]'``); the smoothing does not.
"""
from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from vcnn.atomic import atomic_path

#: How much of the past a running mean keeps (TensorBoard's default slider is 0.6).
SMOOTHING = 0.6
LOSS_NAMES = {"euclidean": "Euclidean loss", "cross_entropy": "cross-entropy loss"}
#: Opacity of a log's own colour where it shades its cross-entropy phases (logs of different schedules).
SHADE_ALPHA = 0.15
INSTALL_HINT = "pip install 'vcnn-colorize[plot]'"


class RunningMean:
    """A running mean of a stream: ``m_t = w·m_{t−1} + (1 − w)·x_t``, divided by ``1 − w^t``
    so that the first values are not pulled towards 0 (TensorBoard's smoothing).

    >>> mean = RunningMean(0.5)
    >>> [round(mean.update(x), 4) for x in (2.0, 4.0)]
    [2.0, 3.3333]
    """

    def __init__(self, weight: float = SMOOTHING):
        if not 0 <= weight < 1:
            raise ValueError(f"smoothing must be in [0, 1), got {weight}")
        self.weight, self.total, self.count = weight, 0.0, 0

    def update(self, value: float) -> float:
        self.total = self.weight * self.total + (1 - self.weight) * value
        self.count += 1
        return self.value

    @property
    def value(self) -> float:
        return self.total / (1 - self.weight ** self.count) if self.count else float("nan")


def running_mean(values, weight: float = SMOOTHING) -> np.ndarray:
    """`RunningMean` over a sequence; NaN (a row without that loss) is skipped and stays NaN.

    >>> running_mean([1.0, float("nan"), 3.0], 0.5).round(3).tolist()
    [1.0, nan, 2.333]
    """
    mean = RunningMean(weight)
    return np.array([v if np.isnan(v) else mean.update(v) for v in np.asarray(values, float)])


def read_log(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """A training log as columns of floats (an empty cell is NaN); raises ValueError if it is not one."""
    path = Path(path)
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"cannot read loss log {path}: {getattr(e, 'strerror', None) or e}") from None
    needed = ["last_step"] + [f"{kind}_{name}" for kind in ("train", "val") for name in LOSS_NAMES]
    if not rows or any(name not in rows[0] for name in needed):
        raise ValueError(f"{path} is not a loss log of 'colorize train' (a CSV with the columns "
                         f"{', '.join(needed)})")
    try:
        return {name: np.array([float(row[name]) if row[name] not in ("", None) else np.nan for row in rows])
                for name in needed}
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None


def log_files(paths) -> list[Path]:
    """Loss logs from files and model paths: ``my.npz`` (or ``my``) stands for ``my.u.csv`` and ``my.v.csv``."""
    found = []
    for path in map(Path, paths):
        if path.suffix == ".csv":
            found.append(path)
            continue
        stem = path.with_suffix("") if path.suffix == ".npz" else path
        logs = [stem.with_name(f"{stem.name}.{channel}.csv") for channel in "uv"]
        logs = [log for log in logs if log.exists()]
        if not logs:
            raise ValueError(f"no loss log for {path}: expected {stem.name}.u.csv or {stem.name}.v.csv "
                             f"beside it, or give the .csv files")
        found += logs
    return found


def _pyplot():
    """matplotlib's pyplot, drawing to files only; a one-line ImportError saying how to get it."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(f"drawing loss curves needs matplotlib: {INSTALL_HINT}") from None
    return plt


def plot_logs(paths, out: str | os.PathLike, smoothing: float = SMOOTHING) -> Path:
    """Draw loss logs into a PNG: one panel per loss, training and validation, one colour per log.

    Parameters
    ----------
    paths : iterable of CSV logs or model paths (see `log_files`)
    out : the PNG to write (atomically)
    smoothing : float in [0, 1)
        Weight of the running mean; the raw values are drawn faintly beneath.

    Returns
    -------
    Path of the PNG.

    Raises
    ------
    ImportError
        Without matplotlib (the message says how to install it).
    ValueError
        On a file that is not a loss log.
    """
    files = log_files(paths)
    logs = {f: read_log(f) for f in files}
    RunningMean(smoothing)                                  # validates it before any drawing
    plt = _pyplot()
    fig, axes = plt.subplots(len(LOSS_NAMES), 1, figsize=(9, 7), sharex=True, constrained_layout=True)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for (path, log), colour in zip(logs.items(), colours * len(logs)):
        label = path.stem
        for ax, name in zip(axes, LOSS_NAMES):
            for kind, style in (("train", "-"), ("val", "--")):
                values = log[f"{kind}_{name}"]
                known = ~np.isnan(values)
                if not known.any():
                    continue
                steps = log["last_step"][known] + 1
                ax.plot(steps, values[known], style, color=colour, alpha=0.25, linewidth=0.8)
                ax.plot(steps, running_mean(values[known], smoothing), style, color=colour,
                        label=f"{label} {'training' if kind == 'train' else 'validation'}")
    spans = {path: cross_entropy_spans(log) for path, log in logs.items()}
    one_schedule = len({tuple(own) for own in spans.values()}) == 1     # e.g. a model's U and V logs
    for (path, own), colour in zip(spans.items(), colours * len(logs)):
        for start, end in own:
            for ax in axes:             # one schedule: grey; several: each log's phases in its own colour
                ax.axvspan(start, end, color="0.85" if one_schedule else colour,
                           alpha=1 if one_schedule else SHADE_ALPHA, linewidth=0, zorder=0)
        if one_schedule:
            break
    for ax, name in zip(axes, LOSS_NAMES):
        ax.set_ylabel(LOSS_NAMES[name])
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small", loc="upper right")
    mixed = [path.stem for path, log in logs.items()
             if (np.isfinite(log["train_euclidean"]) & np.isfinite(log["train_cross_entropy"])).any()]
    shaded = any(spans.values())
    notes = ["shaded: cross-entropy phases" if one_schedule else
             "shaded in each log's colour: its cross-entropy phases"] if shaded else []
    if mixed:                                   # said even beside other logs' shading: these rows are not
        notes.append(f"{', '.join(mixed) + ': ' if shaded else ''}"
                     f"losses alternate within a logged step: phases not shaded")
    axes[0].set_title("\n".join([f"loss per logged step (running mean, smoothing {smoothing}; raw faint)", *notes]),
                      fontsize="medium")
    axes[-1].set_xlabel("step")
    out = Path(out)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return out


def cross_entropy_spans(log: dict) -> list[tuple[float, float]]:
    """(first step, end step) of the logged spans that trained on the cross-entropy loss alone.

    A row whose steps trained on both losses (every row, when the schedule's
    phases are shorter than ``--log-every``) is no such span: shading it would
    shade the whole run.

    >>> nan = float("nan")
    >>> cross_entropy_spans({"last_step": np.array([9, 19, 29]), "train_euclidean": np.array([1, nan, 1]),
    ...                      "train_cross_entropy": np.array([nan, 2, 2])})
    [(10.0, 20.0)]
    """
    ends = np.asarray(log["last_step"], float) + 1
    starts = np.concatenate([[0], ends[:-1]])
    alone = np.isfinite(log["train_cross_entropy"]) & np.isnan(log["train_euclidean"])
    return [(float(s), float(e)) for s, e in zip(starts[alone], ends[alone])]
