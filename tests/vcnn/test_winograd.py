"""Winograd's minimal filtering (vcnn.winograd, kernels.winograd) and Conv2D on it: the matrices exact,
the correlation F(2×2, r×r) and the weight gradient F(r×r, 2×2) against the naive loops in float64 and
float32, the layer's gradients against the naive loops and central differences, and the rule that
chooses it."""
import numpy as np
import pytest

from vcnn import Conv2D, Network, ReLU, check_layer, naive, winograd

SHAPES = [  # (n, c_in, c_out, h, w, k): odd and even outputs on both sides, tiles past the edge
    (2, 3, 5, 9, 8, 3), (1, 4, 3, 10, 11, 4), (2, 2, 2, 7, 7, 2), (1, 16, 8, 13, 12, 3), (1, 1, 1, 4, 5, 4),
]


@pytest.mark.parametrize("r,m", [(2, 2), (3, 2), (4, 2), (2, 3), (2, 4)])
def test_the_matrices_give_the_correlation_exactly(r, m):
    """Aᵀ[(G·g) ⊙ (Bᵀ·d)] is y_i = Σ_j d_{i+j} g_j for every d and g: each of the m·α·r bilinear
    coefficients, in fractions; and the float64 matrices are those fractions rounded."""
    bt, g, at = winograd.exact_matrices(r, m)
    for rounded, fractions in zip(winograd.matrices(r, m), (bt, g, at)):
        np.testing.assert_array_equal(rounded, np.array(fractions, dtype=float))
    alpha = r + m - 1
    for i in range(m):
        for a in range(alpha):                       # the coefficient of d_a · g_j in y_i
            for j in range(r):
                coefficient = sum(at[i][xi] * g[xi][j] * bt[xi][a] for xi in range(alpha))
                assert coefficient == (1 if a == i + j else 0), (i, a, j)


def test_matrices_refuse_a_kernel_without_enough_points():
    with pytest.raises(ValueError, match="points"):
        winograd.matrices(5)


# float32: the tiles' round-off, a few times the direct sum's, grows with the channels (about 5e-6 at 256,
# a reviewer's random shapes up to 3.4e-6 for dW at 14 channels, k = 4).
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-13), (np.float32, 1e-5)])
@pytest.mark.parametrize("n,c,o,h,w,k", SHAPES)
def test_correlate_is_the_naive_convolution(n, c, o, h, w, k, dtype, tol):
    rng = np.random.default_rng(n + c + o + h + w + k)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    W = rng.standard_normal((o, c, k, k)).astype(dtype)
    b = rng.standard_normal(o).astype(dtype)
    alpha2, tiles = (k + 1) ** 2, winograd.tiles(h, w, k)
    u = winograd.transform_filters(W, np.empty((alpha2, o, c), dtype))
    y = np.full((n, o, h - k + 1, w - k + 1), np.nan, dtype)
    winograd.correlate(x, u, b, True, y, np.empty((alpha2, c, tiles), dtype), np.empty((alpha2, o, tiles), dtype))
    want = np.maximum(naive.conv2d_forward(x.astype(np.float64), W.astype(np.float64), b.astype(np.float64)), 0)
    assert np.abs(y - want).max() <= tol * np.abs(want).max()


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-13), (np.float32, 1e-5)])
@pytest.mark.parametrize("n,c,o,h,w,k", SHAPES)
def test_weight_gradient_is_the_naive_one(n, c, o, h, w, k, dtype, tol):
    rng = np.random.default_rng(n * c + o * h + w * k)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    dy = rng.standard_normal((n, o, h - k + 1, w - k + 1)).astype(dtype)
    alpha2, tiles = (k + 1) ** 2, winograd.tiles(h, w, k)
    dw = np.full((o, c, k, k), np.nan, dtype)
    winograd.weight_gradient(x, dy, dw, np.empty((alpha2, c, tiles), dtype), np.empty((alpha2, o, tiles), dtype),
                             np.empty((alpha2, o, c), dtype), np.empty((alpha2, o, c), dtype))
    want = naive.conv2d_backward(x.astype(np.float64), np.zeros((o, c, k, k)), dy.astype(np.float64))[1]
    assert np.abs(dw - want).max() <= tol * np.abs(want).max()


def test_weight_gradient_refuses_buffers_that_do_not_fit():
    x, dy = np.ones((2, 2, 6, 6)), np.ones((2, 3, 4, 4))
    v, d, sums = np.empty((16, 2, 4)), np.empty((16, 3, 4)), np.empty((16, 3, 2))
    dw = np.empty((3, 2, 3, 3))
    winograd.weight_gradient(x, dy, dw, v, d, sums, sums.copy())
    np.testing.assert_allclose(dw, 32)
    for args in [(x, dy, dw, np.empty((16, 2, 3)), d, sums, sums.copy()),        # too few tiles
                 (x, dy[:, :, 1:], dw, v, d, sums, sums.copy()),                  # dy not the outputs
                 (x, dy, dw, v, d, sums, np.empty((16, 2, 3))),                    # the term of another shape
                 (x, dy.astype(np.float32), dw, v, d, sums, sums.copy()),       # one dtype
                 (x, dy, np.empty((3, 2, 2, 2)), v, d, sums, sums.copy()),      # dW of another kernel
                 (x, dy[:1], dw, v, d, sums, sums.copy()),                        # fewer samples than x
                 (x, dy, np.empty((3, 3, 3, 2)).transpose(0, 3, 1, 2), v, d, sums, sums.copy())]:  # not contiguous
        with pytest.raises(ValueError, match=r"winograd\.(weight_gradient|add_weight_terms|weights_out): "):
            winograd.weight_gradient(*args)


def test_transform_filters_refuses_an_output_it_could_not_write():
    W = np.ones((4, 3, 3, 3))
    for out in (np.empty((16, 3, 4)), np.empty((16, 3, 4)).transpose(0, 2, 1), np.empty((16, 4, 3), np.float32)):
        with pytest.raises(ValueError, match="winograd.transform_filters"):   # another layout, a copy, a dtype
            winograd.transform_filters(W, out)


def test_turned_filters_are_those_of_the_turned_kernel():
    W = np.random.default_rng(0).standard_normal((3, 2, 4, 4))
    u = winograd.transform_filters(W, np.empty((25, 3, 2)), turned=True)
    np.testing.assert_allclose(u, winograd.transform_filters(W[:, :, ::-1, ::-1].copy(), np.empty((25, 3, 2))),
                               rtol=1e-14, atol=1e-14)


def test_correlate_refuses_buffers_that_do_not_fit():
    x, W = np.ones((1, 2, 6, 6)), np.ones((3, 2, 3, 3))
    u = winograd.transform_filters(W, np.empty((16, 3, 2)))
    y, v, p = np.empty((1, 3, 4, 4)), np.empty((16, 2, 4)), np.empty((16, 3, 4))
    winograd.correlate(x, u, np.zeros(3), False, y, v, p)
    np.testing.assert_allclose(y, 18)
    for args in [(x, u, np.zeros(3), False, y, np.empty((16, 2, 3)), p),              # too few tiles
                 (x, u, np.zeros(3), False, np.empty((1, 3, 5, 4)), v, p),           # y not the outputs
                 (x, u[:, :, :1], np.zeros(3), False, y, v, p),                      # filters of another C_in
                 (x, u, np.zeros(2), False, y, v, p),                                # a bias per channel
                 (x.astype(np.float32), u, np.zeros(3), False, y, v, p),             # one dtype
                 (x, u[:1], np.zeros(3), False, y, v, p)]:                           # 1 plane: no kernel
        with pytest.raises(ValueError, match="winograd.correlate"):
            winograd.correlate(*args)


def naive_layer(layer, x, dy):
    """y, dx, dW, db of a Conv2D (fused ReLU as the layer has it) by the naive loops in float64."""
    x, W, b = (a.astype(np.float64) for a in (x, layer.W, layer.b))
    y = naive.conv2d_forward(x, W, b)
    if layer.relu:
        y = np.maximum(y, 0)
        dy = dy * (y > 0)
    dx, dW, db = naive.conv2d_backward(x, W, dy.astype(np.float64))
    return y, dx, dW, db


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-13), (np.float32, 1e-5)])
@pytest.mark.parametrize("n,c,o,h,w,k", SHAPES)
def test_conv2d_on_winograds_tiles_is_the_naive_convolution(n, c, o, h, w, k, dtype, tol):
    rng = np.random.default_rng(h * w)
    layer = Conv2D(c, o, k, rng=1, dtype=dtype, relu=k != 3)
    layer.use_winograd = True
    layer.b[...] = rng.standard_normal(o) * 0.1
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    y = layer.forward(x).copy()
    assert layer.takes_winograd and not layer.reads_fields
    dy = rng.standard_normal(y.shape).astype(dtype)
    dx = layer.backward(dy).copy()
    for got, want in zip((y, dx, layer.dW, layer.db), naive_layer(layer, x, dy)):
        assert np.abs(got - want).max() <= tol * max(np.abs(want).max(), 1)


@pytest.mark.parametrize("k", winograd.KERNELS)
def test_conv2d_on_winograds_tiles_against_central_differences(k):
    layer = Conv2D(3, 4, k, rng=2, dtype=np.float64)
    layer.use_winograd = True
    errors = check_layer(layer, np.random.default_rng(k).standard_normal((2, 3, 7, 8)), tol=1e-7)
    assert layer.takes_winograd and set(errors) == {"x", "W", "b"}


def test_a_network_steps_the_same_on_winograds_tiles_and_on_phi():
    """Two SGD steps of a net whose middle layers take the tiles, against the same net on φ: the same
    weights to float64 round-off (the sums run in another order)."""
    rng = np.random.default_rng(3)
    x, target = rng.standard_normal((2, 2, 12, 12)), rng.standard_normal((2, 3, 6, 6))
    weights = []
    for forced in (True, False):
        net = Network([Conv2D(2, 6, 3, rng=4, dtype=np.float64), ReLU(), Conv2D(6, 5, 4, rng=5, dtype=np.float64),
                       ReLU(), Conv2D(5, 3, 2, rng=6, dtype=np.float64)])
        for layer in net.layers:
            if isinstance(layer, Conv2D):
                layer.use_winograd = forced
        for _ in range(2):
            y = net.forward(x)
            net.backward(y - target)
            for _, value, grad in net.parameters():
                value -= 0.01 * grad
        assert all(layer.takes_winograd == forced for layer in net.layers if isinstance(layer, Conv2D))
        weights.append([value.copy() for _, value, _ in net.parameters()])
    for ours, theirs in zip(*weights):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("k,c_in,c_out,forced,takes", [
    (3, 512, 512, None, True), (4, 128, 512, None, True), (2, 128, 128, None, True),
    (3, 127, 512, None, False), (3, 512, 32, None, False),          # one side narrower than WINOGRAD_WIDTH
    (1, 512, 512, None, False), (5, 512, 512, None, False), (11, 512, 512, None, False),  # no matrices for k
    (3, 512, 512, False, False), (3, 8, 8, True, True), (5, 8, 8, True, False),
])
def test_the_rule_takes_the_tiles_for_the_kernels_it_has_matrices_for_and_wide_layers(k, c_in, c_out, forced,
                                                                                      takes):
    """The widths against WINOGRAD_WIDTH (128, chosen by measurement: benchmarks/RESULTS.md)."""
    layer = Conv2D(c_in, c_out, k, rng=0)
    layer.use_winograd = forced
    assert layer._takes_winograd() == takes
