"""Per-pass golden vectors of a tile: what enters and leaves the array on each pass.

Built from the tiled engine's tile data (tiled.TileData: the padded input
patch, the weight slice, the psums after the chunk, the outputs), so they are
the tiled engine's arithmetic laid out by passes.py, independent of the cycle
model that the tests and the RTL check against them.  Written under
tiles/<layer>/tNNNN/passes/ (layouts in passes.py and README "For RTL
engineers: the MAC array"):

  w_stream     [pass][step][row]  int16     weight entering row r at step k
  x_stream     [pass][step][col]  int16     input entering column j at step k
  psums_start  [pass][row][col]   acc_bits  the MACs' start psums
  psums_end    [pass][row][col]   acc_bits  the psums after the pass
  outputs      [pass][row][col]   int16     requantized psums_end (last chunk only)

``--passes first:N`` writes the first N passes of every selected tile,
``all`` every pass; the tile's manifest entry gets a "passes" record with the
pass grid, the order, the tile's array timing and the files.
"""
from __future__ import annotations

import numpy as np

from ..errors import RefimplError
from .engine import start_psums
from .passes import PassGrid, input_stream, tile_columns, weight_stream
from .timing import tile_timing

PASS_ORDER = ("p = cb * n_pb + pb: channel block cb (rows m0 + cb*rows ..) outer, pixel block pb inner; "
              "column j of pixel block pb is tile pixel q = pb*cols + j, row-major over the tile's output rows "
              "at full width (oy = y0 + q // Wo, ox = q % Wo); step k = (c*kh + ky)*kw + kx")
PADDING = ("rows past the tile's channels and columns past its pixels get zero operands and start from psum 0, "
           "so their psums_end and outputs are 0; they are not written back")
SKEW = ("the streams are unskewed; the array delays row r's weights by r cycles and column j's inputs by j "
        "cycles, so MAC (r, j) multiplies step k of pass p at cycle p*I + k + 2 + r + j (I = max(K, rows + cols))")


def parse_passes(text: str):
    """'none' -> 0, 'first:N' -> N, 'all' -> None."""
    if text == "none":
        return 0
    if text == "all":
        return None
    if isinstance(text, str) and text.startswith("first:") and text[6:].isdigit() and int(text[6:]) > 0:
        return int(text[6:])
    raise RefimplError(f"passes '{text}' must be none, first:N (N > 0) or all")


def pass_vectors(d, ql, layer, rows: int, cols: int, psums_in=None, limit=None) -> tuple:
    """(PassGrid, {name: array}) of tile data ``d`` (tiled.TileData), frame 0.

    psums_in: the previous chunk's psums (m, rows_out, cols_out) for a later chunk.
    """
    t = d.tile
    k = layer.kernel if layer.kind == "conv" else 1
    stride = layer.stride if layer.kind == "conv" else 1
    m = t.m1 - t.m0
    grid = PassGrid(m, int(d.psums.shape[2] * d.psums.shape[3]), rows, cols)
    count = grid.passes if limit is None else min(limit, grid.passes)
    w = d.weights.reshape(m, -1).astype(np.int64)
    vec = dict(w_stream=weight_stream(grid, w)[:count].astype(np.int16),
               x_stream=input_stream(grid, tile_columns(d.inputs[:1], k, stride))[0, :count].astype(np.int16))
    if t.first_chunk:
        b0, _ = start_psums(ql)
        start = np.broadcast_to(b0[t.m0:t.m1, None], (1, m, grid.pixels))
    else:
        if psums_in is None:
            raise RefimplError(f"layer {d.layer} tile {t.index}: a later chunk's pass vectors need the previous "
                               f"chunk's psums (its tile must be captured too)")
        start = psums_in.reshape(1, m, -1)
    vec["psums_start"] = grid.to_grid(np.asarray(start, np.int64))[0, :count]
    vec["psums_end"] = grid.to_grid(d.psums[:1].reshape(1, m, -1).astype(np.int64))[0, :count]
    if d.outputs is not None:
        vec["outputs"] = grid.to_grid(d.outputs[:1].reshape(1, m, -1))[0, :count].astype(np.int16)
    return grid, vec


def pass_doc(writer, stem: str, tag: str, d, ql, layer, prof, psums_in, limit) -> dict:
    """Write the pass vectors of one tile; returns its manifest record."""
    rows, cols = prof.array.rows, prof.array.cols
    grid, vec = pass_vectors(d, ql, layer, rows, cols, psums_in, limit)
    axes = dict(w_stream=["pass", "step", "row"], x_stream=["pass", "step", "col"])
    files = {}
    for name, a in vec.items():
        bits = ql.acc_bits if name.startswith("psums") else 16
        files[name] = writer.tensor(f"{stem}/passes/{name}", a, bits, axes.get(name, ["pass", "row", "col"]),
                                    f"{tag} tensor=passes/{name}")
    kc = int(vec["w_stream"].shape[1])
    return dict(count=int(vec["w_stream"].shape[0]), total=grid.passes, rows=rows, cols=cols, kc=kc,
                n_channel_blocks=grid.n_cb, n_pixel_blocks=grid.n_pb, m=grid.m, pixels=grid.pixels,
                order=PASS_ORDER, padding=PADDING, skew=SKEW,
                timing=tile_timing(grid.passes, kc, rows, cols).as_dict(), files=files)
