"""Property-based fuzzing of the loaders (issue 12): random and mutated bytes give one clean error type.

`read_image` may only raise ImageError; `ColorizationModel.load` and the
checkpoint loader only ValueError (TrainingError for a checkpoint of other
settings). Anything else (a KeyError, a zlib.error, a MemoryError, a
RecursionError, a hang on a huge declared size) is a bug these find.
"""
import io
import tempfile
from pathlib import Path

import imageio.v3 as iio
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from colorize.images import ImageError, read_image, write_png
from colorize.checkpoints import load_checkpoint, save_checkpoint
from colorize.model import ColorizationModel, architecture, init_network
from colorize.train import TrainConfig, TrainingError
from vcnn import SGD

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SPECS = architecture((2, 2, 2, 2))


def _bytes_of(write) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "f.npz"
        write(path)
        return path.read_bytes()


def _png() -> bytes:
    buffer = io.BytesIO()
    iio.imwrite(buffer, np.arange(48, dtype=np.uint8).reshape(4, 4, 3), extension=".png")
    return buffer.getvalue()


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    iio.imwrite(buffer, np.arange(192, dtype=np.uint8).reshape(8, 8, 3), extension=".jpg")
    return buffer.getvalue()


SAMPLES = {
    "png": _png(),
    "jpeg": _jpeg(),
    "model": _bytes_of(lambda p: ColorizationModel(SPECS, rng=0).save(p)),
    "png16": _bytes_of(lambda p: write_png(p, np.arange(5 * 6 * 4, dtype=np.uint16).reshape(5, 6, 4) * 500)),
}
SAMPLES["model_deflated"] = _bytes_of(lambda p: np.savez_compressed(p, **np.load(io.BytesIO(SAMPLES["model"]))))
CONFIG = TrainConfig(SPECS, 4)


def _checkpoint(path):
    net = init_network(SPECS, 0, "u")
    save_checkpoint(path, net, SGD(net.parameters(), CONFIG.lr), "u", 2, CONFIG, [], 1.0, "0" * 32)


SAMPLES["checkpoint"] = _bytes_of(_checkpoint)


@st.composite
def mutated(draw, sample: bytes):
    """`sample` with some bytes replaced, a slice removed or repeated, or cut short."""
    data = bytearray(sample)
    for _ in range(draw(st.integers(0, 8))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    kind = draw(st.sampled_from(["none", "cut", "drop", "repeat"]))
    i = draw(st.integers(0, len(data)))
    j = draw(st.integers(i, min(len(data), i + 64)))
    if kind == "cut":
        data = data[:i]
    elif kind == "drop":
        data = data[:i] + data[j:]
    elif kind == "repeat":
        data = data[:j] + data[i:j] * draw(st.integers(1, 4)) + data[j:]
    return bytes(data)


def _file(data: bytes, suffix: str):
    folder = tempfile.TemporaryDirectory()
    path = Path(folder.name) / f"f{suffix}"
    path.write_bytes(data)
    return folder, path


def _only(errors, fn, data: bytes, suffix: str):
    folder, path = _file(data, suffix)
    with folder:
        try:
            fn(path)
        except errors:
            pass


@FUZZ
@given(st.one_of(st.binary(max_size=300), mutated(SAMPLES["png"]), mutated(SAMPLES["jpeg"])))
def test_image_loader_raises_only_image_error(data):
    _only(ImageError, read_image, data, ".png")


@FUZZ
@given(st.one_of(st.binary(max_size=300), mutated(SAMPLES["model"]), mutated(SAMPLES["model_deflated"])))
def test_model_loader_raises_only_value_error(data):
    _only(ValueError, ColorizationModel.load, data, ".npz")


@FUZZ
@given(mutated(SAMPLES["checkpoint"]))
def test_checkpoint_loader_raises_only_value_or_training_error(data):
    net = init_network(SPECS, 0, "u")
    _only((ValueError, TrainingError), lambda p: load_checkpoint(p, net, SGD(net.parameters(), CONFIG.lr), CONFIG),
          data, ".npz")


def test_the_unmutated_samples_load():
    """The fuzzers start from files that load: the mutations, not the samples, make the errors."""
    for name, suffix, load in [("png", ".png", read_image), ("model", ".npz", ColorizationModel.load),
                               ("model_deflated", ".npz", ColorizationModel.load)]:
        folder, path = _file(SAMPLES[name], suffix)
        with folder:
            load(path)
    net = init_network(SPECS, 0, "u")
    folder, path = _file(SAMPLES["checkpoint"], ".npz")
    with folder:
        assert load_checkpoint(path, net, SGD(net.parameters(), CONFIG.lr), CONFIG)[0] == 2




@FUZZ
@given(mutated(SAMPLES["png16"]))
def test_16_bit_png_reader_raises_only_image_error(data):
    """Issue 12, item 6: 16-bit PNGs go through colorize.png16.read_png16; damaged ones are ImageError too."""
    _only(ImageError, read_image, data, ".png")
