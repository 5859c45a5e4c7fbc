"""Stylistic colorization (paper, Fig. 8): photos toned to one style, and a model trained on them
colorizes in that tone."""
import imageio.v3 as iio
import numpy as np
import pytest
from click.testing import CliRunner

from colorize import TrainConfig, architecture, colorize_image, train
from colorize.cli import main
from colorize.images import read_image
from colorize.yuv import rgb_to_yuv


def mean_chroma(path):
    return rgb_to_yuv(read_image(path)[0])[..., 1:].reshape(-1, 2).mean(axis=0)


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Neutral photos: blocks of random colours, every hue alike, so no tone overall."""
    folder = tmp_path_factory.mktemp("neutral")
    rng = np.random.default_rng(0)
    for i in range(3):
        rgb = rng.uniform(0.1, 0.9, (12, 12, 3)).repeat(8, 0).repeat(8, 1)
        iio.imwrite(folder / f"s{i}.png", (rgb * 255).round().astype(np.uint8))
    return folder


@pytest.fixture(scope="module")
def sepia_photos(photos, tmp_path_factory):
    out = tmp_path_factory.mktemp("toned") / "sepia"
    result = CliRunner().invoke(main, ["tone", str(photos), "-o", str(out), "--style", "sepia"])
    assert result.exit_code == 0, result.output
    return out


def test_tone_turns_neutral_photos_sepia(photos, sepia_photos):
    assert [p.name for p in sorted(sepia_photos.iterdir())] == ["s0.png", "s1.png", "s2.png"]
    for name in ("s0.png", "s1.png", "s2.png"):
        u, v = mean_chroma(photos / name)
        assert abs(u) < 0.02 and abs(v) < 0.02, (u, v)          # the input has no tone
        u, v = mean_chroma(sepia_photos / name)
        assert u < -0.03 and v > 0.03, (u, v)                    # sepia: less blue, more red than gray


def test_tone_does_not_replace_existing_outputs(photos, sepia_photos):
    before = {p.name: p.read_bytes() for p in sepia_photos.iterdir()}
    again = CliRunner().invoke(main, ["tone", str(photos), "-o", str(sepia_photos), "--style", "sepia"])
    assert again.exit_code == 1 and "exists" in again.stderr
    assert {p.name: p.read_bytes() for p in sepia_photos.iterdir()} == before


@pytest.mark.slow
def test_a_model_trained_on_toned_photos_colorizes_in_that_tone(sepia_photos, tmp_path):
    config = TrainConfig(architecture((4, 4, 4, 2)), iterations=60, batch=4, lr=3.0, momentum=0.9,
                         schedule="euclidean:100", log_every=60, checkpoint_every=60)
    model = train(sepia_photos, tmp_path / "sepia.npz", config).model
    style = np.mean([mean_chroma(p) for p in sepia_photos.iterdir()], axis=0)
    gray = np.random.default_rng(1).uniform(0.2, 0.8, (70, 90)).astype(np.float32)
    uv = rgb_to_yuv(colorize_image(gray, model))[..., 1:].reshape(-1, 2).mean(axis=0)
    cosine = uv @ style / (np.linalg.norm(uv) * np.linalg.norm(style))
    assert cosine > 0.9, (uv, style)                         # the mean chroma points to the style's hue
    assert np.linalg.norm(uv) > 0.5 * np.linalg.norm(style), (uv, style)
