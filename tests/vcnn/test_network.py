import numpy as np
import pytest

from vcnn import SGD, Network, squared_error


def tiny_colorizer(rng):
    """The paper's 11/4/3/1 + 8×8 mapping layer, with 4/4/4/2 channels."""
    return Network.from_spec([
        {"type": "conv", "c_in": 1, "c_out": 4, "k": 11}, {"type": "relu"},
        {"type": "conv", "c_in": 4, "c_out": 4, "k": 4}, {"type": "relu"},
        {"type": "conv", "c_in": 4, "c_out": 4, "k": 3}, {"type": "relu"},
        {"type": "conv", "c_in": 4, "c_out": 2, "k": 1}, {"type": "relu"},
        {"type": "full_conv", "c_in": 2, "c_out": 1, "k": 8},
    ], rng=rng)


def synthetic_batch(rng, n=8, size=24):
    """Inputs: random blocky images centred on 0; target: a chroma that is a function of brightness."""
    x = rng.uniform(-0.5, 0.5, (n, 1, size // 4, size // 4)).repeat(4, 2).repeat(4, 3).astype(np.float32)
    crop = 4                                  # the output is 8 smaller than the input, centred
    centre = x[:, :, crop:size - crop, crop:size - crop]
    return x, (0.4 * centre).astype(np.float32)


def test_output_shape_follows_the_paper():
    net = tiny_colorizer(0)
    assert net.forward(np.zeros((1, 1, 64, 64), np.float32)).shape == (1, 1, 56, 56)


def test_training_is_deterministic():
    def run():
        net = tiny_colorizer(3)
        opt = SGD(net.parameters(), lr=1.0)
        x, u = synthetic_batch(np.random.default_rng(4), n=2)
        for _ in range(3):
            opt.zero_grad()
            net.backward(squared_error(net.forward(x), u)[1])
            opt.step()
        return [value.copy() for _, value, _ in net.parameters()]
    for a, b in zip(run(), run()):
        np.testing.assert_array_equal(a, b)


def test_sgd_update_rules():
    w, g = np.array([1.0, 2.0]), np.array([0.5, -1.0])
    SGD([("w", w, g)], lr=0.1).step()
    np.testing.assert_allclose(w, [0.95, 2.1])
    w = np.array([1.0, 2.0])
    opt = SGD([("w", w, g)], lr=0.1, momentum=0.5, weight_decay=0.1)
    opt.step(); opt.step()          # v1 = -0.1 (g + 0.1 w0); v2 = 0.5 v1 - 0.1 (g + 0.1 w1)
    w0 = np.array([1.0, 2.0]); v1 = -0.1 * (g + 0.1 * w0); w1 = w0 + v1
    np.testing.assert_allclose(w, w1 + 0.5 * v1 - 0.1 * (g + 0.1 * w1))
    opt.zero_grad()
    assert not g.any()


def test_sgd_rejects_bad_settings():
    with pytest.raises(ValueError, match="learning rate must be > 0"):
        SGD([], lr=0)
    with pytest.raises(ValueError, match="momentum must be in"):
        SGD([], lr=1, momentum=1.5)


def test_bad_architecture():
    with pytest.raises(ValueError, match="layer type must be one of"):
        Network.from_spec([{"type": "pool"}])
    with pytest.raises(ValueError, match="needs integer c_in, c_out and k"):
        Network.from_spec([{"type": "conv", "c_in": 1}])
