"""Numba kernels: plain loops over arrays and integers, and one GEMM tile.

Every kernel here is ``@njit(cache=True)``, takes its output buffer as an
argument and returns nothing: shape checks and allocation live in the Python
wrappers of :mod:`vcnn` that call them (but :func:`sgemm`, :func:`gemm_rows`,
:func:`conv_forward` and :func:`conv_backward` check their shapes and offsets
themselves, and pad their edges in memory of their own). ``NUMBA_DISABLE_JIT=1``
turns every kernel back into the plain Python loop it is written as, except
those four, whose register tile is written in LLVM's IR (``kernels/gemm.py``):
without the JIT, :mod:`vcnn` multiplies with numpy instead, on φ. All run on one thread but
:func:`conv_forward` and :func:`conv_backward` (``kernels/fields.py``), which
run a layer's samples in Numba's threads, one parallel region per call, and
the transforms of Winograd's tiles (``kernels/winograd.py``), which run the
channels in them.
"""
from kernels.box import box_mean, guided_coefficients, guided_output
from kernels.color import yuv_to_rgb_in_gamut
from kernels.elementwise import (
    bias_in_place,
    bias_to_nchw,
    nchw_to_rows,
    relu_backward,
    relu_forward,
)
from kernels.fields import conv_backward, conv_forward, rows_to_fields, wide_to_planes
from kernels.gemm import TILE_ROWS, gemm_rows, sgemm
from kernels.im2col import col2im, im2col
from kernels.png import png_unfilter
from kernels.winograd import tiles_in as winograd_tiles_in, tiles_out as winograd_tiles_out
from kernels.naive_conv import (
    conv_backward_direct,
    conv_forward_direct,
    full_conv_backward_direct,
    full_conv_forward_direct,
)


__all__ = [
    "im2col", "col2im", "sgemm", "gemm_rows", "wide_to_planes", "rows_to_fields", "conv_forward", "conv_backward",
    "relu_forward", "relu_backward", "bias_in_place", "bias_to_nchw", "nchw_to_rows",
    "conv_forward_direct", "conv_backward_direct",
    "full_conv_forward_direct", "full_conv_backward_direct",
    "box_mean", "guided_coefficients", "guided_output",
    "yuv_to_rgb_in_gamut",
    "png_unfilter",
    "winograd_tiles_in", "winograd_tiles_out",
]
