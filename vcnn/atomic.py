"""Atomic file writes: a reader sees the old file or the new one, never half.

Images, models and checkpoints are all written the same way: to a temporary
file in the target's folder, then ``os.replace``-d onto the target, which is
atomic on POSIX and Windows when both are on one file system (hence the same
folder).
"""
from __future__ import annotations

import os
import re
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def temp_path_for(path: Path) -> Path:
    """A fresh hidden name beside `path` that keeps its suffix.

    Keeping the suffix matters: ``np.savez`` appends ``.npz`` to a name that
    lacks it, and image writers choose the format from it.

    >>> temp_path_for(Path("out/cat.png")).name.startswith(".cat.tmp-")
    True
    """
    token = f"{os.getpid()}-{secrets.token_hex(4)}"
    return path.with_name(f".{path.stem}.tmp-{token}{path.suffix}")


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; move it onto `path` on success.

    Parameters
    ----------
    path : str or PathLike
        The final file. Its folder must exist.

    Yields
    ------
    Path
        A hidden file name in the same folder (not yet created). The body of
        the ``with`` block must create it.

    Raises
    ------
    FileNotFoundError
        If the folder of `path` does not exist, or the body did not create
        the temporary file.

    Notes
    -----
    On success, ``os.replace(tmp, path)``. On any exception (including
    KeyboardInterrupt) the temporary file is removed, `path` is left as it
    was, and the exception propagates; an OSError about the temporary file
    (or about no file: a full disk) is raised again as one that names
    `path`, which the user knows. Temporary files of the same target left by
    a process that was gone when this one first wrote into the folder (killed
    with -9) are removed first (`remove_stale_temps`): so a killed process's
    temporaries go when the next process writes the same file. This protects readers from torn files
    if the process dies; it does not fsync, so it does not promise
    durability across a power loss.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "hello.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("hi")
    >>> target.read_text(), sorted(p.name for p in target.parent.iterdir())
    ('hi', ['hello.txt'])
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"cannot write {path}: folder {path.parent} does not exist")
    remove_stale_temps(path)
    tmp = temp_path_for(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        if err.filename is not None and os.fspath(err.filename) != str(tmp):
            raise
        named = type(err)(f"cannot write {path}: {err.strerror or err}")
        named.errno = err.errno
        raise named from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


#: A name made by `temp_path_for`: ``.<stem>.tmp-<pid>-<8 hex digits><suffix>``.
_TEMP_NAME = re.compile(r"\.(?P<stem>.*)\.tmp-(?P<pid>\d+)-[0-9a-f]{8}(?P<suffix>(\.[^.]*)?)")
#: Folder -> {target name: its temporaries left by processes that were gone when the folder was listed}.
_stale: dict[str, dict[str, list[Path]]] = {}


def remove_stale_temps(path: str | os.PathLike) -> list[Path]:
    """Remove the temporary files of `path` (see `temp_path_for`) whose process is gone.

    Only files of this very target whose PID names no running process on
    this machine are removed; returns them. The folder is listed once per
    process (its first write here), not at every write: writing N files
    into a folder of N files would list N² names. A process killed after
    that listing leaves its temporaries to the next process.
    """
    path = Path(path)
    folder = os.path.abspath(path.parent)
    if folder not in _stale:
        found: dict[str, list[Path]] = {}
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    match = _TEMP_NAME.fullmatch(entry.name)
                    if match and not _alive(int(match["pid"])):
                        found.setdefault(match["stem"] + match["suffix"], []).append(Path(folder, entry.name))
        except OSError:
            pass                        # an unlistable folder: nothing to clean, the write itself will say
        _stale[folder] = found
    removed = _stale[folder].pop(path.name, [])
    for tmp in removed:
        tmp.unlink(missing_ok=True)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True
