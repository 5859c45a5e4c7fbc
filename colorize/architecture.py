"""Architectures: the layers of a network, and the sizes that follow from its kernels.

A network is valid convolutions (each followed by ReLU) and then the mapping
layer (:class:`vcnn.FullConv2D`, VCNN's ``conv_f``). The convolutions shrink a
``patch``×``patch`` window by Σ(k − 1); the mapping layer grows it by
``mapping − 1``, to the window's centre (the paper: 64 → 49 → 56). The rules
here (`output_size`, `mapping_size`, `margin`) are the only place these sizes
are worked out; :mod:`colorize.model` builds its networks from them.
"""
from __future__ import annotations

import json
from numbers import Integral
from pathlib import Path

from vcnn.modelfile import check_spec

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
