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
import os
from importlib import resources
from numbers import Integral
from pathlib import Path

import numpy as np

import vcnn
from vcnn.modelfile import (check_arrays, check_spec, fill_network, load_arrays, network_arrays, network_from_spec,
                            save_arrays)
from colorize.losses import predict
from colorize.yuv import U_RANGE, V_RANGE

KERNELS = (11, 4, 3, 1)
MAPPING = 8
PATCH = 64
OUTPUT_FRACTION = 56 / 64       # the predicted centre, as a fraction of the window side (the paper's 56 of 64)
#: The architectures a user names (``--arch NAME``): widths and kernel sizes of the convolutions;
#: the mapping layer's size follows from the kernels (:func:`mapping_size`).
#: ``deep8`` is the bundled default model's: the paper's design with three more convolutions.
ARCHITECTURES = {
    "small": {"channels": (32, 32, 32, 16), "kernels": KERNELS},
    "paper": {"channels": (512, 512, 512, 256), "kernels": KERNELS},
    "deep8": {"channels": (32, 32, 32, 32, 32, 32, 16), "kernels": (11, 4, 3, 3, 3, 1, 1)},
}
DEFAULT_ARCH = "deep8"
WIDTHS = {name: arch["channels"] for name, arch in ARCHITECTURES.items() if arch["kernels"] == KERNELS}
#: Largest input window side, and largest --arch JSON file (bytes): limits against crafted input.
MAX_PATCH, MAX_ARCH_FILE_BYTES = 1024, 2 ** 16
CHROMA_RANGES = {"u": U_RANGE, "v": V_RANGE}
Y_OFFSET = 0.5          # the network sees Y - 0.5, centred on 0


def architecture(channels=WIDTHS["small"], kernels=KERNELS, mapping=MAPPING) -> list[dict]:
    """Layer specs: one conv + ReLU per (channels, kernel) pair, then the mapping layer.

    >>> [layer.get("k") for layer in architecture((8, 8, 8, 4))]
    [11, None, 4, None, 3, None, 1, None, 8]
    """
    for name, values in (("widths", channels), ("kernels", kernels), ("mapping", [mapping])):
        if not isinstance(values, (list, tuple)) or not values or not all(
                isinstance(v, Integral) and not isinstance(v, bool) and v >= 1 for v in values):
            raise ValueError(f"{name} must be {'a list of ' if name != 'mapping' else ''}whole numbers >= 1, "
                             f"got {str(values if name != 'mapping' else mapping)[:80]}")
    channels, kernels = [int(c) for c in channels], [int(k) for k in kernels]
    if len(channels) != len(kernels):
        raise ValueError(f"need one positive width per kernel {tuple(kernels)}, got widths {tuple(channels)}")
    specs, c_in = [], 1
    for c_out, k in zip(channels, kernels):
        specs += [{"type": "conv", "c_in": c_in, "c_out": c_out, "k": k}, {"type": "relu"}]
        c_in = c_out
    specs.append({"type": "full_conv", "c_in": c_in, "c_out": 1, "k": int(mapping)})
    check_spec(specs)
    return specs


def mapping_size(kernels, patch: int = PATCH) -> int:
    """Side of the mapping layer that turns the valid convolutions' output into the window's 56/64 centre.

    The convolutions shrink the window to ``patch − Σ(k − 1)``; the mapping
    layer grows its input by ``mapping − 1``; the centre is
    ``round(patch · 56/64)``. Hence ``mapping = round(patch · 56/64) − (patch − Σ(k − 1)) + 1``.

    >>> mapping_size((11, 4, 3, 1)), mapping_size((11, 4, 3, 3, 3, 1, 1)), mapping_size((11, 4, 3, 1), 32)
    (8, 12, 12)
    """
    conv_out = patch - sum(k - 1 for k in kernels)
    mapping = round(patch * OUTPUT_FRACTION) - conv_out + 1
    if conv_out < 1 or mapping < 1:
        raise ValueError(f"kernels {tuple(kernels)} do not fit a {patch}x{patch} window "
                         f"with a {OUTPUT_FRACTION:.3f} centre")
    return mapping


def named_architecture(name: str) -> list[dict]:
    """The layer specs of a named architecture (`ARCHITECTURES`)."""
    arch = ARCHITECTURES[name]
    return architecture(arch["channels"], arch["kernels"], mapping_size(arch["kernels"]))


def _int_list(value, source: str, field: str) -> list[int]:
    """A list of positive integers, or a ValueError naming where it came from."""
    if not isinstance(value, (list, tuple)) or not value or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value):
        raise ValueError(f"{source}: \"{field}\" must be a list of positive integers, got {value!r}")
    return list(value)


def parse_architecture(arch: str = DEFAULT_ARCH, channels: str | None = None) -> list[dict]:
    """The architecture a user names: one of `ARCHITECTURES` (``small``, ``paper``, ``deep8``) or a JSON file.

    The JSON file holds ``{"channels": [...], "kernels": [...], "mapping": M}``;
    ``kernels`` defaults to the paper's 11/4/3/1 and ``mapping`` to
    :func:`mapping_size` of the kernels. ``channels`` ("C1,C2,...") overrides
    the widths and keeps the kernels. Errors name the file and the field.
    """
    if arch in ARCHITECTURES:
        spec, source = dict(ARCHITECTURES[arch]), f"--arch {arch}"
    else:
        source = f"architecture file {arch}"
        try:
            if not Path(arch).is_file():
                raise OSError("no such file" if not Path(arch).exists() else "not a regular file")
            with open(arch, "rb") as f:
                text = f.read(MAX_ARCH_FILE_BYTES + 1)
            if len(text) > MAX_ARCH_FILE_BYTES:
                raise OSError(f"larger than {MAX_ARCH_FILE_BYTES} bytes")
            spec = json.loads(text)
        except OSError as e:
            raise ValueError(f"--arch must be {', '.join(ARCHITECTURES)} or a JSON file, got {arch!r} "
                             f"({e.strerror or e})") from None
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
            raise ValueError(f"{source} is not valid JSON ({e})") from None
        if not isinstance(spec, dict) or "channels" not in spec:
            raise ValueError(f"{source} must hold an object with \"channels\" "
                             f"(and optionally \"kernels\", \"mapping\"), got {str(spec)[:60]}")
        unknown = sorted(set(spec) - {"channels", "kernels", "mapping"})
        if unknown:
            raise ValueError(f"{source}: unknown field \"{unknown[0]}\" (fields: channels, kernels, mapping)")
        spec["channels"] = _int_list(spec["channels"], source, "channels")
        spec["kernels"] = _int_list(spec.get("kernels", list(KERNELS)), source, "kernels")
    if channels is not None:
        source = "--channels"
        try:
            spec["channels"] = [int(c) for c in str(channels).split(",")]
        except ValueError:
            raise ValueError(f"--channels must be comma-separated integers like 32,32,32,16, got {channels!r}") from None
        if min(spec["channels"]) < 1:
            raise ValueError(f"--channels must be positive widths, got {channels!r}")
    kernels = spec["kernels"]
    if len(spec["channels"]) != len(kernels):
        raise ValueError(f"{source}: \"channels\" has {len(spec['channels'])} widths but the kernels "
                         f"{tuple(kernels)} need {len(kernels)}" if source.startswith("architecture file")
                         else f"{source} needs {len(kernels)} widths for the kernels {tuple(kernels)} "
                              f"of --arch {arch}, got {','.join(map(str, spec['channels']))}")
    try:
        default_mapping = mapping_size(kernels)
    except ValueError as e:
        raise ValueError(f"{source}: \"kernels\": {e}") from None
    mapping = spec.get("mapping", default_mapping)
    if isinstance(mapping, bool) or not isinstance(mapping, int) or mapping < 1:
        raise ValueError(f"{source}: \"mapping\" must be a positive integer, got {mapping!r}")
    try:
        specs = architecture(spec["channels"], kernels, mapping)
    except ValueError as e:
        raise ValueError(f"{source}: {e}") from None
    out = output_size(specs, PATCH)
    if not 1 <= out <= PATCH:
        raise ValueError(f"{source}: \"mapping\" {mapping} with kernels {tuple(kernels)} maps a {PATCH}x{PATCH} "
                         f"window to {out}x{out}, not a centre of it ({default_mapping} gives "
                         f"{round(PATCH * OUTPUT_FRACTION)}x{round(PATCH * OUTPUT_FRACTION)})")
    return specs


def describe_architecture(specs: list[dict]) -> str:
    """A name for layer specs: the `ARCHITECTURES` name they match, or their widths, kernels and mapping.

    >>> describe_architecture(named_architecture("deep8")), describe_architecture(architecture((4, 4, 4, 2)))
    ('deep8', 'channels 4,4,4,2, kernels 11,4,3,1, mapping 8')
    """
    for name in ARCHITECTURES:
        if specs == named_architecture(name):
            return name
    convs = [layer for layer in specs if layer.get("type") == "conv"]
    mapping = [layer.get("k") for layer in specs if layer.get("type") == "full_conv"]
    return (f"channels {','.join(str(c['c_out']) for c in convs)}, kernels {','.join(str(c['k']) for c in convs)}, "
            f"mapping {','.join(map(str, mapping))}")


def network_input(y: np.ndarray) -> np.ndarray:
    """What the networks see of luminance windows (N, H, W) in [0, 1]: Y - 0.5, as float32 (N, 1, H, W).

    >>> network_input(np.full((2, 3, 3), 0.75)).shape, float(network_input(np.full((1, 1, 1), 0.75)).item())
    ((2, 1, 3, 3), 0.25)
    """
    return (np.asarray(y, np.float32) - Y_OFFSET)[:, None]


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


def margin(patch: int, out: int) -> int:
    """Pixels between a window's edge and its predicted ``out``×``out`` centre: ⌊(patch − out) / 2⌋.

    >>> margin(64, 56)
    4
    """
    return (patch - out) // 2


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
        network_from_spec(meta.get("architecture"), path)          # a clear error for a bad spec
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
