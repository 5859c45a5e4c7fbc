"""Fixtures shared by the colorizer's tests: training photos (single process and MPI) and a tiny model file."""
import imageio.v3 as iio
import numpy as np
import pytest

from colorize.model import ColorizationModel, architecture


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    """An untrained model of widths 4/4/4/2 (the paper's kernels), saved once per test module."""
    path = tmp_path_factory.mktemp("model") / "m.npz"
    ColorizationModel(architecture((4, 4, 4, 2)), rng=0).save(path)
    return path


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Three 80×90 photos: smooth colour ramps, each with its own hue."""
    folder = tmp_path_factory.mktemp("photos")
    yy, xx = np.mgrid[0:80, 0:90] / 90
    for i, hue in enumerate([(1, 0.4, 0.1), (0.2, 0.8, 0.3), (0.2, 0.4, 1)]):
        rgb = np.stack([np.clip(c * (0.3 + yy + 0.2 * np.sin(7 * xx + i)), 0, 1) for c in hue], -1)
        iio.imwrite(folder / f"p{i}.png", (rgb * 255).astype(np.uint8))
    return folder


@pytest.fixture
def rng():
    """A generator of the test's own: no test's draws depend on which tests ran before it."""
    return np.random.default_rng(0)
