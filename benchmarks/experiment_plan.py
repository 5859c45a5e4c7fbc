"""The experiments of `benchmarks/experiments.py`: the budget every variant shares, the variants, their networks."""
import dataclasses

from colorize.options import EPS, RADIUS
from colorize.model import KERNELS, WIDTHS, architecture, mapping_size

#: Held out from every variant's training: validation loss, metrics and strips come from these.
VALIDATION_PHOTOS = ("sklearn_china.jpg", "mate_greenmeadow.jpg", "plasma_path.jpg",
                     "plasma_bythewater.jpg", "mate_garden.jpg")
PAPER_SCHEDULE = "euclidean:100,cross_entropy:100"
PAPER_REFINE = (RADIUS, EPS)
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


def choose(all_experiments: dict, only, split: bool) -> dict:
    """The experiments asked for with --only; without it, those meant for the photo layout given."""
    return {k: v for k, v in all_experiments.items()
            if ((k in only) if only else ((k in SPLIT_EXPERIMENTS) == split))}
