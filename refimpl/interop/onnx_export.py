"""A network spec and its float weights as an ONNX graph (opset 13, float32).

Graph, per layer of the spec (names: node = layer name, weights
``<layer>.weight`` / ``<layer>.bias``, output tensor = layer name):

    pixels (N, 3, H, W) float32 RGB 0..255
      Sub input_mean (1, 3, 1, 1)          the spec's input_mean: quantize.pixels_to_float
    conv     Conv(kernel, strides, pads on every side, group) [+ Relu]
    fc       Flatten(axis=1) before the first fc after a (N, C, H, W) tensor:
             (C, H, W) order, the spec's fc layout; Gemm(transB=1): y = x W^T + b [+ Relu]
    maxpool  MaxPool(kernel, strides, pads, ceil_mode=0): floor mode as spec.window_out,
             padding never wins
    lrn      LRN(size, alpha, beta, bias=k): ONNX sums channels c-2..c+2 for size 5,
             Caffe's centred window (layout.lrn_window_sum); even sizes differ, refused
    logits   the last layer's output, (N, C) after an fc

Weights are stored as float32 (the shipped trained weights are float32, so
their export is exact; float64 synthetic weights are rounded to float32).
The graph is the float reference path (quantize.float_forward) in float32,
not the integer engine.
"""
from __future__ import annotations

import numpy as np

from .. import __version__
from ..errors import RefimplError
from ..spec import NetworkSpec, layer_shapes
from .onnx_common import INPUT, IR_VERSION, OPSET, OUTPUT, onnx_module

EXPORTABLE = ("conv", "fc", "maxpool", "lrn")          # the float reference path's kinds


def check_exportable(spec: NetworkSpec):
    """RefimplError naming the first layer the float graph cannot express."""
    for layer in spec.layers:
        if layer.kind not in EXPORTABLE:
            raise RefimplError(f"network {spec.name}: layer {layer.name} ({layer.kind}) cannot be exported: "
                               f"the float reference path runs {', '.join(EXPORTABLE)} layers")
    for i, layer in enumerate(spec.layers):
        if layer.inputs and tuple(layer.inputs) != ((spec.layers[i - 1].name,) if i else ("input",)):
            raise RefimplError(f"network {spec.name}: layer {layer.name} reads {', '.join(layer.inputs)}: "
                               "only a chain of layers is exported")
        if layer.kind == "lrn" and layer.lrn_size % 2 == 0:
            raise RefimplError(f"network {spec.name}: layer {layer.name}: LRN size {layer.lrn_size} is even; "
                               "ONNX's window differs from Caffe's for even sizes")


def build_model(spec: NetworkSpec, params: dict, batch: int | str = "N"):
    """onnx.ModelProto of ``spec`` with float weights ``params`` ({'<layer>.weight': array, ...})."""
    onnx = onnx_module()
    from onnx import TensorProto, helper, numpy_helper

    check_exportable(spec)
    nodes, inits = [], []

    def init(name, array):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), name))
        return name

    mean = np.asarray(spec.input_mean, dtype=np.float64).reshape(1, -1, 1, 1)
    nodes.append(helper.make_node("Sub", [INPUT, init("input_mean", mean)], ["input"], name="input_mean"))
    cur, flat = "input", False
    for n, layer in enumerate(spec.layers):
        name, last = layer.name, n == len(spec.layers) - 1
        out = OUTPUT if last else name
        linear = f"{name}.linear" if layer.relu else out
        if layer.kind == "conv":
            k, s, p = layer.kernel, layer.stride, layer.pad
            nodes.append(helper.make_node("Conv", [cur, init(f"{name}.weight", params[f"{name}.weight"]),
                                                   init(f"{name}.bias", params[f"{name}.bias"])], [linear],
                                          name=name, kernel_shape=[k, k], strides=[s, s], pads=[p] * 4,
                                          group=layer.groups))
        elif layer.kind == "fc":
            if not flat:
                nodes.append(helper.make_node("Flatten", [cur], [f"{name}.flat"], name=f"{name}.flatten", axis=1))
                cur, flat = f"{name}.flat", True
            nodes.append(helper.make_node("Gemm", [cur, init(f"{name}.weight", params[f"{name}.weight"]),
                                                   init(f"{name}.bias", params[f"{name}.bias"])], [linear],
                                          name=name, transB=1))
        elif layer.kind == "maxpool":
            k, s, p = layer.kernel, layer.stride, layer.pad
            nodes.append(helper.make_node("MaxPool", [cur], [linear], name=name, kernel_shape=[k, k],
                                          strides=[s, s], pads=[p] * 4, ceil_mode=0))
        else:                                               # lrn
            nodes.append(helper.make_node("LRN", [cur], [linear], name=name, size=layer.lrn_size,
                                          alpha=layer.lrn_alpha, beta=layer.lrn_beta, bias=layer.lrn_k))
        if layer.relu:
            nodes.append(helper.make_node("Relu", [linear], [out], name=f"{name}.relu"))
        cur = out
    c_out = layer_shapes(spec)[-1].out_shape
    out_shape = [batch, c_out[0]] if flat else [batch, *c_out]
    graph = helper.make_graph(
        nodes, spec.name, [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, [batch, *spec.input_shape])],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, out_shape)], initializer=inits,
        doc_string=f"{spec.name}: {spec.description}. Input: RGB pixels 0..255, (N, C, H, W); "
                   "the input mean is subtracted inside (node input_mean).")
    model = helper.make_model(graph, producer_name="refimpl", producer_version=__version__,
                              opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION,
                              doc_string="float reference path of refimpl (quantize.float_forward), float32")
    helper.set_model_props(model, {"refimpl.network": spec.name})
    onnx.checker.check_model(model)
    return model


def export_bytes(spec: NetworkSpec, params: dict) -> bytes:
    """The serialized ONNX model (see build_model)."""
    return build_model(spec, params).SerializeToString()
