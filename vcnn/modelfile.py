"""Model files: ``.npz`` of named float32 arrays plus one JSON metadata string.

Written with ``allow_pickle=False`` through a temporary name and an atomic
rename, so a crash never leaves half a file under the real name. Loading
refuses anything it cannot vouch for: a file that is not an npz, pickled
objects, a format version it does not know, missing or extra arrays, wrong
shapes or dtypes, NaN or infinity, each with one ``ValueError`` that says
what was wrong.
"""
import json
import zipfile
from pathlib import Path

import numpy as np

from vcnn.atomic import atomic_path
from vcnn.network import Network

FORMAT_VERSION = 1
META_KEY = "__meta__"


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
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"model file {path} does not exist")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"model file {path} is not a valid .npz (not a zip archive)")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except ValueError as e:
        if "pickle" in str(e):
            raise ValueError(f"model file {path} holds pickled objects, which are refused") from None
        raise ValueError(f"model file {path} is not a valid .npz: {e}") from None
    except (OSError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"model file {path} is not a valid .npz: {e}") from None
    if not isinstance(arrays, dict) or META_KEY not in arrays:
        raise ValueError(f"model file {path} has no metadata: not a vcnn model file")
    try:
        meta = json.loads(arrays.pop(META_KEY).tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"model file {path} has unreadable metadata: {e}") from None
    if not isinstance(meta, dict) or meta.get("format_version") != FORMAT_VERSION:
        version = meta.get("format_version") if isinstance(meta, dict) else None
        raise ValueError(f"model file {path} has format version {version!r}, expected {FORMAT_VERSION}")
    for name, a in arrays.items():
        if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
            raise ValueError(f"model file {path}: array {name} holds NaN or infinite values")
    return arrays, meta


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
