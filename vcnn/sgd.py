"""Plain mini-batch SGD, with momentum and weight decay as options (off by default)."""
import numpy as np


class SGD:
    """Update every parameter in place from its gradient.

    Parameters
    ----------
    parameters : list of (name, value, gradient)
        As returned by ``Network.parameters()``.
    lr : float
    momentum : float, default 0
    weight_decay : float, default 0

    Notes
    -----
    ``g = dW + weight_decay·W``; with momentum, ``v ← momentum·v - lr·g`` and
    ``W ← W + v``; without, ``W ← W - lr·g``. The velocities are part of the
    optimiser's state (``state()`` / ``load_state()``) so that a resumed run
    continues exactly. There is no ``zero_grad``: every layer's backward
    overwrites its gradients, so a step uses the last backward's alone.
    """

    def __init__(self, parameters, lr: float, momentum: float = 0.0, weight_decay: float = 0.0):
        if not lr > 0:
            raise ValueError(f"learning rate must be > 0, got {lr}")
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        if weight_decay < 0:
            raise ValueError(f"weight decay must be >= 0, got {weight_decay}")
        self.parameters = list(parameters)
        self.lr, self.momentum, self.weight_decay = float(lr), float(momentum), float(weight_decay)
        self.velocity = {name: np.zeros_like(value) for name, value, _ in self.parameters} if momentum else {}

    def step(self):
        for name, value, grad in self.parameters:
            g = grad + self.weight_decay * value if self.weight_decay else grad
            if self.momentum:
                v = self.velocity[name]
                v *= self.momentum
                v -= self.lr * g
                value += v
            else:
                value -= self.lr * g

    def state(self) -> dict:
        """The velocities, named ``"velocity.<parameter name>"``."""
        return {f"velocity.{name}": v for name, v in self.velocity.items()}

    def load_state(self, arrays: dict):
        for name, v in self.velocity.items():
            v[...] = arrays[f"velocity.{name}"]
