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
import dataclasses
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):                      # run as a script: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.experiment_data import Photos, prepare_photos, prepare_shards
from benchmarks.experiment_plan import (PAPER_REFINE, QUICK, Budget, Variant, choose, describe, experiments,
                                        half_life, specs, training_scale)
from benchmarks.experiment_report import (ENGINE, STRIP_ROWS, engine_version, section, setup, skeleton,
                                          write_strip)
from benchmarks.results import write_section
from colorize.evaluate import evaluate
from colorize.images import list_images
from colorize.model import ColorizationModel
from colorize.train import TrainConfig, TrainingError, train
from vcnn.atomic import atomic_path

PROBE_STEPS = 20                # steps timed per width for the equal wall-clock budget


def _config(variant: Variant, budget: Budget, steps: int) -> TrainConfig:
    log_every = max(1, steps // budget.log_points)
    return TrainConfig(specs(variant, budget), steps, budget.batch, budget.lr, budget.momentum,
                       schedule=variant.schedule, seed=budget.seed if variant.seed is None else variant.seed,
                       patch=variant.patch, checkpoint_every=log_every, log_every=log_every,
                       val_patches=budget.val_windows, lr_half_life=half_life(dataclasses.replace(budget, steps=steps)))


def _train_cached(data: Path, config: TrainConfig, models: Path, jobs: int) -> tuple:
    """Train (or resume, or reuse) the model of these settings; its file is named by their hash.

    Returns (model file, whether it was trained now, its loss logs: channel -> rows, kept beside it as JSON).
    """
    key = json.dumps([config.fingerprint(), config.iterations, data.name, engine_version()], sort_keys=True)
    path = models / f"{hashlib.sha1(key.encode()).hexdigest()[:12]}.npz"
    logs_file = path.with_suffix(".logs.json")
    if path.exists() and logs_file.exists():
        return path, False, json.loads(logs_file.read_text())
    models.mkdir(parents=True, exist_ok=True)
    logs = train(data, path, config, resume=True, jobs=jobs, overwrite=True).logs
    with atomic_path(logs_file) as tmp:
        tmp.write_text(json.dumps(logs))
    return path, True, logs


def _seconds(logs: dict, jobs: int) -> float:
    """Training time: U and V side by side (jobs = 2) take the slower one's, one after the other the sum."""
    seconds = [rows[-1]["seconds"] for rows in logs.values()]
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
                logs = _train_cached(data, config, Path(tmp), budget.jobs)[2].values()
                cache[key] = max(rows[-1]["seconds"] - rows[0]["seconds"] for rows in logs)
            cache_file.write_text(json.dumps(cache, indent=1))
        seconds.append(cache[key])
    return max(1, round(budget.steps * seconds[0] / seconds[1]))


def validation_curve(logs: dict) -> list:
    """(last step, held-out Euclidean loss averaged over U and V) at every logged step."""
    return [(u["last_step"] + 1, (u["val_euclidean"] + v["val_euclidean"]) / 2) for u, v in zip(logs["u"], logs["v"])]


def run_variant(variant: Variant, budget: Budget, photos: Photos, workdir: Path, shown=(),
                full_size: bool = False, log=print, reference: Variant | None = None) -> dict:
    """Train (or reuse) and evaluate one variant; returns a row of its experiment's table.

    An ``equal_time`` variant trains as long as ``budget.steps`` steps of ``reference`` take.
    The model is evaluated on the test photos at its training scale, or,
    with `full_size`, on the full-size photos, shrunk to that scale by the model itself.
    The row keeps the images of the test photos named in ``shown`` (stems): photo stem -> images.
    """
    scale = training_scale(variant, budget)
    folders = prepare_photos(photos, workdir, scale, variant.extra_photos)
    data = prepare_shards(folders[0], folders[1], workdir, variant.patch, budget)
    steps = equal_time_steps(variant, reference or variant, budget, data, workdir) if variant.equal_time \
        else budget.steps
    row = {"variant": variant, "steps": steps}
    log(f"  {variant.label}: {describe(variant, budget)}, {steps} steps")
    try:
        model_path, trained, logs = _train_cached(data, _config(variant, budget, steps), workdir / "models",
                                                  budget.jobs)
    except TrainingError as e:
        return {**row, "error": str(e), "trained": True}
    radius, eps = variant.refine or PAPER_REFINE
    model = ColorizationModel.load(model_path, long_side=(scale or 0) if full_size else None)
    test_dir = prepare_photos(photos, workdir, None)[2] if full_size else folders[2]
    keep = [p for p in list_images(test_dir) if p.stem in shown]
    results = evaluate(test_dir, model, refine=variant.refine is not None, radius=radius, eps=eps, keep_images=keep)
    output = "refined" if variant.refine else "network"
    return {**row, "trained": trained, "seconds": _seconds(logs, budget.jobs), "curve": validation_curve(logs),
            "gray": results["overall"]["gray"], "metrics": results["overall"][output],
            "images": {Path(p).stem: {"gray": images["gray"], "output": images[output], "truth": images["truth"]}
                       for p, images in results.get("outputs", {}).items()}}


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
        shown = list_images(prepare_photos(photos, workdir, None if experiment.full_size else budget.long_side)[2])
        strip_photos = (shown if photos.split else      # the first test photos by name, or the held-out ones in order
                        [p for name in photos.held_out for p in shown if p.stem == Path(name).stem])[:STRIP_ROWS]
        stems = [p.stem for p in strip_photos]
        rows = [run_variant(v, budget, photos, workdir, stems, experiment.full_size, log, experiment.variants[0])
                for v in experiment.variants]
        done = [r for r in rows if "error" not in r]
        strip = img_dir / f"exp-{name}.png"
        if done:
            write_strip(strip, stems, done)
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
