"""Smoke test of benchmarks/experiments.py on tiny photos made here: the script must not rot.

Two variants (the second at equal wall-clock time), 2 steps, widths 2/2/2/1,
one process: the tables, the strip, the markers and the reuse of models are
checked, not the numbers.
"""
import json

import imageio.v3 as iio
import numpy as np
import pytest

from benchmarks import experiment_data as data
from benchmarks import experiment_plan as plan
from benchmarks import experiment_report as report
from benchmarks import experiments as ex
from colorize.model import mapping_size
from colorize.images import read_image

HELD_OUT = ("p0.png", "p1.png")
BUDGET = plan.Budget(steps=2, batch=2, channels=(2, 2, 2, 1), long_side=72, val_windows=4, log_points=1, jobs=1)
TINY = {"tiny": plan.Experiment("Tiny", "Does it run?", (
    plan.Variant("alternate", patch=32, kernels=(5, 3, 1, 1)),
    plan.Variant("wider, Euclidean, raw", patch=32, kernels=(5, 3, 1, 1), schedule="euclidean:1", refine=None,
               width=2.0, equal_time=True))),
        "scale": plan.Experiment("Scale", "Which size?", (
            plan.Variant("64 px", patch=32, kernels=(5, 3, 1, 1), long_side=64),
            plan.Variant("full size", patch=32, kernels=(5, 3, 1, 1), long_side=0)), full_size=True)}


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Five 80×96 photos (two held out): colour ramps, each with its own hue."""
    folder = tmp_path_factory.mktemp("photos")
    yy, xx = np.mgrid[0:80, 0:96] / 96
    for i in range(5):
        hue = np.roll([1.0, 0.5, 0.2], i)
        rgb = np.stack([np.clip(c * (0.3 + yy + 0.2 * np.sin(7 * xx + i)), 0, 1) for c in hue], -1)
        iio.imwrite(folder / f"p{i}.png", (rgb * 255).astype(np.uint8))
    return folder


def test_mapping_layer_makes_the_56_64_centre():
    assert mapping_size((11, 4, 3, 1), 64) == 8                 # the paper's 49 → 56
    assert mapping_size((16, 1, 1), 64) == mapping_size((14, 3, 1), 64) == 8
    assert mapping_size((11, 4, 3, 3, 3, 1, 1), 64) == 12
    assert mapping_size((5, 2, 2, 1), 16) == 5 and mapping_size((11, 4, 3, 1), 32) == 12
    with pytest.raises(ValueError):
        mapping_size((11, 4, 3, 1), 8)                          # the convolutions eat the window


def test_widths_keep_the_papers_ratios():
    assert plan.widths((8, 8, 8, 4), 4) == (8, 8, 8, 4)
    assert plan.widths((8, 8, 8, 4), 2) == (8, 4) and plan.widths((8, 8, 8, 4), 3) == (8, 8, 4)
    assert plan.widths((8, 8, 8, 4), 7, factor=2) == (16,) * 6 + (8,)
    for experiment in plan.experiments(400).values():                # every variant is a valid network
        for variant in experiment.variants:
            assert plan.describe(variant, plan.QUICK)


def test_the_learning_rate_halves_every_fifth_of_the_budget_unless_told():
    assert plan.half_life(plan.Budget(steps=1000)) == 200 and plan.half_life(plan.QUICK) == 80
    assert plan.half_life(plan.Budget(steps=1000, lr_half_life=0)) is None          # constant
    assert plan.half_life(plan.Budget(steps=1000, lr_half_life=300)) == 300
    assert ex._config(plan.Variant("x"), plan.Budget(steps=1000), 1000).lr_at(400) == 3.0 / 4
    assert "halved every 200 steps" in report.budget_line(plan.Budget(steps=1000))


@pytest.mark.slow
def test_run_writes_tables_and_strip_and_keeps_hand_written_text(photos, tmp_path, monkeypatch):
    monkeypatch.setattr(ex, "PROBE_STEPS", 2)
    out, img = tmp_path / "docs" / "EXPERIMENTS.md", tmp_path / "docs" / "img"
    args = dict(out=out, img_dir=img, workdir=tmp_path / "runs", budget=BUDGET, chosen=TINY,
                quick=True, command="test", log=lambda *_: None)
    tables = ex.run(data.Photos(photos, held_out=HELD_OUT), **args)
    rows = tables["tiny"]
    scale = tables["scale"]
    assert all("error" not in r for r in scale) and [r["trained"] for r in scale] == [True, True]
    assert read_image(img / "exp-scale.png")[0].shape[0] == 2 * report.STRIP_CELL_HEIGHT + report.STRIP_GUTTER
    full = tmp_path / "runs" / "photos-full" / "held-out"
    assert {read_image(f)[0].shape for f in full.iterdir()} == {(80, 96, 3)}         # evaluated at full size
    assert "mean over the full-size held-out photos" in out.read_text()
    assert rows[0]["steps"] == 2 and rows[1]["steps"] >= 1 and all("error" not in r for r in rows)
    assert len(json.loads((tmp_path / "runs" / "probes.json").read_text())) == 2      # one probe per width

    text = out.read_text()
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    assert lines[0].startswith("| budget |")                        # the setup table
    tiny = text[text.index("<!-- experiments:tiny:start -->"):text.index("<!-- experiments:tiny:end -->")]
    table = [line for line in tiny.splitlines() if line.startswith("| ") and line.split("|")[1].strip() in
             ("variant", "gray baseline (U = V = 0)", "alternate", "wider, Euclidean, raw")]
    assert len(table) == 4 and table[1].startswith("| gray baseline")
    assert "widths 4/4/4/2, 32 px" in table[3] and "2 of 2 models trained" in text
    assert "| training pool | 3 colour photos, " in text and "Rows: the first 2 held-out photos" in text
    assert "Quick-mode numbers" in text and "| held out | p0, p1 |" in text and "](img/exp-tiny.png)" in text

    strip, _ = read_image(img / "exp-tiny.png")                     # 2 photos × (gray, 2 variants, truth)
    cell = report.STRIP_CELL_HEIGHT
    assert strip.shape[0] == 2 * cell + report.STRIP_GUTTER
    assert strip.shape[1] >= 4 * cell and (strip.shape[1] + report.STRIP_GUTTER) % 4 == 0

    out.write_text(out.read_text() + "\nHand-written interpretation.\n")
    ex.run(data.Photos(photos, held_out=HELD_OUT), **args)           # models reused, sections replaced
    again = out.read_text()
    assert again.count("0 of 2 models trained") == 2
    assert "Hand-written interpretation." in again and again.count("<!-- experiments:tiny:start -->") == 1


@pytest.mark.slow
def test_split_photo_sets_train_validate_and_score_on_their_own_folders(photos, tmp_path):
    """--val-photos/--test-photos: validation windows from one folder, scores from another; seeds averaged."""
    sets = {}
    for role, names in (("train", "p0 p1 p2"), ("val", "p3"), ("test", "p4")):
        sets[role] = tmp_path / role
        sets[role].mkdir()
        for name in names.split():
            (sets[role] / f"{name}.png").write_bytes((photos / f"{name}.png").read_bytes())
    seeds = {"seeds": plan.Experiment("Seeds", "Noise?", tuple(
        plan.Variant(f"tiny · seed {s}", patch=32, kernels=(5, 3, 1, 1), seed=s) for s in (0, 1)), full_size=True)}
    out = tmp_path / "EXPERIMENTS.md"
    rows = ex.run(data.Photos(sets["train"], sets["val"], sets["test"]), out, tmp_path / "img", tmp_path / "runs",
                  BUDGET, seeds, log=lambda *_: None)["seeds"]
    assert [r["trained"] for r in rows] == [True, True]
    assert rows[0]["metrics"] != rows[1]["metrics"]                 # two seeds, two models
    text = out.read_text()
    assert "<!-- experiments:setup-train:start -->" in text and "| held out | p3 |" in text
    assert "| scored on | the 1 photos of test/, nothing fitted to them |" in text
    mean = next(line for line in text.splitlines() if "mean of 2 seeds" in line)
    psnr = np.mean([r["metrics"]["psnr_rgb"] for r in rows])
    assert f"| {psnr:.2f} (" in mean and "Rows: the first 1 test photos p4" in text


def test_extra_photos_must_be_given_when_a_variant_asks_for_them(photos, tmp_path):
    with pytest.raises(ValueError, match="--extra-photos"):
        data.prepare_photos(data.Photos(photos, photos, photos), tmp_path, 64, extra=True)


def test_without_only_the_photo_layout_chooses_the_experiments():
    names = plan.experiments(400)
    assert set(plan.choose(names, None, split=True)) == set(plan.SPLIT_EXPERIMENTS)
    assert set(plan.choose(names, None, split=False)) == set(names) - set(plan.SPLIT_EXPERIMENTS)
    assert list(plan.choose(names, ["depth", "capacity"], split=False)) == ["depth", "capacity"]
