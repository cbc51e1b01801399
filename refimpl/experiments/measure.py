"""One operating point of a partitioned pipeline over a cached set of edge maps.

codec_point   every map -> partition.encode_fmap (a whole bitstream, header and
              side information included) -> partition.host_decode (the host's
              checks and decoder) -> the layers after the cut (bit-exact engine,
              or float with --host float) -> top-1.  The same path as
              ``refimpl eval --at``, with the edge run read from the cache.
kbit_point    the simplest peer of the lossy codec: uniform quantization of each
              map to k bits, then the exact lossless coder (split.lossless).
smallest_passing  bisection for the smallest setting that meets the 1 % target.

Accuracy loss is the reference top-1 (the shipped network, unsplit, bit-exact,
on the same images) minus the split top-1, in percentage points.
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from .. import evaluate
from ..errors import RefimplError
from ..split import partition
from . import context

KBITS = tuple(range(2, 9))          # the k = 2..8
KBIT_SIDE_BYTES = 4                 # lo and hi, two int16 per map (as the minmax mapping)


# ---------------------------------------------------------------- k-bit uniform quantizer
def quantize_k(fmap: np.ndarray, k: int) -> tuple:
    """int16 (C, H, W) -> (q int16 in 0..2**k-1, lo, hi).

    L = 2**k - 1 levels over [lo, hi] = [min, max] of the map, r = hi - lo:
    q = floor(((x - lo) * 2L + r) / (2r)) = round half up of (x - lo) * L / r
    (the minmax mapping of split.mapping with 255 replaced by L); r = 0 gives q = 0.
    |x| < 2**16 and 2L <= 510, so every product stays below 2**26 in int64.
    """
    if not 1 <= k <= 15:
        raise RefimplError(f"k {k} outside 1..15")
    x = np.asarray(fmap).astype(np.int64)
    lo, hi = int(x.min()), int(x.max())
    r, levels = hi - lo, (1 << k) - 1
    if r == 0:
        return np.zeros(x.shape, dtype=np.int16), lo, hi
    return (((x - lo) * 2 * levels + r) // (2 * r)).astype(np.int16), lo, hi


def dequantize_k(q: np.ndarray, lo: int, hi: int, k: int) -> np.ndarray:
    """Host's inverse: x' = lo + round half up of q * r / L, int16."""
    levels, r = (1 << k) - 1, hi - lo
    y = lo + (np.asarray(q).astype(np.int64) * r * 2 + levels) // (2 * levels)
    return np.clip(y, -32768, 32767).astype(np.int16)


def quantize_k_naive(fmap: np.ndarray, k: int) -> tuple:
    """Loop oracle of quantize_k / dequantize_k with exact fractions: (q, x')."""
    flat = [int(v) for v in np.asarray(fmap).reshape(-1)]
    lo, hi = min(flat), max(flat)
    levels, r = (1 << k) - 1, hi - lo
    q, back = [], []
    for v in flat:
        qi = 0 if r == 0 else math.floor(Fraction((v - lo) * levels, r) + Fraction(1, 2))
        q.append(qi)
        back.append(lo + math.floor(Fraction(qi * r, levels) + Fraction(1, 2)))
    shape = np.shape(fmap)
    return np.array(q, dtype=np.int16).reshape(shape), np.array(back, dtype=np.int16).reshape(shape)


# ---------------------------------------------------------------- operating points
def host_top1(ctx: context.Context, fmaps: np.ndarray, at: str) -> np.ndarray:
    """(N,) host top-1 classes from decoded int16 maps (N, C, H, W) cut after ``at``."""
    out = partition.host_run(ctx.qnet, fmaps, at, ctx.host, ctx.params)
    scores = out["scores_int"].astype(np.int64) if "scores_int" in out else out["scores"]
    return evaluate.ranked(scores, 1)[:, 0]


def _summary(ctx, set_name: str, pred: np.ndarray, nbytes: np.ndarray, raw_bytes: int) -> dict:
    lab, ref = context.labels(ctx, set_name), context.reference_top1(ctx, set_name)
    hits, ref_hits, n = int(np.sum(pred == lab)), int(np.sum(ref == lab)), int(len(lab))
    mean_bytes = float(np.mean(nbytes))
    return dict(images=n, hits=hits, ref_hits=ref_hits, bytes=mean_bytes, ratio=raw_bytes / mean_bytes,
                top1_pct=100.0 * hits / n, ref_top1_pct=100.0 * ref_hits / n, loss_pp=100.0 * (ref_hits - hits) / n,
                agreement=float(np.mean(pred == ref)))


def raw_bytes(ctx, at: str) -> int:
    """16-bit raw bytes of one map (2 a value, no header): the numerator of every ratio."""
    shape, _ = partition.map_format(ctx.qnet, at)
    return 2 * int(np.prod(shape))


def codec_point(ctx, set_name: str, at: str, codec: str, progress=None, **opts) -> dict:
    """Mean bitstream bytes, ratio and top-1 of ``codec`` (options as encode_fmap) at ``at``."""
    fm = context.maps(ctx, set_name, at)
    preds, sizes = [], []
    for start in range(0, len(fm), context.BATCH):
        streams = [partition.encode_fmap(ctx.qnet, f, at, codec, **opts) for f in np.asarray(fm[start:start + context.BATCH])]
        dec = np.stack([partition.host_decode(ctx.qnet, s)[1] for s in streams])
        preds.append(host_top1(ctx, dec, at))
        sizes += [len(s) for s in streams]
        if progress:
            progress(len(streams))
    return _summary(ctx, set_name, np.concatenate(preds), np.array(sizes), raw_bytes(ctx, at))


def lossless_point(ctx, set_name: str, at: str, progress=None) -> dict:
    """Mean lossless bitstream bytes at ``at``.  The coder is exact (tests: every value,
    every split point bit-identical to the unsplit run), so the top-1 is the unsplit one."""
    fm = context.maps(ctx, set_name, at)
    sizes = []
    for start in range(0, len(fm), context.BATCH):
        sizes += [len(partition.encode_fmap(ctx.qnet, f, at, "lossless")) for f in np.asarray(fm[start:start + context.BATCH])]
        if progress:
            progress(min(context.BATCH, len(fm) - start))
    ref = context.reference_top1(ctx, set_name)
    return _summary(ctx, set_name, ref, np.array(sizes), raw_bytes(ctx, at))


def kbit_point(ctx, set_name: str, at: str, k: int, progress=None) -> dict:
    """k-bit uniform quantization + lossless coder: bytes are the lossless bitstream of
    the q map plus KBIT_SIDE_BYTES (lo, hi); the host runs on the dequantized map."""
    fm = context.maps(ctx, set_name, at)
    preds, sizes = [], []
    for start in range(0, len(fm), context.BATCH):
        dec = []
        for f in np.asarray(fm[start:start + context.BATCH]):
            q, lo, hi = quantize_k(f, k)
            sizes.append(len(partition.encode_fmap(ctx.qnet, q, at, "lossless")) + KBIT_SIDE_BYTES)
            dec.append(dequantize_k(q, lo, hi, k))
        preds.append(host_top1(ctx, np.stack(dec), at))
        if progress:
            progress(len(dec))
    return _summary(ctx, set_name, np.concatenate(preds), np.array(sizes), raw_bytes(ctx, at))


def smallest_passing(candidates, ok):
    """Smallest c of the ascending ``candidates`` with ok(c), by bisection (ok is taken as
    monotone: false below some point, true from it on); None when the largest fails.
    Evaluates the largest first, then about log2(len) more."""
    cands = list(candidates)
    lo, hi = 0, len(cands) - 1
    if not ok(cands[hi]):
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        if ok(cands[mid]):
            hi = mid
        else:
            lo = mid + 1
    return cands[lo]
