import numpy as np
import pytest

from vcnn import Conv2D, FullConv2D, ReLU, check_layer, im2col_gemm, naive

# (n, c_in, c_out, k, h, w): every kernel size of the paper, odd sizes included.
CONV_CASES = [(2, 1, 3, 1, 5, 7), (1, 2, 4, 3, 7, 6), (3, 3, 2, 4, 9, 8), (2, 2, 3, 8, 11, 9), (1, 1, 2, 11, 13, 12)]
FULL_CASES = [(2, 3, 1, 8, 3, 4), (1, 2, 2, 3, 5, 5), (3, 1, 2, 1, 4, 3), (1, 4, 1, 4, 2, 6), (2, 2, 1, 11, 2, 2),
              (2, 9, 1, 2, 3, 3)]   # the last: dW (4, 9), wider than tall (the others: taller)


def random(shape, seed, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("n,c_in,c_out,k,h,w", CONV_CASES)
@pytest.mark.parametrize("dtype,tol", [(np.float32, 1e-4), (np.float64, 1e-12)])
def test_conv_matches_naive(n, c_in, c_out, k, h, w, dtype, tol):
    layer = Conv2D(c_in, c_out, k, rng=0, dtype=dtype)
    layer.b[:] = random(c_out, 1, dtype)
    x = random((n, c_in, h, w), 2, dtype)
    y = layer.forward(x)
    np.testing.assert_allclose(y, naive.conv2d_forward(x, layer.W, layer.b), rtol=tol, atol=tol)
    dy = random(y.shape, 3, dtype)
    dx, dW, db = naive.conv2d_backward(x, layer.W, dy)
    np.testing.assert_allclose(layer.backward(dy), dx, rtol=tol, atol=tol)
    np.testing.assert_allclose(layer.dW, dW, rtol=tol, atol=tol * 10)
    np.testing.assert_allclose(layer.db, db, rtol=tol, atol=tol * 10)


@pytest.mark.parametrize("n,c_in,c_out,k,h,w", CONV_CASES)
@pytest.mark.parametrize("dtype,tol", [(np.float32, 1e-5), (np.float64, 1e-12)])
def test_conv_matches_the_plain_im2col_gemm(n, c_in, c_out, k, h, w, dtype, tol):
    """The layer is the rung below it with buffers and fused passes: same y, dx, dW, db,
    twice in a row (the second step runs in the buffers the first one kept)."""
    layer = Conv2D(c_in, c_out, k, rng=0, dtype=dtype)
    layer.b[:] = random(c_out, 1, dtype)
    for seed in (2, 4):
        x = random((n, c_in, h, w), seed, dtype)
        y = layer.forward(x)
        np.testing.assert_allclose(y, im2col_gemm.conv2d_forward(x, layer.W, layer.b), rtol=tol, atol=tol)
        dy = random(y.shape, seed + 1, dtype)
        expected = im2col_gemm.conv2d_backward(x, layer.W, dy)
        for got, want in zip([layer.backward(dy), layer.dW, layer.db], expected):
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol * 10)


@pytest.mark.parametrize("n,c_in,c_out,k,h,w", FULL_CASES)
@pytest.mark.parametrize("dtype,tol", [(np.float32, 1e-4), (np.float64, 1e-12)])
def test_full_conv_matches_naive(n, c_in, c_out, k, h, w, dtype, tol):
    layer = FullConv2D(c_in, c_out, k, rng=0, dtype=dtype)
    layer.b[:] = random(layer.b.shape, 1, dtype)
    x = random((n, c_in, h, w), 2, dtype)
    y = layer.forward(x)
    assert y.shape == (n, c_out, h + k - 1, w + k - 1)
    np.testing.assert_allclose(y, naive.full_conv2d_forward(x, layer.W, layer.b, k), rtol=tol, atol=tol)
    dy = random(y.shape, 3, dtype)
    dx, dW, db = naive.full_conv2d_backward(x, layer.W, k, dy)
    np.testing.assert_allclose(layer.backward(dy), dx, rtol=tol, atol=tol)
    np.testing.assert_allclose(layer.dW, dW, rtol=tol, atol=tol)
    np.testing.assert_allclose(layer.db, db, rtol=tol, atol=tol)


def test_mapping_layer_is_a_mean_of_patches():
    """With W = 0 every prediction is the bias, so the mean of patches is the bias image."""
    layer = FullConv2D(2, 1, 3, dtype=np.float64)
    layer.W[:] = 0
    layer.b[:] = np.arange(9)
    y = layer.forward(np.ones((1, 2, 4, 4)))
    assert y.shape == (1, 1, 6, 6)
    assert y[0, 0, 0, 0] == 0 and y[0, 0, 0, 5] == 2 and y[0, 0, 5, 5] == 8


@pytest.mark.parametrize("n,c_in,c_out,k,h,w", CONV_CASES)
def test_conv_gradients(n, c_in, c_out, k, h, w):
    check_layer(Conv2D(c_in, c_out, k, rng=0, dtype=np.float64), random((n, c_in, h, w), 1))


@pytest.mark.parametrize("n,c_in,c_out,k,h,w", FULL_CASES)
def test_full_conv_gradients(n, c_in, c_out, k, h, w):
    layer = FullConv2D(c_in, c_out, k, rng=0, dtype=np.float64)
    layer.b[:] = random(layer.b.shape, 5)
    check_layer(layer, random((n, c_in, h, w), 1))


def test_relu_gradients_away_from_the_kink():
    x = random((2, 3, 5, 4), 0)
    x += np.where(x >= 0, 0.1, -0.1)       # keep every entry further than eps from 0
    check_layer(ReLU(), x)


def test_relu_forward():
    x = np.array([-1.0, 0.0, 2.0], np.float32).reshape(1, 1, 1, 3)
    np.testing.assert_array_equal(ReLU().forward(x).ravel(), [0, 0, 2])


def test_layer_rejects_wrong_channels_and_dtype():
    layer = Conv2D(3, 2, 3)
    with pytest.raises(ValueError, match="must have 3 channels, got shape"):
        layer.forward(np.zeros((1, 2, 5, 5), np.float32))
    with pytest.raises(ValueError, match="must be float32 like the layer's weights, got float64"):
        layer.forward(np.zeros((1, 3, 5, 5)))
    with pytest.raises(ValueError, match="k=3 is larger than the 2x2 image"):
        layer.forward(np.zeros((1, 3, 2, 2), np.float32))
    with pytest.raises(RuntimeError, match="forward first"):
        Conv2D(1, 1, 1).backward(np.zeros((1, 1, 2, 2), np.float32))


@pytest.mark.parametrize("layer", [Conv2D(2, 3, 3, rng=0, dtype=np.float64),
                                   FullConv2D(2, 1, 3, rng=0, dtype=np.float64)], ids=["conv", "full_conv"])
def test_backward_without_dx_gives_the_same_gradients(layer):
    x = random((2, 2, 6, 5), 1)
    dy = random(layer.forward(x).shape, 2)
    layer.backward(dy)
    expected = [grad.copy() for _, _, grad in layer.parameters()]
    layer.forward(x)
    assert layer.backward(dy, need_dx=False) is None
    for (name, _, grad), want in zip(layer.parameters(), expected):
        np.testing.assert_array_equal(grad, want, err_msg=name)
    assert ReLU().backward(dy, need_dx=False) is None


def test_kept_buffers_follow_the_batch_size():
    """Batches of 3, then 1, then 3 again: each step matches the naive loops (the memory kept
    from a larger batch serves a smaller one, and grows for a larger one)."""
    conv, relu, full = Conv2D(2, 3, 3, rng=0), ReLU(), FullConv2D(3, 1, 2, rng=1)
    for n, seed in ((3, 0), (1, 1), (3, 2)):
        x = random((n, 2, 7, 6), seed, np.float32)
        h = conv.forward(x)
        np.testing.assert_allclose(h, naive.conv2d_forward(x, conv.W, conv.b), rtol=1e-4, atol=1e-5)
        a = relu.forward(h)
        y = full.forward(a)
        np.testing.assert_allclose(y, naive.full_conv2d_forward(a, full.W, full.b, 2), rtol=1e-4, atol=1e-5)
        dy = random(y.shape, seed + 10, np.float32)
        da, dW2, db2 = naive.full_conv2d_backward(a, full.W, 2, dy)
        np.testing.assert_allclose(full.backward(dy), da, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(full.dW, dW2, rtol=1e-4, atol=1e-4)
        dh = relu.backward(da)
        np.testing.assert_array_equal(dh, da * (a > 0))
        dx, dW, db = naive.conv2d_backward(x, conv.W, dh)
        np.testing.assert_allclose(conv.backward(dh), dx, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(conv.dW, dW, rtol=1e-4, atol=1e-4)


def test_the_mapping_layer_output_is_fresh_and_inner_outputs_are_kept():
    """The network's output (the mapping layer's) survives the next forward; a conv's does not."""
    full, conv = FullConv2D(1, 1, 2, rng=0), Conv2D(1, 1, 2, rng=0)
    x1, x2 = random((1, 1, 3, 3), 0, np.float32), random((1, 1, 3, 3), 1, np.float32)
    y1 = full.forward(x1)
    kept = y1.copy()
    full.forward(x2)
    np.testing.assert_array_equal(y1, kept)
    assert conv.forward(x1) is not None and np.shares_memory(conv.forward(x1), conv.forward(x2))


@pytest.mark.parametrize("n,c_in,c_out,k,h,w", CONV_CASES[1:4])
def test_conv_with_fused_relu_matches_naive(n, c_in, c_out, k, h, w):
    """relu=True: y = max(naive conv, 0); backward masks dy by [y > 0] before the conv's gradients."""
    layer = Conv2D(c_in, c_out, k, rng=0, dtype=np.float64, relu=True)
    layer.b[:] = random(c_out, 1)
    x = random((n, c_in, h, w), 2)
    y = layer.forward(x)
    h_naive = naive.conv2d_forward(x, layer.W, layer.b)
    np.testing.assert_allclose(y, np.maximum(h_naive, 0), rtol=1e-12, atol=1e-12)
    dy = random(y.shape, 3)
    dx, dW, db = naive.conv2d_backward(x, layer.W, dy * (h_naive > 0))
    np.testing.assert_allclose(layer.backward(dy), dx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.dW, dW, rtol=1e-12, atol=1e-11)
    np.testing.assert_allclose(layer.db, db, rtol=1e-12, atol=1e-11)


def test_conv_with_fused_relu_gradients():
    layer = Conv2D(2, 3, 3, rng=0, dtype=np.float64, relu=True)
    layer.b[:] = [0.3, -0.2, 0.1]               # some outputs on each side of the kink
    check_layer(layer, random((2, 2, 6, 5), 1))


def assert_two_steps_match_the_naive_loops(layer, shape, relu):
    """y, dx, dW and db of the naive loops, for two batches of ``shape`` in a row (the second in kept buffers)."""
    for seed in (2, 4):
        x = random(shape, seed)
        z = naive.conv2d_forward(x, layer.W, layer.b)
        np.testing.assert_allclose(layer.forward(x), np.maximum(z, 0) if relu else z, rtol=1e-12, atol=1e-12)
        dy = random(z.shape, seed + 1)
        dx, dW, db = naive.conv2d_backward(x, layer.W, dy * (z > 0) if relu else dy)
        np.testing.assert_allclose(layer.backward(dy), dx, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(layer.dW, dW, rtol=1e-12, atol=1e-11)
        np.testing.assert_allclose(layer.db, db, rtol=1e-12, atol=1e-11)


@pytest.mark.parametrize("block", [1, 2, 3])
@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("k", [1, 3])
def test_conv_gives_the_same_numbers_for_every_block_of_samples(block, relu, k):
    """The GEMMs taken one sample, two samples (the last block short) or the whole batch at a time:
    the naive loops' y, dx, dW, db each time, twice in a row (the second step in kept buffers)."""
    layer = Conv2D(2, 3, k, rng=0, dtype=np.float64, relu=relu)
    layer.samples_per_block = block
    layer.b[:] = random(3, 1)
    assert_two_steps_match_the_naive_loops(layer, (3, 2, 7, 6), relu)


@pytest.mark.parametrize("block", [1, 2, 3])
@pytest.mark.parametrize("c_in,c_out,k", [(2, 2, 3), (9, 1, 2)])     # dW (18, 2) taller, (4, 9) wider
def test_full_conv_gives_the_same_numbers_for_every_block_of_samples(block, c_in, c_out, k):
    layer = FullConv2D(c_in, c_out, k, rng=0, dtype=np.float64)
    layer.samples_per_block = block
    layer.b[:] = random(layer.b.shape, 1)
    for seed in (2, 4):
        x = random((3, c_in, 4, 5), seed)
        np.testing.assert_allclose(layer.forward(x), naive.full_conv2d_forward(x, layer.W, layer.b, k),
                                   rtol=1e-12, atol=1e-12)
        dy = random(layer.out_shape, seed + 1)
        dx, dW, db = naive.full_conv2d_backward(x, layer.W, k, dy)
        np.testing.assert_allclose(layer.backward(dy), dx, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(layer.dW, dW, rtol=1e-12, atol=1e-11)
        np.testing.assert_allclose(layer.db, db, rtol=1e-12, atol=1e-11)


@pytest.mark.parametrize("block", [1, 3])
def test_gradients_with_one_sample_and_the_whole_batch_per_block(block):
    conv = Conv2D(2, 3, 3, rng=0, dtype=np.float64, relu=True)
    conv.b[:] = [0.3, -0.2, 0.1]
    full = FullConv2D(2, 1, 3, rng=1, dtype=np.float64)
    full.b[:] = random(full.b.shape, 5)
    for layer in (conv, full):
        layer.samples_per_block = block
    check_layer(conv, random((3, 2, 6, 5), 1))
    check_layer(full, random((3, 2, 4, 3), 2))


def test_the_default_block_is_one_sample_with_the_engines_gemm_or_one_blas_thread_and_the_batch_otherwise(
        monkeypatch):
    import vcnn.layers
    from vcnn.layers import _blocks
    layer = Conv2D(1, 1, 1)
    monkeypatch.setattr(vcnn.layers, "OWN_GEMM", False)
    monkeypatch.setattr(vcnn.layers, "blas_threads", lambda: 1)
    assert _blocks(layer, 3) == [(0, 1), (1, 2), (2, 3)]
    monkeypatch.setattr(vcnn.layers, "blas_threads", lambda: 2)
    assert _blocks(layer, 3) == [(0, 3)]
    monkeypatch.setattr(vcnn.layers, "OWN_GEMM", True)               # the tile: per sample, whatever BLAS's threads
    assert _blocks(layer, 3) == [(0, 1), (1, 2), (2, 3)]
    layer.samples_per_block = 2
    assert _blocks(layer, 3) == [(0, 2), (2, 3)]


def row_bytes(layer, w):
    """Bytes of one output row of one sample's φ for ``layer`` on maps of width ``w``."""
    return layer.c_in * layer.k ** 2 * (w - layer.k + 1) * layer.W.itemsize


# (n, c_in, k, h, w, rows per strip): heights that do not divide Ho (7 rows at most 3 per strip: 2, 2, 3),
# strips of one row, batch 1, and a 1x1 layer (never cut: its φ is X itself).
STRIP_LAYER_CASES = [(3, 2, 3, 9, 6, 3), (1, 2, 4, 10, 7, 1), (1, 1, 3, 8, 8, 2), (2, 2, 1, 6, 5, 1),
                     (1, 3, 4, 12, 9, 4)]


@pytest.mark.parametrize("n,c_in,k,h,w,rows", STRIP_LAYER_CASES)
@pytest.mark.parametrize("relu", [False, True])
def test_conv_forward_in_strips_of_output_rows_gives_the_naive_loops_numbers(n, c_in, k, h, w, rows, relu):
    """One sample per block, its forward cut in strips of at most ``rows`` output rows: y, dx, dW and
    db of the naive loops, twice in a row (the second step in kept buffers)."""
    from vcnn.layers import _strips
    layer = Conv2D(c_in, 3, k, rng=0, dtype=np.float64, relu=relu)
    layer.samples_per_block = 1
    layer.strip_bytes = rows * row_bytes(layer, w)
    layer.b[:] = random(3, 1)
    assert len(_strips(layer, (n, c_in, h, w), 0, 1)) == (1 if k == 1 else -(-(h - k + 1) // rows))
    assert_two_steps_match_the_naive_loops(layer, (n, c_in, h, w), relu)


def test_conv_gradients_with_forward_in_strips():
    layer = Conv2D(2, 3, 3, rng=0, dtype=np.float64, relu=True)
    layer.b[:] = [0.3, -0.2, 0.1]
    layer.samples_per_block = 1
    layer.strip_bytes = 2 * row_bytes(layer, 6)             # 5 output rows, at most 2 per strip: 3 strips
    check_layer(layer, random((2, 2, 7, 6), 1))


@pytest.mark.parametrize("k", [3, 4])
def test_strips_change_float32_results_by_round_off_at_most(k):
    """float32, strips of one row against none: y, and so dx, dW, db, to float32 round-off (BLAS may
    sum a narrower product in another order)."""
    whole, cut = (Conv2D(3, 4, k, rng=0, dtype=np.float32, relu=True) for _ in range(2))
    for layer in (whole, cut):
        layer.samples_per_block = 1
    whole.strip_bytes = 1 << 40
    cut.strip_bytes = 1
    x = random((2, 3, 11, 10), 1, np.float32)
    from vcnn.layers import _strips
    assert len(_strips(cut, x.shape, 0, 1)) == 12 - k and len(_strips(whole, x.shape, 0, 1)) == 1
    np.testing.assert_allclose(cut.forward(x), whole.forward(x), rtol=1e-5, atol=1e-6)
    dy = random(whole.y.shape, 2, np.float32)
    np.testing.assert_allclose(cut.backward(dy), whole.backward(dy), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(cut.db, whole.db, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(cut.dW, whole.dW, rtol=1e-5, atol=1e-5)


def test_the_strip_rule():
    """Strips tile the output rows in order, as few as keep each φ within the budget, of equal heights
    (±1), at least one row each; one strip for a block of several samples, a 1x1 layer, a φ that fits."""
    from vcnn._threads import l2_cache_bytes
    from vcnn.layers import _strips
    layer = Conv2D(2, 3, 4)
    one_row = row_bytes(layer, 20)                         # maps of 23×20: Ho = 20, Wo = 17
    for budget_rows, count in [(20, 1), (100, 1), (19, 2), (10, 2), (7, 3), (3, 7), (1, 20)]:
        layer.strip_bytes = budget_rows * one_row
        strips = _strips(layer, (4, 2, 23, 20), 2, 3)
        assert len(strips) == count
        assert [oh0 for oh0, _ in strips] + [20] == [0] + [oh1 for _, oh1 in strips]
        heights = [oh1 - oh0 for oh0, oh1 in strips]
        assert max(heights) <= budget_rows and max(heights) - min(heights) <= 1
    layer.strip_bytes = one_row // 2                       # less than one row: strips of one row
    assert len(_strips(layer, (4, 2, 23, 20), 0, 1)) == 20
    assert _strips(layer, (4, 2, 23, 20), 0, 2) == [(0, 20)]                     # two samples: never cut
    assert _strips(Conv2D(2, 3, 1), (1, 2, 23, 20), 0, 1) == [(0, 23)]           # 1x1: never cut
    layer.strip_bytes = None
    assert 0 < l2_cache_bytes() and _strips(layer, (1, 2, 23, 20), 0, 1) == [(0, 20)]  # 14 KB of φ: fits


def test_the_default_strip_keeps_phi_and_w_in_half_the_l2_cache_and_leaves_large_w_whole(monkeypatch):
    import vcnn.layers
    from vcnn.layers import _strips
    monkeypatch.setattr(vcnn.layers, "l2_cache_bytes", lambda: 1 << 20)
    thin = Conv2D(32, 32, 4)                               # W 64 KB: strips of φ ≤ 512 KB - 64 KB
    strips = _strips(thin, (1, 32, 54, 54), 0, 1)          # φ 5.3 MB, 104 KB a row: 4 rows a strip
    assert len(strips) == 13 and max(oh1 - oh0 for oh0, oh1 in strips) * row_bytes(thin, 54) <= (448 << 10)
    middling = Conv2D(128, 80, 3)                          # W 360 KB, between a quarter and half of L2
    assert _strips(middling, (1, 128, 20, 20), 0, 1) == [(0, 18)]
    wide = Conv2D(256, 64, 3)                              # W 576 KB > 256 KB: never cut by default
    assert _strips(wide, (1, 256, 20, 20), 0, 1) == [(0, 18)]
    wide.strip_bytes = 4 * row_bytes(wide, 20)             # unless told
    assert len(_strips(wide, (1, 256, 20, 20), 0, 1)) == 5


@pytest.mark.parametrize("variant", ["jit", "python"])
@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bias_in_place_is_the_bias_pass_of_one_sample(variant, relu, dtype):
    """kernels.bias_in_place (one sample, in place, vectorised) gives bias_to_nchw's numbers bit for bit,
    compiled and as the plain Python loop (``py_func``: what NUMBA_DISABLE_JIT=1 runs)."""
    import kernels
    rows, b = random((3, 7), 1, dtype), random(3, 2, dtype)
    expected = np.empty((1, 3, 7), dtype)
    kernels.bias_to_nchw(rows, b, expected, relu)
    fn = kernels.bias_in_place
    fn = fn if variant == "jit" else getattr(fn, "py_func", fn)          # under NUMBA_DISABLE_JIT, fn is the loop
    fn(rows, b, relu)
    np.testing.assert_array_equal(rows, expected[0])
    assert (rows == 0).any() == relu                       # the ReLU cut some, or none without it
