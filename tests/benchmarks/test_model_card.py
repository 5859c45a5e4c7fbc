"""Smoke test of benchmarks/model_card.py on tiny photos and shards made here."""
import imageio.v3 as iio
import numpy as np
import pytest

from benchmarks import model_card as mc
from colorize.images import read_image
from colorize.model import ColorizationModel, architecture
from colorize.patches import write_shards


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Four photos, one of them portrait: a constant-colour training photo and three ramps."""
    folder = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(7)
    for i, shape in enumerate([(70, 90), (90, 70), (70, 90), (66, 80)]):
        ramp = np.linspace(0.2, 0.9, shape[1])[None, :, None] * rng.random(3)
        iio.imwrite(folder / f"p{i}.png", np.round(255 * np.broadcast_to(ramp, shape + (3,))).astype(np.uint8))
    return folder


def test_mean_chroma_of_shards_is_the_chroma_of_a_one_colour_photo(tmp_path):
    """Every window of a photo of one colour has that colour's U and V: so has their mean."""
    (tmp_path / "photo").mkdir()
    iio.imwrite(tmp_path / "photo" / "c.png", np.full((80, 80, 3), (200, 120, 40), np.uint8))
    write_shards([tmp_path / "photo"], tmp_path / "data", 8, train_shards=2, val_shards=0)
    u, v = mc.mean_chroma(tmp_path / "data", 56, chunk=3)
    assert (u, v) == pytest.approx((-0.182908, 0.224237), abs=1e-5)     # BT.601 for (200, 120, 40) / 255: Y = 0.528627, U = 0.492 (B - Y), V = 0.877 (R - Y)


def test_card_table_strip_and_before_after(photos, tmp_path):
    model = tmp_path / "m.npz"
    ColorizationModel(architecture((2, 2, 2, 2)), rng=0).save(model)
    write_shards([photos], tmp_path / "data", 16, train_shards=1, val_shards=0)
    card = tmp_path / "README.md"
    card.write_text("# Card\n\n<!-- card:evaluation:start -->\nold\n<!-- card:evaluation:end -->\n\nHand text.\n")
    mc.main(["--model", str(model), "--test-photos", str(photos), "--data", str(tmp_path / "data"),
             "--card", str(card), "--strip", str(tmp_path / "strip.png"), "--rows", "2",
             "--before-after", str(tmp_path / "ba.png"), "--record"])
    text = card.read_text()
    recorded = ColorizationModel.load(model).meta["evaluation"]
    assert recorded["photos"] == f"4 photos of {photos.name}/" and set(recorded) > {"gray", "refined"}
    assert f"{recorded['refined']['auc'][0]:.3f} ± {recorded['refined']['auc'][1]:.3f}" in text
    assert "old" not in text and "Hand text." in text and "4 photos of `" in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and "±" in line]
    assert [r.split("|")[1].strip() for r in rows] == list(mc.ROWS.values())
    assert "(higher is better)" in text and "over mean chroma" in text
    strip = read_image(tmp_path / "strip.png")[0]
    assert strip.shape[0] == 2 * mc.CELL_HEIGHT + mc.GUTTER          # two rows: gray | refined | truth
    cell_w = round(90 * mc.CELL_HEIGHT / 70)                          # the widest cell sets the columns
    assert strip.shape[1] == 3 * cell_w + 2 * mc.GUTTER
    before_after = read_image(tmp_path / "ba.png")[0]
    assert before_after.shape[:2] == (2 * mc.CELL_HEIGHT + mc.GUTTER, 3 * cell_w + 2 * mc.GUTTER)
    gray_row = before_after[:mc.CELL_HEIGHT].astype(float)
    assert np.abs(gray_row[..., 0] - gray_row[..., 2]).max() < 2     # the top row is gray
