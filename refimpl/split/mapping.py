"""int16 feature map (C, H, W) at out_frac <-> 8-bit samples for the JPEG encoder.

Two mappings, each with its exact integer inverse on the host:

``shift`` (cheap in hardware: a barrel shifter and a clamp)
    u8 = clip(round_shift(x, s, half_up), 0, 255), with the smallest s >= 0
    that brings max(x) to <= 255 (refimpl/features.py).  Inverse: x' = u8 << s.
    Side information: s (1 byte).  Negative values clip to 0, so a map with
    negative values (fc8, the input picture) loses them; the low s bits are
    dropped (|x - x'| <= 2**(s-1) where nothing clips).
``minmax`` (one min/max pass over the buffered map, then a multiply and a
    divide by a per-map constant, or a reciprocal multiply, per value)
    lo, hi = min(x), max(x); r = hi - lo (0 < r <= 65535)
    u8 = floor(((x - lo) * 510 + r) / (2 r))    = round half up of (x - lo) * 255 / r
    Inverse: x' = lo + floor((u8 * r * 2 + 255) / 510) = lo + round half up of u8 * r / 255.
    Side information: lo and hi (2 x int16).  Uses all 256 levels for any sign
    and range; |x - x'| <= ceil(r / 510) before JPEG.  r = 0 maps to u8 = 0, x' = lo.

All arithmetic is int64 on values |x| < 2**16; the largest product is
65535 * 510 < 2**25, so nothing overflows.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import features
from ..errors import RefimplError, check_choice

MAPPINGS = ("shift", "minmax")
SAMPLE_MAX = features.SAMPLE_MAX          # 255: 8-bit baseline JPEG samples (T.81)


@dataclass(frozen=True)
class MappingParams:
    """The side information of a mapping: ``shift`` uses s; ``minmax`` uses lo, hi."""

    kind: str
    shift: int = 0
    lo: int = 0
    hi: int = 0


def check_mapping(kind: str) -> str:
    return check_choice("mapping", kind, MAPPINGS)


def _int16(fmap) -> np.ndarray:
    a = np.asarray(fmap)
    if a.dtype != np.int16:
        raise RefimplError(f"feature map must be int16, got {a.dtype}")
    return a


def to_samples(fmap: np.ndarray, kind: str = "shift") -> tuple:
    """int16 (C, H, W) -> (uint8 (C, H, W), MappingParams)."""
    check_mapping(kind)
    x = _int16(fmap).astype(np.int64)
    if kind == "shift":
        u8, s = features.to_samples(fmap)
        return u8, MappingParams("shift", shift=int(s))
    lo, hi = (int(x.min()), int(x.max())) if x.size else (0, 0)
    r = hi - lo
    if r == 0:
        return np.zeros(x.shape, dtype=np.uint8), MappingParams("minmax", lo=lo, hi=hi)
    u8 = ((x - lo) * (2 * SAMPLE_MAX) + r) // (2 * r)
    return u8.astype(np.uint8), MappingParams("minmax", lo=lo, hi=hi)


def from_samples(u8: np.ndarray, p: MappingParams) -> np.ndarray:
    """uint8 (C, H, W) -> int16 (C, H, W), the host's inverse of ``to_samples``."""
    u = np.asarray(u8).astype(np.int64)
    if p.kind == "shift":
        y = u << p.shift
    elif p.kind == "minmax":
        r = p.hi - p.lo
        y = p.lo + (u * r * 2 + SAMPLE_MAX) // (2 * SAMPLE_MAX)
    else:
        raise RefimplError(f"unknown mapping '{p.kind}'")
    return np.clip(y, -32768, 32767).astype(np.int16)
