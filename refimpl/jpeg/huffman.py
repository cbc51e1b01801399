"""Huffman entropy coding of 8x8 coefficient blocks (T.81 Annex C, F.1.2, F.2.2).

Encoder pipeline (all vectorised, no Python loop per coefficient)
-----------------------------------------------------------------
1. :func:`run_length_symbols`: DC differences (F.1.2.1) and the run/size
   symbols of the AC coefficients (F.1.2.2), with ZRL (0xF0) for runs of 16
   zeros and EOB (0x00), in emission order.
2. :func:`assign_codes`: look up each symbol's Huffman code (Annex C).
3. :func:`pack_bits`: concatenate codes and appended magnitude bits, MSB
   first (F.1.2.3), padding each entropy-coded segment with 1-bits to a byte
   boundary (F.1.2.3, libjpeg ``flush_bits``).
4. :func:`stuff_bytes`: insert 0x00 after every 0xFF (F.1.2.3); restart
   markers RSTm (m = 0..7 cycling) go between segments (F.1.1.5).

``encode`` of a greyscale image without restart markers and
``encode_entropy`` take :mod:`blockscan` instead, which writes the same
bytes without these per-symbol records (tests/test_jpeg_blockscan.py
checks it against this path).

Huffman tables come either from a DHT specification (:class:`HuffmanTable`)
or from symbol counts with libjpeg's ``jpeg_gen_optimal_table``
(:func:`optimal_table`, T.81 K.2).

Decoder
-------
:func:`decode_scan` evaluates, vectorised over every bit position of the
scan, what a DC or AC decode starting there would consume (16-bit window
lookup, T.81 F.2.2.3 in table form) and then follows the chain of positions
in a tight Python loop that indexes memoryviews of those arrays (plain
Python ints, no per-element NumPy scalars); the coefficient values are then
extracted vectorised at the visited positions.

Bit-width notes: a Huffman code has at most 16 bits and the appended
magnitude at most 15 bits (size categories 0..15), so one code plus its
magnitude bits fits in 31 bits; placing it at any bit offset inside a 32-bit
word needs at most 31 + 31 = 62 bits of a uint64.
"""

from __future__ import annotations

import array
import functools
import heapq
from typing import NamedTuple, Sequence

import numpy as np

from . import lanes
from .errors import JpegError
from .tables import BLOCK_SIZE, HuffmanSpec

__all__ = [
    "HuffmanTable",
    "cached_table",
    "optimal_table",
    "magnitude_category",
    "Symbols",
    "run_length_symbols",
    "symbol_frequencies",
    "assign_codes",
    "pack_bits",
    "stuff_bytes",
    "unstuff_bytes",
    "encode_segments",
    "ScanRecords",
    "decode_scan",
    "decode_scan_chunks",
]

MAX_CODE_LENGTH = 16  # T.81 C.2: Huffman codes are 1..16 bits
MAX_CATEGORY = 15  # largest size category a symbol's low nibble can hold
MAX_DC_SYMBOL = 15  # jdhuff.c/jchuff.c: DC symbols 0..15 in lossy mode
ZRL = 0xF0  # T.81 F.1.2.2.1: run of 16 zeros
EOB = 0x00  # T.81 F.1.2.2.1: end of block
LOOKUP_BITS = 16  # decoder window: every code fits in 16 bits
LAST_AC = BLOCK_SIZE - 1  # zig-zag index 63
BAD_CODE_STEP = BLOCK_SIZE  # "k" increment that ends a block (EOB, bad code)
SINK_PAD = 32  # a symbol advances at most 16 + 15 = 31 bits past its start


class HuffmanTable:
    """A Huffman table with its encoding and decoding look-up arrays.

    Parameters
    ----------
    spec : HuffmanSpec
        BITS (16 counts) and HUFFVAL (symbols) as in a DHT segment.
    is_dc : bool
        DC tables may only hold symbols 0..15 (as libjpeg requires).

    Attributes
    ----------
    spec : HuffmanSpec
    is_dc : bool
    codes : ndarray, shape (256,), dtype uint32
        Code of each symbol (EHUFCO of T.81 C.3); 0 where absent.
    lengths : ndarray, shape (256,), dtype uint8
        Code length of each symbol (EHUFSI); 0 means "no code".
    lookup_length : ndarray, shape (65536,), dtype uint8
        (This and the next three decoding tables are built on first access.)
        For a 16-bit window starting with a code, that code's length;
        0 where the window starts with no valid code.
    lookup_symbol : ndarray, shape (65536,), dtype uint8
        The symbol decoded from the window (0 where invalid).
    advance : ndarray, shape (65536,), dtype int8
        Bits consumed by the window's symbol plus its magnitude bits
        (``length + size``, size = the DC symbol or the AC symbol's low
        nibble); 1 for an invalid window, so that a decoder walking a corrupt
        stream always moves forward.
    kstep : ndarray, shape (65536,), dtype int8
        AC decoding: zig-zag index increment of the window's symbol:
        ``run + 1`` for a coefficient, 16 for ZRL, 64 (ends the block) for
        EOB, for any other symbol of size 0 (libjpeg treats those as EOB)
        and for invalid windows.

    Raises
    ------
    JpegError
        For counts that overrun 256 symbols or do not form a prefix code
        with a spare all-ones code (libjpeg's JERR_BAD_HUFF_TABLE), for a
        symbol list of the wrong length, out-of-range or repeated symbols.

    Notes
    -----
    Canonical codes (T.81 C.2) enumerated in order cover consecutive
    16-bit window ranges starting at 0: each code of length L owns
    ``2**(16 - L)`` windows right after those of the previous code.  So the
    decoding tables are per-code values repeated by those counts; the
    windows after the last code (the reserved all-ones region) are invalid.
    """

    def __init__(self, spec: HuffmanSpec, is_dc: bool):
        bits = [int(b) for b in spec.bits]
        values = [int(v) for v in spec.values]
        kind = "DC" if is_dc else "AC"
        if len(bits) != MAX_CODE_LENGTH or min(bits) < 0 or sum(bits) > 256:
            raise JpegError(f"bad {kind} Huffman table: invalid BITS counts")
        if len(values) != sum(bits):
            raise JpegError(f"bad {kind} Huffman table: {len(values)} symbols "
                            f"for {sum(bits)} codes")
        limit = MAX_DC_SYMBOL if is_dc else 255
        if any(v < 0 or v > limit for v in values) or len(set(values)) != len(values):
            raise JpegError(f"bad {kind} Huffman table: symbols out of range "
                            "or repeated")
        self.spec = HuffmanSpec(tuple(bits), tuple(values))
        self.is_dc = is_dc
        sizes, codes = _canonical_codes(bits, kind)
        self.codes = np.zeros(256, dtype=np.uint32)
        self.lengths = np.zeros(256, dtype=np.uint8)
        self.codes[values] = codes
        self.lengths[values] = sizes
        for table in (self.codes, self.lengths):
            table.setflags(write=False)
        sizes.setflags(write=False)
        self._code_sizes = sizes  # HUFFVAL order, for the decoding tables

    # Decoding tables: per-code values repeated over the code's windows.
    # Built on first use (each is 64 KiB and the encoder, e.g. with optimal
    # tables made per image, never reads them); read-only like the rest.

    def _decode_table(self, per_code: np.ndarray, invalid: int, dtype) -> np.ndarray:
        spread = np.int64(1) << (LOOKUP_BITS - self._code_sizes.astype(np.int64))
        table = _spread(per_code, spread, invalid, dtype)
        table.setflags(write=False)
        return table

    @property
    def _symbols(self) -> np.ndarray:
        return np.asarray(self.spec.values, dtype=np.int32)

    @property
    def _categories(self) -> np.ndarray:
        return self._symbols if self.is_dc else self._symbols & 0x0F

    @functools.cached_property
    def lookup_length(self) -> np.ndarray:
        return self._decode_table(self._code_sizes, 0, np.uint8)

    @functools.cached_property
    def lookup_symbol(self) -> np.ndarray:
        return self._decode_table(self._symbols, 0, np.uint8)

    @functools.cached_property
    def advance(self) -> np.ndarray:
        return self._decode_table(self._code_sizes + self._categories, 1,
                                  np.int8)  # <= 31

    @functools.cached_property
    def kstep(self) -> np.ndarray:
        symbols = self._symbols
        step = np.where(self._categories > 0, (symbols >> 4) + 1, BAD_CODE_STEP)
        step[symbols == ZRL] = 16
        if self.is_dc:
            step[:] = BAD_CODE_STEP
        return self._decode_table(step, BAD_CODE_STEP, np.int8)

    def __eq__(self, other):
        return (isinstance(other, HuffmanTable) and self.spec == other.spec
                and self.is_dc == other.is_dc)

    def __hash__(self):
        return hash((self.spec, self.is_dc))

    def __repr__(self):
        kind = "DC" if self.is_dc else "AC"
        return f"HuffmanTable({kind}, {len(self.spec.values)} symbols)"


def _spread(per_code: np.ndarray, spread: np.ndarray, invalid: int,
            dtype) -> np.ndarray:
    """65536-entry window table: ``per_code[i]`` over code i's windows."""
    table = np.full(1 << LOOKUP_BITS, invalid, dtype=dtype)
    covered = int(spread.sum())
    table[:covered] = np.repeat(np.asarray(per_code).astype(dtype), spread)
    return table


@functools.lru_cache(maxsize=32)
def cached_table(spec: HuffmanSpec, is_dc: bool) -> HuffmanTable:
    """:class:`HuffmanTable` for a specification, memoised (tables are
    immutable; the standard ones recur in nearly every file)."""
    return HuffmanTable(spec, is_dc)


def _canonical_codes(bits: Sequence[int], kind: str):
    """Code sizes and codes in HUFFVAL order (T.81 Figures C.1 and C.2)."""
    sizes = np.repeat(np.arange(1, MAX_CODE_LENGTH + 1), bits)
    codes = np.empty(len(sizes), dtype=np.uint32)
    code, p = 0, 0
    for length, count in enumerate(bits, start=1):
        codes[p:p + count] = np.arange(code, code + count, dtype=np.uint32)
        code += count
        p += count
        # libjpeg (jpeg_make_[cd]_derived_tbl): the next code must still fit
        # in `length` bits, so that no code is all ones.
        if count and code >= (1 << length):
            raise JpegError(f"bad {kind} Huffman table: code lengths "
                            "over-subscribe the code space")
        code <<= 1  # next length: append a 0 bit
    return sizes.astype(np.uint8), codes


def optimal_table(freq: np.ndarray, is_dc: bool) -> HuffmanTable:
    """Optimal Huffman table for symbol counts, as libjpeg builds it.

    Follows ``jpeg_gen_optimal_table`` (jchuff.c), which implements T.81 K.2:
    a pseudo-symbol 256 with count 1 reserves the all-ones code; Huffman's
    merge takes the two smallest counts, on ties the higher-numbered
    symbols; lengths over 16 are folded back as in Figure K.3; symbols are
    listed by code length, then by symbol value.

    Parameters
    ----------
    freq : ndarray, shape (256,), integer
        Number of times each symbol occurs (non-negative).
    is_dc : bool

    Returns
    -------
    HuffmanTable
    """
    freq = [int(f) for f in np.asarray(freq).reshape(256).tolist()] + [1]  # + symbol 256
    symbols = [i for i, f in enumerate(freq) if f]
    codesize = _code_sizes([freq[i] for i in symbols])
    bits = _limit_code_lengths(codesize)
    n = len(symbols)
    order = sorted(range(n - 1), key=lambda i: (codesize[i], symbols[i]))
    values = tuple(symbols[i] for i in order)  # symbol 256 (last) dropped
    return HuffmanTable(HuffmanSpec(tuple(bits[1:MAX_CODE_LENGTH + 1]), values),
                        is_dc)


def _lengthen_branches(codesize: list, others: list, c1: int, c2: int) -> None:
    """Merge tree c2 into c1: every code in both gets one bit longer."""
    for start in (c1, c2):
        node = start
        codesize[node] += 1
        while others[node] >= 0:
            node = others[node]
            codesize[node] += 1
        if start == c1:
            others[node] = c2  # chain c2's branch onto c1's


def _code_sizes(counts: Sequence[int]) -> list[int]:
    """Huffman code length of each of the (non-zero) ``counts``, as
    ``jpeg_gen_optimal_table`` merges them; a heap instead of its scans.

    libjpeg's step takes c1 = the active node of least count, on ties the
    largest index (its "<=" scan), then c2 by the same rule among the
    others, and gives c1 the sum.  That is the order of the key (count,
    -index), so a heap of those keys pops exactly c1 then c2, and pushing
    (sum, -c1) keeps c1's index.  :func:`_code_sizes_by_scan` is the
    direct transcription; tests check that both agree.
    """
    n = len(counts)
    codesize, others = [0] * n, [-1] * n  # others: next node in the branch
    heap = [(count, -i) for i, count in enumerate(counts)]
    heapq.heapify(heap)
    while len(heap) > 1:
        v1, key1 = heapq.heappop(heap)
        v2, key2 = heapq.heappop(heap)
        heapq.heappush(heap, (v1 + v2, key1))
        _lengthen_branches(codesize, others, -key1, -key2)
    return codesize


def _code_sizes_by_scan(counts: Sequence[int]) -> list[int]:
    """:func:`_code_sizes` as jchuff.c writes it: linear scans for the two
    least counts (the oracle of the heap version)."""
    counts = list(counts)
    n = len(counts)
    merged = float("inf")  # libjpeg uses 1000000001 for "already merged"
    codesize, others = [0] * n, [-1] * n
    while True:
        # Two smallest counts; ties go to the larger index, as in libjpeg's
        # "<=" scan over the grouped non-zero symbols.
        v1 = min(counts)
        c1 = n - 1 - counts[::-1].index(v1)
        counts[c1] = merged
        v2 = min(counts)
        if v2 == merged:
            break
        c2 = n - 1 - counts[::-1].index(v2)
        counts[c1] = v1 + v2
        counts[c2] = merged
        _lengthen_branches(codesize, others, c1, c2)
    return codesize


def _limit_code_lengths(codesize: Sequence[int]) -> list[int]:
    """BITS after T.81 Figure K.3 (Adjust_BITS) and removing symbol 256."""
    max_len = max(32, max(codesize))
    bits = [0] * (max_len + 2)
    for size in codesize:
        bits[size] += 1
    for i in range(max_len, MAX_CODE_LENGTH, -1):
        while bits[i] > 0:
            j = i - 2  # find the longest shorter length still in use
            while bits[j] == 0:
                j -= 1
            bits[i] -= 2  # two symbols leave length i ...
            bits[i - 1] += 1  # ... one moves up to i - 1 ...
            bits[j + 1] += 2  # ... and a length-j code becomes a prefix of 2
            bits[j] -= 1
    i = MAX_CODE_LENGTH
    while bits[i] == 0:  # remove the pseudo-symbol from the longest length
        i -= 1
    bits[i] -= 1
    return bits


# Size category (T.81 Tables F.1 and F.2) of every magnitude 0..32768.
_CATEGORY = np.zeros(32769, dtype=np.uint8)
for _c in range(1, 17):
    _CATEGORY[1 << (_c - 1):min(1 << _c, 32769)] = _c
_CATEGORY.setflags(write=False)


def magnitude_category(values: np.ndarray) -> np.ndarray:
    """Size category SSSS of T.81 Tables F.1/F.2: bits in ``|value|``.

    Parameters
    ----------
    values : ndarray, integer, |values| <= 32768

    Returns
    -------
    ndarray, same shape, dtype uint8 (0 for value 0)
    """
    return _CATEGORY[np.abs(np.asarray(values, dtype=np.int64))]


def _magnitude_bits(values: np.ndarray, size: np.ndarray) -> np.ndarray:
    """Appended bits (F.1.2.1): value if positive, else value - 1, in size bits.

    ``values``: int32 array; ``size``: its categories.  Returns uint32.
    """
    v = values + (values >> 31)  # v - 1 for negative v (arithmetic shift)
    return (v & ((1 << size.astype(np.int32)) - 1)).astype(np.uint32)


class Symbols(NamedTuple):
    """Entropy-coding symbols of a sequence of blocks, in emission order.

    Attributes (all shape (T,))
    ---------------------------
    block : ndarray, int64
        Index of the block (in scan order) the symbol belongs to.
    component : ndarray, int64
        Position of that block's component in the scan (0..comps-1).
    is_dc : ndarray, bool
        True for the DC difference symbol of a block.
    symbol : ndarray, uint8
        DC: size category of the difference; AC: ``run << 4 | size``,
        0xF0 = ZRL, 0x00 = EOB.
    extra : ndarray, uint32
        The appended magnitude bits (0 for ZRL/EOB).
    extra_length : ndarray, uint8
        Number of appended bits (the size category).
    """

    block: np.ndarray
    component: np.ndarray
    is_dc: np.ndarray
    symbol: np.ndarray
    extra: np.ndarray
    extra_length: np.ndarray


def _dc_predictions(dc: np.ndarray, block_component: np.ndarray,
                    blocks_per_mcu: int, restart_interval: int) -> np.ndarray:
    """Predictor of each block's DC: the previous DC of the same component.

    Reset to 0 at the start of the scan and of every restart interval
    (T.81 F.1.1.5.1 / F.1.2.1.1).  ``block_component`` must repeat with
    period ``blocks_per_mcu``, each component's blocks being consecutive.
    """
    n = len(dc)
    if blocks_per_mcu == 1 and not restart_interval:  # one component, no RST
        pred = np.empty_like(dc)
        pred[1:] = dc[:-1]
        pred[:1] = 0
        return pred
    pattern = block_component[:blocks_per_mcu]
    pos = np.arange(n) % blocks_per_mcu
    mcu = np.arange(n) // blocks_per_mcu
    first = np.ones(blocks_per_mcu, dtype=bool)
    first[1:] = pattern[1:] != pattern[:-1]  # first block of its component
    count = np.bincount(pattern, minlength=pattern.max() + 1)[pattern]
    back = np.where(first, blocks_per_mcu - count + 1, 1)[pos]
    starts_interval = mcu == 0
    if restart_interval:
        starts_interval = mcu % restart_interval == 0
    reset = first[pos] & starts_interval
    prev = np.where(reset, 0, np.arange(n) - back)
    return np.where(reset, 0, dc[np.maximum(prev, 0)])


def run_length_symbols(zigzag: np.ndarray, block_component: np.ndarray | None = None,
                       blocks_per_mcu: int = 1,
                       restart_interval: int = 0) -> Symbols:
    """DC-difference and AC run/size symbols of blocks, in emission order.

    Parameters
    ----------
    zigzag : ndarray, shape (N, 64), integer (values within int16)
        Quantized coefficients in zig-zag order, blocks in scan order
        (MCU by MCU; inside an MCU the blocks of each component together).
    block_component : ndarray, shape (N,), integer, optional
        Scan component of each block; default all 0.
    blocks_per_mcu : int
        Blocks in one MCU (the pattern of ``block_component``'s period).
    restart_interval : int
        MCUs per restart interval (0 = none); DC prediction restarts.

    Returns
    -------
    Symbols

    Raises
    ------
    JpegError
        If an AC value or DC difference needs more than 15 magnitude bits.
    """
    zz = np.asarray(zigzag)
    n = zz.shape[0]
    if block_component is None:
        block_component = np.zeros(n, dtype=np.int64)
    block_component = np.asarray(block_component, dtype=np.int64)
    block_ids = np.arange(n)
    # DC differences (F.1.2.1).
    dc = zz[:, 0].astype(np.int32)
    dc_diff = dc - _dc_predictions(dc, block_component, blocks_per_mcu,
                                   restart_interval)
    if n and np.abs(dc_diff).max() >= (1 << MAX_CATEGORY):
        raise JpegError("DC difference out of range (needs more than 15 bits)")
    # np.take: fancy indexing with int32 indices is several times slower.
    dc_size = np.take(_CATEGORY, np.abs(dc_diff))
    # Non-zero AC coefficients, block-major then zig-zag order:
    # flat = 64 * block + k.
    nonzero = zz != 0
    nonzero[:, 0] = False
    flat = np.flatnonzero(nonzero)
    nz_block = flat >> 6  # BLOCK_SIZE == 2**6
    nz_value = np.take(zz.reshape(-1), flat).astype(np.int32)
    nz_abs = np.abs(nz_value)
    if len(flat) and nz_abs.max() >= (1 << MAX_CATEGORY):
        raise JpegError("AC coefficient out of range (needs more than 15 bits)")
    nz_size = np.take(_CATEGORY, nz_abs)
    # Zero run before each non-zero coefficient (F.1.2.2.1): the distance to
    # the previous non-zero of the block, or to the DC (flat & ~63).
    previous = np.empty_like(flat)
    previous[1:] = flat[:-1]
    previous[:1] = 0
    run = flat - np.maximum(previous, flat & ~(BLOCK_SIZE - 1)) - 1
    n_zrl = run >> 4  # each full run of 16 zeros is one ZRL symbol
    ac_symbol = (((run & 15) << 4) | nz_size).astype(np.uint8)
    # EOB unless coefficient 63 is non-zero.
    has_eob = zz[:, LAST_AC] == 0
    # Item slots: per block DC, then (ZRL*, AC) per non-zero, then EOB.
    # Before an AC item: the DC items of blocks <= b, the EOBs of blocks < b,
    # and the ZRL/AC items of all earlier non-zeros and its own ZRLs.
    has_zrl = bool(n_zrl.any())
    weight = n_zrl + 1  # items per non-zero coefficient
    cum_weight = np.cumsum(weight)
    eob_before = np.cumsum(has_eob) - has_eob
    ac_slot = nz_block + eob_before[nz_block] + cum_weight
    per_block = np.bincount(nz_block, weights=weight if has_zrl else None,
                            minlength=n).astype(np.int64)
    dc_slot = block_ids + (np.cumsum(per_block) - per_block) + eob_before
    total = n + int(cum_weight[-1] if len(flat) else 0) + int(has_eob.sum())
    symbol = np.full(total, EOB, dtype=np.uint8)  # DC, AC, ZRL overwrite
    extra = np.zeros(total, dtype=np.uint32)
    extra_length = np.zeros(total, dtype=np.uint8)
    is_dc = np.zeros(total, dtype=bool)
    symbol[dc_slot] = dc_size
    extra[dc_slot] = _magnitude_bits(dc_diff, dc_size)
    extra_length[dc_slot] = dc_size
    is_dc[dc_slot] = True
    symbol[ac_slot] = ac_symbol
    extra[ac_slot] = _magnitude_bits(nz_value, nz_size)
    extra_length[ac_slot] = nz_size
    if has_zrl:  # ZRL items just before their coefficient
        owner = np.repeat(np.arange(len(flat)), n_zrl)
        nth = np.arange(len(owner)) - np.repeat(np.cumsum(n_zrl) - n_zrl, n_zrl)
        symbol[ac_slot[owner] - n_zrl[owner] + nth] = ZRL
    # Items are in block order and each block starts with its DC item.
    block = np.cumsum(is_dc) - 1
    if blocks_per_mcu == 1 and n:  # one component: skip the gather
        component = np.full(total, block_component[0], dtype=np.int64)
    else:
        component = block_component[block]
    return Symbols(block, component, is_dc, symbol, extra, extra_length)


def symbol_frequencies(symbols: Symbols, n_components: int):
    """Count DC and AC symbols per scan component (libjpeg's gather pass).

    Parameters
    ----------
    symbols : Symbols
    n_components : int

    Returns
    -------
    (dc_freq, ac_freq) : tuple of ndarray, each shape (n_components, 256),
        dtype int64
    """
    key = symbols.component * 256 + symbols.symbol.astype(np.int64)
    size = n_components * 256
    dc = np.bincount(key[symbols.is_dc], minlength=size)
    ac = np.bincount(key[~symbols.is_dc], minlength=size)
    return dc.reshape(n_components, 256), ac.reshape(n_components, 256)


def assign_codes(symbols: Symbols, dc_tables: Sequence[HuffmanTable],
                 ac_tables: Sequence[HuffmanTable]):
    """Huffman code and code length of every symbol (T.81 C.3 EHUFCO/EHUFSI).

    Parameters
    ----------
    symbols : Symbols
    dc_tables, ac_tables : sequence of HuffmanTable
        Table of each scan component (index = ``symbols.component``).

    Returns
    -------
    (code, code_length) : tuple of ndarray, each shape (T,);
        dtype uint32 and uint8.

    Raises
    ------
    JpegError
        If a symbol has no code in its table (libjpeg: JERR_HUFF_MISSING_CODE).
    """
    comps = len(dc_tables)
    codes = np.concatenate([t.codes for t in dc_tables]
                           + [t.codes for t in ac_tables])
    lengths = np.concatenate([t.lengths for t in dc_tables]
                             + [t.lengths for t in ac_tables])
    if comps == 1:
        index = np.where(symbols.is_dc, 0, 256) + symbols.symbol
    else:
        table = np.where(symbols.is_dc, symbols.component,
                         comps + symbols.component)
        index = table * 256 + symbols.symbol
    code = codes[index]
    code_length = lengths[index]
    if len(code_length) and not code_length.all():
        bad = int(np.argmin(code_length))
        kind = "DC" if symbols.is_dc[bad] else "AC"
        raise JpegError(f"no Huffman code for {kind} symbol "
                        f"0x{int(symbols.symbol[bad]):02X} in the table")
    return code, code_length


def pack_bits(values: np.ndarray, lengths: np.ndarray,
              segment_starts: Sequence[int] = (0,)):
    """Concatenate variable-length bit strings, MSB first, in segments.

    Parameters
    ----------
    values : ndarray, shape (T,), unsigned integer
        Each item's bits, right-aligned (``value < 2**length``).
    lengths : ndarray, shape (T,), integer, each 1..31
    segment_starts : sequence of int
        Item index at which each entropy-coded segment starts (first 0).
        Every segment is padded with 1-bits to a whole byte (T.81 F.1.2.3).

    Returns
    -------
    (data, segment_ends) : tuple
        ``data``: ndarray, shape (B,), dtype uint8, the unstuffed bytes of
        all segments; ``segment_ends``: ndarray, shape (S,), int64, the byte
        offset just past each segment.
    """
    values = np.asarray(values, dtype=np.uint64)
    lengths = np.asarray(lengths, dtype=np.int64)
    starts = np.asarray(segment_starts, dtype=np.int64)
    n = len(values)
    bounds = np.append(starts, n)
    cum_end = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=cum_end[1:])
    cum = cum_end[:-1]  # bit offset of each item, ignoring padding
    seg_bits = cum_end[bounds[1:]] - cum_end[bounds[:-1]]
    seg_bytes = (seg_bits + 7) >> 3  # whole bytes per padded segment
    seg_end_byte = np.cumsum(seg_bytes)
    seg_start_bit = (seg_end_byte - seg_bytes) << 3
    if len(starts) == 1:
        pos = cum
    else:  # shift each segment to its byte-aligned start
        seg_of_item = np.repeat(np.arange(len(starts)), np.diff(bounds))
        pos = cum + (seg_start_bit - cum_end[bounds[:-1]])[seg_of_item]
    # 1-bit padding items at the end of each segment.
    pad = (seg_bytes << 3) - seg_bits
    has_pad = pad > 0
    pad_pos = (seg_start_bit + seg_bits)[has_pad]
    pad_len = pad[has_pad]
    pos = np.concatenate([pos, pad_pos])
    lengths = np.concatenate([lengths, pad_len])
    values = np.concatenate([values, (np.uint64(1) << pad_len.astype(np.uint64))
                             - np.uint64(1)])
    total_bytes = int(seg_end_byte[-1]) if len(seg_end_byte) else 0
    return _scatter_bits(pos, values, lengths, total_bytes), seg_end_byte


def _scatter_bits(pos, values, lengths, total_bytes):
    """OR bit strings into a big-endian byte array at the given bit offsets.

    Each item is shifted into the 64-bit window of the two 32-bit words
    starting at word ``pos >> 5``; the halves are summed per word.  The
    items' bits are disjoint, so sums equal ORs, and each word's sum is below
    2**32: float64 ``bincount`` accumulates them exactly.
    """
    n_words = (total_bytes + 3) // 4 + 1
    word = pos >> 5
    shift = (64 - (pos & 31) - lengths).astype(np.uint64)
    placed = values << shift
    hi = (placed >> np.uint64(32)).astype(np.float64)
    lo = (placed & np.uint64(0xFFFFFFFF)).astype(np.float64)
    acc = np.bincount(word, weights=hi, minlength=n_words)[:n_words]
    acc[1:] += np.bincount(word + 1, weights=lo, minlength=n_words)[1:n_words]
    words = acc.astype(np.uint32).astype(">u4")
    return np.frombuffer(words.tobytes(), dtype=np.uint8)[:total_bytes]


def stuff_bytes(data: np.ndarray) -> np.ndarray:
    """Insert a 0x00 after every 0xFF byte (T.81 F.1.2.3).

    Parameters
    ----------
    data : ndarray, shape (B,), dtype uint8

    Returns
    -------
    ndarray, shape (B + number of 0xFF bytes,), dtype uint8
    """
    data = np.asarray(data, dtype=np.uint8)
    ff = np.flatnonzero(data == 0xFF)
    return np.insert(data, ff + 1, 0)


def unstuff_bytes(data: np.ndarray) -> np.ndarray:
    """Remove the 0x00 following each 0xFF (inverse of :func:`stuff_bytes`).

    Parameters
    ----------
    data : ndarray, shape (B,), dtype uint8, with no markers inside

    Returns
    -------
    ndarray, dtype uint8
    """
    data = np.asarray(data, dtype=np.uint8)
    ff = np.flatnonzero(data[:-1] == 0xFF)
    drop = ff[data[ff + 1] == 0] + 1
    return np.delete(data, drop)


def encode_segments(symbols: Symbols, code: np.ndarray, code_length: np.ndarray,
                    blocks_per_mcu: int, restart_interval: int) -> bytes:
    """Entropy-coded data of a scan: packed, stuffed, with RST markers.

    Parameters
    ----------
    symbols : Symbols
    code, code_length : ndarray, shape (T,)
        From :func:`assign_codes`.
    blocks_per_mcu : int
    restart_interval : int
        MCUs per restart interval, 0 for none.

    Returns
    -------
    bytes
        Everything between the SOS segment and the EOI marker.
    """
    value = (code.astype(np.uint64) << symbols.extra_length.astype(np.uint64)) \
        | symbols.extra.astype(np.uint64)
    length = code_length.astype(np.int64) + symbols.extra_length
    starts = [0]
    if restart_interval and len(symbols.block):
        mcu = symbols.block // blocks_per_mcu
        first_dc = np.flatnonzero(symbols.is_dc & (symbols.block % blocks_per_mcu == 0)
                                  & (mcu % restart_interval == 0) & (mcu > 0))
        starts = [0] + first_dc.tolist()
    data, seg_ends = pack_bits(value, length, starts)
    stuffed = stuff_bytes(data)
    if len(seg_ends) > 1:
        ends = seg_ends[:-1]
        ff_before = np.cumsum(data == 0xFF)[ends - 1]
        where = np.repeat(ends + ff_before, 2)
        markers = np.empty(2 * len(ends), dtype=np.uint8)
        markers[0::2] = 0xFF
        markers[1::2] = 0xD0 + (np.arange(len(ends)) & 7)  # RST0..RST7 cycle
        stuffed = np.insert(stuffed, where, markers)
    return stuffed.tobytes()


class ScanRecords(NamedTuple):
    """Decoded content of a scan's entropy-coded data.

    Attributes
    ----------
    dc_diff : ndarray, shape (N,), int32
        DC difference of every block, in scan order.
    ac_block : ndarray, shape (M,), int32
        Block index of every decoded non-zero AC coefficient.
    ac_k : ndarray, shape (M,), uint8
        Its zig-zag index (1..63).
    ac_value : ndarray, shape (M,), int16
        Its value (at most 15 magnitude bits).
    """

    dc_diff: np.ndarray
    ac_block: np.ndarray
    ac_k: np.ndarray
    ac_value: np.ndarray


def _windows16(data: np.ndarray) -> np.ndarray:
    """The 16 bits starting at every bit position of ``data`` (0-padded).

    Returns ndarray, shape (8 * len(data),), dtype uint16: entry 8i + s is
    ``(u24[i] >> (8 - s)) & 0xFFFF`` with u24 the three bytes from byte i
    (the cast to uint16 keeps exactly the low 16 bits).
    """
    b = np.concatenate([data, np.zeros(2, dtype=np.uint8)]).astype(np.int32)
    u24 = (b[:-2] << 16) | (b[1:-1] << 8) | b[2:]
    out = np.empty((len(data), 8), dtype=np.uint16)
    for s in range(8):  # bit offset s within the byte -> shift by 8 - s
        np.right_shift(u24, 8 - s, out=out[:, s], casting="unsafe")
    return out.reshape(-1)


def _windows_at(data: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """The 16 bits starting at each bit position ``pos`` (0-padded), int64."""
    b = np.concatenate([data, np.zeros(3, dtype=np.uint8)])
    i = np.minimum(pos >> 3, len(data))  # past the end: zero bytes
    u24 = (b[i].astype(np.int64) << 16) | (b[i + 1].astype(np.int64) << 8) \
        | b[i + 2]
    return (u24 >> (8 - (pos & 7))) & 0xFFFF


def _extend(bits: np.ndarray, size: np.ndarray) -> np.ndarray:
    """T.81 F.2.2.1 EXTEND: map appended bits to a signed value."""
    size = size.astype(np.int64)
    half = np.where(size > 0, np.int64(1) << np.maximum(size - 1, 0), 1)
    return np.where(bits < half, bits - (np.int64(1) << size) + 1, bits)


WINDOW_CHUNK = 1 << 20  # bytes of scan data whose 16-bit windows exist at once


def _per_bit_tables(data: np.ndarray, tables: Sequence[np.ndarray],
                    pads: Sequence[tuple[int, int]]) -> list[memoryview]:
    """``table[window16(p)]`` for every bit position p, one int8 array each.

    Parameters
    ----------
    data : ndarray, shape (B,), uint8
    tables : sequence of ndarray, shape (65536,), int8
        Window look-up tables (:attr:`HuffmanTable.advance` / ``kstep``).
    pads : sequence of (pad_value, sink_value)
        Values for the ``SINK_PAD`` positions after the data and for the
        final sink position: a walk on corrupt data creeps forward into the
        sink (advance 1, then 0) instead of indexing out of range.

    Returns
    -------
    list of memoryview over int8 arrays of length 8 * B + SINK_PAD + 1.
        Indexing a memoryview yields plain Python ints without converting
        the whole array to a list.  The windows are built chunk by chunk
        so that only one byte per bit position and table stays allocated.
    """
    n_bits = 8 * len(data)
    outs = [np.empty(n_bits + SINK_PAD + 1, dtype=np.int8) for _ in tables]
    for start in range(0, len(data), WINDOW_CHUNK):
        stop = min(start + WINDOW_CHUNK, len(data))
        w16 = _windows16(data[start:stop + 2])[:8 * (stop - start)]
        for out, table in zip(outs, tables):
            np.take(table, w16, out=out[8 * start:8 * stop])
    for out, (pad_value, sink_value) in zip(outs, pads):
        out[n_bits:] = pad_value
        out[-1] = sink_value
    return [memoryview(out) for out in outs]


# The most bits one MCU can consume: 10 blocks (T.81 B.2.3) of one DC and
# 63 AC symbols, each a code and its magnitude bits, at most 16 + 15 bits.
MCU_MAX_BITS = 10 * BLOCK_SIZE * (MAX_CODE_LENGTH + MAX_CATEGORY)
# Scan bytes whose per-bit tables exist at once (8 bytes of tables per byte
# and table); a window is rebuilt when the walk gets within one MCU plus a
# 16-bit look-up of its end.
WINDOW_BYTES = 1 << 18
# Windows of the lane walk: its tables take about 15 bytes per bit while
# they are built (16-bit windows, kept as uint16 for _LaneWalk._cut and
# cast to intp indices inside np.take, the int8 look-up and the int32
# successor table) and 10 once built (windows, successor and owner
# tables), so its windows are smaller; 64 KB keeps them at about 8 MB.
LANE_WINDOW_BYTES = 1 << 16
_WINDOW_MARGIN = MCU_MAX_BITS // 8 + 8


class _Windows:
    """The scan data one window of bytes at a time, and the walks over it.

    Per window: the per-bit tables of :func:`_walk` (built when the exact
    walk is needed) and, for one-block MCUs, the successor table and lanes
    of :mod:`refimpl.jpeg.lanes` (built when first used).
    """

    def __init__(self, data, block_tables):
        self.data = data
        self.dc_tabs = list(dict.fromkeys(t[0] for t in block_tables))
        self.ac_tabs = list(dict.fromkeys(t[1] for t in block_tables))
        self.arrays = [t.advance for t in self.dc_tabs] \
            + [t.advance for t in self.ac_tabs] + [t.kstep for t in self.ac_tabs]
        self.pads = [(1, 0)] * (len(self.dc_tabs) + len(self.ac_tabs)) \
            + [(BAD_CODE_STEP, BAD_CODE_STEP)] * len(self.ac_tabs)
        self.block_tables = block_tables
        self.use_lanes = LANES and len(block_tables) == 1
        self.base = self.limit = -1
        self.stop = 0
        self.plan = None
        self.lanes = None

    def at(self, p: int):
        """(base, limit) of the window holding ``p``: an MCU starting at any
        bit position <= ``limit`` ends inside it."""
        if self.base <= p <= self.limit:
            return self.base, self.limit
        start = p >> 3
        size = min(WINDOW_BYTES, LANE_WINDOW_BYTES) if self.use_lanes else WINDOW_BYTES
        self.stop = min(len(self.data), start + size + _WINDOW_MARGIN)
        self.base = 8 * start
        # At the end of the data the sink pads stop any walk: no limit.
        self.limit = 1 << 62 if self.stop == len(self.data) \
            else 8 * (self.stop - _WINDOW_MARGIN)
        self.plan = None
        self.lanes = None
        return self.base, self.limit

    def exact_plan(self):
        """The per-bit tables of :func:`_walk` for the current window."""
        if self.plan is None:
            start = self.base >> 3
            views = _per_bit_tables(self.data[start:self.stop], self.arrays, self.pads)
            n_dc, n_ac = len(self.dc_tabs), len(self.ac_tabs)
            dc_adv = dict(zip(self.dc_tabs, views[:n_dc]))
            ac_adv = dict(zip(self.ac_tabs, views[n_dc:n_dc + n_ac]))
            ac_step = dict(zip(self.ac_tabs, views[n_dc + n_ac:]))
            self.plan = [(dc_adv[d], ac_adv[a], ac_step[a])
                         for d, a in self.block_tables]
        return self.plan

    def walk(self, p: int, mcus: int, segment_end: int):
        """:func:`_walk` from absolute bit ``p`` (same result), through the
        lanes where they apply.  Returns (MCUs walked, end position, DC
        positions, AC positions, known), positions absolute; ``known`` is
        what the lanes read for :func:`_records` (32-bit windows at the AC
        positions, their look-ups, AC symbols per block), None from the
        Python walk."""
        base, limit = self.at(p)
        if self.use_lanes:
            if self.lanes is None:
                self.lanes = _LaneWalk(self.data[base >> 3:self.stop],
                                       self.block_tables[0],
                                       self.stop == len(self.data))
            got = self.lanes.walk(p - base, mcus, limit - base, segment_end - base)
            if got is not None:
                walked, q, dc_pos, ac_pos, known = got
                if base:
                    q, dc_pos, ac_pos = q + base, dc_pos + base, ac_pos + base
                return walked, q, dc_pos, ac_pos, known
        walked, q, dc_pos, ac_pos = _walk(self.exact_plan(), p - base, mcus,
                                          limit - base)
        return walked, q + base, dc_pos + base, ac_pos + base, None


# Set False to decode every scan with the Python walk alone (the lanes'
# oracle in tests/test_jpeg_lanes.py; same results, slower).
LANES = True


@functools.lru_cache(maxsize=64)
def _lane_tables(dc: HuffmanTable, ac: HuffmanTable):
    """(AC successor, DC advance), int8, 65536 each, for
    :func:`lanes.successor_table`: the AC symbol's advance (<= 31), plus
    :data:`lanes.ENDS_BLOCK` where it ends the block (kstep 64).  int8
    keeps the tables at 64 KB, near the cache the random look-ups hit."""
    ac_step = ac.advance.copy()
    ac_step[ac.kstep >= BAD_CODE_STEP] += lanes.ENDS_BLOCK
    ac_step.setflags(write=False)
    return ac_step, dc.advance


class _LaneWalk:
    """:func:`_walk` of a one-block-MCU scan in one window through
    :mod:`refimpl.jpeg.lanes`; bit positions relative to the window.

    The chain of the lanes' successor function ignores the zig-zag index;
    :meth:`walk` computes it along the chain and cuts where a block reaches
    index 64 without an end-of-block symbol (there ``_walk`` starts the next
    block).  After :data:`lanes.MAX_CUTS` such cuts, or on a region too
    short to pay for the lanes, it returns None and the caller walks.
    """

    def __init__(self, data: np.ndarray, tables, last: bool):
        self.data = data
        self.dc, self.ac = tables
        n_bits = 8 * len(data)
        # Bits whose 16-bit window is exact: all of them in the last window
        # (zeros follow the data there, as in _walk), else all but 16.
        self.valid = n_bits if last else max(0, n_bits - LOOKUP_BITS)
        self.n_bits = n_bits
        self.f = None
        self.region_end = -1
        self.cuts = 0
        self.cached = None  # what _cut keeps of the last chain

    def _window16(self, p: int) -> int:
        b = bytes(self.data[p >> 3:(p >> 3) + 3]).ljust(3, b"\0")
        return (int.from_bytes(b, "big") >> (8 - (p & 7))) & 0xFFFF

    def _build(self, first: int, end: int):
        if self.f is None:
            size = self.n_bits + SINK_PAD + 1
            # 16-bit windows at every bit and 16 bits beyond (zeros after the
            # data): the successor table reads the first n_bits, _cut pairs
            # two of them into a 32-bit window.
            padded = np.concatenate([self.data, np.zeros(2, dtype=np.uint8)])
            self.w16 = _windows16(padded)[:self.n_bits + LOOKUP_BITS]
            self.f = lanes.successor_table(self.w16[:self.n_bits], self.n_bits, size,
                                           *_lane_tables(self.dc, self.ac))
        self.paths = lanes.run_lanes(self.f, first, end)
        self.owner = lanes.owner_table(self.paths, len(self.f))
        self.region_end = end

    def walk(self, p, mcus, limit, segment_end):
        end = min(self.valid, segment_end)
        if self.cached is not None:
            got = self._serve(p, mcus, limit)
            if got is not None:
                return got
        if end - p < lanes.MIN_REGION_BITS or self.cuts > lanes.MAX_CUTS:
            return None
        first = p + int(self.dc.advance[self._window16(p)])
        if first >= end:
            return None
        if self.region_end != end:
            self._build(first, end)
        path = lanes.chain_positions(self.f, self.paths, self.owner, first, end)
        self._cut(p, path)
        return self._serve(p, mcus, limit)

    def _cut(self, p, path):
        """Keep the chain's whole blocks from ``p``: (DC positions, one more
        than the blocks; index in ``path`` of each block's last AC symbol;
        ``path``; its 32-bit windows; their :func:`_window_info` values)."""
        top = np.take(self.w16, path)  # the 32-bit window is two 16-bit ones
        w32 = (top.astype(np.uint32) << 16) | np.take(self.w16, path + LOOKUP_BITS)
        info = np.take(_window_info(self.ac), top)
        step = info >> _STEP_SHIFT  # 0 ends the block
        ends = step == 0
        block_last = np.flatnonzero(ends)
        if _longest_block_steps(step, block_last) >= BLOCK_SIZE - 1:
            block_last = self._cut_at_index_64(step, ends, block_last)
        last = np.take(info, block_last)
        length = last & _LENGTH_BITS
        adv = np.where(length == 0, 1, length + ((last & _SIZE_BITS) >> _SIZE_SHIFT))
        dc = np.empty(len(block_last) + 1, dtype=np.int64)
        dc[0] = p
        dc[1:] = np.take(path, block_last) + adv
        self.cached = (dc, block_last, path, w32, info)

    def _cut_at_index_64(self, step, ends, block_last):
        """``block_last`` up to the first symbol where ``_walk`` ends a block
        at zig-zag index 64 without an end-of-block symbol (a non-ending
        symbol whose steps since the block began reach 63), which then ends
        the kept chain; unchanged if there is none."""
        # Zig-zag index after each symbol: 1 + the steps since the block began.
        csum = np.cumsum(step, dtype=np.int32)
        before = np.zeros(len(csum), dtype=np.int32)
        if len(csum) > 1:
            before[1:] = np.maximum.accumulate(np.where(ends, csum, 0))[:-1]
        over = np.flatnonzero(~ends & (csum - before >= BLOCK_SIZE - 1))
        if not len(over):
            return block_last
        self.cuts += 1
        v = int(over[0])
        return np.append(block_last[block_last < v], v)

    def _serve(self, p, mcus, limit):
        dc, block_last, path, w32, info = self.cached
        b0 = int(np.searchsorted(dc, p))
        complete = len(block_last)
        if b0 >= complete or dc[b0] != p:
            return None
        b1 = min(b0 + mcus, int(np.searchsorted(dc[:complete], limit, side="right")))
        if b1 <= b0:
            return None
        a0 = int(block_last[b0 - 1]) + 1 if b0 else 0
        a1 = int(block_last[b1 - 1]) + 1
        counts = np.diff(block_last[b0:b1], prepend=a0 - 1)
        return (b1 - b0, int(dc[b1]), dc[b0:b1], path[a0:a1].astype(np.int64),
                (w32[a0:a1], info[a0:a1], counts))


def _longest_block_steps(step: np.ndarray, block_last: np.ndarray) -> int:
    """Largest sum of ``step`` over a block of the chain (symbols up to and
    including each ``block_last``) or over the symbols after the last one.

    A block's steps only grow along it and its ending symbol adds 0, so this
    is the largest "steps since the block began" of any non-ending symbol:
    below 63 no block reaches zig-zag index 64 without ending (the exact
    search of :meth:`_LaneWalk._cut_at_index_64` is then skipped).
    """
    if not len(step):
        return 0
    starts = np.concatenate([[0], block_last + 1])
    if starts[-1] == len(step):
        starts = starts[:-1]  # no symbols after the last block
    return int(np.add.reduceat(step, starts, dtype=np.int32).max())


def decode_scan_chunks(data: np.ndarray, segment_bits: Sequence[tuple[int, int]],
                       segment_mcus: Sequence[int],
                       block_tables: Sequence[tuple[HuffmanTable, HuffmanTable]],
                       chunk_mcus: int):
    """Huffman-decode a scan (T.81 F.2.2), ``chunk_mcus`` MCUs at a time.

    Parameters
    ----------
    data : ndarray, shape (B,), dtype uint8
        Unstuffed entropy-coded bytes of all restart segments, concatenated.
    segment_bits : sequence of (start, end)
        Bit range of each segment inside ``data``.
    segment_mcus : sequence of int
        Number of MCUs coded in each segment.
    block_tables : sequence of (HuffmanTable, HuffmanTable)
        (DC table, AC table) of each block position in an MCU.
    chunk_mcus : int
        MCUs per yielded chunk (the last may be shorter).

    Yields
    ------
    ScanRecords
        Of each chunk in turn; block indices count from the chunk's first
        block.

    Raises
    ------
    JpegError
        On a bit pattern that is no code of its table, a run past
        coefficient 63, or a segment whose data ends before its MCUs do.

    Notes
    -----
    Memory: the per-bit tables of one window (:data:`WINDOW_BYTES` bytes of
    data, one int8 per bit position and table) and the records of one chunk;
    nothing grows with the whole scan.
    """
    n_bits = 8 * len(data)
    per_mcu = len(block_tables)
    total = int(sum(segment_mcus))
    # Each block needs at least a 1-bit DC code and a 1-bit AC code: refuse
    # to allocate for blocks the data cannot possibly hold.
    if 2 * per_mcu * total > n_bits:
        raise JpegError(f"scan data too short: {len(data)} bytes cannot hold "
                        f"{per_mcu * total} blocks")
    windows = _Windows(data, block_tables)
    seg, left = 0, int(segment_mcus[0]) if total else 0
    p = int(segment_bits[0][0]) if total else 0
    done = 0
    while done < total:
        todo = min(chunk_mcus, total - done)
        dc_parts, ac_parts, w_parts = [], [], []
        while todo:
            if left == 0:
                seg += 1
                p, left = int(segment_bits[seg][0]), int(segment_mcus[seg])
            walked, p, dc_pos, ac_pos, known = windows.walk(
                p, min(todo, left), int(segment_bits[seg][1]))
            dc_parts.append(dc_pos)
            ac_parts.append(ac_pos)
            w_parts.append(known)
            todo -= walked
            left -= walked
            done += walked
            if left == 0 and p > segment_bits[seg][1]:
                raise JpegError(f"corrupt data: entropy-coded segment {seg} "
                                "ends before its last MCU")
        known = None if any(w is None for w in w_parts) else \
            tuple(_joined(part) for part in zip(*w_parts))
        yield _records(data, block_tables, windows.dc_tabs, windows.ac_tabs,
                       _joined(dc_parts), _joined(ac_parts), known)


def _joined(parts):
    """np.concatenate of a sequence of arrays, without a copy for one."""
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def decode_scan(data: np.ndarray, segment_bits: Sequence[tuple[int, int]],
                segment_mcus: Sequence[int],
                block_tables: Sequence[tuple[HuffmanTable, HuffmanTable]]
                ) -> ScanRecords:
    """:func:`decode_scan_chunks` of the whole scan as one chunk."""
    total = max(1, int(sum(segment_mcus)))
    chunks = list(decode_scan_chunks(data, segment_bits, segment_mcus,
                                     block_tables, total))
    if not chunks:
        empty = np.zeros(0, dtype=np.int64)
        return ScanRecords(empty, empty, empty, empty)
    return chunks[0]


def _walk(plan, p, mcus, limit):
    """Follow the symbol chain of up to ``mcus`` MCUs from bit ``p``.

    Pure Python on purpose: this is the one inherently sequential step.
    Each block visits one DC position and then AC positions until the
    zig-zag index reaches 64 (EOB and bad codes jump there directly).
    ``plan`` holds (DC advance, AC advance, AC step) memoryviews per block
    of an MCU, indexed by bit position in the current window; the walk stops
    before an MCU that would start past ``limit``.

    Returns (MCUs walked, end position, DC positions, AC positions).
    """
    # Typed arrays keep 8 bytes per position (a list would hold int objects).
    dc_pos, ac_pos = array.array("q"), array.array("q")
    dc_add, ac_add = dc_pos.append, ac_pos.append
    walked = 0
    mcu_bits = len(plan) * BLOCK_SIZE * (MAX_CODE_LENGTH + MAX_CATEGORY)
    while walked < mcus and p <= limit:
        # MCUs that surely start at or before ``limit`` (each takes at most
        # mcu_bits): walk them without a check per MCU.
        batch = min(mcus - walked, (limit - p) // mcu_bits + 1)
        walked += batch
        if len(plan) == 1:
            da, aa, ks = plan[0]
            for _ in range(batch):
                dc_add(p)
                p += da[p]
                k = 1
                while k < 64:
                    ac_add(p)
                    k += ks[p]
                    p += aa[p]
        else:
            for _ in range(batch):
                for da, aa, ks in plan:
                    dc_add(p)
                    p += da[p]
                    k = 1
                    while k < 64:
                        ac_add(p)
                        k += ks[p]
                        p += aa[p]
    return (walked, p,
            np.frombuffer(dc_pos, dtype=np.int64) if dc_pos else np.zeros(0, np.int64),
            np.frombuffer(ac_pos, dtype=np.int64) if ac_pos else np.zeros(0, np.int64))


def _records(data, block_tables, dc_tabs, ac_tabs, dc_pos, ac_pos, known=None):
    """Symbols and values at the visited positions of whole MCUs (vectorised).

    Every block's AC symbols follow its DC symbol and its magnitude bits, so
    block b's first AC symbol sits at ``dc_pos[b] + dc_len[b] + dc_size[b]``
    (the walk reads at least one AC symbol per block); a sorted search of
    those starts in ``ac_pos`` splits the AC symbols into blocks.  A code and
    its magnitude bits (<= 16 + 15 bits) are read from one 32-bit window and
    decoded with one look-up of :func:`_window_info`.  Only the bytes the
    positions span are read.  :func:`_records_reference` is the same
    computation from separate 16-bit windows (its oracle test:
    ``tests/test_jpeg_records.py``).  ``known``: what the lane walk already
    read, (32-bit windows at ``ac_pos``, their :func:`_window_info` values,
    AC symbols per block), else None; the lanes split blocks exactly where
    the search would, so the search and its check are skipped.

    The DC windows, one per block, are gathered from the bytes at their
    positions (:func:`_windows32_at`).  Code validity is checked at each
    block's last AC symbol only: an invalid window ends the block in both
    walks (``kstep`` 64, and a block end in the lanes' successor table), so
    no other AC symbol can be invalid.  Zig-zag indices and values are
    computed for coefficient symbols (size > 0) only.
    """
    per_mcu = len(block_tables)
    n_blocks = len(dc_pos)
    lo = int(dc_pos[0]) >> 3 if n_blocks else 0
    hi = (max(int(dc_pos[-1]), int(ac_pos[-1]) if len(ac_pos) else 0) >> 3) + 8
    data = data[lo:hi]
    dc_pos = dc_pos - 8 * lo
    slot = np.arange(n_blocks) % per_mcu if per_mcu > 1 else None
    dc_w = _windows32_at(data, dc_pos)
    dc_len, dc_size, _ = _info_at(dc_tabs, [dc_tabs.index(t[0]) for t in block_tables],
                                  slot, dc_w, "DC")
    dc_diff = _extend32(dc_w, dc_len, dc_size)
    if known is None:
        ac_pos = ac_pos - 8 * lo
        after_dc = dc_pos + dc_len + dc_size
        first = np.searchsorted(ac_pos, after_dc)
        if len(ac_pos) < n_blocks or not np.array_equal(
                ac_pos[np.minimum(first, len(ac_pos) - 1)], after_dc):
            raise JpegError("corrupt data: AC symbols do not follow their DC symbol")
        counts = np.diff(first, append=len(ac_pos))
        ac_w = _windows32(_byte_words(data), ac_pos)
        ac_block = np.repeat(np.arange(n_blocks, dtype=np.int32), counts)
        info = _info_values(ac_tabs, [ac_tabs.index(t[1]) for t in block_tables],
                            slot[ac_block] if per_mcu > 1 else None, ac_w)
    else:  # one slot per MCU: a single AC table
        ac_w, info, counts = known
        first = np.cumsum(counts) - counts
        ac_block = np.repeat(np.arange(n_blocks, dtype=np.int32), counts)
    # An invalid code ends its block (the walks treat it as an EOB), so it
    # can only be a block's last AC symbol: check those (every block has one).
    last = first + counts - 1
    if n_blocks and not (np.take(info, last) & _LENGTH_BITS).all():
        raise JpegError("corrupt data: invalid AC Huffman code")
    # Zig-zag index = running sum of (run + 1) / 16 steps within the block.
    step = info >> _STEP_SHIFT
    csum = np.cumsum(step, dtype=np.int32)
    coef = np.flatnonzero((info & _SIZE_BITS) != 0)  # size > 0: a coefficient
    coef_block = np.take(ac_block, coef)
    before_block = csum[first] - step[first]  # the sum before each block
    k = np.take(csum, coef) - np.take(before_block, coef_block)
    if len(k) and k.max() > LAST_AC:
        raise JpegError("corrupt data: AC coefficient index beyond 63")
    coef_info = np.take(info, coef)
    value = _extend32(np.take(ac_w, coef), coef_info & _LENGTH_BITS,
                      (coef_info & _SIZE_BITS) >> _SIZE_SHIFT)
    # Compact types: DC differences and AC values have at most 15 magnitude
    # bits (|v| <= 32767), block indices of a chunk fit int32.
    return ScanRecords(dc_diff, coef_block, k.astype(np.uint8), value.astype(np.int16))


def _byte_words(data: np.ndarray) -> np.ndarray:
    """The 64 bits starting at every byte of ``data`` (0-padded), uint64."""
    padded = np.concatenate([data, np.zeros(8, dtype=np.uint8)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, 8)
    return np.ascontiguousarray(windows).view(">u8").reshape(-1).astype(np.uint64)


def _windows32(words: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """The 32 bits starting at each bit position ``pos`` (0-padded), uint32.

    ``words`` from :func:`_byte_words`; ``pos >> 3`` must be below its length.
    """
    i = np.minimum(pos >> 3, len(words) - 1)
    shifted = np.take(words, i) << (pos & 7).astype(np.uint64)  # drop the first bits
    return (shifted >> np.uint64(32)).astype(np.uint32)


_BYTE_OFFSETS = np.arange(8, dtype=np.intp)


def _windows32_at(data: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """:func:`_windows32` of ``_byte_words(data)`` at ``pos``, reading only
    the 8 bytes from each ``pos >> 3`` (zeros past the end of ``data``),
    uint32: cheaper than all the words when positions are sparse (one per
    block).  ``tests/test_jpeg_decode_fast.py`` checks the two agree."""
    padded = np.concatenate([data, np.zeros(8, dtype=np.uint8)])
    start = np.minimum(pos >> 3, len(data))
    rows = np.take(padded, start[:, None] + _BYTE_OFFSETS)  # (n, 8) uint8
    words = rows.view(">u8").reshape(-1).astype(np.uint64)
    return ((words << (pos & 7).astype(np.uint64)) >> np.uint64(32)).astype(np.uint32)


# Fields of a _window_info value.
_LENGTH_BITS = 31  # code length, bits 0..4 (0: invalid code)
_SIZE_SHIFT = 5
_SIZE_BITS = 15 << _SIZE_SHIFT  # magnitude bits, bits 5..8
_STEP_SHIFT = 9  # zig-zag step, bits 9..


@functools.lru_cache(maxsize=64)
def _window_info(table: HuffmanTable) -> np.ndarray:
    """Per 16-bit window: ``length | size << 5 | step << 9`` (int16).

    length: code length (0: no valid code); size: magnitude bits (the DC
    symbol, or the AC symbol's low nibble); step: AC zig-zag increment
    ``run + 1`` for a coefficient, 16 for ZRL, 0 for EOB and the other
    size-0 symbols (they end the block).  Read-only, cached per table.
    An invalid window's value is 0 (length, size and step 0).
    """
    symbol = table.lookup_symbol.astype(np.int32)
    size = symbol if table.is_dc else symbol & 0x0F
    step = np.where(size > 0, (symbol >> 4) + 1, np.where(symbol == ZRL, 16, 0))
    if table.is_dc:
        step = np.zeros_like(symbol)
    info = table.lookup_length.astype(np.int32) | (size << _SIZE_SHIFT) \
        | (step << _STEP_SHIFT)
    info = info.astype(np.int16)  # 14 bits; a small table for random look-ups
    info.setflags(write=False)
    return info


def _info_values(tables, table_of_slot, slot, window):
    """:func:`_window_info` values (int16) of the code at the top of each
    window; ``slot`` (None: one slot) picks each position's table through
    ``table_of_slot``."""
    w16 = window >> 16
    if len(tables) == 1:
        return np.take(_window_info(tables[0]), w16)
    table_index = np.asarray(table_of_slot)[slot]
    info = np.zeros(len(w16), dtype=np.int16)
    for i, table in enumerate(tables):
        sel = np.flatnonzero(table_index == i)
        info[sel] = np.take(_window_info(table), w16[sel])
    return info


def _info_at(tables, table_of_slot, slot, window, kind):
    """(length, size, step), int16, of the code at the top of each window.

    ``slot`` (None: one slot) picks each position's table through
    ``table_of_slot``.  Raises JpegError on an invalid code.
    """
    return _unpack_info(_info_values(tables, table_of_slot, slot, window), kind)


def _unpack_info(info, kind):
    """(length, size, step) of :func:`_window_info` values; JpegError on an
    invalid code."""
    length = info & _LENGTH_BITS
    if len(length) and not length.all():
        raise JpegError(f"corrupt data: invalid {kind} Huffman code")
    return length, (info & _SIZE_BITS) >> _SIZE_SHIFT, info >> _STEP_SHIFT


def _extend32(window: np.ndarray, length: np.ndarray, size: np.ndarray) -> np.ndarray:
    """EXTEND (T.81 F.2.2.1) of the ``size`` bits after a ``length``-bit code.

    ``window``: uint32 with the code at the top (length + size <= 31, so
    the shift is >= 1 and the bits fit int32).  Returns int32.
    """
    bits = (window >> (32 - length - size).astype(np.uint32)).astype(np.int32)
    mask = (np.int32(1) << size) - 1
    bits &= mask
    return bits - (bits < ((mask + 1) >> 1)) * mask


def _records_reference(data, block_tables, dc_tabs, ac_tabs, dc_pos, ac_pos,
                       known=None):
    """:func:`_records` the first way: a search per AC symbol, 16-bit windows
    (``known`` is not used: this version reads the data itself).

    Kept as the oracle of :func:`_records` (``tests/test_jpeg_records.py``).

    Positions only grow along the walk, so an AC symbol belongs to the last
    block whose DC position precedes it.  Only the bytes the positions span
    are read.
    """
    per_mcu = len(block_tables)
    n_blocks = len(dc_pos)
    lo = int(dc_pos[0]) >> 3 if n_blocks else 0
    hi = (max(int(dc_pos[-1]), int(ac_pos[-1]) if len(ac_pos) else 0) >> 3) + 8
    data = data[lo:hi]
    dc_pos = dc_pos - 8 * lo
    ac_pos = ac_pos - 8 * lo
    ac_block = np.searchsorted(dc_pos, ac_pos, side="right") - 1
    ac_count = np.cumsum(np.bincount(ac_block, minlength=n_blocks))
    counts = np.diff(ac_count, prepend=0)
    slot = np.arange(n_blocks) % per_mcu
    dc_tab_of_slot = np.array([dc_tabs.index(t[0]) for t in block_tables])
    ac_tab_of_slot = np.array([ac_tabs.index(t[1]) for t in block_tables])
    dc_sym, dc_len = _lookup(dc_tabs, dc_tab_of_slot[slot], data, dc_pos, "DC")
    ac_sym, ac_len = _lookup(ac_tabs, ac_tab_of_slot[slot[ac_block]], data,
                             ac_pos, "AC")
    # DC differences: the magnitude bits (at most 15) follow the code, so
    # they are the top ``size`` bits of the 16-bit window after it.
    dc_bits = _windows_at(data, dc_pos + dc_len) >> (LOOKUP_BITS - dc_sym)
    dc_diff = _extend(dc_bits, dc_sym)
    # AC coefficients: zig-zag index = running sum of (run + 1) / 16 steps.
    run, size = ac_sym >> 4, ac_sym & 0x0F
    step = np.where(size > 0, run + 1, np.where(ac_sym == ZRL, 16, 0))
    csum = np.cumsum(step)
    k = csum - np.repeat(_block_offsets(csum, ac_count), counts)
    coef = size > 0
    if np.any(k[coef] > LAST_AC):
        raise JpegError("corrupt data: AC coefficient index beyond 63")
    size = size[coef]
    bits = _windows_at(data, ac_pos[coef] + ac_len[coef]) >> (LOOKUP_BITS - size)
    # Compact types: DC differences and AC values have at most 15 magnitude
    # bits (|v| <= 32767), block indices of a chunk fit int32.
    return ScanRecords(dc_diff.astype(np.int32), ac_block[coef].astype(np.int32),
                       k[coef].astype(np.uint8), _extend(bits, size).astype(np.int16))


def _block_offsets(csum: np.ndarray, ac_count: np.ndarray) -> np.ndarray:
    """Running step sum before each block's first AC symbol."""
    offsets = np.zeros(len(ac_count), dtype=np.int64)
    ends = ac_count[:-1]
    offsets[1:] = np.where(ends > 0, csum[np.maximum(ends - 1, 0)], 0)
    return offsets


def _lookup(tables, table_index, data, pos, kind):
    """Symbol and code length at each position; error on invalid codes.

    ``table_index[i]`` selects the table (in ``tables``) for ``pos[i]``.
    Returns (symbol, length), both int64 arrays shaped like ``pos``.
    """
    window = _windows_at(data, pos)
    if len(tables) == 1:
        length = tables[0].lookup_length[window].astype(np.int64)
        symbol = tables[0].lookup_symbol[window].astype(np.int64)
    else:
        length = np.zeros(len(pos), dtype=np.int64)
        symbol = np.zeros(len(pos), dtype=np.int64)
        for i, table in enumerate(tables):
            sel = np.flatnonzero(table_index == i)
            length[sel] = table.lookup_length[window[sel]]
            symbol[sel] = table.lookup_symbol[window[sel]]
    if len(length) and not length.all():
        raise JpegError(f"corrupt data: invalid {kind} Huffman code")
    return symbol, length
