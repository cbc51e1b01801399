"""The passes of one tile and their operand streams (pure layout, no arithmetic).

A tile (schedule.Tile: output channels m0:m1, output rows y0:y1 at full width
Wo, input channels c0:c1 of one group) runs on the rows x cols (12 x 12)
output-stationary array as passes.  Its m = m1 - m0 channels split into
n_cb = ceil(m / rows) channel blocks and its pixels = (y1 - y0) * Wo output
pixels, in row-major order (q = (oy - y0) * Wo + ox), into n_pb = ceil(pixels
/ cols) pixel blocks.  Pass p = cb * n_pb + pb (channel block outer, pixel
block inner): MAC (r, j) computes output channel m0 + cb*rows + r at tile
pixel q = pb*cols + j, reducing K = tk*kh*kw products in the contract's
(in_channel, ky, kx) order, step k = (c*kh + ky)*kw + kx:

  w_stream[p][k][r] = weights[cb*rows + r][c][ky][kx]          int16  [P][K][rows]
  x_stream[p][k][j] = inputs[c][oy*stride + ky][ox*stride + kx] int16  [P][K][cols]
                      (inputs: the tile's zero-padded patch, oy, ox relative to it)
  psums_start[p][r][j] = the MAC's start psum: fit(aligned bias) on the tile's
                      first input chunk, else the previous chunk's psums_end[p][r][j]
  psums_end[p][r][j]   = the psum after the pass's K products (acc_bits)
  outputs[p][r][j]     = requantized psums_end (last chunk only)

A partial pass (the last channel block with m % rows channels, the last pixel
block with pixels % cols pixels) is padded: the missing rows' weights and the
missing columns' inputs are 0 and those MACs start from psum 0, so their
psums_end and outputs are 0; they are never written back.  The streams are
given unskewed (step k of every row and column on one line); the array skews
them itself (refimpl/array/model.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..layout import im2col


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class PassGrid:
    """How a tile of m channels x ``pixels`` output pixels maps onto rows x cols MACs."""

    m: int
    pixels: int
    rows: int
    cols: int

    @property
    def n_cb(self) -> int:
        return _ceil(self.m, self.rows)

    @property
    def n_pb(self) -> int:
        return _ceil(self.pixels, self.cols)

    @property
    def passes(self) -> int:
        return self.n_cb * self.n_pb

    def block(self, p: int) -> tuple:
        """(channel block, pixel block) of pass p."""
        return divmod(p, self.n_pb)

    def active(self) -> np.ndarray:
        """bool (P, rows, cols): the MACs that hold a real output in each pass."""
        r = np.arange(self.n_cb * self.rows).reshape(self.n_cb, 1, self.rows, 1) < self.m
        c = np.arange(self.n_pb * self.cols).reshape(1, self.n_pb, 1, self.cols) < self.pixels
        return (r & c).reshape(self.passes, self.rows, self.cols)

    def to_grid(self, a: np.ndarray) -> np.ndarray:
        """(N, m, pixels) -> (N, P, rows, cols), zero on padded MACs."""
        n = a.shape[0]
        full = np.zeros((n, self.n_cb * self.rows, self.n_pb * self.cols), dtype=a.dtype)
        full[:, :self.m, :self.pixels] = a
        g = full.reshape(n, self.n_cb, self.rows, self.n_pb, self.cols).transpose(0, 1, 3, 2, 4)
        return g.reshape(n, self.passes, self.rows, self.cols)

    def from_grid(self, g: np.ndarray) -> np.ndarray:
        """(N, P, rows, cols) -> (N, m, pixels): the real outputs, padding dropped."""
        n = g.shape[0]
        full = g.reshape(n, self.n_cb, self.n_pb, self.rows, self.cols).transpose(0, 1, 3, 2, 4)
        return full.reshape(n, self.n_cb * self.rows, self.n_pb * self.cols)[:, :self.m, :self.pixels]

    def row_channels(self) -> np.ndarray:
        """int (P, rows): tile-relative output channel of each row in each pass (>= m on padded rows)."""
        cb = np.arange(self.passes) // self.n_pb
        return cb[:, None] * self.rows + np.arange(self.rows)[None, :]


def weight_stream(grid: PassGrid, w: np.ndarray) -> np.ndarray:
    """w (m, K) tile weights, rows in (c, ky, kx) order -> int (P, K, rows)."""
    k = w.shape[1]
    full = np.zeros((grid.n_cb * grid.rows, k), dtype=w.dtype)
    full[:grid.m] = w
    per_cb = full.reshape(grid.n_cb, grid.rows, k).transpose(0, 2, 1)            # (n_cb, K, rows)
    return np.repeat(per_cb, grid.n_pb, axis=0)


def input_stream(grid: PassGrid, cols: np.ndarray) -> np.ndarray:
    """cols (N, K, pixels) GEMM columns of the tile -> int (N, P, K, cols)."""
    n, k, _ = cols.shape
    full = np.zeros((n, k, grid.n_pb * grid.cols), dtype=cols.dtype)
    full[:, :, :grid.pixels] = cols
    per_pb = full.reshape(n, k, grid.n_pb, grid.cols).transpose(0, 2, 1, 3)      # (N, n_pb, K, cols)
    return np.tile(per_pb, (1, grid.n_cb, 1, 1))


def tile_columns(patch: np.ndarray, k: int, stride: int) -> np.ndarray:
    """Padded patch (N, tk, in_rows, in_cols) -> GEMM columns int64 (N, tk*k*k, out_rows*out_cols)."""
    return im2col(patch, k, stride, 0, dtype=np.int64)
