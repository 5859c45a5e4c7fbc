import numpy as np
import pytest

from vcnn import im2col_gemm, naive

# (n, c_in, c_out, k, h, w): tiny, because the reference is the pure-Python loops.
CASES = [(1, 1, 1, 1, 3, 4), (2, 2, 3, 3, 5, 4), (1, 3, 2, 4, 6, 7), (2, 1, 2, 5, 5, 6)]


@pytest.mark.parametrize("n,c_in,c_out,k,h,w", CASES)
def test_forward_and_backward_match_the_loops(n, c_in, c_out, k, h, w):
    rng = np.random.default_rng(0)
    x, W, b = (rng.standard_normal(s) for s in [(n, c_in, h, w), (c_out, c_in, k, k), c_out])
    dy = rng.standard_normal((n, c_out, h - k + 1, w - k + 1))
    y = im2col_gemm.conv2d_forward(x, W, b)
    np.testing.assert_allclose(y, naive.conv2d_forward(x, W, b, jit=False), rtol=1e-12, atol=1e-12)
    for ours, loops in zip(im2col_gemm.conv2d_backward(x, W, dy), naive.conv2d_backward(x, W, dy, jit=False)):
        assert ours.shape == loops.shape
        np.testing.assert_allclose(ours, loops, rtol=1e-12, atol=1e-12)


def test_by_hand():
    """A 2×2 box kernel on a 3×3 ramp: each output is its window's sum; each weight's
    gradient under dy = 1 is the sum of the pixels it touched; dx counts the windows."""
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    y = im2col_gemm.conv2d_forward(x, np.ones((1, 1, 2, 2)), np.array([0.5]))
    np.testing.assert_array_equal(y[0, 0], [[8.5, 12.5], [20.5, 24.5]])
    dx, dW, db = im2col_gemm.conv2d_backward(x, np.ones((1, 1, 2, 2)), np.ones((1, 1, 2, 2)))
    np.testing.assert_array_equal(dW[0, 0], [[0 + 1 + 3 + 4, 1 + 2 + 4 + 5], [3 + 4 + 6 + 7, 4 + 5 + 7 + 8]])
    np.testing.assert_array_equal(db, [4])
    np.testing.assert_array_equal(dx[0, 0], [[1, 2, 1], [2, 4, 2], [1, 2, 1]])


def test_float32_stays_float32():
    x = np.ones((1, 2, 4, 4), np.float32)
    y = im2col_gemm.conv2d_forward(x, np.ones((3, 2, 2, 2), np.float32), np.zeros(3))
    assert y.dtype == np.float32 and y.shape == (1, 3, 3, 3) and y.flags.c_contiguous


def test_rejects_mismatched_shapes():
    x = np.zeros((1, 2, 5, 5))
    with pytest.raises(ValueError, match=r"conv2d_forward: W must be \(C_out, C_in, k, k\), got shape \(3, 2, 3\)"):
        im2col_gemm.conv2d_forward(x, np.zeros((3, 2, 3)), np.zeros(3))
    with pytest.raises(ValueError, match="must have 2 channels"):
        im2col_gemm.conv2d_forward(np.zeros((1, 1, 5, 5)), np.zeros((3, 2, 3, 3)), np.zeros(3))
    with pytest.raises(ValueError, match=r"dy must have shape \(1, 3, 3, 3\), got \(1, 3, 4, 4\)"):
        im2col_gemm.conv2d_backward(x, np.zeros((3, 2, 3, 3)), np.zeros((1, 3, 4, 4)))
