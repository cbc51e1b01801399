"""``refimpl run --dump DIR``: every layer's tensors as .npy plus layers.json.

Per layer NAME (single frame, int16 unless said):
  NAME_input.npy    [C, H, W]    the tensor the layer reads
  NAME_weights.npy  conv [Cout, Cin/groups, kh, kw], fc [Nout, Nin]  (weighted layers)
  NAME_bias.npy     [Cout], int16 or int32 by bias_bits                 (weighted layers)
  NAME_output.npy   [C, H, W]    after requantization and ReLU (before any pool/LRN,
                                 which are layers of their own)
layers.json: {"generator", "network", "input_frac", "mean_q", "layers": [{name, type, kernel, stride,
pad, groups, in_frac, w_frac, b_frac, bias_bits, out_frac, acc_bits, overflow, rounding,
relu, input_shape, output_shape, files: {input, weights, bias, output}}]}.
"""
from __future__ import annotations

import json
from pathlib import Path

from . import __version__
from .fileio import atomic_dir
from .spec import layer_shapes
from .wordfile import to_npy


def layer_record(layer, shape, ql, files: dict) -> dict:
    rec = dict(name=layer.name, type=layer.kind, kernel=layer.kernel, stride=layer.stride, pad=layer.pad,
               groups=layer.groups)
    rec.update(ql.contract())
    rec.update(input_shape=list(shape.in_shape), output_shape=list(shape.out_shape), files=files)
    return rec


INDEX = "layers.json"


def dump_files(folder) -> set | None:
    """Files a previous ``--dump`` wrote into ``folder`` (layers.json says so), or None."""
    try:
        doc = json.loads((Path(folder) / INDEX).read_text())
        if not (isinstance(doc, dict) and isinstance(doc.get("layers"), list) and "network" in doc
                and str(doc.get("generator", "refimpl")).startswith("refimpl")):
            return None
        files = {INDEX}
        for rec in doc["layers"]:
            files.update(f for f in rec["files"].values() if isinstance(f, str))
        return files
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError):
        return None


def write_dump(out_dir, qnet, results, frame: int = 0, extra: dict | None = None, force: bool = False):
    """Write one frame of ``results`` (engine.run output) to ``out_dir`` atomically.

    An existing ``out_dir`` is replaced only when it is a previous dump (or empty),
    unless ``force``; see fileio.check_output_dir.
    """
    shapes = {s.layer.name: s for s in layer_shapes(qnet.spec)}
    records = []
    with atomic_dir(out_dir, dump_files, force) as tmp:
        for r, ql in zip(results, qnet.layers):
            layer = qnet.spec.layer(r.name)
            files = dict(input=f"{r.name}_input.npy", weights=None, bias=None, output=f"{r.name}_output.npy")
            (tmp / files["input"]).write_bytes(to_npy(r.input[frame]))
            (tmp / files["output"]).write_bytes(to_npy(r.output[frame]))
            if layer.weighted:
                files["weights"], files["bias"] = f"{r.name}_weights.npy", f"{r.name}_bias.npy"
                (tmp / files["weights"]).write_bytes(to_npy(ql.weights))
                (tmp / files["bias"]).write_bytes(to_npy(ql.bias))
            records.append(layer_record(layer, shapes[r.name], ql, files))
        doc = dict(generator=f"refimpl {__version__}", network=qnet.spec.name, input_frac=qnet.input_frac,
                   mean_q=list(qnet.mean_q), layout="CHW", **(extra or {}), layers=records)
        (tmp / INDEX).write_text(json.dumps(doc, indent=1) + "\n")
