"""A convolution whose φ is never written: kernels.gemm_rows reading φ's rows in the image (and in the
zero-padded dy), the passes around it (kernels.fields), and Conv2D on that path, against the naive loops
in float64 and against the φ path."""
import numba
import numpy as np
import pytest

import kernels
import vcnn.layers
from vcnn import Conv2D, Network, ReLU, naive
from vcnn.layers import _field_offsets, _steps, _wide_width

machine_code = pytest.mark.skipif(numba.config.DISABLE_JIT, reason="the tile is machine code: no plain-Python form")


def planes(wide, width, shape):
    """The (C, Ho, Wo) output positions of a wide (C, T) matrix, by numpy."""
    c, ho, wo = shape
    return np.stack([wide[:, oh * width:oh * width + wo] for oh in range(ho)], axis=1)


@machine_code
@pytest.mark.parametrize("m,k,n", [(8, 5, 48), (9, 3, 47), (33, 17, 65), (5, 6, 48), (32, 288, 833), (1, 1, 1)])
def test_gemm_rows_with_the_rows_of_matrices_is_sgemm_bit_for_bit(m, k, n):
    rng = np.random.default_rng(m * k + n)
    a, b = rng.standard_normal((m, k)).astype(np.float32), rng.standard_normal((k, n)).astype(np.float32)
    c, want = np.empty((m, n), np.float32), np.empty((m, n), np.float32)
    kernels.gemm_rows(a, _steps(m, 4 * k), 4, b, _steps(k, 4 * n), c)
    kernels.sgemm(a, b, want)
    np.testing.assert_array_equal(c, want)
    np.testing.assert_allclose(c, a.astype(np.float64) @ b, rtol=1e-5, atol=1e-5 * max(1, k))


@machine_code
@pytest.mark.parametrize("c,h,w,k,c_out", [(32, 17, 15, 4, 32), (8, 9, 9, 3, 16), (1, 20, 23, 11, 8),
                                           (3, 5, 6, 2, 13), (16, 8, 40, 3, 24)])
def test_gemm_rows_reading_fields_in_an_image_is_the_convolution(c, h, w, k, c_out):
    """B's row (c, i, j) read at x[c, i, j] onwards: the output positions of W · φ'(x) are the valid
    cross-correlation; every edge of the tile (row and column tails) among these shapes."""
    rng = np.random.default_rng(c + h + k)
    x = rng.standard_normal((c, h, w)).astype(np.float32)
    W = rng.standard_normal((c_out, c, k, k)).astype(np.float32)
    ho, wo = h - k + 1, w - k + 1
    wide = np.full((c_out, (ho - 1) * w + wo), np.nan, np.float32)
    kernels.gemm_rows(W.reshape(-1), _steps(c_out, 4 * c * k * k), 4, x.reshape(-1), _field_offsets(c, h, w, k), wide)
    want = naive.conv2d_forward(x[None].astype(np.float64), W.astype(np.float64), np.zeros(c_out))[0]
    np.testing.assert_allclose(planes(wide, w, (c_out, ho, wo)), want, rtol=1e-5, atol=1e-5 * c * k * k)


@machine_code
def test_gemm_rows_refuses_rows_outside_its_arrays():
    a, b, c = np.ones((8, 4), np.float32), np.ones((4, 16), np.float32), np.empty((8, 16), np.float32)
    rows_a, rows_b = _steps(8, 16), _steps(4, 64)
    kernels.gemm_rows(a, rows_a, 4, b, rows_b, c)
    np.testing.assert_array_equal(c, 4)
    for args, message in [((a, rows_a + 4, 4, b, rows_b, c), "row of A"),       # the last row's end is past a
                          ((a, rows_a, 8, b, rows_b, c), "row of A"),
                          ((a, rows_a - 4, 4, b, rows_b, c), "row of A"),
                          ((a, rows_a, 4, b, rows_b + 4, c), "row of B"),
                          ((a, rows_a, 4, b, rows_b, np.empty((8, 17), np.float32)), "row of B"),
                          ((a, rows_a[:7], 4, b, rows_b, c), "one offset per row"),
                          ((a.T.copy().T, rows_a, 4, b, rows_b, c), "C-contiguous"),
                          ((a, rows_a, 1 << 62, b, rows_b, c), "row of A"),        # (K - 1)·a_step would overflow
                          ((a, rows_a, 2, b, rows_b, c), "whole floats"),
                          ((a, rows_a, 4, b, rows_b + np.int64(2 ** 63 - 64), c), "row of B"),   # offset + 4N overflows
                          ((a, rows_a, 4, b, rows_b + 2, np.empty((8, 15), np.float32)), "whole number of floats")]:
        with pytest.raises(ValueError, match=message):
            kernels.gemm_rows(*args)
    spaced = np.repeat(rows_b, 2)                                  # the offsets as a strided view: refused
    with pytest.raises(numba.core.errors.TypingError):
        kernels.gemm_rows(a, rows_a, 4, b, spaced[::2], c)


@pytest.mark.parametrize("relu", [False, True])
def test_wide_to_planes_keeps_the_output_positions_and_adds_the_bias(relu):
    rng = np.random.default_rng(1)
    wide, b = rng.standard_normal((3, 5 * 9 + 6)).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    out = np.empty((3, 6, 6), np.float32)
    kernels.wide_to_planes(wide, 9, out, b, relu)
    want = planes(wide, 9, (3, 6, 6)) + b[:, None, None]
    np.testing.assert_array_equal(out, np.maximum(want, 0) if relu else want)
    kernels.wide_to_planes(wide, 9, out)
    np.testing.assert_array_equal(out, planes(wide, 9, (3, 6, 6)))


def test_rows_to_fields_pads_and_transposes():
    rng = np.random.default_rng(2)
    k, (c, ho, wo) = 3, (4, 5, 7)
    w = wo + k - 1
    dy = rng.standard_normal((c, ho, wo)).astype(np.float32)
    padded = np.full((c, ho + 2 * k - 2, w + k - 1), np.nan, np.float32)      # stale values must go
    dyt = np.full(((ho - 1) * w + wo, c), np.nan, np.float32)
    kernels.rows_to_fields(dy.reshape(c, -1), wo, k, padded, dyt)
    np.testing.assert_array_equal(padded, np.pad(dy, ((0, 0), (k - 1, k - 1), (k - 1, k - 1))))
    full = np.zeros((ho * w, c), np.float32)
    full.reshape(ho, w, c)[:, :wo] = dy.transpose(1, 2, 0)
    np.testing.assert_array_equal(dyt, full[:dyt.shape[0]])


def own_gemm(monkeypatch):
    monkeypatch.setattr(vcnn.layers, "OWN_GEMM", True)          # as on a CPU with 512-bit vectors


@machine_code
@pytest.mark.parametrize("c_in,c_out,k,relu,need_dx", [(32, 32, 4, True, True), (8, 16, 3, False, True),
                                                       (16, 8, 5, True, True), (3, 8, 2, True, True),
                                                       (1, 8, 5, True, False), (12, 20, 3, True, False),
                                                       (16, 8, 1, True, True)])
def test_conv2d_reading_fields_matches_the_naive_loops_and_the_phi_path(c_in, c_out, k, relu, need_dx, monkeypatch):
    """One BLAS thread and a sample within the L2 cache: forward and backward read φ's rows in place
    (no im2col at all), and give the naive loops' y, dx, dW, db in float64 to float32 round-off, and
    the φ path's. With fewer than 8 input channels dX goes through Wᵀ·dY and φᵀ."""
    own_gemm(monkeypatch)
    rng = np.random.default_rng(c_in * k)
    x = rng.standard_normal((3, c_in, 11, 13)).astype(np.float32)
    results, real_im2col = {}, kernels.im2col
    for fields in (True, False):
        layer = Conv2D(c_in, c_out, k, rng=3, relu=relu)
        layer.b[:] = rng.standard_normal(c_out).astype(np.float32) * 0.3 if fields else results[True][-1]
        if not fields:
            monkeypatch.setattr(Conv2D, "_reads_fields", lambda self, x: False)
        phis = []
        monkeypatch.setattr(kernels, "im2col", lambda *a: (phis.append(1), real_im2col(*a)))
        y = layer.forward(x).copy()
        dy = np.random.default_rng(5).standard_normal(y.shape).astype(np.float32)
        dx = layer.backward(dy, need_dx=need_dx)
        results[fields] = (layer.reads_fields, bool(phis), y, None if dx is None else dx.copy(), layer.dW.copy(),
                           layer.db.copy(), layer.b.copy())
    assert results[True][:2] == (True, False), "the layer did not read φ's rows in place, or it wrote φ"
    assert results[False][:2] == (False, k > 1)                               # a 1×1 layer's φ is X itself
    for got, want in zip(results[True][2:6], results[False][2:6]):
        if want is not None:
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    y, dx, dW, db = results[True][2:6]
    x64, dy64, W64, b64 = (v.astype(np.float64) for v in (x, dy, layer.W, layer.b))
    z = naive.conv2d_forward(x64, W64, b64)
    np.testing.assert_allclose(y, np.maximum(z, 0) if relu else z, rtol=1e-4, atol=1e-4)
    want_dx, want_dW, want_db = naive.conv2d_backward(x64, W64, dy64 * (z > 0) if relu else dy64)
    for got, want in ((dW, want_dW), (db, want_db)) + (((dx, want_dx),) if need_dx else ()):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    assert dx is None or need_dx


@machine_code
def test_a_network_step_reading_fields_is_the_phi_paths_step(monkeypatch):
    """Two SGD-like steps of a small net (its layers share their scratch buffers) on both paths: the
    same outputs and gradients to float32 round-off."""
    own_gemm(monkeypatch)
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 1, 20, 20)).astype(np.float32)
    runs = {}
    for fields in (True, False):
        if not fields:
            monkeypatch.setattr(Conv2D, "_reads_fields", lambda self, x: False)
        net = Network([Conv2D(1, 16, 5, rng=0), ReLU(), Conv2D(16, 16, 4, rng=1), ReLU(),
                       Conv2D(16, 8, 3, rng=2), ReLU(), Conv2D(8, 2, 1, rng=3)])
        out = []
        for _ in range(2):
            y = net.forward(x)
            dx = net.backward(y - 0.5, need_dx=True)
            out += [y.copy(), dx.copy()] + [g.copy() for _, _, g in net.parameters()]
            for _, value, grad in net.parameters():
                value -= 1e-4 * grad
        runs[fields] = (out, [layer.reads_fields for layer in net.steps])
    assert runs[True][1] == [True] * 4 and runs[False][1] == [False] * 4
    for got, want in zip(runs[True][0], runs[False][0]):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 * np.abs(want).max())


def test_which_batches_read_fields(monkeypatch):
    """The rule: float32, blocks of one sample with the engine's GEMM (whatever BLAS's threads), a
    sample's x and padded dy within the L2 cache, dW no taller than wide."""
    own_gemm(monkeypatch)
    monkeypatch.setattr(vcnn.layers, "l2_cache_bytes", lambda: 1 << 21)
    x = np.zeros((2, 8, 12, 12), np.float32)
    layer = Conv2D(8, 16, 3, rng=0)
    assert layer._reads_fields(x)
    assert not layer._reads_fields(x.astype(np.float64))
    assert Conv2D(8, 8, 1, rng=0)._reads_fields(x)                            # 1×1: φ's rows are X's planes
    assert not Conv2D(8, 16, 1, rng=0)._reads_fields(x)                       # dW taller than wide
    assert not Conv2D(8, 80, 3, rng=0)._reads_fields(x)                       # dW taller than wide
    assert not layer._reads_fields(np.zeros((2, 8, 200, 200), np.float32))    # 1.3 MB of x, 1.3 MB of dy: no
    monkeypatch.setattr(vcnn.layers, "l2_cache_bytes", lambda: 9000)           # x's sample is 4.6 KB, dy's 12.5
    assert not layer._reads_fields(x)
    monkeypatch.setattr(vcnn.layers, "l2_cache_bytes", lambda: 1 << 21)
    layer.samples_per_block = 2
    assert not layer._reads_fields(x)
    layer.samples_per_block = None
    monkeypatch.setattr(vcnn.layers, "blas_threads", lambda: 2)
    assert layer._reads_fields(x)                                             # the samples run in Numba's threads
    monkeypatch.setattr(vcnn.layers, "OWN_GEMM", False)
    assert not layer._reads_fields(x)


@machine_code
def test_conv2d_reading_fields_passes_central_differences(monkeypatch):
    """The gradients of the path that reads φ's rows in place against central differences of its own
    forward, in float32 (the layer is linear in W, b and x without a ReLU, so the differences are exact
    but for float32 round-off: eps = 1e-2, the loss summed in float64)."""
    own_gemm(monkeypatch)
    rng = np.random.default_rng(9)
    layer = Conv2D(8, 16, 3, rng=4)
    layer.b[:] = rng.standard_normal(16).astype(np.float32)
    x = rng.standard_normal((2, 8, 9, 10)).astype(np.float32)
    r = rng.standard_normal((2, 16, 7, 8))

    def loss():
        return float(np.sum(layer.forward(x).astype(np.float64) * r))

    loss()
    assert layer.reads_fields
    dx = layer.backward(r.astype(np.float32)).copy()
    for array, gradient in ((layer.W, layer.dW.copy()), (layer.b, layer.db.copy()), (x, dx)):
        flat, picks = array.reshape(-1), rng.choice(array.size, size=min(array.size, 25), replace=False)
        for i in picks:
            old = flat[i]
            flat[i] = old + np.float32(1e-2)
            plus = loss()
            flat[i] = old - np.float32(1e-2)
            minus = loss()
            flat[i] = old
            numeric = (plus - minus) / (float(old + np.float32(1e-2)) - float(old - np.float32(1e-2)))
            assert abs(numeric - gradient.reshape(-1)[i]) <= 1e-3 * max(1.0, abs(numeric)), (array.shape, i)


@machine_code
def test_the_numbers_do_not_depend_on_numbas_threads(monkeypatch):
    """The samples run in Numba's threads, each in buffers of its own, and the sums over samples in sample
    order: y, dx, dW and db on two threads are those on one, bit for bit (batch 5: uneven shares)."""
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("one thread only")
    own_gemm(monkeypatch)
    rng = np.random.default_rng(10)
    x = rng.standard_normal((5, 16, 12, 13)).astype(np.float32)
    dy = rng.standard_normal((5, 24, 9, 10)).astype(np.float32)
    results = []
    for threads in (1, 2):
        numba.set_num_threads(threads)
        try:
            layer = Conv2D(16, 24, 4, rng=2, relu=True)
            y = layer.forward(x).copy()
            results.append((y, layer.backward(dy).copy(), layer.dW.copy(), layer.db.copy(), layer.reads_fields))
        finally:
            numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    assert results[0][4] and results[1][4]
    for one, two in zip(results[0][:4], results[1][:4]):
        np.testing.assert_array_equal(one, two)


@machine_code
def test_each_sample_has_its_own_buffers_and_sums():
    """conv_forward and conv_backward with two thread buffers and two samples: buffer t and sums s are
    those of samples t and s alone, whichever thread runs them (a shared buffer or a shared db row is a
    race that comparing thread counts catches only now and then); and shapes that do not fit are refused."""
    rng = np.random.default_rng(11)
    c, c_out, k, h, w = 8, 16, 3, 7, 9
    ho, wo, width = h - k + 1, w - k + 1, _wide_width(h, w, k)
    x = rng.standard_normal((2, c, h, w)).astype(np.float32)
    W = rng.standard_normal((c_out, c, k, k)).astype(np.float32)
    dy = rng.standard_normal((2, c_out, ho, wo)).astype(np.float32)
    zeros, offsets = np.zeros(c_out, np.float32), _field_offsets(c, h, w, k)
    wide, y = np.full((2, c_out, width), np.nan, np.float32), np.empty((2, c_out, ho, wo), np.float32)
    kernels.conv_forward(W, _steps(c_out, W[0].nbytes), x, offsets, zeros, False, wide, y)
    rows = np.full((2, c_out, ho * wo), np.nan, np.float32)
    padded = np.full((2, c_out, ho + 2 * k - 2, w + k - 1), np.nan, np.float32)
    dyt = np.full((2, width, c_out), np.nan, np.float32)
    terms, db_terms = np.empty((2, c * k * k, c_out), np.float32), np.zeros((2, c_out))
    kernels.conv_backward(x, offsets, dy, None, k, rows, padded, dyt, _steps(width, 4 * c_out), terms, db_terms)
    for s in range(2):
        x64, dy64 = x[s:s + 1].astype(np.float64), dy[s:s + 1].astype(np.float64)
        want_y = naive.conv2d_forward(x64, W.astype(np.float64), np.zeros(c_out))[0]
        np.testing.assert_allclose(planes(wide[s], w, (c_out, ho, wo)), want_y, rtol=1e-4, atol=1e-4)
        np.testing.assert_array_equal(rows[s], dy[s].reshape(c_out, -1))
        np.testing.assert_allclose(db_terms[s], dy64[0].sum(axis=(1, 2)), rtol=1e-12)
        want_dW = naive.conv2d_backward(x64, W.astype(np.float64), dy64)[1]
        np.testing.assert_allclose(terms[s].T.reshape(W.shape), want_dW, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="do not fit"):
        kernels.conv_forward(W, _steps(c_out, W[0].nbytes), x, offsets, zeros, False, wide, y[:1])
    with pytest.raises(ValueError, match="do not fit"):
        kernels.conv_backward(x, offsets, dy, None, k, rows, padded, dyt, _steps(width, 4 * c_out), terms[:1],
                              db_terms)
