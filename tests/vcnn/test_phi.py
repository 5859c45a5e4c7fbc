import numpy as np
import pytest

from vcnn import phi, phi_adjoint

SHAPES = [((1, 1, 4, 4), 2), ((2, 3, 7, 5), 3), ((3, 2, 9, 9), 1), ((1, 4, 11, 12), 11), ((2, 1, 13, 10), 4), ((1, 2, 8, 9), 8)]


def phi_reference(x, k):
    """φ by slicing, in plain NumPy: one column per output position."""
    n, c, h, w = x.shape
    columns = [x[b, :, p:p + k, q:q + k].reshape(-1)
               for b in range(n) for p in range(h - k + 1) for q in range(w - k + 1)]
    return np.stack(columns, axis=1)


@pytest.mark.parametrize("shape,k", SHAPES)
def test_phi_matches_plain_numpy(shape, k):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    np.testing.assert_array_equal(phi(x, k), phi_reference(x, k))


@pytest.mark.parametrize("shape,k", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adjoint_identity(shape, k, dtype):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape).astype(dtype)
    cols = phi(x, k)
    c = rng.standard_normal(cols.shape).astype(dtype)
    lhs = np.sum(cols.astype(np.float64) * c)
    rhs = np.sum(x.astype(np.float64) * phi_adjoint(c, x.shape, k))
    assert lhs == pytest.approx(rhs, rel=1e-5 if dtype == np.float32 else 1e-12)


def test_adjoint_counts_overlaps():
    counts = phi_adjoint(np.ones((4, 9), np.float32), (1, 1, 4, 4), 2)[0, 0]
    np.testing.assert_array_equal(counts, [[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]])


def test_random_shapes_adjoint():
    rng = np.random.default_rng(2)
    for _ in range(20):
        n, c, k = rng.integers(1, 4), rng.integers(1, 4), rng.integers(1, 6)
        h, w = rng.integers(k, k + 6, size=2)
        x = rng.standard_normal((n, c, h, w))
        y = rng.standard_normal(phi(x, k).shape)
        assert np.sum(phi(x, k) * y) == pytest.approx(np.sum(x * phi_adjoint(y, x.shape, k)), rel=1e-12)


def test_non_contiguous_input_is_copied():
    x = np.random.default_rng(3).standard_normal((2, 3, 6, 6)).astype(np.float32)
    view = x.transpose(0, 1, 3, 2)
    np.testing.assert_array_equal(phi(view, 3), phi_reference(np.ascontiguousarray(view), 3))


@pytest.mark.parametrize("x,k,message", [
    (np.zeros((3, 4, 4), np.float32), 2, r"\(N, C, H, W\), got shape \(3, 4, 4\)"),
    (np.zeros((1, 1, 4, 4), np.int64), 2, "float32 or float64, got int64"),
    (np.zeros((0, 1, 4, 4), np.float32), 2, "empty batch"),
    (np.zeros((1, 1, 4, 4), np.float32), 5, "k=5 is larger than the 4x4 image"),
    (np.zeros((1, 1, 4, 4), np.float32), 0, "positive integer"),
])
def test_phi_rejects_bad_input(x, k, message):
    with pytest.raises(ValueError, match=message):
        phi(x, k)


def test_phi_adjoint_rejects_wrong_shape():
    with pytest.raises(ValueError, match=r"cols must have shape \(4, 9\)"):
        phi_adjoint(np.zeros((4, 8), np.float32), (1, 1, 4, 4), 2)
