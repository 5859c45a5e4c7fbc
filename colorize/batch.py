"""Many image files through one function: expand folders, name outputs, skip bad files.

``colorize apply`` and ``colorize evaluate`` both take files and folders, do
one thing per image and must not stop at the first bad file: a bad file is
reported in one line and skipped, the rest are processed, and the caller
learns what failed. Every command also writes files next to user data, so
outputs are checked here, once, by `check_output` and `prepare_folder`, before
any work starts: an input is never overwritten, an existing file is replaced
only when asked (``--overwrite``), two inputs never write to the same output,
and a folder that cannot be written to is reported before the computing, not
after it.

Given a communicator of K ranks (``mpiexec -n K``), `run_batch` shares the
files out: rank r processes files r, r+K, r+2K, … and every rank gets back
the result of all of them.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from colorize.images import OUTPUT_SUFFIX, ImageError, list_images
from colorize.parallel import Communicator
from vcnn.atomic import temp_path_for

#: Errors that mean "this file could not be processed", reported and skipped.
#: (ImageError is a ValueError.) MemoryError too: an image too large for the
#: memory left is one file's failure, and the next file may fit. Anything
#: else is a bug and propagates.
FILE_ERRORS = (ValueError, OSError, MemoryError)

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


def find_images(inputs: str | os.PathLike | Iterable[str | os.PathLike],
                report: Report | None = None) -> tuple[list[Path], dict[Path, str]]:
    """Expand files and folders into image files, collecting missing paths instead of raising.

    Parameters
    ----------
    inputs : path or iterable of paths
        Files are taken as given; folders give their images (see
        `colorize.images.list_images`: this tool's ``*_colorized.*`` outputs
        are left out of folders).
    report : callable str -> None, optional
        Told, in one ``note:`` line per folder, which outputs were left out.

    Returns
    -------
    images : list of Path, without duplicates
    missing : dict Path -> one-line reason, for inputs that do not exist
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    images, missing, seen = [], {}, set()
    for path in map(Path, inputs):
        skipped = []
        try:
            found = list_images(path, skipped)
        except ImageError as err:
            missing[path] = str(err)
            continue
        if skipped and report is not None:
            report(f"note: skipped {len(skipped)} file{'s' * (len(skipped) > 1)} named *{OUTPUT_SUFFIX}.* in "
                   f"{path} (outputs of an earlier run; name a file to process it): {skipped[0].name}"
                   + (" …" if len(skipped) > 1 else ""))
        for f in found:
            if f.resolve() not in seen:
                seen.add(f.resolve())
                images.append(f)
    return images, missing


def check_output(path: str | os.PathLike, inputs: Iterable[str | os.PathLike] = (), overwrite: bool = False,
                 what: str = "output", probe: bool = True) -> Path:
    """Check, before any work, that writing the file `path` destroys nothing and can succeed.

    Every command that writes a file calls this (through `output_paths` for
    per-image outputs): it is the one place where the rules live.

    Parameters
    ----------
    path : the file to be written
    inputs : paths of the files the command reads; never written over, whatever `overwrite`
    overwrite : bool
        Whether an existing file (not an input) may be replaced.
    what : str
        How the messages name the file, e.g. ``"--json file"``.
    probe : bool
        Also create and remove a hidden file in the folder, to learn now
        whether it is writable (read-only disk, permissions).

    Returns
    -------
    Path

    Raises
    ------
    ValueError
        If `path` is one of `inputs` or a folder.
    FileExistsError
        If `path` exists and `overwrite` is False.
    OSError
        If its folder does not exist or cannot be written to.

    >>> check_output("cat.png", ["cat.png"])
    Traceback (most recent call last):
    ValueError: output cat.png would overwrite the input cat.png
    """
    path = Path(path)
    key = path.resolve()
    for source in map(Path, inputs):
        if source.resolve() == key or (path.exists() and source.exists() and path.samefile(source)):
            raise ValueError(f"{what} {path} would overwrite the input {source}")
    if path.is_dir():
        raise ValueError(f"{what} {path} is a folder, not a file")
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise FileExistsError(f"{what} {path} already exists (--overwrite replaces it)")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"cannot write {what} {path}: folder {path.parent} does not exist")
    if probe:
        _probe_folder(path.parent)
    return path


def prepare_folder(folder: str | os.PathLike, what: str = "output folder") -> Path:
    """Create `folder` if needed and check that files can be written in it; OSError otherwise."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"{what} {folder} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OSError(err.errno, f"cannot create {what} {folder}: {err.strerror}") from None
    _probe_folder(folder)
    return folder


def _probe_folder(folder: Path) -> None:
    """Create and remove a hidden file in `folder`, so that an unwritable folder fails now."""
    probe = temp_path_for(folder / "write-probe")
    try:
        with open(probe, "x"):
            pass
        probe.unlink()
    except OSError as err:
        raise OSError(err.errno, f"cannot write in folder {folder}: {err.strerror}") from None


def output_paths(images: list[Path], out_dir: str | os.PathLike, suffix: str, ext: str = ".png",
                 overwrite: bool = True) -> tuple[dict[Path, Path], dict[Path, str]]:
    """The output of each image, ``out_dir / (stem + suffix + ext)``, when it is safe.

    Returns
    -------
    targets : dict Path -> Path
        Input -> output, for the images whose output is safe to write.
    refused : dict Path -> one-line reason
        Images whose output would be one of the `images` (an input is never
        overwritten, whatever the options), an existing file (unless
        `overwrite`), or the output of an earlier image (one stem in two
        folders, or ``cat.png`` and ``cat.jpg``). See `check_output`.

    >>> targets, refused = output_paths([Path("a/cat.jpg"), Path("b/cat.png")], ".", "_colorized")
    >>> targets, refused
    ({PosixPath('a/cat.jpg'): PosixPath('cat_colorized.png')}, {PosixPath('b/cat.png'): 'b/cat.png: output cat_colorized.png is already the output of a/cat.jpg'})
    """
    sources = {p.resolve(): p for p in images}
    targets, claimed, problems = {}, {}, {}
    for src in images:
        dst = Path(out_dir) / f"{src.stem}{suffix}{ext}"
        key = dst.resolve()
        try:
            if key in claimed:
                raise ValueError(f"output {dst} is already the output of {claimed[key]}")
            check_output(dst, [sources[key]] if key in sources else (), overwrite, probe=False)
        except FILE_ERRORS as err:
            problems[src] = f"{src}: {err}"
            continue
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
            text = str(err) if not isinstance(err, MemoryError) else f"out of memory {err}".strip()
            reason = text if str(path) in text else f"{path}: {text}"
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

