"""Draw docs/img/phi.png: φ and φᵀ on a 4×4 image with a 2×2 kernel.

Three panels, left to right: the image x, every pixel its own colour; φ(x),
one column per 2×2 window, each cell the colour of the pixel it copies;
φᵀ(φ(x)), every pixel back in its place with one dot per copy that was summed
into it (counts ⊙ x). The panels are computed by the engine's own φ and φᵀ
and drawn with NumPy alone, pixel by pixel, so the file is the same on every
machine; tests/docs/test_draw_phi.py checks that the committed figure is what
this script draws.

    python docs/draw_phi.py              # rewrites docs/img/phi.png
"""
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:                  # run as a script: make the repo importable
    sys.path.insert(0, str(ROOT))

from vcnn import phi, phi_adjoint              # noqa: E402
from vcnn.atomic import atomic_path            # noqa: E402

OUT = ROOT / "docs" / "img" / "phi.png"
CELL, GAP, MARGIN, ARROW = 28, 3, 16, 40       # pixels
BACKGROUND, INK = (255, 255, 255), (40, 40, 40)


def palette(n: int) -> np.ndarray:
    """n distinct colours (uint8 RGB), hues around the wheel, alternately light and dark."""
    hue = np.arange(n) / n
    value = np.where(np.arange(n) % 2, 0.70, 0.95)
    rgb = np.stack([np.clip(np.abs((hue * 6 + shift) % 6 - 3) - 1, 0, 1) for shift in (0, 4, 2)], axis=1)
    return np.round(255 * value[:, None] * (0.35 + 0.65 * rgb)).astype(np.uint8)


def grid(indices: np.ndarray, colours: np.ndarray, dots: np.ndarray | None = None, split_every: int = 0):
    """An image of the 2-D array of pixel ``indices``: one coloured cell each, ``dots[r, c]`` dots in a cell,
    an extra gap after every ``split_every`` columns."""
    rows, cols = indices.shape
    extra = (cols - 1) // split_every * GAP * 2 if split_every else 0
    image = np.full((rows * (CELL + GAP) - GAP, cols * (CELL + GAP) - GAP + extra, 3), BACKGROUND, np.uint8)
    for r in range(rows):
        for c in range(cols):
            top = r * (CELL + GAP)
            left = c * (CELL + GAP) + (c // split_every * GAP * 2 if split_every else 0)
            image[top:top + CELL, left:left + CELL] = colours[indices[r, c]]
            for d in range(0 if dots is None else int(dots[r, c])):
                dy, dx = 5 + 10 * (d // 2), 5 + 10 * (d % 2)      # up to four dots, two by two
                image[top + dy:top + dy + 6, left + dx:left + dx + 6] = INK
    return image


def arrow(height: int) -> np.ndarray:
    """A right-pointing arrow, ARROW pixels wide."""
    image = np.full((height, ARROW, 3), BACKGROUND, np.uint8)
    middle = height // 2
    image[middle - 1:middle + 2, 6:ARROW - 12] = INK
    for t in range(10):
        image[middle - 9 + t:middle + 10 - t, ARROW - 16 + t] = INK
    return image


def draw() -> np.ndarray:
    """The figure, (height, width, 3) uint8."""
    index = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    cols = phi(index, 2)                                             # (4, 9): each column a window
    counts = phi_adjoint(np.ones_like(cols), index.shape, 2)[0, 0]   # φᵀ(φ(x)) = counts ⊙ x
    colours = palette(16)
    panels = [grid(index[0, 0].astype(int), colours),
              grid(cols.astype(int), colours, split_every=3),
              grid(index[0, 0].astype(int), colours, dots=counts)]
    height = max(p.shape[0] for p in panels) + 2 * MARGIN
    pieces = [np.full((height, MARGIN, 3), BACKGROUND, np.uint8)]
    for i, panel in enumerate(panels):
        top = (height - panel.shape[0]) // 2
        padded = np.full((height, panel.shape[1], 3), BACKGROUND, np.uint8)
        padded[top:top + panel.shape[0]] = panel
        pieces += [padded, arrow(height) if i < len(panels) - 1 else pieces[0]]
    return np.concatenate(pieces, axis=1)


def main(out: Path = OUT) -> Path:
    import imageio.v3 as iio
    with atomic_path(out) as tmp:
        iio.imwrite(tmp, draw())
    return out


if __name__ == "__main__":
    print("written", main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT))
