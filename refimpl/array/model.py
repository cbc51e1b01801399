"""Cycle-level model of the rows x cols output-stationary array (register transfers).

Registers (one frame or tile per batch entry b; the flags are the same for all):
  feed_w[b][r], feed_x[b][j], feed_v/f/l  controller's feed registers: step k of
                                  pass p, valid, first step (k = 0), last step (k = K-1)
  skew: row r's weight passes r delay registers, column j's input j, before the array
  w_reg[b][r][j], x_reg[b][r][j]  operand registers: weights move right, inputs down, so
                                  (skew + operand registers) row r's weight path is one
                                  shift register of which w_reg[r][j] is stage r + j, and
                                  column j's input path one of which x_reg[r][j] is stage j + r
  v/f/l[r][j]                     flags (valid, first, last) beside w_reg, travelling with it
  pre[b][r][j]   start psum of the MAC's next pass, loaded for all 144 MACs the edge
                 after pass p's step 0 is fed (pass p's start psums)
  acc[b][r][j]   the psum: on a first-step operand acc = fit(pre + w*x), else fit(acc + w*x)
  res[b][r][j]   acc after the MAC's last step of a pass
  cap[b][r][j]   captured res of the pass that the last MAC finished on the previous edge;
                 the next edge writes it (psums_end) and its requantized outputs
fit() is the overflow policy after every addition (fixedpoint.acc_add).  Every
edge computes the next state from the current one, in this order so that the
in-place updates read old values: write, capture, MAC, pre, operands, skew, feed.
The model counts edges until the last pass is written; timing.tile_timing states
the same count in closed form (the tests hold them equal).
"""
from __future__ import annotations

import numpy as np

from ..fixedpoint import int_range, wrap
from .timing import pass_interval


def run(w: np.ndarray, x: np.ndarray, start: np.ndarray, acc_bits: int, overflow: str, trace=None):
    """Run P passes on B independent arrays.

    w     : int (B, P, K, rows) weight streams (broadcast views allowed)
    x     : int (B, P, K, cols) input streams
    start : int64 (B, P, rows, cols) start psums, already in the accumulator range
    trace : optional callable(edge, state dict) after each edge (slow; for debugging)
    Returns (psums_end int64 (B, P, rows, cols), overflowed bool (B, P, rows, cols):
    the MAC's accumulation overflowed during the pass, cycles: edges from the start
    edge to the last write).
    """
    b, n_pass, k_len, rows = w.shape
    cols = x.shape[3]
    interval = pass_interval(k_len, rows, cols)
    lo, hi = int_range(acc_bits)
    span = hi - lo
    feed_w = np.zeros((b, rows), np.int64)
    feed_x = np.zeros((b, cols), np.int64)
    feed_v = feed_f = feed_l = False
    feed_p = 0
    # Row r's weight path is one shift register: r skew stages, then its cols operand
    # registers w_reg[r][0..cols-1] (stage r + j); column j's input path likewise (stage j + r).
    rr, cc = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    w_chain = np.zeros((b, rows, rows + cols), np.int64)        # stage 0 <- feed_w[r]
    x_chain = np.zeros((b, cols, rows + cols), np.int64)        # stage 0 <- feed_x[j]
    f_chain = np.zeros((3, rows, rows + cols), bool)            # v, f, l travel with the weights
    w_at, x_at = (rr, rr + cc), (cc, rr + cc)                   # w_reg[r][j], x_reg[r][j]
    acc = np.zeros((b, rows, cols), np.int64)
    pre = np.zeros((b, rows, cols), np.int64)
    res = np.zeros((b, rows, cols), np.int64)
    ovf = np.zeros((b, rows, cols), bool)
    res_ovf = np.zeros((b, rows, cols), bool)
    cap = cap_ovf = None
    cap_valid = last_done = False
    written = 0
    end = np.zeros((b, n_pass, rows, cols), np.int64)
    end_ovf = np.zeros((b, n_pass, rows, cols), bool)
    zeros_w, zeros_x = np.zeros((b, rows), np.int64), np.zeros((b, cols), np.int64)
    edge = -1
    while written < n_pass:
        edge += 1
        if edge > n_pass * interval + 4 * (rows + cols) + 8:
            raise AssertionError("array model: the passes never end (internal error)")
        # write stage: the pass captured on the previous edge (the caller requantizes it)
        if cap_valid:
            end[:, written], end_ovf[:, written] = cap, cap_ovf
            written += 1
        # capture: the last MAC finished a pass on the previous edge
        cap_valid = last_done
        if last_done:
            cap, cap_ovf = res.copy(), res_ovf.copy()
        v, f, l = f_chain[:, rr, rr + cc]
        last_done = bool(v[-1, -1] and l[-1, -1])
        # MAC: acc = fit((first ? pre : acc) + w_reg * x_reg) where an operand is valid
        if v.any():
            s = w_chain[:, w_at[0], w_at[1]] * x_chain[:, x_at[0], x_at[1]]
            first = f.any()
            s += np.where(f, pre, acc) if first else acc
            over = (s - lo).view(np.uint64) > np.uint64(span)   # outside [lo, hi]
            bad = over.any()
            if bad:
                s = wrap(s, acc_bits) if overflow == "wrap" else np.clip(s, lo, hi)
            if not first and v.all():
                acc = s
                if bad:
                    ovf |= over
            else:
                acc = np.where(v, s, acc)
                ovf = np.where(v, np.where(f, over, ovf | over), ovf)
            if l.any():
                done = v & l
                res = np.where(done, acc, res)
                res_ovf = np.where(done, ovf, res_ovf)
        # pre: the start psums of the pass whose step 0 sits in the feed registers
        if feed_v and feed_f:
            pre = np.array(start[:, feed_p], dtype=np.int64)
        # skew stages and operand registers shift by one; the feed enters stage 0
        w_chain[:, :, 1:] = w_chain[:, :, :-1]
        w_chain[:, :, 0] = feed_w
        x_chain[:, :, 1:] = x_chain[:, :, :-1]
        x_chain[:, :, 0] = feed_x
        f_chain[:, :, 1:] = f_chain[:, :, :-1]
        f_chain[:, :, 0] = np.array([feed_v, feed_f, feed_l])[:, None]
        # feed: step k of pass p at edge p*I + k; zeros in the gaps and after the last pass
        p, k = divmod(edge, interval)
        feed_v = p < n_pass and k < k_len
        if feed_v:
            feed_w, feed_x = w[:, p, k], x[:, p, k]
            feed_f, feed_l, feed_p = k == 0, k == k_len - 1, p
        else:
            feed_w, feed_x, feed_f, feed_l = zeros_w, zeros_x, False, False
        if trace is not None:
            trace(edge, dict(w_chain=w_chain, x_chain=x_chain, flags=f_chain, acc=acc, pre=pre, res=res))
    return end, end_ovf, edge
