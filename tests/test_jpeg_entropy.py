"""Huffman coding, bit packing, byte stuffing and the entropy-only path."""

import struct

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import refimpl.jpeg as rjpeg

from jpeg_oracle import pillow_jpeg


def code_string(table, symbol):
    length = int(table.lengths[symbol])
    return format(int(table.codes[symbol]), f"0{length}b") if length else ""


def test_standard_dc_luminance_codes_table_k3():
    table = rjpeg.HuffmanTable(rjpeg.STD_DC_LUMINANCE, is_dc=True)
    expected = ["00", "010", "011", "100", "101", "110", "1110", "11110",
                "111110", "1111110", "11111110", "111111110"]  # Table K.3
    assert [code_string(table, c) for c in range(12)] == expected


def test_standard_ac_luminance_codes_table_k5():
    table = rjpeg.HuffmanTable(rjpeg.STD_AC_LUMINANCE, is_dc=False)
    # Table K.5 entries: EOB, 0/1, 0/2, 0/3, 1/1, 2/1, ZRL, F/A.
    assert code_string(table, 0x00) == "1010"
    assert code_string(table, 0x01) == "00"
    assert code_string(table, 0x02) == "01"
    assert code_string(table, 0x03) == "100"
    assert code_string(table, 0x11) == "1100"
    assert code_string(table, 0x21) == "11100"
    assert code_string(table, 0xF0) == "11111111001"
    assert code_string(table, 0xFA) == "1111111111111110"
    assert int(table.lengths.astype(bool).sum()) == 162  # 16 * 10 + EOB + ZRL


@pytest.mark.parametrize("bits,values,is_dc", [
    ((2,) + (0,) * 15, (0, 1), False),  # codes 0 and 1: no all-ones spare
    ((0, 5) + (0,) * 14, (0, 1, 2, 3, 4), False),  # 5 codes of 2 bits
    ((1,) + (0,) * 15, (16,), True),  # DC symbol above 15
    ((0, 2) + (0,) * 14, (3, 3), False),  # repeated symbol
    ((0, 2) + (0,) * 14, (3,), False),  # too few symbols
    ((255, 2) + (0,) * 14, tuple(range(257)), False),  # more than 256
])
def test_invalid_huffman_tables_are_rejected(bits, values, is_dc):
    with pytest.raises(rjpeg.JpegError):
        rjpeg.HuffmanTable(rjpeg.HuffmanSpec(bits, values), is_dc)


def test_optimal_table_hand_example():
    """Counts {0: 1, 1: 1} plus the pseudo-symbol 256 (count 1): Huffman
    merges 256 with 1 (ties go to the larger symbols), then 0 with that
    pair: lengths 0 -> 1, 1 -> 2, 256 -> 2; dropping 256 from the longest
    length leaves BITS = (1, 1), codes '0' and '10'."""
    freq = np.zeros(256, dtype=np.int64)
    freq[[0, 1]] = 1
    table = rjpeg.optimal_table(freq, is_dc=True)
    assert table.spec.bits == (1, 1) + (0,) * 14
    assert table.spec.values == (0, 1)
    assert code_string(table, 0) == "0" and code_string(table, 1) == "10"


def test_optimal_table_limits_lengths_to_16():
    freq = np.zeros(256, dtype=np.int64)
    fib = [1, 1]
    while len(fib) < 40:
        fib.append(fib[-1] + fib[-2])  # Fibonacci counts: lengths up to 39
    freq[:40] = fib
    table = rjpeg.optimal_table(freq, is_dc=False)
    lengths = table.lengths[:40].astype(int)
    assert lengths.min() >= 1 and lengths.max() == 16
    kraft = sum(2.0 ** -l for l in lengths)
    assert kraft < 1  # the all-ones code stays unused


def _dht_tables(data):
    """(class, id) -> (bits, values) from the DHT segments of a JPEG file."""
    tables, i = {}, 2
    while data[i + 1] != 0xDA:
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        if data[i + 1] == 0xC4:
            p = data[i + 4:i + 2 + length]
            bits = tuple(p[1:17])
            tables[(p[0] >> 4, p[0] & 15)] = (bits, tuple(p[17:17 + sum(bits)]))
        i += 2 + length
    return tables


@pytest.mark.parametrize("quality", [10, 75, 100])
def test_optimized_tables_equal_libjpegs(quality):
    rng = np.random.default_rng(quality)
    pixels = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
    pixels[:20] //= 32
    trace = rjpeg.trace_encoder(pixels, quality=quality, optimize=True)
    theirs = _dht_tables(pillow_jpeg(pixels, quality=quality, optimize=True))
    assert theirs[(0, 0)] == tuple(trace.dc_tables[0].spec)
    assert theirs[(1, 0)] == tuple(trace.ac_tables[0].spec)
    assert theirs[(0, 1)] == tuple(trace.dc_tables[1].spec)
    assert theirs[(1, 1)] == tuple(trace.ac_tables[1].spec)


def test_run_length_symbols_hand_example():
    """Coefficients 5 at k=1, -1 at k=20, 2 at k=63 after DC 3:
    DC category 2 (bits '11'); 0/3 with '101'; 18 zeros -> ZRL then 2/1 with
    '0' (-1 - 1 = -2 -> low bit 0); 42 zeros -> ZRL ZRL then A/2 with '10';
    no EOB because coefficient 63 is non-zero (T.81 F.1.2.2)."""
    zz = np.zeros((1, 64), dtype=np.int16)
    zz[0, [0, 1, 20, 63]] = [3, 5, -1, 2]
    s = rjpeg.run_length_symbols(zz)
    assert s.symbol.tolist() == [2, 0x03, 0xF0, 0x21, 0xF0, 0xF0, 0xA2]
    assert s.extra.tolist() == [0b11, 0b101, 0, 0, 0, 0, 0b10]
    assert s.extra_length.tolist() == [2, 3, 0, 1, 0, 0, 2]
    assert s.is_dc.tolist() == [True] + [False] * 6


def test_dc_prediction_resets_at_restarts():
    zz = np.zeros((4, 64), dtype=np.int16)
    zz[:, 0] = [5, 7, 4, 4]
    s = rjpeg.run_length_symbols(zz, restart_interval=2)
    dc = s.is_dc
    # Differences 5, 2 | 4, 0: categories 3, 2, 3, 0 (T.81 Table F.1).
    assert s.symbol[dc].tolist() == [3, 2, 3, 0]


def _naive_pack(values, lengths, starts):
    bits = ""
    bounds = list(starts) + [len(values)]
    out = b""
    for a, b in zip(bounds[:-1], bounds[1:]):
        bits = "".join(format(int(v), f"0{int(n)}b") for v, n in
                       zip(values[a:b], lengths[a:b]))
        bits += "1" * (-len(bits) % 8)
        out += int(bits, 2).to_bytes(len(bits) // 8, "big") if bits else b""
    return out


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 31), st.integers(0, 2**31 - 1)),
                min_size=1, max_size=300),
       st.lists(st.integers(1, 299), max_size=5))
def test_pack_bits_equals_naive_bit_string(items, cuts):
    lengths = np.array([n for n, _ in items])
    values = np.array([v % (1 << n) for n, v in items], dtype=np.uint64)
    starts = [0] + sorted({c for c in cuts if c < len(items)})
    data, ends = rjpeg.pack_bits(values, lengths, starts)
    assert data.tobytes() == _naive_pack(values, lengths, starts)
    assert int(ends[-1]) == len(data)


def test_stuffing():
    data = np.array([0x12, 0xFF, 0xFF, 0x00, 0xFF], dtype=np.uint8)
    stuffed = rjpeg.stuff_bytes(data)
    assert stuffed.tolist() == [0x12, 0xFF, 0, 0xFF, 0, 0x00, 0xFF, 0]
    assert rjpeg.unstuff_bytes(stuffed).tolist() == data.tolist()


# --- entropy-only path ------------------------------------------------------

@settings(max_examples=80, deadline=None)
@given(n=st.integers(0, 60), seed=st.integers(0, 2**32 - 1),
       density=st.floats(0, 1), bits=st.integers(1, 15), as_blocks=st.booleans())
def test_entropy_round_trip(n, seed, density, bits, as_blocks):
    """Random sparse blocks with magnitudes up to 2**bits - 1 survive
    encode_entropy -> decode_entropy unchanged (values, shape)."""
    rng = np.random.default_rng(seed)
    limit = (1 << bits) - 1
    arr = rng.integers(-limit, limit + 1, (n, 64))
    arr[rng.random((n, 64)) > density] = 0
    arr[:, 0] = np.clip(np.cumsum(rng.integers(-limit, limit + 1, n)) // 2,
                        -16383, 16383)  # successive DC steps within 15 bits
    if as_blocks:
        arr = arr.reshape(n, 8, 8)
    back = rjpeg.decode_entropy(rjpeg.encode_entropy(arr))
    assert back.shape == arr.shape
    assert np.array_equal(back, arr)


def test_entropy_round_trip_standard_tables_and_quantized_photo():
    pixels = np.random.default_rng(5).integers(0, 256, (64, 64), dtype=np.uint8)
    coef = rjpeg.trace_encoder(pixels, quality=90).components[0].quantized
    for optimize in (False, True):
        data = rjpeg.encode_entropy(coef, optimize=optimize)
        assert np.array_equal(rjpeg.decode_entropy(data), coef)


def test_entropy_range_errors():
    big_ac = np.zeros((1, 64), dtype=np.int32)
    big_ac[0, 5] = 1024  # category 11: not in the standard AC table
    with pytest.raises(rjpeg.JpegError):
        rjpeg.encode_entropy(big_ac, optimize=False)
    assert np.array_equal(rjpeg.decode_entropy(rjpeg.encode_entropy(big_ac)), big_ac)
    dc_jump = np.zeros((2, 64), dtype=np.int32)
    dc_jump[:, 0] = [-32768, 32767]  # difference needs 16 bits
    with pytest.raises(rjpeg.JpegError):
        rjpeg.encode_entropy(dc_jump)
    with pytest.raises(rjpeg.JpegError):
        rjpeg.encode_entropy(np.full((1, 64), 40000))
    with pytest.raises(rjpeg.JpegError):
        rjpeg.encode_entropy(np.zeros((3, 63), dtype=np.int16))
    with pytest.raises(rjpeg.JpegError):
        rjpeg.encode_entropy(np.zeros((3, 64), dtype=np.float32))


@settings(max_examples=80, deadline=None)
@given(st.binary(max_size=60), st.integers(0, 200), st.integers(0, 255))
def test_entropy_decoder_rejects_garbage_cleanly(noise, where, value):
    good = bytearray(rjpeg.encode_entropy(
        np.arange(-300, 340, dtype=np.int16).reshape(10, 64)))
    if where < len(good):
        good[where] = value
    for data in (bytes(good), bytes(good[:where]), noise, bytes(good) + noise):
        try:
            out = rjpeg.decode_entropy(data)
        except rjpeg.JpegError:
            continue
        assert out.dtype == np.int16 and out.ndim in (2, 3)
