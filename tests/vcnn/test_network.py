import numpy as np
import pytest

from vcnn import SGD, Conv2D, FullConv2D, Network, ReLU, squared_error


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
            net.backward(squared_error(net.forward(x), u)[1])
            opt.step()
        return [value.copy() for _, value, _ in net.parameters()]
    for a, b in zip(run(), run()):
        np.testing.assert_array_equal(a, b)


def test_backward_overwrites_the_gradients():
    """Gradients are not accumulated: a second backward of the same batch gives the same gradients,
    and a backward after another batch gives that batch's alone."""
    net = tiny_colorizer(5)
    x, u = synthetic_batch(np.random.default_rng(6), n=2)
    x2, u2 = synthetic_batch(np.random.default_rng(7), n=2)

    def gradients(x, u):
        net.backward(squared_error(net.forward(x), u)[1])
        return [grad.copy() for _, _, grad in net.parameters()]
    first, again, other, first_after_other = gradients(x, u), gradients(x, u), gradients(x2, u2), gradients(x, u)
    assert all(np.array_equal(a, b) and np.array_equal(a, c) for a, b, c in zip(first, again, first_after_other))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))


def test_bad_architecture():
    with pytest.raises(ValueError, match="layer type must be one of"):
        Network.from_spec([{"type": "pool"}])
    with pytest.raises(ValueError, match="needs integer c_in, c_out and k"):
        Network.from_spec([{"type": "conv", "c_in": 1}])


def test_backward_without_the_input_gradient():
    """Training asks for no dX of the input: same gradients, no φᵀ of the first layer."""
    net = tiny_colorizer(5)
    x, u = synthetic_batch(np.random.default_rng(6), n=2)
    dz = squared_error(net.forward(x), u)[1]
    assert net.backward(dz).shape == x.shape
    expected = [grad.copy() for _, _, grad in net.parameters()]
    net.forward(x)
    assert net.backward(dz, need_dx=False) is None
    for (name, _, grad), want in zip(net.parameters(), expected):
        np.testing.assert_array_equal(grad, want, err_msg=name)


def test_a_relu_after_a_conv_runs_inside_it_with_the_same_numbers():
    """The network fuses each conv + ReLU pair; its step is bit for bit the layer-by-layer one."""
    fused, plain = tiny_colorizer(7), tiny_colorizer(7)
    assert [type(layer).__name__ for layer in fused.steps] == ["Conv2D"] * 4 + ["FullConv2D"]
    assert all(layer.relu for layer in fused.steps[:4]) and len(fused.layers) == 9
    assert [spec["type"] for spec in fused.spec()].count("relu") == 4       # the model itself is unchanged
    x, u = synthetic_batch(np.random.default_rng(8), n=2)
    a = x
    for layer in plain.layers:
        layer.relu = False
        a = layer.forward(a)
    np.testing.assert_array_equal(fused.forward(x), a)
    dz = squared_error(a, u)[1]
    d = dz
    for layer in reversed(plain.layers):
        d = layer.backward(d)
    np.testing.assert_array_equal(fused.backward(dz), d)
    for (name, _, g1), (_, _, g2) in zip(fused.parameters(), plain.parameters()):
        np.testing.assert_array_equal(g1, g2, err_msg=name)


def test_layers_share_their_transient_buffers_and_alternate_dx_with_the_same_numbers():
    """A network's layers share φ's block, dY and the dW terms, and every other layer shares dx;
    two steps give exactly what the same layers give with buffers of their own."""
    def build():
        return Network([Conv2D(1, 3, 3, rng=1), ReLU(), Conv2D(3, 4, 2, rng=2), ReLU(), Conv2D(4, 2, 3, rng=3),
                        ReLU(), FullConv2D(2, 1, 3, rng=4)])
    shared, alone = build(), build()
    for layer in alone.steps:
        del layer.shared_stores
    rng = np.random.default_rng(0)
    for _ in range(2):
        x = rng.standard_normal((3, 1, 12, 12)).astype(np.float32)
        outs = [net.forward(x).copy() for net in (shared, alone)]
        np.testing.assert_array_equal(*outs)
        dy = rng.standard_normal(outs[0].shape).astype(np.float32)
        dxs = [net.backward(dy).copy() for net in (shared, alone)]
        np.testing.assert_array_equal(*dxs)
        for (name, _, a), (_, _, b) in zip(shared.parameters(), alone.parameters()):
            np.testing.assert_array_equal(a, b, err_msg=name)
    first, second, third = shared.steps[:3]
    assert np.shares_memory(first._buffer("cols", (4,)), third._buffer("cols", (4,)))
    assert np.shares_memory(first._buffer("dx", (4,)), third._buffer("dx", (4,)))
    assert not np.shares_memory(first._buffer("dx", (4,)), second._buffer("dx", (4,)))
