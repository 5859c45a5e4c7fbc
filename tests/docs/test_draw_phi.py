"""docs/img/phi.png is what docs/draw_phi.py draws from the engine's φ and φᵀ."""
import importlib.util
from pathlib import Path

import imageio.v3 as iio
import numpy as np

SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "draw_phi.py"


def load_script():
    spec = importlib.util.spec_from_file_location("draw_phi", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_figure_is_up_to_date():
    draw_phi = load_script()
    committed = iio.imread(draw_phi.OUT)
    assert np.array_equal(committed, draw_phi.draw()), "run `python docs/draw_phi.py` and commit docs/img/phi.png"


def test_the_phi_panel_shows_the_windows_of_the_image(tmp_path):
    """Read back from the written file: column 0 of φ is the top-left 2×2 window, read row by row."""
    draw_phi = load_script()
    image = iio.imread(draw_phi.main(tmp_path / "phi.png"))
    colours = draw_phi.palette(16)
    step = draw_phi.CELL + draw_phi.GAP
    top = (image.shape[0] - (4 * step - draw_phi.GAP)) // 2
    first_panel = [image[top + r * step + 2, draw_phi.MARGIN + c * step + 2] for r in range(4) for c in range(4)]
    assert np.array_equal(np.array(first_panel), colours)            # x: pixel p has colour p
    left = draw_phi.MARGIN + 4 * step - draw_phi.GAP + draw_phi.ARROW
    column0 = [image[top + r * step + 2, left + 2] for r in range(4)]
    assert np.array_equal(np.array(column0), colours[[0, 1, 4, 5]])
    assert len({tuple(c) for c in colours}) == 16                     # every pixel tells apart
