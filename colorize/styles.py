"""Colour styles for stylistic colorization (paper, Fig. 8).

A style is nothing but a model trained on photos of that style. To make such
a training set reproducibly from ordinary colour photos, :func:`tone` maps
every pixel through a fixed 3×3 colour matrix (then clips to [0, 1]).

``sepia`` is the classic sepia-tone matrix (as used by e.g. CSS
``filter: sepia(1)``); ``bronze`` is sepia pushed towards orange-brown and a
little darker. Both keep the luminance ordering of the photo and give every
pixel the same hue, so the style is the hue a model learns.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

STYLES = {
    "sepia": np.array([[0.393, 0.769, 0.189],
                       [0.349, 0.686, 0.168],
                       [0.272, 0.534, 0.131]]),
    "bronze": np.array([[0.450, 0.780, 0.160],
                        [0.330, 0.600, 0.120],
                        [0.160, 0.330, 0.090]]),
}


def tone(rgb: np.ndarray, style: str) -> np.ndarray:
    """Tone an RGB image to a style: ``rgb' = clip(M_style · rgb, 0, 1)`` per pixel.

    Parameters
    ----------
    rgb : ndarray, (..., 3), values in [0, 1]
    style : one of ``STYLES``

    Returns
    -------
    ndarray, like ``rgb`` (float32)

    Examples
    --------
    >>> [round(float(c), 2) for c in tone(np.ones(3), "sepia")]
    [1.0, 1.0, 0.94]
    """
    if style not in STYLES:
        raise ValueError(f"style must be one of {', '.join(sorted(STYLES))}, got {style!r}")
    rgb = np.asarray(rgb, dtype=np.float32)
    if rgb.shape[-1:] != (3,):
        raise ValueError(f"rgb must be (..., 3), got shape {rgb.shape}")
    return np.clip(rgb @ STYLES[style].T.astype(np.float32), 0, 1)


def tone_files(inputs, out_dir, style: str, progress=None, overwrite: bool = False, report=None):
    """Tone every image under ``inputs`` and write ``out_dir/<stem>.png``: a style's training set.

    The rules of ``colorize apply`` (`colorize.batch`): an input is never
    replaced, an existing file only with `overwrite`, two inputs never write
    one output (the second is refused), and with `report` a bad or refused
    file is reported in one line and skipped while the others are toned.

    Returns
    -------
    BatchResult
        ``done``: input -> file written; ``failed``: input -> reason.
    """
    from colorize.batch import find_images, output_paths, prepare_folder, run_batch
    from colorize.images import read_image, write_png

    if style not in STYLES:
        raise ValueError(f"style must be one of {', '.join(sorted(STYLES))}, got {style!r}")
    files, missing = find_images(inputs)
    if not files and not missing:
        raise ValueError(f"no images found in {', '.join(map(str, inputs))}")
    prepare_folder(out_dir)
    targets, refused = output_paths(files, out_dir, "", overwrite=overwrite)

    def one(src: Path) -> Path:
        write_png(targets[src], tone(read_image(src)[0], style))
        return targets[src]

    return run_batch([f for f in files if f in targets], one, report, progress, failed={**missing, **refused})
