"""Fast Huffman encoding of a one-component scan without restart markers.

The general encoder in :mod:`huffman` (``run_length_symbols`` ->
``assign_codes`` -> ``encode_segments``) builds one record per symbol
(block, component, is_dc, symbol, extra bits, code) because the encoder
trace and the golden sets show them.  A greyscale file without restart
markers -- ``refimpl features``, the mosaics, ``encode_entropy`` -- needs
only the bytes.  This module writes the same bytes with fewer passes:

1. :func:`block_runs`: per block the DC difference and EOB flag, per
   non-zero AC coefficient its value, run/size symbol and ZRL count (T.81
   F.1.2.1, F.1.2.2) -- no per-symbol block/component/is_dc arrays.
2. :func:`run_frequencies`: the symbol counts libjpeg's optimize pass
   gathers, straight from those arrays.
3. :func:`coded_items`: each item's Huffman code joined with its magnitude
   bits (at most 16 + 15 = 31 bits), written once into its emission slot
   (the slots are index arithmetic, :func:`_item_slots`).
4. :func:`pack_ordered`: the items, already in stream order, OR-ed per
   32-bit word with ``bitwise_or.reduceat`` (no scatter, no float
   accumulation); :func:`encode_block_runs` stuffs 0xFF bytes with
   ``bytes.replace``.

The general path stays the definition: ``tests/test_jpeg_blockscan.py``
checks every function here against it (and :func:`pack_ordered` against
``huffman.pack_bits``) on hypothesis-generated blocks, tables and values.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from .errors import JpegError
from .huffman import EOB, MAX_CATEGORY, ZRL, HuffmanTable, _CATEGORY
from .tables import BLOCK_SIZE

__all__ = ["BlockRuns", "block_runs", "run_frequencies", "encode_block_runs",
           "pack_ordered"]

LAST_AC = BLOCK_SIZE - 1  # zig-zag index 63: EOB unless it is non-zero
WORD_BITS = 32  # pack_ordered's output word
# Size categories as intp: symbols index look-up tables, and np.take
# converts any other index dtype first.
_CATEGORY_INTP = _CATEGORY.astype(np.intp)
_CATEGORY_INTP.setflags(write=False)
_WORD_START = np.uint64(0xFFFFFFFFFFFFFFE0)  # ~31: bit offset of a word


class BlockRuns(NamedTuple):
    """Run-length form of the blocks of one component (no restarts).

    N blocks, M non-zero AC coefficients (block-major, then zig-zag order).

    Attributes
    ----------
    dc_diff : ndarray, shape (N,), int64
        DC difference of each block (F.1.2.1: predictor = previous DC, 0
        for the first block).
    dc_size : ndarray, shape (N,), intp
        Its size category, the DC symbol (intp: it indexes tables).
    has_eob : ndarray, shape (N,), bool
        The block ends with EOB (coefficient 63 is zero).
    eob_count : int
        ``has_eob.sum()``.
    ac_value : ndarray, shape (M,), int64
        Each non-zero AC coefficient.
    ac_symbol : ndarray, shape (M,), intp
        Its symbol ``(run % 16) << 4 | size``; never 0x00 or 0xF0 (size is
        1..15).
    ac_block : ndarray, shape (M,), int64
        Its block (non-decreasing).
    zrl_at : ndarray, shape (K,), int64
        The coefficients (indices into the M) preceded by ZRL symbols, i.e.
        with a zero run of 16 or more (few: ZRLs are rare).
    zrl_n : ndarray, shape (K,), int64
        Their ZRL counts ``run // 16``, 1..3.
    zrl_count : int
        ``zrl_n.sum()``.
    first_ac : ndarray, shape (N + 1,), int64
        Index of block b's first non-zero AC coefficient (M at the end), so
        block b owns ``first_ac[b]:first_ac[b + 1]``.
    """

    dc_diff: np.ndarray
    dc_size: np.ndarray
    has_eob: np.ndarray
    eob_count: int
    ac_value: np.ndarray
    ac_symbol: np.ndarray
    ac_block: np.ndarray
    zrl_at: np.ndarray
    zrl_n: np.ndarray
    zrl_count: int
    first_ac: np.ndarray


def block_runs(zigzag: np.ndarray) -> BlockRuns:
    """DC differences and AC run/size symbols of one component's blocks.

    Parameters
    ----------
    zigzag : ndarray, shape (N, 64), integer (values within int16)
        Quantized coefficients in zig-zag order, blocks in scan order.  DC
        prediction runs over all of them (one component, no restarts).

    Returns
    -------
    BlockRuns

    Raises
    ------
    JpegError
        If an AC value or DC difference needs more than 15 magnitude bits
        (same messages as ``huffman.run_length_symbols``).
    """
    zz = np.asarray(zigzag)
    n = zz.shape[0]
    dc = zz[:, 0].astype(np.int64)
    dc_diff = dc.copy()
    dc_diff[1:] -= dc[:-1]  # |dc_diff| <= 65535: check before the lookup
    dc_abs = np.abs(dc_diff)
    if n and dc_abs.max() >= (1 << MAX_CATEGORY):
        raise JpegError("DC difference out of range (needs more than 15 bits)")
    # mode="wrap" only skips bounds checks: every index here is in range.
    dc_size = _CATEGORY_INTP.take(dc_abs, mode="wrap")
    nonzero = zz != 0
    nonzero[:, 0] = False
    flat = _flat_nonzero(nonzero)  # 64 * block + k, ascending
    ac_value = zz.reshape(-1).take(flat, mode="wrap").astype(np.int64)
    ac_size = _CATEGORY_INTP.take(np.abs(ac_value), mode="wrap")  # |value| <= 32768
    if len(flat) and ac_size.max() > MAX_CATEGORY:
        raise JpegError("AC coefficient out of range (needs more than 15 bits)")
    # Zero run before each non-zero (F.1.2.2.1): the distance to the
    # previous non-zero of its block, or to the DC at flat & ~63.
    run = np.empty_like(flat)
    run[1:] = flat[:-1]
    run[:1] = 0
    np.maximum(run, flat & ~(BLOCK_SIZE - 1), out=run)
    np.subtract(flat, run, out=run)
    run -= 1
    ac_symbol = (run & 15) << 4
    ac_symbol |= ac_size
    zrl_at = np.flatnonzero(run >= 16)
    zrl_n = run.take(zrl_at) >> 4
    ac_block = flat >> 6  # BLOCK_SIZE == 2**6
    first_ac = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(ac_block, minlength=n), out=first_ac[1:])
    has_eob = ~nonzero[:, LAST_AC]
    return BlockRuns(dc_diff, dc_size, has_eob, int(np.count_nonzero(has_eob)),
                     ac_value, ac_symbol, ac_block, zrl_at, zrl_n, int(zrl_n.sum()),
                     first_ac)


# Masks with at least this many flags are scanned in two levels.  Measured
# here (best of 100, building the mask included): the 1024x1024 benchmark
# plane 0.34 ms instead of 0.44 ms, but the 208x208 mosaic (43,264 flags)
# 33 us instead of 26 us -- hence the threshold.
TWO_LEVEL_MIN_FLAGS = 1 << 18


def _flat_nonzero(mask: np.ndarray) -> np.ndarray:
    """``np.flatnonzero(mask)`` of a C-contiguous bool array whose size is
    a multiple of 8, in two levels for large masks.

    ``flatnonzero`` costs about the same per flag whether set or not, and
    quantized coefficients are mostly zero: viewed as uint64, each word
    holds 8 flags (in memory order), so the words that hold any set flag
    are found first and only their flags scanned.
    """
    flags = mask.reshape(-1)
    if flags.size < TWO_LEVEL_MIN_FLAGS:
        return np.flatnonzero(flags)
    words = flags.view(np.uint64)
    hit = np.flatnonzero(words != 0)
    lane = np.flatnonzero(words.take(hit).view(np.bool_))  # 8 * j + flag
    return (hit.take(lane >> 3) << 3) | (lane & 7)


def run_frequencies(runs: BlockRuns):
    """DC and AC symbol counts (libjpeg's gather pass, ``htest_one_block``).

    Returns
    -------
    (dc_freq, ac_freq) : tuple of ndarray, each shape (256,), int64
        Equal to ``huffman.symbol_frequencies`` of the same blocks' symbols
        (component 0).
    """
    dc_freq = np.bincount(runs.dc_size, minlength=256).astype(np.int64)
    ac_freq = np.bincount(runs.ac_symbol, minlength=256).astype(np.int64)
    ac_freq[ZRL] += runs.zrl_count  # AC symbols are never 0xF0 or 0x00
    ac_freq[EOB] += runs.eob_count
    return dc_freq, ac_freq


def _item_slots(runs: BlockRuns):
    """Emission slot of every item: per block DC, (ZRL*, AC)*, EOB?.

    Returns (dc_slot (N,), ac_slot (M,), total T); int64 arrays.  The
    ``zrl_n`` slots just before a coefficient's slot are its ZRLs, and
    the slot just before the next block's DC (or T) is a block's EOB.
    """
    n, m = len(runs.dc_size), len(runs.ac_symbol)
    # Before block b: its predecessors' b DC items and eob_before[b] EOBs ...
    if runs.eob_count == n:  # the usual case: every block ends with EOB
        dc_slot = np.arange(0, 2 * n, 2)
        ac_slot = runs.ac_block << 1
    else:
        eob_before = np.cumsum(runs.has_eob, dtype=np.int64)
        eob_before -= runs.has_eob
        dc_slot = eob_before
        dc_slot += np.arange(n)
        ac_slot = np.take(dc_slot, runs.ac_block)
    # ... and their AC and ZRL items.  AC i of block b also follows DC(b),
    # the i earlier coefficients and the ZRLs up to its own.
    ac_slot += np.arange(1, m + 1)
    dc_slot += runs.first_ac[:-1]
    if runs.zrl_count:  # step functions over the few coefficients with ZRLs
        steps = np.zeros(len(runs.zrl_at) + 1, dtype=np.int64)
        np.cumsum(runs.zrl_n, out=steps[1:])
        # ZRLs of coefficients <= i, and of blocks < b.
        ac_slot += np.repeat(steps, _segment_lengths(runs.zrl_at, m))
        zrl_block = runs.ac_block.take(runs.zrl_at)
        dc_slot += np.repeat(steps, _segment_lengths(zrl_block + 1, n))
    return dc_slot, ac_slot, n + m + runs.zrl_count + runs.eob_count


def _segment_lengths(cuts: np.ndarray, end: int) -> np.ndarray:
    """Lengths of [0, c_0), [c_0, c_1), ..., [c_last, end) for
    non-decreasing cuts (``np.diff`` with prepend/append, without its
    overhead on these short arrays)."""
    bounds = np.empty(len(cuts) + 2, dtype=np.int64)
    bounds[0] = 0
    bounds[1:-1] = cuts
    bounds[-1] = end
    return bounds[1:] - bounds[:-1]


def _eob_slots(dc_slot: np.ndarray, has_eob: np.ndarray, total: int) -> np.ndarray:
    """Slot of each EOB: the one before the next block's DC (or the end)."""
    block_end = np.empty_like(dc_slot)
    block_end[:-1] = dc_slot[1:]
    block_end[-1:] = total
    return (block_end - 1)[has_eob]


def _zrl_slots(runs: BlockRuns, ac_slot: np.ndarray) -> np.ndarray:
    """Slots of all ZRL items: the ``zrl_n`` just before each ``zrl_at``."""
    count = runs.zrl_n
    owner = np.repeat(runs.zrl_at, count)
    back = np.repeat(np.cumsum(count), count) - np.arange(runs.zrl_count)  # n..1
    return ac_slot.take(owner) - back


NO_CODE = 64  # item length marking a symbol without a code (items have <= 31)


@functools.lru_cache(maxsize=64)
def _item_tables(table: HuffmanTable, is_dc: bool):
    """Per symbol: its code shifted left by its size, the item length
    (code length + size, or NO_CODE) and the size mask ``2**size - 1``.

    Returns three read-only int64 arrays of shape (256,).  The size is the
    symbol itself for DC, its low nibble for AC (T.81 F.1.2.1, F.1.2.2).
    """
    symbols = np.arange(256)
    size = symbols if is_dc else symbols & 15
    size = np.minimum(size, 31)  # DC symbols > 15 never have a code
    code_length = table.lengths.astype(np.int64)
    shifted = table.codes.astype(np.int64) << size
    length = np.where(code_length > 0, code_length + size, NO_CODE)
    mask = (np.int64(1) << size) - 1
    for a in (shifted, length, mask):
        a.setflags(write=False)
    return shifted, length, mask


def _put_items(value, length, slot, symbol, signed, tables) -> None:
    """Write the items of one class (DC or AC) into their slots.

    ``symbol``: intp; ``signed``: int64, the DC differences or AC values.
    ``value = code << size | magnitude bits``, the bits being ``signed`` for
    a positive value and ``signed - 1`` modulo ``2**size`` for a negative one
    (F.1.2.1): ``signed + 2**size - 1`` since ``|signed| < 2**size``.  (The
    takes use mode="wrap" only to skip bounds checks: symbols are < 256.)
    """
    shifted, item_length, mask = tables
    item = np.right_shift(signed, 63)  # -1 where negative
    item &= mask.take(symbol, mode="wrap")
    item += signed
    item += shifted.take(symbol, mode="wrap")
    value[slot] = item
    length[slot] = item_length.take(symbol, mode="wrap")


def coded_items(runs: BlockRuns, dc_table: HuffmanTable,
                ac_table: HuffmanTable):
    """Every item's Huffman code followed by its magnitude bits.

    Returns
    -------
    (value, length) : ndarray, shape (T,), uint64, in emission
        order; ``value = code << size | bits < 2**31``, ``length = code
        length + size <= 16 + 15``.  Equal to ``encode_segments``' items.

    Raises
    ------
    JpegError
        If a symbol has no code in its table (``assign_codes``' message).
    """
    dc_slot, ac_slot, total = _item_slots(runs)
    eob_length = int(ac_table.lengths[EOB]) or NO_CODE
    value = np.full(total, int(ac_table.codes[EOB]), dtype=np.int64)  # EOBs stay
    length = np.full(total, eob_length, dtype=np.int64)
    _put_items(value, length, dc_slot, runs.dc_size, runs.dc_diff,
               _item_tables(dc_table, True))
    _put_items(value, length, ac_slot, runs.ac_symbol, runs.ac_value,
               _item_tables(ac_table, False))
    if runs.zrl_count:
        zrl_slot = _zrl_slots(runs, ac_slot)
        value[zrl_slot] = ac_table.codes[ZRL]
        length[zrl_slot] = int(ac_table.lengths[ZRL]) or NO_CODE
    if total and length.max() == NO_CODE:
        raise _missing_code(runs, dc_table, ac_table, dc_slot, ac_slot, total)
    return value.view(np.uint64), length.view(np.uint64)


def _missing_code(runs: BlockRuns, dc_table: HuffmanTable, ac_table: HuffmanTable,
                  dc_slot, ac_slot, total) -> JpegError:
    """The error ``huffman.assign_codes`` raises: the first codeless item."""
    bad = []  # (slot, kind, symbol)
    for kind, symbol, slot, table in (
            ("DC", runs.dc_size, dc_slot, dc_table),
            ("AC", runs.ac_symbol, ac_slot, ac_table)):
        missing = np.flatnonzero(table.lengths[symbol] == 0)
        if len(missing):
            bad.append((int(slot[missing[0]]), kind, int(symbol[missing[0]])))
    eob_slot = _eob_slots(dc_slot, runs.has_eob, total)
    if len(eob_slot) and ac_table.lengths[EOB] == 0:
        bad.append((int(eob_slot[0]), "AC", EOB))
    if runs.zrl_count and ac_table.lengths[ZRL] == 0:
        bad.append((int(_zrl_slots(runs, ac_slot)[0]), "AC", ZRL))
    _, kind, symbol = min(bad)
    return JpegError(f"no Huffman code for {kind} symbol 0x{symbol:02X} in the table")


def encode_block_runs(runs: BlockRuns, dc_table: HuffmanTable,
                      ac_table: HuffmanTable) -> bytes:
    """Entropy-coded data of the scan: packed, padded, 0xFF-stuffed.

    Equal to ``huffman.encode_segments(symbols, *assign_codes(symbols,
    [dc_table], [ac_table]), 1, 0)`` for the symbols of the same blocks.

    Raises
    ------
    JpegError
        If a symbol has no code in its table (``assign_codes``' message).
    """
    value, length = coded_items(runs, dc_table, ac_table)
    return pack_ordered(value, length).replace(b"\xff", b"\xff\x00")


def pack_ordered(value: np.ndarray, length: np.ndarray) -> bytes:
    """Concatenate bit strings MSB first and pad with 1-bits to a byte.

    Parameters
    ----------
    value : ndarray, shape (T,), uint64, ``value < 2**length``
    length : ndarray, shape (T,), uint64, each 0..31

    Returns
    -------
    bytes, ``ceil(sum(length) / 8)`` of them
        Equal to ``huffman.pack_bits(value, length)[0]`` (one segment).

    Notes
    -----
    Item i occupies bits ``[s_i, e_i)`` of the stream, ``e_i`` the prefix
    sum of the lengths.  Shifted left by ``64 - s_i % 32 - length = (s_i &
    ~31) + 64 - e_i`` (2..64, as ``s_i % 32 + length <= 62``) it sits in
    the 64-bit window of the two 32-bit words from its own word ``s_i >>
    5``.  Items starting in the same word occupy disjoint bits of that
    window, so OR-ing them (``bitwise_or.reduceat``) loses nothing.  Item i
    opens a word iff it is the first or its predecessor reached the next
    word, i.e. the predecessor's shift is <= 32.  Consecutive starts differ
    by at most 31 bits, so every word up to the last start's word is
    opened.  Each output word is the high half of its own window OR the
    low half of the previous word's.
    """
    n = len(length)
    end = np.cumsum(length, dtype=np.uint64)
    total_bits = int(end[-1]) if n else 0
    if not total_bits:
        return b""
    shift = end - length  # s_i, then (s_i & ~31) + 64 - e_i, in place
    shift &= _WORD_START
    shift += np.uint64(2 * WORD_BITS)
    shift -= end
    opens = np.empty(n, dtype=bool)
    opens[0] = True
    np.less_equal(shift[:-1], WORD_BITS, out=opens[1:])
    placed = np.left_shift(value, shift, out=shift)
    window = np.bitwise_or.reduceat(placed, np.flatnonzero(opens))
    words = np.zeros(len(window) + 1, dtype=np.uint64)
    np.right_shift(window, np.uint64(WORD_BITS), out=words[:-1])
    window &= np.uint64(0xFFFFFFFF)
    words[1:] |= window
    pad = -total_bits % 8  # F.1.2.3: fill the last byte with 1-bits
    words[total_bits >> 5] |= ((1 << pad) - 1) << (WORD_BITS - (total_bits & 31) - pad)
    return words.astype(">u4").tobytes()[:(total_bits + 7) >> 3]
