"""Many image files through one function: expand folders, name outputs, skip bad files.

``colorize apply`` and ``colorize evaluate`` both take files and folders, do
one thing per image and must not stop at the first bad file: a bad file is
reported in one line and skipped, the rest are processed, and the caller
learns what failed. Both also write files next to user data, so output names
are checked here, once: an input is never overwritten, and two inputs never
write to the same output.

Given a communicator of K ranks (``mpiexec -n K``), `run_batch` shares the
files out: rank r processes files r, r+K, r+2K, … and every rank gets back
the result of all of them.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from colorize.images import ImageError, list_images
from colorize.parallel import Communicator

#: Errors that mean "this file could not be processed", reported and skipped.
#: (ImageError is a ValueError.) Anything else is a bug and propagates.
FILE_ERRORS = (ValueError, OSError)

Report = Callable[[str], None]
Progress = Callable[[list], Iterable]


@dataclass
class BatchResult:
    """What happened to each input of a batch.

    Attributes
    ----------
    done : dict Path -> result of the per-file function, in input order
    failed : dict Path -> one-line reason
    """

    done: dict = field(default_factory=dict)
    failed: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when no input failed."""
        return not self.failed


def find_images(inputs: str | os.PathLike | Iterable[str | os.PathLike],
                skip_suffix: str | None = None) -> tuple[list[Path], dict[Path, str]]:
    """Expand files and folders into image files, collecting missing paths instead of raising.

    Parameters
    ----------
    inputs : path or iterable of paths
        Files are taken as given; folders give their images (see
        `colorize.images.list_images`).
    skip_suffix : str, optional
        Files found *in folders* whose stem ends with it are left out (our own
        outputs, e.g. ``cat_colorized.png``, when a folder is processed
        again). Files named explicitly are always kept.

    Returns
    -------
    images : list of Path, without duplicates
    missing : dict Path -> one-line reason, for inputs that do not exist
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    images, missing, seen = [], {}, set()
    for path in map(Path, inputs):
        try:
            found = list_images(path)
        except ImageError as err:
            missing[path] = str(err)
            continue
        if path.is_dir() and skip_suffix:
            found = [f for f in found if not f.stem.endswith(skip_suffix)]
        for f in found:
            if f.resolve() not in seen:
                seen.add(f.resolve())
                images.append(f)
    return images, missing


def output_paths(images: list[Path], out_dir: str | os.PathLike, suffix: str,
                 ext: str = ".png") -> tuple[dict[Path, Path], dict[Path, str]]:
    """The output of each image, ``out_dir / (stem + suffix + ext)``, when it is safe.

    Returns
    -------
    targets : dict Path -> Path
        Input -> output, for the images whose output is safe to write.
    refused : dict Path -> one-line reason
        Images whose output would be one of the `images` (an input is never
        overwritten, whatever the options) or the output of an earlier image
        (one stem in two folders, or ``cat.png`` and ``cat.jpg``).

    >>> output_paths([Path("a/cat.jpg"), Path("b/cat.png")], "out", "_colorized")[0]
    {PosixPath('a/cat.jpg'): PosixPath('out/cat_colorized.png')}
    """
    inputs = {p.resolve(): p for p in images}
    targets, claimed, problems = {}, {}, {}
    for src in images:
        dst = Path(out_dir) / f"{src.stem}{suffix}{ext}"
        key = dst.resolve()
        if key in inputs:
            problems[src] = f"{src}: output {dst} would overwrite the input {inputs[key]}"
        elif key in claimed:
            problems[src] = f"{src}: output {dst} is already the output of {claimed[key]}"
        else:
            claimed[key], targets[src] = src, dst
    return targets, problems


def run_batch(paths: list[Path], fn: Callable[[Path], object], report: Report | None = None,
              progress: Progress | None = None, failed: dict[Path, str] | None = None,
              comm: Communicator | None = None) -> BatchResult:
    """Call ``fn(path)`` for each path; report and skip the ones that fail.

    Parameters
    ----------
    paths : list of Path
    fn : callable Path -> result
    report : callable str -> None, optional
        Receives one line ``"error: <reason>"`` per failed file. Without it,
        the first failure raises.
    progress : callable list -> iterable, optional
        Wraps the list for display (e.g. a progress bar); must yield its items.
    failed : dict Path -> reason, optional
        Failures found earlier (missing inputs, refused outputs): reported
        first, then kept in the result.
    comm : Communicator, optional
        Rank r of K calls ``fn`` on paths r, r+K, … only, reports their
        failures itself (rank 0 reports the earlier ones), and gets the
        result of every rank; ``fn``'s results must then be picklable.

    Returns
    -------
    BatchResult
        Of all the paths (on every rank), ``done`` in the order of `paths`.
    """
    comm = comm or Communicator()
    result = BatchResult()
    for path, reason in (failed or {}).items():
        _fail(result, path, reason, report if comm.rank == 0 or report is None else _quiet)
    for path in (progress or iter)(paths[comm.rank::comm.size]):
        try:
            result.done[path] = fn(path)
        except FILE_ERRORS as err:
            reason = str(err) if str(path) in str(err) else f"{path}: {err}"
            _fail(result, path, reason, report, err)
    if comm.size == 1:
        return result
    parts = comm.gather(result)                 # path i was rank (i mod K)'s
    merged = BatchResult(failed=dict(failed or {}))
    for i, path in enumerate(paths):
        part = parts[i % comm.size]
        if path in part.done:
            merged.done[path] = part.done[path]
        else:
            merged.failed[path] = part.failed[path]
    return merged


def _quiet(line: str) -> None:
    """A report that says nothing: rank 0 says the line."""


def _fail(result: BatchResult, path: Path, reason: str, report: Report | None,
          err: Exception | None = None) -> None:
    if report is None:
        raise err if err is not None else ValueError(reason)
    result.failed[path] = reason
    report(f"error: {reason}")

