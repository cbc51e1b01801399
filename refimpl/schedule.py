"""The 144-MAC tile loop nest: pure index arithmetic, no data.

Mapping (output-stationary): the array is ``rows`` x ``cols`` MACs; one array
pass holds ``rows`` output channels x ``cols`` output pixels (pixels of the
tile in row-major order), each MAC keeping one psum while the K = tk*kh*kw
products of its output stream through, one per cycle: a pass takes K cycles.

A tile is (output channels m0:m1, output rows y0:y1 at full width, input
channels c0:c1 of one group).  Loop order, outermost first:
    group -> output-channel tile -> output-row tile -> input-channel chunk
so psums of a tile accumulate chunk after chunk in ascending input channel,
keeping the canonical (in_channel, ky, kx) order of the numeric contract.

Tiling rule (per layer, from the buffer sizes of the profile; each buffer is
split into ping-pong halves when double-buffered):
  1. tk (input channels per chunk): all Cin/groups if a minimal tile fits,
     else ceil(Cin/groups / n) for the smallest n that fits;
  2. tm (output channels per tile): the largest multiple of ``rows`` (or all of
     Mg = Cout/groups if fewer) whose weights tm*tk*kh*kw fit the weight half
     and whose one-row tile fits the feature half;
  3. th (output rows per tile): the largest that fits the feature half.
  Fit: weights tm*tk*kh*kw <= weight words; features
  tk*((th-1)*stride+kh)*W  +  tm*th*Wo*(1 + PSUM_WORDS if several chunks) <= feature words.
  fc layers are 1x1 convolutions on a (Nin, 1, 1) input.
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import RefimplError
from .fixedpoint import DEFAULT_ACC_BITS, WORD_BITS
from .spec import LayerShape

PSUM_WORDS = -(-DEFAULT_ACC_BITS // WORD_BITS)   # a 40-bit psum spilled to the buffer takes 3 16-bit words


@dataclass(frozen=True)
class Geometry:
    """A conv/fc layer seen as a grouped convolution (fc: 1x1 on (Nin, 1, 1))."""

    groups: int
    cg: int            # input channels per group
    mg: int            # output channels per group
    h: int
    w: int             # input height, width (unpadded)
    k: int
    stride: int
    pad: int
    ho: int
    wo: int


def geometry(shape: LayerShape) -> Geometry:
    layer = shape.layer
    if layer.kind == "fc":
        nin = shape.weight_shape[1]
        return Geometry(1, nin, layer.out_channels, 1, 1, 1, 1, 0, 1, 1)
    if layer.kind != "conv":
        raise RefimplError(f"layer {layer.name} ({layer.kind}) has no MAC schedule")
    c, h, w = shape.in_shape
    m, ho, wo = shape.out_shape
    g = layer.groups
    return Geometry(g, c // g, m // g, h, w, layer.kernel, layer.stride, layer.pad, ho, wo)


@dataclass(frozen=True)
class Tiling:
    tm: int            # output channels per tile
    th: int            # output rows per tile (full width)
    tk: int            # input channels per chunk
    n_m: int
    n_h: int
    n_k: int

    def describe(self) -> str:
        return f"{self.tm}ch x {self.th}rows x {self.tk}in ({self.n_m}x{self.n_h}x{self.n_k} tiles/group)"


@dataclass(frozen=True)
class Tile:
    """One tile; channel indices are absolute (group offset included)."""

    index: int
    group: int
    m0: int
    m1: int
    y0: int
    y1: int
    c0: int
    c1: int
    first_chunk: bool
    last_chunk: bool
    load_weights: bool     # weights come from DRAM for this tile (else resident)


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def input_rows(g: Geometry, y0: int, y1: int) -> tuple:
    """Unpadded input rows [r0, r1) that output rows [y0, y1) read."""
    r0 = max(0, y0 * g.stride - g.pad)
    r1 = min(g.h, (y1 - 1) * g.stride - g.pad + g.k)
    return r0, max(r0, r1)


def feature_words(g: Geometry, tm: int, th: int, tk: int, chunks: int) -> int:
    psum = PSUM_WORDS if chunks > 1 else 0
    return tk * min(g.h, (th - 1) * g.stride + g.k) * g.w + tm * th * g.wo * (1 + psum)


def choose_tiling(shape: LayerShape, profile) -> Tiling:
    """Tile sizes for one layer by the rule in the module docstring."""
    g = geometry(shape)
    rows = profile.array.rows
    fw, ww = profile.feature_words, profile.weight_words
    tm_min = min(rows, g.mg)

    def fits(tm, th, tk):
        chunks = _ceil(g.cg, tk)
        return tm * tk * g.k * g.k <= ww and feature_words(g, tm, th, tk, chunks) <= fw

    n = 1
    while not fits(tm_min, 1, _ceil(g.cg, n)):
        if _ceil(g.cg, n) == 1:
            raise RefimplError(
                f"profile {profile.name}: buffer.feature_kib ({profile.buffer.feature_kib}) or buffer.weight_kib "
                f"({profile.buffer.weight_kib}) too small for any tile of layer {shape.layer.name} "
                f"(needs {feature_words(g, tm_min, 1, 1, g.cg)} feature and {tm_min * g.k * g.k} weight words "
                f"per ping-pong half)")
        n += 1
    tk = _ceil(g.cg, n)
    tm = tm_min
    while tm < g.mg and fits(min(g.mg, tm + rows), 1, tk):
        tm = min(g.mg, tm + rows)
    th = 1
    while th < g.ho and fits(tm, th + 1, tk):
        th += 1
    return Tiling(tm, th, tk, _ceil(g.mg, tm), _ceil(g.ho, th), _ceil(g.cg, tk))


def tiles(shape: LayerShape, tiling: Tiling):
    """The tiles of one layer in execution order (generator of Tile)."""
    g = geometry(shape)
    index = 0
    for group in range(g.groups):
        for mi in range(tiling.n_m):
            m0 = group * g.mg + mi * tiling.tm
            m1 = min(m0 + tiling.tm, (group + 1) * g.mg)
            for hi in range(tiling.n_h):
                y0 = hi * tiling.th
                y1 = min(y0 + tiling.th, g.ho)
                for ki in range(tiling.n_k):
                    c0 = group * g.cg + ki * tiling.tk
                    c1 = min(c0 + tiling.tk, (group + 1) * g.cg)
                    yield Tile(index, group, m0, m1, y0, y1, c0, c1, ki == 0, ki == tiling.n_k - 1,
                               load_weights=(tiling.n_k > 1 or hi == 0))
                    index += 1
