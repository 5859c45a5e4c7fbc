"""Evaluation: colorize colour photos from their gray and compare with the truth.

Each photo is reduced to its luminance Y, colorized, and the result compared
with the photo by `colorize.metrics.image_metrics`, next to the gray baseline
(U = V = 0, i.e. the gray image itself), which scores what "no colour" gets.
Columns: ``gray`` (the baseline), ``mean chroma`` (a second baseline, when
asked for: every pixel gets one fixed U, V, usually the training set's mean),
``network`` (the tiled network output) and ``refined`` (after the guided
filter, when refining).
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from colorize.batch import Progress, Report, check_output, find_images, output_paths, prepare_folder, run_batch
from colorize.images import GRAY_TOL, read_image, skipped_gray, write_png
from colorize.options import InferenceOptions, inference_options, prepare
from colorize.metrics import image_metrics
from colorize.pipeline import colorize_yuv, yuv_to_rgb_in_gamut
from colorize.yuv import rgb_to_gray
from vcnn.atomic import atomic_path

#: Appended to a photo's stem to name its comparison strip.
STRIP_SUFFIX = "_compare"
#: Table columns: metric key, heading, decimals, which way is better, what it is; each COLUMN_WIDTH wide.
COLUMNS = (("psnr_rgb", "PSNR-RGB", 2, "higher", "PSNR of the RGB image against the photo, dB"),
           ("psnr_uv", "PSNR-UV", 2, "higher", "PSNR of the chroma U, V alone, dB"),
           ("mae_chroma", "MAE-UV", 4, "lower", "mean absolute error of U, V"),
           ("auc", "AuC", 3, "higher", "area under the curve of pixels within a chroma error, thresholds "
                                       "0-150 of 255 (1: every pixel exact)"),
           ("colourfulness_pred", "colourful", 1, "~truth", "colourfulness of the output (Hasler, Suesstrunk)"),
           ("colourfulness_true", "truth", 1, "", "colourfulness of the photo itself"))
COLUMN_WIDTH = 10
#: The comparison strip's columns, left to right, and the height of its caption row (pixels).
STRIP_COLUMNS = {"gray": "gray input", "network": "network", "refined": "refined", "truth": "truth"}
CAPTION_HEIGHT = 28


def evaluate_image(path: str | os.PathLike, model, options: InferenceOptions | None = None, *,
                   strip: str | os.PathLike | None = None, mean_chroma: tuple[float, float] | None = None,
                   keep: dict | None = None, **changes) -> dict[str, dict[str, float]]:
    """Metrics of one colour photo, colorized from its gray, and of the gray baseline.

    Parameters
    ----------
    path : image file; its RGB is the ground truth (an alpha channel is ignored)
    model : ColorizationModel
    options, changes : InferenceOptions, or its fields (`colorize.options.inference_options`)
    strip : path, optional
        Write a PNG strip there: gray | network | refined | truth, each the
        photo's size, so 4 W wide (3 W without refinement), under a caption
        row CAPTION_HEIGHT pixels high naming each column with its PSNR and AuC.
    mean_chroma : (U, V), optional
        Also score the baseline that gives every pixel this chroma (not in the strip).
    keep : dict, optional
        Filled with the images compared, RGB float32 (H, W, 3): ``gray``,
        ``network`` [, ``refined``], ``truth``.

    Returns
    -------
    dict or None
        ``{"gray": metrics[, "mean chroma": metrics], "network": metrics[, "refined": metrics]}``,
        each the dict of `colorize.metrics.image_metrics` against the photo;
        None for a gray photo (no colour to score; no strip is written).
    """
    options = inference_options(options, **changes)
    truth, info = read_image(path, gray_tol=GRAY_TOL)
    if info.gray:
        return None
    y = rgb_to_gray(truth)
    yuv = colorize_yuv(y, model, options)
    outputs = {"gray": np.repeat(y[..., None], 3, axis=-1), "network": yuv_to_rgb_in_gamut(yuv.raw)}
    if options.refine:
        outputs["refined"] = yuv_to_rgb_in_gamut(yuv.refined)
    metrics = {name: image_metrics(rgb, truth) for name, rgb in outputs.items()}
    if keep is not None:
        keep.update(outputs, truth=truth)
    if strip is not None:
        cells = [*outputs.values(), truth]
        captions = [(STRIP_COLUMNS[name], f"PSNR {metrics[name]['psnr_rgb']:.1f} dB, AuC {metrics[name]['auc']:.3f}")
                    for name in outputs] + [(STRIP_COLUMNS["truth"], "")]
        write_png(strip, np.concatenate([_caption_row(captions, truth.shape[1]), np.concatenate(cells, axis=1)]))
    if mean_chroma is not None:
        constant = np.stack([y, np.full_like(y, mean_chroma[0]), np.full_like(y, mean_chroma[1])], axis=-1)
        metrics = {"gray": metrics.pop("gray"), "mean chroma": image_metrics(yuv_to_rgb_in_gamut(constant), truth),
                   **metrics}
    return metrics


def _caption_row(captions: list[tuple[str, str]], width: int) -> np.ndarray:
    """A white band CAPTION_HEIGHT high: one cell ``width`` wide per (title, detail), drawn in
    Pillow's built-in font and clipped to its cell."""
    cells = []
    for title, detail in captions:
        cell = Image.new("RGB", (width, CAPTION_HEIGHT), "white")
        draw = ImageDraw.Draw(cell)
        draw.text((3, 2), title, fill="black", font=_FONT)
        draw.text((3, CAPTION_HEIGHT // 2), detail, fill=(70, 70, 70), font=_FONT)
        cells.append(np.asarray(cell, np.float32) / 255)
    return np.concatenate(cells, axis=1)


_FONT = ImageFont.load_default()


def evaluate(photos, model=None, options: InferenceOptions | None = None, *,
             compare_dir: str | os.PathLike | None = None,
             report: Report | None = None, progress: Progress | None = None,
             mean_chroma: tuple[float, float] | None = None,
             json_path: str | os.PathLike | None = None, overwrite: bool = True, keep_images=(),
             **changes) -> dict:
    """Evaluate a model on colour photos: per image and overall, against the gray baseline.

    Parameters
    ----------
    photos : path or iterable of paths (files and folders of colour photos)
    model : ColorizationModel, path or bundled model name, or None (the default model)
    options, changes : InferenceOptions, or its fields (`colorize.options.inference_options`),
        e.g. ``evaluate(photos, model, refine=False)``
    compare_dir : path, optional
        Folder (created if needed) for one strip per photo,
        ``<stem>_compare.png`` (see `evaluate_image`).
    report, progress
        As in `colorize.apply.colorize_files`: with `report`, bad photos are
        reported and skipped; without it, the first one raises.
    mean_chroma : (U, V), optional
        Also score the constant-chroma baseline (see `evaluate_image`).
    json_path : path, optional
        Also write the results there (`write_results`); checked before any
        photo is read.
    overwrite : bool
        Replace existing strips and JSON file (``colorize evaluate`` passes
        its ``--overwrite``, off by default). A photo is never replaced.
    keep_images : paths of photos among `photos`
        Return their images too (see ``outputs`` below).

    Returns
    -------
    dict
        ``images``: photo -> method -> metric; ``overall``: method -> metric,
        the mean over the photos (NaN ignored); ``stderr``: the same layout,
        the standard error of each mean (NaN below two photos); ``count``:
        photos evaluated; ``failed``: photo -> reason; ``gray_skipped``: the
        names of the gray photos left out (no colour to score; `report` is
        told, as ``colorize train`` tells); with `keep_images`, ``outputs``:
        photo -> the images compared (`evaluate_image`'s ``keep``), which
        `write_results` leaves out.

    Raises
    ------
    ValueError
        On a bad option or model, or a `json_path` that is a photo, before any photo is read.
    OSError
        If `json_path` exists (and not `overwrite`) or cannot be written, or
        `compare_dir` cannot be, before any photo is read.

    Notes
    -----
    The overall PSNR is the mean of the per-photo PSNRs (each photo weighs
    the same, whatever its size).
    """
    model, options = prepare(model, options, **changes)
    images, failed = find_images(photos, report)
    if json_path is not None:
        check_output(json_path, images, overwrite, what="--json file")
    strips = {}
    if compare_dir is not None:
        prepare_folder(compare_dir, "--compare folder")
        strips, refused = output_paths(images, compare_dir, STRIP_SUFFIX, overwrite=overwrite)
        failed.update(refused)
        images = [p for p in images if p in strips]
    if mean_chroma is not None:
        mean_chroma = tuple(float(c) for c in mean_chroma)
        if len(mean_chroma) != 2 or not all(map(math.isfinite, mean_chroma)):
            raise ValueError(f"mean chroma must be two finite numbers U, V, got {mean_chroma}")
    kept = {Path(p).resolve(): {} for p in keep_images}
    run = run_batch(images, lambda p: evaluate_image(p, model, options, strip=strips.get(p), mean_chroma=mean_chroma,
                                                     keep=kept.get(Path(p).resolve())),
                    report, progress, failed)
    per_image = {str(path): metrics for path, metrics in run.done.items() if metrics is not None}
    gray = [path.name for path, metrics in run.done.items() if metrics is None]
    if gray and report is not None:
        report(skipped_gray(gray))
    results = {"images": per_image, "overall": _over_images(per_image.values(), _nanmean),
               "stderr": _over_images(per_image.values(), _nanstderr), "count": len(per_image),
               "failed": {str(path): reason for path, reason in run.failed.items()}, "gray_skipped": gray}
    if json_path is not None:
        write_results(results, json_path)
    if keep_images:
        results["outputs"] = {str(p): kept[Path(p).resolve()] for p in run.done if kept.get(Path(p).resolve())}
    return results


def _over_images(per_image, statistic) -> dict[str, dict[str, float]]:
    """Method -> metric -> `statistic` of its values over the images."""
    per_image = list(per_image)
    if not per_image:
        return {}
    overall = {}
    for method in per_image[0]:
        values = {key: [m[method][key] for m in per_image] for key in per_image[0][method]}
        overall[method] = {key: statistic(v) for key, v in values.items()}
    return overall


def _nanmean(values: list[float]) -> float:
    """Mean, NaN (e.g. a gray truth's colourfulness ratio) ignored."""
    finite_or_inf = [v for v in values if not math.isnan(v)]
    return float(np.mean(finite_or_inf)) if finite_or_inf else float("nan")


def _nanstderr(values: list[float]) -> float:
    """Standard error of the mean (sample standard deviation / √n), NaN ignored; NaN below two values."""
    finite_or_inf = [v for v in values if not math.isnan(v)]
    if len(finite_or_inf) < 2:
        return float("nan")
    return float(np.std(finite_or_inf, ddof=1) / math.sqrt(len(finite_or_inf)))


def format_table(results: dict) -> str:
    """The results of `evaluate` as a text table: one block per photo, then overall.

    Each block has one row per method (gray, network, refined) and one
    column per metric; under the headings, which way is better; after the
    table, what each column is.
    """
    head = f"{'photo / method':<24}" + "".join(f"{h:>{COLUMN_WIDTH}}" for _, h, *_ in COLUMNS)
    better = (f"{'  (better)':<24}" + "".join(f"{b:>{COLUMN_WIDTH}}" for *_, b, _ in COLUMNS)).rstrip()
    lines = [head, better, "-" * len(head)]

    def block(title: str, methods: dict) -> None:
        lines.append(title)
        for method, metrics in methods.items():
            lines.append(f"  {method:<22}" + "".join(f"{metrics[key]:{COLUMN_WIDTH}.{decimals}f}"
                                                     for key, _, decimals, *_ in COLUMNS))

    for name, methods in results["images"].items():
        block(name, methods)
    if results["overall"]:
        block(f"overall ({results['count']} photo{'s' * (results['count'] != 1)})", results["overall"])
        if results["count"] > 1:
            block("standard error of the overall mean", results["stderr"])
    else:
        lines.append("no photo evaluated")
    lines.append("")
    for _, heading, _, better, what in COLUMNS:
        direction = ("better close to the photo's (truth)" if better == "~truth"
                     else f"{better} is better" if better else "")
        lines.append(f"{heading:<10} {what}" + (f"; {direction}" if direction else ""))
    return "\n".join(lines)


def write_results(results: dict, path: str | os.PathLike) -> None:
    """Write the results of `evaluate` (but its ``outputs``) as JSON, atomically; NaN and infinity become null."""
    def clean(x):
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        return None if isinstance(x, float) and not math.isfinite(x) else x

    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(clean({k: v for k, v in results.items() if k != "outputs"}), indent=2) + "\n")
