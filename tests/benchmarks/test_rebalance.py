"""The rebalancing experiment's weights: what each variant promises, on made-up windows."""
from types import SimpleNamespace

import numpy as np
import pytest

from benchmarks.rebalance import Q, Resampled, hue_sums, hue_table, pixel_weights, sampling_weights, weighted_losses
from colorize.losses import LOSSES
from colorize.model import CHROMA_RANGES

#: Mean (U, V) of 10 windows: 4 untinted, 4 in the 120-180° sector (yellow-brown), 2 in 240-300° (green-cyan).
UV = np.array([[0.0, 0.0], [0.01, 0.0], [0.0, -0.01], [0.005, 0.005],
               [-0.06, 0.05], [-0.07, 0.04], [-0.05, 0.03], [-0.06, 0.06],
               [0.01, -0.10], [0.0, -0.08]], np.float32)


def test_b_zero_draws_as_cut():
    for kind in ("windows", "hue"):
        np.testing.assert_allclose(sampling_weights(kind, 0.0, UV), np.full(10, 0.1))


def test_hue_one_gives_every_tinted_sector_the_same_share_and_keeps_the_untinted_share():
    p = sampling_weights("hue", 1.0, UV)
    assert p[:4].sum() == pytest.approx(0.4)
    assert p[4:8].sum() == pytest.approx(p[8:].sum()) == pytest.approx(0.3)


def test_windows_one_gives_every_colour_bin_the_same_share():
    p = sampling_weights("windows", 1.0, UV)
    bins = {tuple(b) for b in np.floor(UV / 0.02).astype(int)}
    shares = [p[(np.floor(UV / 0.02).astype(int) == b).all(1)].sum() for b in bins]
    np.testing.assert_allclose(shares, 1 / len(bins))


def test_pixel_weights_favour_rare_targets():
    windows = np.full((40, 64, 64, 3), 128, np.uint8)      # gray windows...
    windows[:4, :, :, 0] = 250                              # ...and a few red ones: V far above 0
    w = pixel_weights(SimpleNamespace(train=windows), "v", 0.5, 56, sample=40)
    lo, hi = CHROMA_RANGES["v"]
    red_v = 0.877 * (250 - (0.299 * 250 + 0.587 * 128 + 0.114 * 128)) / 255
    gray_bin, red_bin = int(-lo / (hi - lo) * Q), int((red_v - lo) / (hi - lo) * Q)
    assert w[red_bin] > 1.25 * w[gray_bin] > 0


def test_weighted_losses_scale_each_pixels_gradient_by_its_targets_weight():
    rng = np.random.default_rng(0)
    weights = np.linspace(0.5, 2.0, Q).astype(np.float32)
    lo, hi = CHROMA_RANGES["u"]
    z = rng.standard_normal((2, 1, 5, 5)).astype(np.float32)
    target = rng.uniform(lo, hi, z.shape).astype(np.float32)
    bins = np.clip(((target - lo) / (hi - lo) * Q).astype(int), 0, Q - 1)
    for name, loss in weighted_losses(weights, "u").items():
        value, dz = loss(z, target, lo, hi)
        plain_value, plain_dz = LOSSES[name](z, target, lo, hi)
        assert value == plain_value
        np.testing.assert_allclose(dz, plain_dz * weights[bins], rtol=1e-6)


def test_resampled_batches_follow_the_probabilities_and_repeat_for_a_step():
    data = SimpleNamespace(train=np.arange(10)[:, None], fingerprint="f", description={},
                           validation=lambda seed, count: None)
    p = np.zeros(10)
    p[[2, 7]] = 0.5
    source = Resampled(data, p, "test")
    rows = source.batch(0, 3, 64).ravel()
    assert set(rows) == {2, 7}
    np.testing.assert_array_equal(rows, source.batch(0, 3, 64).ravel())


def test_hue_sums_split_the_truths_pixels_by_hue_and_the_table_gives_their_means():
    truth = np.full((4, 6, 3), 0.5, np.float32)
    truth[:, 3:] = (0.2, 0.7, 0.2)                          # right half green: U < 0, V < 0, sector 240-300°
    sums = hue_sums({"photo": {"truth": truth, "refined": np.full_like(truth, 0.5)}})
    assert [sums[c][0] for c in (-1, 4)] == [12, 12] and sum(row[0] for row in sums.values()) == 24
    np.testing.assert_allclose(sums[-1][1], 0, atol=1e-6)
    assert sums[4][1][0] < 0 and sums[4][1][1] < 0                       # the truth's green...
    np.testing.assert_allclose(sums[4][2], 0, atol=1e-6)                # ...and a gray prediction there
    row = [line for line in hue_table({"gray": sums}).splitlines() if line.startswith("| 240–300°")][0]
    assert row.startswith("| 240–300° | 50% |") and row.endswith("| +0.000, +0.000 |")
