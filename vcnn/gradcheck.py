"""Gradient checking by central differences, in float64.

One helper for every test: :func:`numerical_gradient` perturbs an array in
place and differentiates any scalar function of it; :func:`check_layer`
compares a layer's ``backward`` (dx, dW, db) against it on the scalar
``L = <forward(x), r>`` for a fixed random r, whose gradient wrt the output
is exactly r.
"""
import numpy as np


class GradientCheckError(AssertionError):
    """A layer's analytic gradient disagrees with central differences.

    An ``AssertionError``, so that test runners report it as a failed check,
    but raised explicitly: ``python -O`` strips ``assert`` statements, not this.
    """


def numerical_gradient(f, array: np.ndarray, eps: float = 1e-6, indices=None) -> np.ndarray:
    """Central differences ``(f(a + eps·e_i) - f(a - eps·e_i)) / 2eps``.

    Parameters
    ----------
    f : callable () -> float
        Reads ``array`` (which is perturbed in place and restored).
    array : ndarray, float64
    indices : sequence of flat indices, optional
        Only these entries (others stay 0 in the result); default all.
    """
    if array.dtype != np.float64:
        raise ValueError(f"gradient checks run in float64, got {array.dtype}")
    grad = np.zeros_like(array)
    flat, gflat = array.reshape(-1), grad.reshape(-1)
    for i in range(flat.size) if indices is None else indices:
        old = flat[i]
        flat[i] = old + eps
        plus = f()
        flat[i] = old - eps
        minus = f()
        flat[i] = old
        gflat[i] = (plus - minus) / (2 * eps)
    return grad


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """Normwise relative error ``max|a - b| / max(max|a|, max|b|)`` (0 when both are 0).

    Normwise rather than entrywise: an entry that is nearly 0 in both would
    otherwise turn round-off into a large "relative" error.
    """
    scale = max(float(np.max(np.abs(a))), float(np.max(np.abs(b))))
    return float(np.max(np.abs(a - b))) / scale if scale > 0 else 0.0


def check_layer(layer, x: np.ndarray, rng=0, max_entries: int = 60, eps: float = 1e-6, tol: float = 1e-6) -> dict:
    """Check dx, dW and db of ``layer`` against central differences.

    Parameters
    ----------
    layer : a float64 layer (``forward``, ``backward``, ``parameters``)
    x : ndarray, float64
        Input; for layers with a kink (ReLU) keep it away from 0.
    max_entries : int
        Entries checked per array, chosen at random (all when fewer).

    Returns
    -------
    errors : dict name -> relative error (``"x"``, ``"W"``, ``"b"``)

    Raises
    ------
    GradientCheckError
        If any relative error exceeds ``tol``, naming the arrays and their errors.
    """
    rng = np.random.default_rng(rng)
    x = np.array(x, dtype=np.float64)
    r = rng.standard_normal(layer.forward(x).shape)

    def loss():
        return float(np.sum(layer.forward(x) * r))

    layer.forward(x)
    analytic = {"x": layer.backward(r)}
    analytic.update({name: grad.copy() for name, _, grad in layer.parameters()})
    arrays = {"x": x, **{name: value for name, value, _ in layer.parameters()}}
    errors = {}
    for name, array in arrays.items():
        picks = rng.choice(array.size, size=min(max_entries, array.size), replace=False)
        numeric = numerical_gradient(loss, array, eps, picks).reshape(-1)[picks]
        errors[name] = relative_error(analytic[name].reshape(-1)[picks], numeric)
    bad = {name: err for name, err in errors.items() if err > tol}
    if bad:
        raise GradientCheckError(f"gradient check failed for {type(layer).__name__}: "
                                 f"relative errors {bad} > {tol}")
    return errors
