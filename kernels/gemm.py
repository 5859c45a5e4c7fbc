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
rows a loop whose multiply-adds LLVM fuses (``fastmath`` "contract"), so
that every C element is Σ_k A[i, k]·B[k, j] summed in k order with one
rounding per multiply-add, wherever it lies.

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
    """An intrinsic ``tile(a, b, c, m0, n0)``: C[m0:m0+8, n0:n0+16·vectors] = A[m0:m0+8, :] · B[:, n0:...].

    Strides are read from the arrays (bytes), so A may be any 2-D view; B's and C's rows must be
    contiguous (checked by :func:`sgemm`). No bounds are checked here.
    """
    @intrinsic
    def tile(typingctx, a, b, c, m0, n0):
        arrays_ok = all(isinstance(t, types.Array) and t.dtype == types.float32 and t.ndim == 2 for t in (a, b, c))
        if not (arrays_ok and isinstance(m0, types.Integer) and isinstance(n0, types.Integer)):
            return None                       # float32 matrices only: anything else is a typing error

        def codegen(context, builder, signature, args):
            a_arr, b_arr, c_arr = (context.make_array(t)(context, builder, v)
                                   for t, v in zip(signature.args[:3], args[:3]))
            row0, col0 = args[3], args[4]
            intp = context.get_value_type(types.intp)
            vec = ir.VectorType(ir.FloatType(), VECTOR)
            fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vec, [vec, vec, vec]),
                                                 "llvm.fma.v16f32")

            def address(arr, pointee, i, j):
                """Pointer to arr[i, j] as ``pointee*``: data + i·stride0 + j·stride1 bytes."""
                s0, s1 = cgutils.unpack_tuple(builder, arr.strides, 2)
                offset = builder.add(builder.mul(i, s0), builder.mul(j, s1))
                return builder.inttoptr(builder.add(builder.ptrtoint(arr.data, intp), offset), pointee.as_pointer())

            def const(v):
                return ir.Constant(intp, v)

            depth = cgutils.unpack_tuple(builder, a_arr.shape, 2)[1]
            acc = [[cgutils.alloca_once_value(builder, ir.Constant(vec, [0.0] * VECTOR))
                    for _ in range(vectors)] for _ in range(TILE_ROWS)]
            splat = ir.Constant(ir.VectorType(ir.IntType(32), VECTOR), [0] * VECTOR)
            with cgutils.for_range(builder, depth) as loop:
                k = loop.index
                b_row = [builder.load(address(b_arr, vec, k, builder.add(col0, const(VECTOR * v))), align=4)
                         for v in range(vectors)]
                for i in range(TILE_ROWS):
                    a_ik = builder.load(address(a_arr, ir.FloatType(), builder.add(row0, const(i)), k))
                    a_vec = builder.insert_element(ir.Constant(vec, ir.Undefined), a_ik, ir.Constant(ir.IntType(32), 0))
                    a_vec = builder.shuffle_vector(a_vec, ir.Constant(vec, ir.Undefined), splat)
                    for v in range(vectors):
                        builder.store(builder.call(fma, [a_vec, b_row[v], builder.load(acc[i][v])]), acc[i][v])
            for i in range(TILE_ROWS):
                for v in range(vectors):
                    target = address(c_arr, vec, builder.add(row0, const(i)), builder.add(col0, const(VECTOR * v)))
                    builder.store(builder.load(acc[i][v]), target, align=4)
            return context.get_dummy_value()
        return types.void(a, b, c, m0, n0), codegen
    return tile


_tile_48 = _tile_kernel(3)
_tile_32 = _tile_kernel(2)
_tile_16 = _tile_kernel(1)


@njit(cache=True)
def sgemm(a, b, c):
    """Write A·B into C: a (M, K), b (K, N), c (M, N), all float32; b's and c's rows contiguous.

    Any strides otherwise (a transposed view for A, a block of columns for C).

    Tiles of 8×48, then one of 8×32 or 8×16, cover what they can; the last < 16 columns
    take one more 8×16 tile on a zero-padded copy of them, and the last < 8
    rows are summed row by row, in the same k order with the same fused
    multiply-adds. C must not overlap A or B.
    """
    m, depth = a.shape
    n = b.shape[1]
    if b.shape[0] != depth or c.shape[0] != m or c.shape[1] != n:
        raise ValueError("sgemm: shapes do not match")
    if n > 1 and ((b.size and b.strides[1] != 4) or (c.size and c.strides[1] != 4)):   # whole vectors
        raise ValueError("sgemm: b and c need contiguous rows")
    rows = m - m % TILE_ROWS
    cols_48 = n - n % 48
    cols_16 = n - n % VECTOR
    for m0 in range(0, rows, TILE_ROWS):              # C row block by row block: its rows written in order
        for n0 in range(0, cols_48, 48):
            _tile_48(a, b, c, m0, n0)
        n0 = cols_48
        if cols_16 - n0 >= 2 * VECTOR:                 # 32 of the last < 48 columns in one tile
            _tile_32(a, b, c, m0, n0)
            n0 += 2 * VECTOR
        if n0 < cols_16:
            _tile_16(a, b, c, m0, n0)
    if cols_16 < n and rows > 0:                       # the last < 16 columns: one tile on a zero-padded copy
        b_pad = np.zeros((depth, VECTOR), np.float32)
        b_pad[:, :n - cols_16] = b[:, cols_16:]
        c_pad = np.empty((rows, VECTOR), np.float32)
        for m0 in range(0, rows, TILE_ROWS):
            _tile_16(a, b_pad, c_pad, m0, 0)
        c[:rows, cols_16:] = c_pad[:, :n - cols_16]
    for i in range(rows, m):                           # the last < 8 rows, row by row
        _row_times(a[i], b, c[i])


@njit(cache=True, fastmath={"contract"})
def _row_times(a_row, b, out):
    """out = a_row · b, k by k, each step one fused multiply-add (``contract``), as in the tile."""
    for j in range(out.shape[0]):
        out[j] = 0.0
    for p in range(a_row.shape[0]):
        a_p = a_row[p]
        src = b[p]
        for j in range(out.shape[0]):
            out[j] += a_p * src[j]
