"""A direct-loop oracle of the numeric contract, for the golden-set and co-simulation tests.

Written from the README's "Numeric contract" table, not from refimpl's code
(it imports nothing from refimpl): the accumulator starts at the aligned bias
(or at the previous chunk's psums) and adds one product at a time in
(in_channel, ky, kx) order, applying the overflow policy after every
addition; requantization shifts with the named rounding, saturates to int16,
then applies ReLU.  Python ints are exact, and the int64 arrays here never
exceed 2**62 (acc_bits <= 40 in these sets, products <= 2**30, bias shifts
small).  Each step is vectorised over all outputs; the loop runs over taps.
"""
import json
from pathlib import Path

import numpy as np


def manifest(folder) -> dict:
    return json.loads((Path(folder) / "manifest.json").read_text())


def load(folder, stem) -> np.ndarray:
    return np.load(Path(folder) / f"{stem}.npy").astype(np.int64)


def policy_step(s, acc_bits: int, overflow: str):
    """(new accumulator, mask of lanes out of range) after one addition gave ``s``."""
    lo, hi = -(1 << (acc_bits - 1)), (1 << (acc_bits - 1)) - 1
    over = (s < lo) | (s > hi)
    if overflow == "wrap":                        # keep the low acc_bits bits, two's complement
        s = ((s - lo) % (1 << acc_bits)) + lo
    else:                                         # saturate (error: the set would not exist)
        s = np.clip(s, lo, hi)
    return s, over


def accumulate(patch, w, init, k: int, stride: int, out_rows: int, out_cols: int, acc_bits: int, overflow: str):
    """Direct loop over taps.

    patch : (C, rows, cols) zero-padded input; w : (M, C, k, k); init : (M, out_rows, out_cols).
    Returns (acc (M, out_rows, out_cols), overflowed mask of the same shape).
    """
    acc, over = policy_step(init.astype(np.int64), acc_bits, overflow)
    for c in range(patch.shape[0]):
        for ky in range(k):
            for kx in range(k):
                x = patch[c, ky:ky + stride * out_rows:stride, kx:kx + stride * out_cols:stride]
                acc, o = policy_step(acc + w[:, c, ky, kx, None, None] * x[None], acc_bits, overflow)
                over |= o
    return acc, over


def round_shift(a, s, rounding: str):
    """a * 2**-s rounded; s an int or an array broadcastable to a (per channel)."""
    a = np.asarray(a, dtype=np.int64)
    s = np.broadcast_to(np.asarray(s, dtype=np.int64), a.shape)
    out = np.empty_like(a)
    neg = s <= 0
    out[neg] = a[neg] << -s[neg]
    a, s = a[~neg], s[~neg]
    q = a >> s                                    # floor
    dropped = a - (q << s)
    half = np.int64(1) << (s - 1)
    if rounding == "half_up":
        q = q + (dropped >= half)
    elif rounding == "half_even":
        q = q + ((dropped > half) | ((dropped == half) & (q % 2 == 1)))
    else:
        assert rounding == "truncate", rounding
    out[~neg] = q
    return out


def requantize(acc, shift, rounding: str, relu: bool):
    y = np.clip(round_shift(acc, shift, rounding), -32768, 32767)
    return np.maximum(y, 0) if relu else y


def per_channel(v, n: int) -> np.ndarray:
    """A scalar or per-channel manifest value as an int64 (n, 1, 1) array."""
    return np.broadcast_to(np.asarray(v, dtype=np.int64).reshape(-1), (n,)).reshape(n, 1, 1)


def layer_direct(folder, doc: dict):
    """A conv layer recomputed from its own layer files: (acc, overflowed, outputs), all (Cout, Ho, Wo)."""
    x = load(folder, doc["files"]["input"])
    w = load(folder, doc["files"]["weights"])
    b = load(folder, doc["files"]["bias"])
    cout, ho, wo = doc["output_shape"]
    k, stride, pad, groups = doc["kernel"], doc["stride"], doc["pad"], doc["groups"]
    w_frac = per_channel(doc["w_frac"], cout)
    bias_shift = doc["in_frac"] + w_frac - doc["b_frac"]
    assert (bias_shift >= 0).all()                # the quantizer keeps b_frac <= acc_frac
    init = np.broadcast_to(b.reshape(cout, 1, 1) << bias_shift, (cout, ho, wo))
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    cg, mg = x.shape[0] // groups, cout // groups
    acc = np.empty((cout, ho, wo), np.int64)
    over = np.empty((cout, ho, wo), bool)
    for g in range(groups):
        ms = slice(g * mg, (g + 1) * mg)
        acc[ms], over[ms] = accumulate(xp[g * cg:(g + 1) * cg], w[ms], init[ms], k, stride, ho, wo,
                                       doc["acc_bits"], doc["overflow"])
    shift = doc["in_frac"] + w_frac - doc["out_frac"]
    return acc, over, requantize(acc, shift, doc["rounding"], doc["relu"])


def tile_direct(folder, tile: dict):
    """A tile recomputed from its own files (and psums_in): (psums, overflowed, outputs or None)."""
    p, f = tile["params"], tile["files"]
    m, rows, cols = p["m"], p["out_rows"], p["out_cols"]
    if tile["first_chunk"]:
        b = load(folder, f["bias"]).reshape(m, 1, 1)
        init = np.broadcast_to(b << per_channel(p["bias_shift"], m), (m, rows, cols))
    else:
        init = load(folder, tile["psums_in"])
    acc, over = accumulate(load(folder, f["inputs"]), load(folder, f["weights"]), init, p["k"], p["stride"],
                           rows, cols, p["acc_bits"], p["overflow"])
    y = requantize(acc, per_channel(p["shift"], m), p["rounding"], p["relu"]) if tile["last_chunk"] else None
    return acc, over, y
