"""ResNet-50, He et al., CVPR 2016, Table 1 (torchvision's v1.5 layout: the
stride-2 of a down-sampling bottleneck sits on its 3x3 convolution).

Batch normalisation is folded into each convolution's weights and bias, so a
conv here carries a bias.  Each bottleneck is conv 1x1 -> conv 3x3 -> conv 1x1
(4x expansion), plus a projection 1x1 conv on the shortcut of each stage's
first block, joined by an 'add' with a fused ReLU.  Geometry only: the cost
model reads it; the bit-exact engine runs conv/fc/pool/LRN networks.
"""
from ..spec import LayerSpec as L, NetworkSpec

_STAGES = ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))   # (width, blocks, stride of first block)
_EXPANSION = 4


def _layers():
    layers = [L("conv1", "conv", 64, kernel=7, stride=2, pad=3, relu=True),
              L("pool1", "maxpool", kernel=3, stride=2, pad=1)]
    prev = "pool1"
    for s, (width, blocks, stride) in enumerate(_STAGES, start=2):
        for b in range(1, blocks + 1):
            p = f"res{s}_{b}"
            st = stride if b == 1 else 1
            layers += [L(f"{p}_a", "conv", width, kernel=1, relu=True, inputs=(prev,)),
                       L(f"{p}_b", "conv", width, kernel=3, stride=st, pad=1, relu=True),
                       L(f"{p}_c", "conv", width * _EXPANSION, kernel=1)]
            shortcut = prev
            if b == 1:
                layers.append(L(f"{p}_proj", "conv", width * _EXPANSION, kernel=1, stride=st,
                                inputs=(prev,)))
                shortcut = f"{p}_proj"
            layers.append(L(p, "add", relu=True, inputs=(f"{p}_c", shortcut)))
            prev = p
    layers += [L("pool5", "avgpool", kernel=7, stride=1, inputs=(prev,)),
               L("fc", "fc", 1000)]
    return tuple(layers)


RESNET50 = NetworkSpec(
    name="resnet50",
    description="ResNet-50 (v1.5, BN folded), 224x224x3",
    input_shape=(3, 224, 224),
    input_mean=(123.68, 116.779, 103.939),
    input_frac=7,
    layers=_layers(),
)
