"""A NetworkSpec as a trainable float model: init, forward, backward, export.

Parameters are a dict {'<layer>.weight', '<layer>.bias'} in the shapes of
spec.weight_shape, the keys quantize.load_params reads.  The forward pass
follows the spec layer by layer (conv/fc with their fused ReLU, maxpool,
LRN), the same arithmetic as quantize.float_forward; dropout (train only)
may follow the ReLU of named fc layers.

Input scaling: training feeds x = (pixel - mean) * INPUT_SCALE, which keeps
the He-initialised activations near unit size (|pixel - mean| < 2**8).  The
engine and float_forward read (pixel - mean) unscaled, so ``export`` folds
INPUT_SCALE into the first conv's weights; the factor is a power of two, so
the fold is exact in binary floating point and the exported float64 network
computes exactly what the trained one did.
"""
from __future__ import annotations

import math

import numpy as np

from ..spec import NetworkSpec, layer_shapes
from . import layers as L

INPUT_SCALE = 2.0 ** -6     # (pixel - mean) / 64: std of CIFAR-10 pixels about the mean is ~64
CLASSIFIER_STD = 0.01       # Caffe cifar10_full's init std of its classifier (ip1)


def init_params(spec: NetworkSpec, rng: np.random.Generator, dtype=np.float32) -> dict:
    """He-normal weights (He et al., ICCV 2015: std = sqrt(2 / fan_in), fan_in =
    Cin/groups*kh*kw or Nin), zero biases, drawn in layer order from ``rng``.
    The last (classifier) layer gets std CLASSIFIER_STD instead, so the initial
    logits are near zero and the initial loss near log(classes)."""
    params = {}
    last = [s for s in layer_shapes(spec) if s.weight_shape][-1].layer.name
    for s in layer_shapes(spec):
        if not s.weight_shape:
            continue
        std = CLASSIFIER_STD if s.layer.name == last else math.sqrt(2.0 / s.reduction)
        w = rng.standard_normal(s.weight_shape, dtype=np.float64) * std
        params[f"{s.layer.name}.weight"] = w.astype(dtype)
        params[f"{s.layer.name}.bias"] = np.zeros(s.layer.out_channels, dtype=dtype)
    return params


def pixels_to_input(pixels: np.ndarray, spec: NetworkSpec, dtype=np.float32) -> np.ndarray:
    """uint8 (N, 3, H, W) -> training input (pixel - mean) * INPUT_SCALE."""
    mean = np.asarray(spec.input_mean, dtype=np.float64).reshape(1, -1, 1, 1)
    return ((pixels.astype(np.float64) - mean) * INPUT_SCALE).astype(dtype)


def forward(spec: NetworkSpec, params: dict, x: np.ndarray, *, train: bool = False, rng=None,
            dropout: dict | None = None):
    """x (N, 3, H, W) training input -> (logits (N, classes), caches for backward).

    dropout : {fc layer name: drop probability}, applied after its ReLU when train.
    """
    caches = []
    dropout = dropout or {}
    for layer in spec.layers:
        if layer.kind == "conv":
            x, c = L.conv_forward(x, params[f"{layer.name}.weight"], params[f"{layer.name}.bias"],
                                  layer.stride, layer.pad, layer.groups)
        elif layer.kind == "fc":
            x, c = L.fc_forward(x, params[f"{layer.name}.weight"], params[f"{layer.name}.bias"])
        elif layer.kind == "maxpool":
            x, c = L.maxpool_forward(x, layer.kernel, layer.stride, layer.pad)
        elif layer.kind == "lrn":
            x, c = L.lrn_forward(x, layer.lrn_size, layer.lrn_alpha, layer.lrn_beta, layer.lrn_k)
        else:
            raise ValueError(f"layer {layer.name}: kind {layer.kind} is not trainable here")
        r = d = None
        if layer.relu:
            x, r = L.relu_forward(x)
        if train and dropout.get(layer.name, 0):
            x, d = L.dropout_forward(x, dropout[layer.name], rng)
        caches.append((layer, c, r, d))
    return x.reshape(x.shape[0], -1), caches


def backward(dlogits: np.ndarray, caches: list) -> dict:
    """Gradients {'<layer>.weight', '<layer>.bias'} of the loss whose gradient
    with respect to the logits is ``dlogits``."""
    grads = {}
    d = dlogits
    for layer, c, r, drop in reversed(caches):
        d = L.dropout_backward(d, drop)
        if r is not None:
            d = L.relu_backward(d.reshape(r.shape), r)
        if layer.kind == "conv":
            d, grads[f"{layer.name}.weight"], grads[f"{layer.name}.bias"] = L.conv_backward(d, c)
        elif layer.kind == "fc":
            d, grads[f"{layer.name}.weight"], grads[f"{layer.name}.bias"] = L.fc_backward(d.reshape(d.shape[0], -1), c)
        elif layer.kind == "maxpool":
            d = L.maxpool_backward(d.reshape(c[1].shape), c)
        elif layer.kind == "lrn":
            d = L.lrn_backward(d.reshape(c[0].shape), c)
    return grads


def export(spec: NetworkSpec, params: dict) -> dict:
    """float32 params for quantize/float_forward: INPUT_SCALE folded into the
    first conv's weights (exact: a power of two)."""
    out = {k: np.asarray(v, dtype=np.float32).copy() for k, v in params.items()}
    first = next(l for l in spec.layers if l.weighted)
    out[f"{first.name}.weight"] *= np.float32(INPUT_SCALE)
    return out
