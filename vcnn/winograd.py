"""Winograd's minimal filtering: a valid r×r correlation with fewer multiplications.

One output row of a 1-D correlation, m values from α = m + r - 1 inputs,
y_i = Σ_j d_{i+j} g_j, takes m·r multiplications directly. Winograd's
algorithm F(m, r) takes α::

    y = Aᵀ · [(G · g) ⊙ (Bᵀ · d)]

and nested in 2-D, F(m×m, r×r), α² for an m×m block of outputs instead of
m²·r². With m = 2 that is 16 against 36 for a 3×3 kernel (2.25× fewer) and
25 against 64 for a 4×4 one (2.56×). Across channels the ⊙ becomes α²
GEMMs, one per point (ξ, ν) of the tile (:mod:`kernels.winograd`):
(C_out, C_in) · (C_in, tiles), the same GEMM as W · φ, smaller by those
factors, between a transform of the input tiles and one of the outputs.
dX is such a correlation too (of the zero-padded dY with the turned kernel).
dW is one with r×r outputs, of x with dY: F(r×r, m×m) with dY's m×m tiles
in the kernel's place (:func:`weight_gradient`).

**Where the matrices come from** (Toom-Cook). Take α - 1 points p and ∞.
Evaluating a polynomial at them is a matrix: its coefficients (a_0, …)
give Σ a_k p^k at each p, and its leading coefficient at ∞. Let V (α×α),
E_r (α×r) and E_m (α×m) evaluate polynomials of α, r and m coefficients.
The linear convolution s = g * h of g (r values) and h (m values) is the
product polynomial, so V·s = (E_r·g) ⊙ (E_m·h) and s = V⁻¹ [(E_r·g) ⊙ (E_m·h)].
Correlation is its transpose: for every d, h,
Σ_k d_k s_k = Σ_i h_i Σ_j g_j d_{i+j} = hᵀ y, so

    y = E_mᵀ · [(E_r · g) ⊙ (V⁻ᵀ · d)]:     Aᵀ = E_mᵀ,  G = E_r,  Bᵀ = V⁻ᵀ.

:func:`exact_matrices` computes them in fractions, :func:`matrices` rounds
them to floats. The points are 0, 1 (r = 2), -1 (r = 3), and ½ as well
(r = 4): small numbers keep the float round-off of the transforms near
that of the direct sum (the tests bound it).
"""
import contextlib
import functools
from fractions import Fraction

import numba
import numpy as np

import kernels
from kernels.winograd import M                            # outputs per tile side: F(2×2, r×r)
from vcnn._threads import blas_threads

POINTS = (Fraction(0), Fraction(1), Fraction(-1), Fraction(1, 2))
KERNELS = (2, 3, 4)                     # the kernel sizes POINTS serve: F(2, k) and F(k, 2) take k finite points


@functools.lru_cache(maxsize=32)
def matrices(r: int, m: int = M, dtype=np.float64) -> tuple:
    """(Bᵀ, G, Aᵀ) of F(m, r) as read-only arrays of ``dtype``: (α, α), (α, r), (m, α), α = m + r - 1,
    rounded from :func:`exact_matrices`."""
    out = []
    for matrix in exact_matrices(r, m):
        array = np.array([[float(v) for v in row] for row in matrix], dtype=dtype)
        array.flags.writeable = False
        out.append(array)
    return tuple(out)


def exact_matrices(r: int, m: int = M) -> tuple:
    """(Bᵀ, G, Aᵀ) of F(m, r) as lists of rows of Fractions, from α - 1 of ``POINTS`` and ∞."""
    alpha = m + r - 1
    if alpha - 1 > len(POINTS):
        raise ValueError(f"F({m}, {r}) needs {alpha - 1} points; {len(POINTS)} are defined")
    points = POINTS[:alpha - 1]

    def evaluate(size):                                   # (α, size): polynomials of ``size`` coefficients
        rows = [[p ** k for k in range(size)] for p in points]
        return rows + [[Fraction(0)] * (size - 1) + [Fraction(1)]]

    return _transpose(_inverse(evaluate(alpha))), evaluate(r), _transpose(evaluate(m))


def _transpose(rows):
    return [list(column) for column in zip(*rows)]


def _inverse(rows):
    """The inverse of a square matrix of Fractions (Gauss-Jordan, exact)."""
    n = len(rows)
    work = [list(row) + [Fraction(int(i == j)) for j in range(n)] for i, row in enumerate(rows)]
    for col in range(n):
        pivot = next(i for i in range(col, n) if work[i][col] != 0)
        work[col], work[pivot] = work[pivot], work[col]
        scale = work[col][col]
        work[col] = [v / scale for v in work[col]]
        for i in range(n):
            if i != col and work[i][col] != 0:
                factor = work[i][col]
                work[i] = [a - factor * b for a, b in zip(work[i], work[col])]
    return [row[n:] for row in work]


def tiles(height: int, width: int, r: int) -> int:
    """How many tiles cover the (H - r + 1) × (W - r + 1) outputs of an (H, W) image: ceil(Ho/m)·ceil(Wo/m)."""
    return -(-(height - r + 1) // M) * -(-(width - r + 1) // M)


def transform_filters(w: np.ndarray, out: np.ndarray, turned: bool = False) -> np.ndarray:
    """U[ξ·α + ν, o, c] = (G · w[o, c] · Gᵀ)[ξ, ν] for every (o, c), into ``out`` (α², O, C), returned;
    w (O, C, r, r). One GEMM, (G ⊗ G) · w's kernels as columns (α², r²)·(r², O·C). ``turned``:
    of w[o, c] turned by 180° (G's columns reversed)."""
    c_out, c, r, _ = w.shape
    _check("transform_filters", w.dtype, {"out": ((r + M - 1) ** 2, c_out, c)}, (out,), writes=(out,))
    _, g, _ = matrices(r, dtype=w.dtype)
    if turned:
        g = g[:, ::-1]
    np.matmul(np.kron(g, g), w.reshape(-1, r * r).T, out=out.reshape(out.shape[0], -1))
    return out


def correlate(x: np.ndarray, u: np.ndarray, bias: np.ndarray, relu: bool, y: np.ndarray,
              v: np.ndarray, products: np.ndarray):
    """y[n] = the valid r×r correlation of x[n] with the filters U (+ bias, ReLU'd if ``relu``), sample by sample.

    x (N, C, H, W); u (α², C_out, C) from :func:`transform_filters` (any strides); y (N, C_out, Ho,
    Wo); v (α², C, tiles) and products (α², C_out, tiles) scratch (:func:`tiles`). One dtype
    throughout; shapes checked (the kernels write where these say).
    """
    n, c, h, w = x.shape
    alpha, r = _tile_size(u.shape[0], "correlate")
    c_out = u.shape[1]
    t = tiles(h, w, r)
    wanted = {"u": (alpha * alpha, c_out, c), "y": (n, c_out, h - r + 1, w - r + 1), "v": (alpha * alpha, c, t),
              "products": (alpha * alpha, c_out, t), "bias": (c_out,)}
    _check("correlate", x.dtype, wanted, (u, y, v, products, bias))
    bt, _, at = matrices(r, dtype=x.dtype)
    with _transform_threads():
        for s in range(n):
            kernels.winograd_tiles_in(x[s], bt, v)
            np.matmul(u, v, out=products)
            kernels.winograd_tiles_out(products, at, bias, relu, y[s])


def weight_gradient(x: np.ndarray, dy: np.ndarray, dw: np.ndarray, v: np.ndarray, d: np.ndarray,
                    sums: np.ndarray, term: np.ndarray):
    """dw[o, c] = Σ_n the valid correlation of x[n, c] with dy[n, o]: a conv layer's dW, by F(r×r, 2×2).

    dW[o, c, i, j] = Σ_n Σ_(p,q) dy[n, o, p, q] · x[n, c, p + i, q + j] is itself a correlation with
    r×r outputs. Cut dy into tiles of m×m (zeros past its edge): each tile's share is F(r×r, m×m),
    its "filter" the dy tile and its data the α×α tile of x above it (α = r + m - 1, the tiles of
    the forward's grid). The output transform Aᵀ · S · A is linear, so the sum over tiles and samples
    runs first, on the transformed tiles (:func:`add_weight_terms`, sample by sample), and one
    output transform ends it (:func:`weights_out`).

    x (N, C, H, W); dy (N, C_out, Ho, Wo); dw (C_out, C, r, r), written; v (α², C, tiles),
    d (α², C_out, tiles), sums and term (α², C_out, C) scratch. One dtype throughout.
    """
    if dy.shape[0] != x.shape[0]:
        raise ValueError(f"winograd.weight_gradient: dy must have x's {x.shape[0]} samples, got {dy.shape[0]}")
    for s in range(x.shape[0]):
        add_weight_terms(x[s], dy[s], v, d, sums, term, first=s == 0)
    weights_out(sums, dw)


def add_weight_terms(x: np.ndarray, dy: np.ndarray, v: np.ndarray, d: np.ndarray, sums: np.ndarray,
                     term: np.ndarray, first: bool):
    """One sample's share of :func:`weight_gradient`: its α² GEMMs (C_out, tiles)·(tiles, C_in) of dy's
    transformed tiles by x's, written into ``sums`` if ``first``, else into ``term`` and added.

    x (C, H, W); dy (C_out, Ho, Wo); v (α², C, tiles), d (α², C_out, tiles), sums and term
    (α², C_out, C), α² from their first axis. One dtype throughout (all checked).
    """
    c, h, w = x.shape
    alpha, k = _tile_size(v.shape[0], "add_weight_terms")
    c_out = dy.shape[0]
    t = tiles(h, w, k)
    wanted = {"dy": (c_out, h - k + 1, w - k + 1), "v": (alpha * alpha, c, t), "d": (alpha * alpha, c_out, t),
              "sums": (alpha * alpha, c_out, c), "term": (alpha * alpha, c_out, c)}
    _check("add_weight_terms", x.dtype, wanted, (dy, v, d, sums, term))
    bt, g, _ = matrices(M, m=k, dtype=x.dtype)     # F(k, m): dW's k outputs a side, dY's m-value tiles the filter
    with _transform_threads():
        kernels.winograd_tiles_in(x, bt, v)
        kernels.winograd_tiles_in(dy, g, d)
    sum_products(d, v, sums, term, first)


def sum_products(d: np.ndarray, v: np.ndarray, sums: np.ndarray, term: np.ndarray, first: bool):
    """sums (+)= the α² products d[p] · v[p]ᵀ, (C_out, tiles)·(tiles, C_in): into ``sums`` if ``first``,
    else into ``term`` and added (numpy's product cannot add to its output). Unchecked: the step of
    :func:`add_weight_terms` after the transforms."""
    np.matmul(d, v.transpose(0, 2, 1), out=sums if first else term)
    if not first:
        np.add(sums, term, out=sums)


def weights_out(sums: np.ndarray, dw: np.ndarray):
    """dw[o, c] = Aᵀ · S(o, c) · A, S(o, c)[ξ, ν] = sums[ξ·α + ν, o, c]: dW out of its tiles, one GEMM
    (C_out·C, α²)·(α², r²) into dw (C_out, C, r, r)."""
    k = dw.shape[2]
    _check("weights_out", dw.dtype, {"sums": ((k + M - 1) ** 2,) + dw.shape[:2], "dw": dw.shape[:2] + (k, k)},
           (sums, dw), writes=(dw,))
    _, _, at = matrices(M, m=k, dtype=dw.dtype)
    np.matmul(sums.reshape(sums.shape[0], -1).T, np.kron(at, at).T, out=dw.reshape(-1, k * k))


@contextlib.contextmanager
def _transform_threads():
    """Inside, the transforms run in Numba's threads only if BLAS runs its products on one thread.

    The transforms and the products take turns, sample by sample. OpenBLAS's threads spin a while
    after each product before they sleep, and Numba's threads, started for the next transform,
    then share the cores with them: the paper's 4×4 layer at batch 8 on 2 cores took 1.70 s a
    forward and backward with the transforms on 2 Numba threads, 1.46 s with them on one (and
    2.17 s with everything on one thread; ``benchmarks/RESULTS.md``, the eighth session).
    """
    saved = numba.get_num_threads()
    if blas_threads() > 1:
        numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(saved)


def _tile_size(planes: int, caller: str) -> tuple:
    """(α, r) of an array of α² tile planes: r = α - m + 1, the kernel it serves; ValueError unless in KERNELS."""
    alpha = int(round(planes ** 0.5))
    if alpha * alpha != planes or alpha - M + 1 not in KERNELS:
        raise ValueError(f"winograd.{caller}: {planes} tile planes are not (k + {M - 1})² for a k in {KERNELS}")
    return alpha, alpha - M + 1


def _check(caller: str, dtype, wanted: dict, arrays, writes=()):
    """ValueError unless each array has its wanted shape and ``dtype`` (the kernels write where the shapes
    say), and each array in ``writes`` is C-contiguous (written through a reshape, which must be a view:
    numpy would fill a copy of anything else and leave the array as it was)."""
    for name, array in zip(wanted, arrays):
        if array.shape != wanted[name] or array.dtype != dtype:
            raise ValueError(f"winograd.{caller}: {name} must be {dtype} of shape {wanted[name]}, "
                             f"got {array.dtype} {array.shape}")
    if not all(array.flags.c_contiguous for array in writes):
        raise ValueError(f"winograd.{caller}: the arrays it writes must be C-contiguous")
