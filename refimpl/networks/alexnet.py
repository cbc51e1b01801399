"""AlexNet in the BVLC/Caffe geometry, and a 32x32 variant for CIFAR-10.

Source: BVLC reference CaffeNet/AlexNet deploy.prototxt (Krizhevsky et al.,
NIPS 2012, with Caffe's two-group convolutions).  Caffe orders
conv -> relu -> norm -> pool; ReLU is fused into the conv here.
LRN: local_size 5, alpha 1e-4, beta 0.75, k 1 (Caffe defaults used by BVLC).
Input mean: Caffe's ilsvrc_2012_mean.npy averaged per channel, given here in
RGB order (Caffe stores BGR 104.007, 116.669, 122.679).
"""
from ..spec import LayerSpec as L, NetworkSpec

_LRN = dict(lrn_size=5, lrn_alpha=1e-4, lrn_beta=0.75, lrn_k=1.0)

ALEXNET = NetworkSpec(
    name="alexnet",
    description="BVLC AlexNet (Caffe geometry, 227x227x3)",
    input_shape=(3, 227, 227),
    input_mean=(122.67891434, 116.66876762, 104.00698793),
    input_frac=7,   # |pixel - mean| < 256 = 2**8, so 8 integer bits + sign + 7 fraction bits
    layers=(
        L("conv1", "conv", 96, kernel=11, stride=4, relu=True),
        L("norm1", "lrn", **_LRN),
        L("pool1", "maxpool", kernel=3, stride=2),
        L("conv2", "conv", 256, kernel=5, pad=2, groups=2, relu=True),
        L("norm2", "lrn", **_LRN),
        L("pool2", "maxpool", kernel=3, stride=2),
        L("conv3", "conv", 384, kernel=3, pad=1, relu=True),
        L("conv4", "conv", 384, kernel=3, pad=1, groups=2, relu=True),
        L("conv5", "conv", 256, kernel=3, pad=1, groups=2, relu=True),
        L("pool5", "maxpool", kernel=3, stride=2),
        L("fc6", "fc", 4096, relu=True),
        L("fc7", "fc", 4096, relu=True),
        L("fc8", "fc", 1000),
    ),
)

# Same 5-conv / 3-FC topology (LRN after conv1 and conv2, pools after conv1,
# conv2 and conv5, groups of 2 on conv2/4/5), scaled for 32x32 inputs:
# 32 -conv1 5x5/1 p2-> 32 -pool 3/2-> 15 -conv2-> 15 -pool-> 7 -conv3..5-> 7
# -pool-> 3, so fc6 sees 128*3*3 = 1152 inputs.
# Input mean: CIFAR-10 training-set mean (0.4914, 0.4822, 0.4465) * 255.
ALEXNET_CIFAR = NetworkSpec(
    name="alexnet-cifar",
    description="AlexNet topology for 32x32x3 CIFAR-10 inputs",
    input_shape=(3, 32, 32),
    input_mean=(125.307, 122.961, 113.866),
    input_frac=7,
    layers=(
        L("conv1", "conv", 64, kernel=5, pad=2, relu=True),
        L("norm1", "lrn", **_LRN),
        L("pool1", "maxpool", kernel=3, stride=2),
        L("conv2", "conv", 128, kernel=5, pad=2, groups=2, relu=True),
        L("norm2", "lrn", **_LRN),
        L("pool2", "maxpool", kernel=3, stride=2),
        L("conv3", "conv", 192, kernel=3, pad=1, relu=True),
        L("conv4", "conv", 192, kernel=3, pad=1, groups=2, relu=True),
        L("conv5", "conv", 128, kernel=3, pad=1, groups=2, relu=True),
        L("pool5", "maxpool", kernel=3, stride=2),
        L("fc6", "fc", 512, relu=True),
        L("fc7", "fc", 256, relu=True),
        L("fc8", "fc", 10),
    ),
)
