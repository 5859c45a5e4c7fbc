"""kernels.sgemm, the engine's own float32 GEMM, against a float64 product; and the layers that use it."""
import numba
import numpy as np
import pytest

import kernels
import vcnn.layers
from vcnn import Conv2D, FullConv2D, naive

pytestmark = pytest.mark.skipif(numba.config.DISABLE_JIT, reason="the tile is machine code: no plain-Python form")


def reference(a, b):
    return a.astype(np.float64) @ b.astype(np.float64)


def record_sgemm(monkeypatch, what):
    """Make every kernels.sgemm call (the layers look it up as kernels.sgemm) also append what(a, b, c)."""
    calls, real = [], kernels.sgemm
    monkeypatch.setattr(kernels, "sgemm", lambda a, b, c: (calls.append(what(a, b, c)), real(a, b, c)))
    return calls


def assert_close(c, a, b):
    """float32 round-off of a sum of K products: |error| ≤ 1e-6 · K · max|a| · max|b| (loose, and far
    below any wrong term)."""
    bound = 1e-6 * max(1, a.shape[1]) * (np.abs(a).max() * np.abs(b).max() if a.size and b.size else 1)
    np.testing.assert_allclose(c, reference(a, b), rtol=0, atol=bound)


# Full 8×48 tiles, 8×32 and 8×16 tiles, the padded last < 16 columns and the last < 8 rows, alone and
# together; the nets' shapes (W · φ strip, Wᵀ · dY, the mapping layer's, φ · dYᵀ); and the empty cases.
SHAPES = [(8, 5, 48), (8, 3, 16), (8, 3, 32), (8, 3, 40), (8, 4, 7), (5, 6, 48), (9, 3, 47), (33, 17, 65),
          (1, 1, 1), (16, 2, 113), (32, 288, 833), (32, 121, 2916), (288, 32, 2401), (144, 16, 2025),
          (16, 144, 2025), (288, 2401, 32), (144, 2025, 16), (40, 0, 20), (0, 4, 4), (8, 8, 0)]


@pytest.mark.parametrize("m,k,n", SHAPES)
def test_sgemm_is_the_product(m, k, n):
    rng = np.random.default_rng(m * 1000 + k * 10 + n)
    a, b = rng.standard_normal((m, k)).astype(np.float32), rng.standard_normal((k, n)).astype(np.float32)
    c = np.full((m, n), np.nan, np.float32)                      # overwritten, not added to
    kernels.sgemm(a, b, c)
    assert_close(c, a, b)


def test_sgemm_takes_a_transposed_a_and_writes_a_block_of_columns_only():
    """Wᵀ · dY reads W through its transpose; a strip of W · φ goes into a column range of a sample's rows."""
    rng = np.random.default_rng(1)
    w, rows = rng.standard_normal((32, 72)).astype(np.float32), rng.standard_normal((32, 101)).astype(np.float32)
    out = np.empty((72, 101), np.float32)
    kernels.sgemm(w.T, rows, out)
    assert_close(out, w.T, rows)
    cols = rng.standard_normal((72, 50)).astype(np.float32)
    y = np.zeros((32, 160), np.float32)
    kernels.sgemm(w, cols, y[:, 61:111])
    assert_close(y[:, 61:111], w, cols)
    assert not y[:, :61].any() and not y[:, 111:].any()


@pytest.mark.parametrize("b_shape,c_shape,message", [((6, 9), (8, 10), "shapes do not match"),
                                                     ((5, 9), (8, 9), "shapes do not match")])
def test_sgemm_refuses_shapes_that_do_not_match(b_shape, c_shape, message):
    with pytest.raises(ValueError, match=message):
        kernels.sgemm(np.ones((8, 6), np.float32), np.ones(b_shape, np.float32), np.empty(c_shape, np.float32))


def test_sgemm_refuses_rows_that_are_not_contiguous():
    b = np.ones((6, 20), np.float32)
    with pytest.raises(ValueError, match="contiguous rows"):
        kernels.sgemm(np.ones((8, 6), np.float32), b[:, ::2], np.empty((8, 10), np.float32))
    with pytest.raises(ValueError, match="contiguous rows"):
        kernels.sgemm(np.ones((8, 6), np.float32), b[:, :10], np.empty((10, 8), np.float32).T)


@pytest.mark.parametrize("make", [lambda: Conv2D(3, 16, 3, rng=0, relu=True), lambda: Conv2D(1, 8, 5, rng=1),
                                  lambda: FullConv2D(8, 2, 4, rng=2)])
def test_layers_on_one_blas_thread_use_it_and_match_numpy_and_the_naive_loops(make, monkeypatch):
    """With one BLAS thread (one sample per block, as in each `train --jobs 2` process) the float32 layers'
    φ path multiplies with kernels.sgemm (y's, dx's and dW's products): the same y, dx, dW, db as with
    numpy's GEMM, to float32 round-off, and as the naive loops in float64; and sgemm is what ran. (A
    Conv2D whose sample fits the L2 cache reads φ's rows in place instead: tests/vcnn/test_fields.py;
    here it is told not to, as for a sample too large for the cache.)"""
    monkeypatch.setattr(vcnn.layers, "blas_threads", lambda: 1)
    monkeypatch.setattr(Conv2D, "_reads_fields", lambda self, x: False)
    calls = record_sgemm(monkeypatch, lambda a, b, c: c.shape)
    results = {}
    for own in (True, False):
        monkeypatch.setattr(vcnn.layers, "OWN_GEMM", own)
        layer = make()
        layer.b[:] = 0.1
        c_in = layer.W.shape[1] if isinstance(layer, FullConv2D) else layer.c_in
        x = np.random.default_rng(4).standard_normal((3, c_in, 9, 8)).astype(np.float32)
        y = layer.forward(x).copy()
        dy = np.random.default_rng(5).standard_normal(y.shape).astype(np.float32)
        dx = layer.backward(dy).copy()
        results[own] = (x, dy, y, dx, layer.dW.copy(), layer.db.copy(), layer)
    x, dy, y, dx, dW, db, layer = results[True]
    dW_matrix = dW.reshape(dW.shape[0], -1)
    assert len(set(calls)) >= 3, f"kernels.sgemm ran only for {set(calls)}"     # y, dx and dW's products
    assert dW_matrix.shape in calls or dW_matrix.T.shape in calls, "dW's product did not go to kernels.sgemm"
    for got, want in zip(results[True][2:6], results[False][2:6]):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    x64, dy64, W64, b64 = (v.astype(np.float64) for v in (x, dy, layer.W, layer.b))
    if isinstance(layer, FullConv2D):
        want_y = naive.full_conv2d_forward(x64, W64, b64, layer.k)
        want = naive.full_conv2d_backward(x64, W64, layer.k, dy64)
    else:
        z = naive.conv2d_forward(x64, W64, b64)
        want_y = np.maximum(z, 0) if layer.relu else z
        want = naive.conv2d_backward(x64, W64, dy64 * (z > 0) if layer.relu else dy64)
    np.testing.assert_allclose(y, want_y, rtol=1e-4, atol=1e-4)
    for got, w in zip((dx, dW, db), want):
        np.testing.assert_allclose(got, w, rtol=1e-4, atol=1e-4)


def test_a_product_whose_b_is_larger_than_the_l2_cache_goes_to_numpy(monkeypatch):
    """The tile reads b again for every 8 rows of a: only a b within the L2 cache goes to kernels.sgemm."""
    monkeypatch.setattr(vcnn.layers, "blas_threads", lambda: 1)
    monkeypatch.setattr(vcnn.layers, "OWN_GEMM", True)          # as on a CPU with 512-bit vectors
    calls = record_sgemm(monkeypatch, lambda a, b, c: b.nbytes)
    a, b = np.ones((8, 64), np.float32), np.ones((64, 64), np.float32)         # b: 16 KB
    for l2, expected in ((1 << 20, [16384]), (16383, [])):
        calls.clear()
        monkeypatch.setattr(vcnn.layers, "l2_cache_bytes", lambda l2=l2: l2)
        out = vcnn.layers._matmul(a, b, np.empty((8, 64), np.float32))
        assert calls == expected
        np.testing.assert_array_equal(out, np.full((8, 64), 64, np.float32))


def test_every_element_is_rounded_alike_wherever_it_lies():
    """A row in the last < 8 and a column in the padded last < 16 get the same bits as their twins in full
    tiles: one fused multiply-add per k everywhere, in k order."""
    rng = np.random.default_rng(6)
    a, b = rng.standard_normal((9, 300)).astype(np.float32), rng.standard_normal((300, 53)).astype(np.float32)
    a[8] = a[0]                    # row 8 is the row tail, row 0 in a full tile
    b[:, 52] = b[:, 0]             # column 52 is in the padded tail (48 + 16 > 53), column 0 in a full tile
    c = np.empty((9, 53), np.float32)
    kernels.sgemm(a, b, c)
    np.testing.assert_array_equal(c[8], c[0])
    np.testing.assert_array_equal(c[:, 52], c[:, 0])


def test_sgemm_takes_float32_matrices_only():
    with pytest.raises(numba.core.errors.TypingError):
        kernels.sgemm(np.ones((8, 3)), np.ones((3, 16)), np.empty((8, 16)))


def test_an_output_that_overlaps_an_input_goes_to_numpy(monkeypatch):
    monkeypatch.setattr(vcnn.layers, "blas_threads", lambda: 1)
    monkeypatch.setattr(vcnn.layers, "OWN_GEMM", True)
    rng = np.random.default_rng(7)
    a, b = rng.standard_normal((16, 16)).astype(np.float32), rng.standard_normal((16, 48)).astype(np.float32)
    want = reference(a, b)
    np.testing.assert_allclose(vcnn.layers._matmul(a, b, b), want, rtol=1e-5, atol=1e-5)
