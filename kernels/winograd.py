"""The three transforms of Winograd's minimal filtering F(m×m, r×r), over a whole image.

A valid r×r correlation computes each m×m block of outputs from an α×α
tile of the input, α = m + r - 1, tiles overlapping by r - 1. With the
matrices Bᵀ (α×α), G (α×r) and Aᵀ (m×α) of :mod:`vcnn.winograd`::

    V[ξ, ν](c, tile) = (Bᵀ · d · B)[ξ, ν]       d: the α×α tile of channel c
    U[ξ, ν](o, c)    = (G · g · Gᵀ)[ξ, ν]       g: W[o, c], r×r
    M[ξ, ν]          = U[ξ, ν] · V[ξ, ν]       α² GEMMs (C_out, C_in)·(C_in, tiles)
    y(o, block)      = Aᵀ · M(o, tile) · A       + b, and the ReLU if fused

The GEMMs are numpy's; the transforms are here, each a pass over its
array. Tiles are numbered t = ty·tw + tx over the ceil(Ho/m) × ceil(Wo/m)
blocks of output; past the input's edge a tile reads zeros, and the
outputs past Ho or Wo are not written. The passes run their channels in
Numba's threads (each channel's values are written by one thread only).
m is a constant here, ``M``: the loops step through the tiles' columns
without a division.
"""
import numpy as np
from numba import njit, prange

M = 2          # m: outputs per tile side (F(2×2, r×r))


@njit(parallel=True, cache=True)
def tiles_in(x, bt, v):
    """v[ξ·α + ν, c, ty·tw + tx] = (Bᵀ · d · B)[ξ, ν], d = x[c, ty·m:ty·m+α, tx·m:tx·m+α] (zeros past the edge).

    x (C, H, W); bt (α, α), x's dtype; v (α², C, th·tw) with th = ceil(Ho/m), tw = ceil(Wo/m),
    Ho = H - r + 1 and r = α - m + 1. For each row of tiles, the α input rows are combined first,
    along whole rows of x; the combined rows are then dealt into m phases (column m·q + p goes
    to phase p, place q), so that the tiles' columns, m apart, are adjacent: both loops run over
    adjacent values, which LLVM vectorises.
    """
    channels, height, width = x.shape
    alpha = bt.shape[0]
    r = alpha - M + 1
    th, tw = (height - r + M) // M, (width - r + M) // M
    places = tw + (alpha - 1) // M                 # the last tile reaches place tw - 1 + (α - 1) // m
    for c in prange(channels):
        rows = np.empty((alpha, width), x.dtype)            # (Bᵀ · d) for a row of tiles
        phases = np.zeros((alpha, M, places), x.dtype)      # its columns by phase, zeros past the edge
        for ty in range(th):
            rows[:] = 0
            for xi in range(alpha):
                for a in range(alpha):
                    coef = bt[xi, a]
                    i = ty * M + a
                    if coef != 0 and i < height:
                        for j in range(width):
                            rows[xi, j] += coef * x[c, i, j]
            for xi in range(alpha):
                for p in range(M):
                    for q in range((width - p + M - 1) // M):
                        phases[xi, p, q] = rows[xi, q * M + p]
            for xi in range(alpha):
                for nu in range(alpha):
                    out = v[xi * alpha + nu, c, ty * tw:(ty + 1) * tw]
                    out[:] = 0
                    for b in range(alpha):
                        coef = bt[nu, b]
                        if coef != 0:
                            source = phases[xi, b % M, b // M:b // M + tw]
                            for tx in range(tw):
                                out[tx] += coef * source[tx]


@njit(parallel=True, cache=True)
def tiles_out(mm, at, bias, relu, y):
    """y[o, ty·m + i, tx·m + j] = (Aᵀ · M(o, t) · A)[i, j] + bias[o] (max with 0 if ``relu``), inside y only.

    mm (α², O, th·tw), M(o, t)[ξ, ν] = mm[ξ·α + ν, o, t]; at (m, α); bias (O,); y (O, Ho, Wo),
    th = ceil(Ho/m), tw = ceil(Wo/m); one dtype. The tiles' rows are combined first (Aᵀ · M, along
    whole rows of tiles), then their columns, one output phase j at a time.
    """
    alpha = at.shape[1]
    c_out, height, width = y.shape
    th, tw = (height + M - 1) // M, (width + M - 1) // M
    for o in prange(c_out):
        cols = np.empty((M, alpha, tw), y.dtype)       # (Aᵀ · M) for a row of tiles
        phase = np.empty(tw, y.dtype)
        for ty in range(th):
            cols[:] = 0
            for i in range(M):
                for xi in range(alpha):
                    coef = at[i, xi]
                    if coef != 0:
                        for nu in range(alpha):
                            row = mm[xi * alpha + nu, o, ty * tw:(ty + 1) * tw]
                            for tx in range(tw):
                                cols[i, nu, tx] += coef * row[tx]
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
