"""C = A·B in float32 with an 8×48 tile of C held in 512-bit registers.

The conv layers' products are thin: 32 rows of W against a strip of φ a
few hundred columns wide (``W · φ``), φ-many rows of Wᵀ against 32 rows of
dY (``Wᵀ · dY``), or φ's rows against dY's, summed over the sample's
positions (``φ · dYᵀ``, with dYᵀ first copied into rows). OpenBLAS runs
them at 90-120 GFLOP/s on this machine, against 189 for a large square
product (``benchmarks/RESULTS.md``, the sixth session). The kernel below keeps an 8×48 tile of C in 24 vectors of
16 floats and, for each k, loads 3 vectors of B's row k, broadcasts 8
values of A's column k and does 24 fused multiply-adds: 11 loads per 24
FMAs, the accumulators never leaving the registers.

Numba's loops cannot say this: LLVM vectorises a loop in 256-bit
registers and keeps the accumulators in memory (``docs/HOW-VCNN-WORKS.md``,
section 2). So the tile is written in LLVM's IR, through
:func:`numba.extending.intrinsic`, with explicit ``<16 x float>`` vectors
and ``llvm.fma``; the loops around it are plain Numba. The last < 16
columns take one more tile on a zero-padded copy of them, and the last < 8
rows one more on A's rows copied into 8 padded with zeros, so that every C
element is Σ_k A[i, k]·B[k, j] summed in k order with one rounding per
multiply-add, wherever it lies.

The tile finds A's and B's rows through byte offsets (:func:`gemm_rows`),
so that it multiplies matrices that are never written: given the offsets
of a k×k field's values in an image, B is φ of the image read in place
(:mod:`kernels.fields`, :class:`vcnn.Conv2D`). :func:`sgemm` is the case
of two matrices, their rows at a fixed stride.

The tile is machine code with no Python equivalent: under
``NUMBA_DISABLE_JIT=1`` there is nothing to run, and :mod:`vcnn.layers`
uses ``numpy.matmul`` instead. It wants 512-bit registers
(:func:`vcnn._threads.has_512_bit_vectors`); :mod:`vcnn.layers` does not
use it on a CPU without them.
"""
import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

TILE_ROWS = 8          # rows of C per tile: one broadcast of A each
VECTOR = 16            # floats per 512-bit vector


def _tile_kernel(vectors: int):
    """An intrinsic ``tile(a, a_offsets, a_step, b, b_offsets, c, m0, n0)``: C[m0:m0+8, n0:n0+16·vectors] = A·B there.

    A and B are addressed through byte offsets from their first value, so that one tile serves a
    matrix and a matrix that is never formed (:func:`gemm_rows`): A's row m starts ``a_offsets[m]``
    bytes after ``a``'s first float, its values ``a_step`` bytes apart; B's row k starts
    ``b_offsets[k]`` bytes after ``b``'s, its values adjacent; K = len(b_offsets). C's rows must be
    contiguous. No bounds are checked here.
    """
    @intrinsic
    def tile(typingctx, a, a_offsets, a_step, b, b_offsets, c, m0, n0):
        floats = all(isinstance(t, types.Array) and t.dtype == types.float32 for t in (a, b, c))
        offsets = all(isinstance(t, types.Array) and t.dtype == types.int64 and t.ndim == 1 and t.layout == "C"
                      for t in (a_offsets, b_offsets))    # read as adjacent int64s below
        if not (floats and offsets and c.ndim == 2 and all(isinstance(t, types.Integer) for t in (a_step, m0, n0))):
            return None       # float32 matrices and contiguous int64 offsets only: anything else is a typing error

        def codegen(context, builder, signature, args):
            a_arr, a_offsets_arr, _, b_arr, b_offsets_arr, c_arr = (
                context.make_array(t)(context, builder, v) if isinstance(t, types.Array) else None
                for t, v in zip(signature.args[:6], args[:6]))
            a_step, row0, col0 = args[2], args[6], args[7]
            intp = context.get_value_type(types.intp)
            vec = ir.VectorType(ir.FloatType(), VECTOR)
            fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vec, [vec, vec, vec]),
                                                 "llvm.fma.v16f32")

            def const(v):
                return ir.Constant(intp, v)

            def pointer(byte_address, pointee):
                return builder.inttoptr(byte_address, pointee.as_pointer())

            def offset(offsets_arr, i):
                return builder.load(builder.gep(offsets_arr.data, [i]))

            a_start = [builder.add(builder.ptrtoint(a_arr.data, intp), offset(a_offsets_arr, builder.add(row0, const(i))))
                       for i in range(TILE_ROWS)]
            b_start = builder.add(builder.ptrtoint(b_arr.data, intp), builder.mul(col0, const(4)))
            depth = cgutils.unpack_tuple(builder, b_offsets_arr.shape, 1)[0]
            acc = [[cgutils.alloca_once_value(builder, ir.Constant(vec, [0.0] * VECTOR))
                    for _ in range(vectors)] for _ in range(TILE_ROWS)]
            splat = ir.Constant(ir.VectorType(ir.IntType(32), VECTOR), [0] * VECTOR)
            with cgutils.for_range(builder, depth) as loop:
                k = loop.index
                b_row = builder.add(b_start, offset(b_offsets_arr, k))
                b_vec = [builder.load(pointer(builder.add(b_row, const(4 * VECTOR * v)), vec), align=4)
                         for v in range(vectors)]
                a_k = builder.mul(k, a_step)
                for i in range(TILE_ROWS):
                    a_ik = builder.load(pointer(builder.add(a_start[i], a_k), ir.FloatType()))
                    a_vec = builder.insert_element(ir.Constant(vec, ir.Undefined), a_ik, ir.Constant(ir.IntType(32), 0))
                    a_vec = builder.shuffle_vector(a_vec, ir.Constant(vec, ir.Undefined), splat)
                    for v in range(vectors):
                        builder.store(builder.call(fma, [a_vec, b_vec[v], builder.load(acc[i][v])]), acc[i][v])
            c_data = builder.ptrtoint(c_arr.data, intp)
            c_row_step = cgutils.unpack_tuple(builder, c_arr.strides, 2)[0]
            for i in range(TILE_ROWS):
                c_row = builder.add(c_data, builder.mul(builder.add(row0, const(i)), c_row_step))
                for v in range(vectors):
                    target = builder.add(c_row, builder.mul(builder.add(col0, const(VECTOR * v)), const(4)))
                    builder.store(builder.load(acc[i][v]), pointer(target, vec), align=4)
            return context.get_dummy_value()
        return types.void(a, a_offsets, a_step, b, b_offsets, c, m0, n0), codegen
    return tile


@intrinsic
def _at(typingctx, array, byte_offset):
    """The float32 ``byte_offset`` bytes after ``array``'s first value (no bounds checked)."""
    if not (isinstance(array, types.Array) and array.dtype == types.float32 and isinstance(byte_offset, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        intp = context.get_value_type(types.intp)
        address = builder.add(builder.ptrtoint(data, intp), args[1])
        return builder.load(builder.inttoptr(address, ir.FloatType().as_pointer()))
    return types.float32(array, byte_offset), codegen


_tile_48 = _tile_kernel(3)
_tile_32 = _tile_kernel(2)
_tile_16 = _tile_kernel(1)


@njit(cache=True)
def sgemm(a, b, c):
    """Write A·B into C: a (M, K), b (K, N), c (M, N), all float32; b's and c's rows contiguous.

    Any strides otherwise (a transposed view for A, a block of columns for C). C must not overlap
    A or B. This is :func:`gemm_rows` with the rows of two matrices.
    """
    m, depth = a.shape
    n = b.shape[1]
    if b.shape[0] != depth or c.shape[0] != m or c.shape[1] != n:
        raise ValueError("sgemm: shapes do not match")
    if n > 1 and ((b.size and b.strides[1] != 4) or (c.size and c.strides[1] != 4)):   # whole vectors
        raise ValueError("sgemm: b and c need contiguous rows")
    a_offsets = np.arange(m) * np.int64(a.strides[0])
    b_offsets = np.arange(depth) * np.int64(b.strides[0])
    _gemm(a, a_offsets, a.strides[1], b, b_offsets, c)


@njit(cache=True)
def gemm_rows(a, a_offsets, a_step, b, b_offsets, c):
    """Write A·B into C, A's and B's rows found through byte offsets into ``a`` and ``b``: an implicit GEMM.

    A's row m starts ``a_offsets[m]`` bytes after ``a``'s first float, its K values ``a_step`` bytes
    apart; B's row k starts ``b_offsets[k]`` bytes after ``b``'s first float, its N values adjacent;
    K = len(b_offsets), (M, N) = c.shape. ``a`` and ``b`` are C-contiguous float32 arrays of any
    shape; the offsets C-contiguous int64 arrays of whole floats (multiples of 4), and so is
    ``a_step``; every value the rows name must lie inside ``a`` and ``b`` (all checked: a
    ValueError otherwise). c's rows contiguous, not overlapping a or b.

    With offsets of a k×k receptive field's values in an image, B is φ of the image (or A is,
    along K) without φ being written: :class:`vcnn.Conv2D` through :mod:`kernels.fields`
    (``docs/HOW-VCNN-WORKS.md``, section 7).
    """
    check_rows(a, a_offsets, a_step, b, b_offsets, c)
    _gemm(a, a_offsets, a_step, b, b_offsets, c)


@njit(cache=True)
def check_rows(a, a_offsets, a_step, b, b_offsets, c):
    """Raise ValueError unless :func:`gemm_rows` may run on these operands (see there)."""
    m, n = c.shape
    depth = b_offsets.shape[0]
    if a_offsets.shape[0] != m:
        raise ValueError("gemm_rows: a_offsets must have one offset per row of c")
    if not (a.flags.c_contiguous and b.flags.c_contiguous) or (n > 1 and c.size and c.strides[1] != 4):
        raise ValueError("gemm_rows: a and b must be C-contiguous and c's rows contiguous")
    if m and depth:                    # written so that no sum can overflow, whatever the offsets
        room = a.nbytes - 4 - a_offsets.max()               # bytes after the start of the last-starting row
        if a_step < 0 or a_step % 4 or a_offsets.min() < 0 or room < 0 or (a_step and depth - 1 > room // a_step):
            raise ValueError("gemm_rows: a row of A reaches outside a, or a_step is not whole floats")
        if n and (b_offsets.min() < 0 or b_offsets.max() > b.nbytes - 4 * n):
            raise ValueError("gemm_rows: a row of B reaches outside b")
        if not (_whole_floats(a_offsets) and _whole_floats(b_offsets)):
            raise ValueError("gemm_rows: an offset is not a whole number of floats (4 bytes)")


@njit(cache=True)
def _whole_floats(offsets):
    """Whether every byte offset is a multiple of 4 (starts a float32)."""
    for offset in offsets:
        if offset % 4:
            return False
    return True


@njit(cache=True)
def _gemm(a, a_offsets, a_step, b, b_offsets, c):
    """The loops around the tile (:func:`gemm_rows`, unchecked). The last < 8 rows of C take tiles
    too, on A's rows copied into 8 rows padded with zeros, so that every element of C is the same
    fused multiply-adds in the same k order wherever it lies."""
    m = c.shape[0]
    rows = m - m % TILE_ROWS
    _row_blocks(a, a_offsets, a_step, b, b_offsets, c, rows)
    if rows == m:
        return
    depth = b_offsets.shape[0]
    a_pad = np.zeros((TILE_ROWS, depth), np.float32)
    for i in range(m - rows):
        for p in range(depth):
            a_pad[i, p] = _at(a, a_offsets[rows + i] + p * a_step)
    c_pad = np.empty((TILE_ROWS, c.shape[1]), np.float32)
    _row_blocks(a_pad, np.arange(TILE_ROWS) * np.int64(4 * depth), 4, b, b_offsets, c_pad, TILE_ROWS)
    c[rows:] = c_pad[:m - rows]


@njit(cache=True)
def _row_blocks(a, a_offsets, a_step, b, b_offsets, c, rows):
    """C's first ``rows`` rows (a multiple of 8), 8 at a time: tiles of 8×48, then one of 8×32 or 8×16,
    and the last < 16 columns in one more 8×16 tile on a zero-padded copy of them."""
    n = c.shape[1]
    depth = b_offsets.shape[0]
    cols_48 = n - n % 48
    cols_16 = n - n % VECTOR
    for m0 in range(0, rows, TILE_ROWS):              # C row block by row block: its rows written in order
        for n0 in range(0, cols_48, 48):
            _tile_48(a, a_offsets, a_step, b, b_offsets, c, m0, n0)
        n0 = cols_48
        if cols_16 - n0 >= 2 * VECTOR:                 # 32 of the last < 48 columns in one tile
            _tile_32(a, a_offsets, a_step, b, b_offsets, c, m0, n0)
            n0 += 2 * VECTOR
        if n0 < cols_16:
            _tile_16(a, a_offsets, a_step, b, b_offsets, c, m0, n0)
    if cols_16 < n and rows > 0:
        b_pad = np.zeros((depth, VECTOR), np.float32)
        for p in range(depth):
            for j in range(n - cols_16):
                b_pad[p, j] = _at(b, b_offsets[p] + 4 * (cols_16 + j))
        c_pad = np.empty((rows, VECTOR), np.float32)
        pad_offsets = np.arange(depth) * np.int64(4 * VECTOR)
        for m0 in range(0, rows, TILE_ROWS):
            _tile_16(a, a_offsets, a_step, b_pad, pad_offsets, c_pad, m0, 0)
        c[:rows, cols_16:] = c_pad[:, :n - cols_16]
