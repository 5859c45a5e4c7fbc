import numpy as np
import pytest

from vcnn import Conv2D, check_layer, numerical_gradient
from vcnn.gradcheck import GradientCheckError, relative_error


def test_numerical_gradient_of_a_known_function():
    """f(a) = Σ a³ has gradient 3a²; central differences are exact up to eps² and round-off."""
    a = np.random.default_rng(0).standard_normal((3, 4))
    expected = 3 * a ** 2
    np.testing.assert_allclose(numerical_gradient(lambda: float(np.sum(a ** 3)), a), expected, rtol=1e-6, atol=1e-8)
    picked = numerical_gradient(lambda: float(np.sum(a ** 3)), a, indices=[0, 5])
    assert picked.reshape(-1)[[0, 5]] == pytest.approx(expected.reshape(-1)[[0, 5]], rel=1e-6)
    assert np.count_nonzero(picked) == 2


def test_numerical_gradient_restores_the_array_and_refuses_float32():
    a = np.random.default_rng(1).standard_normal(5)
    before = a.copy()
    numerical_gradient(lambda: float(np.sum(a)), a)
    assert np.array_equal(a, before)
    with pytest.raises(ValueError, match="gradient checks run in float64, got float32"):
        numerical_gradient(lambda: 0.0, a.astype(np.float32))


def test_relative_error_is_normwise():
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(np.array([1e-12, 2.0]), np.array([0.0, 2.0])) == pytest.approx(5e-13)
    assert relative_error(np.array([1.0, 4.0]), np.array([1.0, 2.0])) == pytest.approx(0.5)


def test_a_correct_layer_passes_with_small_errors():
    rng = np.random.default_rng(2)
    errors = check_layer(Conv2D(2, 3, 3, rng=3, dtype=np.float64), rng.standard_normal((1, 2, 6, 6)))
    assert set(errors) == {"x", "W", "b"} and max(errors.values()) < 1e-6


class WrongConv(Conv2D):
    """A conv whose weight gradient is off by 1%: the checker must notice."""

    def backward(self, dy):
        dx = super().backward(dy)
        self.dW *= 1.01
        return dx


def test_the_checker_catches_a_wrong_gradient_and_names_it():
    rng = np.random.default_rng(4)
    with pytest.raises(GradientCheckError, match=r"WrongConv: relative errors \{'W': ") as caught:
        check_layer(WrongConv(2, 3, 3, rng=0, dtype=np.float64), rng.standard_normal((1, 2, 6, 6)))
    assert "'x'" not in str(caught.value) and "'b'" not in str(caught.value)
    assert isinstance(caught.value, AssertionError)        # a failed check in any test runner
