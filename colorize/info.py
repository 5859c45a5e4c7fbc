"""What a model file is: ``colorize info MODEL``.

A model file (:mod:`vcnn.modelfile`) holds its description as JSON bytes in
an array; `model_info` gathers what a user asks about a model (architecture,
size, working scale, the data and the run that made it, its last logged
losses, an evaluation if one was recorded) into one dict, and `format_info`
lays it out as text.
"""
from __future__ import annotations

import os
from pathlib import Path

from colorize.model import ColorizationModel, bundled_models, describe_architecture, model_file

BUNDLED_LICENCE = ("bundled with the package (MIT); trained on photos whose licences are listed in "
                   "colorize/models/README.md, 'Licences of the training photographs'")
OWN_LICENCE = "not recorded: a model trained on your photos carries whatever their licences ask"
TRAINING_KEYS = ("batch", "lr", "momentum", "weight_decay", "lr_half_life", "schedule", "seed", "val_patches")


def model_info(name_or_path: str | os.PathLike | None = None) -> dict:
    """A model file described: every field is plain JSON (None where the file does not say).

    Parameters
    ----------
    name_or_path : a model file, or the name of a bundled model (default: the bundled default)

    Returns
    -------
    dict with ``file``, ``bundled`` (the bundled name or None), ``architecture``
    (``name``, ``layers``), ``parameters`` (``per_network``, ``total``),
    ``long_side``, ``data``, ``training`` (settings, ``steps``, ``seconds``),
    ``final_losses`` (channel -> the last logged row), ``evaluation`` and ``licence``.

    Raises
    ------
    ValueError
        If it is neither a model file nor a bundled model.
    """
    bundled = bundled_models()
    path = model_file(name_or_path)             # a bare name is a bundled model, a path a file
    model = ColorizationModel.load(path)
    is_bundled = next((n for n, p in bundled.items() if Path(p).resolve() == path.resolve()), None)
    training = dict(model.meta.get("training") or {})
    final = training.pop("final", {}) or {}
    per_net = {channel: sum(int(value.size) for value in arrays)
               for channel, arrays in _parameters(model).items()}
    return {
        "file": str(path),
        "bundled": is_bundled,
        "architecture": {"name": describe_architecture(model.specs), "layers": _layers(model.specs),
                         "window": model.patch, "centre": model.out},
        "parameters": {"per_network": per_net, "total": sum(per_net.values())},
        "long_side": model.long_side,
        "data": model.meta.get("data"),
        "training": {**{key: training.get(key) for key in TRAINING_KEYS},
                     "steps": training.get("iterations"),
                     "seconds": {c: row.get("seconds") for c, row in final.items()} or None},
        "final_losses": {c: {k: v for k, v in row.items() if k not in ("channel", "seconds")}
                         for c, row in final.items()} or None,
        "evaluation": model.meta.get("evaluation") or model.meta.get("metrics"),
        "licence": model.meta.get("licence") or (BUNDLED_LICENCE if is_bundled else OWN_LICENCE),
    }


def _parameters(model) -> dict:
    return {channel: [value for _, value, _ in net.parameters()] for channel, net in model.nets.items()}


def _layers(specs) -> str:
    convs = [layer for layer in specs if layer.get("type") == "conv"]
    mapping = [layer["k"] for layer in specs if layer.get("type") == "full_conv"]
    kernels = ", ".join(f"{c['k']}x{c['k']}" for c in convs)
    widths = ", ".join(str(c["c_out"]) for c in convs)
    return (f"{len(convs)} convolutions {kernels} with {widths} kernels, each + ReLU, then a "
            + ", ".join(f"{k}x{k}" for k in mapping) + " mapping layer")


def _data(data) -> str:
    if not data:
        return "not recorded"
    scale = f", photos at long side {data['long_side']} px" if data.get("long_side") else ""
    gray = f", {len(data['gray_skipped'])} gray photos skipped" if data.get("gray_skipped") else ""
    if data.get("kind") == "shards":
        return (f"shards of {data.get('description') or data.get('folder')}: {data.get('train_pairs', 0):,} training pairs, "
                f"{data.get('val_pairs', 0):,} validation pairs{scale}")
    if data.get("kind") == "photos":
        return f"{data.get('photos')} photos in {', '.join(data.get('paths', []))}{scale}{gray}"
    return str(data)


def _evaluation(evaluation) -> str:
    """``benchmarks/model_card.py --record``'s means ± standard errors in one line; anything else as it is."""
    methods = [m for m in ("gray", "mean chroma", "refined") if isinstance(evaluation, dict) and m in evaluation]
    if not methods:
        return str(evaluation)
    try:
        return f"on {evaluation.get('photos', 'photos')}: " + "; ".join(
            f"{m}: PSNR RGB {evaluation[m]['psnr_rgb'][0]:.2f} dB, AuC {evaluation[m]['auc'][0]:.3f}, "
            f"colourfulness {evaluation[m]['colourfulness_ratio'][0]:.2f} of the truth's" for m in methods)
    except (KeyError, TypeError, IndexError, ValueError):
        return str(evaluation)


def _training(training) -> str:
    if not training.get("steps"):
        return "not recorded"
    half = training.get("lr_half_life")
    rate = f"lr {training['lr']}" + (f" halved every {half} steps" if half else " (constant)")
    seconds = training.get("seconds") or {}
    took = ("; " + ", ".join(f"{c.upper()} {s / 60:.1f} min" for c, s in seconds.items() if s is not None)
            if seconds else "")
    return (f"{training['steps']:,} steps of batch {training.get('batch')}, {rate}, momentum "
            f"{training.get('momentum')}, weight decay {training.get('weight_decay')}, schedule "
            f"{training.get('schedule')}, seed {training.get('seed')}{took}")


def _losses(final) -> list[str]:
    if not final:
        return ["not recorded"]
    lines = []
    for channel, row in final.items():
        def value(key):
            v = row.get(key)
            return f"{v:.5g}" if isinstance(v, (int, float)) else "-"
        lines.append(f"{channel.upper()} (steps {row.get('first_step')}-{row.get('last_step')}): training "
                     f"Euclidean {value('train_euclidean')}, cross-entropy {value('train_cross_entropy')}; "
                     f"validation Euclidean {value('val_euclidean')}, cross-entropy {value('val_cross_entropy')}")
    return lines


def format_info(info: dict) -> str:
    """`model_info` as aligned text, one field per line."""
    arch, params = info["architecture"], info["parameters"]
    rows = [
        ("model", info["file"] + (f" (bundled '{info['bundled']}')" if info["bundled"] else "")),
        ("architecture", f"{arch['name']}: {arch['layers']} ({arch['window']}x{arch['window']} window -> "
                         f"{arch['centre']}x{arch['centre']} centre)"),
        ("parameters", f"{params['total']:,} ("
                       + ", ".join(f"{c.upper()} {n:,}" for c, n in params["per_network"].items()) + ")"),
        ("working scale", f"long side {info['long_side']} px (images are shrunk to it for the networks)"
         if info["long_side"] else "the image's own size"),
        ("training data", _data(info["data"])),
        ("training", _training(info["training"])),
    ]
    rows += [("final losses" if i == 0 else "", line) for i, line in enumerate(_losses(info["final_losses"]))]
    evaluation = info["evaluation"]
    rows.append(("evaluation", "not recorded (colorize evaluate PHOTOS --model MODEL measures it)"
                 if not evaluation else _evaluation(evaluation)))
    rows.append(("licence", info["licence"]))
    return "\n".join(f"{key:<15}{value}" for key, value in rows)
