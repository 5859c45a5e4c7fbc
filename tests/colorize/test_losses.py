import numpy as np
import pytest

from colorize.losses import cross_entropy, euclidean, loss_at, parse_schedule, predict
from colorize.model import architecture
from vcnn import SGD, Network, numerical_gradient
from vcnn.gradcheck import relative_error

LO, HI = -0.436, 0.436


@pytest.mark.parametrize("loss", [euclidean, cross_entropy])
def test_loss_gradient(loss):
    rng = np.random.default_rng(0)
    z = rng.standard_normal((2, 1, 5, 5)) * 2
    target = rng.uniform(LO, HI, z.shape)
    _, dz = loss(z, target, LO, HI)
    numeric = numerical_gradient(lambda: loss(z, target, LO, HI)[0], z)
    assert relative_error(dz, numeric) < 1e-6


def test_prediction_spans_the_range():
    np.testing.assert_allclose(predict(np.array([-50.0, 0.0, 50.0]), LO, HI), [LO, 0, HI], atol=1e-15)


def test_euclidean_value():
    z = np.zeros((1, 1, 2, 2))       # σ(0) = ½: Û is the middle of the range, 0
    loss, _ = euclidean(z, np.full(z.shape, 0.2), LO, HI)
    assert loss == pytest.approx(0.5 * 0.2 ** 2)


@pytest.mark.parametrize("loss", [euclidean, cross_entropy])
def test_gradient_vanishes_at_the_target(loss):
    target = np.array([-0.3, 0.0, 0.25]).reshape(1, 1, 1, 3)
    t = (target - LO) / (HI - LO)
    z = np.log(t / (1 - t))                   # σ(z) = t, so Û = U
    np.testing.assert_allclose(predict(z, LO, HI), target, atol=1e-12)
    assert np.max(np.abs(loss(z, target, LO, HI)[1])) < 1e-12


def test_cross_entropy_is_finite_when_saturated():
    z = np.array([-800.0, 800.0]).reshape(1, 1, 1, 2)
    loss, dz = cross_entropy(z, np.array([HI, LO]).reshape(z.shape), LO, HI)
    assert loss == pytest.approx(800.0 * (HI - LO) ** 2 / 4) and np.all(np.isfinite(dz))


def test_both_losses_have_the_same_curvature_at_zero():
    """One learning rate serves both phases: equal second derivatives in z at z = 0."""
    z, target, h = np.zeros((1, 1, 1, 1)), np.zeros((1, 1, 1, 1)), 1e-4
    curvature = [(loss(z + h, target, LO, HI)[1] - loss(z - h, target, LO, HI)[1]).item() / (2 * h)
                 for loss in (euclidean, cross_entropy)]
    assert curvature[0] == pytest.approx(curvature[1], rel=1e-6)


@pytest.mark.parametrize("loss", [euclidean, cross_entropy])
def test_loss_rejects_mismatched_shapes_and_an_empty_range(loss):
    with pytest.raises(ValueError, match="target must have the shape"):
        loss(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 2, 3)), LO, HI)
    with pytest.raises(ValueError, match="range must have hi > lo, got lo=0.5, hi=0.5"):
        loss(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 2, 2)), 0.5, 0.5)


def test_schedule_cycles():
    schedule = parse_schedule("euclidean:100,cross_entropy:50")
    assert [loss_at(schedule, s) for s in (0, 99, 100, 149, 150)] == \
        ["euclidean", "euclidean", "cross_entropy", "cross_entropy", "euclidean"]


@pytest.mark.parametrize("bad", ["euclidean", "l1:5", "euclidean:0", ""])
def test_schedule_rejects_malformed_text(bad):
    with pytest.raises(ValueError, match="schedule must look like"):
        parse_schedule(bad)


@pytest.mark.slow
def test_sgd_on_the_euclidean_loss_trains_a_tiny_colorizer():
    """Random blocky images centred on 0; the target chroma is a function of brightness."""
    rng = np.random.default_rng(1)
    x = rng.uniform(-0.5, 0.5, (8, 1, 6, 6)).repeat(4, 2).repeat(4, 3).astype(np.float32)
    u = (0.4 * x[:, :, 4:-4, 4:-4]).astype(np.float32)      # the output is the input's centre
    net = Network.from_spec(architecture((4, 4, 4, 2)), rng=np.random.default_rng(0))   # 11/4/3/1 + 8×8
    opt = SGD(net.parameters(), lr=40.0, momentum=0.9)
    losses = []
    for _ in range(300):
        loss, dz = euclidean(net.forward(x), u, -0.5, 0.5)
        net.backward(dz)
        opt.step()
        losses.append(loss)
    assert losses[-1] < losses[0] / 3, (losses[0], losses[-1])
