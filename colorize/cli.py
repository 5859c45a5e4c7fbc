"""The ``colorize`` command line: parses options and calls the library.

Every command is one call of a library function (`colorize_files`,
`evaluate`); this file only turns options into arguments and results into
text. Failures follow one rule, implemented once in `_Group`: a bad option
value, a missing or unreadable file or a bad model prints one line
``error: ...`` on stderr and exits with 1 (2 for a usage error), never a
traceback. With several inputs, a bad one is reported and skipped, and the
exit code is 1 at the end.

Under ``mpiexec -n K`` every rank runs the same command (`train` and `apply`
spread their work, see `colorize.parallel`). A failure every rank meets at
the same point (usage errors, Ctrl-C, divergence, an agreed exit code) is
shown by rank 0 alone and every rank exits with it. Any other failure may be
one rank's alone while the others wait for it in a collective: that rank
shows its error and aborts the whole job (``MPI_Abort``), as ``python -m
mpi4py`` does, so that the job ends instead of hanging.
"""
from __future__ import annotations

import functools
import io
import json
import math
import sys
import time
import traceback
from contextlib import contextmanager, nullcontext
from importlib import metadata
from pathlib import Path

import click

from colorize.apply import colorize_files
from colorize.batch import FILE_ERRORS
from colorize.curves import SMOOTHING, RunningMean, plot_logs
from colorize.evaluate import evaluate as evaluate_photos
from colorize.evaluate import format_table
from colorize.infer import BATCH, EPS, MAX_BATCH, MAX_RADIUS, RADIUS
from colorize.info import format_info, model_info
from colorize.losses import loss_at, parse_schedule
from colorize.model import ARCHITECTURES, DEFAULT_ARCH, load_model, parse_architecture
from colorize.parallel import Communicator, ParallelError, world
from colorize.patches import MAX_SHARD_SIZE, MAX_SHARDS, write_shards
from colorize.styles import STYLES, tone_files
from colorize.train import MAX_BATCH as MAX_TRAIN_BATCH
from colorize.train import MAX_VAL_PATCHES, Interrupted, TrainConfig, TrainingError, log_path, make_config
from colorize.train import train as train_model

#: click >= 8.2 shows a group's help through this UsageError; it must stay as it is.
_HELP_ERRORS = tuple(filter(None, [getattr(click.exceptions, "NoArgsIsHelpError", None)]))


class _Error(click.ClickException):
    """A failure shown as the one line ``error: <message>`` (or ``<kind>: <message>``).

    ``every_rank``: under MPI, every rank raises it at the same point, and
    rank 0 alone shows it. ``kind``: the first word, "error" unless the
    user asked for the stop (Ctrl-C: "stopped").
    """

    def __init__(self, message: str, exit_code: int = 1, every_rank: bool = False, kind: str = "error"):
        super().__init__(message)
        self.exit_code, self.every_rank, self.kind = exit_code, every_rank, kind

    def show(self, file=None) -> None:
        rank = _comm().rank
        if rank == 0 or not self.every_rank:
            click.echo(f"{self.kind}: {f'rank {rank}: ' if rank else ''}{self.format_message()}", err=True)


@contextmanager
def _one_line_errors():
    """Usage errors (exit 2) and file, image, model and value errors (exit 1) as one line."""
    try:
        yield
    except _HELP_ERRORS:
        raise
    except click.UsageError as err:
        hint = f" (see '{err.ctx.command_path} --help')" if err.ctx else ""
        raise _Error(err.format_message() + hint, exit_code=2, every_rank=True) from None
    except BrokenPipeError:
        raise                                   # click's own handling: exit quietly
    except (*FILE_ERRORS, ParallelError) as err:
        raise _Error(str(err) or "out of memory") from None
    except KeyboardInterrupt:                   # Ctrl-C outside training's own handler (start-up, loading)
        raise _Error("no file is left half-written", exit_code=130, kind="stopped on Ctrl-C") from None


@contextmanager
def _one_rank_ends_the_job():
    """Under MPI, a failure not known to be every rank's shows itself and aborts the job."""
    try:
        yield
    except (click.exceptions.Exit, click.exceptions.Abort):
        raise
    except Exception as err:
        comm = _comm()
        if comm.size == 1 or getattr(err, "every_rank", False):
            raise
        if comm.rank:
            time.sleep(1)       # if rank 0 fails too, its abort ends this rank first: one message, not K
        if isinstance(err, click.ClickException):
            err.show()
        else:
            traceback.print_exc()
        comm.abort(getattr(err, "exit_code", 1))


class _Group(click.Group):
    """A click group whose parsing and commands fail in one line (see `_one_line_errors`),
    and whose commands, under MPI, never leave a job hanging (see `_one_rank_ends_the_job`)."""

    def make_context(self, *args, **kwargs):
        with _one_line_errors():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx):
        with _one_rank_ends_the_job(), _one_line_errors():
            world()                                 # under mpiexec, start MPI (or say why it cannot)
            return super().invoke(ctx)


class _Finite(click.FloatRange):
    """A FloatRange that also refuses nan and infinity (which FloatRange lets through)."""

    def convert(self, value, param, ctx):
        value = super().convert(value, param, ctx)
        if not math.isfinite(value):
            self.fail(f"{value} is not a finite number", param, ctx)
        return value


def _comm() -> Communicator:
    """`world()`, or one lone process when MPI cannot start (`invoke` says why)."""
    try:
        return world()
    except ParallelError:
        return Communicator()


def _lead_stderr():
    """Stderr on rank 0; under MPI the other ranks keep quiet."""
    return sys.stderr if _comm().rank == 0 else io.StringIO()


def _report(line: str) -> None:
    click.echo(line, err=True)


def _on_terminal() -> bool:
    """Whether this process shows live progress: rank 0, with stderr a terminal (a bar elsewhere
    would leave its label alone on a line of a log file)."""
    stream = _lead_stderr()
    return stream is sys.stderr and stream.isatty()


def _progress(label: str):
    """A `progress` for the library: a bar on a terminal's stderr when there is more than one file."""
    def wrap(items: list):
        if len(items) < 2 or not _on_terminal():
            yield from items
            return
        with click.progressbar(items, label=label, file=_lead_stderr()) as bar:
            yield from bar
    return wrap


class _NoBar:
    """What `patches` updates off a terminal: nothing to show."""

    def update(self, n: int) -> None:
        pass


def _load_model(name, long_side=None):
    """The model NAME, working at ``long_side`` if given (0: the image's own size)."""
    try:
        model = load_model(name)
    except ValueError as err:
        if name is None:
            raise ValueError(f"{err}; pass --model PATH to a trained model") from None
        raise
    if long_side is not None:
        model.long_side = long_side or None
    return model


def _exit_status(run_failed, done_count: int, inputs) -> None:
    """Exit 1 if any input failed or none was found."""
    if not done_count and not run_failed:
        raise _Error(f"no image files found in {', '.join(map(str, inputs))}", every_rank=True)
    if run_failed:
        click.get_current_context().exit(1)


def _model_options(command):
    """The options shared by the commands that run the model."""
    options = [
        click.option("--model", "model_name", metavar="PATH|NAME",
                     help="Model file, or the name of a bundled model (default: the bundled 'default')."),
        click.option("--no-refine", is_flag=True, help="Skip the guided-filter refinement of U and V."),
        click.option("--radius", type=click.IntRange(0, MAX_RADIUS), default=RADIUS, show_default=True,
                     help="Guided-filter radius r (windows of (2r+1)² pixels)."),
        click.option("--eps", type=_Finite(min=0, min_open=True), default=EPS, show_default=True,
                     help="Guided-filter regularisation, on [0, 1] intensities."),
        click.option("--batch", type=click.IntRange(1, MAX_BATCH), default=BATCH, show_default=True,
                     help="64x64 windows per network call (memory, not results)."),
        click.option("--long-side", type=click.IntRange(min=0), metavar="PIXELS",
                     help="Predict chroma on the image shrunk to this long side, then enlarge it "
                          "(default: the scale the model was trained at; 0: the full image)."),
    ]
    return functools.reduce(lambda cmd, option: option(cmd), reversed(options), command)


def _version() -> str:
    try:
        return metadata.version("vcnn-colorize")
    except metadata.PackageNotFoundError:       # run from a source tree that was never installed
        return "unknown (not installed)"


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(_version(), "--version", "-V", prog_name="colorize", message="%(prog)s %(version)s")
def main():
    """Deep patch-wise colorization of grayscale photos (SIGGRAPH Asia 2016).

    \b
    Examples:
      colorize apply old.jpg scans/ -o colorized/
      colorize evaluate photos/ --json scores.json --compare strips/
      colorize info default

    \b
    Shell completion (bash; zsh and fish likewise, with zsh_source, fish_source):
      eval "$(_COLORIZE_COMPLETE=bash_source colorize)"
    """


@main.command()
@click.argument("inputs", metavar="INPUT...", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--out", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Folder for the outputs, created if needed.")
@click.option("--overwrite", is_flag=True, help="Replace existing outputs (inputs are never replaced).")
@click.option("--equalize", is_flag=True, help="Histogram-equalise the gray input for the network (paper §5).")
@_model_options
def apply(inputs, out, overwrite, equalize, model_name, no_refine, radius, eps, batch, long_side):
    """Colorize gray photos: one OUT/<stem>_colorized.png per INPUT.

    INPUT is an image file (PNG, JPEG, TIFF, BMP; gray or colour, 8 or 16
    bit) or a folder of them (its *_colorized.* files are skipped). Colour
    inputs are reduced to their luminance and colorized anew. The output
    keeps the input's luminance and transparency (an alpha channel, or a
    palette or colour-key tRNS entry, written as alpha); it is 16-bit when
    the input is read at 16 bits (gray and gray+alpha; Pillow reads 16-bit
    colour at 8 bits), 8-bit otherwise. Images over 100 megapixels are
    refused (COLORIZE_MAX_PIXELS raises the limit).

    \b
    Example:
      colorize apply grandpa.jpg scans/ -o colorized/
      mpiexec -n 4 colorize apply scans/ -o colorized/    # files shared out over 4 processes
    """
    run = colorize_files(inputs, out, _load_model(model_name, long_side), overwrite=overwrite, refine=not no_refine,
                         radius=radius, eps=eps, batch=batch, equalize=equalize,
                         report=_report, progress=_progress("colorizing"))
    if _comm().rank == 0:           # under MPI, `run` holds every rank's files, in input order
        for dst in run.done.values():
            click.echo(dst)
    _exit_status(run.failed, len(run.done), inputs)


def _mean_chroma(value: str | None) -> tuple[float, float] | None:
    """``--mean-chroma U,V`` as two finite numbers (click reports the ValueError as a usage error)."""
    if value is None:
        return None
    try:
        u, v = (float(c) for c in value.split(","))
    except ValueError:
        raise click.BadParameter(f"expected two numbers U,V like -0.02,0.01, got {value!r}") from None
    if not (math.isfinite(u) and math.isfinite(v)):
        raise click.BadParameter(f"expected two finite numbers U,V, got {value!r}")
    return u, v


@main.command()
@click.argument("photos", metavar="PHOTOS...", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the numbers to this JSON file.")
@click.option("--compare", "compare_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for one strip per photo: gray | network | refined | truth.")
@click.option("--mean-chroma", metavar="U,V", callback=lambda ctx, param, value: _mean_chroma(value),
              help="Also score the baseline that colours every pixel with this chroma (e.g. the training "
                   "set's mean U, V).")
@click.option("--overwrite", is_flag=True, help="Replace an existing JSON file and strips (photos are never replaced).")
@_model_options
def evaluate(photos, json_path, compare_dir, mean_chroma, overwrite, model_name, no_refine, radius, eps, batch,
             long_side):
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
    results = evaluate_photos(photos, _load_model(model_name, long_side), refine=not no_refine, radius=radius,
                              eps=eps, batch=batch, compare_dir=compare_dir, mean_chroma=mean_chroma,
                              json_path=json_path, overwrite=overwrite, report=_report,
                              progress=_progress("evaluating"))
    click.echo(format_table(results))
    if not results["count"] and results["gray_skipped"] and not results["failed"]:
        raise _Error(f"no colour photos to score in {', '.join(map(str, photos))}: only gray ones")
    _exit_status(results["failed"], results["count"], photos)


@main.command()
@click.argument("photos", metavar="PHOTOS...", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for the shard files (created; must not hold shards already).")
@click.option("--shard-size", type=click.IntRange(1, MAX_SHARD_SIZE), default=10_000, show_default=True,
              help="Training pairs per shard file.")
@click.option("--train-shards", type=click.IntRange(1, MAX_SHARDS), default=20, show_default=True,
              help="Number of training shards (the paper: 20).")
@click.option("--val-shards", type=click.IntRange(0, MAX_SHARDS), default=1, show_default=True,
              help="Number of validation shards (the paper: 1).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of the random windows.")
@click.option("--long-side", type=click.IntRange(min=1), metavar="PIXELS",
              help="First shrink larger photos to this long side (the scale a model trained on them works at).")
@click.option("--val-photos", type=click.Path(exists=True, path_type=Path), multiple=True,
              help="Cut the validation shards from these photos (repeatable) instead: a held-out validation loss.")
def patches(photos, out, shard_size, train_shards, val_shards, seed, long_side, val_photos):
    """Cut training pairs from colour PHOTOS into shard files.

    Each pair is a random 64x64 window (mirrored left-right half the time),
    stored as its RGB pixels: the network input Y and the centre 56x56 of U
    and V follow from them. Shards are train-000.npz ... and val-000.npz.

    \b
    Example:
      colorize patches photos/ -o data/ --shard-size 2000 --train-shards 4
      colorize patches train/ --val-photos held_out/ -o data/ --long-side 320
    """
    shown = click.progressbar(length=train_shards + val_shards, label="writing shards", file=_lead_stderr())
    with shown if _on_terminal() else nullcontext(_NoBar()) as bar:
        written = write_shards(photos, out, shard_size, train_shards, val_shards, seed, long_side=long_side,
                               val_photos=val_photos or None, progress=bar.update, report=_report)
    click.echo(f"{len(written)} shards of {shard_size} pairs in {out}")


@main.command()
@click.argument("photos", metavar="PHOTOS...", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for the toned photos, created if needed.")
@click.option("--style", type=click.Choice(sorted(STYLES)), required=True, help="The colour transform.")
@click.option("--overwrite", is_flag=True, help="Replace existing outputs (inputs are never replaced).")
def tone(photos, out, style, overwrite):
    """Tone colour PHOTOS to a style: a training set for a stylistic model.

    Every pixel goes through the style's fixed 3x3 colour matrix (see
    colorize/styles.py); train on the result to colorize in that style
    (the paper's Fig. 8).

    \b
    Example:
      colorize tone photos/ -o sepia_photos/ --style sepia
      colorize train sepia_photos/ -o sepia.npz
    """
    run = tone_files(photos, out, style, progress=_progress("toning"), overwrite=overwrite, report=_report)
    click.echo(f"{len(run.done)} {style} photos in {out}" + (f" ({len(run.failed)} failed)" if run.failed else ""))
    _exit_status(run.failed, len(run.done), photos)


def _setting(text: str, default) -> str:
    """The help of a training setting that --resume takes from the checkpoint."""
    return f"{text}  [default: {default}; with --resume: the checkpoint's]"


@main.command()
@click.argument("data", type=click.Path(path_type=Path))
@click.option("-o", "--out", "model_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The model file to write (.npz); checkpoints and loss logs go beside it.")
@click.option("--arch", metavar="|".join(ARCHITECTURES) + "|FILE.json",
              help=_setting("Architecture: deep8 (the bundled model's: 7 convolutions 11,4,3,3,3,1,1 of widths "
                            "32,32,32,32,32,32,16, 12x12 mapping), small (11,4,3,1 of widths 32,32,32,16, "
                            "8x8 mapping), paper (the same with widths 512,512,512,256), or a JSON file "
                            '{"channels": [...], "kernels": [...], "mapping": M} (kernels default 11,4,3,1; '
                            "mapping default: what makes the 56x56 centre).", DEFAULT_ARCH))
@click.option("--channels", metavar="C1,C2,...", help="Override the widths of --arch, one per convolution.")
@click.option("--iterations", type=click.IntRange(min=1), default=2000, show_default=True,
              help="Total SGD steps per network (with --resume: the total to reach).")
@click.option("--batch", type=click.IntRange(1, MAX_TRAIN_BATCH), help=_setting("Pairs per SGD step.", TrainConfig.batch))
@click.option("--lr", type=_Finite(min=0, min_open=True),
              help=_setting("Learning rate (the losses are means over pixels).", TrainConfig.lr))
@click.option("--momentum", type=click.FloatRange(0, 1, max_open=True),
              help=_setting("SGD momentum (0: plain SGD).", TrainConfig.momentum))
@click.option("--weight-decay", type=_Finite(min=0),
              help=_setting("L2 weight decay added to every gradient.", TrainConfig.weight_decay))
@click.option("--lr-half-life", type=click.IntRange(min=0), metavar="STEPS",
              help=_setting("Halve the learning rate every STEPS steps (smoothly); 0: a constant rate.",
                            TrainConfig.lr_half_life))
@click.option("--schedule",
              help=_setting("Losses and their steps, cycled (the paper's alternation).", TrainConfig.schedule))
@click.option("--seed", type=click.IntRange(min=0),
              help=_setting("Seed of the initial weights and of the batches' order.", TrainConfig.seed))
@click.option("--checkpoint-every", type=click.IntRange(min=1), default=TrainConfig.checkpoint_every,
              show_default=True, help="Steps between checkpoints (Ctrl-C also saves one).")
@click.option("--log-every", type=click.IntRange(min=1), default=TrainConfig.log_every, show_default=True,
              help="Steps per row of the loss log (with a validation loss).")
@click.option("--val-patches", type=click.IntRange(1, MAX_VAL_PATCHES),
              help=_setting("Validation windows behind each logged validation loss.", TrainConfig.val_patches))
@click.option("--resume", is_flag=True,
              help="Continue from the checkpoints of MODEL up to --iterations steps, with their settings.")
@click.option("--overwrite", is_flag=True, help="Replace an existing model file (the data is never replaced).")
@click.option("--jobs", type=click.IntRange(1, 2), default=1, show_default=True,
              help="2 trains the U and V networks in two processes.")
@click.option("--long-side", type=click.IntRange(min=1), metavar="PIXELS",
              help="Shrink larger photos to this long side before cutting windows; the model then "
                   "colorizes images at that scale too (shards keep the scale they were cut at).")
def train(data, model_path, arch, channels, iterations, batch, lr, momentum, weight_decay, schedule, seed,
          checkpoint_every, log_every, val_patches, resume, overwrite, jobs, long_side, lr_half_life):
    """Train the U and V networks on DATA (a shard folder or photos).

    The defaults are the bundled model's recipe. Ctrl-C saves checkpoints
    and stops; --resume continues exactly where the run stopped, with the
    checkpoint's settings (an option given must agree with them). The same
    DATA, options and seed give the same weights. Under 'mpiexec -n K' each
    step's batch is split over the K processes (the same weights, to
    float32 rounding); see README, "Scaling out". Draw the loss logs with
    'colorize plot MODEL'.

    \b
    Example:
      colorize train photos/ -o my.npz --iterations 5000 --jobs 2
      colorize train data/ -o my.npz --iterations 10000 --resume
      mpiexec -n 4 colorize train data/ -o my.npz --batch 64
    """
    specs = parse_architecture(arch or DEFAULT_ARCH, channels) if arch or channels else None
    try:
        config = make_config(model_path, iterations, resume, specs=specs, batch=batch, lr=lr, momentum=momentum,
                             weight_decay=weight_decay, schedule=schedule, seed=seed, val_patches=val_patches,
                             long_side=long_side, lr_half_life=lr_half_life, checkpoint_every=checkpoint_every,
                             log_every=log_every)
    except TrainingError as err:
        raise _Error(str(err), every_rank=True) from None
    progress = _TrainingProgress(config)
    with progress:
        try:        # both are raised on every rank at the same step under MPI
            model = train_model(data, model_path, config, resume=resume, jobs=jobs, report=progress.report,
                                note=lambda line: click.echo(f"note: {line}", err=True),
                                overwrite=overwrite)
        except Interrupted as err:
            raise _Error(f"{err}; continue with --resume", exit_code=130, every_rank=True,
                         kind="stopped on Ctrl-C") from None
        except TrainingError as err:
            raise _Error(str(err), every_rank=True) from None
    if model is not None:           # rank 0
        click.echo(f"model written to {model_path} (loss logs: {log_path(model_path, 'u').name}, "
                   f"{log_path(model_path, 'v').name}; draw them with 'colorize plot {model_path}')")


SMOOTHING_BAR = 0.9     # the bar's running mean keeps more of the past than a plot's: a step is not a log row


class _TrainingProgress:
    """What `train` shows while it runs, each channel's loss as a running mean over the steps of the
    current loss phase (a step's own loss jumps with its batch).

    On a terminal: a bar with those means and a time left, shown once
    `WARMUP` steps have been timed (the first steps compile the kernels, and
    would make the estimate absurd). Elsewhere (a log file, mpiexec): one
    line per logged step and channel.
    """

    WARMUP = 3

    def __init__(self, config: TrainConfig):
        self.config, self.schedule = config, parse_schedule(config.schedule)
        self.total = 2 * config.iterations
        self.seen, self.means, self.phase = {}, {}, {}
        self.timed_from = None             # (time, steps done) once warmed up
        self.done = self.steps_run = 0
        self.bar = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def report(self, channel: str, step: int, loss: float) -> None:
        phase = loss_at(self.schedule, step - 1)
        if self.phase.get(channel) != phase:
            self.phase[channel], self.means[channel] = phase, RunningMean(SMOOTHING_BAR)
        self.means[channel].update(loss)
        advance = step - self.seen.get(channel, 0)        # on --resume, the first report jumps to its step
        self.seen[channel] = step
        self.done += advance
        self.steps_run += 1
        if self.steps_run == self.WARMUP:
            self.timed_from = (time.perf_counter(), self.steps_run)
        if self.bar is None and _on_terminal():    # the bar starts with the first step: checks fail without it
            self.bar = click.progressbar(length=self.total, label="training", file=_lead_stderr(),
                                         show_eta=False, item_show_func=lambda _: self.status())
            self.bar.__enter__()
        if self.bar is not None:
            self.bar.update(advance, channel)
        elif step % self.config.log_every == 0 or step == self.config.iterations:
            click.echo(f"{channel} step {step}/{self.config.iterations}: {self.status(channel)}",
                       file=_lead_stderr())

    def eta(self) -> str:
        if self.timed_from is None or self.steps_run <= self.timed_from[1]:
            return ""
        then, steps = self.timed_from
        seconds = (time.perf_counter() - then) / (self.steps_run - steps) * (self.total - self.done)
        return f"ETA {int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"

    def status(self, only: str | None = None) -> str:
        losses = "  ".join(f"{c} {self.phase[c].replace('_', '-')} {m.value:.5f}"
                           for c, m in self.means.items() if only in (None, c))
        return "  ".join(filter(None, [losses, self.eta()]))


@main.command()
@click.argument("model", metavar="MODEL", required=False, default="default")
@click.option("--json", "as_json", is_flag=True, help="Print the description as JSON instead of text.")
def info(model, as_json):
    """Describe a model file or a bundled model (default: the bundled 'default').

    Architecture, parameters, working scale, the training data and run,
    the last logged losses, an evaluation if one is recorded, and a licence
    note.

    \b
    Example:
      colorize info my.npz
      colorize info default --json
    """
    described = model_info(model)
    click.echo(json.dumps(described, indent=2) if as_json else format_info(described))


@main.command()
@click.argument("logs", metavar="LOGS...", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("losses.png"),
              show_default=True, help="The PNG to write (replaced if it exists).")
@click.option("--smoothing", type=click.FloatRange(0, 1, max_open=True), default=SMOOTHING, show_default=True,
              help="Weight of the running mean (TensorBoard's smoothing; 0: none).")
def plot(logs, out, smoothing):
    """Draw training and validation losses from loss logs into a PNG (needs matplotlib).

    LOGS are the CSV files 'colorize train' writes (MODEL.u.csv, MODEL.v.csv),
    or model files, which stand for the logs beside them. One panel per
    loss; the steps where the cross-entropy loss was in force are shaded.
    matplotlib comes with: pip install 'vcnn-colorize[plot]'.

    \b
    Example:
      colorize plot my.npz -o my-losses.png
      colorize plot a.u.csv b.u.csv
    """
    try:
        written = plot_logs(logs, out, smoothing)
    except ImportError as err:
        raise _Error(str(err)) from None
    click.echo(written)
