"""Direct-loop integer kernels: the readable definition of every layer.

Plain Python integers, one frame (C, H, W), one output at a time, products
added in the canonical order (bias first, then in_channel, ky, kx; fc: the
(C, H, W) flatten order) with the accumulator policy applied after every
addition.  Slow by design; the tests hold the fast and tiled engines to it
bit for bit.  Requantization is written out with Python's ``>>`` (an
arithmetic shift on ints) so that it stays independent of fixedpoint's
vectorised code; LRN uses fixedpoint's tables, which are the contract, and
evaluates them with int.bit_length and shift_round.
"""
from __future__ import annotations

import numpy as np

from . import fixedpoint as fx
from .errors import RefimplError


def _range(bits):
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def shift_round(v: int, s: int, mode: str) -> int:
    """v * 2**-s rounded by ``mode`` (s < 0 shifts left)."""
    if s <= 0:
        return v << -s
    q = v >> s                        # floor
    dropped = v - (q << s)            # 0 <= dropped < 2**s
    half = 1 << (s - 1)
    if mode == "truncate":
        return q
    if mode == "half_up":
        return q + (1 if dropped >= half else 0)
    if mode == "half_even":
        return q + (1 if dropped > half or (dropped == half and q & 1) else 0)
    raise RefimplError(f"unknown rounding mode '{mode}'")


class AccOverflow(RefimplError):
    """An 'error'-policy overflow in the direct loop; the caller names the output."""


def acc_step(acc: int, p: int, bits: int, policy: str):
    """(acc + p with the overflow policy applied, overflowed?)."""
    lo, hi = _range(bits)
    s = acc + p
    if lo <= s <= hi:
        return s, False
    if policy == "saturate":
        return (hi if s > hi else lo), True
    if policy == "wrap":
        return ((s - lo) % (1 << bits)) + lo, True
    raise AccOverflow(f"accumulator overflow (policy '{policy}')")


def output_word(acc: int, shift: int, mode: str, relu: bool):
    """(requantized int16 value, saturated?)."""
    lo, hi = _range(16)
    v = shift_round(acc, shift, mode)
    sat = v < lo or v > hi
    v = min(max(v, lo), hi)
    return (max(v, 0) if relu else v), sat


def _channel(value, c):
    return int(value[c]) if np.ndim(value) else int(value)


def conv_direct(x, w, bias, layer, ql):
    """x int (C, H, W), w int [Cout, Cin/g, k, k], bias int [Cout] -> (int16 (Cout, Ho, Wo), overflows, saturations)."""
    c_in, h, wd = x.shape
    c_out, cg, k, _ = w.shape
    mg = c_out // layer.groups
    ho = (h + 2 * layer.pad - k) // layer.stride + 1
    wo = (wd + 2 * layer.pad - k) // layer.stride + 1
    out = np.zeros((c_out, ho, wo), dtype=np.int16)
    overflows = saturations = 0
    for out_c in range(c_out):
        group = out_c // mg
        acc_frac = ql.in_frac + _channel(ql.w_frac, out_c)
        b = shift_round(int(bias[out_c]), ql.b_frac - acc_frac, ql.rounding)
        for out_y in range(ho):
            for out_x in range(wo):
                try:
                    acc, over = acc_step(0, b, ql.acc_bits, ql.overflow)
                    for in_c in range(cg):
                        for filter_y in range(k):
                            in_y = out_y * layer.stride - layer.pad + filter_y
                            for filter_x in range(k):
                                in_x = out_x * layer.stride - layer.pad + filter_x
                                if 0 <= in_y < h and 0 <= in_x < wd:
                                    p = int(x[group * cg + in_c, in_y, in_x]) * int(w[out_c, in_c, filter_y, filter_x])
                                    acc, o = acc_step(acc, p, ql.acc_bits, ql.overflow)
                                    over |= o
                except AccOverflow:
                    raise AccOverflow(f"layer {ql.name}: {ql.acc_bits}-bit accumulator overflow (policy 'error') "
                                      f"at output channel {out_c}, row {out_y}, col {out_x}") from None
                overflows += over
                out[out_c, out_y, out_x], sat = output_word(acc, acc_frac - ql.out_frac, ql.rounding, ql.relu)
                saturations += sat
    return out, overflows, saturations


def fc_direct(x, w, bias, ql):
    """x int (C, H, W) flattened (C, H, W)-major, w [Nout, Nin] -> (int16 (Nout, 1, 1), overflows, saturations)."""
    flat = [int(v) for v in np.asarray(x).reshape(-1)]
    out = np.zeros((w.shape[0], 1, 1), dtype=np.int16)
    overflows = saturations = 0
    for o in range(w.shape[0]):
        acc_frac = ql.in_frac + _channel(ql.w_frac, o)
        try:
            acc, over = acc_step(0, shift_round(int(bias[o]), ql.b_frac - acc_frac, ql.rounding), ql.acc_bits,
                                 ql.overflow)
            for i, v in enumerate(flat):
                acc, ov = acc_step(acc, v * int(w[o, i]), ql.acc_bits, ql.overflow)
                over |= ov
        except AccOverflow:
            raise AccOverflow(f"layer {ql.name}: {ql.acc_bits}-bit accumulator overflow (policy 'error') "
                              f"at output {o}") from None
        overflows += over
        out[o, 0, 0], sat = output_word(acc, acc_frac - ql.out_frac, ql.rounding, ql.relu)
        saturations += sat
    return out, overflows, saturations


def maxpool_direct(x, layer):
    """int (C, H, W) -> int16 (C, Ho, Wo); padded positions are skipped."""
    c, h, w = x.shape
    k, s, p = layer.kernel, layer.stride, layer.pad
    ho, wo = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    out = np.zeros((c, ho, wo), dtype=np.int16)
    for ch in range(c):
        for out_y in range(ho):
            for out_x in range(wo):
                best = None
                for fy in range(k):
                    for fx_ in range(k):
                        iy, ix = out_y * s - p + fy, out_x * s - p + fx_
                        if 0 <= iy < h and 0 <= ix < w:
                            v = int(x[ch, iy, ix])
                            best = v if best is None else max(best, v)
                out[ch, out_y, out_x] = best
    return out


def lrn_scale_direct(a: int, ssq: int, frac: int, tables: dict, mode: str) -> int:
    """fixedpoint.lrn_scale for one value, in Python integers (int.bit_length, shift_round):
    the readable definition of the LRN scale, independent of both vectorised versions."""
    d = tables["K_Q"] + shift_round(ssq * tables["ALPHA_Q"], tables["ALPHA_FRAC"] + 2 * frac - fx.LRN_D_FRAC, mode)
    e = d.bit_length() - 1                                   # d = m * 2**e, 1 <= m < 2
    below = fx.LRN_INDEX_BITS + fx.LRN_INTERP_BITS
    bits = shift_round(d, e - below, "truncate") - (1 << below)     # the 16 bits under the leading one
    i, t = bits >> fx.LRN_INTERP_BITS, bits & ((1 << fx.LRN_INTERP_BITS) - 1)
    lut = [int(v) for v in tables["MANT_LUT"][i:i + 2]]
    mant = (lut[0] << fx.LRN_INTERP_BITS) + (lut[1] - lut[0]) * t
    shift = fx.LRN_TABLE_FRAC + fx.LRN_INTERP_BITS + fx.LRN_TABLE_FRAC + int(tables["EXP_SHIFT"][e])
    return shift_round(a * mant * int(tables["EXP_LUT"][e]), shift, mode)


def lrn_direct(x, layer, ql):
    """int (C, H, W) -> (int16 (C, H, W), saturations): window sum of squares by loop."""
    c, h, w = x.shape
    tables = fx.lrn_tables(layer.lrn_size, layer.lrn_alpha, layer.lrn_beta, layer.lrn_k)
    half = layer.lrn_size // 2
    out = np.zeros_like(x, dtype=np.int16)
    saturations = 0
    lo, hi = _range(16)
    for ch in range(c):
        for y in range(h):
            for xx in range(w):
                ssq = sum(int(x[j, y, xx]) ** 2 for j in range(max(0, ch - half), min(c, ch + half + 1)))
                v = lrn_scale_direct(int(x[ch, y, xx]), ssq, ql.in_frac, tables, ql.rounding)
                saturations += not (lo <= v <= hi)
                out[ch, y, xx] = min(max(v, lo), hi)
    return out, saturations
