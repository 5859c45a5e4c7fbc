"""benchmarks/passes.py times the layer's own code: on one sample, its passes run in order compute what
forward and backward do, on the φ path, on the path that reads φ's rows in place and on Winograd's tiles."""
import numba
import numpy as np
import pytest

import vcnn.layers
from benchmarks.passes import conv_passes
from vcnn import Conv2D


@pytest.mark.parametrize("path", ["φ", "fields", "winograd"])
@pytest.mark.parametrize("c_in", [3, 16])
def test_one_samples_passes_in_order_are_its_forward_and_backward(path, c_in, monkeypatch):
    reads_fields = path == "fields"
    if reads_fields and numba.config.DISABLE_JIT:
        pytest.skip("the tile is machine code: no plain-Python form")
    monkeypatch.setattr(vcnn.layers, "blas_threads", lambda: 1)
    monkeypatch.setattr(vcnn.layers, "OWN_GEMM", reads_fields)
    monkeypatch.setattr(Conv2D, "use_winograd", path == "winograd")
    rng = np.random.default_rng(c_in)
    x = rng.standard_normal((1, c_in, 12, 11)).astype(np.float32)
    dy = rng.standard_normal((1, 8, 9, 8)).astype(np.float32)
    reference = Conv2D(c_in, 8, 4, rng=1, relu=True)
    want = [reference.forward(x).copy(), reference.backward(dy).copy(), reference.dW.copy(), reference.db.copy()]
    layer = Conv2D(c_in, 8, 4, rng=1, relu=True)
    passes = conv_passes(layer, x, dy)
    assert layer.reads_fields == reads_fields and layer.takes_winograd == (path == "winograd")
    for arrays in (layer.y, layer._buffer("dx", x.shape), layer.dW):
        arrays[...] = np.nan
    layer.db[...] = 0                   # the dY pass adds to db, as backward does after zeroing it
    for run in passes.values():
        run()
    got = [layer.y, layer._buffer("dx", x.shape), layer.dW, layer.db]
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
