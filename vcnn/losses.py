"""The two losses of the paper, on one output parameterisation.

The last layer gives z; the prediction is ``Û = lo + (hi - lo)·σ(z)``, so it
always lies in the channel's range [lo, hi] (U: ±0.436, V: ±0.615). The paper's
eq. 4 ("global error") is the Euclidean loss on Û; its eq. 5, ``Σ U log Û``,
is not a valid loss for signed U, and we read it as the binary cross-entropy
between ``t = (U - lo)/(hi - lo)`` and σ(z) ("local error": it weighs every
pixel by how far it is from its target in log terms).
Both return ``(loss, dz)``, the loss as a Python float and dz = ∂loss/∂z.

One learning rate serves both phases: the cross-entropy is scaled by
``(hi - lo)²/4`` so that the two losses have the same curvature in z at
z = 0 (σ'(0) = 1/4). Unscaled, its gradient is 1/((hi - lo)²/4), about 5
(U) to 10 (V) times the Euclidean one, and measured on our photos the rate
that trains the Euclidean phase made the cross-entropy phase undo it. A
constant factor changes neither minimiser.
"""
import numpy as np


def sigmoid(z: np.ndarray) -> np.ndarray:
    """σ(z) = 1 / (1 + e^(-z)), without overflow for large |z|."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(z.dtype, copy=False)


def predict(z: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Û = lo + (hi - lo)·σ(z)."""
    return (lo + (hi - lo) * sigmoid(z)).astype(z.dtype, copy=False)


def _check(z, target, lo, hi):
    z, target = np.asarray(z), np.asarray(target)
    if z.shape != target.shape:
        raise ValueError(f"target must have the shape of the output {z.shape}, got {target.shape}")
    if z.size == 0:
        raise ValueError("loss of an empty batch")
    if not hi > lo:
        raise ValueError(f"range must have hi > lo, got lo={lo}, hi={hi}")
    return z, target


def euclidean(z: np.ndarray, target: np.ndarray, lo: float, hi: float):
    """Mean squared error of Û = lo + (hi - lo)σ(z) against the target U.

    Parameters
    ----------
    z : ndarray, any shape
        The network's output.
    target : ndarray, same shape as z
        U (or V), in [lo, hi].
    lo, hi : float
        The channel's range.

    Returns
    -------
    loss : float
        ``½ · mean((Û - U)²)``.
    dz : ndarray, like z
        ``(Û - U) · (hi - lo) · σ(z)(1 - σ(z)) / z.size``.
    """
    z, target = _check(z, target, lo, hi)
    s = sigmoid(z)
    diff = lo + (hi - lo) * s - target
    loss = 0.5 * float(np.mean(np.square(diff, dtype=np.float64)))
    dz = diff * ((hi - lo) / z.size) * s * (1 - s)
    return loss, dz.astype(z.dtype, copy=False)


def cross_entropy(z: np.ndarray, target: np.ndarray, lo: float, hi: float):
    """Binary cross-entropy between t = (U - lo)/(hi - lo) and σ(z), scaled by (hi - lo)²/4.

    Returns
    -------
    loss : float
        ``s · mean(-(t·log σ(z) + (1 - t)·log(1 - σ(z))))`` with ``s = (hi - lo)²/4``.
    dz : ndarray, like z
        ``s · (σ(z) - t) / z.size``.

    Notes
    -----
    The scale s matches the Euclidean loss's curvature at z = 0 (see the
    module's docstring).
    ``log σ(z) = -softplus(-z)`` and ``log(1 - σ(z)) = -softplus(z)``, computed
    with ``logaddexp`` so that saturated outputs give finite losses.
    The minimum is not zero but the entropy of t; its gradient vanishes at Û = U.
    """
    z, target = _check(z, target, lo, hi)
    t = (target - lo) / (hi - lo)
    scale = (hi - lo) ** 2 / 4
    z64 = z.astype(np.float64)
    loss = scale * float(np.mean(t * np.logaddexp(0, -z64) + (1 - t) * np.logaddexp(0, z64)))
    dz = (sigmoid(z) - t) * (scale / z.size)
    return loss, dz.astype(z.dtype, copy=False)


LOSSES = {"euclidean": euclidean, "cross_entropy": cross_entropy}


def parse_schedule(text: str):
    """Parse ``"euclidean:100,cross_entropy:100"`` into [(loss name, steps)].

    >>> parse_schedule("euclidean:100,cross_entropy:100")
    [('euclidean', 100), ('cross_entropy', 100)]
    """
    phases = []
    for part in str(text).split(","):
        name, _, steps = part.strip().partition(":")
        if name not in LOSSES or not steps.strip().isdigit() or int(steps) < 1:
            raise ValueError(f"schedule must look like 'euclidean:100,cross_entropy:100' "
                             f"(losses: {', '.join(LOSSES)}), got {text!r}")
        phases.append((name, int(steps)))
    return phases


def loss_at(schedule, step: int) -> str:
    """The loss in force at ``step`` (0-based) of a cycled schedule.

    >>> [loss_at([("euclidean", 2), ("cross_entropy", 1)], s) for s in range(4)]
    ['euclidean', 'euclidean', 'cross_entropy', 'euclidean']
    """
    step %= sum(steps for _, steps in schedule)
    for name, steps in schedule:
        if step < steps:
            return name
        step -= steps
