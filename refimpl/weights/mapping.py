"""Weight tensor <-> weight matrix <-> 8-bit grayscale image.

Matrix.  A conv layer's int16 weights [Cout, Cin/groups, kh, kw] are read as
the matrix [Cout, Cin/groups * kh * kw] (row = output channel, column =
(in_channel, ky, kx) in that order, the engine's accumulation order); an fc
layer's [Nout, Nin] is its own matrix.  The image has one pixel per weight:
row r, column c of the picture is matrix[r, c].

8-bit mapping (the ``minmax`` mapping of the feature path, refimpl/split/mapping.py,
applied to the whole matrix; side information: lo, hi as int16):
    lo, hi = min(w), max(w);  r = hi - lo  (0 <= r <= 65535)
    p  = floor(((w - lo) * 510 + r) / (2 r))          round half up of (w - lo) * 255 / r
    w' = lo + floor((p * r * 2 + 255) / 510)          round half up of lo + p * r / 255, saturated to int16
so p = 0 decodes to lo and p = 255 to hi exactly; the step is r / 255 LSB of
w_frac and |w - w'| <= ceil(r / 510) before JPEG.  All int64, the largest
product 255 * 65535 * 2 < 2**26.  (offset = lo, step = r / 255.)
"""
from __future__ import annotations

import numpy as np

from ..errors import RefimplError
from ..split import mapping as fmap_mapping
from ..split.mapping import MappingParams

SAMPLE_MAX = fmap_mapping.SAMPLE_MAX


def to_matrix(w: np.ndarray) -> np.ndarray:
    """int16 [Cout, Cin/groups, kh, kw] or [Nout, Nin] -> int16 [rows, cols] (a view)."""
    a = np.asarray(w)
    if a.dtype != np.int16 or a.ndim not in (2, 4) or a.size == 0:
        raise RefimplError(f"weights must be a non-empty int16 conv (4-D) or fc (2-D) tensor, got {a.dtype} {a.shape}")
    return a.reshape(a.shape[0], -1)


def from_matrix(m: np.ndarray, weight_shape: tuple) -> np.ndarray:
    """int16 [rows, cols] -> the layer's weight tensor shape."""
    return np.asarray(m).reshape(weight_shape)


def to_image(m: np.ndarray) -> tuple:
    """int16 [rows, cols] -> (uint8 [rows, cols] image, MappingParams(kind='minmax', lo, hi))."""
    u8, mp = fmap_mapping.to_samples(np.asarray(m)[None], "minmax")
    return u8[0], mp


def from_image(img: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """uint8 [rows, cols] -> int16 [rows, cols], the decoder's inverse of ``to_image``."""
    return fmap_mapping.from_samples(np.asarray(img)[None], MappingParams("minmax", lo=int(lo), hi=int(hi)))[0]
