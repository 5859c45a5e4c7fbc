"""Tests of colorize.guided_filter against a slow, direct windowed reference."""
import numpy as np
import pytest

from colorize.guided_filter import box_mean, guided_filter


def _window(i, j, r):
    """The window of radius r around (i, j), truncated by slicing."""
    return slice(max(i - r, 0), i + r + 1), slice(max(j - r, 0), j + r + 1)


def box_mean_direct(img, r):
    out = np.empty(img.shape)
    for i, j in np.ndindex(img.shape):
        out[i, j] = img[_window(i, j, r)].mean()
    return out


def guided_filter_direct(I, p, r, eps):
    """He et al. eq. (5)-(8), window by window, two-pass variance."""
    a, b = np.empty(I.shape), np.empty(I.shape)
    for i, j in np.ndindex(I.shape):
        Iw, pw = I[_window(i, j, r)], p[_window(i, j, r)]
        cov = np.mean((Iw - Iw.mean()) * (pw - pw.mean()))
        a[i, j] = cov / (Iw.var() + eps)
        b[i, j] = pw.mean() - a[i, j] * Iw.mean()
    q = np.empty(I.shape)
    for i, j in np.ndindex(I.shape):
        q[i, j] = a[_window(i, j, r)].mean() * I[i, j] + b[_window(i, j, r)].mean()
    return q


@pytest.mark.parametrize("r", [0, 1, 2, 4, 20])
def test_box_mean_matches_direct(r):
    rng = np.random.default_rng(0)
    img = rng.random((7, 9))
    np.testing.assert_allclose(box_mean(img, r), box_mean_direct(img, r), atol=1e-12)


def test_box_mean_loops_channels_and_keeps_dtype():
    rng = np.random.default_rng(1)
    img = rng.random((5, 6, 2)).astype(np.float32)
    out = box_mean(img, 1)
    assert out.shape == img.shape and out.dtype == np.float32
    np.testing.assert_allclose(out[..., 1], box_mean_direct(img[..., 1], 1), atol=1e-6)


@pytest.mark.parametrize("shape", [(6, 8), (9, 5), (1, 7)])
@pytest.mark.parametrize("r", [0, 1, 2, 3, 12])
@pytest.mark.parametrize("eps", [1e-4, 1e-2])
def test_matches_direct(shape, r, eps):
    rng = np.random.default_rng(2)
    I, p = rng.random(shape), rng.random(shape)
    np.testing.assert_allclose(guided_filter(I, p, r, eps),
                               guided_filter_direct(I, p, r, eps), atol=1e-6, rtol=0)


@pytest.mark.parametrize("r", [3, 18, 19, 20, 39])
def test_matches_direct_on_rows_wider_than_the_window(r):
    """40-wide rows: the window sums' interior (both ends inside the row) and borders, the interior
    one column (r = 19), none (r = 20) and the whole row in every window (r = 39)."""
    rng = np.random.default_rng(6)
    I, p = rng.random((5, 40)), rng.random((5, 40))
    np.testing.assert_allclose(guided_filter(I, p, r, 1e-3), guided_filter_direct(I, p, r, 1e-3), atol=1e-6, rtol=0)
    np.testing.assert_allclose(box_mean(I, r), box_mean_direct(I, r), atol=1e-12)


def test_channels_filtered_independently_and_dtype_kept():
    rng = np.random.default_rng(3)
    I = rng.random((8, 10)).astype(np.float32)
    p = rng.random((8, 10, 2)).astype(np.float32)
    q = guided_filter(I, p, 2, 1e-3)
    assert q.shape == p.shape and q.dtype == np.float32
    for c in range(2):
        expected = guided_filter_direct(I.astype(float), p[..., c].astype(float), 2, 1e-3)
        np.testing.assert_allclose(q[..., c], expected, atol=1e-6)


def test_constant_image_stays_constant():
    rng = np.random.default_rng(4)
    I = rng.random((12, 11))
    q = guided_filter(I, np.full((12, 11), 0.37), 3, 1e-4)
    np.testing.assert_allclose(q, 0.37, atol=1e-12)


def test_large_radius_is_global_ridge_regression():
    rng = np.random.default_rng(5)
    I, p, eps = rng.random((10, 13)), rng.random((10, 13)), 1e-2
    a = np.mean((I - I.mean()) * (p - p.mean())) / (I.var() + eps)
    b = p.mean() - a * I.mean()
    for r in (13, 100):     # every window holds the whole image
        np.testing.assert_allclose(guided_filter(I, p, r, eps), a * I + b, atol=1e-12)


def test_edges_of_the_guide_are_kept():
    I = np.zeros((20, 20))
    I[:, 10:] = 1.0                          # a sharp vertical edge
    q = guided_filter(I, I, 4, 1e-4)
    assert np.abs(q - I).max() < 1e-3        # the edge survives ...
    assert np.abs(box_mean(I, 4) - I).max() > 0.4   # ... where a box blur smears it


@pytest.mark.parametrize("I, p, r, eps, message", [
    (np.zeros((4, 5)), np.zeros((4, 6)), 1, 1e-4, r"got shape \(4, 6\)"),
    (np.zeros((4, 5, 1)), np.zeros((4, 5)), 1, 1e-4, r"I must be \(H, W\)"),
    (np.zeros((4, 5)), np.zeros(5), 1, 1e-4, "p must be"),
    (np.zeros((4, 5)), np.zeros((4, 5)), -1, 1e-4, "radius must be an integer >= 0"),
    (np.zeros((4, 5)), np.zeros((4, 5)), 1.5, 1e-4, "radius must be an integer >= 0"),
    (np.zeros((4, 5)), np.zeros((4, 5)), 1, 0.0, "eps must be a finite number > 0"),
    (np.zeros((4, 5)), np.zeros((4, 5)), 1, np.nan, "eps must be a finite number > 0"),
])
def test_validation(I, p, r, eps, message):
    with pytest.raises(ValueError, match=message):
        guided_filter(I, p, r, eps)


def test_integer_inputs_are_rejected():
    with pytest.raises(TypeError, match="got dtype uint8"):
        guided_filter(np.zeros((3, 3)), np.zeros((3, 3), np.uint8), 1, 1e-4)
    with pytest.raises(TypeError, match="got dtype int64"):
        box_mean(np.zeros((3, 3), np.int64), 1)
