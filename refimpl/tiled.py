"""Tiled engine: runs conv/fc layers tile by tile in the schedule's order.

Each tile multiplies its input patch by its weight slice exactly (the same
exact-GEMM and overflow machinery as the fast engine, engine.accumulate) and
adds to the psums carried from the previous input-channel chunk, so the
accumulation order is the canonical (in_channel, ky, kx) one and the outputs
are identical to the fast engine's.  Per tile it counts what the hardware
spends (cost.mac_tile on the dimensions it actually executed) and, when a
hook is given, hands the tile's data to it:

    hook(TileData(layer, tile, inputs, weights, psums, outputs, counters))
      inputs  int16 (N, tk, rows, W + 2*pad)  the padded input patch
      weights int16 (m, tk, kh, kw)
      psums   int64 (N, m, rows_out, Wo)      accumulator after this chunk
      outputs int16 (N, m, rows_out, Wo) on the tile's last chunk, else None
Counters are per frame.  Pool and LRN run whole on the post-processing unit.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import cost, engine
from .layout import flatten_chw, im2col, pad_hw
from .quantize import QLayer, QNetwork
from .schedule import Tile, choose_tiling, geometry, tiles
from .spec import LayerSpec, layer_shapes


@dataclass
class TileData:
    layer: str
    tile: Tile
    inputs: np.ndarray
    weights: np.ndarray
    psums: np.ndarray
    outputs: np.ndarray | None
    counters: object


def _as_conv(x, layer: LayerSpec, ql: QLayer):
    """fc as a 1x1 convolution on (N, Nin, 1, 1)."""
    if layer.kind == "fc":
        return flatten_chw(x)[:, :, None, None], ql.weights.reshape(ql.weights.shape + (1, 1))
    return x, ql.weights


def _chunk_psums(w64, layer_cols, bias, g, tiling, kk: int) -> dict:
    """{(group, c0): psums float64 (N, mg, Ho*Wo) of the whole group after input chunk c0}.

    Used when no partial sum of the layer can leave the accumulator range or
    2**53 (the caller checks |bias| + L1(w) * max|x|, engine._float_safe), so
    every psum is the exact sum of the bias and the chunks so far, an integer
    float64 holds exactly: one exact GEMM per (group, chunk) over all the
    group's channels and pixels, cumulated in chunk order; a tile's psums are
    its block of them, the same integers its own GEMM gives.
    """
    out = {}
    for group in range(g.groups):
        rows = slice(group * g.mg, (group + 1) * g.mg)
        psum = bias[rows].astype(np.float64)[None, :, None]
        for ki in range(tiling.n_k):
            c0 = group * g.cg + ki * tiling.tk
            c1 = min(c0 + tiling.tk, (group + 1) * g.cg)
            gc0, gc1 = c0 - group * g.cg, c1 - group * g.cg
            wc = w64[rows, gc0:gc1].reshape(g.mg, -1)
            psum = np.matmul(wc, layer_cols[:, c0 * kk:c1 * kk]) + psum
            out[(group, c0)] = psum
    return out


def mac_layer(x, shape, ql: QLayer, profile, qnet: QNetwork | None = None, hook=None):
    """One conv/fc layer tile by tile: (int16 output, LayerStats, Counters)."""
    layer = shape.layer
    x, w = _as_conv(x, layer, ql)
    g = geometry(shape)
    tiling = choose_tiling(shape, profile)
    n = x.shape[0]
    xp = pad_hw(x, g.pad)
    w64, l1_full = engine.weights64(qnet, ql)
    w64 = w64.reshape(w.shape[0], g.cg, g.k * g.k)
    bias = engine.bias_acc(ql)
    shift = np.asarray(ql.shift)
    xmax = int(np.abs(x.astype(np.int32)).max()) if x.size else 0
    out = np.empty((n, w.shape[0], g.ho, g.wo), dtype=np.int16)
    overflowed = np.zeros((n, w.shape[0], g.ho * g.wo), dtype=bool)
    saturations = 0
    counters = cost.Counters()
    psum = None
    kk = g.k * g.k
    # GEMM columns of the whole layer, built once; a tile reads its block of them,
    # (its input channels x its output pixels), the same values im2col of its patch gives
    layer_cols = im2col(x, g.k, g.stride, g.pad)                           # (N, C*k*k, Ho*Wo)
    cannot_overflow = layer_cols.shape[1] <= engine.FLOAT_EXACT_MAX_K and engine._float_safe(bias, l1_full, xmax, ql)
    if cannot_overflow:
        chunk_psums = _chunk_psums(w64, layer_cols, bias, g, tiling, kk)
        last = np.concatenate([chunk_psums[(group, group * g.cg + (tiling.n_k - 1) * tiling.tk)]
                               for group in range(g.groups)], axis=1)
        y, saturations = engine._requant_f64(last, ql, w.shape[0])
        out[...] = y.reshape(out.shape)
    for t in tiles(shape, tiling):
        gc0, gc1 = t.c0 - t.group * g.cg, t.c1 - t.group * g.cg          # group-relative input channels
        py0, py1 = t.y0 * g.stride, (t.y1 - 1) * g.stride + g.k           # padded input rows
        patch = xp[:, t.c0:t.c1, py0:py1, :]
        pix = slice(t.y0 * g.wo, t.y1 * g.wo)
        wt = w[t.m0:t.m1, gc0:gc1]
        y_tile = None
        if cannot_overflow:
            gm0 = t.group * g.mg
            psum = chunk_psums[(t.group, t.c0)][:, t.m0 - gm0:t.m1 - gm0, pix]
            if hook is not None:
                psum = psum.astype(np.int64)
            if t.last_chunk:
                y_tile = out[:, t.m0:t.m1, t.y0:t.y1]
        else:
            cols = layer_cols[:, t.c0 * kk:t.c1 * kk, pix]                  # (N, tk*k*k, rows_out*Wo)
            wt64 = w64[t.m0:t.m1, gc0:gc1].reshape(t.m1 - t.m0, -1)
            l1 = np.abs(wt64).sum(axis=1).astype(np.int64)
            init = bias[t.m0:t.m1] if t.first_chunk else psum
            psum, (on, om, op) = engine.accumulate(wt, wt64, l1, cols, init, xmax, ql)
            overflowed[on, om + t.m0, op + pix.start] = True
            if t.last_chunk:
                s = shift if shift.ndim == 0 else shift[t.m0:t.m1].reshape(1, -1, 1)
                y_tile, sat = engine.fx.requantize(psum, s, ql.rounding, ql.relu)
                saturations += sat
                y_tile = y_tile.reshape(n, t.m1 - t.m0, t.y1 - t.y0, g.wo)
                out[:, t.m0:t.m1, t.y0:t.y1] = y_tile
        # what this tile moved, from the arrays it executed (padding is generated, not loaded)
        real_rows = max(0, min(py1, g.pad + g.h) - max(py0, g.pad))
        c = cost.mac_tile(wt.shape[0], pix.stop - pix.start, wt[0].size, patch.shape[1] * real_rows * g.w,
                          wt.size if t.load_weights else 0, (y_tile[0].size if y_tile is not None else 0),
                          t.first_chunk, t.last_chunk, t.index == 0, profile)
        counters += c
        if hook is not None:
            hook(TileData(layer.name, t, patch, wt, psum.reshape(n, -1, t.y1 - t.y0, g.wo), y_tile, c))
    if ql.overflow == "error" and overflowed.any():
        on, om, op = np.nonzero(overflowed)
        raise engine.overflow_error(ql, on, om, op, g.wo if layer.kind == "conv" else None)
    stats = engine.LayerStats(int(np.count_nonzero(overflowed)), saturations, out.size)
    if layer.kind == "fc":
        out = out.reshape(n, -1, 1, 1)
    return out, stats, counters


def run(qnet: QNetwork, x: np.ndarray, profile, until: str | None = None, hook=None, progress=None) -> list:
    """Like engine.run, tile by tile; each LayerResult carries its per-frame counters."""
    return run_layers(qnet, x, profile, lambda src, shape, ql: mac_layer(src, shape, ql, profile, qnet, hook),
                      until, progress)


def run_layers(qnet: QNetwork, x: np.ndarray, profile, mac, until: str | None = None, progress=None) -> list:
    """The layer loop of a counting engine: conv/fc layers through ``mac(src, shape, ql)`` ->
    (y, LayerStats, per-frame Counters), the others through engine.run_layer and
    cost.post_layer.  Returns the LayerResults (tiled.run; the array model's run)."""
    spec = qnet.spec
    xb, layers = engine.checked_input(qnet, x, until)
    shapes = layer_shapes(spec)
    acts = {"input": xb}
    results = []
    for i, layer in enumerate(layers):
        if progress is not None:
            progress(i, len(layers), layer.name)
        ql, shape = qnet.layers[i], shapes[i]
        src = acts[spec.sources(i)[0]]
        if layer.weighted:
            engine._check_params(layer, ql, shape.in_shape, shape.weight_shape)
            y, stats, counters = mac(src, shape, ql)
        else:
            y, stats = engine.run_layer(layer, ql, src, qnet)
            counters = cost.post_layer(shape, profile, len(spec.sources(i)))
        acts[layer.name] = y
        results.append(engine.LayerResult(layer.name, layer.kind, src, y, stats, counters))
    return results
