"""Validation shared by the public functions of vcnn (the public boundary)."""
import numpy as np

FLOAT_DTYPES = (np.float32, np.float64)


def as_nchw(x, name="x", channels=None, dtype=None):
    """Return ``x`` as a C-contiguous float (N, C, H, W) array, or raise.

    Non-contiguous input is copied; anything else that is wrong raises a
    ``ValueError`` naming what was expected and what arrived.
    """
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"{name} must be (N, C, H, W), got shape {x.shape}")
    if x.dtype not in FLOAT_DTYPES:
        raise ValueError(f"{name} must be float32 or float64, got {x.dtype}")
    if dtype is not None and x.dtype != dtype:
        raise ValueError(f"{name} must be {np.dtype(dtype)} like the layer's weights, got {x.dtype}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} is an empty batch (N = 0), shape {x.shape}")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"{name} must have {channels} channels, got shape {x.shape}")
    return np.ascontiguousarray(x)


def check_kernel_size(k, height, width):
    """``k`` must be a positive int no larger than the image."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"kernel size k must be a positive integer, got {k!r}")
    if k > height or k > width:
        raise ValueError(f"kernel size k={k} is larger than the {height}x{width} image")
    return int(k)


def check_conv(x, W, name):
    """``(x, W)`` of a k×k convolution, checked: W is (C_out, C_in, k, k), x an (N, C_in, H, W)
    batch of W's dtype, with k no larger than the image."""
    W = np.ascontiguousarray(W)
    if W.ndim != 4 or W.shape[2] != W.shape[3]:
        raise ValueError(f"{name}: W must be (C_out, C_in, k, k), got shape {W.shape}")
    x = as_nchw(x, channels=W.shape[1], dtype=W.dtype)
    check_kernel_size(W.shape[2], x.shape[2], x.shape[3])
    return x, W
