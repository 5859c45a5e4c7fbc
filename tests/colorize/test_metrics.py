"""Tests of colorize.metrics on images whose metrics are known by hand."""
import math

import numpy as np
import pytest

from colorize.metrics import (chroma_error_auc, colourfulness, image_metrics,
                              mean_abs_chroma_error, psnr, psnr_rgb, psnr_uv)
from colorize.yuv import rgb_to_yuv


def test_psnr_of_known_mse():
    a = np.zeros((4, 4, 3))
    assert psnr(a, a + 0.1) == pytest.approx(20.0)              # MSE = 0.01
    assert psnr(a, a + 0.1, peak=2.0) == pytest.approx(20.0 + 20 * math.log10(2))
    b = a.copy()
    b[0, 0, 0] = 1.0                                             # MSE = 1 / 48
    assert psnr(a, b) == pytest.approx(10 * math.log10(48))


def test_psnr_of_identical_images_is_inf():
    rng = np.random.default_rng(0)
    a = rng.random((3, 3))
    assert psnr(a, a.copy()) == math.inf


def test_psnr_validation():
    with pytest.raises(ValueError, match=r"same shape, got \(2, 3\) and \(3, 2\)"):
        psnr(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="peak must be > 0"):
        psnr(np.zeros(2), np.ones(2), peak=0)
    with pytest.raises(ValueError, match=r"RGB \(\.\.\., 3\)"):
        psnr_rgb(np.zeros((2, 2, 4)), np.zeros((2, 2, 4)))


def test_psnr_uv_ignores_luma_and_accepts_uv():
    rng = np.random.default_rng(1)
    yuv = rgb_to_yuv(rng.random((5, 5, 3)))
    other_y = yuv.copy()
    other_y[..., 0] = 0.0
    assert psnr_uv(other_y, yuv) == math.inf
    shifted = yuv.copy()
    shifted[..., 1:] += 0.1
    assert psnr_uv(shifted, yuv) == pytest.approx(20.0)
    assert psnr_uv(shifted[..., 1:], yuv[..., 1:]) == pytest.approx(20.0)


def test_psnr_rgb_of_known_mse():
    rng = np.random.default_rng(2)
    rgb = rng.random((4, 5, 3)) * 0.5
    assert psnr_rgb(rgb + 0.05, rgb) == pytest.approx(26.0206, abs=1e-4)


def test_mean_abs_chroma_error():
    true = np.zeros((3, 4, 2))
    pred = true + np.array([0.1, -0.3])
    assert mean_abs_chroma_error(pred, true) == pytest.approx(0.2)
    with pytest.raises(ValueError, match=r"UV \(\.\.\., 2\)"):
        mean_abs_chroma_error(np.zeros((3, 4)), np.zeros((3, 4)))


def test_auc_of_identical_images_is_one():
    rng = np.random.default_rng(3)
    uv = rng.random((6, 6, 2))
    assert chroma_error_auc(uv, uv.copy()) == 1.0


def test_auc_of_constant_error():
    # error 30.25 on the 0-255 scale: F(t) = 0 up to t = 30, 1 from t = 31 on;
    # trapezoids give 0.5 for [30, 31] and 119 for [31, 150].
    true = np.zeros((4, 4, 2))
    pred = true.copy()
    pred[..., 0] = 30.25 / 255
    assert chroma_error_auc(pred, true) == pytest.approx(119.5 / 150)
    pred[..., 1] = 200 / 255                       # beyond every threshold
    assert chroma_error_auc(pred, true) == 0.0


def test_auc_is_euclidean_and_counts_pixels():
    true = np.zeros((2, 2, 2))
    pred = true.copy()
    pred[0, :, 0], pred[0, :, 1] = 60.3 / 255, 80.4 / 255   # |(60.3, 80.4)| = 100.5, half the pixels
    # F = 0.5 for t <= 100, 1 for t >= 101: area 50 + 0.75 + 49 of 150
    assert chroma_error_auc(pred, true) == pytest.approx(99.75 / 150)
    assert chroma_error_auc(pred, true, max_threshold=50, steps=6) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="steps >= 2"):
        chroma_error_auc(pred, true, steps=1)


def test_colourfulness_of_gray_is_zero():
    rng = np.random.default_rng(4)
    gray = rng.random((8, 8, 1)).repeat(3, axis=2)
    assert colourfulness(gray) == pytest.approx(0.0, abs=1e-9)


def test_colourfulness_of_red_and_blue_by_hand():
    img = np.zeros((2, 2, 3))
    img[0, :, 0] = 1.0            # red:  rg = 255, yb = 127.5
    img[1, :, 2] = 1.0            # blue: rg = 0,   yb = -255
    # mu_rg = 127.5, mu_yb = -63.75; sigma_rg = 127.5, sigma_yb = 191.25
    expected = math.sqrt(127.5 ** 2 + 191.25 ** 2) + 0.3 * math.sqrt(127.5 ** 2 + 63.75 ** 2)
    assert colourfulness(img) == pytest.approx(expected)
    assert expected == pytest.approx(272.62, abs=0.01)


def test_image_metrics_of_identical_images():
    rng = np.random.default_rng(5)
    rgb = rng.random((6, 7, 3))
    m = image_metrics(rgb, rgb.copy())
    assert set(m) == {"psnr_rgb", "psnr_uv", "mae_chroma", "auc", "colourfulness_pred",
                      "colourfulness_true", "colourfulness_ratio"}
    assert m["psnr_rgb"] == m["psnr_uv"] == 100.0        # PSNR_MAX: an exact prediction, not inf
    assert m["mae_chroma"] == 0.0 and m["auc"] == 1.0
    assert m["colourfulness_ratio"] == pytest.approx(1.0)
    assert all(isinstance(v, float) for v in m.values())


def test_image_metrics_of_gray_prediction():
    rng = np.random.default_rng(6)
    rgb = rng.random((6, 7, 3))
    yuv = rgb_to_yuv(rgb)
    gray = np.repeat(yuv[..., :1], 3, axis=2)       # same Y, U = V = 0
    m = image_metrics(gray, rgb)
    assert m["colourfulness_pred"] == pytest.approx(0.0, abs=1e-9)
    assert m["colourfulness_ratio"] == pytest.approx(0.0, abs=1e-9)
    assert m["mae_chroma"] == pytest.approx(np.abs(yuv[..., 1:]).mean())
    assert m["psnr_uv"] == pytest.approx(psnr(np.zeros_like(yuv[..., 1:]), yuv[..., 1:]))
    assert 0.0 < m["auc"] < 1.0
    assert math.isnan(image_metrics(rgb, gray)["colourfulness_ratio"])
