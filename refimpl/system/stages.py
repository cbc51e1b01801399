"""Partition points of each network: where the edge stops and what it sends.

A point is (label, cut layer, stage key).  The edge runs every layer up to and
including the cut layer and sends that layer's output map.  ``input`` is
host-only (the edge codes the picture), the last layer is edge-only (the edge
sends the top-5 classes).  In between, the default points are the network's
stages, each cut after its pooling: a pool shrinks the map 4x for almost no
cycles (AlexNet pool5: 2,216 of conv1..pool5's 5.01 M cycles on paper-28nm),
so an edge never sends the map before it.  The paper's "conv5" partition is
read the same way: the conv5 stage's output, pool5 (README "System model"
shows why no other reading reaches its 16.5x at 2 Mbps).

The stage key ("s1".."s5", "fc6", "fc7") pairs stages of different networks:
the ``paper`` ratio table borrows a stage's ratio from alexnet-cifar's stage
with the same key.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

from ..errors import RefimplError
from ..spec import NetworkSpec, layer_shapes

INPUT = "input"
TOP5_BYTES = 10            # edge-only sends the top-5 classes: 5 class indices as uint16 = 10 bytes

_ALEXNET = (("conv1", "pool1", "s1"), ("conv2", "pool2", "s2"), ("conv3", "conv3", "s3"),
            ("conv4", "conv4", "s4"), ("conv5", "pool5", "s5"), ("fc6", "fc6", "fc6"), ("fc7", "fc7", "fc7"))
STAGES = {
    "alexnet": _ALEXNET,
    "alexnet-cifar": _ALEXNET,
    "vgg16": tuple((f"conv{i}", f"pool{i}", f"s{i}") for i in range(1, 6)) + (("fc6", "fc6", "fc6"),
                                                                              ("fc7", "fc7", "fc7")),
    # ResNet-50 stages (He et al., Table 1): conv1 + max pool, conv2_x..conv5_x; conv5_x ends in the
    # global average pool, after which only the fc layer is left
    "resnet50": (("conv1", "pool1", "s1"), ("conv2_x", "res2_3", "s2"), ("conv3_x", "res3_4", "s3"),
                 ("conv4_x", "res4_6", "s4"), ("conv5_x", "pool5", "s5")),
}


@dataclass(frozen=True)
class Point:
    label: str          # what the figures call it (the stage)
    layer: str          # cut layer: the edge's last layer, whose output is sent ('input' for host-only)
    kind: str           # host-only | partition | edge-only
    stage: str = ""     # stage key for borrowed ratios ('' when none)


@functools.lru_cache(maxsize=64)
def _shapes(spec: NetworkSpec) -> dict:
    return {s.layer.name: tuple(s.out_shape) for s in layer_shapes(spec)}


def map_shape(spec: NetworkSpec, layer: str) -> tuple:
    """(C, H, W) of the map at ``layer`` ('input': the picture's int16 map)."""
    if layer == INPUT:
        return tuple(spec.input_shape)
    shapes = _shapes(spec)
    if layer not in shapes:
        _index(spec, layer)
    return shapes[layer]


def _index(spec: NetworkSpec, layer: str) -> int:
    names = [l.name for l in spec.layers]
    if layer not in names:
        raise RefimplError(f"network {spec.name}: unknown partition layer '{layer}' "
                           f"(layers: input, {', '.join(names)})")
    return names.index(layer)


def check_cut(spec: NetworkSpec, layer: str) -> int:
    """Index of ``layer``; RefimplError when a later layer reads a tensor from before the cut
    (a ResNet block's shortcut): then more than one map would have to cross."""
    i = _index(spec, layer)
    for j in range(i + 1, len(spec.layers)):
        for src in spec.sources(j):
            k = -1 if src == INPUT else _index(spec, src)
            if k < i:
                raise RefimplError(f"network {spec.name}: cannot cut after {layer}: layer {spec.layers[j].name} "
                                   f"reads {src} from before the cut (cut after a block's add)")
    return i


def points(spec: NetworkSpec, layers: list | None = None, available=None) -> list:
    """[Point]: host-only, the partitions (default: the stages; or the cut layers given), edge-only.

    ``available`` (the layers a ratio table has rows for): a default stage whose cut layer the
    table lacks is cut at the stage's own layer instead when the table has that one (a table
    measured at conv5 rather than pool5 cuts AlexNet's conv5 stage at conv5)."""
    last = spec.layers[-1].name
    if layers is None:
        if spec.name not in STAGES:
            raise RefimplError(f"network {spec.name} has no default partition points; give --points")
        have = set(available or ())
        mids = [Point(lab, lab if (have and cut not in have and lab in have) else cut, "partition", key)
                for lab, cut, key in STAGES[spec.name]]
    else:
        stage_of = {cut: (lab, key) for lab, cut, key in STAGES.get(spec.name, ())}
        mids = []
        for cut in layers:
            if cut in (INPUT, last):
                continue
            lab, key = stage_of.get(cut, (cut, ""))
            mids.append(Point(lab, cut, "partition", key))
    if not mids:
        raise RefimplError(f"network {spec.name}: no partition point between input and {last} "
                           "(name a layer in between, e.g. the last conv stage's)")
    for p in mids:
        check_cut(spec, p.layer)
    return [Point("host-only", INPUT, "host-only")] + mids + [Point("edge-only", last, "edge-only")]
