"""The passes of a conv layer's step, one callable each, for the benchmarks' breakdowns.

Each callable runs one kind of pass over the whole batch by calling the
layer's own code for it (``Conv2D._product``, ``_add_bias``, ``_dY``, the
module's ``_phi_block``, ``_WeightGradient``, ``_dx_product``,
``_dx_adjoint``; for a layer that reads φ's rows in place, the kernels
``kernels.conv_forward`` and ``conv_backward`` run for each sample, one at a
time; for one on Winograd's tiles, its transforms and products sample by
sample), block by block as :class:`vcnn.Conv2D` takes them (one
sample with the engine's own GEMM or on one BLAS thread, its forward in strips of output rows whose φ
and W fit in half the L2 cache, :func:`vcnn.layers._strips`; else the whole batch), in the layer's own
buffers; so timing them one by one says where the layer's time goes, and a
change to the layer changes what is timed. Used by ``bench_conv.py`` and
``bench_train.py``.
"""
import numpy as np

import kernels
from vcnn import winograd
from vcnn.layers import (Conv2D, _WeightGradient, _blocks, _dx_adjoint, _dx_block, _dx_product, _field_offsets,
                         _phi_block, _phi_is_x, _steps, _strips, _wide_width)


def conv_passes(layer: Conv2D, x: np.ndarray, dy: np.ndarray, need_dx: bool = True) -> dict:
    """{(category, pass): callable} for one forward + backward of ``layer`` on ``x`` and ``dy``.

    Categories: "φ", "GEMM", "bias", "φᵀ". Without ``need_dx`` (the
    network's first layer in training) the Wᵀ·dY GEMM and φᵀ are left out.
    The layer runs one forward and backward first (its buffers then have the
    step's shapes); a pass reads what the passes before it left in them.
    Each callable overwrites the layer's y, dx, gradients and buffers.
    """
    x = np.ascontiguousarray(x, dtype=layer.W.dtype)
    layer.forward(x)
    layer.backward(dy, need_dx=need_dx)
    if layer.reads_fields:
        return _field_passes(layer, x, dy, need_dx)
    if layer.takes_winograd:
        return _winograd_passes(layer, x, dy, need_dx)
    k, n = layer.k, x.shape[0]
    W = layer.W.reshape(layer.c_out, -1)
    dx = layer._buffer("dx", x.shape) if need_dx else None
    blocks = _blocks(layer, n)
    strips = [(s, e, strip) for s, e in blocks for strip in _strips(layer, x.shape, s, e)]   # forward's pieces
    # What one pass hands the next, block by block (strip by strip in forward), made once here. These
    # are views of the layer's buffers, and blocks share buffers: with several blocks every cols[b]
    # (k > 1) and every dY[b] is the same memory, holding the last block's values, and the passes below
    # overwrite it in turn. So a pass computes with the right shapes and the right amount of work, not
    # the right numbers.
    strip_cols = {p: _phi_block(layer, x, *p[:2], k, p[2]) for p in strips}
    for p in strips:
        layer._product(W, strip_cols[p], *p)
    cols = {b: _phi_block(layer, x, *b, k) for b in blocks}
    dY = {b: layer._dY(dy, *b) for b in blocks}

    def each(fn, over=blocks):
        return lambda: [fn(b) for b in over]

    def weight_gradient():
        dW = _WeightGradient(layer, layer.dW.reshape(layer.c_out, -1))
        for b in blocks:
            dW.add(dY[b], cols[b])
        dW.finish()

    def phi_twice():
        for p in strips:
            _phi_block(layer, x, *p[:2], k, p[2])
        for b in blocks:
            _phi_block(layer, x, *b, k)

    passes = {
        ("φ", "φ(X), forward and again in backward"): phi_twice,
        ("GEMM", "Y = W·φ(X)"): each(lambda p: layer._product(W, strip_cols[p], *p), strips),
        ("bias", "+ b (and ReLU), to (N, C, H, W)"): each(lambda b: layer._add_bias(*b)),
        ("bias", "dY (ReLU mask), db"): each(lambda b: layer._dY(dy, *b)),
        ("GEMM", "dW += dY·φ(X)ᵀ"): weight_gradient,
    }
    if _phi_is_x(k, *blocks[0]):
        del passes[("φ", "φ(X), forward and again in backward")]        # φ(X_n) is X_n itself
    if need_dx:
        products = {b: _dx_product(W.T, dY[b], cols[b], dx, *b, k) for b in blocks}
        passes[("GEMM", "Wᵀ·dY")] = each(lambda b: _dx_product(W.T, dY[b], cols[b], dx, *b, k))
        if not _phi_is_x(k, *blocks[0]):
            passes[("φᵀ", "φᵀ")] = each(lambda b: _dx_adjoint(products[b], dx, *b, k))
    return passes


def _field_passes(layer: Conv2D, x: np.ndarray, dy: np.ndarray, need_dx: bool) -> dict:
    """:func:`conv_passes` for a layer that reads φ's rows in place (``Conv2D._reads_fields``): what
    ``kernels.conv_forward`` and ``conv_backward`` do for each sample, one kernel call a pass, in the
    layer's buffers (those of its first thread) and its offsets. No φ and no φᵀ. As there, the samples
    share buffers: a pass computes with the right shapes and the right amount of work, not the right
    numbers (but for one sample, run in order, the passes give forward's and backward's results)."""
    n, c, h, w = x.shape
    k, c_out = layer.k, layer.c_out
    W = np.ascontiguousarray(layer.W)
    x_offsets = _field_offsets(c, h, w, k)
    wide = layer._buffer("wide", (1, c_out, _wide_width(h, w, k)))[0]
    rows = layer._buffer("rows", (1, c_out, dy[0, 0].size))[0]
    padded = layer._buffer("dYp", (1, c_out, h + k - 1, w + k - 1))[0]
    dyt = layer._buffer("dYt", (1, wide.shape[1], c_out))[0]
    terms = layer._buffer("dWt_term", (n, c * k * k, c_out))
    flat = (1, c_out, -1)

    def each(fn):
        return lambda: [fn(s) for s in range(n)]

    def weight_gradient():
        for s in range(n):
            kernels.gemm_rows(x[s], x_offsets, 4, dyt, _steps(dyt.shape[0], dyt[0].nbytes), terms[s])
        total = terms[0]
        for s in range(1, n):
            total += terms[s]
        layer.dW.reshape(c_out, -1)[...] = total.T

    passes = {
        ("GEMM", "Y = W·φ(X)"): each(lambda s: kernels.gemm_rows(W, _steps(c_out, W[0].nbytes), 4, x[s],
                                                                x_offsets, wide)),
        ("bias", "+ b (and ReLU), to (N, C, H, W)"): each(
            lambda s: kernels.wide_to_planes(wide, w, layer.y[s], layer.b, layer.relu)),
        ("bias", "dY (ReLU mask), db"): each(lambda s: kernels.nchw_to_rows(
            dy[s:s + 1].reshape(flat), rows, layer.db, layer.y[s:s + 1].reshape(flat) if layer.relu else None)),
        ("reshuffle", "dY padded and transposed"): each(
            lambda s: kernels.rows_to_fields(rows, dy.shape[3], k, padded, dyt)),
        ("GEMM", "dW += dY·φ(X)ᵀ"): weight_gradient,
    }
    if need_dx and c >= kernels.TILE_ROWS:
        W_swapped = np.ascontiguousarray(layer.W.transpose(1, 0, 2, 3))
        hp, wp = padded.shape[1:]
        dx_wide = layer._buffer("wide", (1, c, _wide_width(hp, wp, k)))[0]
        dx = layer._buffer("dx", x.shape)
        passes[("GEMM", "dX = W turned · φ(dY padded)")] = each(lambda s: kernels.gemm_rows(
            W_swapped, _steps(c, W_swapped[0].nbytes), 4, padded, _field_offsets(c_out, hp, wp, k, turned=True),
            dx_wide))
        passes[("reshuffle", "dX out of its wide product")] = each(
            lambda s: kernels.wide_to_planes(dx_wide, wp, dx[s]))
    elif need_dx:                     # fewer than 8 input channels: dX = φᵀ(Wᵀ · dY), as on the φ path
        dx = layer._buffer("dx", x.shape)
        cols = layer._buffer("cols", (c * k * k, rows.shape[1]))
        passes[("GEMM", "dX = φᵀ(Wᵀ·dY)")] = each(
            lambda s: _dx_block(layer.W.reshape(c_out, -1).T, rows, cols, dx, s, s + 1, k))
    return passes


def _winograd_passes(layer: Conv2D, x: np.ndarray, dy: np.ndarray, need_dx: bool) -> dict:
    """:func:`conv_passes` for a layer on Winograd's tiles (``Conv2D._takes_winograd``): what
    :func:`vcnn.winograd.correlate` and ``Conv2D._backward_winograd`` do, sample by sample (the filters'
    transform, the tiles', the α² products, the output transform), written out call by call so
    that each pass is timed alone, in the layer's buffers. As there, the samples share buffers (but
    for one sample, run in order, the passes give the layer's results: ``tests/benchmarks``)."""
    n, c, h, w = x.shape
    k, c_out = layer.k, layer.c_out
    (ho, wo), alpha2 = dy.shape[2:], (k + winograd.M - 1) ** 2
    bt, _, at = winograd.matrices(k, dtype=x.dtype)
    dw_bt, dw_g, _ = winograd.matrices(winograd.M, m=k, dtype=x.dtype)
    u = layer._filters()
    tiles = winograd.tiles(h, w, k)
    v, products = layer._buffer("tiles", (alpha2, c, tiles)), layer._buffer("products", (alpha2, c_out, tiles))
    dY = {s: layer._dY(dy, s, s + 1).reshape(c_out, ho, wo) for s in range(n)}    # one buffer: the last's
    sums, term = layer._buffer("dW_sums", (alpha2, c_out, c)), layer._buffer("dW_term", (alpha2, c_out, c))

    def each(fn):
        return lambda: [fn(s) for s in range(n)]

    passes = {
        ("transform", "filters G·W·Gᵀ"): lambda: winograd.transform_filters(layer.W, u),
        ("transform", "tiles of X"): each(lambda s: kernels.winograd_tiles_in(x[s], bt, v)),
        ("GEMM", "Y = U·V at the α² points"): each(lambda s: np.matmul(u, v, out=products)),
        ("transform", "Y out of its tiles (+ b, ReLU)"): each(
            lambda s: kernels.winograd_tiles_out(products, at, layer.b, layer.relu, layer.y[s])),
        ("bias", "dY (ReLU mask), db"): each(lambda s: layer._dY(dy, s, s + 1)),
        ("transform", "tiles of X and of dY, for dW"): each(lambda s: (kernels.winograd_tiles_in(x[s], dw_bt, v),
                                                                      kernels.winograd_tiles_in(dY[s], dw_g, products))),
        ("GEMM", "dW: Σ dY tiles · X tilesᵀ at the α² points"): each(
            lambda s: winograd.sum_products(products, v, sums, term, first=s == 0)),
        ("transform", "dW out of its tiles"): lambda: winograd.weights_out(sums, layer.dW),
    }
    if need_dx:
        padded = layer._buffer("dYp", (1, c_out, ho + 2 * (k - 1), wo + 2 * (k - 1)))
        padded[...] = 0                                   # the rim, as the layer's backward sets it
        dx = layer._buffer("dx", x.shape)
        dx_tiles = winograd.tiles(*padded.shape[2:], k)
        dv = layer._buffer("tiles", (alpha2, c_out, dx_tiles))
        dproducts = layer._buffer("products", (alpha2, c, dx_tiles))
        zeros = np.zeros(c, x.dtype)
        passes[("transform", "filters turned, for dX")] = lambda: winograd.transform_filters(layer.W, u, turned=True)
        passes[("reshuffle", "dY padded")] = each(lambda s: layer._pad(dY[s], padded))
        passes[("transform", "tiles of dY padded")] = each(lambda s: kernels.winograd_tiles_in(padded[0], bt, dv))
        passes[("GEMM", "dX = U turned·V at the α² points")] = each(
            lambda s: np.matmul(u.transpose(0, 2, 1), dv, out=dproducts))
        passes[("transform", "dX out of its tiles")] = each(
            lambda s: kernels.winograd_tiles_out(dproducts, at, zeros, False, dx[s]))
    return passes
