"""What the ``colorize`` subcommands share: the one-line error, progress on a terminal, the model options.

Under MPI, rank 0 alone shows progress and reports (`lead_stderr`); see
:mod:`colorize.cli` for how failures are shown.
"""
from __future__ import annotations

import functools
import io
import math
import sys

import click

from colorize.options import BATCH, EPS, MAX_BATCH, MAX_RADIUS, RADIUS
from colorize.model import load_model
from colorize.parallel import Communicator, ParallelError, world


class CliError(click.ClickException):
    """A failure shown as the one line ``error: <message>`` (or ``<kind>: <message>``).

    ``every_rank``: under MPI, every rank raises it at the same point, and
    rank 0 alone shows it. ``kind``: the first word, "error" unless the
    user asked for the stop (Ctrl-C: "stopped").
    """

    def __init__(self, message: str, exit_code: int = 1, every_rank: bool = False, kind: str = "error"):
        super().__init__(message)
        self.exit_code, self.every_rank, self.kind = exit_code, every_rank, kind

    def show(self, file=None) -> None:
        rank = communicator().rank
        if rank == 0 or not self.every_rank:
            click.echo(f"{self.kind}: {f'rank {rank}: ' if rank else ''}{self.format_message()}", err=True)


class Finite(click.FloatRange):
    """A FloatRange that also refuses nan and infinity (which FloatRange lets through)."""

    def convert(self, value, param, ctx):
        value = super().convert(value, param, ctx)
        if not math.isfinite(value):
            self.fail(f"{value} is not a finite number", param, ctx)
        return value


def communicator() -> Communicator:
    """`world()`, or one lone process when MPI cannot start (`invoke` says why)."""
    try:
        return world()
    except ParallelError:
        return Communicator()


def lead_stderr():
    """Stderr on rank 0; under MPI the other ranks keep quiet."""
    return sys.stderr if communicator().rank == 0 else io.StringIO()


def report(line: str) -> None:
    click.echo(line, err=True)


def on_terminal() -> bool:
    """Whether this process shows live progress: rank 0, with stderr a terminal (a bar elsewhere
    would leave its label alone on a line of a log file)."""
    stream = lead_stderr()
    return stream is sys.stderr and stream.isatty()


def progress(label: str):
    """A `progress` for the library: a bar on a terminal's stderr when there is more than one file."""
    def wrap(items: list):
        if len(items) < 2 or not on_terminal():
            yield from items
            return
        with click.progressbar(items, label=label, file=lead_stderr()) as bar:
            yield from bar
    return wrap


class NoBar:
    """What `patches` updates off a terminal: nothing to show."""

    def update(self, n: int) -> None:
        pass


def open_model(name, long_side=None):
    """The model NAME, working at ``long_side`` if given (0: the image's own size)."""
    try:
        return load_model(name, long_side)
    except ValueError as err:
        if name is None:
            raise ValueError(f"{err}; pass --model PATH to a trained model") from None
        raise


def exit_status(run_failed, done_count: int, inputs) -> None:
    """Exit 1 if any input failed or none was found."""
    if not done_count and not run_failed:
        raise CliError(f"no image files found in {', '.join(map(str, inputs))}", every_rank=True)
    if run_failed:
        click.get_current_context().exit(1)


def model_options(command):
    """The options shared by the commands that run the model."""
    options = [
        click.option("--model", "model_name", metavar="PATH|NAME",
                     help="Model file, or the name of a bundled model (default: the bundled 'default')."),
        click.option("--no-refine", is_flag=True, help="Skip the guided-filter refinement of U and V."),
        click.option("--radius", type=click.IntRange(0, MAX_RADIUS), default=RADIUS, show_default=True,
                     help="Guided-filter radius r (windows of (2r+1)² pixels)."),
        click.option("--eps", type=Finite(min=0, min_open=True), default=EPS, show_default=True,
                     help="Guided-filter regularisation, on [0, 1] intensities."),
        click.option("--batch", type=click.IntRange(1, MAX_BATCH), default=BATCH, show_default=True,
                     help="64x64 windows per network call (memory, not results)."),
        click.option("--long-side", type=click.IntRange(min=0), metavar="PIXELS",
                     help="Predict chroma on the image shrunk to this long side, then enlarge it "
                          "(default: the scale the model was trained at; 0: the full image)."),
    ]
    return functools.reduce(lambda cmd, option: option(cmd), reversed(options), command)
