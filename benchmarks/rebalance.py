"""Less pale colours by rebalancing? Fine-tune a model's two networks with rebalanced windows or losses.

A network trained by a mean loss predicts, where it is unsure, the mean
chroma of the windows that look alike: pale, and tinted by the training set's
commonest colours. Three ways to push it off that mean, joined with ``+``:

- ``windows<b>``: draw training windows with probability ∝ n^-b, n the number
  of windows whose mean (U, V) falls in the same 0.02 × 0.02 bin (rare
  colours more often; b = 0: as cut). "Sample colourful windows more often."
- ``hue<b>``: the windows with a tint (mean chroma above 0.02) with
  probability ∝ n^-b, n the count of their 60° hue sector; the untinted keep
  their share. Flattens the set's dominant hue without making it more colourful.
- ``pixels<l>``: every pixel's gradient weighted by 1 / ((1 - l)·p(t) + l/Q),
  p the smoothed histogram of the channel's targets over Q = 64 bins (the
  rebalancing of Zhang et al. 2016, per channel), normalised to mean 1 under p.

Each variant starts from ``--model`` and trains both networks ``--steps``
steps at a constant ``--lr`` on the shard folder ``--data``; each is scored
with ``colorize evaluate`` on ``--val-photos`` (choose with these, never with
test photos). The script prints the scores and, per hue of the truth, the
mean (U, V) of the truth and of each model: where the colours go.

    python benchmarks/rebalance.py --model runs/m.npz --data shards/ --val-photos held_out/ \\
        --variants hue0.5,pixels0.5 --steps 2500 --lr 0.45 --workdir runs/rebalance
"""
import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):                      # run as a script: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from scipy.ndimage import gaussian_filter1d

from colorize import loop
from colorize.evaluate import evaluate
from benchmarks.results import grid
from colorize.images import list_images, read_image, write_png
from colorize.model import CHROMA_RANGES, load_model
from colorize.patches import targets
from colorize.pipeline import colorize_image
from colorize.processes import run_in_processes
from colorize.sources import ShardData
from colorize.trainconfig import TrainConfig
from colorize.yuv import rgb_to_gray, rgb_to_yuv
from vcnn.modelfile import fill_network, network_arrays

BIN, TINT, SECTORS, Q = 0.02, 0.02, 6, 64


def window_chroma(data: ShardData, out: int, chunk: int = 5000) -> np.ndarray:
    """(N, 2): every training window's mean U and V over the network's target centre (``out`` square)."""
    means = np.empty((len(data.train), 2), np.float32)
    for first in range(0, len(means), chunk):
        _, u, v = targets(data.train[np.arange(first, min(first + chunk, len(means)))], out)
        means[first:first + len(u), 0], means[first:first + len(u), 1] = u.mean((1, 2)), v.mean((1, 2))
    return means


def sampling_weights(kind: str, b: float, uv: np.ndarray) -> np.ndarray:
    """Each window's probability under ``windows<b>`` or ``hue<b>`` (see the module's notes)."""
    if kind == "windows":
        _, which, count = np.unique(np.floor(uv / BIN).astype(np.int64), axis=0, return_inverse=True,
                                    return_counts=True)
        p = count[which.ravel()] ** -b
    else:
        tinted = np.hypot(uv[:, 0], uv[:, 1]) > TINT
        sector = (np.degrees(np.arctan2(uv[:, 1], uv[:, 0])) % 360 // (360 / SECTORS)).astype(int)
        count = np.bincount(sector[tinted], minlength=SECTORS)
        p = np.ones(len(uv))
        p[tinted] = (count[sector[tinted]] / count.mean()) ** -b
        p[tinted] *= tinted.sum() / p[tinted].sum()        # the tinted windows keep their share
    return p / p.sum()


def pixel_weights(data: ShardData, channel: str, l: float, out: int, sample: int = 20000) -> np.ndarray:
    """(Q,) the weight of a target in each of Q bins of the channel's range (``pixels<l>``)."""
    lo, hi = CHROMA_RANGES[channel]
    rows = np.sort(np.random.default_rng(5).choice(len(data.train), sample, replace=False))
    t = targets(data.train[rows], out)[1 if channel == "u" else 2]
    hist = np.bincount(np.clip(((t - lo) / (hi - lo) * Q).astype(int), 0, Q - 1).ravel(), minlength=Q)
    p = gaussian_filter1d(hist / hist.sum(), 1.0)
    occupied = hist > 0
    w = 1 / ((1 - l) * p + l / occupied.sum())
    w /= (w * p).sum()
    return np.where(occupied, w, w[occupied].max()).astype(np.float32)


class Resampled:
    """The shards' windows drawn with probabilities ``p`` (a `colorize.sources.DataSource`)."""

    def __init__(self, data: ShardData, p: np.ndarray, name: str):
        self.data, self.p = data, p
        self.description, self.fingerprint = data.description, f"{data.fingerprint}:{name}"

    def batch(self, seed: int, step: int, size: int) -> np.ndarray:
        rows = np.random.default_rng([seed, step, 17]).choice(len(self.p), size, p=self.p)
        return self.data.train[np.sort(rows)]

    def validation(self, seed: int, count: int) -> np.ndarray:
        return self.data.validation(seed, count)


def weighted_losses(weights: np.ndarray, channel: str) -> dict:
    """The training losses with every pixel's gradient multiplied by its target's weight."""
    lo, hi = CHROMA_RANGES[channel]

    def weighted(loss):
        def wrapped(z, target, lo_, hi_):
            value, dz = loss(z, target, lo_, hi_)
            return value, dz * weights[np.clip(((target - lo) / (hi - lo) * Q).astype(int), 0, Q - 1)]
        return wrapped
    return {name: weighted(loss) for name, loss in loop.LOSSES.items()}


def finetune(model_path, channel, variant, data_path, steps, lr, workdir, report, stop):
    """One channel of ``model_path`` fine-tuned under ``variant``; its arrays."""
    model, data = load_model(model_path), ShardData(data_path)
    source = data
    for part in variant.split("+"):
        kind, value = part.rstrip("0123456789."), float(part.lstrip("abcdefghijklmnopqrstuvwxyz"))
        if kind in ("windows", "hue"):
            source = Resampled(data, sampling_weights(kind, value, window_chroma(data, model.out)), variant)
        else:   # the loop looks its losses up by name in its module: the experiment swaps them there
            loop.LOSSES = weighted_losses(pixel_weights(data, channel, value, model.out), channel)
    config = TrainConfig(specs=model.specs, iterations=steps, lr=lr, lr_half_life=None, checkpoint_every=steps,
                         log_every=250, val_patches=1024, long_side=model.long_side)
    net = model.nets[channel]
    loop.train_channel(channel, net, source, config, Path(workdir) / "model.npz", stop=stop)
    return network_arrays(net)


def hue_table(models: dict, photos) -> str:
    """Per hue class of the truth's pixels: its share, the truth's mean (U, V) and each model's."""
    sums = {}
    for path in photos:
        truth = read_image(path)[0].astype(np.float32)
        yuv = {"truth": rgb_to_yuv(truth)[..., 1:]}
        yuv.update({name: rgb_to_yuv(colorize_image(rgb_to_gray(truth), m))[..., 1:] for name, m in models.items()})
        u, v = yuv["truth"][..., 0], yuv["truth"][..., 1]
        sector = (np.degrees(np.arctan2(v, u)) % 360 // (360 / SECTORS)).astype(int)
        label = np.where(np.hypot(u, v) < 0.03, -1, sector)
        for c in range(-1, SECTORS):
            here = label == c
            row = sums.setdefault(c, {"n": 0, **{k: np.zeros(2) for k in yuv}})
            row["n"] += here.sum()
            for k, uv in yuv.items():
                row[k] += uv[here].sum(0)
    total = sum(row["n"] for row in sums.values())
    lines = ["| truth's hue | share | " + " | ".join(["truth", *models]) + " |", "|---|--:|" + "---|" * (len(models) + 1)]
    for c, row in sorted(sums.items()):
        name = "chroma < 0.03" if c < 0 else f"{c * 60}–{c * 60 + 60}°"
        means = [row[k] / max(row["n"], 1) for k in ["truth", *models]]
        lines.append(f"| {name} | {row['n'] / total:.0%} | " + " | ".join(f"{a:+.3f}, {b:+.3f}" for a, b in means) + " |")
    return "\n".join(lines)


def strip(models: dict, photos, path, cell_height: int = 120) -> None:
    """A PNG: gray | each model's refined output | truth, one row per photo."""
    rows = []
    for photo in photos:
        truth = read_image(photo)[0].astype(np.float32)
        gray = rgb_to_gray(truth)
        rows.append([np.repeat(gray[..., None], 3, -1), *(colorize_image(gray, m) for m in models.values()), truth])
    write_png(path, grid(rows, cell_height, 3))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, type=Path, help="the model to start from")
    parser.add_argument("--data", required=True, type=Path, help="its training shard folder")
    parser.add_argument("--val-photos", required=True, type=Path, help="held-out colour photos to score on")
    parser.add_argument("--variants", required=True, help="comma-separated, e.g. windows0.5,hue0.5,pixels0.5")
    parser.add_argument("--steps", type=int, default=2500)
    parser.add_argument("--lr", type=float, default=0.45)
    parser.add_argument("--workdir", required=True, type=Path)
    parser.add_argument("--strip", type=Path, help="PNG: gray | start | each variant | truth, first --rows photos")
    parser.add_argument("--rows", type=int, default=4)
    args = parser.parse_args(argv)
    models = {"start": load_model(args.model)}
    for variant in args.variants.split(","):
        out = args.workdir / variant
        if not (out / "model.npz").exists():
            out.mkdir(parents=True, exist_ok=True)
            jobs = {c: (args.model, c, variant, args.data, args.steps, args.lr, out) for c in CHROMA_RANGES}
            outcomes = run_in_processes(finetune, jobs, lambda *said: None)
            model = load_model(args.model)
            for channel, (kind, value) in outcomes.items():
                if kind != "done":
                    raise SystemExit(f"{variant} {channel}: {value}")
                fill_network(model.nets[channel], value)
            model.meta = {"experiment": f"rebalance {variant}, {args.steps} steps at lr {args.lr} from {args.model}"}
            model.save(out / "model.npz")
        models[variant] = load_model(out / "model.npz")
    print("| model | refined PSNR RGB | AuC | colourfulness / truth's | network's |\n|---|--:|--:|--:|--:|")
    for name, model in models.items():
        o = evaluate(args.val_photos, model)["overall"]
        r = o["refined"]
        print(f"| {name} | {r['psnr_rgb']:.2f} (gray {o['gray']['psnr_rgb']:.2f}) | {r['auc']:.4f} | "
              f"{r['colourfulness_ratio']:.2f} | {o['network']['colourfulness_ratio']:.2f} |")
    print()
    print(hue_table(models, list_images(args.val_photos)))
    if args.strip:
        strip(models, list_images(args.val_photos)[:args.rows], args.strip)


if __name__ == "__main__":
    main()
