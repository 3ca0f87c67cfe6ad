"""The PyTorch contender: the same architectures, in a plain PyTorch training loop.

The PyTorch model is *translated* from the Keras model the other contenders train
(:func:`from_keras`), layer by layer, initial weights included, so the architecture and the
initialisation (Glorot-uniform kernels, zero biases, seed 0) are the same by construction,
and ``tests/test_bench.py`` checks that both give the same logits. PyTorch works in NCHW,
Keras in NHWC: the dense layers next to a ``Flatten`` / ``Reshape`` get their weights
permuted once, so no transpose runs per step; TF's asymmetric ``"same"`` padding of stride-2
convolutions becomes an explicit pad (or crop, for transposed convolutions).

The loop is what a PyTorch user writes: ``torch.randperm`` shuffling, slicing, forward,
``zero_grad(set_to_none=True)``, ``backward``, ``Adam.step`` (``eps=1e-7``, Keras' value), at
PyTorch's default thread count. Imports ``torch``, a benchmark-only dependency.
"""

from __future__ import annotations

import math
import time
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchmarks.tf_peers import SEED, VAE_MODELS, Knobs, Timing, _timing


class _Crop(nn.Module):
    """Keeps ``[..., :h, :w]`` (TF's transposed 'same' convolution drops the last row/column)."""

    def __init__(self, h: int, w: int) -> None:
        super().__init__()
        self.h, self.w = h, w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, :self.h, :self.w]


class _Reshape(nn.Module):
    def __init__(self, shape: Sequence[int]) -> None:
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.shape)


def _conv_geometry(layer: Any) -> tuple[int, int, int, int, int, int]:
    """Kernel size, strides and input height and width of a Keras (transposed) convolution;
    only 'same' padding without dilation is translated."""
    if layer.padding != "same" or tuple(layer.dilation_rate) != (1, 1):
        raise NotImplementedError(f"{layer.name}: only 'same' padding, no dilation")
    (kh, kw), (sh, sw) = layer.kernel_size, layer.strides
    h_in, w_in = (int(d) for d in layer.input.shape[1:3])
    return kh, kw, sh, sw, h_in, w_in


_ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid}


def _activation(layer: Any) -> list[nn.Module]:
    name = layer.activation.__name__
    if name == "linear":
        return []
    if name not in _ACTIVATIONS:
        raise NotImplementedError(f"activation {name!r} of layer {layer.name!r}")
    return [_ACTIVATIONS[name]()]


def _tf_same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """(before, after) padding of TF's ``"same"`` for one spatial axis of a convolution."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _nhwc_to_nchw_index(h: int, w: int, c: int) -> np.ndarray:
    """``perm[i_nchw] = i_nhwc``: where each NCHW-flattened position sits in Keras' NHWC flatten."""
    return np.arange(h * w * c).reshape(h, w, c).transpose(2, 0, 1).reshape(-1)


def _flat_layers(model: Any) -> list[Any]:
    import keras

    out: list[Any] = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            out.extend(_flat_layers(layer))
        elif not isinstance(layer, keras.layers.InputLayer):
            out.append(layer)
    return out


def from_keras(keras_model: Any) -> nn.Sequential:
    """A ``nn.Sequential`` computing what the chain of layers of ``keras_model`` computes, on
    NCHW tensors, with the Keras model's current weights copied in.

    Supports what :mod:`aecore.models` and :mod:`aecore.vae` use: ``Dense``, ``Conv2D``,
    ``Conv2DTranspose`` (``"same"`` padding), ``MaxPooling2D``, ``UpSampling2D``, ``Flatten``,
    ``Reshape`` and relu/sigmoid/linear activations.
    """
    from keras import layers as L

    chain = _flat_layers(keras_model)
    modules: list[nn.Module] = []
    in_perm: np.ndarray | None = None  # set by a Flatten of a [H, W, C] tensor
    for i, layer in enumerate(chain):
        weights = [w.numpy() for w in layer.weights]
        if isinstance(layer, L.Dense):
            kernel, bias = weights  # [in, out], [out]
            if in_perm is not None:
                kernel, in_perm = kernel[in_perm, :], None
            nxt = chain[i + 1] if i + 1 < len(chain) else None
            if isinstance(nxt, L.Reshape) and len(nxt.target_shape) == 3:
                out_perm = _nhwc_to_nchw_index(*nxt.target_shape)
                kernel, bias = kernel[:, out_perm], bias[out_perm]
            lin = nn.Linear(kernel.shape[0], kernel.shape[1])
            lin.weight.data.copy_(torch.from_numpy(kernel.T.copy()))
            lin.bias.data.copy_(torch.from_numpy(bias))
            modules += [lin, *_activation(layer)]
        elif isinstance(layer, L.Conv2DTranspose):
            kernel, bias = weights  # [kh, kw, out, in], [out]
            kh, kw, sh, sw, h_in, w_in = _conv_geometry(layer)
            pads = [_tf_same_padding(n * s, k, s) for n, k, s in ((h_in, kh, sh), (w_in, kw, sw))]
            symmetric = all(b == a for b, a in pads)
            conv = nn.ConvTranspose2d(kernel.shape[3], kernel.shape[2], (kh, kw), stride=(sh, sw),
                                      padding=tuple(b for b, _ in pads) if symmetric else 0)
            conv.weight.data.copy_(torch.from_numpy(kernel.transpose(3, 2, 0, 1).copy()))
            conv.bias.data.copy_(torch.from_numpy(bias))
            modules.append(conv)
            if not symmetric:
                if any(b != 0 for b, _ in pads):
                    raise NotImplementedError(f"{layer.name}: padding {pads}")
                modules.append(_Crop(h_in * sh, w_in * sw))
            modules += _activation(layer)
        elif isinstance(layer, L.Conv2D):
            kernel, bias = weights  # [kh, kw, in, out], [out]
            kh, kw, sh, sw, h_in, w_in = _conv_geometry(layer)
            (top, bottom), (left, right) = (_tf_same_padding(h_in, kh, sh), _tf_same_padding(w_in, kw, sw))
            if top == bottom and left == right:
                conv = nn.Conv2d(kernel.shape[2], kernel.shape[3], (kh, kw), stride=(sh, sw), padding=(top, left))
            else:
                modules.append(nn.ZeroPad2d((left, right, top, bottom)))
                conv = nn.Conv2d(kernel.shape[2], kernel.shape[3], (kh, kw), stride=(sh, sw))
            conv.weight.data.copy_(torch.from_numpy(kernel.transpose(3, 2, 0, 1).copy()))
            conv.bias.data.copy_(torch.from_numpy(bias))
            modules += [conv, *_activation(layer)]
        elif isinstance(layer, L.MaxPooling2D):
            h_in, w_in = (int(d) for d in layer.input.shape[1:3])
            if h_in % layer.pool_size[0] or w_in % layer.pool_size[1] or layer.strides != layer.pool_size:
                raise NotImplementedError(f"{layer.name}: pooling that needs padding")
            modules.append(nn.MaxPool2d(tuple(layer.pool_size)))
        elif isinstance(layer, L.UpSampling2D):
            if layer.interpolation != "nearest":
                raise NotImplementedError(f"{layer.name}: {layer.interpolation} upsampling")
            modules.append(nn.Upsample(scale_factor=tuple(float(s) for s in layer.size), mode="nearest"))
        elif isinstance(layer, L.Flatten):
            shape = tuple(int(d) for d in layer.input.shape[1:])
            if len(shape) == 3:
                in_perm = _nhwc_to_nchw_index(*shape)
            modules.append(nn.Flatten())
        elif isinstance(layer, L.Reshape):
            target = tuple(layer.target_shape)
            modules.append(_Reshape((target[2], target[0], target[1]) if len(target) == 3 else target))
        else:
            raise NotImplementedError(f"layer {layer.name!r} ({type(layer).__name__})")
    return nn.Sequential(*modules)


class TorchVAE(nn.Module):
    """Encoder -> (z_mean, z_log_var) -> reparameterised z -> decoder logits."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module) -> None:
        super().__init__()
        self.encoder, self.decoder = encoder, decoder

    def neg_elbo(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Batch mean of ``recon + KL`` in nats per image (``aecore.vae``'s default objective)."""
        z_mean, z_log_var = self.encoder(x).chunk(2, dim=1)  # [B, L] each
        eps = torch.randn(z_mean.shape, generator=generator)
        z = z_mean + torch.exp(0.5 * z_log_var) * eps
        logits = self.decoder(z)  # [B, 1, 28, 28]
        recon = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(dim=(1, 2, 3))  # [B]
        kl = 0.5 * (torch.exp(z_log_var) + z_mean.square() - 1.0 - z_log_var).sum(dim=1)  # [B]
        return (recon + kl).mean()


def build(model_name: str) -> nn.Module:
    """The PyTorch model for a benchmark model name, weights copied from aecore's seed-0 model."""
    from benchmarks.tf_peers import build_keras_model

    keras_model = build_keras_model(model_name)
    if model_name in VAE_MODELS:
        return TorchVAE(from_keras(keras_model.encoder), from_keras(keras_model.decoder))
    return from_keras(keras_model)


def torch_trial(model_name: str, x: np.ndarray, *, timed_epochs: int, knobs: Knobs) -> Timing:
    """The plain PyTorch loop; ``x`` is ``[N, 28, 28, 1]`` (converted to NCHW once, untimed)."""
    t0 = time.perf_counter()
    default_threads = torch.get_num_threads()
    if knobs.threads is not None:
        torch.set_num_threads(knobs.threads)
    try:
        return _train(model_name, x, timed_epochs=timed_epochs, batch_size=knobs.batch_size, t0=t0)
    finally:
        torch.set_num_threads(default_threads)


def _train(model_name: str, x: np.ndarray, *, timed_epochs: int, batch_size: int, t0: float) -> Timing:
    """Builds, then trains ``1 + timed_epochs`` epochs; the first is the untimed warm-up."""
    torch.manual_seed(SEED)
    model = build(model_name)
    model.train()
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))  # [N, 1, 28, 28]
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    generator = torch.Generator().manual_seed(SEED)
    n = xt.shape[0]
    is_vae = model_name in VAE_MODELS
    epoch_seconds: list[float] = []
    for _ in range(1 + timed_epochs):
        start = time.perf_counter()
        x_epoch = xt[torch.randperm(n, generator=generator)]
        for s in range(0, n, batch_size):
            xb = x_epoch[s:s + batch_size]
            if is_vae:
                loss = model.neg_elbo(xb, generator)
            else:  # mean over pixels and batch = the batch mean of nats per pixel
                loss = F.binary_cross_entropy_with_logits(model(xb), xb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        epoch_seconds.append(time.perf_counter() - start)
    return _timing(epoch_seconds, n, time.perf_counter() - t0)


def torch_matmul_gflops(n: int = 2048, repeats: int = 10) -> float:
    """Best-of-``repeats`` float32 ``[n, n] @ [n, n]`` in PyTorch, GFLOP/s (CPU ops are synchronous)."""
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(n, n, generator=g), torch.randn(n, n, generator=g)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n**3 / best / 1e9
