"""VGG-16 (configuration D), Simonyan & Zisserman, ICLR 2015, Table 1.

13 3x3/1 pad-1 convolutions in five blocks, each block ended by a 2x2/2 max
pool; fc6 25088->4096, fc7 4096->4096, fc8 4096->1000.  Input mean: the
ImageNet RGB mean (123.68, 116.779, 103.939) used with the released weights.
"""
from ..spec import LayerSpec as L, NetworkSpec

_BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))   # (channels, convs) per block


def _layers():
    layers = []
    for b, (channels, convs) in enumerate(_BLOCKS, start=1):
        for c in range(1, convs + 1):
            layers.append(L(f"conv{b}_{c}", "conv", channels, kernel=3, pad=1, relu=True))
        layers.append(L(f"pool{b}", "maxpool", kernel=2, stride=2))
    layers += [L("fc6", "fc", 4096, relu=True), L("fc7", "fc", 4096, relu=True), L("fc8", "fc", 1000)]
    return tuple(layers)


VGG16 = NetworkSpec(
    name="vgg16",
    description="VGG-16 configuration D, 224x224x3",
    input_shape=(3, 224, 224),
    input_mean=(123.68, 116.779, 103.939),
    input_frac=7,
    layers=_layers(),
)
