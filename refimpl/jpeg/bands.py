"""Decoder back end in bands of block rows: bounded memory, same pixels.

The decoder's Huffman stage yields, per component, sparse coefficient
records (one DC per block, one entry per non-zero AC coefficient).  This
module turns them into pixels a band at a time, so that no full-image
temporary wider than one byte per sample exists:

* :func:`idct_band` -- dequantize and inverse-DCT one band of block rows of
  a component (as :func:`refimpl.jpeg.scan.component_bands` yields them)
  into its uint8 plane (8 * rows, 8 * cols);
* :func:`colour_bands` -- up-sample the planes and convert YCbCr -> RGB a
  band of output rows at a time, straight into the output array.

Memory (the decoder's budget, ``tools/jpeg_memory.py`` measures it): the
output array (1x), the component planes (1x for 4:4:4, 0.5x for 4:2:0,
2/3x for 4:2:2; none extra for greyscale, whose padded plane is the output)
and the work arrays of one band (``scan.BAND_BLOCKS`` blocks,
:data:`BAND_SAMPLES` samples), the scan data and the Huffman stage's tables
of one window (``huffman.WINDOW_BYTES``).

Band boundaries cannot change a pixel: the IDCT is per block, and every
up-sampled row depends only on its own input row and the rows just above
and below it (jdsample.c), which each band reads as context.
"""

from __future__ import annotations

import functools

import numpy as np

from .color import ceil_div, upsample, ycbcr_to_rgb
from .dct import IDCT_DC_OFFSET, idct_plane
from .tables import BLOCK, NATURAL_ORDER

__all__ = ["BAND_SAMPLES", "idct_band", "colour_bands"]

# Output samples per colour-conversion band: 2**20 keeps its int32
# temporaries at 4 MB each.
BAND_SAMPLES = 1 << 20


def idct_band(plane: np.ndarray, band) -> None:
    """Dequantize and inverse-DCT one band of a component into ``plane``.

    Parameters
    ----------
    plane : ndarray, shape (8 * rows, 8 * cols), dtype uint8
        The component's samples; block rows ``band.b0 .. band.b1 - 1`` are
        written.
    band : refimpl.jpeg.scan.Band
        The band's coefficient records (cells absolute in the component).
    """
    b0, b1, cols = band.b0, band.b1, band.cols
    grid = np.zeros((b1 - b0, BLOCK, cols, BLOCK), dtype=np.float64)
    flat = grid.reshape(-1)
    base = _block_origins(b1 - b0, cols)
    qz = band.q[NATURAL_ORDER].astype(np.float64)  # table in zig-zag order
    first = b0 * cols  # the band's first cell
    flat[np.take(base, band.cell - first)] = band.dc * qz[0] + IDCT_DC_OFFSET
    k = band.ac_k.astype(np.intp)  # np.take: uint8 indices would be cast twice
    where = np.take(base, band.ac_cell - first)
    where += np.take(_coefficient_offsets(cols), k)
    flat[where] = band.ac_value * np.take(qz, k)
    idct_plane(grid, out=plane[b0 * BLOCK:b1 * BLOCK])


def _block_origins(rows: int, cols: int) -> np.ndarray:
    """Flat index of coefficient (0, 0) of each cell ``by * cols + bx`` in a
    (rows, 8, cols, 8) grid: ``(by * 8 * cols + bx) * 8``; int64, (rows * cols,)."""
    by = np.arange(rows, dtype=np.int64) * (BLOCK * BLOCK * cols)
    return (by[:, None] + np.arange(0, BLOCK * cols, BLOCK)).reshape(-1)


@functools.lru_cache(maxsize=64)
def _coefficient_offsets(cols: int) -> np.ndarray:
    """Offset of zig-zag coefficient k (natural (v, u)) from its block's
    coefficient (0, 0) in a (rows, 8, cols, 8) grid: ``v * 8 * cols + u``;
    int64, (64,), read-only."""
    v, u = np.divmod(NATURAL_ORDER.astype(np.int64), BLOCK)
    offsets = v * (BLOCK * cols) + u
    offsets.setflags(write=False)
    return offsets


def _upsampled_rows(plane, h_expand, v_expand, width, r0, r1):
    """Rows r0..r1 of ``upsample(plane, ...)``, reading one context row each side."""
    if (h_expand, v_expand) == (1, 1):
        return plane[r0:r1, :width]
    i0, i1 = r0 // v_expand, ceil_div(r1, v_expand)
    c0, c1 = max(i0 - 1, 0), min(i1 + 1, plane.shape[0])
    part = upsample(plane[c0:c1], h_expand, v_expand, (c1 - c0) * v_expand, width)
    skip = r0 - c0 * v_expand
    return part[skip:skip + (r1 - r0)]


def colour_bands(planes, expands, height, width, rgb: bool) -> np.ndarray:
    """Up-sample three component planes and convert them, band by band.

    Parameters
    ----------
    planes : list of 3 ndarray, uint8
        Each component's real samples, exactly libjpeg's downsampled size
        (ceil(H * v / Vmax), ceil(W * h / Hmax)): the edges replicate there.
    expands : list of 3 (h_expand, v_expand)
        ``(Hmax // h, Vmax // v)`` per component.
    height, width : int
    rgb : bool
        True: components are R, G, B (no conversion).

    Returns
    -------
    ndarray, shape (height, width, 3), dtype uint8
    """
    out = np.empty((height, width, 3), dtype=np.uint8)
    v_max = max(v for _, v in expands)
    step = max(v_max, BAND_SAMPLES // max(width, 1))
    step -= step % v_max  # bands start on a row every component maps to
    for r0 in range(0, height, step):
        r1 = min(height, r0 + step)
        rows = [_upsampled_rows(p, h, v, width, r0, r1)
                for p, (h, v) in zip(planes, expands)]
        if rgb:
            for i, band in enumerate(rows):
                out[r0:r1, :, i] = band
        else:
            out[r0:r1] = ycbcr_to_rgb(*rows)
    return out

