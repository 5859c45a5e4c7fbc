"""Atomic file writes: a reader sees the old file or the new one, never half.

Images, models and checkpoints are all written the same way: to a temporary
file in the target's folder, then ``os.replace``-d onto the target, which is
atomic on POSIX and Windows when both are on one file system (hence the same
folder).
"""
from __future__ import annotations

import os
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
    was, and the exception propagates. This protects readers from torn files
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
    tmp = temp_path_for(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
