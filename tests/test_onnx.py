"""ONNX in and out (refimpl.interop, the 'onnx' extra).

The exported alexnet-cifar runs in onnxruntime and its logits agree with the
float64 reference path (quantize.float_forward, which never sees ONNX) within
a stated bound; importing the export gives back the shipped weights bit for
bit; hand-made graphs (built here with onnx.helper, not by the exporter)
check the matching rules and the refusals.
"""
import builtins

import numpy as np
import pytest

from clihelp import one_error_line
from refimpl import networks, quantize, trained
from refimpl.cli import main
from refimpl.errors import RefimplError
from refimpl.spec import layer_shapes

onnx = pytest.importorskip("onnx", reason="the onnx extra (onnx, onnxruntime) is not installed")
ort = pytest.importorskip("onnxruntime", reason="the onnx extra (onnx, onnxruntime) is not installed")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from refimpl.interop import onnx_export, onnx_import  # noqa: E402

SPEC = networks.get("alexnet-cifar")
SHIPPED = trained._data("alexnet-cifar.npz")
# Bound on |onnxruntime - float64 reference| of the logits, relative to the largest |logit| of the batch.
# onnxruntime computes in float32 (unit roundoff 2**-24 = 6.0e-8) on float32 weights that are the shipped
# ones exactly, so only float32 rounding separates the two.  Measured: 2.5e-7 on these 20 images (6.1e-6 on
# |logit| <= 23.9), 3.2e-7 on all 200 calibration images; the bound leaves a factor of 30 over the worst.
# A subtle wrong layer, the LRN window of size 3 instead of 5, moves them by 2.2e-4 relative: 22x the bound.
REL_BOUND = 1e-5


@pytest.fixture
def cli(capsys):
    """(exit code, stdout, stderr) of the CLI run in this process (no interpreter start-up)."""
    def run(*argv):
        code = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err
    return run


@pytest.fixture(scope="module")
def shipped():
    with np.load(SHIPPED) as f:
        return {k: f[k] for k in f.files}


@pytest.fixture(scope="module")
def exported(tmp_path_factory, shipped):
    path = tmp_path_factory.mktemp("onnx") / "alexnet-cifar.onnx"
    path.write_bytes(onnx_export.export_bytes(SPEC, shipped))
    return path


def test_onnxruntime_logits_match_the_float_reference(exported, shipped):
    pixels = trained.calibration_set(SPEC)["pixels"][::10]                 # 20 training images, 10 classes
    sess = ort.InferenceSession(str(exported), providers=["CPUExecutionProvider"])
    (logits,) = sess.run(None, {"pixels": pixels.astype(np.float32)})
    params = {k: v.astype(np.float64) for k, v in shipped.items()}
    ref = quantize.float_forward(SPEC, params, quantize.pixels_to_float(pixels, SPEC))["fc8"][:, :, 0, 0]
    assert logits.shape == (20, 10) and logits.dtype == np.float32
    err = np.abs(logits.astype(np.float64) - ref).max()
    assert err <= REL_BOUND * np.abs(ref).max(), (err, np.abs(ref).max())
    assert np.array_equal(logits.argmax(1), ref.argmax(1))


def test_the_graph_states_its_opset_and_the_spec(exported):
    model = onnx.load(str(exported))
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 13)]
    ops = [(n.name, n.op_type) for n in model.graph.node]
    assert [op for _, op in ops] == ["Sub", "Conv", "Relu", "LRN", "MaxPool", "Conv", "Relu", "LRN", "MaxPool",
                                     "Conv", "Relu", "Conv", "Relu", "Conv", "Relu", "MaxPool", "Flatten", "Gemm",
                                     "Relu", "Gemm", "Relu", "Gemm"]
    attrs = {n.name: {a.name: helper.get_attribute_value(a) for a in n.attribute} for n in model.graph.node}
    assert attrs["conv2"]["group"] == 2 and attrs["conv3"]["group"] == 1 and attrs["conv2"]["pads"] == [2] * 4
    assert attrs["norm1"] == dict(size=5, alpha=pytest.approx(1e-4), beta=0.75, bias=1.0)
    assert attrs["pool1"]["kernel_shape"] == [3, 3] and attrs["pool1"]["strides"] == [2, 2]


def test_import_of_the_export_is_the_shipped_weights(exported, shipped, tmp_path, cli):
    code, out, err = cli("import", exported, "--network", "alexnet-cifar", "--out", tmp_path / "w.npz")
    assert code == 0, err
    assert "8 conv/fc layers" in out and "1,329,802 parameters" in out        # 64*75+64 + ... (spec.py counts)
    with np.load(tmp_path / "w.npz") as f:
        got = {k: f[k] for k in f.files}
    assert set(got) == set(shipped)
    for k in shipped:
        assert got[k].dtype == shipped[k].dtype == np.float32 and np.array_equal(got[k], shipped[k]), k


def test_cli_export_and_weights_onnx_everywhere_weights_is(tmp_path, shipped, cli):
    code, out, err = cli("export", "--network", "alexnet-cifar", "--out", tmp_path / "m.onnx")
    assert code == 0, err
    assert "ONNX opset 13 (IR version 7), float32" in out
    params, src, _ = trained.resolve(SPEC, str(tmp_path / "m.onnx"))     # what --weights M.onnx reads
    assert src == f"weights {tmp_path / 'm.onnx'} (ONNX)"
    for k, v in shipped.items():
        assert params[k].dtype == np.float64 and np.array_equal(params[k], v.astype(np.float64)), k


def test_import_detects_the_network_when_not_given(exported, tmp_path, cli):
    code, out, err = cli("import", exported, "--out", tmp_path / "w.npz")
    assert code == 0 and "network alexnet-cifar" in out and "the one shipped network it fits" in out, err


# ---------------------------------------------------------------- hand-made graphs
def hand_made(path, weights, fc_as="gemm", conv_attrs=None):
    """A chain Conv..Conv, Flatten, fc..fc with the given {layer: (weight, bias)}, in spec order.
    fc_as: 'gemm' (transB=1), 'gemm-t' (transB=0, W stored [Nin, Nout], alpha 2: W stored halved),
    'matmul' (MatMul + Add), 'constants' (as gemm, every weight a Constant node).  Shapes and attributes are not checked here: that is the importer's job."""
    nodes, inits, cur = [], [], "x"
    for s in layer_shapes(SPEC):
        name, l = s.layer.name, s.layer
        if name not in weights:
            continue
        w, b = weights[name]
        if l.kind == "conv":
            a = dict(kernel_shape=[l.kernel] * 2, strides=[l.stride] * 2, pads=[l.pad] * 4, group=l.groups)
            a.update((conv_attrs or {}).get(name, {}))
            inits += [numpy_helper.from_array(w, f"W_{name}"), numpy_helper.from_array(b, f"B_{name}")]
            nodes.append(helper.make_node("Conv", [cur, f"W_{name}", f"B_{name}"], [name], name=name, **a))
        else:
            if cur.startswith("conv"):
                nodes.append(helper.make_node("Flatten", [cur], ["flat"], axis=1))
                cur = "flat"
            if fc_as in ("gemm", "constants"):
                inits += [numpy_helper.from_array(w, f"W_{name}"), numpy_helper.from_array(b, f"B_{name}")]
                nodes.append(helper.make_node("Gemm", [cur, f"W_{name}", f"B_{name}"], [name], name=name, transB=1))
            elif fc_as == "gemm-t":
                inits += [numpy_helper.from_array(np.ascontiguousarray(w.T / 2), f"W_{name}"),
                          numpy_helper.from_array(b * 4, f"B_{name}")]
                nodes.append(helper.make_node("Gemm", [cur, f"W_{name}", f"B_{name}"], [name], name=name,
                                              alpha=2.0, beta=0.25))
            else:
                inits += [numpy_helper.from_array(np.ascontiguousarray(w.T), f"W_{name}"),
                          numpy_helper.from_array(b, f"B_{name}")]
                nodes.append(helper.make_node("MatMul", [cur, f"W_{name}"], [f"{name}.mm"], name=name))
                nodes.append(helper.make_node("Add", [f"{name}.mm", f"B_{name}"], [name], name=f"{name}.add"))
        cur = name
    if fc_as == "constants":                    # every weight a Constant node instead of an initializer
        nodes = [helper.make_node("Constant", [], [t.name], value=t) for t in inits] + nodes
        inits = []
    graph = helper.make_graph(nodes, "hand", [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
                              [helper.make_tensor_value_info(cur, TensorProto.FLOAT, None)], initializer=inits)
    path.write_bytes(helper.make_model(graph).SerializeToString())
    return path


def spec_weights(seed=1, **override):
    """{layer: (float32 weight, float32 bias)} of alexnet-cifar's shapes, seeded; override[layer] = weight shape."""
    rng = np.random.default_rng(seed)
    out = {}
    for s in layer_shapes(SPEC):
        if s.weight_shape:
            shape = override.get(s.layer.name, s.weight_shape)
            out[s.layer.name] = (rng.standard_normal(shape).astype(np.float32),
                                 rng.standard_normal(s.layer.out_channels).astype(np.float32))
    return out


@pytest.mark.parametrize("fc_as", ["gemm", "gemm-t", "matmul", "constants"])
def test_hand_made_fc_forms_import_to_the_same_weights(tmp_path, fc_as):
    w = spec_weights()
    params = onnx_import.import_params(hand_made(tmp_path / "m.onnx", w, fc_as), SPEC)
    for name, (weight, bias) in w.items():
        assert np.array_equal(params[f"{name}.weight"], weight), name      # halving, doubling: exact in binary
        assert np.array_equal(params[f"{name}.bias"], bias), name


def test_wrong_shape_is_refused_with_the_layer_named(tmp_path, cli):
    bad = hand_made(tmp_path / "bad.onnx", spec_weights(conv3=(192, 64, 3, 3)))
    out = tmp_path / "w.npz"
    code, _, err = cli("import", bad, "--network", "alexnet-cifar", "--out", out)
    assert one_error_line(code, err, "layer conv3 expects a conv weight (192, 128, 3, 3)")
    assert "the file's node 'conv3' (Conv, graph node 2) has a conv weight (192, 64, 3, 3)" in err
    assert "matches no shipped network" in err
    assert not out.exists()
    code, _, err = cli("run", "--network", "alexnet-cifar", "--weights", bad)
    assert one_error_line(code, err, "layer conv3 expects")


def test_wrong_stride_and_missing_layer_are_named(tmp_path):
    m = hand_made(tmp_path / "s.onnx", spec_weights(), conv_attrs={"conv2": dict(strides=[2, 2])})
    with pytest.raises(RefimplError, match=r"layer conv2 expects .* stride 1, pad 2, groups 2; .* stride \[2, 2\]"):
        onnx_import.import_params(m, SPEC)
    w = spec_weights()
    del w["fc8"]
    with pytest.raises(RefimplError, match=r"layer fc8 \(weighted layer 8 of 8\) has no counterpart: the file has 7"):
        onnx_import.import_params(hand_made(tmp_path / "short.onnx", w), SPEC)


def test_a_topology_of_no_shipped_network_is_said_so(tmp_path, cli):
    w = spec_weights(conv1=(32, 3, 5, 5))
    code, _, err = cli("import", hand_made(tmp_path / "o.onnx", {"conv1": w["conv1"]}), "--out", tmp_path / "w.npz")
    assert one_error_line(code, err, "its topology matches no shipped network (alexnet, alexnet-cifar, vgg16, "
                                     "resnet50): a spec for it must be added to refimpl/networks/ first")


def test_not_an_onnx_file(tmp_path, cli):
    (tmp_path / "x.onnx").write_bytes(b"\x00\xffnot protobuf" * 7)
    code, _, err = cli("import", tmp_path / "x.onnx", "--network", "alexnet-cifar", "--out", tmp_path / "w.npz")
    assert one_error_line(code, err, "x.onnx: not a readable ONNX model")


def test_export_refuses_a_geometry_only_network(tmp_path, cli):
    code, _, err = cli("export", "--network", "resnet50", "--out", tmp_path / "r.onnx")
    assert one_error_line(code, err, "layer res2_1 (add) cannot be exported")


def test_missing_extra_is_one_line(monkeypatch):
    real_import = builtins.__import__

    def no_onnx(name, *args, **kwargs):
        if name == "onnx" or name.startswith("onnx."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_onnx)
    with pytest.raises(RefimplError, match=r"'onnx' extra: pip install 'refimpl\[onnx\]'"):
        onnx_export.build_model(SPEC, {})
