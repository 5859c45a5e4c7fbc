"""Colorize image files: what ``colorize apply`` does, as two library calls.

`colorize_file` reads one image, colorizes its luminance and writes a PNG
that keeps the input's alpha channel and bit depth; `colorize_files` does it
for files and folders, naming each output ``<stem>_colorized.png`` and
reporting bad files without stopping. Under ``mpiexec -n K`` the files are
shared out over the K processes; each image is colorized by one process
alone, so the outputs are the files one process writes.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from colorize.batch import (BatchResult, Progress, Report, check_output, find_images, output_paths, prepare_folder,
                            run_batch)
from colorize.images import OUTPUT_SUFFIX, ImageInfo, read_luminance
from colorize.options import InferenceOptions, prepare
from colorize.parallel import Communicator, world
from colorize.pipeline import chroma_strips, strip_rgb
from colorize.pngfile import quantize, write_png

#: Appended to the input's stem to name its output.
SUFFIX = OUTPUT_SUFFIX


def colorize_file(src: str | os.PathLike, dst: str | os.PathLike, model=None, *, overwrite: bool = False,
                  options: InferenceOptions | None = None, **changes) -> ImageInfo:
    """Colorize one image file into a PNG.

    Parameters
    ----------
    src : path of a PNG, JPEG, TIFF or BMP image (gray or colour, 8 or 16 bit)
        A colour image is reduced to its luminance and colorized anew.
    dst : path of the PNG to write, atomically; its folder must exist
    model : ColorizationModel, path or bundled model name, or None (the default model)
    overwrite : bool
        Replace an existing `dst`. The input itself is never replaced.
    options, changes : InferenceOptions, or its fields (`colorize.options.inference_options`)

    Returns
    -------
    ImageInfo
        Of the input (``gray`` is False for a colour input).

    Raises
    ------
    ImageError
        If `src` cannot be read.
    FileExistsError
        If `dst` exists and `overwrite` is False.
    ValueError
        If `dst` is `src`, or on a bad option value.
    OSError
        If the folder of `dst` does not exist.

    Notes
    -----
    The output is RGB, or RGBA when the input has an alpha channel (kept as
    it is), at 16 bits when the input has 16 and at 8 bits otherwise.
    Memory: the file's luminance (4 bytes per pixel), the output's integer
    pixels (3 or 6, plus its alpha) and one strip of the pipeline
    (`colorize.pipeline.chroma_strips`); the output is quantised strip by
    strip and written strip by strip.
    """
    src, dst = Path(src), Path(dst)
    model, options = prepare(model, options, **changes)
    check_output(dst, [src], overwrite, probe=False)
    y, info = read_luminance(src)
    depth = 16 if info.bit_depth == 16 else 8
    alpha = info.alpha_pixels               # the file's own integers: written back as they are
    pixels = np.empty((*y.shape, 3 if alpha is None else 4), np.uint16 if depth == 16 else np.uint8)
    if alpha is not None:                   # 8 or 16 bits, as the output's
        pixels[..., 3] = alpha
    for strip in chroma_strips(y, model, options):
        pixels[strip.top:strip.top + len(strip.y), :, :3] = quantize(strip_rgb(strip), depth)
    del y
    write_png(dst, pixels)
    return info


def colorize_files(inputs, out_dir: str | os.PathLike = ".", model=None, *, overwrite: bool = False,
                   options: InferenceOptions | None = None, report: Report | None = None,
                   progress: Progress | None = None, comm: Communicator | None = None, **changes) -> BatchResult:
    """Colorize image files and folders into ``out_dir/<stem>_colorized.png``.

    Parameters
    ----------
    inputs : path or iterable of paths (files and folders)
        Folders are searched for images (not recursively), leaving out files
        named ``*_colorized.*``, the outputs of an earlier run.
    out_dir : path
        Created if needed. May be an input folder: inputs are never replaced.
    model : ColorizationModel, path or bundled model name, or None
        None loads the bundled default model.
    overwrite : bool
        Replace existing outputs (never inputs).
    options, changes : InferenceOptions, or its fields (`colorize.options.inference_options`)
    report : callable str -> None, optional
        Receives one line per problem (``error: ...``, the file is skipped)
        and per colour input (``note: ...``). Without it, the first problem
        raises.
    progress : callable list -> iterable, optional
        Wraps the list of images, e.g. in a progress bar.
    comm : Communicator, optional
        Default `colorize.parallel.world`: under ``mpiexec -n K`` every rank
        calls this with the same arguments, rank r colorizes images r, r+K, …
        (see `colorize.batch.run_batch`) and reports its own problems.

    Returns
    -------
    BatchResult
        ``done``: input -> output written; ``failed``: input -> reason.
        Under MPI, of every rank's images, on every rank.

    Raises
    ------
    ValueError
        On a bad option or model, before any image is read.
    OSError
        If `out_dir` cannot be created or written to, before any image is read.
    """
    model, options = prepare(model, options, **changes)
    images, missing = find_images(inputs, report=report if (comm or world()).rank == 0 else None)
    prepare_folder(out_dir)
    targets, refused = output_paths(images, out_dir, SUFFIX, overwrite=overwrite)

    def one(src: Path) -> Path:
        info = colorize_file(src, targets[src], model, overwrite=overwrite, options=options)
        if not info.gray and report is not None:
            report(f"note: {src} is in colour: colorized anew from its luminance")
        return targets[src]

    return run_batch([p for p in images if p in targets], one, report, progress,
                     failed={**missing, **refused}, comm=comm or world())
