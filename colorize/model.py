"""The colorization model: two networks of one architecture, for U and for V.

The paper's network (§3.2) is four convolutions, 11×11, 4×4, 3×3 and 1×1 with
512, 512, 512 and 256 kernels, each followed by ReLU, then the mapping layer
(an 8×8 :class:`vcnn.FullConv2D`) that turns the 49×49 maps into the 56×56
centre of the 64×64 input window. One network predicts U, the other V (the
paper found this better than one network for both); they share nothing, so
they can train in two processes.

A network's output z becomes chroma through ``lo + (hi - lo)·σ(z)`` with the
channel's BT.601 range (see :mod:`colorize.losses`); its input is ``Y - 0.5``.
"""
from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import numpy as np

import vcnn
from vcnn.modelfile import check_arrays, fill_network, load_arrays, network_arrays, network_from_spec, save_arrays
from colorize.losses import predict
from colorize.yuv import U_RANGE, V_RANGE

KERNELS = (11, 4, 3, 1)
MAPPING = 8
WIDTHS = {"paper": (512, 512, 512, 256), "small": (32, 32, 32, 16)}
PATCH = 64
CHROMA_RANGES = {"u": U_RANGE, "v": V_RANGE}
Y_OFFSET = 0.5          # the network sees Y - 0.5, centred on 0


def architecture(channels=WIDTHS["small"], kernels=KERNELS, mapping=MAPPING) -> list[dict]:
    """Layer specs: one conv + ReLU per (channels, kernel) pair, then the mapping layer.

    >>> [layer.get("k") for layer in architecture((8, 8, 8, 4))]
    [11, None, 4, None, 3, None, 1, None, 8]
    """
    channels, kernels = [int(c) for c in channels], [int(k) for k in kernels]
    if len(channels) != len(kernels) or not channels or min(channels + kernels) < 1:
        raise ValueError(f"need one positive width per kernel {tuple(kernels)}, got widths {tuple(channels)}")
    specs, c_in = [], 1
    for c_out, k in zip(channels, kernels):
        specs += [{"type": "conv", "c_in": c_in, "c_out": c_out, "k": k}, {"type": "relu"}]
        c_in = c_out
    return specs + [{"type": "full_conv", "c_in": c_in, "c_out": 1, "k": int(mapping)}]


def parse_architecture(arch: str = "small", channels: str | None = None) -> list[dict]:
    """The architecture a user names: ``small``, ``paper`` or a JSON file.

    The JSON file holds ``{"channels": [...], "kernels": [...], "mapping": 8}``
    (kernels and mapping optional). ``channels`` ("C1,C2,C3,C4") overrides
    the widths and keeps the kernels.
    """
    if arch in WIDTHS:
        spec = {"channels": WIDTHS[arch]}
    else:
        try:
            spec = json.loads(Path(arch).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise ValueError(f"--arch must be small, paper or a JSON file, got {arch!r} ({e})") from None
        if not isinstance(spec, dict) or "channels" not in spec:
            raise ValueError(f"architecture file {arch} must hold {{\"channels\": [...], \"kernels\": [...]}}")
    if channels is not None:
        try:
            spec["channels"] = [int(c) for c in str(channels).split(",")]
        except ValueError:
            raise ValueError(f"--channels must be comma-separated integers like 32,32,32,16, got {channels!r}") from None
    kernels = spec.get("kernels", KERNELS)
    if len(spec["channels"]) != len(kernels):
        raise ValueError(f"--channels needs {len(kernels)} widths for kernels {tuple(kernels)}, got {spec['channels']}")
    return architecture(spec["channels"], kernels, spec.get("mapping", MAPPING))


def output_size(specs: list[dict], patch: int) -> int:
    """Side of the output for a ``patch``×``patch`` input: valid convs shrink, the mapping layer grows.

    >>> output_size(architecture(), 64)
    56
    """
    size = patch
    for layer in specs:
        if layer["type"] == "conv":
            size -= layer["k"] - 1
        elif layer["type"] == "full_conv":
            size += layer["k"] - 1
    return size


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
        self.specs, self.patch = specs, int(patch)
        self.long_side = check_long_side(long_side)
        self.out = output_size(specs, self.patch)
        if self.out < 1 or self.out > self.patch:
            raise ValueError(f"architecture maps a {patch}x{patch} window to {self.out}x{self.out}: "
                             "the output must be a non-empty centre of the input")
        self.nets = {name: init_network(specs, rng, name) for name in CHROMA_RANGES}
        self.meta = dict(meta or {})

    @property
    def margin(self) -> int:
        """Pixels between the window's edge and its predicted centre (4 for 64 → 56)."""
        return (self.patch - self.out) // 2

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
        x = (np.asarray(y, np.float32) - Y_OFFSET)[:, None]
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
    def load(cls, path) -> "ColorizationModel":
        """Read and validate a model file written by :meth:`save`; raises ``ValueError``."""
        arrays, meta = load_arrays(path)
        network_from_spec(meta.get("architecture"), path)          # a clear error for a bad spec
        try:
            long_side = check_long_side(meta.pop("long_side", None))
        except (TypeError, ValueError) as e:
            raise ValueError(f"model file {path} has an invalid working scale: {e}") from None
        try:
            model = cls(meta.pop("architecture"), meta.pop("patch", PATCH), meta=meta, long_side=long_side)
        except (TypeError, KeyError) as e:
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


def load_model(name_or_path: str | Path | None = None) -> ColorizationModel:
    """Load a model file, or a bundled model by name (default: ``"default"``)."""
    if name_or_path is None:
        name_or_path = DEFAULT_MODEL
    path = Path(name_or_path)
    if not path.exists():
        bundled = bundled_models()
        if str(name_or_path) not in bundled:
            raise ValueError(f"model {name_or_path} is neither a file nor a bundled model "
                             f"(bundled: {', '.join(sorted(bundled)) or 'none'})")
        path = bundled[str(name_or_path)]
    return ColorizationModel.load(path)
