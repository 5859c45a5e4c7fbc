"""The bundled model's evaluation and pictures: numbers on photos nothing was fitted to.

Scores a model with ``colorize.evaluate`` on a folder of test photos against
two baselines (gray, U = V = 0; and the training set's mean chroma on every
pixel), as the mean over the photos with its standard error, and writes:

- the evaluation table between ``<!-- card:evaluation:start/end -->`` in the
  model card (``--card``); the text around it is written by hand;
- ``--strip``: the first ``--rows`` test photos in name order (not chosen),
  one row each: gray input | refined output | ground truth;
- ``--before-after``: the first three, gray above and colorized below, for
  the top of the README;
- ``--record``: the overall means into the model file's own metadata
  (``evaluation``), so that ``colorize info`` shows them.

The training set's mean chroma comes from its shard folder (``--data``: the
mean U and V of the predicted 56×56 centres of every training window).

    python3 benchmarks/model_card.py --model colorize/models/default.npz --data data/ \\
        --test-photos ../shared/data/bsds500/test --card colorize/models/README.md \\
        --strip docs/img/default-model-bsds-test.png --before-after docs/img/before-after.png
"""
import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):                      # run as a script: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from benchmarks.results import grid, write_section
from colorize.evaluate import evaluate
from colorize.images import list_images, read_image, write_png
from colorize.pipeline import colorize_image
from colorize.model import load_model, model_file
from colorize.patches import targets
from colorize.sources import ShardData
from colorize.yuv import rgb_to_gray

#: (metric key, heading, decimals, which way is better)
METRICS = (("psnr_rgb", "PSNR RGB (dB)", 2, "higher"), ("psnr_uv", "PSNR UV (dB)", 2, "higher"),
           ("mae_chroma", "mean abs. chroma error", 4, "lower"), ("auc", "AuC (0–150)", 3, "higher"),
           ("colourfulness_ratio", "colourfulness / truth's", 2, "closer to 1"))
ROWS = {"gray": "gray baseline (U = V = 0)", "mean chroma": "mean-chroma baseline (training set's mean U, V)",
        "network": "network", "refined": "refined (what `colorize apply` writes)"}
CELL_HEIGHT = 160
GUTTER = 4


def mean_chroma(data: Path, out: int, chunk: int = 2000) -> tuple[float, float]:
    """Mean U and V of the ``out``×``out`` centres (the model's prediction) of every training window in a shard folder."""
    windows = ShardData(data).train
    sums, count = np.zeros(2), 0
    for start in range(0, len(windows), chunk):
        _, u, v = targets(windows[start:start + chunk], out)
        sums += u.sum(dtype=np.float64), v.sum(dtype=np.float64)
        count += u.size
    return tuple(float(s / count) for s in sums)


def table(results: dict) -> str:
    """Markdown: one row per method, each metric as mean ± standard error over the photos."""
    head = "| output | " + " | ".join(f"{h} ({better} is better)" for _, h, _, better in METRICS) + " |"
    lines = [head, "|---|" + "--:|" * len(METRICS)]
    for method, label in ROWS.items():
        if method not in results["overall"]:
            continue
        mean, se = results["overall"][method], results["stderr"][method]
        cells = [f"{mean[k]:.{d}f} ± {se[k]:.{d}f}" for k, _, d, _ in METRICS]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def gains(results: dict, method: str = "refined") -> str:
    """One sentence: the output's gain over each baseline, in units of the paired standard error."""
    parts = []
    for base in ("gray", "mean chroma"):
        if base not in results["overall"]:
            continue
        for key, name, digits in (("psnr_rgb", "PSNR RGB", 2), ("auc", "AuC", 3)):
            diff = [m[method][key] - m[base][key] for m in results["images"].values()]
            se = np.std(diff, ddof=1) / np.sqrt(len(diff))
            parts.append(f"{name} {np.mean(diff):+.{digits}f} ± {se:.{digits}f} over {base}")
    return "Paired differences, refined minus baseline (mean ± standard error over the photos): " + \
        "; ".join(parts) + "."


def record(results: dict, photos: Path) -> dict:
    """What a model file keeps of an evaluation: the photos, and each method's mean and standard error."""
    keys = [k for k, _, _, _ in METRICS]
    return {"photos": f"{results['count']} photos of {photos.name}/",
            **{method: {k: [round(mean[k], 4), round(results["stderr"][method][k], 4)] for k in keys}
               for method, mean in results["overall"].items()}}


def pictures(photos: list, model) -> list:
    """(gray, colorized, truth) of each photo, as RGB float images."""
    out = []
    for path in photos:
        truth = read_image(path)[0].astype(np.float32)
        gray = rgb_to_gray(truth)
        out.append((np.repeat(gray[..., None], 3, -1), colorize_image(gray, model), truth))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="model file or bundled model name")
    parser.add_argument("--test-photos", required=True, type=Path)
    parser.add_argument("--data", type=Path, help="the training shard folder (for the mean-chroma baseline)")
    parser.add_argument("--card", type=Path, help="model card to write the table into (between card markers)")
    parser.add_argument("--strip", type=Path, help="PNG: gray | refined | truth of the first --rows photos")
    parser.add_argument("--rows", type=int, default=8)
    parser.add_argument("--before-after", type=Path, help="PNG: the first three photos, gray over colorized")
    parser.add_argument("--record", action="store_true", help="write the overall means into the model file")
    args = parser.parse_args(argv)
    model = load_model(args.model)
    chroma = mean_chroma(args.data, model.out) if args.data else None
    results = evaluate(args.test_photos, model, mean_chroma=chroma)
    text = "\n\n".join([table(results), gains(results),
                        f"{results['count']} photos of `{args.test_photos.name}/`"
                        + (f"; the training set's mean chroma U = {chroma[0]:+.4f}, V = {chroma[1]:+.4f}"
                           if chroma else "") + "."])
    print(text)
    if args.card:
        write_section(args.card, "card:evaluation", text)
    if args.record:
        model.meta["evaluation"] = record(results, args.test_photos)
        model.save(model_file(args.model))
    photos = list_images(args.test_photos)
    if args.strip:
        write_png(args.strip, grid(pictures(photos[:args.rows], model), CELL_HEIGHT, GUTTER))
    if args.before_after:
        trios = pictures(photos[:3], model)
        write_png(args.before_after, grid([[g for g, _, _ in trios], [c for _, c, _ in trios]], CELL_HEIGHT, GUTTER))


if __name__ == "__main__":
    main()
