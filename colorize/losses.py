"""The paper's two losses on one output parameterisation, and their alternation.

The last layer gives z; the prediction is ``Û = lo + (hi - lo)·σ(z)``, so it
always lies in the channel's range [lo, hi] (U: ±0.436, V: ±0.615, see
:mod:`colorize.yuv`). The paper's eq. 4 ("global error") is the Euclidean loss
on Û; its eq. 5, ``Σ U log Û``, is not a valid loss for signed U, and we read
it as the binary cross-entropy between ``t = (U - lo)/(hi - lo)`` and σ(z)
("local error": it weighs every pixel by how far it is from its target in log
terms). Both are built on the engine's generic losses
(:mod:`vcnn.losses`) and return ``(loss, dz)``.

One learning rate serves both phases: the cross-entropy is scaled by
``(hi - lo)²/4`` so that the two losses have the same curvature in z at
z = 0: unscaled, the cross-entropy's curvature there, σ'(0) = 1/4, is
4/(hi - lo)² times the Euclidean loss's, (hi - lo)²/16: 5.3 times for U, 2.6
for V, enough for the rate that trains the Euclidean phase to make the
cross-entropy phase overshoot. A constant factor changes neither minimiser.

The paper switches loss every 100 iterations; the schedule is a cycled list
of (loss, steps), written ``"euclidean:100,cross_entropy:100"``.
"""
import numpy as np

from vcnn.losses import sigmoid, sigmoid_cross_entropy, squared_error


def _check_range(lo, hi):
    if not hi > lo:
        raise ValueError(f"range must have hi > lo, got lo={lo}, hi={hi}")


def predict(z: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Û = lo + (hi - lo)·σ(z).

    >>> print(predict(np.array([-20.0, 0.0, 20.0]), -0.436, 0.436).round(3))
    [-0.436  0.     0.436]
    """
    return (lo + (hi - lo) * sigmoid(z)).astype(z.dtype, copy=False)


def euclidean(z: np.ndarray, target: np.ndarray, lo: float, hi: float):
    """The paper's eq. 4: half the mean squared error of Û = lo + (hi - lo)σ(z) against U.

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
        ``(Û - U) / z.size · (hi - lo) · σ(z)(1 - σ(z))``: the chain rule through Û.
    """
    _check_range(lo, hi)
    s = sigmoid(np.asarray(z))
    loss, du = squared_error(lo + (hi - lo) * s, target)
    return loss, (du * (hi - lo) * s * (1 - s)).astype(s.dtype, copy=False)


def cross_entropy(z: np.ndarray, target: np.ndarray, lo: float, hi: float):
    """Our reading of the paper's eq. 5: the binary cross-entropy between
    t = (U - lo)/(hi - lo) and σ(z), scaled by (hi - lo)²/4.

    Returns
    -------
    loss : float
        ``s · mean(-(t·log σ(z) + (1 - t)·log(1 - σ(z))))`` with ``s = (hi - lo)²/4``.
    dz : ndarray, like z
        ``s · (σ(z) - t) / z.size``.
    """
    _check_range(lo, hi)
    scale = (hi - lo) ** 2 / 4
    loss, dz = sigmoid_cross_entropy(z, (np.asarray(target) - lo) / (hi - lo))
    return scale * loss, (dz * scale).astype(dz.dtype, copy=False)


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
