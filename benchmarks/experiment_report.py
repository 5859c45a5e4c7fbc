"""The markdown of `benchmarks/experiments.py`: tables, strips, the setup, and which code ran."""
import datetime
import hashlib
import subprocess
from pathlib import Path

import numpy as np

from benchmarks.experiment_data import MAX_POOL
from benchmarks.experiment_plan import Budget, Experiment, describe, half_life
from benchmarks.results import grid, machine_lines
from colorize.images import list_images, write_png
from colorize.patches import load_photos

STRIP_ROWS = 3                  # the first three held-out photos appear in the strips
STRIP_CELL_HEIGHT = 128         # pixels; cells are padded to one width with white
STRIP_GUTTER = 4
REPO = Path(__file__).resolve().parent.parent
#: The code a trained model depends on: a cached model is reused only if these are unchanged.
ENGINE = ("kernels", "vcnn", "colorize/model.py", "colorize/patches.py", "colorize/sources.py", "colorize/train.py",
          "colorize/loop.py", "colorize/trainconfig.py", "colorize/checkpoints.py")


def engine_version() -> str:
    """Hash of the engine's source files: models trained by other code are never reused or mixed."""
    files = sorted(f for name in ENGINE for f in ([REPO / name] if name.endswith(".py")
                                                  else (REPO / name).rglob("*.py")))
    digest = hashlib.sha1()
    for f in files:
        digest.update(f.relative_to(REPO).as_posix().encode() + f.read_bytes())
    return digest.hexdigest()[:10]


def git_state() -> str:
    """``<commit>`` and the engine files with uncommitted changes, if any."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True).stdout
    dirty = git("status", "--porcelain", "--", *ENGINE).splitlines()         # "XY path" per file
    return (git("rev-parse", "--short", "HEAD").strip() or "unknown") + (
        f" with uncommitted changes in {', '.join(line[3:] for line in dirty)}" if dirty else "")


def write_strip(path: Path, stems: list, rows: list) -> tuple:
    """One PNG: a row per photo (``stems``), columns gray | each variant's output | truth, no text.

    The images are those each row of the table keeps (``row["images"]``,
    from `colorize.evaluate.evaluate`). Returns (height, width) of the PNG.
    """
    cells = [[rows[0]["images"][stem]["gray"], *(r["images"][stem]["output"] for r in rows),
              rows[0]["images"][stem]["truth"]] for stem in stems]
    canvas = grid(cells, STRIP_CELL_HEIGHT, STRIP_GUTTER)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_png(path, canvas)
    return canvas.shape[:2]


def _with_delta(value: float, base: float, fmt: str) -> str:
    return f"{value:{fmt}} ({value - base:+{fmt}})"


def _curve_summary(curve: list) -> str:
    best_step, best = min(curve, key=lambda point: point[1])
    return f"{curve[0][1]:.5f} → {best:.5f} @{best_step} → {curve[-1][1]:.5f}"


def table(rows: list, budget: Budget) -> str:
    """The markdown table of one experiment: the gray baseline, then each variant with its gain over gray."""
    lines = ["| variant | network | steps | train s | held-out loss: first → best @step → last "
             "| PSNR-RGB dB (vs gray) | PSNR-UV dB (vs gray) | AuC (vs gray) | colourfulness / truth |",
             "|---|---|--:|--:|---|--:|--:|--:|--:|"]
    gray = next((r["gray"] for r in rows if "gray" in r), None)
    if gray:
        lines.append(f"| gray baseline (U = V = 0) | – | – | – | – | {gray['psnr_rgb']:.2f} "
                     f"| {gray['psnr_uv']:.2f} | {gray['auc']:.3f} | {gray['colourfulness_ratio']:.2f} |")
    for r in rows:
        head = f"| {r['variant'].label} | {describe(r['variant'], budget)} | {r['steps']} "
        if "error" in r:
            lines.append(head + f"| – | failed: {r['error']} | – | – | – | – |")
            continue
        m = r["metrics"]
        lines.append(head + f"| {r['seconds']:.0f} | {_curve_summary(r['curve'])} "
                     f"| {_with_delta(m['psnr_rgb'], gray['psnr_rgb'], '.2f')} "
                     f"| {_with_delta(m['psnr_uv'], gray['psnr_uv'], '.2f')} "
                     f"| {_with_delta(m['auc'], gray['auc'], '.3f')} | {m['colourfulness_ratio']:.2f} |")
    for label, group in seed_groups(rows).items():
        m = {k: float(np.mean([r["metrics"][k] for r in group])) for k in ("psnr_rgb", "psnr_uv", "auc",
                                                                            "colourfulness_ratio")}
        spread = max(r["metrics"]["psnr_rgb"] for r in group) - min(r["metrics"]["psnr_rgb"] for r in group)
        lines.append(f"| **{label}: mean of {len(group)} seeds** | – | – | – | PSNR-RGB spread {spread:.2f} dB "
                     f"| {_with_delta(m['psnr_rgb'], gray['psnr_rgb'], '.2f')} "
                     f"| {_with_delta(m['psnr_uv'], gray['psnr_uv'], '.2f')} "
                     f"| {_with_delta(m['auc'], gray['auc'], '.3f')} | {m['colourfulness_ratio']:.2f} |")
    return "\n".join(lines)


def seed_groups(rows: list) -> dict:
    """Label without its seed -> the finished rows of that variant, for variants run with several seeds."""
    groups = {}
    for r in rows:
        label, sep, _ = r["variant"].label.rpartition(" · seed ")
        if sep and "error" not in r:
            groups.setdefault(label, []).append(r)
    return {label: group for label, group in groups.items() if len(group) > 1}


def section(name: str, experiment: Experiment, rows: list, strip: str, strip_photos: list, budget: Budget,
            minutes: float, command: str, scored: str = "held-out") -> str:
    columns = " | ".join(["gray input"] + [r["variant"].label for r in rows] + ["ground truth"])
    refine = {r["variant"].refine for r in rows}
    output = "network output" if refine == {None} else ("output (refined when the variant refines)"
                                                       if None in refine else "refined output (r = 40, eps = 1e-4)")
    return "\n".join([
        f"## {experiment.title}", "", f"*{experiment.question}* Metrics of the {output}, mean over the "
        f"{'full-size ' if experiment.full_size else ''}{scored} "
        "photos; in brackets the difference to the gray baseline.", "",
        table(rows, budget), "",
        f"![{name}]({strip})", "", f"Columns: {columns}. Rows: the first {len(strip_photos)} {scored} photos "
        f"{', '.join(p.stem for p in strip_photos)}.", "",
        f"<sub>Ran {datetime.datetime.now():%Y-%m-%d %H:%M} in {minutes:.1f} min, "
        f"{sum(r['trained'] for r in rows)} of {len(rows)} models trained in this run (the others reused from "
        f"earlier runs or other experiments): `{command}` ({budget_line(budget)}; git {git_state()}, "
        f"engine hash {engine_version()}).</sub>"])


def budget_line(budget: Budget) -> str:
    return (f"{budget.steps} steps of batch {budget.batch}, widths {'/'.join(map(str, budget.channels))}, "
            f"SGD lr {budget.lr:g}{_half_life(budget)} momentum {budget.momentum:g}, seed {budget.seed}, "
            f"photos at {budget.long_side} px")


def _half_life(budget: Budget) -> str:
    steps = half_life(budget)
    return f" (halved every {steps} steps)" if steps else " (constant)"


def setup(budget: Budget, quick: bool, folders: tuple, command: str, title: str = "Setup") -> str:
    (train_photos, gray), held_out, test = load_photos([folders[0]]), list_images(folders[1]), list_images(folders[2])
    skipped = f" ({len(gray)} gray ones skipped: {', '.join(gray)})" if gray else ""
    scored = ("| scored on | the held-out photos |" if test == held_out else
              f"| scored on | the {len(test)} photos of {folders[2].name}/, nothing fitted to them |")
    return "\n".join([
        f"## {title}", "",
        ("**Quick-mode numbers** (`--quick`): a budget for minutes, not for converged models. "
         if quick else "") + f"Command: `{command}`, {datetime.datetime.now():%Y-%m-%d %H:%M}.", "",
        "| budget | value |", "|---|---|",
        f"| steps per variant | {budget.steps} (width experiment: what fits the same time) |",
        f"| batch | {budget.batch} windows |",
        f"| widths of the paper's 4 convolutions | {'/'.join(map(str, budget.channels))} (paper 512/512/512/256) |",
        f"| solver | SGD, lr {budget.lr:g}{_half_life(budget)}, momentum {budget.momentum:g}, no weight decay |",
        f"| seed | {budget.seed} (same batches for every variant of one patch size) |",
        f"| photos | downscaled to a long side of {budget.long_side} px (Lanczos), training and evaluation alike |",
        f"| training pool | {len(train_photos)} colour photos{skipped}, "
        f"{min(budget.steps * budget.batch, MAX_POOL)} windows cut once |",
        f"| held out | {', '.join(p.stem for p in held_out)} |", scored,
        f"| validation loss | Euclidean, mean of U and V, {budget.val_windows} held-out windows, "
        f"{budget.log_points} points per run (every {max(1, budget.steps // budget.log_points)} steps) |",
        f"| processes | {budget.jobs} ({'U and V side by side' if budget.jobs == 2 else 'U, then V'}) |",
        f"| code | git {git_state()}; engine hash {engine_version()} |", "",
        "Machine:", "", *machine_lines()])


SKELETON = """# Experiments: the paper's design choices, measured

Written by `benchmarks/experiments.py`: the text between `<!-- experiments:… -->`
markers is regenerated on every run; the text outside them is written by hand.
"""


def skeleton(names) -> str:
    """A new document: the title, then the markers of the setup and of each experiment, in order."""
    marks = [f"<!-- experiments:{n}:start -->\n<!-- experiments:{n}:end -->" for n in ["setup", *names]]
    return SKELETON + "".join(f"\n{m}\n\n*What the numbers say: to be written.*\n" for m in marks)
