"""Generic losses on a network's output. Each returns ``(loss, d)``: the loss
as a Python float and its gradient with respect to the output, which is what
``Network.backward`` takes.

Both are means over every entry, so the gradient carries a ``1 / size``:
the learning rate does not depend on the batch or the image size.
"""
import numpy as np


def sigmoid(z: np.ndarray) -> np.ndarray:
    """σ(z) = 1 / (1 + e^-z), written so that it neither overflows nor loses precision at large |z|."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(z.dtype, copy=False)


def _check(output, target):
    output, target = np.asarray(output), np.asarray(target)
    if output.shape != target.shape:
        raise ValueError(f"target must have the shape of the output {output.shape}, got {target.shape}")
    if output.size == 0:
        raise ValueError("loss of an empty batch")
    return output, target


def squared_error(y: np.ndarray, target: np.ndarray):
    """Half the mean squared error.

    Parameters
    ----------
    y : ndarray, any shape
        The network's output.
    target : ndarray, same shape as y

    Returns
    -------
    loss : float
        ``½ · mean((y - target)²)``, summed in float64.
    dy : ndarray, like y
        ``(y - target) / y.size``.

    Raises
    ------
    ValueError
        If the shapes differ or the batch is empty.

    Examples
    --------
    >>> loss, dy = squared_error(np.array([1.0, 3.0]), np.array([0.0, 0.0]))
    >>> loss, dy
    (2.5, array([0.5, 1.5]))
    """
    y, target = _check(y, target)
    diff = y - target
    loss = 0.5 * float(np.mean(np.square(diff, dtype=np.float64)))
    return loss, (diff / y.size).astype(y.dtype, copy=False)


def sigmoid_cross_entropy(z: np.ndarray, t: np.ndarray):
    """Binary cross-entropy between targets ``t`` in [0, 1] and σ(z).

    Parameters
    ----------
    z : ndarray, any shape
        The network's output (logits).
    t : ndarray, same shape as z, values in [0, 1]

    Returns
    -------
    loss : float
        ``mean(-(t·log σ(z) + (1 - t)·log(1 - σ(z))))``.
    dz : ndarray, like z
        ``(σ(z) - t) / z.size``.

    Raises
    ------
    ValueError
        If the shapes differ or the batch is empty.

    Notes
    -----
    ``log σ(z) = -softplus(-z)`` and ``log(1 - σ(z)) = -softplus(z)``,
    computed with ``logaddexp`` so that saturated outputs give finite losses.
    The minimum is not zero but the entropy of t; the gradient vanishes at
    σ(z) = t.
    """
    z, t = _check(z, t)
    z64 = z.astype(np.float64)
    loss = float(np.mean(t * np.logaddexp(0, -z64) + (1 - t) * np.logaddexp(0, z64)))
    return loss, ((sigmoid(z) - t) / z.size).astype(z.dtype, copy=False)
