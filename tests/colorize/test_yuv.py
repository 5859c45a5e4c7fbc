"""Tests of colorize.yuv: known colours, ranges, exact inverse, dtypes, validation."""
import itertools

import numpy as np
import pytest

from colorize.yuv import (RGB_TO_YUV, U_RANGE, V_RANGE, YUV_TO_RGB, rgb_to_gray,
                          rgb_to_yuv, yuv_to_rgb)


@pytest.mark.parametrize("rgb, yuv", [
    ((0, 0, 0), (0, 0, 0)),
    ((1, 1, 1), (1, 0, 0)),
    ((1, 0, 0), (0.299, -0.492 * 0.299, 0.877 * 0.701)),
    ((0, 1, 0), (0.587, -0.492 * 0.587, -0.877 * 0.587)),
    ((0, 0, 1), (0.114, 0.492 * 0.886, -0.877 * 0.114)),
])
def test_known_colours(rgb, yuv):
    np.testing.assert_allclose(rgb_to_yuv(np.array(rgb, float)), yuv, atol=1e-12)


def test_gray_has_no_chroma():
    gray = np.linspace(0, 1, 11)[:, None].repeat(3, axis=1)
    yuv = rgb_to_yuv(gray)
    np.testing.assert_allclose(yuv[:, 0], gray[:, 0], atol=1e-12)
    np.testing.assert_allclose(yuv[:, 1:], 0, atol=1e-12)


def test_ranges_are_reached_at_cube_corners():
    corners = np.array(list(itertools.product([0.0, 1.0], repeat=3)))
    yuv = rgb_to_yuv(corners)
    np.testing.assert_allclose([yuv[:, 1].min(), yuv[:, 1].max()], U_RANGE, atol=1e-3)
    np.testing.assert_allclose([yuv[:, 2].min(), yuv[:, 2].max()], V_RANGE, atol=1e-3)


def test_matrices_are_inverse():
    np.testing.assert_allclose(RGB_TO_YUV @ YUV_TO_RGB, np.eye(3), atol=1e-14)
    assert not RGB_TO_YUV.flags.writeable


@pytest.mark.parametrize("dtype, atol", [(np.float32, 1e-6), (np.float64, 1e-14)])
def test_round_trip_keeps_dtype_and_values(dtype, atol):
    rgb = np.random.default_rng(0).random((4, 5, 6, 3)).astype(dtype)
    yuv = rgb_to_yuv(rgb)
    back = yuv_to_rgb(yuv)
    assert yuv.dtype == dtype and back.dtype == dtype
    assert yuv.shape == rgb.shape and back.shape == rgb.shape
    np.testing.assert_allclose(back, rgb, atol=atol, rtol=0)


def test_gray_is_first_yuv_channel():
    rgb = np.random.default_rng(1).random((7, 8, 3)).astype(np.float32)
    y = rgb_to_gray(rgb)
    assert y.shape == (7, 8) and y.dtype == np.float32
    np.testing.assert_allclose(y, rgb_to_yuv(rgb)[..., 0], atol=1e-7)
    np.testing.assert_allclose(y, 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1]
                               + 0.114 * rgb[..., 2], atol=1e-6)


@pytest.mark.parametrize("func", [rgb_to_yuv, yuv_to_rgb, rgb_to_gray])
def test_validation(func):
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\), got shape \(2, 4\)"):
        func(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="got shape"):
        func(np.float64(1.0))
    with pytest.raises(TypeError, match="float array, got dtype uint8"):
        func(np.zeros((2, 3), np.uint8))
