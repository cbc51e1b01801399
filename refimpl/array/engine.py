"""Conv/fc layers on the cycle-level array model, tile by tile (`refimpl run --mode array`).

The schedule's tiles (schedule.tiles) are cut into passes (passes.py) and
stepped through model.run edge by edge; a tile's first input chunk starts its
MACs from fit(aligned bias), a later chunk from the psums the previous chunk
of the same (channel, row) tile ended with (the controller's psum buffer),
and the last chunk's psums are requantized (fixedpoint.requantize, the write
stage).  Tiles that are independent and equally shaped (same chunk index,
channels, rows, input channels) and the frames of a batch run as a batch of
arrays in one model.run, each entry its own array; a layer's cycles are the
sum over its tiles, per frame.  Pool and LRN run whole on the post-processing
unit, as in the tiled engine.  Outputs and counters are those of the tiled
engine (tests hold them equal); ArrayLayer adds the array's own cycle count.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import cost, engine, tiled
from .. import fixedpoint as fx
from ..layout import flatten_chw, pad_hw
from ..quantize import QLayer, QNetwork
from ..schedule import choose_tiling, geometry, tiles
from . import model
from .passes import PassGrid, input_stream, tile_columns, weight_stream
from .timing import tile_timing


@dataclass
class ArrayLayer:
    """Array figures of one conv/fc layer, one frame (cycles in clock cycles)."""

    layer: str
    tiles: int = 0
    passes: int = 0
    compute_cycles: int = 0        # passes x K: what refimpl/cost.py charges as compute
    pass_gap_cycles: int = 0       # (passes - 1) x (I - K) per tile: K below rows + cols
    fill_drain_cycles: int = 0     # rows + cols + 1 per tile: skew, register stages, capture, write
    cycles: int = 0                # counted by the model, edge by edge
    tile_cycles: list = field(default_factory=list, repr=False)    # per tile, in schedule order

    def as_dict(self) -> dict:
        return dict(layer=self.layer, tiles=self.tiles, passes=self.passes, compute_cycles=self.compute_cycles,
                    pass_gap_cycles=self.pass_gap_cycles, fill_drain_cycles=self.fill_drain_cycles,
                    cycles=self.cycles)


def _as_conv(x, layer, ql: QLayer):
    """fc as a 1x1 convolution on (N, Nin, 1, 1)."""
    if layer.kind == "fc":
        return flatten_chw(x)[:, :, None, None], ql.weights.reshape(ql.weights.shape + (1, 1))
    return x, ql.weights


def start_psums(ql: QLayer) -> tuple:
    """(fit(aligned bias) int64 (Cout,), its overflow mask): the first chunk's start psums."""
    return fx.acc_add(0, engine.bias_acc(ql), ql.acc_bits, ql.overflow)


def mac_layer(x, shape, ql: QLayer, profile, qnet: QNetwork | None = None):
    """One conv/fc layer on the array model: (int16 output, LayerStats, Counters, ArrayLayer)."""
    layer = shape.layer
    x, w = _as_conv(x, layer, ql)
    g = geometry(shape)
    tiling = choose_tiling(shape, profile)
    rows, cols = profile.array.rows, profile.array.cols
    n = x.shape[0]
    xp = pad_hw(x, g.pad)
    b0, b_over = start_psums(ql)
    shift = np.asarray(ql.shift)
    out = np.empty((n, w.shape[0], g.ho, g.wo), dtype=np.int16)
    overflowed = np.zeros((n, w.shape[0], g.ho * g.wo), dtype=bool)
    saturations = 0
    counters = cost.Counters()
    info = ArrayLayer(layer.name)
    carry = {}                                     # (m0, y0) -> (psums_end, overflowed), (N, P, rows, cols)
    all_tiles = list(tiles(shape, tiling))
    cycles_of = {}
    for ki in range(tiling.n_k):
        classes = {}
        for t in all_tiles:
            if (t.c0 - t.group * g.cg) // tiling.tk == ki:
                classes.setdefault((t.m1 - t.m0, t.y1 - t.y0, t.c1 - t.c0), []).append(t)
        for (m, n_rows, tk), ts in classes.items():
            grid = PassGrid(m, n_rows * g.wo, rows, cols)
            ws, xs, st, st_ovf = [], [], [], []
            for t in ts:
                gc0, gc1 = t.c0 - t.group * g.cg, t.c1 - t.group * g.cg
                py0, py1 = t.y0 * g.stride, (t.y1 - 1) * g.stride + g.k
                patch = xp[:, t.c0:t.c1, py0:py1, :]
                ws.append(weight_stream(grid, w[t.m0:t.m1, gc0:gc1].reshape(m, -1).astype(np.int64)))
                xs.append(input_stream(grid, tile_columns(patch, g.k, g.stride)))
                if t.first_chunk:
                    st.append(grid.to_grid(np.broadcast_to(b0[t.m0:t.m1, None], (n, m, grid.pixels))))
                    st_ovf.append(grid.to_grid(np.broadcast_to(b_over[t.m0:t.m1, None], (n, m, grid.pixels))))
                else:
                    psum, over = carry[(t.m0, t.y0)]
                    st.append(psum)
                    st_ovf.append(over)
            k_len = ws[0].shape[1]
            wb = np.broadcast_to(np.stack(ws)[:, None], (len(ts), n) + ws[0].shape).reshape((-1,) + ws[0].shape)
            end, over, cyc = model.run(wb, np.concatenate(xs), np.concatenate(st), ql.acc_bits, ql.overflow)
            over |= np.concatenate(st_ovf)
            timing = tile_timing(grid.passes, k_len, rows, cols)
            for i, t in enumerate(ts):
                e, o = end[i * n:(i + 1) * n], over[i * n:(i + 1) * n]
                carry[(t.m0, t.y0)] = (e, o)
                cycles_of[t.index] = cyc
                info.tiles += 1
                info.passes += grid.passes
                info.compute_cycles += timing.compute_cycles
                info.pass_gap_cycles += timing.pass_gap_cycles
                info.fill_drain_cycles += timing.fill_drain_cycles
                info.cycles += cyc
                y_tile = None
                pix = slice(t.y0 * g.wo, t.y1 * g.wo)
                if t.last_chunk:
                    psum = grid.from_grid(e)                                     # (N, m, pixels)
                    s = shift if shift.ndim == 0 else shift[t.m0:t.m1].reshape(1, -1, 1)
                    y_tile, sat = fx.requantize(psum, s, ql.rounding, ql.relu)
                    saturations += sat
                    y_tile = y_tile.reshape(n, m, n_rows, g.wo)
                    out[:, t.m0:t.m1, t.y0:t.y1] = y_tile
                    overflowed[:, t.m0:t.m1, pix] = grid.from_grid(o)
                # the tiled engine's counters of this tile (same dimensions, same DRAM words)
                py0, py1 = t.y0 * g.stride, (t.y1 - 1) * g.stride + g.k
                real_rows = max(0, min(py1, g.pad + g.h) - max(py0, g.pad))
                counters += cost.mac_tile(m, grid.pixels, k_len, tk * real_rows * g.w,
                                          m * k_len if t.load_weights else 0, m * grid.pixels if t.last_chunk else 0,
                                          t.first_chunk, t.last_chunk, t.index == 0, profile)
    info.tile_cycles = [cycles_of[i] for i in sorted(cycles_of)]
    if ql.overflow == "error" and overflowed.any():
        on, om, op = np.nonzero(overflowed)
        raise engine.overflow_error(ql, on, om, op, g.wo if layer.kind == "conv" else None)
    stats = engine.LayerStats(int(np.count_nonzero(overflowed)), saturations, out.size)
    if layer.kind == "fc":
        out = out.reshape(n, -1, 1, 1)
    return out, stats, counters, info


def run(qnet: QNetwork, x: np.ndarray, profile, until: str | None = None, progress=None) -> tuple:
    """Like tiled.run on the array model: (list of LayerResult with per-frame counters,
    {layer: ArrayLayer} of the conv/fc layers)."""
    arrays = {}

    def mac(src, shape, ql):
        y, stats, counters, arrays[ql.name] = mac_layer(src, shape, ql, profile, qnet)
        return y, stats, counters

    return tiled.run_layers(qnet, x, profile, mac, until, progress), arrays
