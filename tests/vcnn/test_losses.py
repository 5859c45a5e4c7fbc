import numpy as np
import pytest

from vcnn import numerical_gradient, sigmoid, sigmoid_cross_entropy, squared_error
from vcnn.gradcheck import relative_error


def test_squared_error_gradient():
    rng = np.random.default_rng(0)
    y, target = rng.standard_normal((2, 1, 5, 5)), rng.standard_normal((2, 1, 5, 5))
    _, dy = squared_error(y, target)
    assert relative_error(dy, numerical_gradient(lambda: squared_error(y, target)[0], y)) < 1e-6


def test_sigmoid_cross_entropy_gradient():
    rng = np.random.default_rng(1)
    z, t = rng.standard_normal((2, 1, 5, 5)) * 2, rng.uniform(0, 1, (2, 1, 5, 5))
    _, dz = sigmoid_cross_entropy(z, t)
    assert relative_error(dz, numerical_gradient(lambda: sigmoid_cross_entropy(z, t)[0], z)) < 1e-6


def test_values_by_hand():
    loss, dy = squared_error(np.array([[1.0, 3.0]]), np.array([[0.0, 1.0]]))
    assert loss == pytest.approx(0.5 * (1 + 4) / 2)
    np.testing.assert_allclose(dy, [[0.5, 1.0]])
    loss, dz = sigmoid_cross_entropy(np.zeros(4), np.array([0.0, 0.25, 0.5, 1.0]))   # σ(0) = ½ for any t
    assert loss == pytest.approx(np.log(2))
    np.testing.assert_allclose(dz, [0.125, 0.0625, 0, -0.125])


def test_gradients_vanish_at_the_target():
    t = np.array([0.1, 0.5, 0.8])
    assert not squared_error(t, t.copy())[1].any()
    z = np.log(t / (1 - t))                         # σ(z) = t
    assert np.max(np.abs(sigmoid_cross_entropy(z, t)[1])) < 1e-12


def test_saturated_outputs_stay_finite():
    z = np.array([-800.0, 800.0])
    loss, dz = sigmoid_cross_entropy(z, np.array([1.0, 0.0]))
    assert loss == pytest.approx(800.0) and np.all(np.isfinite(dz))
    s = sigmoid(np.array([-1000.0, 0.0, 1000.0], np.float32))
    assert s.dtype == np.float32 and s.tolist() == [0.0, 0.5, 1.0]


@pytest.mark.parametrize("loss", [squared_error, sigmoid_cross_entropy])
def test_losses_keep_the_output_dtype(loss):
    z = np.zeros((1, 1, 2, 2), np.float32)
    assert loss(z, np.full(z.shape, 0.5))[1].dtype == np.float32


@pytest.mark.parametrize("loss", [squared_error, sigmoid_cross_entropy])
def test_losses_reject_mismatched_shapes_and_empty_batches(loss):
    with pytest.raises(ValueError, match=r"target must have the shape of the output \(1, 1, 2, 2\), got \(1, 1, 2, 3\)"):
        loss(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 2, 3)))
    with pytest.raises(ValueError, match="empty batch"):
        loss(np.zeros((0, 1, 2, 2)), np.zeros((0, 1, 2, 2)))
