"""Layers. One contract: ``forward(x) -> y`` keeps what backward needs,
``backward(dy) -> dx`` fills the gradients ``dW`` and ``db`` (overwriting them:
gradients are not accumulated across calls). ``backward(dy, need_dx=False)``
fills them and returns None: the network's input needs no gradient, and for
the first layer dX is a whole GEMM and a φᵀ that training would throw away.

Activations are (N, C, H, W) arrays. A layer computes in the dtype of its
weights (float32 by default; float64 for gradient checks) and refuses input
of another dtype. ``backward`` consumes what ``forward`` kept: call it once
per forward.
"""
import numpy as np

import kernels
from vcnn._checks import as_nchw, check_kernel_size
from vcnn.phi import phi, phi_adjoint


def _rng(rng):
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


class _KeptBuffers:
    """Scratch memory a layer keeps from batch to batch.

    Every step of training has the same shapes, so a layer that writes into
    the arrays of the previous step writes into memory that is already mapped;
    a fresh array of megabytes costs one page fault per 4 KB page and the
    kernel zeroing it (measured: 18 % of a training step of ``deep8``).
    """

    def _buffer(self, name, shape, dtype=None):
        """A C-contiguous array of ``shape``, carved from the memory kept under ``name`` (grown on demand)."""
        dtype = np.dtype(self.W.dtype if dtype is None else dtype)
        store = self.__dict__.setdefault("_scratch", {})
        size = int(np.prod(shape))
        flat = store.get(name)
        if flat is None or flat.size < size or flat.dtype != dtype:
            flat = store[name] = np.empty(size, dtype=dtype)
        return flat[:size].reshape(shape)


def _weight_gradient(dY, cols, dW):
    """dW = dY · colsᵀ, computed as its transpose cols · dYᵀ and copied into ``dW``.

    Both products sum over the long N·Ho·Wo axis; OpenBLAS runs the one whose
    output rows are those of φ 1.6-2.5× faster when C_out is 64-128 (it splits
    that output better over threads), and no slower at 512. The transposed
    result is small: (C_in·k·k, C_out).
    """
    dW[...] = np.matmul(cols, dY.T).T


class Conv2D(_KeptBuffers):
    """Valid k×k cross-correlation, stride 1, as one GEMM per batch over φ.

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
        the reshuffle that adds the bias, and backward takes dL/dy of that
        rectified output and masks it (dY = dy · [y > 0]) in the reshuffle
        that sums db. Two passes over the activations fewer per step;
        :class:`vcnn.Network` sets it on every Conv2D that a ReLU follows.

    Notes
    -----
    Output shape (N, C_out, H - k + 1, W - k + 1). No kernel flip, as in VCNN
    and every framework. forward keeps ``cols = φ(x)`` (the largest buffer of
    the layer); backward needs it for dW and then reuses the same memory for
    ``Wᵀ · dY``, so one im2col-sized buffer serves the whole step. Likewise
    one (C_out, N·Ho·Wo) buffer holds Y in forward and dY in backward.
    Both are kept from batch to batch (and grown when a batch needs more), so
    a step writes into memory that is already mapped instead of having the
    kernel zero fresh pages (682 MB for φ at the paper's layer 2, batch 8).
    So are y and dx: **the arrays forward and backward return are the
    layer's own, overwritten by its next call** (copy one to keep it).
    """

    def __init__(self, c_in: int, c_out: int, k: int, rng=None, dtype=np.float32, relu: bool = False):
        self.c_in, self.c_out, self.k = int(c_in), int(c_out), int(k)
        self.relu = bool(relu)
        fan_in = self.c_in * self.k * self.k
        self.W = (_rng(rng).standard_normal((c_out, c_in, k, k)) * np.sqrt(2.0 / fan_in)).astype(dtype)
        self.b = np.zeros(c_out, dtype=dtype)
        self.dW = np.zeros_like(self.W)
        self.db = np.zeros_like(self.b)
        self.cols = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_nchw(x, channels=self.c_in, dtype=self.W.dtype)
        n, _, h, w = x.shape
        k = check_kernel_size(self.k, h, w)
        self.x_shape = x.shape
        positions = n * (h - k + 1) * (w - k + 1)
        self.cols = phi(x, k, out=self._buffer("cols", (self.c_in * k * k, positions)))
        Y = np.matmul(self.W.reshape(self.c_out, -1), self.cols,               # now the conv is a GEMM
                      out=self._buffer("rows", (self.c_out, positions)))
        self.y = self._buffer("y", (n, self.c_out, h - k + 1, w - k + 1))
        kernels.bias_to_nchw(Y, self.b, self.y.reshape(n, self.c_out, -1), self.relu)
        return self.y

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> np.ndarray | None:
        if self.cols is None:
            raise RuntimeError("Conv2D.backward needs a forward first (and runs once per forward)")
        n, _, h, w = self.x_shape
        dy = as_nchw(dy, "dy", dtype=self.W.dtype)
        expected = (n, self.c_out, h - self.k + 1, w - self.k + 1)
        if dy.shape != expected:
            raise ValueError(f"dy must have shape {expected}, got {dy.shape}")
        dY = self._buffer("rows", (self.c_out, self.cols.shape[1]))           # Y is spent: same memory
        kernels.nchw_to_rows(dy.reshape(n, self.c_out, -1), dY, self.db,
                             self.y.reshape(n, self.c_out, -1) if self.relu else None)
        W = self.W.reshape(self.c_out, -1)
        _weight_gradient(dY, self.cols, self.dW.reshape(self.c_out, -1))
        if not need_dx:
            self.cols = None
            return None
        dcols = np.matmul(W.T, dY, out=self.cols)                # φ(X) is spent: reuse its memory
        self.cols = None
        return phi_adjoint(dcols, self.x_shape, self.k, out=self._buffer("dx", self.x_shape))

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

    where φ₁ is the 1×1 φ (a transpose). Output shape (N, C_out, H + k - 1, W + k - 1).
    P, dP and φ₁(X) share memory kept from batch to batch, as in :class:`Conv2D`;
    the output y is a fresh array, dx the layer's own (overwritten by its next call).
    With k = 8 it takes the 49×49 maps of the colorization net to 56×56.

    Parameters
    ----------
    c_in, c_out, k : int
    rng : None, int or numpy.random.Generator
        Seeds ``W ~ N(0, 1 / c_in)`` (no ReLU follows this layer); b = 0.
    dtype : float32 (default) or float64
    """

    def __init__(self, c_in: int, c_out: int, k: int, rng=None, dtype=np.float32):
        self.c_in, self.c_out, self.k = int(c_in), int(c_out), int(k)
        check_kernel_size(self.k, self.k, self.k)
        shape = (self.c_out * self.k * self.k, self.c_in)
        self.W = (_rng(rng).standard_normal(shape) * np.sqrt(1.0 / self.c_in)).astype(dtype)
        self.b = np.zeros(shape[0], dtype=dtype)
        self.dW = np.zeros_like(self.W)
        self.db = np.zeros_like(self.b)
        self.x_cols = None

    def _counts(self, h, w):
        """How many k×k predictions cover each output pixel, shape (H+k-1, W+k-1)."""
        ones = np.ones((self.k * self.k, h * w), dtype=self.W.dtype)
        return phi_adjoint(ones, (1, 1, h + self.k - 1, w + self.k - 1), self.k)[0, 0]

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_nchw(x, channels=self.c_in, dtype=self.W.dtype)
        n, _, h, w = x.shape
        self.x_shape = x.shape
        self.out_shape = (n, self.c_out, h + self.k - 1, w + self.k - 1)
        if getattr(self, "counts", None) is None or self.counts.shape != self.out_shape[2:]:
            self.counts = self._counts(h, w)     # depends on the image size only: computed once per size
        positions = n * h * w
        self.x_cols = phi(x, 1, out=self._buffer("x_cols", (self.c_in, positions)))
        P = np.matmul(self.W, self.x_cols, out=self._buffer("P", (self.W.shape[0], positions)))
        P += self.b[:, None]
        y = phi_adjoint(P, self.out_shape, self.k, out=self._buffer("y", self.out_shape))
        return y / self.counts          # a fresh array: the network's output, which callers keep

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> np.ndarray | None:
        if self.x_cols is None:
            raise RuntimeError("FullConv2D.backward needs a forward first (and runs once per forward)")
        dy = as_nchw(dy, "dy", dtype=self.W.dtype)
        if dy.shape != self.out_shape:
            raise ValueError(f"dy must have shape {self.out_shape}, got {dy.shape}")
        g = np.divide(dy, self.counts, out=self._buffer("y", dy.shape))
        dP = phi(g, self.k, out=self._buffer("P", (self.W.shape[0], self.x_cols.shape[1])))   # P is spent
        _weight_gradient(dP, self.x_cols, self.dW)
        np.sum(dP, axis=1, out=self.db)
        x_cols, self.x_cols = self.x_cols, None
        if not need_dx:
            return None
        dx_cols = np.matmul(self.W.T, dP, out=x_cols)           # φ₁(X) is spent: reuse its memory
        return phi_adjoint(dx_cols, self.x_shape, 1, out=self._buffer("dx", self.x_shape))

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
