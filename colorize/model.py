"""The colorization model: two networks of one architecture, for U and for V.

The paper's network (§3.2) is four convolutions, 11×11, 4×4, 3×3 and 1×1 with
512, 512, 512 and 256 kernels, each followed by ReLU, then the mapping layer
(an 8×8 :class:`vcnn.FullConv2D`) that turns the 49×49 maps into the 56×56
centre of the 64×64 input window. One network predicts U, the other V (the
paper found this better than one network for both); they share nothing, so
they can train in two processes.

A network's output z becomes chroma through ``lo + (hi - lo)·σ(z)`` with the
channel's BT.601 range (see :mod:`colorize.losses`); its input is ``Y - 0.5``.
The architecture rules (the layers, and the sizes that follow from the
kernels) are in :mod:`colorize.architecture`, and importable from here too.
"""
from __future__ import annotations

import os
from importlib import resources
from numbers import Integral
from pathlib import Path

import numpy as np

import vcnn
from vcnn.modelfile import (check_arrays, check_spec, fill_network, load_arrays, network_arrays,
                            save_arrays)
from colorize.architecture import (ARCHITECTURES, DEFAULT_ARCH, KERNELS, MAX_PATCH, PATCH, WIDTHS,  # noqa: F401
                                   architecture, describe_architecture, mapping_size, margin, named_architecture,
                                   output_size, parse_architecture)
from colorize.losses import predict
from colorize.yuv import U_RANGE, V_RANGE

CHROMA_RANGES = {"u": U_RANGE, "v": V_RANGE}
Y_OFFSET = 0.5          # the network sees Y - 0.5, centred on 0


def network_input(y: np.ndarray) -> np.ndarray:
    """What the networks see of luminance windows (N, H, W) in [0, 1]: Y - 0.5, as float32 (N, 1, H, W).

    >>> network_input(np.full((2, 3, 3), 0.75)).shape, float(network_input(np.full((1, 1, 1), 0.75)).item())
    ((2, 1, 3, 3), 0.25)
    """
    return (np.asarray(y, np.float32) - Y_OFFSET)[:, None]


def check_long_side(long_side) -> int | None:
    """None, or a whole number of pixels >= 1 (a working scale); raises ValueError otherwise."""
    if long_side is None:
        return None
    if isinstance(long_side, bool) or not float(long_side).is_integer() or long_side < 1:
        raise ValueError(f"long side must be a whole number of pixels >= 1, got {long_side!r}")
    return int(long_side)


def init_network(specs: list[dict], seed, channel: str) -> vcnn.Network:
    """The freshly initialised network of one channel: U and V draw from two
    independent streams spawned from ``seed``, so either can be built alone."""
    stream = np.random.SeedSequence(seed).spawn(len(CHROMA_RANGES))[list(CHROMA_RANGES).index(channel)]
    return vcnn.Network.from_spec(specs, rng=np.random.default_rng(stream))


class ColorizationModel:
    """The U and V networks with what is needed to use them.

    Parameters
    ----------
    specs : list of layer specs (see :func:`architecture`)
    patch : int
        Side of the input window (64 in the paper).
    rng : seed for the two networks' initialisation (U and V get different streams)
    meta : dict, optional
        Free-form description saved with the model (training, data, metrics).
    long_side : int, optional
        The scale the model works at: photos were shrunk to this long side
        (pixels) for training, and images are shrunk to it to predict their
        chroma (see :func:`colorize.infer.predict_chroma`). None: as given.
    """

    def __init__(self, specs: list[dict], patch: int = PATCH, rng=None, meta: dict | None = None,
                 long_side: int | None = None):
        check_spec(specs)
        if not isinstance(patch, Integral) or isinstance(patch, bool) or not 1 <= patch <= MAX_PATCH:
            raise ValueError(f"patch must be a whole number of pixels in 1..{MAX_PATCH}, got {patch!r}")
        self.specs, self.patch = specs, int(patch)
        self.long_side = check_long_side(long_side)
        self.out = output_size(specs, self.patch)
        if self.out < 1 or self.out > self.patch:
            raise ValueError(f"architecture maps a {patch}x{patch} window to {self.out}x{self.out}: "
                             "the output must be a non-empty centre of the input")
        self.nets = {name: init_network(specs, rng, name) for name in CHROMA_RANGES}
        self.meta = dict(meta or {})

    def predict(self, y: np.ndarray) -> np.ndarray:
        """Chroma of the window centres.

        Parameters
        ----------
        y : ndarray, float32, shape (N, patch, patch)
            Luminance windows in [0, 1].

        Returns
        -------
        uv : ndarray, float32, shape (N, 2, out, out)
        """
        x = network_input(y)
        return np.concatenate([predict(self.nets[name].forward(x), *CHROMA_RANGES[name])
                               for name in CHROMA_RANGES], axis=1)

    def arrays(self) -> dict:
        """Every parameter, named ``"u.<layer>.<W|b>"`` and ``"v.<layer>.<W|b>"``."""
        return {key: value for name, net in self.nets.items() for key, value in network_arrays(net, f"{name}.").items()}

    def save(self, path) -> None:
        """Write the model file (atomically): both networks and the metadata."""
        save_arrays(path, self.arrays(), {**self.meta, "architecture": self.specs, "patch": self.patch,
                                          "long_side": self.long_side})

    @classmethod
    def load(cls, path, long_side: int | None = None) -> "ColorizationModel":
        """Read and validate a model file written by :meth:`save`; raises ``ValueError``.

        ``long_side``: work at this scale instead of the saved one (0: at the
        image's own size; None: the scale the model was trained at).
        """
        arrays, meta = load_arrays(path)
        check_spec(meta.get("architecture"), path)                 # a clear error naming the file for a bad spec
        try:
            saved = check_long_side(meta.pop("long_side", None))
        except (TypeError, ValueError) as e:
            raise ValueError(f"model file {path} has an invalid working scale: {e}") from None
        long_side = saved if long_side is None else check_long_side(long_side or None)
        try:
            model = cls(meta.pop("architecture"), meta.pop("patch", PATCH), meta=meta, long_side=long_side)
        except (TypeError, KeyError, ValueError) as e:
            raise ValueError(f"model file {path} has an invalid architecture: {e}") from None
        check_arrays(arrays, {name: value.shape for name, value in model.arrays().items()}, path)
        for name, net in model.nets.items():
            fill_network(net, arrays, f"{name}.")
        return model


def bundled_models() -> dict[str, Path]:
    """Models shipped in ``colorize/models``: name -> file."""
    folder = resources.files("colorize") / "models"
    return {Path(str(f)).stem: Path(str(f)) for f in folder.iterdir() if str(f).endswith(".npz")}


DEFAULT_MODEL = "default"


def is_model_path(name_or_path: str | os.PathLike) -> bool:
    """The one rule that tells a model file from a bundled model's name.

    A `pathlib.Path`, or a string holding a folder separator or ending in
    ``.npz``, is a file; any other string is the name of a bundled model,
    whatever files or folders the current folder holds (a folder named
    ``default`` or a file ``sepia`` changes nothing: give ``./sepia``).

    >>> [is_model_path(x) for x in ("sepia", "./sepia", "my.npz", "models/a")]
    [False, True, True, True]
    """
    if isinstance(name_or_path, os.PathLike):
        return True
    text = str(name_or_path)
    return "/" in text or os.sep in text or (os.altsep or "/") in text or text.lower().endswith(".npz")


def model_file(name_or_path: str | os.PathLike | None = None) -> Path:
    """The file of a model given as a path or a bundled name (default ``"default"``), by `is_model_path`."""
    if name_or_path is None:
        name_or_path = DEFAULT_MODEL
    if is_model_path(name_or_path):
        return Path(name_or_path)
    bundled = bundled_models()
    if str(name_or_path) not in bundled:
        raise ValueError(f"model {name_or_path} is not a bundled model (bundled: {', '.join(sorted(bundled)) or 'none'}); "
                         f"a model file is given by a path with a folder or the .npz extension, "
                         f"e.g. ./{name_or_path}")
    return bundled[str(name_or_path)]


def load_model(name_or_path: str | Path | None = None, long_side: int | None = None) -> ColorizationModel:
    """Load a model file, or a bundled model by name (default: ``"default"``); see `is_model_path`.

    ``long_side``: as in `ColorizationModel.load` (None: the model's own working scale).
    """
    return ColorizationModel.load(model_file(name_or_path), long_side)
