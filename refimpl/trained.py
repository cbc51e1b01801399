"""The shipped trained weights and their calibration set.

``alexnet-cifar`` ships float32 weights trained on CIFAR-10 by
tools/train_cifar.py (recipe and figures: README "Trained model") in
refimpl/data/alexnet-cifar.npz, and the 200 training images its activation
formats are calibrated on in refimpl/data/alexnet-cifar-calib.npz (every
250th training image in class order, train/<class>/0000, 0250, ..., 4750.jpg;
cut by tools/make_cifar_subsets.py).  Networks without shipped weights use
the seeded synthetic ones (quantize.synthetic_params).

Weight choice (the CLI's --weights): None -> the shipped weights when the
network has them, else synthetic; 'synthetic' -> synthetic; anything else is
an .npz path, or an ONNX model (``*.onnx``, refimpl.interop.onnx_import).
"""
from __future__ import annotations

from importlib import resources

import numpy as np

from . import quantize
from .spec import NetworkSpec

SHIPPED = {"alexnet-cifar": ("alexnet-cifar.npz", "alexnet-cifar-calib.npz")}
SYNTHETIC = "synthetic"


def _data(name: str):
    return resources.files("refimpl") / "data" / name


def has_shipped(spec: NetworkSpec) -> bool:
    return spec.name in SHIPPED and _data(SHIPPED[spec.name][0]).is_file()


def calibration_set(spec: NetworkSpec) -> dict:
    """{'pixels' uint8 (N, 3, H, W), 'labels' uint8 (N,), 'names' (N,)} of the shipped calibration set."""
    with resources.as_file(_data(SHIPPED[spec.name][1])) as path, np.load(path) as f:
        return {k: f[k] for k in f.files}


def resolve(spec: NetworkSpec, weights: str | None, seed: int = 0, until: str | None = None) -> tuple:
    """(params, description, calibration pixels or None) for a --weights value.

    The calibration pixels are the shipped set whenever the network has one
    (so every tool quantizes the trained model the same way); None means
    "calibrate on the input", the behaviour for synthetic weights.
    """
    calib = calibration_set(spec)["pixels"] if spec.name in SHIPPED and has_shipped(spec) else None
    if weights == SYNTHETIC or (weights is None and not has_shipped(spec)):
        return quantize.synthetic_params(spec, seed, until=until), f"synthetic weights (seed {seed})", None
    if weights is None:
        with resources.as_file(_data(SHIPPED[spec.name][0])) as path:
            params = quantize.load_params(path, spec)
        return params, f"trained weights (refimpl/data/{SHIPPED[spec.name][0]})", calib
    if str(weights).lower().endswith(".onnx"):            # refimpl.interop: an ONNX model's float weights
        from .interop.onnx_import import import_params
        return import_params(weights, spec, np.float64), f"weights {weights} (ONNX)", calib
    return quantize.load_params(weights, spec), f"weights {weights}", calib
