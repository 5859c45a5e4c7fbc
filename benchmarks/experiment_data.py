"""The photos and shards of `benchmarks/experiments.py`: each role's folder at each scale, made once."""
import dataclasses
import shutil
from pathlib import Path

from benchmarks.experiment_plan import VALIDATION_PHOTOS, Budget
from colorize.images import list_images, read_image, write_png
from colorize.resample import fit_long_side
from colorize.patches import write_shards

MAX_POOL = 20_000               # training windows per shard at most (then epochs repeat)


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
