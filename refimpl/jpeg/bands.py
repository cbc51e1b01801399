"""Decoder back end in bands of block rows: bounded memory, same pixels.

The decoder's Huffman stage yields, per component, sparse coefficient
records (one DC per block, one entry per non-zero AC coefficient).  This
module turns them into pixels a band at a time, so that no full-image
temporary wider than one byte per sample exists:

* :func:`component_plane` -- dequantize and inverse-DCT one component, a
  band of MCU rows at a time, into a uint8 plane (8 * rows, 8 * cols);
* :func:`colour_bands` -- up-sample the planes and convert YCbCr -> RGB a
  band of output rows at a time, straight into the output array.

Memory (the decoder's budget, ``tools/jpeg_memory.py`` measures it): the
output array (1x), the component planes (1x for 4:4:4, 0.5x for 4:2:0 and
4:2:2; none extra for greyscale, whose padded plane is the output), the
coefficient records (18 bytes per non-zero AC coefficient, 10 per block) and
band work buffers of about :data:`BAND_SAMPLES` samples.

Band boundaries cannot change a pixel: the IDCT is per block, and every
up-sampled row depends only on its own input row and the rows just above
and below it (jdsample.c), which each band reads as context.
"""

from __future__ import annotations

import numpy as np

from .color import ceil_div, upsample, ycbcr_to_rgb
from .dct import IDCT_DC_OFFSET, idct_plane
from .tables import BLOCK, NATURAL_ORDER

__all__ = ["BAND_SAMPLES", "component_plane", "colour_bands"]

# Samples per band: 2**20 keeps the float64 IDCT grid of a band at 8 MB and
# the int32 colour-conversion temporaries at 4 MB each.
BAND_SAMPLES = 1 << 20


def _band_block_rows(cols: int, v: int) -> int:
    """Block rows per band: a multiple of ``v`` (whole MCU rows)."""
    rows = max(1, BAND_SAMPLES // (BLOCK * BLOCK * cols))
    return max(v, rows - rows % v)


def component_plane(rows, cols, q, cell, dc, ac_cell, ac_k, ac_value, v=1):
    """Samples of one component from its coefficient records.

    Parameters
    ----------
    rows, cols : int
        Component size in blocks.
    q : ndarray, shape (64,), int64, natural order
        Quantization table (signed, as libjpeg's IDCT multiplies it).
    cell, dc : ndarray, shape (N,)
        Grid cell ``row * cols + col`` and DC value of every real block.
    ac_cell, ac_k, ac_value : ndarray, shape (M,)
        Block cell, zig-zag index (1..63) and value of every non-zero AC
        coefficient.
    v : int
        Vertical sampling factor: the records come in MCU-row order, so
        ``cell // (cols * v)`` never decreases along them (within an MCU row
        blocks of v block rows alternate) -- bands of whole MCU rows are
        contiguous runs found by binary search.

    Returns
    -------
    ndarray, shape (8 * rows, 8 * cols), dtype uint8
    """
    plane = np.empty((rows * BLOCK, cols * BLOCK), dtype=np.uint8)
    step = _band_block_rows(cols, v)
    natural = NATURAL_ORDER[ac_k]
    for b0 in range(0, rows, step):
        b1 = min(rows, b0 + step)
        lo, hi = np.searchsorted(cell, [b0 * cols, b1 * cols])
        alo, ahi = np.searchsorted(ac_cell, [b0 * cols, b1 * cols])
        grid = np.zeros((b1 - b0, BLOCK, cols, BLOCK), dtype=np.float64)
        flat = grid.reshape(-1)
        # Flat index of coefficient (v, u) of band cell c = by * cols + bx:
        # ((by * 8 + v) * cols + bx) * 8 + u.
        by, bx = np.divmod(cell[lo:hi] - b0 * cols, cols)
        flat[(by * BLOCK * cols + bx) * BLOCK] = \
            dc[lo:hi].astype(np.float64) * q[0] + IDCT_DC_OFFSET
        by, bx = np.divmod(ac_cell[alo:ahi] - b0 * cols, cols)
        nat = natural[alo:ahi]
        vv, uu = nat // BLOCK, nat % BLOCK
        flat[(by * BLOCK * cols + bx) * BLOCK + vv * (BLOCK * cols) + uu] = \
            ac_value[alo:ahi].astype(np.float64) * q[nat]
        plane[b0 * BLOCK:b1 * BLOCK] = idct_plane(grid)
    return plane


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

