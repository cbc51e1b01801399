"""Network topology as frozen data, and the shape arithmetic derived from it.

Layout: every tensor in the package is (C, H, W) for one frame, or
(N, C, H, W) for a batch.  Conv weights are [Cout, Cin/groups, kh, kw], FC
weights [Nout, Nin] with Nin flattened in (C, H, W) order.

``out_dims`` is the one place that turns a layer and its input shape into an
output shape; the engines, the quantizer and every report call it.  MAC and
parameter counts are derived from the same shapes, never typed in.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .errors import RefimplError

KINDS = ("conv", "fc", "maxpool", "avgpool", "lrn", "add")
WEIGHTED = ("conv", "fc")


@dataclass(frozen=True)
class LayerSpec:
    """One layer.  Unused fields keep their defaults.

    kind      : one of KINDS.
    out_channels : conv output channels / fc output neurons.
    kernel, stride, pad : square window (conv, pools), pad on every side.
    groups    : conv channel groups (AlexNet conv2/4/5 use 2).
    relu      : ReLU fused after requantization (conv, fc, add).
    lrn_*     : cross-channel local response normalisation
                b = a / (k + alpha/n * sum_{window} a^2) ** beta   (Caffe LRN).
    inputs    : names of the layers feeding this one; empty means the
                previous layer (or the network input for the first layer).
    """

    name: str
    kind: str
    out_channels: int = 0
    kernel: int = 1
    stride: int = 1
    pad: int = 0
    groups: int = 1
    relu: bool = False
    lrn_size: int = 5
    lrn_alpha: float = 1e-4
    lrn_beta: float = 0.75
    lrn_k: float = 1.0
    inputs: tuple = ()

    @property
    def weighted(self) -> bool:
        return self.kind in WEIGHTED


@dataclass(frozen=True)
class NetworkSpec:
    """A network: input geometry, input mapping and an ordered layer list.

    input_shape : (C, H, W) of one frame.
    input_mean  : per-channel mean in pixel units (0..255), RGB order.
    input_frac  : fractional bits of the int16 input feature map;
                  x_int = round((pixel - mean) * 2**input_frac), see quantize.
    """

    name: str
    input_shape: tuple
    layers: tuple
    input_mean: tuple = (0.0, 0.0, 0.0)
    input_frac: int = 7
    description: str = ""
    _index: dict = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        index = {}
        for i, layer in enumerate(self.layers):
            if layer.kind not in KINDS:
                raise RefimplError(f"network {self.name}: layer {layer.name}: unknown kind '{layer.kind}'")
            if layer.name in index or layer.name == "input":
                raise RefimplError(f"network {self.name}: duplicate layer name '{layer.name}'")
            for src in layer.inputs:
                if src != "input" and src not in index:
                    raise RefimplError(f"network {self.name}: layer {layer.name} reads '{src}', "
                                       "which is not an earlier layer")
            index[layer.name] = i
        object.__setattr__(self, "_index", index)

    def layer(self, name: str) -> LayerSpec:
        if name not in self._index:
            raise RefimplError(f"network {self.name}: unknown layer '{name}' "
                               f"(layers: {', '.join(l.name for l in self.layers)})")
        return self.layers[self._index[name]]

    def sources(self, i: int) -> tuple:
        """Names of the tensors feeding layer i ('input' is the image)."""
        layer = self.layers[i]
        if layer.inputs:
            return layer.inputs
        return ("input",) if i == 0 else (self.layers[i - 1].name,)

    def until(self, name: str | None) -> tuple:
        """Layers up to and including ``name`` (all layers when None)."""
        if name is None:
            return self.layers
        self.layer(name)
        return self.layers[: self._index[name] + 1]


def window_out(size: int, kernel: int, stride: int, pad: int) -> int:
    """Output length of a sliding window: floor((size + 2*pad - kernel) / stride) + 1.

    Floor mode (Caffe rounds pools up; AlexNet's pools divide exactly, so
    both agree on every network shipped here).
    """
    span = size + 2 * pad - kernel
    if span < 0:
        raise RefimplError(f"window {kernel} with pad {pad} does not fit input length {size}")
    return span // stride + 1


def out_dims(layer: LayerSpec, in_shape: tuple, other: tuple | None = None) -> tuple:
    """Output shape (C, H, W) of ``layer`` for input shape ``in_shape`` (C, H, W).

    fc outputs (N, 1, 1).  ``other`` is the second input shape of an 'add'.
    """
    c, h, w = in_shape
    if layer.kind == "conv":
        if c % layer.groups or layer.out_channels % layer.groups:
            raise RefimplError(f"layer {layer.name}: {c} input / {layer.out_channels} output "
                               f"channels do not divide into {layer.groups} groups")
        return (layer.out_channels,
                window_out(h, layer.kernel, layer.stride, layer.pad),
                window_out(w, layer.kernel, layer.stride, layer.pad))
    if layer.kind == "fc":
        return (layer.out_channels, 1, 1)
    if layer.kind in ("maxpool", "avgpool"):
        return (c, window_out(h, layer.kernel, layer.stride, layer.pad),
                window_out(w, layer.kernel, layer.stride, layer.pad))
    if layer.kind == "lrn":
        return in_shape
    if layer.kind == "add":
        if other is not None and tuple(other) != tuple(in_shape):
            raise RefimplError(f"layer {layer.name}: adds shapes {in_shape} and {other}")
        return in_shape
    raise RefimplError(f"layer {layer.name}: unknown kind '{layer.kind}'")


def weight_shape(layer: LayerSpec, in_shape: tuple) -> tuple:
    """[Cout, Cin/groups, kh, kw] for conv, [Nout, Nin] for fc, () otherwise."""
    c, h, w = in_shape
    if layer.kind == "conv":
        return (layer.out_channels, c // layer.groups, layer.kernel, layer.kernel)
    if layer.kind == "fc":
        return (layer.out_channels, c * h * w)
    return ()


@dataclass(frozen=True)
class LayerShape:
    """Derived geometry of one layer: shapes, MACs and parameters."""

    layer: LayerSpec
    in_shape: tuple
    out_shape: tuple
    weight_shape: tuple
    macs: int          # multiply-accumulates for one frame
    params: int        # weights + biases

    @property
    def reduction(self) -> int:
        """Products summed into one output (K of the GEMM)."""
        if not self.weight_shape:
            return 0
        k = 1
        for d in self.weight_shape[1:]:
            k *= d
        return k


def _prod(shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def layer_shapes(net: NetworkSpec) -> list:
    """[LayerShape] in layer order, derived from the input shape via out_dims."""
    shapes = {"input": tuple(net.input_shape)}
    result = []
    for i, layer in enumerate(net.layers):
        srcs = net.sources(i)
        in_shape = shapes[srcs[0]]
        other = shapes[srcs[1]] if len(srcs) > 1 else None
        out = out_dims(layer, in_shape, other)
        wshape = weight_shape(layer, in_shape)
        macs = _prod(out) * (_prod(wshape[1:]) if wshape else 0)
        params = _prod(wshape) + layer.out_channels if wshape else 0
        shapes[layer.name] = out
        result.append(LayerShape(layer, in_shape, out, wshape, macs, params))
    return result
