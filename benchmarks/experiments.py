"""The paper's design experiments (§3.3, §3.4, §4.2; Figs. 4-6, Table 1), as numbers on our photos.

Each experiment is a list of variants of one baseline: the paper's network
(kernels 11/4/3/1 + an 8×8 mapping layer) at the budget's width, 64×64 windows,
the 100/100 Euclidean / cross-entropy alternation, guided filter r = 40,
eps = 1e-4. Every variant trains with the same photos, seed, step budget and
solver (``colorize.train``), is evaluated on held-out photos no variant trains
on (``colorize.evaluate``, against the gray baseline U = V = 0), and each
experiment becomes one table and one comparison strip in
``docs/EXPERIMENTS.md`` and ``docs/img/``. Only the text between the
``<!-- experiments:NAME:start/end -->`` markers is rewritten, so the
interpretation written beside the tables survives a re-run.

Why shards, not the photo folder: ``colorize.train`` measures its validation
loss on the validation shard when it trains on shards (on windows of the
training photos otherwise). A shard of held-out windows makes its loss curve a
held-out curve. Models, logs and data live in ``--workdir`` and are reused
when a variant with the same settings is asked for again (the schedule
baseline serves every experiment). Change ``--workdir`` (or empty it) when the
photos change: cached photos, shards and models are found by name.

    python3 benchmarks/experiments.py --photos ../shared/data/photos --quick        # ~17 min
    python3 benchmarks/experiments.py --photos ../shared/data/photos --steps 1000   # 43 min: docs/EXPERIMENTS.md
    python3 benchmarks/experiments.py --photos ../shared/data/photos                # 2000 steps, ~1.5 h
    python3 benchmarks/experiments.py --photos ../shared/data/photos --quick --only depth

With ``--val-photos`` and ``--test-photos`` the three roles get folders of
their own (BSDS500: train on ``train/`` and most of ``val/``, validation
windows from the rest of ``val/``, scores on ``test/``, which nothing is
fitted to); ``--photos`` then holds the training photos only:

    python3 benchmarks/experiments.py --photos bsds_trainval/ --val-photos bsds_heldout/ \
        --test-photos ../shared/data/bsds500/test --only capacity --only paleness \
        --steps 1000 --batch 16 --out docs/EXPERIMENTS.md --workdir runs/bsds
"""
import argparse
import csv
import dataclasses
import datetime
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):                      # run as a script: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from benchmarks.results import grid, machine_lines, write_section
from colorize.evaluate import STRIP_SUFFIX, evaluate
from colorize.images import fit_long_side, list_images, read_image, write_png
from colorize.infer import EPS, RADIUS
from colorize.model import KERNELS, WIDTHS, ColorizationModel, architecture, mapping_size
from colorize.patches import load_photos, write_shards
from colorize.train import TrainConfig, TrainingError, log_path, train

#: Held out from every variant's training: validation loss, metrics and strips come from these.
VALIDATION_PHOTOS = ("sklearn_china.jpg", "mate_greenmeadow.jpg", "plasma_path.jpg",
                     "plasma_bythewater.jpg", "mate_garden.jpg")
STRIP_ROWS = 3                  # the first three held-out photos appear in the strips
STRIP_CELL_HEIGHT = 128         # pixels; cells are padded to one width with white
STRIP_GUTTER = 4
PAPER_SCHEDULE = "euclidean:100,cross_entropy:100"
PAPER_REFINE = (RADIUS, EPS)
MAX_POOL = 20_000               # training windows per shard at most (then epochs repeat)
REPO = Path(__file__).resolve().parent.parent
#: The code a trained model depends on: a cached model is reused only if these are unchanged.
ENGINE = ("kernels", "vcnn", "colorize/model.py", "colorize/patches.py", "colorize/sources.py", "colorize/train.py",
          "colorize/loop.py", "colorize/trainconfig.py", "colorize/checkpoints.py")
PROBE_STEPS = 20                # steps timed per width for the equal wall-clock budget
DEEP8 = (11, 4, 3, 3, 3, 1, 1)  # the bundled default's convolutions
#: Run by default only with photo sets of their own (--val-photos/--test-photos); the others only without.
SPLIT_EXPERIMENTS = ("capacity", "paleness")


@dataclasses.dataclass(frozen=True)
class Budget:
    """What every variant shares: solver, data, step budget, base widths."""
    steps: int = 2000
    batch: int = 8
    channels: tuple = WIDTHS["small"]   # widths of the paper's four convolutions, scaled down
    lr: float = 3.0
    momentum: float = 0.9
    lr_half_life: int | None = None     # steps; None: a fifth of the step budget, 0: a constant rate
    seed: int = 0
    long_side: int = 320                # every photo is downscaled to this long side first
    val_windows: int = 128              # held-out windows of the validation loss
    log_points: int = 8                 # validation losses measured per run
    jobs: int = 2                       # U and V in two processes


QUICK = Budget(steps=400, channels=(8, 8, 8, 4))


def half_life(budget: Budget) -> int | None:
    """The learning rate's half-life in steps (None: constant). A fifth of the
    budget by default: the rate ends at 1/32 of its start, and the seed noise
    falls from 1.12 to 0.48 dB (docs/EXPERIMENTS.md)."""
    if budget.lr_half_life is None:
        return max(1, budget.steps // 5)
    return budget.lr_half_life or None


@dataclasses.dataclass(frozen=True)
class Variant:
    """One way to build, train or refine the model; the defaults are the baseline."""
    label: str
    kernels: tuple = KERNELS
    patch: int = 64
    schedule: str = PAPER_SCHEDULE
    width: float = 1.0                  # multiplies every width of the budget
    refine: tuple | None = PAPER_REFINE  # (radius, eps) of the guided filter, None: raw output
    equal_time: bool = False            # steps: what fits the baseline's training time
    seed: int | None = None             # initialisation and batch order (None: the budget's); same windows
    long_side: int | None = None        # training photos shrunk to this long side (None: the budget's, 0: full size)
    channels: tuple | None = None       # explicit widths of every convolution (overrides width)
    extra_photos: bool = False          # train on --extra-photos as well


@dataclasses.dataclass(frozen=True)
class Experiment:
    title: str
    question: str
    variants: tuple
    full_size: bool = False             # evaluate on the full-size held-out photos, each model at its own scale


def experiments(steps: int) -> dict:
    """The six experiments of issue 4 and a noise floor; the alternation periods depend on the step budget."""
    longer = sorted({p for p in (steps // 4, steps // 2) if p > 100})
    return {
        "schedule": Experiment("Loss schedule (paper §3.3, Fig. 4)", "Euclidean, cross-entropy or both in turn?", (
            Variant("Euclidean only", schedule="euclidean:100"),
            Variant("cross-entropy only", schedule="cross_entropy:100"),
            Variant("alternate 100/100 (paper)"),
            *(Variant(f"alternate {p}/{p}", schedule=f"euclidean:{p},cross_entropy:{p}") for p in longer))),
        "refinement": Experiment("Guided-filter refinement (paper §3.4, Fig. 5)",
                                 "Does the guided filter help, and at which (r, eps)? One model, no retraining.", (
            Variant("none (network output)", refine=None),
            Variant("r = 40, eps = 1e-4 (paper)"),
            Variant("r = 10, eps = 1e-3", refine=(10, 1e-3)),
            Variant("r = 80, eps = 1e-2", refine=(80, 1e-2)))),
        "depth": Experiment("Depth (paper §4.2, Fig. 6 third row)",
                            "3, 4, 5 or 8 layers, the mapping layer counted?", (
            Variant("3 layers", kernels=(11, 4)),
            Variant("4 layers", kernels=(11, 4, 3)),
            Variant("5 layers (paper)"),
            Variant("8 layers", kernels=(11, 4, 3, 3, 3, 1, 1)))),
        "kernels": Experiment("Kernel sets (paper §4.2, Table 1, Fig. 6 second row)", "Which kernel sizes?", (
            Variant("11/4/3/1 (paper)"),
            Variant("Network1", kernels=(16, 1, 1)),
            Variant("Network2", kernels=(11, 6, 1)),
            Variant("Network3", kernels=(14, 3, 1)))),
        "patch": Experiment("Patch size (paper §4.2, Fig. 6 first row)", "Windows of 16, 32 or 64 pixels?", (
            Variant("16×16", patch=16, kernels=(5, 2, 2, 1)),
            Variant("32×32", patch=32),
            Variant("64×64 (paper)"))),
        "width": Experiment("Width at equal wall-clock time",
                            "Wider networks, fewer steps: which wins in the same time?", (
            Variant("budget width"),
            Variant("2× wider", width=2.0, equal_time=True),
            Variant("4× wider", width=4.0, equal_time=True))),
        "scale": Experiment("Working scale (ours: the paper does not say)",
                            "At which size should the network see a photo? Training photos shrunk to a long "
                            "side of 160, 320 or 640 px, or full size (1024 px); every model colorizes the "
                            "full-size held-out photos at the scale it was trained at (the held-out loss is measured on "
                            "windows at the training scale: not comparable between rows).", (
            Variant("160 px", long_side=160),
            Variant("320 px (the budget's)", long_side=320),
            Variant("640 px", long_side=640),
            Variant("full size", long_side=0)), full_size=True),
        "capacity": Experiment("Depth and width at equal wall-clock time, three seeds (BSDS500)",
                               "5 or 8 layers, width 32 or 64, each trained for as long as the 5-layer, width-32 "
                               "network's step budget takes; three seeds each, scored on photos nothing was "
                               "fitted to.", tuple(
            Variant(f"{label} · seed {seed}", kernels=kernels, width=width, equal_time=(kernels, width) != (KERNELS, 1.0),
                    seed=seed)
            for label, kernels, width in (("5 layers, width 32", KERNELS, 1.0), ("5 layers, width 64", KERNELS, 2.0),
                                          ("8 layers, width 32", DEEP8, 1.0), ("8 layers, width 64", DEEP8, 2.0))
            for seed in (0, 1, 2)), full_size=True),
        "paleness": Experiment("Less pale colours? (BSDS500, the 8-layer network)",
                               "Does more cross-entropy, a wider last layer or the 22 photos of shared/data/photos "
                               "make the colours less pale? Same steps for every variant.", (
            Variant("8 layers (paper schedule)", kernels=DEEP8),
            Variant("cross-entropy 3/4 of the steps", kernels=DEEP8, schedule="euclidean:50,cross_entropy:150"),
            Variant("last layer 32 wide", kernels=DEEP8, channels=(32, 32, 32, 32, 32, 32, 32)),
            Variant("+ the 22 colour photos", kernels=DEEP8, extra_photos=True)), full_size=True),
        "noise": Experiment("Noise floor: the baseline with other seeds",
                            "How far apart are two runs that differ only in the seed (initialisation, batch order)?", (
            Variant("seed 0 (the baseline)", seed=0),
            Variant("seed 1", seed=1),
            Variant("seed 2", seed=2))),
    }


def widths(channels, n_convs: int, factor: float = 1.0) -> tuple:
    """Widths of ``n_convs`` convolutions in the ratios of the paper's four (C1, C2, C3, C4):
    (C1, C4), (C1, C2, C4), (C1, C2, C3, C4), (C1, C2, C3, …, C3, C4)."""
    c1, c2, c3, c4 = channels
    if n_convs < 2:
        raise ValueError(f"need at least two convolutions, got {n_convs}")
    inner = ([c2] + [c3] * (n_convs - 3))[:n_convs - 2]
    return tuple(max(1, round(c * factor)) for c in (c1, *inner, c4))


def variant_widths(variant: Variant, budget: Budget) -> tuple:
    """The widths of a variant's convolutions: its own, or the budget's scaled by its width factor."""
    return variant.channels or widths(budget.channels, len(variant.kernels), variant.width)


def specs(variant: Variant, budget: Budget) -> list:
    return architecture(variant_widths(variant, budget), variant.kernels, mapping_size(variant.kernels, variant.patch))


def describe(variant: Variant, budget: Budget) -> str:
    """"11/4/3/1 + map 8, widths 8/8/8/4, 64 px": the network of a variant, for the tables."""
    w = variant_widths(variant, budget)
    scale = "" if variant.long_side is None else f", photos at {variant.long_side or 'full size'}"
    extra = ", + extra photos" if variant.extra_photos else ""
    return (f"{'/'.join(map(str, variant.kernels))} + map {mapping_size(variant.kernels, variant.patch)}, "
            f"widths {'/'.join(map(str, w))}, {variant.patch} px{scale}{extra}")


def training_scale(variant: Variant, budget: Budget) -> int | None:
    """The long side the variant's training photos are shrunk to (None: full size)."""
    return (budget.long_side if variant.long_side is None else variant.long_side) or None


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


# ---------------------------------------------------------------- data

@dataclasses.dataclass(frozen=True)
class Photos:
    """Where each role's photos come from.

    Either one folder split by name (``held_out`` photos give the validation
    windows and the scores, the others the training windows), or a folder per
    role: ``val`` for the validation windows (model selection), ``test`` for
    the scores (nothing is fitted to it). ``extra``: more training photos for
    the variants that ask for them.
    """
    train: Path
    val: Path | None = None
    test: Path | None = None
    extra: Path | None = None
    held_out: tuple = VALIDATION_PHOTOS

    @property
    def split(self) -> bool:
        return self.val is not None


def _copy_scaled(files, folder: Path, long_side: int | None) -> Path:
    """Downscaled PNG copies of ``files`` (long side ``long_side``, never upscaled) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in files:
        target = folder / f"{Path(path).stem}.png"
        if not target.exists():
            write_png(target, fit_long_side(read_image(path)[0], long_side))
    return folder


def prepare_photos(photos: Photos, workdir: Path, long_side: int | None, extra: bool = False) -> tuple:
    """The (train, validation, test) folders at ``long_side`` pixels (None: full size).

    Copies are made once under ``workdir``; split by name, validation and test
    are the same held-out folder. Raises ValueError when a held-out photo is missing.
    """
    root = workdir / (f"photos-{long_side}" if long_side else "photos-full")
    if extra and (not photos.split or photos.extra is None):
        raise ValueError("a variant trains on extra photos: give --extra-photos with --val-photos and --test-photos")
    if photos.split:
        if long_side is None and not extra:
            return photos.train, photos.val, photos.test
        train = list_images([photos.train, photos.extra] if extra else photos.train)
        return (_copy_scaled(train, root / ("train+extra" if extra else "train"), long_side),
                _copy_scaled(list_images(photos.val), root / "val", long_side),
                _copy_scaled(list_images(photos.test), root / "test", long_side))
    files = {f.name: f for f in list_images(photos.train)}
    missing = [name for name in photos.held_out if name not in files]
    if missing:
        raise ValueError(f"held-out photos {missing} are not in {photos.train}")
    held_out = _copy_scaled([files[n] for n in photos.held_out], root / "held-out", long_side)
    train = _copy_scaled([f for n, f in files.items() if n not in photos.held_out], root / "train", long_side)
    return train, held_out, held_out


def prepare_shards(train_dir: Path, held_out_dir: Path, workdir: Path, patch: int, budget: Budget) -> Path:
    """A shard folder for ``colorize.train``: ``train-000.npz`` cut from the training photos
    (one window per training sample, up to MAX_POOL), ``val-000.npz`` from the held-out photos."""
    pool = min(budget.steps * budget.batch, MAX_POOL)
    folder = workdir / f"data-{train_dir.parent.name}-{train_dir.name}-p{patch}-n{pool}-v{budget.val_windows}-s{budget.seed}"
    if folder.is_dir():
        return folder
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    write_shards([train_dir], partial, pool, train_shards=1, val_shards=1, seed=budget.seed, size=patch,
                 val_photos=[held_out_dir])
    partial.rename(folder)
    return folder


# ---------------------------------------------------------------- one variant

def _config(variant: Variant, budget: Budget, steps: int) -> TrainConfig:
    log_every = max(1, steps // budget.log_points)
    return TrainConfig(specs(variant, budget), steps, budget.batch, budget.lr, budget.momentum,
                       schedule=variant.schedule, seed=budget.seed if variant.seed is None else variant.seed,
                       patch=variant.patch, checkpoint_every=log_every, log_every=log_every,
                       val_patches=budget.val_windows, lr_half_life=half_life(dataclasses.replace(budget, steps=steps)))


def _train_cached(data: Path, config: TrainConfig, models: Path, jobs: int) -> tuple:
    """Train (or resume, or reuse) the model of these settings; its file is named by their hash.

    Returns (model file, whether it was trained now)."""
    key = json.dumps([config.fingerprint(), config.iterations, data.name, engine_version()], sort_keys=True)
    path = models / f"{hashlib.sha1(key.encode()).hexdigest()[:12]}.npz"
    if path.exists():
        return path, False
    models.mkdir(parents=True, exist_ok=True)
    train(data, path, config, resume=True, jobs=jobs)
    return path, True


def _log(model_path: Path) -> dict:
    """The training logs of U and V (``colorize.train``'s CSV files): channel -> rows."""
    return {c: list(csv.DictReader(open(log_path(model_path, c)))) for c in "uv"}


def _seconds(model_path: Path, jobs: int) -> float:
    """Training time: U and V side by side (jobs = 2) take the slower one's, one after the other the sum."""
    seconds = [float(rows[-1]["seconds"]) for rows in _log(model_path).values()]
    return max(seconds) if jobs == 2 else sum(seconds)


def equal_time_steps(variant: Variant, reference: Variant, budget: Budget, data: Path, workdir: Path) -> int:
    """Steps of ``variant`` that take as long as ``budget.steps`` steps of ``reference``
    (its experiment's first variant).

    Both networks train 2·PROBE_STEPS steps, logged after PROBE_STEPS and at the
    end; the time between the two logs is PROBE_STEPS steps without the
    start-up (first calls, buffers). The step count scales by the ratio of
    the two networks' times (cached in ``probes.json``).
    """
    cache_file = workdir / "probes.json"
    cache = json.loads(cache_file.read_text()) if cache_file.exists() else {}
    seconds = []
    for probe in (reference, variant):
        probe = dataclasses.replace(probe, seed=None, label="probe")
        config = dataclasses.replace(_config(probe, budget, 2 * PROBE_STEPS), log_every=PROBE_STEPS,
                                     checkpoint_every=2 * PROBE_STEPS, val_patches=1)
        key = f"{data.name} {describe(probe, budget)} batch {budget.batch} jobs {budget.jobs} {engine_version()}"
        if key not in cache:
            with tempfile.TemporaryDirectory(dir=workdir) as tmp:
                logs = _log(_train_cached(data, config, Path(tmp), budget.jobs)[0]).values()
                cache[key] = max(float(rows[-1]["seconds"]) - float(rows[0]["seconds"]) for rows in logs)
            cache_file.write_text(json.dumps(cache, indent=1))
        seconds.append(cache[key])
    return max(1, round(budget.steps * seconds[0] / seconds[1]))


def validation_curve(model_path: Path) -> list:
    """(last step, held-out Euclidean loss averaged over U and V) at every logged step."""
    logs = _log(model_path)
    return [(int(u["last_step"]) + 1, (float(u["val_euclidean"]) + float(v["val_euclidean"])) / 2)
            for u, v in zip(logs["u"], logs["v"])]


def run_variant(variant: Variant, budget: Budget, photos: Photos, workdir: Path, compare_dir: Path,
                full_size: bool = False, log=print, reference: Variant | None = None) -> dict:
    """Train (or reuse) and evaluate one variant; returns a row of its experiment's table.

    An ``equal_time`` variant trains as long as ``budget.steps`` steps of ``reference`` take.
    The model is evaluated on the test photos at its training scale, or,
    with `full_size`, on the full-size photos, shrunk to that scale by the model itself.
    """
    scale = training_scale(variant, budget)
    folders = prepare_photos(photos, workdir, scale, variant.extra_photos)
    data = prepare_shards(folders[0], folders[1], workdir, variant.patch, budget)
    steps = equal_time_steps(variant, reference or variant, budget, data, workdir) if variant.equal_time \
        else budget.steps
    row = {"variant": variant, "steps": steps}
    log(f"  {variant.label}: {describe(variant, budget)}, {steps} steps")
    try:
        model_path, trained = _train_cached(data, _config(variant, budget, steps), workdir / "models", budget.jobs)
    except TrainingError as e:
        return {**row, "error": str(e), "trained": True}
    radius, eps = variant.refine or PAPER_REFINE
    model = ColorizationModel.load(model_path, long_side=(scale or 0) if full_size else None)
    test_dir = prepare_photos(photos, workdir, None)[2] if full_size else folders[2]
    results = evaluate(test_dir, model, variant.refine is not None, radius, eps, compare_dir=compare_dir)
    return {**row, "trained": trained, "seconds": _seconds(model_path, budget.jobs),
            "curve": validation_curve(model_path), "gray": results["overall"]["gray"],
            "metrics": results["overall"]["refined" if variant.refine else "network"]}


# ---------------------------------------------------------------- strips and markdown

def write_strip(path: Path, photos: list, compare_dirs: list) -> tuple:
    """One PNG: a row per photo, columns gray | each variant's output | truth, no text.

    The cells are cut from ``colorize.evaluate``'s comparison strips (gray |
    network [| refined] | truth, each as wide as the photo, under a caption
    row): the photo's last h rows, and the output is always the last cell but one. Returns (height, width) of the PNG.
    """
    rows = []
    for photo in photos:
        h, w = read_image(photo)[0].shape[:2]
        strips = [read_image(d / f"{photo.stem}{STRIP_SUFFIX}.png")[0][-h:] for d in compare_dirs]  # no caption
        rows.append([strips[0][:, :w]] + [s[:, -2 * w:-w] for s in strips] + [strips[0][:, -w:]])
    canvas = grid(rows, STRIP_CELL_HEIGHT, STRIP_GUTTER)
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


def run(photos: Photos, out: Path, img_dir: Path, workdir: Path, budget: Budget, chosen: dict, quick: bool = False,
        command: str = "", log=print) -> dict:
    """Run the ``chosen`` experiments (name -> Experiment) and write their sections of ``out``.

    Returns name -> the rows of its table.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    folders = prepare_photos(photos, workdir, budget.long_side)
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(skeleton(chosen))
    tables, version = {}, engine_version()
    for name, experiment in chosen.items():
        log(f"{name}: {experiment.title}")
        started = time.perf_counter()
        compare = [workdir / "compare" / name / str(i) for i in range(len(experiment.variants))]
        rows = [run_variant(v, budget, photos, workdir, c, experiment.full_size, log, experiment.variants[0])
                for v, c in zip(experiment.variants, compare)]
        shown = list_images(prepare_photos(photos, workdir, None if experiment.full_size else budget.long_side)[2])
        strip_photos = (shown if photos.split else      # the first test photos by name, or the held-out ones in order
                        [p for name in photos.held_out for p in shown if p.stem == Path(name).stem])[:STRIP_ROWS]
        done = [c for r, c in zip(rows, compare) if "error" not in r]
        strip = img_dir / f"exp-{name}.png"
        if done:
            write_strip(strip, strip_photos, done)
        minutes = (time.perf_counter() - started) / 60
        if engine_version() != version:
            raise RuntimeError(f"the engine's code changed during experiment {name} (files {ENGINE}); "
                               "its models mix two versions: run again")
        write_section(out, f"experiments:{name}",
                      section(name, experiment, rows, os.path.relpath(strip, out.parent), strip_photos, budget,
                              minutes, command, "test" if photos.split else "held-out"))
        tables[name] = rows
    setup_name = f"setup-{photos.train.name}" if photos.split else "setup"
    write_section(out, f"experiments:{setup_name}",                                    # after the engine ran
                  setup(budget, quick, folders, command, f"Setup ({photos.train.name})" if photos.split else "Setup"))
    return tables


def choose(all_experiments: dict, only, split: bool) -> dict:
    """The experiments asked for with --only; without it, those meant for the photo layout given."""
    return {k: v for k, v in all_experiments.items()
            if ((k in only) if only else ((k in SPLIT_EXPERIMENTS) == split))}


def main(argv=None):
    full = Budget()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", required=True, type=Path,
                        help="folder of colour photos, the held-out ones included (with --val-photos: training only)")
    parser.add_argument("--val-photos", type=Path, help="folder of the validation windows' photos (never trained on)")
    parser.add_argument("--test-photos", type=Path, help="folder of the photos that score the variants")
    parser.add_argument("--extra-photos", type=Path, help="more training photos, for the variants that ask for them")
    parser.add_argument("--quick", action="store_true",
                        help=f"the budget for minutes: {QUICK.steps} steps, widths {QUICK.channels}")
    parser.add_argument("--steps", type=int, help=f"steps per variant (default {full.steps})")
    parser.add_argument("--batch", type=int, help=f"windows per step (default {full.batch})")
    parser.add_argument("--channels", help=f"widths of the paper's four convolutions (default "
                                           f"{','.join(map(str, full.channels))})")
    parser.add_argument("--lr", type=float, help=f"SGD learning rate (default {full.lr:g})")
    parser.add_argument("--momentum", type=float, help=f"SGD momentum (default {full.momentum:g})")
    parser.add_argument("--lr-half-life", type=int, help="halve the learning rate every this many steps "
                                                         "(default: a fifth of --steps; 0: constant)")
    parser.add_argument("--seed", type=int, help=f"data, initialisation, batches (default {full.seed})")
    parser.add_argument("--long-side", type=int, help=f"downscale every photo to this long side, px "
                                                      f"(default {full.long_side})")
    parser.add_argument("--jobs", type=int, choices=(1, 2), help="processes: 2 trains U and V side by side")
    parser.add_argument("--only", choices=list(experiments(full.steps)), action="append",
                        help="run this experiment only (repeatable)")
    parser.add_argument("--out", type=Path, default=Path("docs/EXPERIMENTS.md"))
    parser.add_argument("--img-dir", type=Path, default=Path("docs/img"))
    parser.add_argument("--workdir", type=Path, default=Path("runs/experiments"))
    args = parser.parse_args(argv)
    budget = QUICK if args.quick else Budget()
    given = {k: getattr(args, k) for k in ("steps", "batch", "lr", "momentum", "lr_half_life", "seed",
                                          "long_side", "jobs")}
    if args.channels:
        try:
            given["channels"] = tuple(int(c) for c in args.channels.split(","))
        except ValueError:
            given["channels"] = ()
        if len(given["channels"]) != 4 or min(given["channels"]) < 1:
            parser.error(f"--channels needs four positive widths like 8,8,8,4, got {args.channels!r}")
    budget = dataclasses.replace(budget, **{k: v for k, v in given.items() if v is not None})
    chosen = choose(experiments(budget.steps), args.only, split=args.val_photos is not None)
    command = "python3 benchmarks/experiments.py " + " ".join(sys.argv[1:] if argv is None else argv)
    if (args.val_photos is None) != (args.test_photos is None):
        parser.error("--val-photos and --test-photos go together")
    if args.extra_photos is None and any(v.extra_photos for e in chosen.values() for v in e.variants):
        parser.error("an experiment chosen trains on extra photos: give --extra-photos (or leave it out with --only)")
    photos = Photos(args.photos, args.val_photos, args.test_photos, args.extra_photos)
    started = time.perf_counter()
    try:
        run(photos, args.out, args.img_dir, args.workdir, budget, chosen, args.quick, command,
            log=lambda line: print(line, file=sys.stderr, flush=True))
    except ValueError as e:          # bad photos folder or option: one line, no traceback
        parser.exit(1, f"error: {e}\n")
    print(f"wrote {args.out} in {(time.perf_counter() - started) / 60:.1f} min", file=sys.stderr)


if __name__ == "__main__":
    main()
