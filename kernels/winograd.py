"""The transforms of Winograd's tiles, F(m×m, r×r), over a whole image.

A valid r×r correlation computes each m×m block of outputs from an α×α
tile of the input, α = m + r - 1, tiles overlapping by r - 1. With the
matrices Bᵀ (α×α), G (α×r) and Aᵀ (m×α) of :mod:`vcnn.winograd`::

    V[ξ, ν](c, tile) = (Bᵀ · d · B)[ξ, ν]       d: the α×α tile of channel c     (tiles_in)
    U[ξ, ν](o, c)    = (G · g · Gᵀ)[ξ, ν]       g: W[o, c], r×r                  (one GEMM, vcnn.winograd)
    P[ξ, ν]          = U[ξ, ν] · V[ξ, ν]       α² GEMMs (C_out, C_in)·(C_in, tiles) (numpy)
    y(o, block)      = Aᵀ · P(o, tile) · A       + b, and the ReLU if fused        (tiles_out)

Tiles are numbered t = ty·tw + tx over the ceil(Ho/m) × ceil(Wo/m) blocks
of output; past the input's edge a tile reads zeros, and the outputs past
Ho or Wo are not written. Both passes run their channels in Numba's
threads (each channel's values are written by one thread only). m is a
constant here, ``M``, so the loops step through the tiles' columns without
a division; and they index the arrays rather than slice them (in Numba a
slice is a new array, counted in and out at every turn: the input tiles'
pass took 2.4× as long with slices in its loops).
"""
import numpy as np
from numba import njit, prange

M = 2          # m: outputs per tile side (F(2×2, r×r))


@njit(parallel=True, cache=True)
def tiles_in(x, matrix, v):
    """v[ξ·α + ν, c, ty·tw + tx] = (Bᵀ · d · B)[ξ, ν], d = x[c, ty·m:ty·m+s, tx·m:tx·m+s] (zeros past the edge).

    x (C, H, W); ``matrix`` (α, s), x's dtype: Bᵀ (s = α) for the overlapping tiles of an image, or
    G (s = m) for dY's tiles side by side (for dW; Bᵀ and G then play the same part). v (α², C, th·tw), th = ceil((H - s + m)/m), tw = ceil((W - s + m)/m):
    for s = α, ceil(Ho/m) and ceil(Wo/m) of an r×r correlation. The s rows of a row of tiles are
    combined first and dealt into m phases as they go (column m·q + p to phase p, place q), so that
    the tiles' columns, m apart, are adjacent in a phase; then the columns are combined along whole
    rows of phases, one output plane (ξ, ν) at a time: loops over adjacent values.
    """
    channels, height, width = x.shape
    alpha, span = matrix.shape
    th, tw = (height - span + 2 * M - 1) // M, (width - span + 2 * M - 1) // M
    places = tw + (span - 1) // M                 # the last tile reaches place tw - 1 + (s - 1) // m
    for c in prange(channels):
        phases = np.zeros((alpha, th, M, places), x.dtype)     # (Bᵀ · d)'s rows, by phase
        for ty in range(th):
            for xi in range(alpha):
                for a in range(span):
                    coef = matrix[xi, a]
                    i = ty * M + a
                    if coef != 0 and i < height:
                        for q in range(width // M):
                            for p in range(M):
                                phases[xi, ty, p, q] += coef * x[c, i, q * M + p]
                        for p in range(width % M):               # an odd last column
                            phases[xi, ty, p, width // M] += coef * x[c, i, width - width % M + p]
        for xi in range(alpha):
            for nu in range(alpha):
                plane = xi * alpha + nu
                for ty in range(th):
                    start = ty * tw
                    for tx in range(tw):
                        v[plane, c, start + tx] = 0
                    for b in range(span):
                        coef = matrix[nu, b]
                        if coef != 0:
                            p, q = b % M, b // M
                            for tx in range(tw):
                                v[plane, c, start + tx] += coef * phases[xi, ty, p, q + tx]


@njit(parallel=True, cache=True)
def tiles_out(products, at, bias, relu, y):
    """y[o, ty·m + i, tx·m + j] = (Aᵀ · P(o, t) · A)[i, j] + bias[o] (max with 0 if ``relu``), inside y only.

    products (α², O, th·tw), P(o, t)[ξ, ν] = products[ξ·α + ν, o, t]; at (m, α); bias (O,);
    y (O, Ho, Wo), th = ceil(Ho/m), tw = ceil(Wo/m); one dtype. The tiles' rows are combined first
    (Aᵀ · P, along whole rows of tiles), then their columns, one output phase j at a time.
    """
    alpha = at.shape[1]
    c_out, height, width = y.shape
    th, tw = (height + M - 1) // M, (width + M - 1) // M
    for o in prange(c_out):
        cols = np.empty((M, alpha, tw), y.dtype)       # (Aᵀ · P) for a row of tiles
        phase = np.empty(tw, y.dtype)
        for ty in range(th):
            cols[:] = 0
            for i in range(M):
                for xi in range(alpha):
                    coef = at[i, xi]
                    if coef != 0:
                        for nu in range(alpha):
                            plane, start = xi * alpha + nu, ty * tw
                            for tx in range(tw):
                                cols[i, nu, tx] += coef * products[plane, o, start + tx]
            for i in range(min(M, height - ty * M)):
                for j in range(M):
                    phase[:] = bias[o]
                    for nu in range(alpha):
                        coef = at[j, nu]
                        if coef != 0:
                            for tx in range(tw):
                                phase[tx] += coef * cols[i, nu, tx]
                    if relu:
                        for tx in range(tw):
                            phase[tx] = max(phase[tx], 0)
                    for tx in range((width - j + M - 1) // M):
                        y[o, ty * M + i, tx * M + j] = phase[tx]
