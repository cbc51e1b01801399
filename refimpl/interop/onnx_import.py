"""Float weights from an ONNX file, matched to a network spec by order and shape.

The weighted nodes of the graph, in the graph's (topological) node order:
    Conv   W [Cout, Cin/group, kh, kw], B [Cout] (zeros when absent);
           strides, pads (equal on every side), group, dilations 1 checked against the spec
    Gemm   B with transB=1 is [Nout, Nin]; transB=0 is [Nin, Nout] and is transposed;
           alpha and beta are folded into W and C (y = alpha A B + beta C); transA must be 0
    MatMul x @ W with W [Nin, Nout] a constant: transposed; the bias is the constant
           operand of the Add that consumes the MatMul's output (zeros without one)
A weight is an initializer or the output of a Constant node.  The i-th
weighted node must be the i-th conv/fc layer of the spec, with the spec's
weight shape (spec.layer_shapes) and, for a conv, its kernel, stride, pad and
groups.  The first layer that differs is named in one line, and the line says
whether the file fits another shipped network or none of them (then a spec
must be written in refimpl/networks/ first: nothing is guessed).  fc inputs
are taken to be flattened in (C, H, W) order, as ONNX Flatten does on NCHW.
"""
from __future__ import annotations

import io

import numpy as np

from ..errors import RefimplError
from ..fileio import atomic_write
from ..spec import NetworkSpec, layer_shapes
from .onnx_common import onnx_module


def _attrs(node) -> dict:
    from onnx import helper
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _constants(graph) -> dict:
    from onnx import numpy_helper
    consts = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            consts[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    return consts


def weighted_nodes(graph, where: str) -> list:
    """[dict(node, op, weight, bias, attrs)] of the Conv / Gemm / MatMul nodes with constant weights."""
    consts = _constants(graph)
    found = []
    for i, node in enumerate(graph.node):
        label = f"node '{node.name or node.output[0]}' ({node.op_type}, graph node {i})"
        a = _attrs(node)
        if node.op_type == "Conv" and len(node.input) > 1 and node.input[1] in consts:
            w = consts[node.input[1]]
            b = consts.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None
            found.append(dict(label=label, kind="conv", weight=w, bias=b, attrs=a))
        elif node.op_type == "Gemm" and len(node.input) > 1 and node.input[1] in consts:
            if a.get("transA", 0):
                raise RefimplError(f"{where}: {label}: transA=1 is not a fully connected layer on (N, Nin) inputs")
            w = consts[node.input[1]]
            w = w if a.get("transB", 0) else w.T
            b = consts.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None
            alpha, beta = a.get("alpha", 1.0), a.get("beta", 1.0)
            if alpha != 1.0:
                w = w * np.asarray(alpha, w.dtype)
            if b is not None and beta != 1.0:
                b = b * np.asarray(beta, b.dtype)
            found.append(dict(label=label, kind="fc", weight=w, bias=b, attrs=a))
        elif node.op_type == "MatMul" and len(node.input) > 1 and node.input[1] in consts:
            b = None
            for user in graph.node:
                if user.op_type == "Add" and node.output[0] in user.input:
                    other = [x for x in user.input if x != node.output[0]]
                    if other and other[0] in consts:
                        b = consts[other[0]]
                    break
            found.append(dict(label=label, kind="fc", weight=consts[node.input[1]].T, bias=b, attrs=a))
    return found


def _expected(spec: NetworkSpec) -> list:
    return [s for s in layer_shapes(spec) if s.weight_shape]


def _describe_spec(s) -> str:
    l = s.layer
    text = f"{'a conv' if l.kind == 'conv' else 'an fc'} weight {tuple(s.weight_shape)}"
    if l.kind == "conv":
        text += f", stride {l.stride}, pad {l.pad}, groups {l.groups}"
    return text


def _mismatch(s, found: dict) -> str | None:
    """Why the file's node does not fit spec layer shape ``s`` (None when it fits)."""
    l, w, a = s.layer, found["weight"], found["attrs"]
    got = f"{'a conv' if found['kind'] == 'conv' else 'an fc'} weight {tuple(w.shape)}"
    if found["kind"] == "conv":
        pads = list(a.get("pads", [0, 0, 0, 0]))
        got += f", stride {list(a.get('strides', [1, 1]))}, pads {pads}, group {a.get('group', 1)}"
    why = None
    if found["kind"] != l.kind or tuple(w.shape) != tuple(s.weight_shape):
        why = got
    elif l.kind == "conv":
        if (list(a.get("strides", [1, 1])) != [l.stride] * 2 or list(a.get("pads", [0] * 4)) != [l.pad] * 4
                or a.get("group", 1) != l.groups or any(d != 1 for d in a.get("dilations", [1, 1]))
                or a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET")):
            why = got + (f", dilations {list(a['dilations'])}" if "dilations" in a else "") + \
                  (f", auto_pad {a['auto_pad']!r}" if "auto_pad" in a else "")
    b = found["bias"]
    if why is None and b is not None and tuple(b.shape) != (l.out_channels,):
        why = f"a bias of shape {tuple(b.shape)}"
    return why


def first_difference(spec: NetworkSpec, nodes: list) -> str | None:
    """One sentence naming the first spec layer the nodes do not fit (None: they fit)."""
    exp = _expected(spec)
    for i, s in enumerate(exp):
        if i >= len(nodes):
            return (f"layer {s.layer.name} (weighted layer {i + 1} of {len(exp)}) has no counterpart: "
                    f"the file has {len(nodes)} Conv/Gemm/MatMul nodes with constant weights")
        why = _mismatch(s, nodes[i])
        if why:
            return (f"layer {s.layer.name} expects {_describe_spec(s)}; the file's {nodes[i]['label']} has {why}")
    if len(nodes) > len(exp):
        return (f"the file has {len(nodes)} weighted nodes, network {spec.name} {len(exp)} conv/fc layers "
                f"(first extra: {nodes[len(exp)]['label']})")
    return None


def _others(spec_name: str | None, nodes: list) -> str:
    from ..networks import NETWORKS
    fits = [n for n, s in NETWORKS.items() if n != spec_name and first_difference(s, nodes) is None]
    if fits:
        return f"; it fits network {', '.join(fits)} (use --network {fits[0]})"
    return (f"; its topology matches no shipped network ({', '.join(NETWORKS)}): "
            "a spec for it must be added to refimpl/networks/ first")


def read_graph(path):
    """The onnx.GraphProto of ``path`` (RefimplError when it is not a readable ONNX model)."""
    onnx = onnx_module()
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise RefimplError(f"{path}: no such ONNX file") from None
    except IsADirectoryError:
        raise RefimplError(f"{path}: is a directory, expected an ONNX file") from None
    except OSError as exc:
        raise RefimplError(f"{path}: unreadable ({exc.strerror or exc})") from None
    try:
        model = onnx.load_model_from_string(data)
    except Exception as exc:                        # protobuf DecodeError and friends
        raise RefimplError(f"{path}: not a readable ONNX model ({exc.__class__.__name__})") from None
    if not model.graph.node:
        raise RefimplError(f"{path}: not an ONNX model (no graph nodes)")
    return model.graph


def detect_network(path) -> NetworkSpec:
    """The one shipped network the file fits exactly (RefimplError when it fits none)."""
    from ..networks import NETWORKS
    nodes = weighted_nodes(read_graph(path), str(path))
    fits = [s for s in NETWORKS.values() if first_difference(s, nodes) is None]
    if len(fits) != 1:
        raise RefimplError(f"{path}: its topology matches no shipped network ({', '.join(NETWORKS)}): "
                           "a spec for it must be added to refimpl/networks/ first" if not fits else
                           f"{path}: fits networks {', '.join(s.name for s in fits)}; choose one with --network")
    return fits[0]


def import_params(path, spec: NetworkSpec, dtype=None) -> dict:
    """{'<layer>.weight', '<layer>.bias'} of ``spec`` from the ONNX file ``path``.

    Arrays keep the file's float dtype (``dtype`` converts, e.g. np.float64 for the engine).
    """
    nodes = weighted_nodes(read_graph(path), str(path))
    why = first_difference(spec, nodes)
    if why:
        raise RefimplError(f"{path}: does not fit network {spec.name}: {why}{_others(spec.name, nodes)}")
    params = {}
    for s, n in zip(_expected(spec), nodes):
        w, b = n["weight"], n["bias"]
        if b is None:
            b = np.zeros(s.layer.out_channels, dtype=w.dtype)
        for key, a in ((f"{s.layer.name}.weight", w), (f"{s.layer.name}.bias", b)):
            if a.dtype.kind != "f":
                raise RefimplError(f"{path}: {n['label']}: {key} has dtype {a.dtype}, expected floating point")
            if not np.all(np.isfinite(a)):
                raise RefimplError(f"{path}: {n['label']}: {key} contains NaN or infinity")
            params[key] = np.ascontiguousarray(a, dtype=dtype or a.dtype)
    return params


def write_npz(path, params: dict):
    """The weights as an .npz (numpy.savez, the layout quantize.load_params reads), atomically."""
    buf = io.BytesIO()
    np.savez(buf, **params)
    atomic_write(path, buf.getvalue())
