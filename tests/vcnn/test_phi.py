import numpy as np
import pytest

from vcnn import phi, phi_adjoint

SHAPES = [((1, 1, 4, 4), 2), ((2, 3, 7, 5), 3), ((3, 2, 9, 9), 1), ((1, 4, 11, 12), 11), ((2, 1, 13, 10), 4), ((1, 2, 8, 9), 8)]


def phi_reference(x, k):
    """φ by slicing, in plain NumPy: one column per output position."""
    n, c, h, w = x.shape
    columns = [x[b, :, p:p + k, q:q + k].reshape(-1)
               for b in range(n) for p in range(h - k + 1) for q in range(w - k + 1)]
    return np.stack(columns, axis=1)


@pytest.mark.parametrize("shape,k", SHAPES)
def test_phi_matches_plain_numpy(shape, k):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    np.testing.assert_array_equal(phi(x, k), phi_reference(x, k))


@pytest.mark.parametrize("shape,k", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adjoint_identity(shape, k, dtype):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape).astype(dtype)
    cols = phi(x, k)
    c = rng.standard_normal(cols.shape).astype(dtype)
    lhs = np.sum(cols.astype(np.float64) * c)
    rhs = np.sum(x.astype(np.float64) * phi_adjoint(c, x.shape, k))
    assert lhs == pytest.approx(rhs, rel=1e-5 if dtype == np.float32 else 1e-12)


def test_adjoint_counts_overlaps():
    counts = phi_adjoint(np.ones((4, 9), np.float32), (1, 1, 4, 4), 2)[0, 0]
    np.testing.assert_array_equal(counts, [[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]])


def test_random_shapes_adjoint():
    rng = np.random.default_rng(2)
    for _ in range(20):
        n, c, k = rng.integers(1, 4), rng.integers(1, 4), rng.integers(1, 6)
        h, w = rng.integers(k, k + 6, size=2)
        x = rng.standard_normal((n, c, h, w))
        y = rng.standard_normal(phi(x, k).shape)
        assert np.sum(phi(x, k) * y) == pytest.approx(np.sum(x * phi_adjoint(y, x.shape, k)), rel=1e-12)


def test_non_contiguous_input_is_copied():
    x = np.random.default_rng(3).standard_normal((2, 3, 6, 6)).astype(np.float32)
    view = x.transpose(0, 1, 3, 2)
    np.testing.assert_array_equal(phi(view, 3), phi_reference(np.ascontiguousarray(view), 3))


@pytest.mark.parametrize("x,k,message", [
    (np.zeros((3, 4, 4), np.float32), 2, r"\(N, C, H, W\), got shape \(3, 4, 4\)"),
    (np.zeros((1, 1, 4, 4), np.int64), 2, "float32 or float64, got int64"),
    (np.zeros((0, 1, 4, 4), np.float32), 2, "empty batch"),
    (np.zeros((1, 1, 4, 4), np.float32), 5, "k=5 is larger than the 4x4 image"),
    (np.zeros((1, 1, 4, 4), np.float32), 0, "positive integer"),
])
def test_phi_rejects_bad_input(x, k, message):
    with pytest.raises(ValueError, match=message):
        phi(x, k)


def test_phi_adjoint_rejects_wrong_shape():
    with pytest.raises(ValueError, match=r"cols must have shape \(4, 9\)"):
        phi_adjoint(np.zeros((4, 8), np.float32), (1, 1, 4, 4), 2)


def strips(out_h, height):
    """Strips of ``height`` output rows, the last shorter when ``height`` does not divide ``out_h``."""
    return [(o, min(o + height, out_h)) for o in range(0, out_h, height)]


# (shape, k, strip height): heights that do not divide Ho, one-row strips, 1x1, 11x11, batch 1 and 2.
STRIP_CASES = [((1, 2, 9, 7), 3, 2), ((2, 3, 10, 6), 4, 3), ((1, 1, 12, 9), 4, 1), ((2, 2, 8, 5), 1, 3),
               ((1, 2, 11, 8), 3, 4), ((1, 1, 13, 13), 11, 2)]


@pytest.mark.parametrize("shape,k,height", STRIP_CASES)
def test_phi_of_a_strip_is_its_rows_of_the_whole_phi(shape, k, height):
    x = np.random.default_rng(4).standard_normal(shape)
    n, _, h, w = shape
    ho, wo = h - k + 1, w - k + 1
    whole = phi(x, k).reshape(-1, n, ho, wo)
    for oh0, oh1 in strips(ho, height):
        np.testing.assert_array_equal(phi(x, k, rows=(oh0, oh1)), whole[:, :, oh0:oh1].reshape(whole.shape[0], -1))
    out = np.empty((whole.shape[0], n * 1 * wo))
    assert phi(x, k, out=out, rows=(ho - 1, ho)) is out                   # a kept buffer of the strip's shape


@pytest.mark.parametrize("rows", [(0, 0), (-1, 2), (2, 5), (3, 2)])
def test_phi_rejects_rows_outside_the_output(rows):
    with pytest.raises(ValueError, match=r"rows must be \(oh0, oh1\) with 0 <= oh0 < oh1 <= 4"):
        phi(np.zeros((1, 1, 6, 6)), 3, rows=rows)


@pytest.mark.parametrize("rows", [(0,), 3, (1.5, 3), ("0", "2"), (0, 1, 2)])
def test_phi_rejects_rows_that_are_not_two_whole_numbers(rows):
    with pytest.raises(ValueError, match=r"rows must be two whole numbers \(oh0, oh1\)"):
        phi(np.zeros((1, 1, 6, 6)), 3, rows=rows)


# The kernels' extra duties for the mapping layer, compiled and as the plain Python loops they are
# written as (``py_func``: what NUMBA_DISABLE_JIT=1 runs), against φ, φᵀ and numpy done separately.
KERNEL_VARIANTS = ["jit", "python"]


def kernel(fn, variant):
    return fn if variant == "jit" else getattr(fn, "py_func", fn)     # under NUMBA_DISABLE_JIT, fn is the loop


@pytest.mark.parametrize("variant", KERNEL_VARIANTS)
@pytest.mark.parametrize("shape,k", [((2, 3, 7, 5), 3), ((1, 1, 12, 12), 8), ((3, 2, 5, 6), 1)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_col2im_with_bias_and_counts_is_the_mean_of_patches_plus_bias(variant, shape, k, dtype):
    """col2im(cols, k, x, b, counts) = φᵀ(cols + b) / counts, bit for bit (same float operations, same order)."""
    import kernels
    rng = np.random.default_rng(7)
    n, c, h, w = shape
    cols = rng.standard_normal((c * k * k, n * (h - k + 1) * (w - k + 1))).astype(dtype)
    b = rng.standard_normal(c * k * k).astype(dtype)
    counts = phi_adjoint(np.ones((k * k, (h - k + 1) * (w - k + 1)), dtype), (1, 1, h, w), k)[0, 0]
    out = np.full(shape, np.nan, dtype)                            # overwritten, not added to
    kernel(kernels.col2im, variant)(cols, k, out, b, counts)
    np.testing.assert_array_equal(out, phi_adjoint(cols + b[:, None], shape, k) / counts)


@pytest.mark.parametrize("variant", KERNEL_VARIANTS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,k,first,last", [((2, 3, 7, 5), 3, 0, 5), ((1, 1, 12, 12), 8, 0, 5),
                                                ((3, 2, 5, 6), 1, 0, 5), ((2, 3, 7, 5), 3, 1, 5),
                                                ((2, 2, 9, 4), 2, 3, 6)])     # the last two: strips of rows
def test_im2col_with_sums_adds_the_row_sums_of_phi(variant, dtype, shape, k, first, last):
    import kernels
    x = np.random.default_rng(8).standard_normal(shape).astype(dtype)
    strip = phi(x, k, rows=(first, last))
    out = np.full(strip.shape, np.nan, dtype)
    sums = np.full(strip.shape[0], 0.5, dtype)                      # added to, not overwritten
    kernel(kernels.im2col, variant)(x, k, out, first, last, sums)
    np.testing.assert_array_equal(out, strip)
    np.testing.assert_allclose(sums, (0.5 + strip.astype(np.float64).sum(axis=1)).astype(dtype), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("variant", KERNEL_VARIANTS)
def test_im2col_sums_each_row_in_float64_compiled_or_not(variant):
    """2**24 + 1 + 1 + 1 + 1 is 2**24 + 4 in float64; a float32 running sum stays at 2**24."""
    import kernels
    x = np.array([2.0 ** 24, 1, 1, 1, 1], np.float32).reshape(1, 1, 1, 5)
    sums = np.zeros(1, np.float64)
    kernel(kernels.im2col, variant)(x, 1, np.empty((1, 5), np.float32), 0, 1, sums)
    assert sums[0] == 2.0 ** 24 + 4


# The same two duties through the checked wrappers, as vcnn.FullConv2D uses them.
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_phi_with_sums_adds_each_row_sum_of_the_result(dtype):
    x = np.random.default_rng(9).standard_normal((2, 3, 7, 5)).astype(dtype)
    sums = np.full(27, 0.5, dtype)
    cols = phi(x, 3, rows=(1, 4), sums=sums)
    np.testing.assert_array_equal(cols, phi(x, 3, rows=(1, 4)))
    np.testing.assert_allclose(sums, (0.5 + cols.astype(np.float64).sum(axis=1)).astype(dtype), rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_phi_adjoint_with_bias_and_counts_is_the_three_steps_bit_for_bit(dtype):
    rng = np.random.default_rng(10)
    shape, k = (2, 2, 9, 8), 4
    cols = rng.standard_normal((2 * k * k, 2 * 6 * 5)).astype(dtype)
    bias = rng.standard_normal(2 * k * k).astype(dtype)
    counts = phi_adjoint(np.ones((k * k, 6 * 5), dtype), (1, 1, 9, 8), k)[0, 0]
    np.testing.assert_array_equal(phi_adjoint(cols, shape, k, bias=bias, counts=counts),
                                  phi_adjoint(cols + bias[:, None], shape, k) / counts)
    np.testing.assert_array_equal(phi_adjoint(cols, shape, k, bias=bias), phi_adjoint(cols + bias[:, None], shape, k))


@pytest.mark.parametrize("sums,message", [(np.zeros(26, np.float32), r"sums must be a float array of shape \(27,\)"),
                                          (np.zeros(27, np.int64), "sums must be a float array"),
                                          (np.zeros((27, 1), np.float32), "sums must be"),
                                          (np.broadcast_to(np.float32(0), (27,)), "sums must be writeable")])
def test_phi_rejects_bad_sums(sums, message):
    with pytest.raises(ValueError, match=message):
        phi(np.zeros((1, 3, 5, 5), np.float32), 3, sums=sums)


@pytest.mark.parametrize("extra,message", [
    ({"bias": np.zeros(3, np.float32)}, r"bias must be a float32 array of shape \(4,\)"),
    ({"bias": np.zeros(4, np.float64)}, "bias must be a float32 array"),
    ({"counts": np.ones((3, 4), np.float32)}, r"counts must be a float32 array of shape \(4, 4\)"),
    ({"counts": np.ones((4, 4), np.float64)}, "counts must be a float32 array")])
def test_phi_adjoint_rejects_bad_bias_or_counts(extra, message):
    with pytest.raises(ValueError, match=message):
        phi_adjoint(np.zeros((4, 9), np.float32), (1, 1, 4, 4), 2, **extra)
