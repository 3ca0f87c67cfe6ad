"""FLOPs per sample of a Keras model, counted analytically from its layer shapes.

Convention (the one matmul peaks are quoted in): one multiply-add = 2 FLOPs, counted for the
layers that are matrix products: ``Dense``, ``Conv2D`` and ``Conv2DTranspose``. Biases,
activations, pooling, upsampling, the loss and the optimizer update are elementwise and left
out (for the models here they add ~2% to the forward count; TF's profiler, which counts
them, is the cross-check in ``tests/test_bench.py``).

Training costs about 3x the forward pass: the backward pass computes, per matrix product, one
product for the input gradient and one for the weight gradient, each as large as the forward
one (the first layer's input gradient is not needed, so 3x slightly over-counts).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

TRAINING_FACTOR = 3  # forward + backward ~= 3x forward (see the module docstring)


def dense_flops(n_in: int, n_out: int) -> int:
    """``2 * n_in * n_out``: a ``[1, n_in] @ [n_in, n_out]`` product, per sample."""
    return 2 * int(n_in) * int(n_out)


def conv2d_flops(out_hw: Sequence[int], kernel_hw: Sequence[int], c_in: int, c_out: int) -> int:
    """Per sample: every output value ``[H_out, W_out, C_out]`` is a dot product of length
    ``k_h * k_w * C_in`` (padding counted as multiplications by zero, as the kernels do)."""
    return 2 * math.prod(out_hw) * int(c_out) * math.prod(kernel_hw) * int(c_in)


def conv2d_transpose_flops(in_hw: Sequence[int], kernel_hw: Sequence[int], c_in: int, c_out: int) -> int:
    """Per sample: every input value ``[H_in, W_in, C_in]`` is scattered into ``k_h * k_w * C_out``
    outputs (the transposed convolution is the input gradient of a convolution)."""
    return 2 * math.prod(in_hw) * int(c_in) * math.prod(kernel_hw) * int(c_out)


def _shape(tensor: Any) -> tuple[int, ...]:
    return tuple(int(d) for d in tuple(tensor.shape)[1:])  # without the batch axis


def layer_flops(layer: Any) -> int:
    """Forward FLOPs per sample of one built Keras layer (0 for the elementwise ones).

    Reads the layer's symbolic input/output shapes, so the layer must belong to a
    functional model (as every layer of :mod:`aecore.models` and :mod:`aecore.vae` does).
    """
    from keras import layers

    if isinstance(layer, layers.Dense):
        n_in = _shape(layer.input)[-1]
        return dense_flops(n_in, layer.units) * math.prod(_shape(layer.input)[:-1])
    if isinstance(layer, layers.Conv2DTranspose):  # before Conv2D: it may subclass it
        h, w, c_in = _shape(layer.input)
        return conv2d_transpose_flops((h, w), layer.kernel_size, c_in, layer.filters)
    if isinstance(layer, layers.Conv2D):
        _, _, c_in = _shape(layer.input)
        h, w, c_out = _shape(layer.output)
        return conv2d_flops((h, w), layer.kernel_size, c_in, c_out)
    return 0


def forward_flops(model: Any) -> int:
    """Forward FLOPs per sample of ``model``, recursing into nested models (encoder, decoder)."""
    import keras

    total = 0
    for layer in model.layers:
        total += forward_flops(layer) if isinstance(layer, keras.Model) else layer_flops(layer)
    return total


def training_flops(model: Any) -> int:
    """FLOPs per training sample: :data:`TRAINING_FACTOR` x :func:`forward_flops`."""
    return TRAINING_FACTOR * forward_flops(model)
