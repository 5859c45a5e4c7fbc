"""The ``colorize`` subcommands that make a model: patches (training pairs) and train."""
from __future__ import annotations

import time
from contextlib import nullcontext
from pathlib import Path

import click

from colorize.cli_common import CliError, Finite, NoBar, lead_stderr, on_terminal, report
from colorize.curves import RunningMean
from colorize.losses import loss_at, parse_schedule
from colorize.model import ARCHITECTURES, DEFAULT_ARCH, parse_architecture
from colorize.patches import MAX_SHARD_SIZE, MAX_SHARDS, write_shards
from colorize.train import MAX_BATCH as MAX_TRAIN_BATCH
from colorize.train import MAX_VAL_PATCHES, Interrupted, TrainConfig, TrainingError, log_path, make_config
from colorize.train import train as train_model


@click.command()
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
    shown = click.progressbar(length=train_shards + val_shards, label="writing shards", file=lead_stderr())
    with shown if on_terminal() else nullcontext(NoBar()) as bar:
        written = write_shards(photos, out, shard_size, train_shards, val_shards, seed, long_side=long_side,
                               val_photos=val_photos or None, progress=bar.update, report=report)
    click.echo(f"{len(written)} shards of {shard_size} pairs in {out}")


def _setting(text: str, default) -> str:
    """The help of a training setting that --resume takes from the checkpoint."""
    return f"{text}  [default: {default}; with --resume: the checkpoint's]"


@click.command()
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
@click.option("--lr", type=Finite(min=0, min_open=True),
              help=_setting("Learning rate (the losses are means over pixels).", TrainConfig.lr))
@click.option("--momentum", type=click.FloatRange(0, 1, max_open=True),
              help=_setting("SGD momentum (0: plain SGD).", TrainConfig.momentum))
@click.option("--weight-decay", type=Finite(min=0),
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
        raise CliError(str(err), every_rank=True) from None
    progress = _TrainingProgress(config)
    with progress:
        try:        # both are raised on every rank at the same step under MPI
            model = train_model(data, model_path, config, resume=resume, jobs=jobs, report=progress.report,
                                note=lambda line: click.echo(f"note: {line}", err=True),
                                overwrite=overwrite)
        except Interrupted as err:
            raise CliError(f"{err}; continue with --resume", exit_code=130, every_rank=True,
                         kind="stopped on Ctrl-C") from None
        except TrainingError as err:
            raise CliError(str(err), every_rank=True) from None
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
        if self.bar is None and on_terminal():    # the bar starts with the first step: checks fail without it
            self.bar = click.progressbar(length=self.total, label="training", file=lead_stderr(),
                                         show_eta=False, item_show_func=lambda _: self.status())
            self.bar.__enter__()
        if self.bar is not None:
            self.bar.update(advance, channel)
        elif step % self.config.log_every == 0 or step == self.config.iterations:
            click.echo(f"{channel} step {step}/{self.config.iterations}: {self.status(channel)}",
                       file=lead_stderr())

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
