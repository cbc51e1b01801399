"""Speculative Huffman walk of one-component scans: many bit offsets at once.

The sequential step of Huffman decoding (T.81 F.2.2) is finding where each
symbol starts.  :func:`refimpl.jpeg.huffman._walk` follows that chain in a
Python loop, one step per symbol (about 70 ns each).  This module finds the
same positions with a few hundred NumPy operations instead, for scans with
one block per MCU (every greyscale file):

1. **Successor table.**  For a block of one component the walk only needs,
   at an AC symbol starting at bit ``x``, the start of the next AC symbol
   *ignoring the zig-zag index k*: ``x + advance(x)`` for a coefficient or
   ZRL; for an end-of-block symbol (EOB, another size-0 symbol or an invalid
   code, all of which end a block in libjpeg and in ``_walk``) the next
   block's DC symbol starts at ``y = x + advance(x)`` and its first AC
   symbol at ``y + dc_advance(y)``.  :func:`successor_table` evaluates this
   function ``f`` at every bit position of a window of scan data.
2. **Lanes.**  ``f`` is followed from ``L`` positions spaced :data:`SPACING`
   bits apart, all lanes one NumPy ``take`` per step (:func:`run_lanes`);
   lane 0 starts on the true chain.  Huffman codes resynchronise: a lane
   started at an arbitrary bit meets the true chain after about 4 symbols
   (median 3, 99th percentile about 22 on the benchmark files), and from a
   common position on two lanes are identical, ``f`` being a function.
3. **Stitching.**  Every visited position records one (step, lane) that
   visited it (:func:`owner_table`).  The chain from a true position is the
   rest of its lane, then continues at ``f`` of the lane's last position,
   which a later lane has usually visited; a position no lane visited is
   followed with ``f`` in Python until one is (:func:`chain_positions`).
   Every position of the result is ``f`` of the previous one by
   construction, so this is the chain of ``f`` from the start, exactly.
4. **Checking k.**  The chain of ``f`` is the true symbol chain as long as
   no block reaches zig-zag index 64 without an end-of-block symbol (a
   non-zero coefficient 63, or a run past it in corrupt data).  The caller
   (``huffman._LaneWalk``) computes k along the chain and cuts it at the first
   symbol where ``_walk`` would end a block; from there it starts a new
   chain (after :data:`MAX_CUTS` cuts in a window it gives the window back
   to ``_walk``).

The result, positions of DC and AC symbols of whole MCUs, is what ``_walk``
returns, element for element; ``tests/test_jpeg_lanes.py`` runs both on
every decode of its files (the loop oracle).  Shapes: bit positions are
int32 inside a window (at most ``8 * (huffman.LANE_WINDOW_BYTES + margin)``
bits).
"""

from __future__ import annotations

import numpy as np

__all__ = ["SPACING", "MIN_REGION_BITS", "ENDS_BLOCK", "successor_table", "run_lanes",
           "owner_table", "chain_positions", "MAX_CUTS"]

# Bits between lane starts.  A lane costs about SPACING / 5.5 steps plus its
# resynchronisation (5.3-6 bits per step on the benchmark files); fewer,
# longer lanes cost more NumPy steps, more and shorter ones more Python hops
# in the stitching (one per lane).  Measured on the 208x208 mosaic and the
# 1 MP photo: the walk's time changes by less than 5 % from 128 to 512.
SPACING = 192
# Lanes must overlap their successor by the resynchronisation distance;
# they run until all but 1/32 of them are this many bits past the next
# lane's start (99 % of lanes resynchronise within 22 symbols, ~120 bits).
OVERLAP_BITS = 128
STEP_ROUND = 8  # lane steps between coverage checks
MAX_STEPS = 1 << 12  # bound on lane steps (each step moves >= 2 bits)
# Regions shorter than this are left to the Python walk: measured on grey
# photos at quality 75, the lanes' fixed cost (about 60 NumPy calls and a
# Python hop per lane) equals the walk's at about 37,000 bits of scan data
# (0.65 ms each) and is 17 % lower at 63,000 bits; at 18,000 bits the
# walk is 25 % faster.
MIN_REGION_BITS = 40000
# Cuts (blocks that reach index 64 without an end-of-block symbol) after
# which a window is left to the Python walk: each cut restarts the chain.
MAX_CUTS = 4
_AR = np.arange(1 << 16, dtype=np.int32)


def _arange(n: int) -> np.ndarray:
    """int32 0..n-1 (a cached prefix when it fits)."""
    global _AR
    if n > len(_AR):
        _AR = np.arange(max(n, 2 * len(_AR)), dtype=np.int32)
    return _AR[:n]


# Flag added to an AC window's advance (at most 16 + 15 = 31 bits) where its
# symbol ends the block, so that one look-up gives both.
ENDS_BLOCK = 64


def successor_table(w16: np.ndarray, n_bits: int, size: int, ac_successor: np.ndarray,
                    dc_advance: np.ndarray) -> np.ndarray:
    """``f`` (see the module text) at every bit position of a window.

    Parameters
    ----------
    w16 : ndarray, shape (n_bits,), integer
        The 16 bits starting at each bit position (0-padded after the data).
    n_bits : int
    size : int
        Length of the table (> n_bits); positions ``>= n_bits`` are a pad
        that moves 2 bits a step into the last position, which maps to
        itself, so that lanes never leave the table.
    ac_successor : ndarray, shape (65536,), int8
        Code length plus magnitude bits of the window's AC symbol (1 for an
        invalid window, :attr:`HuffmanTable.advance`), plus
        :data:`ENDS_BLOCK` where the symbol ends its block (EOB, other
        size-0 symbols, invalid codes: ``kstep == 64``).
    dc_advance : ndarray, shape (65536,), int8
        The same advance for the window's DC symbol.

    Returns
    -------
    ndarray, shape (size,), int32, ``f[x] > x`` except at the last position.
    """
    sink = size - 1
    f = np.empty(size, dtype=np.int32)
    step = np.take(ac_successor, w16)
    ends = np.flatnonzero(step >= ENDS_BLOCK)
    step &= ENDS_BLOCK - 1  # the advance alone
    np.add(_arange(n_bits), step, out=f[:n_bits])
    f[n_bits:] = np.minimum(_arange(size)[n_bits:] + 2, sink)
    y = f[ends]  # the next block's DC symbol
    inside = y < n_bits
    dc = np.ones(len(y), dtype=np.int32)  # the pad advances 1 bit
    dc[inside] = np.take(dc_advance, np.take(w16, y[inside]))
    f[ends] = np.minimum(y + dc, sink)
    return f


def run_lanes(f: np.ndarray, first: int, end: int, spacing: int = SPACING) -> np.ndarray:
    """Follow ``f`` from ``first`` and from every ``spacing`` bits up to ``end``.

    Returns P, ndarray, shape (S + 1, L), int32: ``P[t, j]`` is lane j's
    position after t steps; ``P[0, 0] == first``.  Lanes step in rounds of
    :data:`STEP_ROUND` until all but 1/32 of them are :data:`OVERLAP_BITS`
    past the next lane's start.
    """
    n_lanes = max(1, -(-(end - first) // spacing))
    starts = first + spacing * _arange(n_lanes)
    # A lane in the last position (past the data) has covered everything.
    target = np.minimum(starts + (spacing + OVERLAP_BITS), len(f) - 1)
    allowed = n_lanes // 32
    rounds = [starts[None]]
    x = starts
    for _ in range(MAX_STEPS // STEP_ROUND):
        rows = np.empty((STEP_ROUND, n_lanes), dtype=np.int32)
        for t in range(STEP_ROUND):
            f.take(x, out=rows[t])  # the method: no np.take wrapper per step
            x = rows[t]
        rounds.append(rows)
        if np.count_nonzero(x < target) <= allowed:
            break
    return np.concatenate(rounds)


def owner_table(lanes: np.ndarray, size: int) -> np.ndarray:
    """For each bit position, the flat index ``t * L + j`` of one lane step
    that visited it (-1: none), int32 of shape (size,).  Which visitor is
    kept among several does not matter: from a common position lanes agree.
    Written in reverse so that the earliest step usually stays (its lane
    has the most steps left)."""
    owner = np.full(size, -1, dtype=np.int32)
    flat = lanes.reshape(-1)
    owner[flat[::-1]] = _arange(len(flat))[::-1]
    return owner


def chain_positions(f: np.ndarray, lanes: np.ndarray, owner: np.ndarray,
                    start: int, end: int) -> np.ndarray:
    """The chain ``start, f(start), f(f(start)), ...`` below ``end``.

    Returns ndarray, int32, strictly increasing.

    Stitching: the rest of the lane that visited a position, then the lane
    that visited ``f`` of its last position; where no lane did, ``f`` in a
    Python loop until one did.  Which lane follows which is computed for
    all lanes at once (:func:`_lane_links`); the Python loop only follows
    those links, one list look-up per lane used.
    """
    n_lanes = lanes.shape[1]
    last = lanes[-1]
    after, visitor, link = _lane_links(f, owner, last, end)
    sink = n_lanes
    fv, ov = memoryview(f), memoryview(owner)
    pieces = []
    y = start
    while True:
        o = ov[y]
        if o < 0:  # no lane visited y: walk f until one did
            walked = []
            while y < end and ov[y] < 0:
                walked.append(y)
                y = fv[y]
            pieces.append(np.asarray(walked, dtype=np.int32))
            if y >= end:
                break
            o = ov[y]
        lane = o % n_lanes
        used = [lane]
        while link[lane] != sink:
            lane = link[lane]
            used.append(lane)
        pieces.append(_rest_of_lanes(lanes, o, visitor, used))
        if last[lane] >= end:
            break
        y = int(after[lane])  # no lane visited it: walked above
    path = np.concatenate(pieces) if len(pieces) > 1 else pieces[0]
    return path[:np.searchsorted(path, end)]


def _lane_links(f, owner, last, end):
    """Per lane j: ``after[j] = f(last[j])``, ``visitor[j]`` = the lane
    step that visited it (:func:`owner_table`, -1: none) and, as a list,
    ``link[j]`` = that step's lane, where the chain continues, or L (the
    chain ends in lane j: it reaches ``end``, or no lane visited
    ``after[j]``)."""
    n_lanes = len(last)
    after = f.take(last)
    visitor = owner.take(after)
    ends_here = (last >= end) | (visitor < 0)
    link = np.where(ends_here, n_lanes, visitor % n_lanes)
    return after, visitor, link.tolist()


def _rest_of_lanes(lanes, o, visitor, used):
    """Lane ``used[0]`` from step ``o // L``, then each later lane of
    ``used`` from the step at which it visited ``f`` of its predecessor's
    last position, to the end of each lane; int32.

    Lane step ``(t, j)`` is flat index ``t * L + j``; a lane entered at flat
    index e runs through e, e + L, ... below S * L, ``S - e // L`` entries.
    """
    steps, n_lanes = lanes.shape
    entry = np.empty(len(used), dtype=np.int64)
    entry[0] = o
    entry[1:] = visitor[used[:-1]]
    count = steps - entry // n_lanes
    first = np.cumsum(count) - count  # where each lane's run begins
    flat = np.repeat(entry - first * n_lanes, count)
    flat += np.arange(0, int(first[-1] + count[-1]) * n_lanes, n_lanes)
    return lanes.reshape(-1).take(flat)
