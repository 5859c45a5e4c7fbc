"""Stylistic colorization (paper, Fig. 8): a model trained on photos of one tone colorizes in that tone."""
import imageio.v3 as iio
import numpy as np
import pytest

from colorize import TrainConfig, architecture, colorize_image, train
from colorize.yuv import rgb_to_yuv, yuv_to_rgb

SEPIA_UV = np.array([-0.06, 0.07])       # brownish orange: B below Y, R above Y


@pytest.fixture(scope="module")
def sepia_photos(tmp_path_factory):
    """Random textures toned to one chroma: the style to learn."""
    folder = tmp_path_factory.mktemp("sepia")
    rng = np.random.default_rng(0)
    for i in range(3):
        y = np.clip(rng.uniform(0.2, 0.8, (12, 12)).repeat(8, 0).repeat(8, 1), 0, 1)
        uv = np.broadcast_to(SEPIA_UV, y.shape + (2,))
        rgb = np.clip(yuv_to_rgb(np.dstack([y, uv])), 0, 1)
        iio.imwrite(folder / f"s{i}.png", (rgb * 255).round().astype(np.uint8))
    return folder


def test_tone_command_makes_a_style_set(sepia_photos, tmp_path):
    from click.testing import CliRunner
    from colorize.cli import main
    from colorize.images import read_image

    result = CliRunner().invoke(main, ["tone", str(sepia_photos), "-o", str(tmp_path / "out"), "--style", "sepia"])
    assert result.exit_code == 0, result.output
    toned = sorted((tmp_path / "out").iterdir())
    assert [p.name for p in toned] == ["s0.png", "s1.png", "s2.png"]
    uv = rgb_to_yuv(read_image(toned[0])[0])[..., 1:].reshape(-1, 2).mean(axis=0)
    assert uv[0] < -0.02 and uv[1] > 0.02                   # sepia: less blue, more red than gray
    again = CliRunner().invoke(main, ["tone", str(sepia_photos), "-o", str(tmp_path / "out"), "--style", "sepia"])
    assert again.exit_code == 1 and "exists" in again.stderr


def test_a_model_trained_on_one_tone_colorizes_in_that_tone(sepia_photos, tmp_path):
    config = TrainConfig(architecture((4, 4, 4, 2)), iterations=60, batch=4, lr=3.0, momentum=0.9,
                         schedule="euclidean:100", log_every=60, checkpoint_every=60)
    model = train(sepia_photos, tmp_path / "sepia.npz", config)
    gray = np.random.default_rng(1).uniform(0.2, 0.8, (70, 90)).astype(np.float32)
    uv = rgb_to_yuv(colorize_image(gray, model))[..., 1:].reshape(-1, 2).mean(axis=0)
    cosine = uv @ SEPIA_UV / (np.linalg.norm(uv) * np.linalg.norm(SEPIA_UV))
    assert cosine > 0.9, uv                                  # the mean chroma points to the style's hue
    assert np.linalg.norm(uv) > 0.5 * np.linalg.norm(SEPIA_UV), uv
