"""Fast bit-exact engine: conv (with groups), fc, max-pool, LRN, one frame or a batch.

Exactness argument for the float64 GEMM
  Every product is an integer with |x * w| <= 2**30 (fixedpoint).  A dot
  product of K such terms has every partial sum, in whatever order BLAS adds
  them (blocked, FMA), an integer of magnitude <= K * 2**30.  float64 holds
  every integer up to 2**53 exactly, so for K <= 2**23 each addition is exact
  and the GEMM result is the exact integer sum.  Larger K takes an int64
  matmul (exact while K * 2**30 < 2**63).
Accumulator width and overflow
  The exact sum equals the hardware psum only if no partial sum (bias first,
  then products in (in_channel, ky, kx) order) leaves the acc_bits range.
  Per output channel, |psum| <= |bias| + L1(w_c) * max|x| bounds every partial
  sum; channels under the limit are exact as computed.  For the others a
  tighter per-output bound (|w_c| @ |x|, again an exact GEMM) picks the
  outputs that might overflow, and only those are replayed step by step in
  the canonical order with fixedpoint.acc_add, so saturate / wrap / error
  behave exactly as the direct loop (kernels.py) defines them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from . import fixedpoint as fx
from .errors import RefimplError
from .layout import as_batch, flatten_chw, im2col, im2col_row_blocks, lrn_window_sum, pad_hw, windows
from .quantize import ENGINE_KINDS, QLayer, QNetwork
from .spec import LayerSpec, layer_shapes

FLOAT_EXACT_MAX_K = 1 << 23      # K * 2**30 <= 2**53: every float64 partial sum is an exact integer
SCREEN_BLOCK = 64                # products per block of the overflow screen (engine._screen)
WALK_BLOCK = 64                  # products per block of the saturating replay (engine._saturating_walk)
REPLAY_ELEMENTS = 1 << 20        # products held at once by the replay (8 MB of int64)
MERGE_PIXELS = 1024              # conv layers with fewer output pixels run a batch as one GEMM
WEIGHT_BLOCK = 1 << 19           # fc weights converted to float64 at a time (4 MB)
CHUNK_BYTES = 32 << 20           # working set of one chunk of frames (engine.frames_per_chunk): near the
                                 # cache sizes; alexnet-cifar per-frame CPU is least at 8-10 frames a chunk
LRN_BLOCK = 1 << 16              # LRN elements per block: 0.5 MB of float64 per temporary, cache-resident


@dataclass
class LayerStats:
    """Counters of one layer run (all frames)."""

    acc_overflows: int = 0       # outputs whose accumulation overflowed at least once
    saturations: int = 0         # outputs clamped to int16 by requantization (or LRN)
    outputs: int = 0


@dataclass
class LayerResult:
    name: str
    kind: str
    input: np.ndarray = field(repr=False)    # int16 (N, C, H, W): the tensor this layer read
    output: np.ndarray = field(repr=False)   # int16 (N, C, H, W): after requantization and ReLU
    stats: LayerStats = field(default_factory=LayerStats)
    counters: object = None                  # cost.Counters of one frame (tiled engine only)


# ---------------------------------------------------------------- exact dot products
def products_sum(w64: np.ndarray, cols64: np.ndarray) -> np.ndarray:
    """Exact int64 sums W @ cols for integer-valued float64 W (M, K), cols (N, K, P)."""
    if w64.shape[-1] <= FLOAT_EXACT_MAX_K:
        return np.matmul(w64, cols64).astype(np.int64)
    return np.matmul(w64.astype(np.int64), cols64.astype(np.int64))


def _saturating_walk(v, prods, bits: int):
    """Saturating ``bits``-bit accumulation of prods (u, K) int64 onto v (u,), in order, WALK_BLOCK
    products at a time.  Returns (final v, overflowed (u,)).

    In a block with prefix sums q_j: when v + q_j stays in range the block adds
    q_B.  Otherwise, if only the upper bound is ever hit, the walk is
    s_k = min(v + q_k, hi + q_k - max_{j<=k} q_j) (by induction on
    s_k = min(s_{k-1} + p_k, hi)), valid when no pre-clamp value s_{k-1} + p_k is
    below lo; the lower bound mirrors it; lanes that hit both in one block step.
    """
    lo, hi = fx.int_range(bits)
    v = v.copy()
    over = np.zeros(v.size, dtype=bool)
    for b0 in range(0, prods.shape[1], WALK_BLOCK):
        blk = prods[:, b0:b0 + WALK_BLOCK]
        q = np.cumsum(blk, axis=1)
        x = v[:, None] + q
        cross = (x.max(axis=1) > hi) | (x.min(axis=1) < lo)
        v = np.where(cross, v, x[:, -1])
        if not cross.any():
            continue
        ci = np.flatnonzero(cross)
        vc, qc, bc = v[ci, None], q[ci], blk[ci]
        su = np.minimum(vc + qc, hi + qc - np.maximum.accumulate(qc, axis=1))
        pre_u = np.concatenate([vc, su[:, :-1]], axis=1) + bc
        sl = np.maximum(vc + qc, lo + qc - np.minimum.accumulate(qc, axis=1))
        pre_l = np.concatenate([vc, sl[:, :-1]], axis=1) + bc
        ok_u, ok_l = pre_u.min(axis=1) >= lo, pre_l.max(axis=1) <= hi
        v[ci] = np.where(ok_u, su[:, -1], sl[:, -1])
        over[ci] |= np.where(ok_u, pre_u.max(axis=1) > hi, ok_l & (pre_l.min(axis=1) < lo))
        both = np.flatnonzero(~ok_u & ~ok_l)
        if both.size:                                   # both bounds within one block: step by step
            lanes = ci[both]
            a = vc[both, 0]
            o = np.zeros(lanes.size, dtype=bool)
            for k in range(bc.shape[1]):
                a, ok = fx.acc_add(a, bc[both, k], bits, "saturate")
                o |= ok
            v[lanes] = a
            over[lanes] |= o
    return v, over


def _replay(w, cols64, init, idx, ql: QLayer):
    """Exact accumulation of the outputs idx = (n, m, p) in the canonical order,
    starting from init (N, M, P) int64.  Returns (acc values, overflowed mask).

    The accumulator leaves its range for the first time exactly where the exact
    prefix sum (bias first) does, so 'overflowed' is "some exact prefix is out of
    range" for every policy; wrap ends at wrap(exact sum) (wrapping is addition
    mod 2**acc_bits); saturate walks the clamps (_saturating_walk).
    """
    n, m, p = idx
    lo, hi = fx.int_range(ql.acc_bits)
    acc = np.empty(n.size, dtype=np.int64)
    overflowed = np.zeros(n.size, dtype=bool)
    k = w.shape[1]
    lanes = max(1, REPLAY_ELEMENTS // max(k, 1))
    cols_t = np.ascontiguousarray(cols64.transpose(0, 2, 1))        # (N, P, K): one output's column is a row
    for lo_i in range(0, n.size, lanes):
        sl = slice(lo_i, lo_i + lanes)
        prods = w[m[sl]].astype(np.int64) * cols_t[n[sl], p[sl]].astype(np.int64)         # (u, K)
        start = init[n[sl], m[sl], p[sl]]
        first = (start < lo) | (start > hi)
        if ql.overflow == "saturate":
            a, over = _saturating_walk(np.clip(start, lo, hi), prods, ql.acc_bits)
        else:
            prefix = np.cumsum(prods, axis=1)
            prefix += start[:, None]
            over = (prefix.max(axis=1, initial=lo) > hi) | (prefix.min(axis=1, initial=hi) < lo)
            a = fx.wrap(prefix[:, -1] if k else start, ql.acc_bits)
        acc[sl] = a
        overflowed[sl] = over | first
    return acc, overflowed


def screen_block(k: int) -> int:
    """Block length of the overflow screen for K products: the largest divisor of K
    up to SCREEN_BLOCK (no padding copy), or SCREEN_BLOCK when that divisor is below
    a quarter of it (K prime, say)."""
    best = max(d for d in range(1, min(k, SCREEN_BLOCK) + 1) if k % d == 0)
    return best if 4 * best >= SCREEN_BLOCK else SCREEN_BLOCK


def _screen(w64, cols64, init, ql: QLayer):
    """Block sums and outputs that might overflow, for every output of W (M, K) x cols (N, K, P).

    K is cut in blocks of screen_block(K) products; S_b = W_b @ cols_b and
    T_b = |W_b| @ |cols_b| are exact GEMMs.  Inside block b every prefix sum lies in
    [E_b - N_b, E_b + P_b], E_b the exact prefix before the block (bias included),
    P_b = (T_b + S_b) / 2 and N_b = (T_b - S_b) / 2 the block's positive and negative
    product mass.  An output whose envelopes all stay in range cannot overflow.
    Returns (exact sums + init int64 (N, M, P), bool (N, M, P) might-overflow), or None
    when the float64 envelope is not exact (|init| >= 2**52 or K > FLOAT_EXACT_MAX_K).
    """
    m_, k = w64.shape
    n_ = cols64.shape[0]
    if k > FLOAT_EXACT_MAX_K or (init.size and np.abs(init).max() >= 1 << 52):
        return None
    b = screen_block(k)
    nb = -(-k // b)
    if nb * b != k:                                             # no divisor near SCREEN_BLOCK: zero-pad
        w64 = np.pad(w64, ((0, 0), (0, nb * b - k)))
        cols64 = np.pad(cols64, ((0, 0), (0, nb * b - k), (0, 0)))
    wb = w64.reshape(m_, nb, b).transpose(1, 0, 2)             # (nb, M, b) views: BLAS reads them strided
    xb = cols64.reshape(n_, nb, b, -1)
    s = np.matmul(wb, xb)                                       # (N, nb, M, P), exact integers
    t = np.matmul(np.abs(wb), np.abs(xb))
    before = np.cumsum(s, axis=1)
    total = before[:, -1].copy()
    before -= s
    before += init.astype(np.float64)[:, None]
    lo, hi = fx.int_range(ql.acc_bits)
    t += s
    t *= 0.5                                                    # P_b
    up = (before + t).max(axis=1)
    t -= s                                                      # N_b = P_b - S_b
    down = (before - t).min(axis=1)
    risky = (up > hi) | (down < lo) | (init < lo) | (init > hi)
    return total.astype(np.int64) + init, risky


def accumulate(w: np.ndarray, w64: np.ndarray, l1: np.ndarray, cols64: np.ndarray, init: np.ndarray,
               xmax: int, ql: QLayer):
    """Accumulator values of W (M, K) against cols (N, K, P), starting from ``init``.

    w64, l1 : W as float64 (M, K) and its row L1 norms, int64 (M,).
    init    : int64 (M,), the aligned bias (first reduction chunk), or (N, M, P),
              psums carried from the previous chunk (tiled engine).
    xmax    : max |x| over cols.
    Returns (acc int64 (N, M, P), (n, m, p) indices of the outputs that overflowed,
    in (n, m, p) order).  Under 'error' the caller raises on the first of them
    (overflow_error); acc is then meaningless there.
    """
    n_, p_ = cols64.shape[0], cols64.shape[2]
    init_max = np.abs(init) if init.ndim == 1 else np.abs(init).max(axis=(0, 2), initial=0)
    init = init[None, :, None] if init.ndim == 1 else init
    hi = fx.int_range(ql.acc_bits)[1]
    risky = np.flatnonzero(init_max + l1 * xmax > hi)
    none = (np.empty(0, np.int64),) * 3
    if risky.size == 0:
        acc = products_sum(w64, cols64)
        acc += init
        return acc, none
    acc = np.empty((n_, w64.shape[0], p_), dtype=np.int64)
    safe = np.setdiff1d(np.arange(w64.shape[0]), risky)
    if safe.size:
        acc[:, safe] = products_sum(w64[safe], cols64) + init[:, safe]
    init_r = np.broadcast_to(init[:, risky], (n_, risky.size, p_))
    w64_r = w64 if safe.size == 0 else w64[risky]                   # no copy when every channel is risky
    screened = _screen(w64_r, cols64, init_r, ql)
    if screened is None:
        acc[:, risky] = products_sum(w64_r, cols64) + init_r
        maybe = np.ones(init_r.shape, dtype=bool)
    else:
        acc[:, risky], maybe = screened
    n, r, p = np.nonzero(maybe)
    if n.size == 0:
        return acc, none
    m = risky[r]
    vals, over = _replay(w.reshape(w.shape[0], -1), cols64, np.broadcast_to(init, acc.shape), (n, m, p), ql)
    acc[n, m, p] = vals
    return acc, (n[over], m[over], p[over])


class AccumulatorOverflow(RefimplError):
    """An 'error'-policy accumulator overflow at one output.

    frame counts from the start of the batch; layer_index orders errors that
    different chunks of frames found (engine.run)."""

    def __init__(self, layer: str, acc_bits: int, frame: int, where: str, layer_index: int = -1):
        self.layer, self.acc_bits, self.frame, self.where, self.layer_index = layer, acc_bits, frame, where, layer_index
        super().__init__(f"layer {layer}: {acc_bits}-bit accumulator overflow (policy 'error') "
                         f"at frame {frame}, {where}")

    def moved(self, frames: int, layer_index: int) -> "AccumulatorOverflow":
        return AccumulatorOverflow(self.layer, self.acc_bits, self.frame + frames, self.where, layer_index)


def overflow_error(ql: QLayer, n, m, p, wo: int | None) -> AccumulatorOverflow:
    """The error naming the first overflowing output in (frame, out_channel, row, col)
    order, given the coordinates of all of them (fc: wo None, 'output N')."""
    j = np.lexsort((p, m, n))[0]
    where = f"output {int(m[j])}" if wo is None else \
        f"output channel {int(m[j])}, row {int(p[j]) // wo}, col {int(p[j]) % wo}"
    return AccumulatorOverflow(ql.name, ql.acc_bits, int(n[j]), where)


# ---------------------------------------------------------------- layers
def weights64(qnet: QNetwork | None, ql: QLayer) -> tuple:
    """(W as float64 (M, K), row L1 norms int64 (M,)), cached per network."""
    key = (ql.name, "w64")
    if qnet is not None and key in qnet.cache:
        return qnet.cache[key]
    w64 = ql.weights.reshape(ql.weights.shape[0], -1).astype(np.float64)
    l1 = np.abs(w64).sum(axis=1).astype(np.int64)          # <= K * 2**15, exact in float64
    if qnet is not None:
        qnet.cache[key] = (w64, l1)
        qnet.cache[(ql.name, "l1")] = l1
    return w64, l1


def _weight_rows(ql: QLayer):
    """(r0, r1, float64 rows) of W in blocks of about WEIGHT_BLOCK elements, through one buffer."""
    w = ql.weights.reshape(ql.weights.shape[0], -1)
    rows = max(1, WEIGHT_BLOCK // max(1, w.shape[1]))
    buf = np.empty((min(rows, w.shape[0]), w.shape[1]))
    for r0 in range(0, w.shape[0], rows):
        blk = buf[:min(rows, w.shape[0] - r0)]
        blk[...] = w[r0:r0 + blk.shape[0]]
        yield r0, r0 + blk.shape[0], blk


def weights_l1(qnet: QNetwork | None, ql: QLayer) -> np.ndarray:
    """Row L1 norms of W, int64 (M,), cached; computed by row blocks in int32 (no full-size copy of W)."""
    key = (ql.name, "l1")
    if qnet is not None and key in qnet.cache:
        return qnet.cache[key]
    w = ql.weights.reshape(ql.weights.shape[0], -1)
    l1 = np.empty(w.shape[0], dtype=np.int64)
    rows = max(1, WEIGHT_BLOCK // max(1, w.shape[1]))
    for r0 in range(0, w.shape[0], rows):
        blk = w[r0:r0 + rows].astype(np.int32)              # |-2**15| fits int32; sums in int64
        np.abs(blk, out=blk)
        l1[r0:r0 + rows] = blk.sum(axis=1, dtype=np.int64)
    if qnet is not None:
        qnet.cache[key] = l1
    return l1


def _check_params(layer: LayerSpec, ql: QLayer, in_shape: tuple, wshape: tuple):
    if ql.weights is None or ql.weights.dtype != np.int16 or tuple(ql.weights.shape) != tuple(wshape):
        got = None if ql.weights is None else (ql.weights.dtype, tuple(ql.weights.shape))
        raise RefimplError(f"layer {layer.name}: weights must be int16 {tuple(wshape)}, got {got}")
    lo, hi = fx.int_range(ql.bias_bits)
    b = ql.bias
    if b is None or b.shape != (wshape[0],) or b.dtype.kind != "i" or b.min() < lo or b.max() > hi:
        raise RefimplError(f"layer {layer.name}: bias must be {ql.bias_bits}-bit integers of shape ({wshape[0]},)")


def _requant(acc, ql: QLayer, channel_axis_len: int):
    shift = ql.shift
    if np.ndim(shift):
        shift = np.asarray(shift).reshape(1, channel_axis_len, 1)
    return fx.requantize(acc, shift, ql.rounding, ql.relu)


def _requant_f64(acc, ql: QLayer, channel_axis_len: int):
    """fx.requantize on float64 accumulators that hold exact integers below 2**53
    (the caller's bound): t = acc * 2**-s is exact (a power-of-two scaling) and
    fx.round_f64 rounds it as round_shift does (for s <= 0, t is already an
    integer and every mode leaves it); then saturate (counted), ReLU, int16."""
    shift = np.asarray(ql.shift)
    scale = np.exp2(-shift.astype(np.float64))
    acc *= scale.reshape(1, channel_axis_len, 1) if shift.ndim else float(scale)
    fx.round_f64(acc, ql.rounding)
    return _saturate_relu_f64(acc, ql)


def _add_bias_requant_f64(acc, b: np.ndarray, ql: QLayer, channel_axis_len: int):
    """acc + bias, then _requant_f64, on float64 GEMM sums that _float_safe proved exact
    (every |acc + b| <= the accumulator's hi < 2**53).  acc : float64 (N, M, P), b : int64 (M,).

    half_up with shifts s >= 1 folds the rounding half into the bias:
    round_shift(x, s, 'half_up') = floor((x + 2**(s-1)) * 2**-s) is its definition
    (fx.round_shift), and here every step is exact: x + b + 2**(s-1) is an integer below
    hi + 2**(s-1) < 2**53 (checked), the power-of-two scaling is exact and so is floor.
    One add, one multiply and one floor instead of seven passes over acc; any other
    mode or shift takes acc += b and _requant_f64."""
    shift = np.asarray(ql.shift, dtype=np.int64)
    hi = fx.int_range(ql.acc_bits)[1]
    if ql.rounding != "half_up" or shift.min() < 1 or hi + (1 << int(shift.max() - 1)) >= fx.F64_EXACT_MAX:
        acc += b.astype(np.float64)[None, :, None]
        return _requant_f64(acc, ql, channel_axis_len)
    half = np.left_shift(np.int64(1), shift - 1)
    acc += (b + half).astype(np.float64)[None, :, None]           # half: a scalar or per channel
    scale = np.exp2(-shift.astype(np.float64))
    acc *= scale.reshape(1, channel_axis_len, 1) if shift.ndim else float(scale)
    if not ql.relu:
        np.floor(acc, out=acc)
        return _saturate_relu_f64(acc, ql)
    # With ReLU the floor is the int16 cast's truncation: for any t, ReLU(clip(floor(t), lo, hi))
    # = trunc(clip(t, 0, hi)) (t >= 0: trunc = floor, and floor(t) > hi iff t >= hi + 1, so
    # min(t, hi) truncates to min(floor(t), hi); t < 0: both are 0), and floor(t) < lo iff
    # t < lo, floor(t) > hi iff t >= hi + 1 count the saturations (lo, hi integers).
    lo, hi = fx.int_range(fx.WORD_BITS)
    sat = 0
    if acc.size and (acc.min() < lo or acc.max() >= hi + 1):
        sat = int(np.count_nonzero(acc < lo)) + int(np.count_nonzero(acc >= hi + 1))
    np.clip(acc, 0.0, hi, out=acc)
    return acc.astype(np.int16), sat


def _saturate_relu_f64(acc, ql: QLayer):
    """Rounded float64 accumulators -> (int16, saturations): saturate (counted), then ReLU."""
    lo, hi = fx.int_range(fx.WORD_BITS)
    sat = 0
    if acc.size and (acc.min() < lo or acc.max() > hi):
        sat = int(np.count_nonzero(acc < lo)) + int(np.count_nonzero(acc > hi))
        np.clip(acc, lo, hi, out=acc)
    if ql.relu:
        np.maximum(acc, 0.0, out=acc)
    return acc.astype(np.int16), sat


def bias_acc(ql: QLayer) -> np.ndarray:
    """Bias aligned to the accumulator's fractional bits, int64 (Cout,)."""
    return fx.align_bias(ql.bias.astype(np.int64), ql.b_frac, ql.acc_frac, ql.rounding)


def _max_abs(x: np.ndarray) -> int:
    return max(-int(x.min()), int(x.max())) if x.size else 0


def _float_safe(b: np.ndarray, l1: np.ndarray, xmax: int, ql: QLayer) -> bool:
    """True when no partial sum of any output can leave the accumulator range and
    every one is below 2**53 (|bias| + L1(w_c) * max|x| bounds them all): the
    float64 GEMM plus bias is then the exact accumulator."""
    bound = int((np.abs(b) + l1 * xmax).max(initial=0))
    return bound <= fx.int_range(ql.acc_bits)[1] and bound < fx.F64_EXACT_MAX


def _im2col_frames(x: np.ndarray, layer: LayerSpec) -> np.ndarray:
    """GEMM columns with the frames side by side, (1, C*kh*kw, N*Ho*Wo) float64: one
    GEMM for the whole batch (frame-major columns), for layers with few pixels."""
    v = windows(x.astype(np.float64), layer.kernel, layer.stride, layer.pad)    # (N, C, Ho, Wo, kh, kw)
    cols = np.ascontiguousarray(v.transpose(1, 4, 5, 0, 2, 3))
    return cols.reshape(1, cols.shape[0] * layer.kernel * layer.kernel, -1)


def conv(x: np.ndarray, layer: LayerSpec, ql: QLayer, qnet: QNetwork | None = None):
    """int16 (N, C, H, W) -> (int16 (N, Cout, Ho, Wo), LayerStats)."""
    n, c, h, w_ = x.shape
    g = layer.groups
    w = ql.weights
    m_ = w.shape[0]
    w64, l1 = weights64(qnet, ql)
    ho = (h + 2 * layer.pad - layer.kernel) // layer.stride + 1
    wo = (w_ + 2 * layer.pad - layer.kernel) // layer.stride + 1
    merged = n > 1 and ho * wo < MERGE_PIXELS
    xmax = _max_abs(x)
    k = w64.shape[1] * g                                # C * kh * kw
    b = bias_acc(ql)
    exact = k <= FLOAT_EXACT_MAX_K and _float_safe(b, l1, xmax, ql)       # float64 sums are exact
    if exact and not merged:
        return _conv_f64_row_blocks(x, layer, ql, w64, b)
    cols = _im2col_frames(x, layer) if merged else im2col(x, layer.kernel, layer.stride, layer.pad)
    kg, mg = cols.shape[1] // g, m_ // g
    if exact:
        acc = np.empty((cols.shape[0], m_, cols.shape[2]))
        for i in range(g):
            np.matmul(w64[i * mg:(i + 1) * mg], cols[:, i * kg:(i + 1) * kg], out=acc[:, i * mg:(i + 1) * mg])
        y, sat = _add_bias_requant_f64(acc, b, ql, m_)
        overflows = 0
    else:
        acc = np.empty((cols.shape[0], m_, cols.shape[2]), dtype=np.int64)
        over = []
        for i in range(g):
            rows = slice(i * mg, (i + 1) * mg)
            part, (on, om, op) = accumulate(w[rows], w64[rows], l1[rows], cols[:, i * kg:(i + 1) * kg], b[rows],
                                            xmax, ql)
            acc[:, rows] = part
            over.append((on, om + i * mg, op))
        on, om, op = (np.concatenate(a) for a in zip(*over))
        if merged:                                     # columns are (frame, pixel)
            on, op = op // (ho * wo), op % (ho * wo)
        if ql.overflow == "error" and on.size:
            raise overflow_error(ql, on, om, op, wo)
        overflows = on.size
        y, sat = _requant(acc, ql, m_)
    if merged:
        y = np.ascontiguousarray(y.reshape(m_, n, ho * wo).transpose(1, 0, 2))
    return y.reshape(n, m_, ho, wo), LayerStats(overflows, sat, y.size)


def _conv_f64_row_blocks(x: np.ndarray, layer: LayerSpec, ql: QLayer, w64: np.ndarray, b: np.ndarray):
    """engine.conv when every float64 sum is exact (_float_safe): GEMM columns built for
    blocks of output rows holding about CHUNK_BYTES of columns, so a large layer (VGG-16's
    conv1_2: 231 MB of columns) works in one recycled buffer.  Every output is the same
    exact integer whatever the blocking.  Returns (int16 (N, Cout, Ho, Wo), LayerStats)."""
    n, _, h, w_ = x.shape
    g, m_ = layer.groups, w64.shape[0]
    kg, mg = w64.shape[1], m_ // g
    ho = (h + 2 * layer.pad - layer.kernel) // layer.stride + 1
    wo = (w_ + 2 * layer.pad - layer.kernel) // layer.stride + 1
    rows = max(1, CHUNK_BYTES // (8 * n * kg * g * wo))
    y = np.empty((n, m_, ho * wo), dtype=np.int16)
    sat = 0
    for r0, r1, cols in im2col_row_blocks(x, layer.kernel, layer.stride, layer.pad, rows):
        acc = np.empty((n, m_, cols.shape[2]))
        for i in range(g):
            np.matmul(w64[i * mg:(i + 1) * mg], cols[:, i * kg:(i + 1) * kg], out=acc[:, i * mg:(i + 1) * mg])
        y[:, :, r0 * wo:r1 * wo], s = _add_bias_requant_f64(acc, b, ql, m_)
        sat += s
    return y.reshape(n, m_, ho, wo), LayerStats(0, sat, y.size)


def fc(x: np.ndarray, layer: LayerSpec, ql: QLayer, qnet: QNetwork | None = None):
    """int16 (N, C, H, W) -> (int16 (N, Nout, 1, 1), LayerStats); input flattened (C, H, W)."""
    flat = flatten_chw(x)                                  # (N, K)
    cols = flat.T.astype(np.float64)[None]                 # (1, K, N): frames as GEMM columns
    xmax = _max_abs(flat)
    l1 = weights_l1(qnet, ql)
    b = bias_acc(ql)
    if cols.shape[1] <= FLOAT_EXACT_MAX_K and _float_safe(b, l1, xmax, ql):
        # exact in any blocking: W's rows go through one float64 buffer, never a cached float64 copy
        # of W (AlexNet's fc6 would be 302 MB, VGG-16's 822 MB)
        acc = np.empty((1, ql.weights.shape[0], cols.shape[2]))
        for r0, r1, blk in _weight_rows(ql):
            np.matmul(blk, cols[0], out=acc[0, r0:r1])
        y, sat = _add_bias_requant_f64(acc, b, ql, ql.weights.shape[0])
        return y[0].T.reshape(x.shape[0], -1, 1, 1), LayerStats(0, sat, y.size)
    # Outputs accumulate independently, so W's row blocks (one float64 buffer, as above) give the
    # same accumulators and the same overflowing outputs as the whole matrix at once.
    acc = np.empty((1, ql.weights.shape[0], cols.shape[2]), dtype=np.int64)
    w = ql.weights.reshape(ql.weights.shape[0], -1)
    over = []
    for r0, r1, blk in _weight_rows(ql):
        acc[:, r0:r1], (bn, bm, bp) = accumulate(w[r0:r1], blk, l1[r0:r1], cols, b[r0:r1], xmax, ql)
        over.append((bn, bm + r0, bp))
    on, om, op = (np.concatenate(a) for a in zip(*over))
    if ql.overflow == "error" and on.size:
        raise overflow_error(ql, op, om, on, None)           # fc: frames are the GEMM columns
    overflows = on.size
    y, sat = _requant(acc, ql, ql.weights.shape[0])
    return y[0].T.reshape(x.shape[0], -1, 1, 1), LayerStats(overflows, sat, y.size)


def maxpool(x: np.ndarray, layer: LayerSpec):
    """Max over kernel x kernel windows; padding never wins (it is the int16 minimum).

    Separable: the max over kx of each row, then over ky of those (max is
    associative and commutative, so this is the window max exactly; the
    direct loop in kernels.maxpool_direct is the oracle).
    """
    k, s = layer.kernel, layer.stride
    xp = pad_hw(x, layer.pad, np.iinfo(np.int16).min)
    ho = (xp.shape[2] - k) // s + 1
    wo = (xp.shape[3] - k) // s + 1
    span_w, span_h = s * (wo - 1) + 1, s * (ho - 1) + 1
    rows = xp[..., 0:span_w:s].copy()
    for kx in range(1, k):
        np.maximum(rows, xp[..., kx:kx + span_w:s], out=rows)
    y = rows[:, :, 0:span_h:s].copy()
    for ky in range(1, k):
        np.maximum(y, rows[:, :, ky:ky + span_h:s], out=y)
    return y, LayerStats(0, 0, y.size)


@lru_cache(maxsize=None)
def _lrn_tables(size, alpha, beta, k):
    return fx.lrn_tables(size, alpha, beta, k)


@lru_cache(maxsize=None)
def _lrn_plan(size, alpha, beta, k, frac, mode):
    return fx.lrn_f64_plan(_lrn_tables(size, alpha, beta, k), size, frac, mode)


def _lrn_f64(x: np.ndarray, size: int, plan) -> tuple:
    """fx.lrn_scale_f64 over blocks of LRN_BLOCK elements (cache-resident), int16 out.

    The window sum of a**2 is a float64 cumulative sum over channels: integers
    below size * 2**30, exact.  P[j] = sum of a**2 over channels < clip(j - h, 0, C),
    so channel c's window [c-h, c+h] sums to P[c + 2h + 1] - P[c].
    """
    n, c, h, w = x.shape
    half = size // 2
    out = np.empty(x.shape, dtype=np.int16)
    frames = max(1, LRN_BLOCK // (c * h * w))
    rows = h if frames > 1 else max(1, LRN_BLOCK // (c * w))
    lo, hi = fx.int_range(fx.WORD_BITS)
    sat = 0
    for f0 in range(0, n, frames):
        for r0 in range(0, h, rows):
            blk = x[f0:f0 + frames, :, r0:r0 + rows]
            a = blk.astype(np.float64)
            p = np.empty((a.shape[0], c + 2 * half + 1) + a.shape[2:])
            p[:, :half + 1] = 0.0
            np.multiply(a, a, out=p[:, half + 1:half + 1 + c])
            np.cumsum(p[:, half + 1:half + 1 + c], axis=1, out=p[:, half + 1:half + 1 + c])
            p[:, half + 1 + c:] = p[:, half + c:half + c + 1]
            b = fx.lrn_scale_f64(a, p[:, 2 * half + 1:] - p[:, :c], plan)
            if b.size and (b.min() < lo or b.max() > hi):
                sat += int(np.count_nonzero(b < lo)) + int(np.count_nonzero(b > hi))
                np.clip(b, lo, hi, out=b)
            out[f0:f0 + frames, :, r0:r0 + rows] = b
    return out, sat


def lrn(x: np.ndarray, layer: LayerSpec, ql: QLayer):
    """Cross-channel LRN in fixed point (fixedpoint.lrn_scale); keeps the input format.

    Exact float64 evaluation (fixedpoint.lrn_scale_f64) where its bounds hold
    (always for the shipped networks), else the int64 definition where its bounds
    hold for this input (fixedpoint.lrn_int64_check), else one RefimplError naming the layer.
    """
    params = (layer.lrn_size, layer.lrn_alpha, layer.lrn_beta, layer.lrn_k)
    plan = _lrn_plan(*params, ql.in_frac, ql.rounding)
    if plan is not None:
        y, sat = _lrn_f64(x, layer.lrn_size, plan)
        return y, LayerStats(0, sat, y.size)
    a = x.astype(np.int64)
    ssq = lrn_window_sum(a * a, layer.lrn_size)
    try:                                 # this input's maxima: the int64 steps must not wrap
        fx.lrn_int64_check(_lrn_tables(*params), layer.lrn_size, ql.in_frac,
                           int(ssq.max(initial=0)), _max_abs(x))
    except RefimplError as exc:
        raise RefimplError(f"layer {layer.name}: {exc}") from None
    y, sat = fx.saturate(fx.lrn_scale(a, ssq, ql.in_frac, _lrn_tables(*params), ql.rounding))
    return y.astype(np.int16), LayerStats(0, sat, y.size)


def run_layer(layer: LayerSpec, ql: QLayer, x: np.ndarray, qnet: QNetwork | None = None):
    if layer.kind == "conv":
        return conv(x, layer, ql, qnet)
    if layer.kind == "fc":
        return fc(x, layer, ql, qnet)
    if layer.kind == "maxpool":
        return maxpool(x, layer)
    if layer.kind == "lrn":
        return lrn(x, layer, ql)
    raise RefimplError(f"layer {layer.name} ({layer.kind}): the bit-exact engine runs {', '.join(ENGINE_KINDS)}")


def checked_input(qnet: QNetwork, x: np.ndarray, until: str | None) -> tuple:
    """(x as int16 (N, 3, H, W), the layers to run) or a RefimplError naming what is wrong."""
    spec = qnet.spec
    xb, _ = as_batch(np.asarray(x))
    if xb.dtype != np.int16 or tuple(xb.shape[1:]) != tuple(spec.input_shape):
        raise RefimplError(f"network {spec.name}: input must be int16 {tuple(spec.input_shape)} per frame, "
                           f"got {xb.dtype} {tuple(xb.shape[1:])}")
    layers = spec.until(until)
    if len(layers) > len(qnet.layers):
        raise RefimplError(f"network {spec.name}: quantized only up to {qnet.layers[-1].name}, asked for {layers[-1].name}")
    return xb, layers


def frames_per_chunk(qnet: QNetwork, layers) -> int:
    """Frames the engine runs at once: the most whose largest per-layer working set
    (GEMM columns, float64 accumulators and int64 psums, input and output words)
    stays within CHUNK_BYTES, at least one."""
    worst = 1
    for s in layer_shapes(qnet.spec)[:len(layers)]:
        c, h, w = s.in_shape
        out = int(np.prod(s.out_shape))
        if s.layer.kind == "conv":
            work = 8 * c * s.layer.kernel ** 2 * out // s.out_shape[0] + 16 * out
        else:
            work = 8 * c * h * w + 16 * out
        worst = max(worst, work + 2 * (c * h * w + out))
    return max(1, CHUNK_BYTES // worst)


def _run_frames(qnet: QNetwork, xb: np.ndarray, layers, shapes, first_frame: int = 0, progress=None) -> list:
    spec = qnet.spec
    acts = {"input": xb}
    results = []
    for i, layer in enumerate(layers):
        if progress is not None:
            progress(i, len(layers), layer.name)
        ql = qnet.layers[i]
        src = acts[spec.sources(i)[0]]
        if layer.weighted:
            _check_params(layer, ql, shapes[layer.name].in_shape, shapes[layer.name].weight_shape)
        try:
            y, stats = run_layer(layer, ql, src, qnet)
        except AccumulatorOverflow as exc:
            raise exc.moved(first_frame, i) from None
        acts[layer.name] = y
        results.append(LayerResult(layer.name, layer.kind, src, y, stats))
    return results


def run(qnet: QNetwork, x: np.ndarray, until: str | None = None, keep=None, progress=None) -> list:
    """Run the network on int16 input (3, H, W) or (N, 3, H, W) up to ``until``.

    Returns [LayerResult] in layer order; every tensor is (N, C, H, W).
    keep : None keeps every layer's input and output; else the names of the
           layers whose outputs are kept (the others' ``output`` is None, and a
           layer's ``input`` is None unless its source is kept or is the input).
    progress : optional callable(i, n, name), called before layer i of n runs
           (in every chunk of frames).
    The frames run in chunks of frames_per_chunk (the engine's choice), so the
    working memory does not grow with the batch; only kept outputs do.  Stats
    are summed over the chunks.  An 'error'-policy overflow names the first
    overflowing output in (layer, frame, out_channel, row, col) order, whatever
    the chunking.
    """
    spec = qnet.spec
    xb, layers = checked_input(qnet, x, until)
    shapes = {s.layer.name: s for s in layer_shapes(spec)}
    names = [layer.name for layer in layers]
    kept = set(names) if keep is None else set(keep)
    unknown = kept - set(names)
    if unknown:
        raise RefimplError(f"network {spec.name}: cannot keep {', '.join(sorted(unknown))}: not among the layers run")
    chunk = frames_per_chunk(qnet, layers)
    n = xb.shape[0]
    if n <= chunk and keep is None:
        return _run_frames(qnet, xb, layers, shapes, progress=progress)
    outputs = {name: np.empty((n,) + tuple(shapes[name].out_shape), dtype=np.int16) for name in kept}
    stats = [LayerStats() for _ in layers]
    error = None
    for f0 in range(0, n, chunk):
        upto = layers if error is None else layers[:error.layer_index]
        if not upto:
            break
        try:
            part = _run_frames(qnet, xb[f0:f0 + chunk], upto, shapes, f0, progress)
        except AccumulatorOverflow as exc:       # an earlier layer in a later chunk comes first
            error = exc
            continue
        for i, r in enumerate(part):
            st = stats[i]
            st.acc_overflows += r.stats.acc_overflows
            st.saturations += r.stats.saturations
            st.outputs += r.stats.outputs
            if r.name in outputs:
                outputs[r.name][f0:f0 + chunk] = r.output
    if error is not None:
        raise error
    results = []
    for i, layer in enumerate(layers):
        src = spec.sources(i)[0]
        inp = xb if src == "input" else outputs.get(src)
        results.append(LayerResult(layer.name, layer.kind, inp, outputs.get(layer.name), stats[i]))
    return results
