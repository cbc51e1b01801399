"""The one-component fast path (jpeg.blockscan) against the general encoder.

The general path -- run_length_symbols, symbol_frequencies, assign_codes,
encode_segments, pack_bits, trace_encoder -- is the oracle (itself checked
against Pillow/libjpeg-turbo and hand-derived codes elsewhere); the fast
path must give the same counts, bytes and error messages on blocks with
extreme values, long zero runs (ZRL), no EOB, and tables with missing codes.
Also: HuffmanTable's lazily built decoding tables against a loop over the
codes, and optimal_table's heap merge against jchuff.c's linear scans.
"""

from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import refimpl.jpeg as rjpeg
from refimpl.jpeg import blockscan, huffman
from refimpl.jpeg.codec import _STD_TABLES


def _general_scan(zz, dc, ac):
    """Oracle: entropy-coded bytes (or the JpegError message) of the
    general path for one component without restarts."""
    try:
        symbols = huffman.run_length_symbols(zz)
        code, length = huffman.assign_codes(symbols, [dc], [ac])
        return huffman.encode_segments(symbols, code, length, 1, 0)
    except rjpeg.JpegError as exc:
        return str(exc)


def _fast_scan(zz, dc, ac):
    try:
        return blockscan.encode_block_runs(blockscan.block_runs(zz), dc, ac)
    except rjpeg.JpegError as exc:
        return str(exc)


def _random_blocks(rng, n, density, limit, run_style):
    """(n, 64) int16 zig-zag blocks: sparse AC values up to ``limit`` in
    magnitude, a DC walk, optionally long zero runs or a non-zero k = 63."""
    zz = rng.integers(-limit, limit + 1, (n, 64))
    zz[rng.random((n, 64)) > density] = 0
    if run_style == "zrl":  # runs of 16..62 zeros before a late coefficient
        zz[:, 1:63] = 0
        zz[:, rng.integers(17, 64)] = rng.integers(1, limit + 1)
    elif run_style == "full":  # coefficient 63 non-zero: no EOB
        zz[:, 63] = rng.choice([-limit, limit], n)
    zz[:, 0] = np.clip(np.cumsum(rng.integers(-limit, limit + 1, n)), -32767, 32767)
    return zz.astype(np.int16)


@settings(max_examples=120, deadline=None)
@given(n=st.integers(0, 40), seed=st.integers(0, 2**32 - 1),
       density=st.sampled_from([0.0, 0.05, 0.3, 1.0]),
       bits=st.sampled_from([1, 4, 10, 11, 15, 16]),
       run_style=st.sampled_from(["random", "zrl", "full"]),
       optimize=st.booleans())
def test_fast_scan_equals_general_path(n, seed, density, bits, run_style, optimize):
    """Bytes and frequencies equal the general path; standard tables lack
    AC sizes > 10 and DC sizes > 11, so large values must fail the same way
    (same message), and 16-bit values fail the range check in both."""
    rng = np.random.default_rng(seed)
    zz = _random_blocks(rng, n, density, (1 << bits) - 1 if bits < 16 else 32767,
                        run_style)
    if bits == 16 and n:
        zz[rng.integers(n), rng.integers(1, 64)] = -32768  # category 16
    try:
        symbols = huffman.run_length_symbols(zz)
    except rjpeg.JpegError as exc:
        with pytest.raises(rjpeg.JpegError) as fast_exc:
            blockscan.block_runs(zz)
        assert str(fast_exc.value) == str(exc)
        return
    runs = blockscan.block_runs(zz)
    with mock.patch.object(blockscan, "TWO_LEVEL_MIN_FLAGS", 8):  # both scans
        two_level = blockscan.block_runs(zz)
    assert all(np.array_equal(a, b) for a, b in zip(runs, two_level))
    dc_freq, ac_freq = huffman.symbol_frequencies(symbols, 1)
    fast_dc, fast_ac = blockscan.run_frequencies(runs)
    assert np.array_equal(fast_dc, dc_freq[0]) and np.array_equal(fast_ac, ac_freq[0])
    if optimize:
        dc, ac = huffman.optimal_table(dc_freq[0], True), huffman.optimal_table(ac_freq[0], False)
    else:
        dc, ac = _STD_TABLES["dc0"], _STD_TABLES["ac0"]
    assert _fast_scan(zz, dc, ac) == _general_scan(zz, dc, ac)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 30),
       other_seed=st.integers(0, 2**32 - 1))
def test_missing_codes_fail_with_the_general_message(seed, n, other_seed):
    """Tables optimised for other blocks lack some symbols (DC, AC, EOB or
    ZRL): the first codeless item in emission order is named identically."""
    rng = np.random.default_rng(seed)
    zz = _random_blocks(rng, n, 0.2, 200, rng.choice(["random", "zrl", "full"]))
    other = _random_blocks(np.random.default_rng(other_seed), 3, 0.05, 3, "random")
    dc_freq, ac_freq = huffman.symbol_frequencies(huffman.run_length_symbols(other), 1)
    dc, ac = huffman.optimal_table(dc_freq[0], True), huffman.optimal_table(ac_freq[0], False)
    assert _fast_scan(zz, dc, ac) == _general_scan(zz, dc, ac)


def test_missing_eob_and_zrl_codes():
    """Hand cases: a table whose only AC symbol is 0x01 has no EOB and no
    ZRL code; the fast path names the same first codeless symbol."""
    dc = huffman.HuffmanTable(rjpeg.HuffmanSpec((1,) + (0,) * 15, (0,)), True)
    ac = huffman.HuffmanTable(rjpeg.HuffmanSpec((1,) + (0,) * 15, (0x01,)), False)
    zz = np.zeros((2, 64), dtype=np.int16)
    zz[:, 1] = 1
    assert _general_scan(zz, dc, ac) == "no Huffman code for AC symbol 0x00 in the table"
    assert _fast_scan(zz, dc, ac) == _general_scan(zz, dc, ac)
    zz[:, 20] = 1  # run of 18 zeros: ZRL before 0x21 (no code either)
    zz[:, 63] = 1
    assert _general_scan(zz, dc, ac) == "no Huffman code for AC symbol 0xF0 in the table"
    assert _fast_scan(zz, dc, ac) == _general_scan(zz, dc, ac)


@pytest.mark.parametrize("density", [0.0, 0.001, 0.04, 0.5, 1.0])
@pytest.mark.parametrize("blocks", [1, 5, 4096, 4200])
def test_two_level_nonzero_scan_equals_flatnonzero(density, blocks):
    """The two-level scan (large masks) and the plain one give the same
    positions, with set flags at every lane of a word and at the ends."""
    rng = np.random.default_rng(blocks)
    mask = rng.random((blocks, 64)) < density
    mask[0, 0] = mask[-1, -1] = density > 0
    for threshold in (8, blockscan.TWO_LEVEL_MIN_FLAGS):
        with mock.patch.object(blockscan, "TWO_LEVEL_MIN_FLAGS", threshold):
            assert np.array_equal(blockscan._flat_nonzero(mask), np.flatnonzero(mask))


def _naive_pack(values, lengths):
    """Bit string concatenation with Python integers, 1-padded to a byte."""
    bits = "".join(format(int(v), f"0{int(n)}b") if n else ""
                   for v, n in zip(values, lengths))
    bits += "1" * (-len(bits) % 8)
    return int(bits, 2).to_bytes(len(bits) // 8, "big") if bits else b""


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 31), st.integers(0, 2**31 - 1)),
                max_size=400))
def test_pack_ordered_equals_naive_and_pack_bits(items):
    lengths = np.array([n for n, _ in items], dtype=np.uint64)
    values = np.array([v % (1 << n) for n, v in items], dtype=np.uint64)
    packed = blockscan.pack_ordered(values, lengths)
    assert packed == _naive_pack(values, lengths)
    used = lengths > 0  # pack_bits takes lengths 1..31
    if used.any():
        assert packed == huffman.pack_bits(values[used], lengths[used])[0].tobytes()


def test_pack_ordered_long_items_at_every_offset():
    """31-bit all-ones and single-bit items at every word offset (the
    64-bit window limit: offset 31 + length 31 = 62 bits)."""
    lengths = np.array([31, 1] * 40 + [31] * 33 + [7], dtype=np.uint64)
    values = np.where(lengths == 31, (1 << 31) - 1, 0).astype(np.uint64)
    assert blockscan.pack_ordered(values, lengths) == _naive_pack(values, lengths)


@settings(max_examples=40, deadline=None)
@given(h=st.integers(1, 40), w=st.integers(1, 40), seed=st.integers(0, 2**32 - 1),
       quality=st.integers(1, 100), optimize=st.booleans(),
       style=st.sampled_from(["noise", "flat", "edges"]),
       subsampling=st.sampled_from([None, "4:4:4", "4:2:2", "4:2:0"]))
def test_encode_fast_path_equals_traced_general_path(h, w, seed, quality, optimize, style,
                                                     subsampling):
    """encode() of a greyscale image (fast path) equals trace_encoder's
    file (the staged general path), sizes not multiples of 8 included, and
    with the SOF sampling factors an explicit subsampling writes."""
    rng = np.random.default_rng(seed)
    if style == "noise":
        pixels = rng.integers(0, 256, (h, w), dtype=np.uint8)
    elif style == "flat":
        pixels = np.full((h, w), rng.integers(0, 256), dtype=np.uint8)
    else:  # extreme steps: largest coefficients
        pixels = np.where(rng.random((h, w)) < 0.5, 0, 255).astype(np.uint8)
    options = dict(quality=quality, optimize=optimize, subsampling=subsampling)
    assert rjpeg.encode(pixels, **options) == rjpeg.trace_encoder(pixels, **options).jpeg


@pytest.mark.parametrize("is_dc", [True, False])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lazy_decoding_tables_equal_a_loop_over_codes(is_dc, seed):
    """HuffmanTable builds its 65536-entry decoding tables on first access;
    they equal a direct loop over the canonical codes (T.81 C.2): code c of
    length L owns windows c << (16 - L) .. ((c + 1) << (16 - L)) - 1."""
    rng = np.random.default_rng(seed)
    freq = np.zeros(256, dtype=np.int64)
    symbols = rng.choice(16 if is_dc else 256, 12 if is_dc else 120, replace=False)
    freq[symbols] = rng.integers(1, 1000, len(symbols))
    table = huffman.optimal_table(freq, is_dc)
    assert "advance" not in vars(table)  # not built by the constructor
    length = np.zeros(1 << 16, dtype=np.int64)
    symbol = np.zeros(1 << 16, dtype=np.int64)
    advance = np.ones(1 << 16, dtype=np.int64)
    kstep = np.full(1 << 16, 64, dtype=np.int64)
    for s in range(256):
        n = int(table.lengths[s])
        if not n:
            continue
        lo = int(table.codes[s]) << (16 - n)
        hi = (int(table.codes[s]) + 1) << (16 - n)
        size = s if is_dc else s & 15
        length[lo:hi], symbol[lo:hi], advance[lo:hi] = n, s, n + size
        if not is_dc:
            kstep[lo:hi] = 16 if s == 0xF0 else ((s >> 4) + 1 if size else 64)
    for name, expected in (("lookup_length", length), ("lookup_symbol", symbol),
                           ("advance", advance), ("kstep", kstep)):
        got = getattr(table, name)
        assert not got.flags.writeable
        assert np.array_equal(got, expected), name
        assert getattr(table, name) is got  # built once


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.integers(1, 3), st.integers(1, 10**6)), min_size=1, max_size=257))
def test_heap_code_sizes_equal_libjpegs_scans(counts):
    """optimal_table's heap merge gives the code lengths of jchuff.c's
    linear scans, ties (many equal small counts) included."""
    assert huffman._code_sizes(counts) == huffman._code_sizes_by_scan(counts)
