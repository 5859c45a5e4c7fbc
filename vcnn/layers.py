"""Layers. One contract: ``forward(x) -> y`` keeps what backward needs,
``backward(dy) -> dx`` fills the gradients ``dW`` and ``db`` (overwriting them:
gradients are not accumulated across calls). ``backward(dy, need_dx=False)``
fills them and returns None: the network's input needs no gradient, and for
the first layer dX is a whole GEMM and a φᵀ that training would throw away.

Activations are (N, C, H, W) arrays. A layer computes in the dtype of its
weights (float32 by default; float64 for gradient checks) and refuses input
of another dtype. ``backward`` consumes what ``forward`` kept: call it once
per forward. A layer keeps its buffers between calls: it is not for two
Python threads at once.
"""
import functools
import math

import numba
import numpy as np

import kernels
from vcnn import winograd
from vcnn._checks import as_nchw, check_kernel_size
from vcnn._threads import blas_threads, has_512_bit_vectors, l2_cache_bytes
from vcnn.phi import phi, phi_adjoint


def _rng(rng):
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


class _KeptBuffers:
    """Scratch memory a layer keeps from batch to batch.

    Every step of training has the same shapes, so a layer that writes into
    the arrays of the previous step writes into memory that is already mapped;
    a fresh array of megabytes costs one page fault per 4 KB page and the
    kernel zeroing it (measured: 18 % of a training step of ``deep8``).

    The buffers named in ``TRANSIENT`` live only inside one forward or
    backward call, and dx only until the layer before has read it: a
    :class:`vcnn.Network` gives its layers one shared store for the first
    and two for dx (alternate layers share one), through ``shared_stores``.
    A lone layer keeps all of its own.
    """

    TRANSIENT = ("cols", "rows", "dWt", "dWt_term", "bT", "P", "sum", "wide", "dYt", "dYp", "W_swapped", "db_terms",
                 "U", "tiles", "products", "dW_sums", "dW_term")

    def _buffer(self, name, shape, dtype=None):
        """A C-contiguous array of ``shape``, carved from the memory kept under ``name`` (grown on demand)."""
        dtype = np.dtype(self.W.dtype if dtype is None else dtype)
        shared = self.__dict__.get("shared_stores", {})
        store = shared.get("transient" if name in self.TRANSIENT else name)
        if store is None:
            store = self.__dict__.setdefault("_scratch", {})
        size = math.prod(shape)
        flat = store.get(name)
        if flat is None or flat.size < size or flat.dtype != dtype:
            flat = store[name] = np.empty(size, dtype=dtype)
        return flat[:size].reshape(shape)


def _blocks(layer, n: int):
    """(start, stop) of the blocks of samples the layer's GEMMs take in turn.

    ``layer.samples_per_block`` samples per block, or by default: one with
    the engine's own GEMM (``OWN_GEMM``: its products are serial; a Conv2D
    that reads φ's rows in place runs its samples in Numba's threads, and a
    product too large for the tile still runs in BLAS's), else one when BLAS
    runs on one thread and the whole batch otherwise, so that BLAS's threads
    meet once per layer, not once per sample (see :class:`Conv2D`, Notes;
    :mod:`vcnn._threads`).
    """
    size = layer.samples_per_block or (1 if OWN_GEMM or blas_threads() == 1 else n)
    return [(s, min(s + size, n)) for s in range(0, n, size)]


def _strips(layer, x_shape: tuple, s: int, e: int) -> list:
    """(oh0, oh1) of the strips of output rows the forward GEMM of block s..e-1 takes in turn.

    One strip, the whole height, unless the block is one sample, k > 1 and
    the sample's φ is larger than ``layer.strip_bytes``; then as few strips
    of equal height (±1) as keep each strip's φ within it, at least one row
    each. By default (``strip_bytes`` None) a strip's φ and W together take
    at most half of the L2 cache (:func:`vcnn._threads.l2_cache_bytes`), and a layer whose
    W takes more than half of that is not cut: each strip's GEMM reads W
    again, and strips of a row or two make thin, slow GEMMs (the paper's
    4×4 layer, W 16 MB, took its step from 6.1 to 7.5 s in strips of one
    row). See :class:`Conv2D`, Notes.
    """
    _, c, h, w = x_shape
    k = layer.k
    ho, wo = h - k + 1, w - k + 1
    whole = [(0, ho)]
    if e - s > 1 or k == 1:
        return whole                      # strips are of one sample's φ; a 1×1 layer's φ is X itself
    if layer.strip_bytes:
        budget = layer.strip_bytes
    else:
        budget = l2_cache_bytes() // 2 - layer.W.nbytes     # a strip's φ and W together in half the L2
        if budget < layer.W.nbytes:
            return whole                  # W alone takes over a quarter of the L2: thin strips, slow GEMMs
    row_bytes = c * k * k * wo * layer.W.itemsize
    if row_bytes * ho <= budget:
        return whole
    count = math.ceil(ho / max(1, budget // row_bytes))
    return [(ho * t // count, ho * (t + 1) // count) for t in range(count)]


def _phi_is_x(k: int, s: int, e: int) -> bool:
    """Whether φ of the block of samples s..e-1 is X_s itself, (C, H·W): a 1×1 kernel and one sample."""
    return k == 1 and e - s == 1


def _phi_block(layer, x: np.ndarray, s: int, e: int, k: int, strip: tuple | None = None) -> np.ndarray:
    """φ(X_s..e), (C·k·k, B·R·Wo): the block of φ(X)'s columns of samples s..e-1 at the output rows
    ``strip`` (oh0, oh1) (all Ho of them by default, R = oh1 - oh0), in the layer's kept buffer;
    for k = 1 and one sample, X_s itself (a view)."""
    if _phi_is_x(k, s, e):
        return x[s].reshape(x.shape[1], -1)
    _, c, h, w = x.shape
    oh0, oh1 = strip or (0, h - k + 1)
    cols = layer._buffer("cols", (c * k * k, (e - s) * (oh1 - oh0) * (w - k + 1)))
    return phi(x[s:e], k, out=cols, rows=(oh0, oh1))


def _columns(shape: tuple, s: int, e: int, strip: tuple) -> slice:
    """Which columns of a block's (C, B·Ho·Wo) matrix the strip (oh0, oh1) of an (N, C, Ho, Wo) output has:
    a contiguous range, since a block of several samples has one strip, the whole height."""
    (oh0, oh1), wo = strip, shape[3]
    return slice(oh0 * wo, oh0 * wo + (e - s) * (oh1 - oh0) * wo)


#: The narrowest layer (fewer of C_in and C_out) whose products (forward, dW, dX) take Winograd's tiles by default
#: (:meth:`Conv2D._takes_winograd`).
WINOGRAD_WIDTH = 128

#: Whether float32 products within the L2 cache go through the engine's own GEMM (``kernels.sgemm``): on a
#: CPU with 512-bit vectors, and not under NUMBA_DISABLE_JIT (the tile is machine code with no plain-Python
#: form). Tests switch it to compare.
OWN_GEMM = not numba.config.DISABLE_JIT and has_512_bit_vectors()


def _matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out = a · b, returned. In float32 with b within the L2 cache, by ``kernels.sgemm`` (serial)
    (an 8×48 tile of out in 512-bit registers: 13-30 % less time than OpenBLAS on the 32-wide nets' thin
    products, ``benchmarks/RESULTS.md``). The tile has no cache blocking of its own and reads b again for
    every 8 rows of a: a strip of φ or one sample's dY fits, the paper's 85-MB φ does not. Otherwise, and
    whenever b's or out's rows are not contiguous or out overlaps a or b, by numpy (OpenBLAS)."""
    if _own_gemm(a, b, out) and b.strides[-1] == 4:
        kernels.sgemm(a, b, out)
        return out
    return np.matmul(a, b, out=out)


def _matmul_bt(layer, a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out = a · bᵀ, returned: a weight gradient's term, φ · dYᵀ (or dY · φᵀ, dP · Xᵀ, X · dPᵀ: see
    :class:`_WeightGradient`), b usually the short side (a few rows, one per channel, as long as the
    sample). For ``kernels.sgemm`` bᵀ is first copied into rows of a kept buffer (its B must have
    contiguous rows): the copy costs a few per cent of the product, and the whole takes
    0.69-0.75× OpenBLAS's time for a conv layer's φ · dYᵀ (``benchmarks/RESULTS.md``)."""
    if _own_gemm(a, b, out):
        bt = layer._buffer("bT", b.shape[::-1])
        bt[...] = b.T
        kernels.sgemm(a, bt, out)
        return out
    return np.matmul(a, b.T, out=out)


def _own_gemm(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> bool:
    """Whether a · b (or a · bᵀ) goes to ``kernels.sgemm``; see :func:`_matmul`."""
    return (OWN_GEMM and a.dtype == b.dtype == out.dtype == np.float32 and out.strides[-1] == 4
            and b.nbytes <= l2_cache_bytes()
            and not np.may_share_memory(out, a) and not np.may_share_memory(out, b))


@functools.lru_cache(maxsize=64)
def _field_offsets(channels: int, height: int, width: int, k: int, turned: bool = False) -> np.ndarray:
    """Byte offsets, from the first value of a float32 image (C, H, W), of the rows of its φ:
    row (c, i, j) starts at x[c, i, j] (:mod:`kernels.fields`). ``turned``: the kernel turned by
    180°, row (c, i, j) at x[c, k-1-i, k-1-j] (dX's full correlation). Read-only, kept per shape."""
    i = np.arange(k)[::-1] if turned else np.arange(k)               # i, and j alike
    offsets = (np.arange(channels)[:, None, None] * height + i[None, :, None]) * width + i[None, None, :]
    offsets = offsets.reshape(-1).astype(np.int64) * 4
    offsets.flags.writeable = False
    return offsets


def _threads(n: int) -> int:
    """How many of Numba's threads take a batch of n samples (one buffer set each)."""
    return max(1, min(numba.get_num_threads(), n))


def _wide_width(height: int, width: int, k: int) -> int:
    """T, the columns of the wide product of an (H, W) image and a k×k kernel: the output positions
    t = oh·W + ow up to the last, (Ho - 1)·W + Wo - 1 (:mod:`kernels.fields`)."""
    return (height - k) * width + width - k + 1


@functools.lru_cache(maxsize=64)
def _steps(count: int, step: int) -> np.ndarray:
    """Byte offsets 0, step, 2·step, … of ``count`` rows (read-only, kept per shape)."""
    offsets = np.arange(count, dtype=np.int64) * step
    offsets.flags.writeable = False
    return offsets


def _dx_product(Wt: np.ndarray, dY: np.ndarray, cols: np.ndarray, dx: np.ndarray, s: int, e: int,
                k: int) -> np.ndarray:
    """Wᵀ · dY of samples s..e-1, written over ``cols`` (φ is spent); for k = 1 and one sample,
    straight into dx[s] (``cols`` is then x itself), where it already is dX."""
    if _phi_is_x(k, s, e):
        return _matmul(Wt, dY, dx[s].reshape(dx.shape[1], -1))
    return _matmul(Wt, dY, cols)


def _dx_adjoint(product: np.ndarray, dx: np.ndarray, s: int, e: int, k: int):
    """dX of samples s..e-1 = φᵀ(Wᵀ · dY) into dx[s:e] (nothing left to do for k = 1 and one sample)."""
    if not _phi_is_x(k, s, e):
        phi_adjoint(product, (e - s,) + dx.shape[1:], k, out=dx[s:e])


def _dx_block(Wt: np.ndarray, dY: np.ndarray, cols: np.ndarray, dx: np.ndarray, s: int, e: int, k: int):
    """dX_s..e = φᵀ(Wᵀ · dY) into dx[s:e], over ``cols`` (φ of the block, spent by then)."""
    _dx_adjoint(_dx_product(Wt, dY, cols, dx, s, e, k), dx, s, e, k)


class _WeightGradient:
    """dW = Σ_blocks dY_b · φ(X_b)ᵀ, summed one block of samples at a time.

    OpenBLAS runs these thin products faster with the longer side of dW as
    the output's rows. So when dW has at least as many columns as rows (as
    a conv layer's (C_out, C_in·k·k) usually has), each term is computed as its transpose
    φ(X_b) · dY_bᵀ, (C_in·k·k, C_out), whose output rows are those of φ:
    3-6× faster than dY_b · φ(X_b)ᵀ on the thin shapes of a 32-channel layer
    (and no slower at 512), and the transposed sum is written into ``dW`` at
    the end. When dW has more rows (the mapping layer of the 32-wide nets,
    (C_out·k·k, C_in) = (144, 16) in ``deep8``), the terms go straight into
    ``dW``: 0.12 against 0.21 ms per sample there; the paper's mapping layer,
    (64, 256), is the other way round, 0.71 transposed against 0.86
    (one-off hand measurements, ``benchmarks/RESULTS.md``).
    """

    def __init__(self, layer, dW):
        self.layer, self.dW, self.total = layer, dW, None
        self.transposed = dW.shape[1] >= dW.shape[0]

    def add(self, dY, cols):
        a, b = (cols, dY) if self.transposed else (dY, cols)        # the term is a · bᵀ
        shape = (a.shape[0], b.shape[0])
        if self.total is None:
            first = self.layer._buffer("dWt", shape) if self.transposed else self.dW
            self.total = _matmul_bt(self.layer, a, b, first)
        else:
            self.total += _matmul_bt(self.layer, a, b, self.layer._buffer("dWt_term", shape))

    def finish(self):
        if self.transposed:
            self.dW[...] = self.total.T


class Conv2D(_KeptBuffers):
    """Valid k×k cross-correlation, stride 1, as GEMMs over φ, one per block of samples.

    Forward::

        Y = W · φ(X) + b           W: (C_out, C_in·k·k), φ(X): (C_in·k·k, N·Ho·Wo)

    Backward::

        dW = dY · φ(X)ᵀ,   db = Σ dY,   dX = φᵀ(Wᵀ · dY)

    Parameters
    ----------
    c_in, c_out, k : int
    rng : None, int or numpy.random.Generator
        Seeds the He initialisation ``W ~ N(0, 2 / (c_in·k·k))``; b = 0.
    dtype : float32 (default) or float64
    relu : bool, default False
        A ReLU fused into the layer: ``y = max(W · φ(X) + b, 0)``, applied in
        the pass that adds the bias, and backward takes dL/dy of that
        rectified output and masks it (dY = dy · [y > 0]) in the pass that
        sums db. Two passes over the activations fewer per step;
        :class:`vcnn.Network` sets it on every Conv2D that a ReLU follows.

    Notes
    -----
    Output shape (N, C_out, H - k + 1, W - k + 1). No kernel flip, as in VCNN
    and every framework.

    **The GEMM block by block.** φ(X)'s columns are ordered (n, oh, ow), so
    φ(X) = [φ(X_1) | … | φ(X_N)], one column block per sample, and the
    products above split along the same blocks::

        Y_n = W · φ(X_n) + b,   dW = Σ_n dY_n · φ(X_n)ᵀ,   dX_n = φᵀ(Wᵀ · dY_n)

    The layer takes them in blocks of ``samples_per_block`` samples: the same
    sums, in another order. When BLAS runs on one thread (``colorize train
    --jobs 2``), one sample per block, the default: Y_n, (C_out, Ho·Wo), is exactly sample n
    of the output, so the GEMM writes the activations in place and the
    "reshuffle" only adds the bias; φ(X_n) (1.4-5 MB in the colorization
    nets) stays in the cache between the im2col that writes it and the GEMM
    that reads it, where a whole batch's φ (85 MB for a 4×4 layer of width 32
    at batch 16) goes out to memory and back. When BLAS has several threads
    and the engine's own GEMM does not run (below), the whole batch per block,
    the default: every GEMM is a parallel region whose
    threads meet at a barrier, and one barrier per layer costs less than one
    per sample when other work holds the cores (``benchmarks/bench_apply.py``, 2
    threads at load 4: ``colorize apply`` 2.3× faster than with one sample per
    block; on the quiet machine 37 % slower, 0.55 s against 0.40 s,
    docs/HOW-VCNN-WORKS.md §7). With the engine's own GEMM (``OWN_GEMM``)
    the block is one sample whatever BLAS's threads: the tile is serial, a
    layer that reads φ's rows in place (below) runs its samples in Numba's
    threads, and BLAS's threads, spinning between whole-batch GEMMs, took
    the cores from Numba's (``deep8`` at batch 16 on 2 threads: 128 ms a step
    with the mapping layer's whole-batch GEMMs in OpenBLAS, 56 without).
    Backward computes φ of a block again from x (an im2col costs a tenth of
    the three GEMMs) instead of keeping it from forward (kept, the whole
    batch's φ goes out to memory and back: 21 % slower per step, measured
    twice, docs/HOW-VCNN-WORKS.md §7). For k = 1 and one
    sample, φ(X_n) is X_n itself: no im2col at all.

    **Strips of output rows, forward.** One sample's φ is still larger
    than the L2 cache (2 MB per core here) in the 32-channel nets: 5.3 MB
    for a 4×4 layer on 54×54 maps, 2.3-2.7 MB for the 3×3 ones. So with one
    sample per block and k > 1, forward cuts the sample's output rows into
    strips whose φ fits in ``strip_bytes`` (default: half the L2 cache, in
    the middle of the sizes that measured best, ``benchmarks/RESULTS.md``,
    less W's bytes; a layer whose W is more than a quarter of the L2 cache
    is not cut).
    The columns of a strip, rows oh0..oh1-1, are a contiguous range of
    φ(X_n)'s (its columns are ordered (oh, ow)), and so are those of Y_n::

        Y_n[:, strip] = W · φ(X_n)[:, strip] (+ b, once per sample)

    φ of a strip is written by im2col and read by the GEMM while it is in
    the L2 cache (the 4×4 layer's forward: 15 % less time per sample). The
    bias and ReLU stay per sample (one sample's y is 0.3 MB, in the cache).
    Backward keeps whole samples: strips there (dW summed strip by strip,
    φᵀ adding the k-1 input rows neighbouring strips share) measured no
    faster on the quiet machine (the shorter dW GEMMs and a slower φᵀ ate
    the cache's gain). y is BLAS's product column by column, so strips
    change it by float32 round-off at most (BLAS may sum a narrower product
    in another order; on the colorization nets' shapes numpy's OpenBLAS
    gave the same bits).

    **φ's rows read in place (a sample within the L2 cache).** Row (c, i, j)
    of one image's φ is x[c, oh + i, ow + j] over the output positions;
    numbered t = oh·W + ow, in the image's width, that is a run of adjacent
    values of x from x[c, i, j] on. So with the engine's own GEMM, in
    float32, blocks of one sample (``samples_per_block`` None or 1, whatever
    BLAS's threads), C_in·k·k ≥ C_out (dW's terms taken transposed) and a
    sample whose x and zero-padded dy fit in the L2 cache, the layer never
    writes φ (:meth:`_reads_fields`): :func:`kernels.gemm_rows`'s tile
    finds B's rows by their offsets in x (:mod:`kernels.fields`)::

        Y'_n = W · φ'(X_n)                 (C_out, T), T = (Ho - 1)·W + Wo
        dWᵀ += φ'(X_n) · dY'_nᵀ            dY'ᵀ zero at the columns off the output
        dX'_n = W̃ · φ'(pad(dY_n))          W̃: W turned by 180°, its channel axes swapped

    and keeps only the output positions of Y' and dX' (the columns with
    ow ≥ Wo fall off the right edge: k - 1 of every W). The last is the
    full correlation of dY, padded with k - 1 zeros on every side, by the
    turned kernel: dX without φᵀ. The samples run in Numba's threads
    (:func:`kernels.conv_forward`, :func:`kernels.conv_backward`), each
    thread with its own buffers; the sums over samples (db, dW) run after,
    in sample order, so the numbers do not depend on the threads. A 32-wide
    net's x of one sample (0.4 MB) stays in the L2 cache for the whole
    product, where φ (5.3 MB for a 4×4 layer) did not: the 4×4 layer's
    forward of one sample took 0.54 ms against 1.6 for im2col and the
    GEMM, and ``deep8``'s step at batch 16, on one thread, went from 139 to
    94-108 ms (``benchmarks/RESULTS.md``, the seventh session;
    ``docs/HOW-VCNN-WORKS.md`` §7). With fewer than 8 input channels dX
    still goes through Wᵀ · dY and φᵀ (the product above would have fewer
    rows than the tile). The φ path above stays for the rest: float64,
    ``samples_per_block`` > 1, wide layers whose sample does not fit the L2
    cache, ``NUMBA_DISABLE_JIT``; but a layer on the tiles below takes them
    in any of these cases.

    **Winograd's tiles (the wide layers).** With k in 2..4 and both widths at
    least ``WINOGRAD_WIDTH`` (128), ahead of both paths above (or forced by
    ``use_winograd = True``, for k in 2..4 only: there are no matrices for
    other k; ``False`` keeps the layer off them), every product takes
    Winograd's minimal filtering (:mod:`vcnn.winograd`)::

        Y_n  = F(2×2, k×k) of X_n and W        (k+1)² GEMMs (C_out, C_in)·(C_in, tiles)
        dX_n = F(2×2, k×k) of pad(dY_n) and W̃  the full correlation, as above
        dW   = F(k×k, 2×2) of X_n and dY_n, summed over the samples before its output transform

    (k+1)² multiplications per 2×2 block of outputs and channel pair, not
    4k²: 2.25× fewer for 3×3, 2.56× for 4×4. At 128 channels the layer's
    step took 0.82-0.84× the in-place path's time, at 256 0.64-0.68× the φ
    path's, and the paper's step at batch 8 went from 6.2 to 3.7 s on one
    thread (``benchmarks/RESULTS.md``, the eighth session); at 64 channels
    the tiles are slower (1.37-1.48×). Samples one at a time, whatever
    ``samples_per_block``; any dtype; the transforms in Numba's threads when
    BLAS runs on one. ``takes_winograd`` says whether the last forward took them.

    The layer keeps x (a reference: backward reads it again, so do not
    change it in between) and its buffers from batch to batch, so a step
    writes into memory that is already mapped. So are y and dx: **the
    arrays forward and backward return are the layer's own, overwritten by
    its next call** (copy one to keep it).
    """

    samples_per_block = None       # None: 1 with OWN_GEMM or one BLAS thread, else the whole batch (see Notes)
    use_winograd = None            # None: Winograd's tiles where _takes_winograd says; True or False: forced
    strip_bytes = None             # the largest φ of one strip; None: half the L2 cache less W (see Notes)

    def __init__(self, c_in: int, c_out: int, k: int, rng=None, dtype=np.float32, relu: bool = False):
        self.c_in, self.c_out, self.k = int(c_in), int(c_out), int(k)
        self.relu = bool(relu)
        fan_in = self.c_in * self.k * self.k
        self.W = (_rng(rng).standard_normal((c_out, c_in, k, k)) * np.sqrt(2.0 / fan_in)).astype(dtype)
        self.b = np.zeros(c_out, dtype=dtype)
        self.dW = np.zeros_like(self.W)
        self.db = np.zeros_like(self.b)
        self.x = None
        self.reads_fields = False   # whether the last forward read φ's rows in x (see _reads_fields)
        self.takes_winograd = False   # whether the last forward (and so its backward) took Winograd's tiles

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_nchw(x, channels=self.c_in, dtype=self.W.dtype)
        n, _, h, w = x.shape
        k = check_kernel_size(self.k, h, w)
        self.x = x
        self.y = self._buffer("y", (n, self.c_out, h - k + 1, w - k + 1))
        self.takes_winograd = self._takes_winograd()
        self.reads_fields = not self.takes_winograd and self._reads_fields(x)
        if self.reads_fields:
            self._forward_fields(x)
            return self.y
        if self.takes_winograd:
            self._winograd(x, winograd.transform_filters(self.W, self._filters()), self.b, self.relu, self.y)
            return self.y
        W = self.W.reshape(self.c_out, -1)
        for s, e in _blocks(self, n):
            for strip in _strips(self, x.shape, s, e):
                self._product(W, _phi_block(self, x, s, e, k, strip), s, e, strip)    # now the conv is a GEMM
            self._add_bias(s, e)
        return self.y

    def _reads_fields(self, x) -> bool:
        """Whether this batch's products read φ's rows in x in place (:mod:`kernels.fields`), φ never
        written: float32, the engine's own GEMM, blocks of one sample (``samples_per_block``
        None or 1; BLAS's threads do not matter, the samples run in Numba's), a sample's x and its
        zero-padded dy within the L2 cache, and dW no taller than wide (its terms are taken
        transposed, φ · dYᵀ). See the class's docstring, "φ's rows read in place"."""
        _, c, h, w = x.shape
        k = self.k
        padded_dy = self.c_out * (h + k - 1) * (w + k - 1) * x.itemsize
        return (OWN_GEMM and x.dtype == np.float32 and c * k * k >= self.c_out
                and self.samples_per_block in (None, 1) and max(x[0].nbytes, padded_dy) <= l2_cache_bytes())

    def _takes_winograd(self) -> bool:
        """Whether this layer's products take Winograd's tiles (:mod:`vcnn.winograd`): k in
        ``winograd.KERNELS`` and, unless ``use_winograd`` forces it, both widths at least
        ``WINOGRAD_WIDTH`` (there its smaller GEMMs outweigh the transforms, on φ's path and on the
        one that reads φ's rows in place alike). See the class's docstring, "Winograd's tiles"."""
        if self.k not in winograd.KERNELS or self.use_winograd is False:
            return False
        return self.use_winograd or min(self.c_in, self.c_out) >= WINOGRAD_WIDTH

    def _filters(self):
        """The buffer of the transformed filters, (α², C_out, C_in)."""
        return self._buffer("U", ((self.k + winograd.M - 1) ** 2, self.c_out, self.c_in))

    def _winograd(self, x, u, bias, relu, y):
        """y = the valid correlation of x with the transformed filters u (+ bias, ReLU'd if ``relu``)."""
        _, c, h, w = x.shape
        alpha2, tiles = u.shape[0], winograd.tiles(h, w, self.k)
        winograd.correlate(x, u, bias, relu, y, self._buffer("tiles", (alpha2, c, tiles)),
                           self._buffer("products", (alpha2, u.shape[1], tiles)))

    def _forward_fields(self, x):
        """y = W · φ(x) + b (ReLU'd if fused), φ's rows read in x, the samples in Numba's threads
        (:func:`kernels.conv_forward`)."""
        n, c, h, w = x.shape
        W = np.ascontiguousarray(self.W)
        wide = self._buffer("wide", (_threads(n), self.c_out, _wide_width(h, w, self.k)))
        kernels.conv_forward(W, _steps(self.c_out, W[0].nbytes), x, _field_offsets(c, h, w, self.k),
                             self.b, self.relu, wide, self.y)

    # The passes of one block, here so that benchmarks/passes.py times the layer's own code.
    def _gemm_output(self, s, e):
        """Where W · φ(X_s..e), (C_out, B·Ho·Wo), goes: for one sample y[s] itself, its place; else a buffer."""
        y = self.y[s:e].reshape(e - s, self.c_out, -1)
        return y[0] if e - s == 1 else self._buffer("rows", (self.c_out, y.shape[2] * (e - s)))

    def _product(self, W, cols, s, e, strip):
        """The columns of W · φ(X_s..e) at the output rows ``strip``, written into :meth:`_gemm_output`."""
        return _matmul(W, cols, self._gemm_output(s, e)[:, _columns(self.y.shape, s, e, strip)])

    def _add_bias(self, s, e):
        """y[s:e] = W · φ(X_s..e) + b (ReLU'd if fused), reshuffled to (B, C_out, Ho·Wo) when B > 1;
        for one sample in place, where the GEMM wrote it (a loop LLVM vectorises)."""
        if e - s == 1:
            kernels.bias_in_place(self._gemm_output(s, e), self.b, self.relu)
        else:
            kernels.bias_to_nchw(self._gemm_output(s, e), self.b, self.y[s:e].reshape(e - s, self.c_out, -1),
                                 self.relu)

    def _dY(self, dy, s, e):
        """dy of samples s..e-1 as rows (C_out, B·Ho·Wo), masked by [y > 0] if a ReLU is fused; adds Σ to db."""
        dY = self._buffer("rows", (self.c_out, dy[0, 0].size * (e - s)))
        kernels.nchw_to_rows(dy[s:e].reshape(e - s, self.c_out, -1), dY, self.db,
                             self.y[s:e].reshape(e - s, self.c_out, -1) if self.relu else None)
        return dY

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> np.ndarray | None:
        if self.x is None:
            raise RuntimeError("Conv2D.backward needs a forward first (and runs once per forward)")
        x, self.x = self.x, None
        dy = as_nchw(dy, "dy", dtype=self.W.dtype)
        if dy.shape != self.y.shape:
            raise ValueError(f"dy must have shape {self.y.shape}, got {dy.shape}")
        self.db[...] = 0
        dx = self._buffer("dx", x.shape) if need_dx else None
        if self.reads_fields:
            self._backward_fields(x, dy, dx)
            return dx
        if self.takes_winograd:
            self._backward_winograd(x, dy, dx)
            return dx
        W = self.W.reshape(self.c_out, -1)
        dW = _WeightGradient(self, self.dW.reshape(self.c_out, -1))
        for s, e in _blocks(self, x.shape[0]):
            dY = self._dY(dy, s, e)
            cols = _phi_block(self, x, s, e, self.k)
            dW.add(dY, cols)
            if need_dx:
                _dx_block(W.T, dY, cols, dx, s, e, self.k)               # dX = φᵀ(Wᵀ · dY)
        dW.finish()
        return dx

    def _backward_winograd(self, x, dy, dx):
        """dW by F(k×k, 2×2), its tiles' products summed over the samples (the steps of
        :func:`vcnn.winograd.weight_gradient`: ``add_weight_terms`` per sample, ``weights_out``), db, and
        (given dx) dX by F(2×2, k×k): the full correlation of dY, padded with k - 1 zeros, with W turned
        by 180° and its channel axes swapped (as in the class's docstring); sample by sample, each
        sample's dY (masked by [y > 0] if a ReLU is fused) made once for both. dY's tiles go into the
        buffer of the products (free until dX's), x's and dX's into that of the tiles."""
        n, c, h, w = x.shape
        alpha2, c_out, (ho, wo) = (self.k + winograd.M - 1) ** 2, self.c_out, dy.shape[2:]
        tiles = winograd.tiles(h, w, self.k)
        sums = self._buffer("dW_sums", (alpha2, c_out, c))
        if dx is not None:
            u = winograd.transform_filters(self.W, self._filters(), turned=True).transpose(0, 2, 1)
            padded = self._buffer("dYp", (1, c_out, ho + 2 * (self.k - 1), wo + 2 * (self.k - 1)))
            padded[...] = 0                                   # its rim; each sample overwrites the rest
            zeros = np.zeros(c, x.dtype)
        for s in range(n):
            dY = self._dY(dy, s, s + 1).reshape(c_out, ho, wo)            # adds to db
            winograd.add_weight_terms(x[s], dY, self._buffer("tiles", (alpha2, c, tiles)),
                                      self._buffer("products", (alpha2, c_out, tiles)), sums,
                                      self._buffer("dW_term", sums.shape), first=s == 0)
            if dx is not None:
                self._pad(dY, padded)
                self._winograd(padded, u, zeros, False, dx[s:s + 1])
        winograd.weights_out(sums, self.dW)

    def _pad(self, dY, padded):
        """padded[0] = one sample's dY, (C_out, Ho, Wo), inside its rim of k - 1 (zeros, set by the caller)."""
        rim = self.k - 1
        padded[0, :, rim:rim + dY.shape[1], rim:rim + dY.shape[2]] = dY

    def _backward_fields(self, x, dy, dx):
        """dW, db and (given dx) dX, φ's rows read in x and in the zero-padded dy, the samples in Numba's
        threads (:func:`kernels.conv_backward`); dX is the full correlation of dy with the kernel turned
        by 180°. The sums over the samples run here, in sample order (the same sums whatever the
        threads). With fewer than 8 input channels that product would have fewer rows than one tile:
        dX = φᵀ(Wᵀ · dY) then, sample by sample, as on the φ path (the network's first layer needs no dX)."""
        n, c, h, w = x.shape
        k, (ho, wo) = self.k, dy.shape[2:]
        hp, wp = h + k - 1, w + k - 1
        threads, wide_width = _threads(n), _wide_width(h, w, k)
        rows = self._buffer("rows", (threads, self.c_out, ho * wo))
        padded = self._buffer("dYp", (threads, self.c_out, hp, wp))
        dyt = self._buffer("dYt", (threads, wide_width, self.c_out))
        terms = self._buffer("dWt_term", (n, c * k * k, self.c_out))
        db_terms = self._buffer("db_terms", (n, self.c_out), np.float64)
        db_terms[...] = 0
        dx_args = ()                           # the turned product's operands, when it computes dX
        if dx is not None and c >= kernels.TILE_ROWS:
            W_swapped = self._buffer("W_swapped", (c, self.c_out, k, k))
            W_swapped[...] = self.W.transpose(1, 0, 2, 3)
            dx_args = (W_swapped, _steps(c, W_swapped[0].nbytes), _field_offsets(self.c_out, hp, wp, k, turned=True),
                       self._buffer("wide", (threads, c, _wide_width(hp, wp, k))), dx)
        kernels.conv_backward(x, _field_offsets(c, h, w, k), dy, self.y if self.relu else None, k, rows, padded,
                              dyt, _steps(wide_width, dyt[0, 0].nbytes), terms, db_terms, *dx_args)
        for s in range(n):
            self.db += db_terms[s]
        total = terms[0]
        for s in range(1, n):
            total += terms[s]
        self.dW.reshape(self.c_out, -1)[...] = total.T
        if dx is not None and not dx_args:
            for s in range(n):
                dY = rows[0]
                kernels.nchw_to_rows(dy[s:s + 1].reshape(1, self.c_out, -1), dY, np.zeros(self.c_out),
                                     self.y[s:s + 1].reshape(1, self.c_out, -1) if self.relu else None)
                _dx_block(self.W.reshape(self.c_out, -1).T, dY, self._buffer("cols", (c * k * k, ho * wo)),
                          dx, s, s + 1, k)

    def parameters(self):
        """[(name, value, gradient)] of this layer."""
        return [("W", self.W, self.dW), ("b", self.b, self.db)]

    def spec(self) -> dict:
        return {"type": "conv", "c_in": self.c_in, "c_out": self.c_out, "k": self.k}


class FullConv2D(_KeptBuffers):
    """The mapping layer (VCNN's ``conv_f``): a 1×1 layer predicts k×k patches.

    Every input position (h, w) predicts a k×k patch of every output channel;
    the patches are placed at (h.., w..) and each output pixel is the mean of
    the predictions that cover it. The predictions, one column per input
    position, form exactly a φ-matrix of the output image, so::

        P = W · φ₁(X) + b          W: (C_out·k·k, C_in), rows ordered (o, i, j)
        Y = φᵀ(P) / counts         counts = φᵀ(1): predictions per output pixel

    and, by the same algebra backwards::

        dP = φ(dY / counts),   dW = dP · φ₁(X)ᵀ,   db = Σ dP,   dX = φ₁ᵀ(Wᵀ · dP)

    where φ₁ is the 1×1 φ. Output shape (N, C_out, H + k - 1, W + k - 1).
    As in :class:`Conv2D`, the products run block by block of samples; with
    one sample per block φ₁(X_n) is X_n itself, (C_in, H·W), so P_n = W · X_n
    + b needs no transpose, P_n (1.4 MB in the colorization nets) stays in the
    cache for the φᵀ that reads it, and dX_n = Wᵀ · dP_n lands in the
    activations' layout directly. The bias and the division by the counts run
    inside φᵀ's pass (:func:`vcnn.phi_adjoint` given bias and counts), and db is summed
    inside φ's (:func:`vcnn.phi` given sums): one pass over P and one over dP,
    no separate ones. P and dP share memory kept from batch to batch; the
    output y is a fresh array, dx the layer's own (overwritten by its next
    call), and backward reads the forward's x again (do not change it).
    With k = 8 it takes the 49×49 maps of the colorization net to 56×56.

    Parameters
    ----------
    c_in, c_out, k : int
    rng : None, int or numpy.random.Generator
        Seeds ``W ~ N(0, 1 / c_in)`` (no ReLU follows this layer); b = 0.
    dtype : float32 (default) or float64
    """

    samples_per_block = None       # as in Conv2D

    def __init__(self, c_in: int, c_out: int, k: int, rng=None, dtype=np.float32):
        self.c_in, self.c_out, self.k = int(c_in), int(c_out), int(k)
        check_kernel_size(self.k, self.k, self.k)
        shape = (self.c_out * self.k * self.k, self.c_in)
        self.W = (_rng(rng).standard_normal(shape) * np.sqrt(1.0 / self.c_in)).astype(dtype)
        self.b = np.zeros(shape[0], dtype=dtype)
        self.dW = np.zeros_like(self.W)
        self.db = np.zeros_like(self.b)
        self.x = None

    def _counts(self, h, w):
        """How many k×k predictions cover each output pixel, shape (H+k-1, W+k-1)."""
        ones = np.ones((self.k * self.k, h * w), dtype=self.W.dtype)
        return phi_adjoint(ones, (1, 1, h + self.k - 1, w + self.k - 1), self.k)[0, 0]

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_nchw(x, channels=self.c_in, dtype=self.W.dtype)
        n, _, h, w = x.shape
        self.x = x
        self.out_shape = (n, self.c_out, h + self.k - 1, w + self.k - 1)
        if getattr(self, "counts", None) is None or self.counts.shape != self.out_shape[2:]:
            self.counts = self._counts(h, w)     # depends on the image size only: computed once per size
        y = np.empty(self.out_shape, dtype=self.W.dtype)    # fresh: the network's output, which callers keep
        for s, e in _blocks(self, n):
            P = _matmul(self.W, _phi_block(self, x, s, e, 1), self._buffer("P", (self.W.shape[0], (e - s) * h * w)))
            phi_adjoint(P, y[s:e].shape, self.k, out=y[s:e], bias=self.b, counts=self.counts)   # φᵀ(P + b) / counts
        return y

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> np.ndarray | None:
        if self.x is None:
            raise RuntimeError("FullConv2D.backward needs a forward first (and runs once per forward)")
        x, self.x = self.x, None
        dy = as_nchw(dy, "dy", dtype=self.W.dtype)
        if dy.shape != self.out_shape:
            raise ValueError(f"dy must have shape {self.out_shape}, got {dy.shape}")
        g = np.divide(dy, self.counts, out=self._buffer("sum", dy.shape))
        dW = _WeightGradient(self, self.dW)
        self.db[...] = 0
        dx = self._buffer("dx", x.shape) if need_dx else None
        for s, e in _blocks(self, x.shape[0]):
            dP = self._buffer("P", (self.W.shape[0], (e - s) * x[0, 0].size))
            phi(g[s:e], self.k, out=dP, sums=self.db)                   # dP = φ(g), db += Σ dP, one pass
            x_cols = _phi_block(self, x, s, e, 1)
            dW.add(dP, x_cols)
            if need_dx:
                _dx_block(self.W.T, dP, x_cols, dx, s, e, 1)             # dX = φ₁ᵀ(Wᵀ · dP)
        dW.finish()
        return dx

    def parameters(self):
        """[(name, value, gradient)] of this layer."""
        return [("W", self.W, self.dW), ("b", self.b, self.db)]

    def spec(self) -> dict:
        return {"type": "full_conv", "c_in": self.c_in, "c_out": self.c_out, "k": self.k}


class ReLU(_KeptBuffers):
    """y = max(x, 0); keeps y, since dx = dy · [y > 0] needs nothing else.

    y and dx are the layer's own arrays, overwritten by its next call.
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_nchw(x)
        self.y = self._buffer("y", x.shape, x.dtype)
        kernels.relu_forward(x.reshape(-1), self.y.reshape(-1))
        return self.y

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> np.ndarray | None:
        if not need_dx:
            return None                                     # no parameters: nothing else to compute
        dy = as_nchw(dy, "dy", dtype=self.y.dtype)
        if dy.shape != self.y.shape:
            raise ValueError(f"dy must have shape {self.y.shape}, got {dy.shape}")
        dx = self._buffer("dx", dy.shape, dy.dtype)
        kernels.relu_backward(self.y.reshape(-1), dy.reshape(-1), dx.reshape(-1))
        return dx

    def parameters(self):
        return []

    def spec(self) -> dict:
        return {"type": "relu"}


LAYER_TYPES = {"conv": Conv2D, "full_conv": FullConv2D, "relu": ReLU}


def layer_from_spec(spec: dict, rng=None, dtype=np.float32):
    """Build a layer from its ``spec()`` dict, e.g. ``{"type": "conv", "c_in": 1, "c_out": 8, "k": 11}``."""
    kind = spec.get("type") if isinstance(spec, dict) else None
    if kind not in LAYER_TYPES:
        raise ValueError(f"layer type must be one of {sorted(LAYER_TYPES)}, got {kind!r}")
    if kind == "relu":
        return ReLU()
    try:
        args = [int(spec[key]) for key in ("c_in", "c_out", "k")]
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"a {kind} layer needs integer c_in, c_out and k, got {spec}") from None
    if min(args) < 1:
        raise ValueError(f"c_in, c_out and k must be positive, got {spec}")
    return LAYER_TYPES[kind](*args, rng=rng, dtype=dtype)
