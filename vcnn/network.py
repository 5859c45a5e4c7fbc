"""A network: a sequence of layers, run forward in order and backward in reverse."""
import numpy as np

from vcnn.layers import Conv2D, ReLU, _KeptBuffers, layer_from_spec


class Network:
    """A sequence of layers with the layer contract itself.

    Parameters
    ----------
    layers : list
        Objects with ``forward``, ``backward``, ``parameters`` and ``spec``.

    Examples
    --------
    >>> from vcnn import Conv2D, ReLU
    >>> net = Network([Conv2D(1, 4, 3, rng=0), ReLU(), Conv2D(4, 2, 1, rng=1)])
    >>> net.forward(np.zeros((2, 1, 8, 8), np.float32)).shape
    (2, 2, 6, 6)
    >>> [name for name, _, _ in net.parameters()]
    ['0.W', '0.b', '2.W', '2.b']
    """

    def __init__(self, layers):
        self.layers = list(layers)
        # A ReLU right after a conv runs inside it (Conv2D.relu: bias, ReLU and the
        # reshuffle in one pass, and its mask in the backward reshuffle); ``steps``
        # is the list of layers as they run. The ReLU stays in ``layers`` and in
        # the spec: the model is the same, only the passes over memory are fewer.
        self.steps = []
        for layer in self.layers:
            if isinstance(layer, ReLU) and self.steps and type(self.steps[-1]) is Conv2D:
                self.steps[-1].relu = True
                continue
            self.steps.append(layer)
        # What a layer needs only inside one call (φ of a block, dY, the dW terms) is
        # shared by all the layers, and dx, read by the layer before and then dead, by
        # every other layer: one φ-sized buffer per network instead of one per layer.
        transient, dx = {}, ({}, {})
        for i, layer in enumerate(self.steps):
            if isinstance(layer, _KeptBuffers):
                layer.shared_stores = {"transient": transient, "dx": dx[i % 2]}

    @classmethod
    def from_spec(cls, specs, rng=None, dtype=np.float32) -> "Network":
        """Build from a list of layer specs; ``rng`` seeds every layer in turn."""
        if not isinstance(specs, (list, tuple)) or not specs:
            raise ValueError(f"an architecture is a non-empty list of layer specs, got {specs!r}")
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        return cls([layer_from_spec(spec, rng, dtype) for spec in specs])

    def spec(self) -> list:
        return [layer.spec() for layer in self.layers]

    def forward(self, x: np.ndarray) -> np.ndarray:
        for layer in self.steps:
            x = layer.forward(x)
        return x

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> np.ndarray | None:
        """Every layer's backward, last to first; returns dL/dx of the input, or None with
        ``need_dx=False`` (training: the first layer then skips its dX GEMM and φᵀ)."""
        for layer in reversed(self.steps[1:]):
            dy = layer.backward(dy)
        return self.steps[0].backward(dy, need_dx=need_dx)

    def parameters(self):
        """[(name, value, gradient)] for every parameter, named ``"<layer index>.<W|b>"``."""
        return [(f"{i}.{name}", value, grad)
                for i, layer in enumerate(self.layers)
                for name, value, grad in layer.parameters()]
