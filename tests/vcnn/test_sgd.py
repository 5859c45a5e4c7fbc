import numpy as np
import pytest

from vcnn import SGD


def test_plain_step():
    w, g = np.array([1.0, 2.0]), np.array([0.5, -1.0])
    SGD([("w", w, g)], lr=0.1).step()
    np.testing.assert_allclose(w, [0.95, 2.1])


def test_momentum_and_weight_decay_by_hand():
    """Two steps with lr 0.1, momentum 0.5, weight decay 0.1 from w = (1, 2), g = (0.5, -1):
    g₁ = g + 0.1·w = (0.6, -0.8), v₁ = (-0.06, 0.08), w₁ = (0.94, 2.08);
    g₂ = (0.594, -0.792), v₂ = 0.5·v₁ - 0.1·g₂ = (-0.0894, 0.1192), w₂ = (0.8506, 2.1992)."""
    w, g = np.array([1.0, 2.0]), np.array([0.5, -1.0])
    opt = SGD([("w", w, g)], lr=0.1, momentum=0.5, weight_decay=0.1)
    opt.step()
    np.testing.assert_allclose(w, [0.94, 2.08])
    opt.step()
    np.testing.assert_allclose(w, [0.8506, 2.1992])
    np.testing.assert_allclose(opt.state()["velocity.w"], [-0.0894, 0.1192])


def test_a_resumed_optimiser_continues_exactly():
    def fresh():
        return np.array([1.0, -2.0, 0.5]), np.array([0.3, 0.1, -0.4])
    w, g = fresh()
    straight = SGD([("w", w, g)], lr=0.2, momentum=0.9)
    for _ in range(3):
        straight.step()
    w2, g2 = fresh()
    first = SGD([("w", w2, g2)], lr=0.2, momentum=0.9)
    first.step()
    state = {name: v.copy() for name, v in first.state().items()}
    resumed = SGD([("w", w2, g2)], lr=0.2, momentum=0.9)
    resumed.load_state(state)
    resumed.step()
    resumed.step()
    np.testing.assert_array_equal(w, w2)


def test_no_momentum_keeps_no_state():
    assert SGD([("w", np.zeros(2), np.zeros(2))], lr=1.0).state() == {}


@pytest.mark.parametrize("kwargs,message", [
    ({"lr": 0}, "learning rate must be > 0, got 0"),
    ({"lr": 1, "momentum": 1.5}, r"momentum must be in \[0, 1\), got 1.5"),
    ({"lr": 1, "weight_decay": -1}, "weight decay must be >= 0, got -1"),
])
def test_rejects_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SGD([], **kwargs)
