import numpy as np
import pytest

from vcnn import naive


def test_conv_by_hand():
    """A 2×2 kernel of ones on a 3×3 ramp: each output is the sum of its 2×2 window."""
    x = np.arange(9, dtype=np.float64).reshape(1, 1, 3, 3)
    y = naive.conv2d_forward(x, np.ones((1, 1, 2, 2)), np.array([0.5]), jit=False)
    np.testing.assert_array_equal(y[0, 0], [[8.5, 12.5], [20.5, 24.5]])


def test_conv_backward_by_hand():
    """dy = 1 everywhere: dW[i, j] sums the pixels under offset (i, j), dx counts the windows over a pixel."""
    x = np.arange(9, dtype=np.float64).reshape(1, 1, 3, 3)
    dx, dW, db = naive.conv2d_backward(x, np.full((1, 1, 2, 2), 2.0), np.ones((1, 1, 2, 2)), jit=False)
    np.testing.assert_array_equal(dW[0, 0], [[8, 12], [20, 24]])
    np.testing.assert_array_equal(db, [4])
    np.testing.assert_array_equal(dx[0, 0], 2 * np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]))


def test_mapping_layer_by_hand():
    """Every pixel of a 2×2 input predicts its own value over a 2×2 patch; each output pixel is the mean."""
    x = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    y = naive.full_conv2d_forward(x, np.ones((4, 1)), np.zeros(4), 2, jit=False)
    np.testing.assert_array_equal(y[0, 0], [[1, 1.5, 2], [2, 2.5, 3], [3, 3.5, 4]])


@pytest.mark.parametrize("full", [False, True])
def test_pure_python_equals_numba(full):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 2, 6, 5))
    if full:
        W, b, k = rng.standard_normal((3 * 9, 2)), rng.standard_normal(3 * 9), 3
        run = [lambda jit: naive.full_conv2d_forward(x, W, b, k, jit=jit),
               lambda jit: naive.full_conv2d_backward(x, W, k, np.ones((1, 3, 8, 7)), jit=jit)]
    else:
        W, b = rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
        run = [lambda jit: naive.conv2d_forward(x, W, b, jit=jit),
               lambda jit: naive.conv2d_backward(x, W, rng.standard_normal((1, 3, 4, 3)), jit=jit)]
    np.testing.assert_allclose(run[0](False), run[0](True), rtol=1e-12)
    state = rng.bit_generator.state
    python = run[1](False)
    rng.bit_generator.state = state                      # the same dy for both runs
    for a, b_ in zip(python, run[1](True)):
        np.testing.assert_allclose(a, b_, rtol=1e-12)


def test_naive_reference_validates_its_arguments():
    x = np.zeros((1, 2, 5, 5))
    with pytest.raises(ValueError, match=r"W must be \(C_out, C_in, k, k\), got shape \(3,\)"):
        naive.conv2d_forward(x, np.zeros(3), np.zeros(1))
    with pytest.raises(ValueError, match=r"W must be \(C_out·k·k, C_in\) with k=2, got shape \(10, 2\)"):
        naive.full_conv2d_forward(x, np.zeros((10, 2)), np.zeros(10), 2)
    with pytest.raises(ValueError, match="positive integer, got 0"):
        naive.full_conv2d_backward(x, np.zeros((4, 2)), 0, np.zeros((1, 1, 5, 5)))
