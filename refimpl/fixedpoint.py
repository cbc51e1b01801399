"""The numeric contract: formats, rounding, saturation, accumulator, LRN scale.

Both engines (fast and tiled) and the direct-loop oracle call these functions;
nothing else in the datapath rounds or saturates.  See README "Numeric
contract" for the prose version.

Scaling budget of one conv/fc output (frac = fractional bits, value = int * 2**-frac)
--------------------------------------------------------------------------------
  input  x : int16, frac = in_frac                      |x| <= 2**15
  weight w : int16, frac = w_frac (per layer or per output channel)
  product  : x * w, exact in 32 bits, frac = in_frac + w_frac
             |x * w| <= 2**15 * 2**15 = 2**30 (only (-2**15)**2 reaches it)
  bias   b : int16 or int32, frac = b_frac, aligned to acc_frac = in_frac + w_frac
             by a left shift of (acc_frac - b_frac), or a rounding right shift
             when b_frac > acc_frac
  psum     : acc_bits-bit two's complement (default 40), bias first, then the
             products in (in_channel, ky, kx) order -- fc: (C, H, W) flatten
             order.  An AlexNet conv2 output sums 48*5*5 = 1200 products, so
             |psum| < 1200 * 2**30 < 2**41: a 40-bit accumulator can overflow
             only on pathological data, and every overflow is counted.
  output   : requantize by s = in_frac + w_frac - out_frac: a right shift with
             the named rounding when s > 0, a left shift when s < 0; then
             saturate to int16 (counted), then ReLU if the layer has one.

All integer work is int64: the largest intermediate is a 62-bit accumulator
plus one 2**30 product, below 2**63.

Fast float64 evaluations (``round_f64``, ``lrn_scale_f64``) compute the same
integers where a bound proves every intermediate is an integer (or an integer
times a power of two) of magnitude <= 2**53, which float64 holds exactly; each
states its proof and falls back to the int64 definition where the bound fails.
"""
from __future__ import annotations

import math

import numpy as np

from .errors import RefimplError, check_choice

WORD_BITS = 16                       # activations and weights: int16 (paper: 16-bit MAC units)
PRODUCT_BITS = 32                    # int16 x int16 needs 31 bits + sign: exact in 32
DEFAULT_ACC_BITS = 40                # default accumulator width (configurable)
MIN_ACC_BITS, MAX_ACC_BITS = 32, 62  # >= one product; <= 62 so psum + product fits int64
ROUNDING_MODES = ("half_up", "half_even", "truncate")
OVERFLOW_POLICIES = ("saturate", "wrap", "error")
DEFAULT_ROUNDING = "half_up"
DEFAULT_OVERFLOW = "saturate"


def int_range(bits: int) -> tuple:
    """(lo, hi) of a two's complement word: (-2**(bits-1), 2**(bits-1) - 1)."""
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def check_rounding(mode: str) -> str:
    return check_choice("rounding mode", mode, ROUNDING_MODES)


def check_overflow(policy: str) -> str:
    return check_choice("overflow policy", policy, OVERFLOW_POLICIES)


def check_acc_bits(bits: int) -> int:
    if not (isinstance(bits, (int, np.integer)) and MIN_ACC_BITS <= bits <= MAX_ACC_BITS):
        raise RefimplError(f"acc_bits {bits!r} out of range {MIN_ACC_BITS}..{MAX_ACC_BITS}")
    return int(bits)


def saturate(x, bits: int = WORD_BITS):
    """Clamp to the signed ``bits``-bit range.

    Returns (y int64 array, count of values that were clamped).
    """
    x = np.asarray(x, dtype=np.int64)
    lo, hi = int_range(bits)
    if x.size == 0 or (x.min() >= lo and x.max() <= hi):      # two cheap reductions, no temporaries
        return x, 0
    count = int(np.count_nonzero(x < lo)) + int(np.count_nonzero(x > hi))
    return np.clip(x, lo, hi), count


def wrap(x, bits: int):
    """Keep the low ``bits`` bits as two's complement (what an adder without
    overflow logic does): ((x + 2**(bits-1)) mod 2**bits) - 2**(bits-1)."""
    x = np.asarray(x, dtype=np.int64)
    half = np.int64(1) << (bits - 1)
    return ((x + half) & ((half << 1) - 1)) - half


def round_shift(x, s, mode: str = DEFAULT_ROUNDING):
    """x * 2**-s rounded to an integer by ``mode``; s may be an array (per channel).

    s > 0, named rounding of the s dropped bits (``>>`` is an arithmetic shift):
      half_up   : (x + 2**(s-1)) >> s            ties go towards +inf
      half_even : x >> s, plus 1 when the dropped bits exceed one half, or
                  equal one half and the kept LSB is odd        ties to even
      truncate  : x >> s                         drops the bits: floor, towards -inf
    s = 0: x.   s < 0: x << -s (exact; the caller saturates).
    """
    x = np.asarray(x, dtype=np.int64)
    if np.ndim(s) == 0:
        return _round_shift_scalar(x, int(s), mode)
    s = np.asarray(s, dtype=np.int64)
    right = np.maximum(s, 0)
    left = np.maximum(-s, 0)
    q = x >> right
    if mode == "half_up":
        half = np.where(right > 0, np.int64(1) << np.maximum(right - 1, 0), 0)
        q = (x + half) >> right
    elif mode == "half_even":
        dropped = x - (q << right)                       # 0 <= dropped < 2**s
        half = np.int64(1) << np.maximum(right - 1, 0)
        up = (right > 0) & ((dropped > half) | ((dropped == half) & ((q & 1) == 1)))
        q = q + up
    elif mode != "truncate":
        check_rounding(mode)
    return q << left


def _round_shift_scalar(x, s: int, mode: str):
    """round_shift for one shift amount (the common, fast case); same definitions."""
    if s <= 0:
        return x << -s
    if mode == "half_up":
        y = x + (1 << (s - 1))
        y >>= s
        return y
    if mode == "truncate":
        return x >> s
    if mode == "half_even":
        q = x >> s
        dropped = x & ((1 << s) - 1)                     # the s dropped bits, 0 <= dropped < 2**s
        half = 1 << (s - 1)
        return q + ((dropped > half) | ((dropped == half) & ((q & 1) == 1)))
    check_rounding(mode)


def requantize(acc, shift, mode: str = DEFAULT_ROUNDING, relu: bool = False, bits: int = WORD_BITS):
    """Accumulator -> output word: round_shift by ``shift``, saturate, then ReLU.

    acc   : int64 array (acc_frac fractional bits).
    shift : s = acc_frac - out_frac, a scalar or an array broadcastable to acc.
    Returns (int16 array, count of saturated outputs).
    """
    y, count = saturate(round_shift(acc, shift, mode), bits)
    if relu:
        y = np.maximum(y, 0)
    return y.astype(np.int16 if bits == 16 else np.int64), count


def align_bias(bias, b_frac, acc_frac, mode: str = DEFAULT_ROUNDING):
    """Bias words at b_frac -> accumulator units at acc_frac (per channel arrays allowed).

    A left shift by acc_frac - b_frac (exact); when b_frac > acc_frac, a
    rounding right shift with the layer's rounding mode.
    """
    return round_shift(bias, np.asarray(b_frac) - np.asarray(acc_frac), mode)


def acc_add(acc, p, bits: int, policy: str):
    """One accumulator step, acc + p, with the overflow policy applied.

    acc, p : int64 arrays (or scalars), acc already in range.
    Returns (new acc, boolean mask of the lanes that overflowed).  Under
    'error' the caller raises on the first set lane.
    """
    lo, hi = int_range(bits)
    s = np.asarray(acc, dtype=np.int64) + np.asarray(p, dtype=np.int64)
    over = (s < lo) | (s > hi)
    if policy == "saturate":
        s = np.clip(s, lo, hi)
    elif policy == "wrap":
        s = wrap(s, bits)
    return s, over


# --------------------------------------------------------------------------
# Local response normalisation (cross-channel, Caffe):
#     b = a * d**-beta,   d = k + alpha/n * sum_{window of n channels} a**2
#
# Fixed-point method (table + linear interpolation, no division, no float at
# run time):
#   ssq   = sum of a**2 over the window, exact int64      frac 2*f (f = in_frac)
#           ssq <= n * 2**30 <= 15 * 2**30 < 2**34
#   alpha/n is held as a 15-bit mantissa ALPHA_Q at ALPHA_FRAC bits:
#           ALPHA_Q = round(alpha/n * 2**ALPHA_FRAC), 2**14 <= ALPHA_Q <= 2**15
#           ssq * ALPHA_Q < 2**34 * 2**15 = 2**49
#   D     = K_Q + round_shift(ssq * ALPHA_Q, ALPHA_FRAC + 2f - D_FRAC)
#           d in fixed point with D_FRAC = 16 fractional bits; D >= K_Q >= 1
#   e     = bit_length(D) - 1, so D = m * 2**e with 1 <= m < 2
#   i, t  = the next 8 bits below D's leading one (table index) and the 8
#           after them (interpolation weight, 0 <= t < 256), truncated
#   m**-beta ~ (MANT_LUT[i] * 256 + (MANT_LUT[i+1] - MANT_LUT[i]) * t) * 2**-23
#           MANT_LUT[i] = round((1 + i/256)**-beta * 2**15), i = 0..256
#   2**(-beta*(e - D_FRAC)) = 2**-q * 2**-r, q = floor(beta*(e - D_FRAC)), 0 <= r < 1
#           ~ EXP_LUT[e] * 2**-15 * 2**-EXP_SHIFT[e]   (EXP_LUT[e] = round(2**-r * 2**15))
#   b_int = round_shift(a * mant * EXP_LUT[e], 23 + 15 + EXP_SHIFT[e])
#           |a| * 2**23 * 2**15 <= 2**53; the output keeps the input's frac.
# Error budget (relative, beta = 0.75): interpolation h**2/8 * max|f''| with
# h = 2**-8, f'' = beta*(beta+1)*m**(-beta-2) <= 1.32: 2.5e-6; MANT_LUT and
# EXP_LUT rounding 2**-16 / 2**-0.75 and 2**-16 / 2**-1: 2.6e-5 + 3.1e-5;
# truncating D below 16 bits: beta * 2**-16 = 1.2e-5; ALPHA_Q: beta * 2**-15
# = 2.3e-5; D's rounding: beta * 2**-17 = 5.7e-6.  In all < 1.5e-4, so
# |b_int - b_exact * 2**f| <= 1.5e-4 * |b_exact * 2**f| + 1 LSB, which
# tests/test_fixedpoint.py checks against float64 over the input range.
# --------------------------------------------------------------------------
LRN_INDEX_BITS = 8                 # 257-entry mantissa table (i = 0..256)
LRN_INTERP_BITS = 8                # linear-interpolation weight bits
LRN_D_FRAC = 16                    # fractional bits of the fixed-point denominator D
LRN_TABLE_FRAC = 15                # both tables hold values in (0, 1] at 15 fractional bits
LRN_MAX_E = 62                     # D < 2**62 always (see the ssq bound above)
LRN_ERROR_BOUND = 1.5e-4           # relative, from the budget above (plus 1 LSB)
LRN_MAX_SHIFT = 62                 # final shifts are clamped here: same result for any s >= 55
                                   # (|x| <= 2**53, see lrn_scale), and int64 shifts stay < 64


def _round_half_up(v: float) -> int:
    return math.floor(v + 0.5)


def lrn_tables(size: int, alpha: float, beta: float, k: float) -> dict:
    """Integer tables for one LRN configuration (built once, offline, in float64).

    Returns dict with ALPHA_Q, ALPHA_FRAC, K_Q, MANT_LUT (int64 [257]),
    EXP_LUT, EXP_SHIFT (int64 [LRN_MAX_E + 1], indexed by e).
    """
    if not (1 <= size <= 15 and size % 2 == 1):
        raise RefimplError(f"LRN size {size} must be odd and at most 15")
    if not (alpha > 0 and 0 < beta <= 4 and k > 0):
        raise RefimplError(f"LRN alpha {alpha}, beta {beta}, k {k}: need alpha > 0, 0 < beta <= 4, k > 0")
    a_over_n = alpha / size
    alpha_frac = 14 - math.floor(math.log2(a_over_n))          # mantissa in [2**14, 2**15]
    alpha_q = _round_half_up(a_over_n * 2.0 ** alpha_frac)
    k_q = _round_half_up(k * 2.0 ** LRN_D_FRAC)
    if k_q < 1:
        raise RefimplError(f"LRN k {k} is below the table resolution 2**-{LRN_D_FRAC}")
    steps = 1 << LRN_INDEX_BITS
    mant = [_round_half_up(2.0 ** LRN_TABLE_FRAC * (1.0 + i / steps) ** -beta) for i in range(steps + 1)]
    exp_lut, exp_shift = [], []
    for e in range(LRN_MAX_E + 1):
        t = beta * (e - LRN_D_FRAC)
        q = math.floor(t)
        exp_lut.append(_round_half_up(2.0 ** LRN_TABLE_FRAC * 2.0 ** -(t - q)))
        exp_shift.append(q)
    return dict(ALPHA_Q=alpha_q, ALPHA_FRAC=alpha_frac, K_Q=k_q,
                MANT_LUT=np.array(mant, dtype=np.int64),
                EXP_LUT=np.array(exp_lut, dtype=np.int64),
                EXP_SHIFT=np.array(exp_shift, dtype=np.int64))


def lrn_int64_check(tables: dict, size: int, frac: int, ssq_max: int | None = None,
                    a_max: int = 1 << 15):
    """RefimplError unless every int64 step of ``lrn_scale`` stays below 2**63 for inputs
    with window sums of squares up to ``ssq_max`` (default the int16 worst case
    size * 2**30) and magnitudes up to ``a_max``, at input format ``frac`` (else the
    int64 arithmetic would wrap silently).

    Bounds:
      P = ssq * ALPHA_Q <= ssq_max * ALPHA_Q (< 2**49); round_shift(P, sh) with
          sh = ALPHA_FRAC + 2 frac - D_FRAC is at most P >> sh plus 1 (sh > 0) or P << -sh;
      D = K_Q + that must be below 2**63, which also keeps e = bit_length(D) - 1 within
          the tables (LRN_MAX_E = 62);
      a * mant * EXP_LUT[e] <= a_max * 2**23 * 2**15 is then shifted by
          s_e = 38 + EXP_SHIFT[e] (clamped at LRN_MAX_SHIFT); s_e < 0 is a left shift, which
          must stay below 2**63 for every e that D can reach (from bit_length(K_Q) - 1 up).
    """
    ssq_max = size * (1 << 30) if ssq_max is None else int(ssq_max)
    sh = tables["ALPHA_FRAC"] + 2 * frac - LRN_D_FRAC
    prod_max = ssq_max * tables["ALPHA_Q"]
    d_max = int(tables["K_Q"]) + ((prod_max >> sh) + 1 if sh > 0 else prod_max << -sh)
    where = f"at input frac {frac}"
    if d_max >= 1 << 63:
        raise RefimplError(f"LRN {where}: the fixed-point denominator D reaches 2**{d_max.bit_length() - 1} "
                           f"(k * 2**{LRN_D_FRAC} plus alpha/size * sum a**2), beyond the 64-bit datapath")
    top = int(a_max) << (LRN_TABLE_FRAC + LRN_INTERP_BITS + LRN_TABLE_FRAC)
    for e in range(int(tables["K_Q"]).bit_length() - 1, d_max.bit_length()):
        s_e = LRN_TABLE_FRAC + LRN_INTERP_BITS + LRN_TABLE_FRAC + int(tables["EXP_SHIFT"][e])
        if s_e < 0 and top << -s_e >= 1 << 63:
            raise RefimplError(f"LRN {where}: the scale d**-beta reaches 2**{-int(tables['EXP_SHIFT'][e])} "
                               f"at d = 2**{e - LRN_D_FRAC} (k too small for beta), beyond the 64-bit datapath")


def bit_length(x):
    """Elementwise bit length of non-negative int64 values (exact, no float log)."""
    x = np.asarray(x, dtype=np.int64)
    n = np.zeros(x.shape, dtype=np.int64)
    for step in (32, 16, 8, 4, 2, 1):
        big = (x >> step) > 0
        n = n + np.where(big, step, 0)
        x = np.where(big, x >> step, x)
    return n + (x > 0)


def lrn_scale(a, ssq, frac: int, tables: dict, mode: str = DEFAULT_ROUNDING):
    """b = a * d**-beta in fixed point.

    a   : int array (int16 values), frac ``frac``.
    ssq : int64 array of the same shape, window sums of a**2 (frac 2*frac).
    Returns int64 array, frac ``frac`` (not yet saturated).
    """
    ssq = np.asarray(ssq, dtype=np.int64)
    d = tables["K_Q"] + round_shift(ssq * tables["ALPHA_Q"], tables["ALPHA_FRAC"] + 2 * frac - LRN_D_FRAC, mode)
    e = bit_length(d) - 1
    below = LRN_INDEX_BITS + LRN_INTERP_BITS
    bits = round_shift(d, e - below, "truncate") - (1 << below)      # the 16 bits under the leading one
    i = bits >> LRN_INTERP_BITS
    t = bits & ((1 << LRN_INTERP_BITS) - 1)
    lut = tables["MANT_LUT"]
    mant = (lut[i] << LRN_INTERP_BITS) + (lut[i + 1] - lut[i]) * t
    shift = LRN_TABLE_FRAC + LRN_INTERP_BITS + LRN_TABLE_FRAC + tables["EXP_SHIFT"][e]
    # Clamp the shift (k large: s reaches 38 + 0.75 * 46 = 72 > 63, where int64 shifts fail).
    # For |x| = |a * mant * EXP_LUT| <= 2**53 and any s >= 55 (so |x| < 2**(s-1)) the result
    # does not depend on s: half_up floor((x + 2**(s-1)) / 2**s) = 0; truncate floor(x / 2**s)
    # = 0 (x >= 0) or -1 (x < 0); half_even 0 (x >= 0: dropped bits x < 2**(s-1); x < 0:
    # q = -1 and the dropped bits x + 2**s > 2**(s-1) round it up).  So s -> min(s, 62) is exact.
    shift = np.minimum(shift, LRN_MAX_SHIFT)
    return round_shift(np.asarray(a, dtype=np.int64) * mant * tables["EXP_LUT"][e], shift, mode)


# --------------------------------------------------------------------------
# Exact float64 evaluation.  float64 represents every integer of magnitude
# <= 2**53 exactly, and multiplying by a power of two is exact (no overflow or
# underflow in these ranges), so for an integer x with |x| <= 2**53 and s >= 1,
# t = x * 2**-s is exact, and so are floor(t), 2t, t - floor(t) (the dropped
# bits over 2**s) and the sums below, all being integers or halves < 2**53.
# --------------------------------------------------------------------------
F64_EXACT_MAX = 1 << 53


def round_f64(t, mode: str):
    """round_shift(x, s, mode) from t = x * 2**-s (float64, exact, s >= 1), in place.

    half_up   : floor(t + 1/2) = floor((floor(2t) + 1) / 2)   (floor(floor(y)/2) = floor(y/2);
                computing t + 1/2 directly could round when t has 53 significant bits)
    truncate  : floor(t)
    half_even : u = floor(t), r = t - u (exact): u + 1 when r > 1/2, or r == 1/2 and u is odd
    Returns t (float64 array holding the integers; every mode works in place).
    """
    if mode == "half_up":
        t *= 2.0
        np.floor(t, out=t)
        t += 1.0
        t *= 0.5
        return np.floor(t, out=t)
    if mode == "truncate":
        return np.floor(t, out=t)
    if mode == "half_even":
        u = np.floor(t)
        t -= u
        up = (t > 0.5) | ((t == 0.5) & (np.fmod(u, 2.0) != 0))
        return np.add(u, up, out=t)
    check_rounding(mode)


def lrn_f64_plan(tables: dict, size: int, frac: int, mode: str):
    """Constants of the float64 LRN, or None when its exactness bounds fail for this
    configuration (the caller then uses the int64 ``lrn_scale``).

    Proof that ``lrn_scale_f64`` equals ``lrn_scale`` for every int16 input:
      ssq  <= size * (2**15)**2 = size * 2**30 (int16 a), a sum of integers: exact.
      ssq * ALPHA_Q <= size * 2**45 < 2**53: exact; times 2**-sh (sh = ALPHA_FRAC + 2 frac
           - D_FRAC) exact; round_f64 gives round_shift(ssq * ALPHA_Q, sh) (sh <= 0: a left
           shift, an exact product checked against 2**53 below).
      D    = K_Q + that, 1 <= K_Q <= D <= D_MAX < 2**53 (checked here): exact.
      frexp(D) = (m, E), D = m * 2**E, 1/2 <= m < 1, exact for a float64 integer, so
           E = bit_length(D) = e + 1, and m * 2**17 = D * 2**(16 - e): its integer part is
           round_shift(D, e - 16, 'truncate') whether e >= 16 (a right shift, floor) or
           not (a left shift, already an integer); minus 2**16 it is the 16 bits under
           the leading one, so MANT[floor(m * 2**17)] is lrn_scale's ``mant`` (a table of
           2**17 float32 integers <= 2**23, exact in float32's 24-bit significand).
      a * mant * EXP_LUT[e] <= 2**15 * 2**23 * 2**15 = 2**53: exact (a*mant < 2**38 first);
           G[E] = EXP_LUT[e] * 2**-s_e with s_e = 38 + EXP_SHIFT[e], so a * mant * G[E] is
           t = x * 2**-s_e exactly, and round_f64 gives round_shift(x, s_e) when s_e >= 1
           (checked here for every e that D can reach).
    Returns (mant float32 [2**17], G float64 [64], ssq factor, K_Q, sh, mode) or None.
    """
    sh = tables["ALPHA_FRAC"] + 2 * frac - LRN_D_FRAC
    prod_max = size * (1 << 30) * tables["ALPHA_Q"]
    d_max = tables["K_Q"] + ((prod_max >> sh) + 1 if sh > 0 else prod_max << -sh)
    if prod_max >= F64_EXACT_MAX or d_max >= F64_EXACT_MAX:
        return None
    g = np.zeros(64)
    for big_e in range(int(tables["K_Q"]).bit_length(), int(d_max).bit_length() + 1):
        e = big_e - 1
        s = LRN_TABLE_FRAC + LRN_INTERP_BITS + LRN_TABLE_FRAC + int(tables["EXP_SHIFT"][e])
        if s < 1:
            return None
        g[big_e] = float(tables["EXP_LUT"][e]) * 2.0 ** -s
    below = LRN_INDEX_BITS + LRN_INTERP_BITS
    bits = np.arange(1 << below)
    i, t = bits >> LRN_INTERP_BITS, bits & ((1 << LRN_INTERP_BITS) - 1)
    lut = tables["MANT_LUT"]
    mant = np.zeros(2 << below, dtype=np.float32)
    mant[1 << below:] = (lut[i] << LRN_INTERP_BITS) + (lut[i + 1] - lut[i]) * t
    return mant, g, float(tables["ALPHA_Q"]) * 2.0 ** -sh, float(tables["K_Q"]), sh, mode


def lrn_scale_f64(a, ssq, plan):
    """lrn_scale in float64 (proof in lrn_f64_plan).

    a   : float64 array of int16 values (N, ...), overwritten with the result.
    ssq : float64 array of the window sums of a**2, same shape, overwritten.
    Returns a: float64 integers b at a's frac, not yet saturated.
    """
    mant, g, factor, k_q, sh, mode = plan
    ssq *= factor
    if sh > 0:
        round_f64(ssq, mode)
    ssq += k_q                                        # D, an exact integer < 2**53
    m, big_e = np.frexp(ssq)
    m *= float(2 << (LRN_INDEX_BITS + LRN_INTERP_BITS))
    a *= mant[m.astype(np.intp)]
    a *= g[big_e]
    return round_f64(a, mode)
