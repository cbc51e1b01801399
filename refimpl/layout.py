"""The one tensor layout, and the patch extraction both engines build on.

Feature maps are (N, C, H, W).  ``im2col`` turns a padded input into GEMM
columns whose row order is (in_channel, ky, kx), the same order as a conv
weight [Cout, Cin/groups, kh, kw] flattened row-major, and the same order the
accumulator adds products in (see fixedpoint).  The FC input is the
(C, H, W) feature map flattened row-major.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def as_batch(x: np.ndarray) -> tuple:
    """(x as (N, C, H, W), whether the caller passed a single (C, H, W) frame)."""
    if x.ndim == 3:
        return x[None], True
    return x, False


def pad_hw(x: np.ndarray, pad: int, value=0) -> np.ndarray:
    """Zero-pad H and W of (N, C, H, W) by ``pad`` on every side."""
    if pad == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=value)


def windows(x: np.ndarray, kernel: int, stride: int, pad: int, value=0) -> np.ndarray:
    """Strided view (N, C, Ho, Wo, kh, kw) of the padded input (no copy)."""
    xp = pad_hw(x, pad, value)
    v = sliding_window_view(xp, (kernel, kernel), axis=(2, 3))
    return v[:, :, ::stride, ::stride]


def im2col(x: np.ndarray, kernel: int, stride: int, pad: int, dtype=np.float64) -> np.ndarray:
    """GEMM columns (N, C*kh*kw, Ho*Wo), rows in (in_channel, ky, kx) order.

    x : (N, C, H, W) integer or float feature map.  One copy, in ``dtype``.
    """
    n, c = x.shape[:2]
    v = windows(x.astype(dtype, copy=False), kernel, stride, pad)
    ho, wo = v.shape[2:4]
    cols = np.ascontiguousarray(v.transpose(0, 1, 4, 5, 2, 3))
    return cols.reshape(n, c * kernel * kernel, ho * wo)


def im2col_row_blocks(x: np.ndarray, kernel: int, stride: int, pad: int, rows: int, dtype=np.float64):
    """im2col by blocks of ``rows`` output rows: yields (r0, r1, cols), cols (N, C*kh*kw,
    (r1 - r0) * Wo) = im2col(x)[:, :, r0 * Wo:r1 * Wo], one copy per block in ``dtype``."""
    v = windows(x.astype(dtype, copy=False), kernel, stride, pad)
    n, c, ho, wo = v.shape[:4]
    for r0 in range(0, ho, rows):
        blk = np.ascontiguousarray(v[:, :, r0:r0 + rows].transpose(0, 1, 4, 5, 2, 3))
        yield r0, min(ho, r0 + rows), blk.reshape(n, c * kernel * kernel, -1)


def flatten_chw(x: np.ndarray) -> np.ndarray:
    """(N, C, H, W) -> (N, C*H*W) in row-major (C, H, W) order: the FC input."""
    return x.reshape(x.shape[0], -1)


def lrn_window_sum(sq: np.ndarray, size: int) -> np.ndarray:
    """Sum over a window of ``size`` channels centred on each channel,
    zero outside (Caffe ACROSS_CHANNELS).  sq : (N, C, H, W)."""
    half = size // 2
    c = sq.shape[1]
    csum = np.zeros((sq.shape[0], c + 1) + sq.shape[2:], dtype=sq.dtype)
    np.cumsum(sq, axis=1, out=csum[:, 1:])
    hi = np.minimum(np.arange(c) + half + 1, c)
    lo = np.maximum(np.arange(c) - half, 0)
    return csum[:, hi] - csum[:, lo]
