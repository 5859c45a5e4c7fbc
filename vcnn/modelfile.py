"""Model files: ``.npz`` of named float32 arrays plus one JSON metadata string.

Written with ``allow_pickle=False`` through a temporary name and an atomic
rename, so a crash never leaves half a file under the real name. Loading
refuses anything it cannot vouch for: a file that is not an npz, pickled
objects, a format version it does not know, missing or extra arrays, wrong
shapes or dtypes, NaN or infinity, each with one ``ValueError`` that says
what was wrong.

A crafted file must not exhaust memory before it is refused, so the sizes
are checked first, from what the file declares and before anything is
inflated or allocated (`check_npz`): the zip directory gives each member's
uncompressed size, each ``.npy`` header its dtype and shape; and an
architecture's widths, kernels and parameter count are checked before its
network is built (`check_spec`).
"""
import json
import math
import zipfile
import zlib
from numbers import Integral
from pathlib import Path

import numpy as np

from vcnn.atomic import atomic_path
from vcnn.network import Network

FORMAT_VERSION = 1
META_KEY = "__meta__"

#: Limits of `check_npz`: uncompressed bytes of all arrays (the paper's model
#: takes 55 MB, its checkpoint with SGD velocities twice that), arrays per
#: file, bytes of the JSON metadata.
MAX_FILE_BYTES = 2 ** 31
MAX_ARRAYS = 10_000
MAX_META_BYTES = 2 ** 24
#: Limits of `check_spec`: layers, channels per layer, kernel side, weights
#: per network (the paper's network: 5 layers, 512 channels, 6.8 M weights).
MAX_LAYERS, MAX_WIDTH, MAX_KERNEL, MAX_PARAMETERS = 256, 16_384, 256, 2 ** 28
_NPY_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
#: What reading a damaged or crafted zip of ``.npy`` arrays raises (zipfile, zlib, numpy's header and data
#: checks, an allocation within the limits that still does not fit): each is said by `_unreadable`.
UNREADABLE = (ValueError, OSError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile,
              RuntimeError, zlib.error, MemoryError)         # RuntimeError includes NotImplementedError


def check_npz(path, max_bytes: int | None = None, what: str = "model file") -> None:
    """Refuse an ``.npz`` whose declared sizes are too large or inconsistent, reading no array.

    Parameters
    ----------
    path : str or Path
    max_bytes : int, optional
        Largest total uncompressed size of its members (default MAX_FILE_BYTES).
    what : str
        How messages name the file.

    Raises
    ------
    ValueError
        If it is not a zip of ``.npy`` members, holds more than MAX_ARRAYS of
        them, would inflate to more than `max_bytes`, has metadata over
        MAX_META_BYTES, an object (pickled) dtype, or a header that declares
        more bytes than its member holds.

    Notes
    -----
    Reading a member never inflates more than the size the directory
    declares for it (zipfile stops there, and the CRC check fails if the
    data goes on), and `numpy.load` allocates what the header declares: so
    both are checked here, before `numpy.load` is called.
    """
    max_bytes = MAX_FILE_BYTES if max_bytes is None else max_bytes

    def refused(problem: str) -> ValueError:
        return ValueError(f"{what} {path} {problem}")

    try:
        archive = zipfile.ZipFile(path)
    except UNREADABLE as e:
        raise _unreadable(path, e, what) from None
    with archive:
        members = archive.infolist()
        if len(members) > MAX_ARRAYS:
            raise refused(f"holds {len(members)} arrays, more than the limit of {MAX_ARRAYS}")
        total = sum(m.file_size for m in members)
        if total > max_bytes:
            raise refused(f"would inflate to {total:,} bytes, more than the limit of {max_bytes:,}")
        for member in members:
            name = member.filename
            if not name.endswith(".npy"):
                raise refused(f"member {name!r} is not an .npy array")
            if name == META_KEY + ".npy" and member.file_size > MAX_META_BYTES:
                raise refused(f"its metadata takes {member.file_size:,} bytes, more than {MAX_META_BYTES:,}")
            try:
                shape, dtype = _npy_header(archive, member)
            except UNREADABLE as e:
                raise _unreadable(path, e, what) from None
            if dtype.hasobject:
                raise refused("holds pickled objects, which are refused")
            declared = math.prod(shape) * dtype.itemsize
            if declared > member.file_size:
                raise refused(f"array {name[:-4]!r} declares {shape} {dtype} ({declared:,} bytes) "
                              f"but holds {member.file_size:,} bytes")


def _unreadable(path, error: BaseException, what: str = "model file") -> ValueError:
    """The one message for an `UNREADABLE` error met reading the ``.npz`` at ``path``.

    >>> str(_unreadable("m.npz", zipfile.BadZipFile("Bad CRC-32")))
    'model file m.npz is not a valid .npz: BadZipFile: Bad CRC-32'
    >>> str(_unreadable("m.npz", MemoryError()))
    'model file m.npz: not enough memory to read it'
    """
    if isinstance(error, MemoryError):          # its text is often empty; the file may well be valid
        return ValueError(f"{what} {path}: not enough memory to read it")
    return ValueError(f"{what} {path} is not a valid .npz: {type(error).__name__}: {error}")


def _npy_header(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> tuple[tuple, np.dtype]:
    """The shape and dtype an ``.npy`` member's header declares (reading the header alone)."""
    with archive.open(member) as f:
        version = np.lib.format.read_magic(f)
        if version not in _NPY_HEADER_READERS:
            raise ValueError(f"array {member.filename!r} has .npy format version {version}")
        shape, _, dtype = _NPY_HEADER_READERS[version](f)
    return shape, dtype


def check_spec(spec, path=None) -> None:
    """Refuse an architecture (list of layer specs) that is malformed or too large to build.

    Every ``c_in``, ``c_out`` and ``k`` must be an integer (not a float or a
    boolean) in [1, MAX_WIDTH] or [1, MAX_KERNEL], at most MAX_LAYERS layers,
    at most MAX_PARAMETERS weights in all; raises ValueError naming the field.
    """
    where = f"model file {path} has an invalid architecture: " if path is not None else ""
    if not isinstance(spec, (list, tuple)) or not spec:
        raise ValueError(f"{where}an architecture is a non-empty list of layer specs, got {str(spec)[:80]}")
    if len(spec) > MAX_LAYERS:
        raise ValueError(f"{where}{len(spec)} layers, more than the limit of {MAX_LAYERS}")
    weights = 0
    for i, layer in enumerate(spec):
        if not isinstance(layer, dict):
            raise ValueError(f"{where}layer {i} must be a dict, got {str(layer)[:80]}")
        if layer.get("type") == "relu":
            continue
        for key, limit in (("c_in", MAX_WIDTH), ("c_out", MAX_WIDTH), ("k", MAX_KERNEL)):
            value = layer.get(key)
            if not isinstance(value, Integral) or isinstance(value, bool) or not 1 <= value <= limit:
                raise ValueError(f"{where}layer {i}: {key} must be an integer in 1..{limit}, got {value!r}")
        weights += layer["c_in"] * layer["c_out"] * layer["k"] ** 2
    if weights > MAX_PARAMETERS:
        raise ValueError(f"{where}{weights:,} weights, more than the limit of {MAX_PARAMETERS:,}")


def save_arrays(path, arrays: dict, meta: dict) -> None:
    """Write named arrays and a JSON-able ``meta`` dict to ``path`` atomically.

    ``meta`` gets ``format_version`` added.
    """
    meta = {"format_version": FORMAT_VERSION, **meta}
    blob = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), dtype=np.uint8)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, allow_pickle=False, **{META_KEY: blob}, **arrays)


def load_arrays(path):
    """Read a file written by :func:`save_arrays`; :func:`check_arrays` then checks its names and shapes.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    arrays : dict name -> ndarray
    meta : dict

    Raises
    ------
    ValueError
        One line naming the file and what is wrong with it.
    """
    path = _checked(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except UNREADABLE as e:
        raise _unreadable(path, e) from None
    if META_KEY not in arrays:
        raise ValueError(f"model file {path} has no metadata: not a vcnn model file")
    meta = _parse_meta(arrays.pop(META_KEY), path)
    for name, a in arrays.items():
        if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
            raise ValueError(f"model file {path}: array {name} holds NaN or infinite values")
    return arrays, meta


def load_meta(path) -> dict:
    """The metadata of a file written by :func:`save_arrays`, reading none of its arrays.

    For what needs the metadata alone (a checkpoint's settings before
    resuming): `load_arrays` would read every weight and velocity.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    meta : dict
        The JSON metadata, with its ``format_version``.

    Raises
    ------
    ValueError
        One line naming the file and what is wrong with it: not a zip of
        arrays within the limits (`check_npz`), no metadata, unreadable
        metadata or another format version. The arrays are not checked.
    """
    path = _checked(path)
    try:
        with zipfile.ZipFile(path) as archive, archive.open(META_KEY + ".npy") as f:
            blob = np.lib.format.read_array(f, allow_pickle=False)
    except KeyError:
        raise ValueError(f"model file {path} has no metadata: not a vcnn model file") from None
    except UNREADABLE as e:
        raise _unreadable(path, e) from None
    return _parse_meta(blob, path)


def _checked(path) -> Path:
    """`path` as a Path, once it is known to be a zip of arrays within the limits (`check_npz`)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"model file {path} does not exist")
    check_npz(path)                             # also refuses pickled (object) arrays
    return path


def _parse_meta(blob: np.ndarray, path) -> dict:
    """The JSON metadata stored as bytes, checked for the format version."""
    try:
        meta = json.loads(blob.tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise ValueError(f"model file {path} has unreadable metadata: {type(e).__name__} {e}") from None
    if not isinstance(meta, dict) or meta.get("format_version") != FORMAT_VERSION:
        version = meta.get("format_version") if isinstance(meta, dict) else None
        raise ValueError(f"model file {path} has format version {version!r}, expected {FORMAT_VERSION}")
    return meta


def check_arrays(arrays: dict, expected: dict, path) -> None:
    """Raise unless ``arrays`` holds exactly the float32 arrays of ``expected`` (name -> shape)."""
    missing, extra = sorted(set(expected) - set(arrays)), sorted(set(arrays) - set(expected))
    if missing or extra:
        raise ValueError(f"model file {path} does not match its architecture: missing {missing}, unexpected {extra}")
    for name, shape in expected.items():
        a = arrays[name]
        if a.shape != tuple(shape) or a.dtype != np.float32:
            raise ValueError(f"model file {path}: array {name} must be float32 {tuple(shape)}, got {a.dtype} {a.shape}")


def network_arrays(net: Network, prefix: str = "") -> dict:
    """The parameters of ``net`` as ``{prefix + "<i>.<W|b>": array}``."""
    return {prefix + name: value for name, value, _ in net.parameters()}


def network_from_spec(spec, path) -> Network:
    """A fresh float32 network for the architecture stored in model file ``path``."""
    check_spec(spec, path)
    try:
        return Network.from_spec(spec)
    except (ValueError, TypeError, AttributeError) as e:
        raise ValueError(f"model file {path} has an invalid architecture: {e}") from None


def fill_network(net: Network, arrays: dict, prefix: str = "") -> Network:
    """Copy ``arrays[prefix + name]`` into every parameter of ``net`` (checked arrays)."""
    for name, value, _ in net.parameters():
        value[...] = arrays[prefix + name]
    return net


def save_network(path, net: Network, meta: dict | None = None) -> None:
    """Save one network: its parameters and ``{"architecture": net.spec(), **meta}``."""
    save_arrays(path, network_arrays(net), {**(meta or {}), "architecture": net.spec()})


def load_network(path):
    """Load a network saved by :func:`save_network`; returns (network, meta)."""
    arrays, meta = load_arrays(path)
    net = network_from_spec(meta.get("architecture"), path)
    check_arrays(arrays, {name: value.shape for name, value in network_arrays(net).items()}, path)
    return fill_network(net, arrays), meta
