"""VCNN: a vectorized convolutional neural network engine in NumPy + Numba.

A convolution is one matrix product over φ(x), the matrix of receptive fields
(Ren & Xu, "On vectorization of deep convolutional neural networks for vision
tasks", AAAI 2015). See docs/HOW-VCNN-WORKS.md for a walk-through.
"""
from vcnn import im2col_gemm, naive, winograd
from vcnn.gradcheck import check_layer, numerical_gradient
from vcnn.layers import Conv2D, FullConv2D, ReLU, layer_from_spec
from vcnn.losses import sigmoid, sigmoid_cross_entropy, squared_error
from vcnn.modelfile import load_arrays, load_network, save_arrays, save_network
from vcnn.network import Network
from vcnn.phi import phi, phi_adjoint
from vcnn.sgd import SGD

__all__ = [
    "phi", "phi_adjoint", "Conv2D", "FullConv2D", "ReLU", "layer_from_spec", "Network",
    "squared_error", "sigmoid_cross_entropy", "sigmoid", "SGD",
    "save_arrays", "load_arrays", "save_network", "load_network",
    "check_layer", "numerical_gradient", "naive", "im2col_gemm", "winograd",
]
