"""Malformed, truncated, hostile and unsupported input: JpegError, nothing else.

The fuzz test mutates valid files (byte flips, truncations, insertions,
deletions) with a bounded number of examples; every outcome must be either a
uint8 image of the declared size or a single JpegError.
"""

import io
import struct
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image

import refimpl.jpeg as rjpeg

from jpeg_oracle import DATA, photo, pillow_jpeg


SEEDS = [
    pillow_jpeg(photo()[:24, :40], quality=60),
    pillow_jpeg(photo()[:17, :9, 1], quality=90, subsampling="4:4:4"),
    pillow_jpeg(photo()[:30, :20], quality=40, subsampling="4:2:2",
                optimize=True, restart_marker_blocks=2),
    (DATA / "testorig.jpg").read_bytes(),
]


def segment_offset(data, code):
    """Offset of the first marker 0xFF code (walking the segment chain)."""
    i = 2
    while data[i + 1] != code:
        i += 2 + struct.unpack(">H", data[i + 2:i + 4])[0]
    return i


def without_segments(data, code):
    out, i = data[:2], 2
    while True:
        marker = data[i + 1]
        if marker == 0xDA:
            return out + data[i:]
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        if marker != code:
            out += data[i:i + 2 + length]
        i += 2 + length


def check_outcome(data):
    try:
        pixels = rjpeg.decode(data)
    except rjpeg.JpegError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert pixels.dtype == np.uint8 and pixels.ndim in (2, 3)


mutation = st.tuples(st.sampled_from(["flip", "truncate", "insert", "delete"]),
                     st.integers(0, 10**6), st.binary(min_size=1, max_size=8))


@settings(max_examples=3000, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.sampled_from(range(len(SEEDS))),
       mutations=st.lists(mutation, min_size=1, max_size=4))
def test_fuzzed_files_raise_only_jpeg_error(seed, mutations):
    data = bytearray(SEEDS[seed])
    for op, where, payload in mutations:
        if not data:
            break
        where %= len(data)
        if op == "flip":
            data[where] ^= payload[0] or 0xFF
        elif op == "truncate":
            del data[where:]
        elif op == "insert":
            data[where:where] = payload
        else:
            del data[where:where + len(payload)]
    start = time.perf_counter()
    check_outcome(bytes(data))
    assert time.perf_counter() - start < 5


def test_every_truncation_is_rejected():
    data = SEEDS[1]
    for end in range(len(data)):
        with pytest.raises(rjpeg.JpegError):
            rjpeg.decode(data[:end])


def _patch(data, offset, new):
    return data[:offset] + new + data[offset + len(new):]


def test_huge_declared_size_is_capped():
    data = SEEDS[0]
    sof = segment_offset(data, 0xC0)
    too_big = _patch(data, sof + 5, struct.pack(">HH", 65535, 65535))
    with pytest.raises(rjpeg.JpegError, match="too large"):
        rjpeg.decode(too_big)
    # Exactly at the 2**28-pixel cap, but with a few hundred bytes of data:
    # rejected before anything per block is allocated.
    at_cap = _patch(data, sof + 5, struct.pack(">HH", 16384, 16384))
    start = time.perf_counter()
    with pytest.raises(rjpeg.JpegError, match="cannot hold"):
        rjpeg.decode(at_cap)
    assert time.perf_counter() - start < 1


@pytest.mark.parametrize("name,make,message", [
    ("no DHT", lambda d: without_segments(d, 0xC4), "Huffman table"),
    ("no DQT", lambda d: without_segments(d, 0xDB), "quantization table"),
    ("no SOF", lambda d: without_segments(d, 0xC0), "SOS before"),
    ("zero width", lambda d: _patch(d, segment_offset(d, 0xC0) + 7, b"\0\0"),
     "width 0"),
    ("DNL height", lambda d: _patch(d, segment_offset(d, 0xC0) + 5, b"\0\0"),
     "DNL"),
    ("12-bit", lambda d: _patch(d, segment_offset(d, 0xC0) + 4, b"\x0c"), "12-bit"),
    ("arithmetic", lambda d: _patch(d, segment_offset(d, 0xC0), b"\xff\xc9"),
     "arithmetic"),
    ("lossless", lambda d: _patch(d, segment_offset(d, 0xC0), b"\xff\xc3"),
     "lossless"),
    ("hierarchical", lambda d: d[:2] + b"\xff\xde\x00\x02" + d[2:], "hierarchical"),
    ("length past end", lambda d: d[:segment_offset(d, 0xDB) + 2] + b"\xff\xff"
     + d[segment_offset(d, 0xDB) + 4:], "past the end"),
    ("bad Huffman code", lambda d: d[:d.rindex(b"\xff\xda") + 14]
     + b"\xff\x00" * 40 + b"\xff\xd9", "invalid"),
    ("not a JPEG", lambda d: b"\x89PNG\r\n\x1a\n" + d, "SOI"),
    ("unknown marker", lambda d: d[:2] + b"\xff\x02\x00\x02" + d[2:], "marker"),
    ("two frames", lambda d: d[:segment_offset(d, 0xC0)]
     + d[segment_offset(d, 0xC0):segment_offset(d, 0xC0) + 19] * 2
     + d[segment_offset(d, 0xC0) + 19:], "more than one frame"),
    ("sampling 0", lambda d: _patch(d, segment_offset(d, 0xC0) + 11, b"\x01"),
     "sampling"),
    ("restart without DRI", lambda d: d[:-40] + b"\xff\xd0" + d[-40:],
     "restart segments"),
    ("empty", lambda d: b"", "SOI"),
])
def test_specific_corruptions(name, make, message):
    with pytest.raises(rjpeg.JpegError, match=message):
        rjpeg.decode(make(SEEDS[0]))


def test_restart_markers_out_of_sequence():
    data = pillow_jpeg(photo()[:32, :64], quality=50, restart_marker_blocks=1)
    first = data.index(b"\xff\xd1")
    with pytest.raises(rjpeg.JpegError, match="sequence"):
        rjpeg.decode(_patch(data, first, b"\xff\xd3"))


def test_trailing_restart_marker_is_tolerated():
    """libjpeg ignores an RST marker after the last MCU; so do we."""
    data = pillow_jpeg(photo()[:32, :64], quality=50, restart_marker_blocks=1)
    count = sum(data.count(bytes([0xFF, 0xD0 + m])) for m in range(8))
    extra = data[:-2] + bytes([0xFF, 0xD0 + count % 8]) + data[-2:]
    assert np.array_equal(rjpeg.decode(extra), rjpeg.decode(data))


def test_progressive_is_unsupported():
    data = pillow_jpeg(photo(), quality=75, progressive=True)
    with pytest.raises(rjpeg.JpegError, match="progressive"):
        rjpeg.decode(data)


def test_cmyk_is_unsupported():
    buf = io.BytesIO()
    Image.new("CMYK", (16, 16), (10, 20, 30, 40)).save(buf, "JPEG")
    with pytest.raises(rjpeg.JpegError, match="4 components"):
        rjpeg.decode(buf.getvalue())


@pytest.mark.parametrize("bad", [None, "text", 42, [0xFF, 0xD8]])
def test_decode_rejects_non_bytes(bad):
    with pytest.raises(rjpeg.JpegError):
        rjpeg.decode(bad)


@pytest.mark.parametrize("array,options", [
    (np.zeros((8, 8), dtype=np.float32), {}),
    (np.zeros((8, 8), dtype=np.uint16), {}),
    (np.zeros((8, 8, 4), dtype=np.uint8), {}),
    (np.zeros((8, 8, 1), dtype=np.uint8), {}),
    (np.zeros((0, 8), dtype=np.uint8), {}),
    (np.zeros((1, 65536), dtype=np.uint8), {}),
    (np.zeros(8, dtype=np.uint8), {}),
    ([[1, 2], [3, 4]], {}),
    (np.zeros((8, 8), dtype=np.uint8), dict(quality=0)),
    (np.zeros((8, 8), dtype=np.uint8), dict(quality=101)),
    (np.zeros((8, 8), dtype=np.uint8), dict(quality=7.5)),
    (np.zeros((8, 8), dtype=np.uint8), dict(subsampling="4:1:1")),
    (np.zeros((8, 8), dtype=np.uint8), dict(subsampling=["4:2:0"])),
    (np.zeros((8, 8), dtype=np.uint8), dict(restart_interval=-1)),
    (np.zeros((8, 8), dtype=np.uint8), dict(restart_interval=65536)),
    (np.zeros((8, 8), dtype=np.uint8), dict(restart_rows=1.5)),
])
def test_encode_rejects_bad_arguments(array, options):
    with pytest.raises(rjpeg.JpegError):
        rjpeg.encode(array, **options)
