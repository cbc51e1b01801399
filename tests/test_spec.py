"""Network geometry: shapes, MACs and parameters against published and hand-derived counts."""
import pytest

from refimpl import networks
from refimpl.errors import RefimplError
from refimpl.spec import LayerSpec, NetworkSpec, layer_shapes, out_dims, window_out


def by_name(net):
    return {s.layer.name: s for s in layer_shapes(networks.get(net))}


def test_alexnet_macs_from_issue():
    s = by_name("alexnet")
    expected = {"conv1": 105_415_200, "conv2": 223_948_800, "conv3": 149_520_384, "conv4": 112_140_288,
                "conv5": 74_760_192, "fc6": 37_748_736, "fc7": 16_777_216, "fc8": 4_096_000}
    for name, macs in expected.items():
        assert s[name].macs == macs, name
    assert sum(s[f"conv{i}"].macs for i in range(1, 6)) == 665_784_864


def test_alexnet_shapes_caffe():
    s = by_name("alexnet")
    # (227 - 11) / 4 + 1 = 55; pools (55 - 3) / 2 + 1 = 27, (27 - 3) / 2 + 1 = 13, (13 - 3) / 2 + 1 = 6
    assert s["conv1"].out_shape == (96, 55, 55)
    assert s["pool1"].out_shape == (96, 27, 27)
    assert s["conv2"].out_shape == (256, 27, 27)      # pad 2 keeps 27 (SCALE-Sim without pad gets 23)
    assert s["pool2"].out_shape == (256, 13, 13)
    assert s["conv5"].out_shape == (256, 13, 13)
    assert s["pool5"].out_shape == (256, 6, 6)
    assert s["fc6"].weight_shape == (4096, 9216)
    assert s["conv2"].weight_shape == (256, 48, 5, 5)  # groups 2: 96 / 2 input channels per filter


def test_alexnet_params_published():
    # BVLC AlexNet (grouped) has 60,965,224 parameters (weights + biases)
    assert sum(s.params for s in layer_shapes(networks.get("alexnet"))) == 60_965_224


def test_vgg16_totals():
    shapes = layer_shapes(networks.get("vgg16"))
    assert sum(s.macs for s in shapes) == 15_470_264_320
    assert sum(s.params for s in shapes) == 138_357_544      # Simonyan & Zisserman: 138M, exact count


def test_resnet50_macs_hand_derived():
    # independent loop over the bottleneck definition (He et al. 2016, Table 1, v1.5 strides)
    total = 112 * 112 * 64 * 7 * 7 * 3
    h, cin = 56, 64
    for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for b in range(blocks):
            st = stride if b == 0 else 1
            ho = h // st
            total += h * h * width * cin                       # 1x1 reduce at input resolution
            total += ho * ho * width * width * 9               # 3x3 (strided)
            total += ho * ho * 4 * width * width               # 1x1 expand
            if b == 0:
                total += ho * ho * 4 * width * cin             # projection shortcut
            h, cin = ho, 4 * width
    total += 2048 * 1000
    assert total == 4_089_184_256                               # the commonly quoted 4.09 GMACs
    assert sum(s.macs for s in layer_shapes(networks.get("resnet50"))) == total


def test_alexnet_cifar_shapes():
    s = by_name("alexnet-cifar")
    assert s["conv1"].out_shape == (64, 32, 32)
    assert s["pool1"].out_shape == (64, 15, 15)
    assert s["pool2"].out_shape == (128, 7, 7)
    assert s["pool5"].out_shape == (128, 3, 3)
    assert s["fc6"].weight_shape == (512, 1152)
    assert s["fc8"].out_shape == (10, 1, 1)


def test_window_out_and_errors():
    assert window_out(227, 11, 4, 0) == 55
    assert window_out(112, 3, 2, 1) == 56
    with pytest.raises(RefimplError):
        window_out(2, 3, 1, 0)
    with pytest.raises(RefimplError, match="groups"):
        out_dims(LayerSpec("c", "conv", 6, kernel=3, groups=4), (6, 8, 8))


def test_unknown_names():
    with pytest.raises(RefimplError, match="unknown network 'lenet'"):
        networks.get("lenet")
    with pytest.raises(RefimplError, match="unknown layer 'conv9'"):
        networks.get("alexnet").layer("conv9")
    with pytest.raises(RefimplError, match="duplicate"):
        NetworkSpec("x", (3, 8, 8), (LayerSpec("a", "lrn"), LayerSpec("a", "lrn")))
    with pytest.raises(RefimplError, match="unknown kind"):
        NetworkSpec("x", (3, 8, 8), (LayerSpec("a", "softmax"),))
