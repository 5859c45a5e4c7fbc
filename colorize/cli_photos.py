"""The ``colorize`` subcommands that use a model or show one: apply, evaluate, tone, info, plot."""
from __future__ import annotations

import json
import math
from pathlib import Path

import click

from colorize.apply import colorize_files
from colorize.cli_common import CliError, communicator, exit_status, model_options, open_model, progress, report
from colorize.curves import SMOOTHING, plot_logs
from colorize.evaluate import evaluate as evaluate_photos
from colorize.evaluate import format_table
from colorize.info import format_info, model_info
from colorize.options import InferenceOptions
from colorize.styles import STYLES, tone_files


@click.command()
@click.argument("inputs", metavar="INPUT...", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--out", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Folder for the outputs, created if needed.")
@click.option("--overwrite", is_flag=True, help="Replace existing outputs (inputs are never replaced).")
@click.option("--equalize", is_flag=True, help="Histogram-equalise the gray input for the network (paper §5).")
@model_options
def apply(inputs, out, overwrite, equalize, model_name, no_refine, radius, eps, batch, long_side):
    """Colorize gray photos: one OUT/<stem>_colorized.png per INPUT.

    INPUT is an image file (PNG, JPEG, TIFF, BMP; gray or colour, 8 or 16
    bit) or a folder of them (its *_colorized.* files are skipped). Colour
    inputs are reduced to their luminance and colorized anew. The output
    keeps the input's luminance, its transparency (an alpha channel, or a
    palette or colour-key tRNS entry, written as alpha) and its bit depth:
    16-bit PNG and TIFF inputs, gray or colour, give 16-bit PNGs (except
    16-bit PNGs with colour or alpha that are interlaced or EXIF-rotated:
    8-bit), all others 8-bit PNGs. Images over 100 megapixels are refused
    (COLORIZE_MAX_PIXELS raises the limit).

    \b
    Example:
      colorize apply grandpa.jpg scans/ -o colorized/
      mpiexec -n 4 colorize apply scans/ -o colorized/    # files shared out over 4 processes
    """
    options = InferenceOptions(refine=not no_refine, radius=radius, eps=eps, batch=batch, equalize=equalize)
    run = colorize_files(inputs, out, open_model(model_name, long_side), overwrite=overwrite, options=options,
                         report=report, progress=progress("colorizing"))
    if communicator().rank == 0:           # under MPI, `run` holds every rank's files, in input order
        for dst in run.done.values():
            click.echo(dst)
    exit_status(run.failed, len(run.done), inputs)


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


@click.command()
@click.argument("photos", metavar="PHOTOS...", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the numbers to this JSON file.")
@click.option("--compare", "compare_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for one strip per photo: gray | network | refined | truth.")
@click.option("--mean-chroma", metavar="U,V", callback=lambda ctx, param, value: _mean_chroma(value),
              help="Also score the baseline that colours every pixel with this chroma (e.g. the training "
                   "set's mean U, V).")
@click.option("--overwrite", is_flag=True, help="Replace an existing JSON file and strips (photos are never replaced).")
@model_options
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
    options = InferenceOptions(refine=not no_refine, radius=radius, eps=eps, batch=batch)
    results = evaluate_photos(photos, open_model(model_name, long_side), options, compare_dir=compare_dir,
                              mean_chroma=mean_chroma,
                              json_path=json_path, overwrite=overwrite, report=report,
                              progress=progress("evaluating"))
    click.echo(format_table(results))
    if not results["count"] and results["gray_skipped"] and not results["failed"]:
        raise CliError(f"no colour photos to score in {', '.join(map(str, photos))}: only gray ones")
    exit_status(results["failed"], results["count"], photos)


@click.command()
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
    run = tone_files(photos, out, style, progress=progress("toning"), overwrite=overwrite, report=report)
    click.echo(f"{len(run.done)} {style} photos in {out}" + (f" ({len(run.failed)} failed)" if run.failed else ""))
    exit_status(run.failed, len(run.done), photos)


@click.command()
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


@click.command()
@click.argument("logs", metavar="LOGS...", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("losses.png"),
              show_default=True, help="The PNG to write (replaced if it exists).")
@click.option("--smoothing", type=click.FloatRange(0, 1, max_open=True), default=SMOOTHING, show_default=True,
              help="Weight of the running mean (TensorBoard's smoothing; 0: none).")
def plot(logs, out, smoothing):
    """Draw training and validation losses from loss logs into a PNG (needs matplotlib).

    LOGS are the CSV files 'colorize train' writes (MODEL.u.csv, MODEL.v.csv),
    or model files, which stand for the logs beside them. One panel per
    loss; the steps where the cross-entropy loss was in force are shaded,
    each log's in its own colour when the logs' phases differ (unless the
    loss phases are shorter than --log-every: the title says so).
    matplotlib comes with: pip install 'vcnn-colorize[plot]'.

    \b
    Example:
      colorize plot my.npz -o my-losses.png
      colorize plot a.u.csv b.u.csv
    """
    try:
        written = plot_logs(logs, out, smoothing)
    except ImportError as err:
        raise CliError(str(err)) from None
    click.echo(written)
