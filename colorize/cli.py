"""The ``colorize`` command line: parses options and calls the library.

Every command is one call of a library function (`colorize_files`,
`evaluate`); this file only turns options into arguments and results into
text. Failures follow one rule, implemented once in `_Group`: a bad option
value, a missing or unreadable file or a bad model prints one line
``error: ...`` on stderr and exits with 1 (2 for a usage error), never a
traceback. With several inputs, a bad one is reported and skipped, and the
exit code is 1 at the end.
"""
from __future__ import annotations

import functools
from contextlib import contextmanager
from pathlib import Path

import click

from colorize.apply import colorize_files
from colorize.batch import FILE_ERRORS
from colorize.evaluate import evaluate as evaluate_photos
from colorize.evaluate import format_table, write_results
from colorize.infer import BATCH, EPS, RADIUS
from colorize.model import load_model

#: click >= 8.2 shows a group's help through this UsageError; it must stay as it is.
_HELP_ERRORS = tuple(filter(None, [getattr(click.exceptions, "NoArgsIsHelpError", None)]))


class _Error(click.ClickException):
    """A failure shown as the one line ``error: <message>``."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file=None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


@contextmanager
def _one_line_errors():
    """Usage errors (exit 2) and file, image, model and value errors (exit 1) as one line."""
    try:
        yield
    except _HELP_ERRORS:
        raise
    except click.UsageError as err:
        hint = f" (see '{err.ctx.command_path} --help')" if err.ctx else ""
        raise _Error(err.format_message() + hint, exit_code=2) from None
    except BrokenPipeError:
        raise                                   # click's own handling: exit quietly
    except FILE_ERRORS as err:
        raise _Error(str(err)) from None


class _Group(click.Group):
    """A click group whose parsing and commands fail in one line (see `_one_line_errors`)."""

    def make_context(self, *args, **kwargs):
        with _one_line_errors():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx):
        with _one_line_errors():
            return super().invoke(ctx)


def _report(line: str) -> None:
    click.echo(line, err=True)


def _progress(label: str):
    """A `progress` for the library: a bar on stderr when there is more than one file."""
    def wrap(items: list):
        if len(items) < 2:
            yield from items
            return
        with click.progressbar(items, label=label, file=click.get_text_stream("stderr")) as bar:
            yield from bar
    return wrap


def _load_model(name):
    try:
        return load_model(name)
    except ValueError as err:
        if name is None:
            raise ValueError(f"{err}; pass --model PATH to a trained model") from None
        raise


def _exit_status(run_failed, done_count: int, inputs) -> None:
    """Exit 1 if any input failed or none was found."""
    if not done_count and not run_failed:
        raise _Error(f"no image files found in {', '.join(map(str, inputs))}")
    if run_failed:
        click.get_current_context().exit(1)


def _model_options(command):
    """The options shared by the commands that run the model."""
    options = [
        click.option("--model", "model_name", metavar="PATH|NAME",
                     help="Model file, or the name of a bundled model (default: the bundled 'default')."),
        click.option("--no-refine", is_flag=True, help="Skip the guided-filter refinement of U and V."),
        click.option("--radius", type=click.IntRange(min=0), default=RADIUS, show_default=True,
                     help="Guided-filter radius r (windows of (2r+1)² pixels)."),
        click.option("--eps", type=click.FloatRange(min=0, min_open=True), default=EPS, show_default=True,
                     help="Guided-filter regularisation, on [0, 1] intensities."),
        click.option("--batch", type=click.IntRange(min=1), default=BATCH, show_default=True,
                     help="64x64 windows per network call (memory, not results)."),
    ]
    return functools.reduce(lambda cmd, option: option(cmd), reversed(options), command)


@click.group(cls=_Group)
def main():
    """Deep patch-wise colorization of grayscale photos (SIGGRAPH Asia 2016).

    \b
    Examples:
      colorize apply old.jpg scans/ -o colorized/
      colorize evaluate photos/ --json scores.json --compare strips/
    """


@main.command()
@click.argument("inputs", metavar="INPUT...", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--out", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Folder for the outputs, created if needed.")
@click.option("--overwrite", is_flag=True, help="Replace existing outputs (inputs are never replaced).")
@click.option("--equalize", is_flag=True, help="Histogram-equalise the gray input for the network (paper §5).")
@_model_options
def apply(inputs, out, overwrite, equalize, model_name, no_refine, radius, eps, batch):
    """Colorize gray photos: one OUT/<stem>_colorized.png per INPUT.

    INPUT is an image file (PNG, JPEG, TIFF, BMP; gray or colour, 8 or 16
    bit) or a folder of them (its *_colorized.* files are skipped). Colour
    inputs are reduced to their luminance and colorized anew. The output
    keeps the input's luminance, alpha channel and bit depth.

    \b
    Example:
      colorize apply grandpa.jpg scans/ -o colorized/
    """
    run = colorize_files(inputs, out, _load_model(model_name), overwrite=overwrite, refine=not no_refine,
                         radius=radius, eps=eps, batch=batch, equalize=equalize,
                         report=_report, progress=_progress("colorizing"))
    for dst in run.done.values():
        click.echo(dst)
    _exit_status(run.failed, len(run.done), inputs)


@main.command()
@click.argument("photos", metavar="PHOTOS...", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the numbers to this JSON file.")
@click.option("--compare", "compare_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for one strip per photo: gray | network | refined | truth.")
@_model_options
def evaluate(photos, json_path, compare_dir, model_name, no_refine, radius, eps, batch):
    """Score the model on colour PHOTOS (files or folders) against the gray baseline.

    Each photo is reduced to gray, colorized and compared with itself:
    PSNR on RGB and on UV, mean absolute UV error, AuC of the per-pixel
    chroma error (thresholds 0-150 on 0-255) and colourfulness, per photo
    and overall, for the gray baseline (U = V = 0), the network output and
    the refined output.

    \b
    Example:
      colorize evaluate photos/ --json scores.json --compare strips/
    """
    results = evaluate_photos(photos, _load_model(model_name), refine=not no_refine, radius=radius,
                              eps=eps, batch=batch, compare_dir=compare_dir,
                              report=_report, progress=_progress("evaluating"))
    click.echo(format_table(results))
    if json_path is not None:
        write_results(results, json_path)
    _exit_status(results["failed"], results["count"], photos)


# training: the lead adds the `patches` and `train` commands here.
