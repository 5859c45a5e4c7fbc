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

from benchmarks.results import grid
from colorize import loop
from colorize.evaluate import evaluate
from colorize.images import list_images, write_png
from colorize.model import CHROMA_RANGES, load_model
from colorize.patches import targets
from colorize.processes import run_in_processes
from colorize.sources import ShardData
from colorize.trainconfig import TrainConfig
from colorize.yuv import rgb_to_yuv
from vcnn.modelfile import fill_network, network_arrays

BIN, TINT, SECTORS, Q = 0.02, 0.02, 6, 64


def _sector(u, v) -> np.ndarray:
    """Which of the SECTORS hue sectors (0: 0-60° from the +U axis towards +V, ...) each (u, v) is in."""
    return (np.degrees(np.arctan2(v, u)) % 360 // (360 / SECTORS)).astype(int)


def _bin(t, channel: str) -> np.ndarray:
    """Which of Q equal bins of the channel's range each target value is in."""
    lo, hi = CHROMA_RANGES[channel]
    return np.clip(((t - lo) / (hi - lo) * Q).astype(int), 0, Q - 1)


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
        sector = _sector(uv[:, 0], uv[:, 1])
        count = np.bincount(sector[tinted], minlength=SECTORS)
        p = np.ones(len(uv))
        p[tinted] = (count[sector[tinted]] / count.mean()) ** -b
        p[tinted] *= tinted.sum() / p[tinted].sum()        # the tinted windows keep their share
    return p / p.sum()


def pixel_weights(data: ShardData, channel: str, l: float, out: int, sample: int = 20000) -> np.ndarray:
    """(Q,) the weight of a target in each of Q bins of the channel's range (``pixels<l>``)."""
    rows = np.sort(np.random.default_rng(5).choice(len(data.train), sample, replace=False))
    t = targets(data.train[rows], out)[1 if channel == "u" else 2]
    hist = np.bincount(_bin(t, channel).ravel(), minlength=Q)
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
    def weighted(loss):
        def wrapped(z, target, lo, hi):
            value, dz = loss(z, target, lo, hi)
            return value, dz * weights[_bin(target, channel)]
        return wrapped
    return {name: weighted(loss) for name, loss in loop.LOSSES.items()}


def _parts(variant: str) -> list:
    """``"hue0.5+pixels0.5"`` -> [("hue", 0.5), ("pixels", 0.5)]."""
    return [(part.rstrip("0123456789."), float(part.lstrip("abcdefghijklmnopqrstuvwxyz"))) for part in variant.split("+")]


def finetune(model_path, channel, variant, p, data_path, steps, lr, workdir, report, stop):
    """One channel of ``model_path`` fine-tuned under ``variant`` (``p``: its windows' probabilities, or
    None to draw them as cut); its arrays."""
    model, data = load_model(model_path), ShardData(data_path)
    source = data if p is None else Resampled(data, p, variant)
    for kind, value in _parts(variant):
        if kind == "pixels":    # the loop looks its losses up by name in its module: the experiment swaps them there
            loop.LOSSES = weighted_losses(pixel_weights(data, channel, value, model.out), channel)
    config = TrainConfig(specs=model.specs, iterations=steps, lr=lr, lr_half_life=None, checkpoint_every=steps,
                         log_every=250, val_patches=1024, long_side=model.long_side)
    net = model.nets[channel]
    loop.train_channel(channel, net, source, config, Path(workdir) / "model.npz", stop=stop)
    return network_arrays(net)


def hue_sums(outputs: dict) -> dict:
    """Per hue class of the truth's pixels (-1: chroma below 0.03, else its sector): [pixels, sum of the
    truth's (U, V), sum of the refined output's], over `evaluate`'s kept images ``outputs``."""
    sums = {c: [0, np.zeros(2), np.zeros(2)] for c in range(-1, SECTORS)}
    for images in outputs.values():
        truth, refined = (rgb_to_yuv(images[k])[..., 1:] for k in ("truth", "refined"))
        u, v = truth[..., 0], truth[..., 1]
        label = np.where(np.hypot(u, v) < 0.03, -1, _sector(u, v))
        for c, row in sums.items():
            here = label == c
            row[0] += here.sum()
            row[1] += truth[here].sum(0)
            row[2] += refined[here].sum(0)
    return sums


def hue_table(sums: dict) -> str:
    """Markdown: per hue class, its share of the pixels, the truth's mean (U, V) and each model's (`hue_sums` by model)."""
    first = next(iter(sums.values()))
    total = sum(n for n, _, _ in first.values())
    lines = ["| truth's hue | share | " + " | ".join(["truth", *sums]) + " |", "|---|--:|" + "---|" * (len(sums) + 1)]
    for c, (n, truth, _) in first.items():
        name = "chroma < 0.03" if c < 0 else f"{c * 60}–{c * 60 + 60}°"
        means = [truth / max(n, 1)] + [model[c][2] / max(n, 1) for model in sums.values()]
        lines.append(f"| {name} | {n / total:.0%} | " + " | ".join(f"{a:+.3f}, {b:+.3f}" for a, b in means) + " |")
    return "\n".join(lines)


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
    parser.add_argument("--rows", type=int, default=4, help="photos in the strip")
    args = parser.parse_args(argv)
    models = {"start": load_model(args.model)}
    means = None                                # every window's mean (U, V): computed once, if a variant resamples
    for variant in args.variants.split(","):
        out = args.workdir / variant
        if not (out / "model.npz").exists():
            out.mkdir(parents=True, exist_ok=True)
            p = None
            for kind, value in _parts(variant):
                if kind in ("windows", "hue"):
                    means = window_chroma(ShardData(args.data), models["start"].out) if means is None else means
                    p = sampling_weights(kind, value, means)
            jobs = {c: (args.model, c, variant, p, args.data, args.steps, args.lr, out) for c in CHROMA_RANGES}
            outcomes = run_in_processes(finetune, jobs, lambda *said: None)
            model = load_model(args.model)
            for channel, (kind, value) in outcomes.items():
                if kind != "done":
                    raise SystemExit(f"{variant} {channel}: {value}")
                fill_network(model.nets[channel], value)
            model.meta = {"experiment": f"rebalance {variant}, {args.steps} steps at lr {args.lr} from {args.model}"}
            model.save(out / "model.npz")
        models[variant] = load_model(out / "model.npz")
    photos = list_images(args.val_photos)
    print("| model | refined PSNR RGB | AuC | colourfulness / truth's | network's |\n|---|--:|--:|--:|--:|")
    sums, shown = {}, {}
    for name, model in models.items():      # each model colorizes each photo once: scores, hue table and strip
        results = evaluate(photos, model, keep_images=photos)
        o, r = results["overall"], results["overall"]["refined"]
        print(f"| {name} | {r['psnr_rgb']:.2f} (gray {o['gray']['psnr_rgb']:.2f}) | {r['auc']:.4f} | "
              f"{r['colourfulness_ratio']:.2f} | {o['network']['colourfulness_ratio']:.2f} |")
        sums[name] = hue_sums(results["outputs"])
        shown[name] = [results["outputs"][str(p)] for p in photos[:args.rows]]
    print()
    print(hue_table(sums))
    if args.strip:
        first = next(iter(shown.values()))
        write_png(args.strip, grid([[row["gray"], *(shown[name][i]["refined"] for name in shown), row["truth"]]
                                    for i, row in enumerate(first)], 120, 3))


if __name__ == "__main__":
    main()
