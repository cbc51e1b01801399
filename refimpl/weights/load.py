"""The --weights loading path: an .npz, 'synthetic', nothing, or a weight bundle.

A path whose file starts with the bundle magic (bundle.MAGIC) is a weight
bundle: its layers are decoded (the on-chip weight decoder's output) and
given to the quantizer as float weights w' * 2**-w_frac, so every command
runs the engine on exactly the decoded int16 weights (bundle.py).  Anything
else goes to refimpl.trained.resolve unchanged.
"""
from __future__ import annotations

from .. import quantize, trained
from ..spec import NetworkSpec
from . import bundle


def load_params(path, spec: NetworkSpec) -> dict:
    """Float params from an .npz or a weight bundle (quantize.load_params' keys)."""
    if bundle.is_bundle(path):
        return bundle.to_params(bundle.read_file(path), spec, str(path))
    return quantize.load_params(path, spec)


def describe(b: bundle.Bundle, path) -> str:
    raw = sum(2 * e.code.rows * e.code.cols for e in b.layers)
    stored = sum(e.code.dram_bytes for e in b.layers)
    return f"weight bundle {path} ({stored:,} weight bytes in DRAM, {raw / stored:.2f}x against 16-bit)"


def resolve(spec: NetworkSpec, weights: str | None, seed: int = 0, until: str | None = None) -> tuple:
    """(params, description, calibration pixels or None), as trained.resolve, for bundles too.

    A bundle is quantized on the network's shipped calibration set when it has
    one (as its source weights were), else on the input, like any weight file."""
    if weights and weights != trained.SYNTHETIC and bundle.is_bundle(weights):
        b = bundle.read_file(weights)
        params = bundle.to_params(b, spec, weights)
        calib = trained.calibration_set(spec)["pixels"] if trained.has_shipped(spec) else None
        return params, describe(b, weights), calib
    return trained.resolve(spec, weights, seed, until=until)


def weight_streams(weights, spec: NetworkSpec) -> dict | None:
    """{layer: figures} of a weight bundle for cost.network_cost(weight_streams=...), or None
    when ``weights`` is not one (nothing, 'synthetic', an .npz or .onnx: float weights do not
    change the cost).  The bundle must be the network's and decode cleanly."""
    if not weights or weights == trained.SYNTHETIC or not bundle.is_bundle(weights):
        return None
    b = bundle.read_file(weights)
    bundle.check_network(b, spec, weights)
    bundle.decoded(b, weights)
    return bundle.cost_figures(b)
