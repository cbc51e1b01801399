"""Issue 11 goal 5: the fast symbol/value extraction of the Huffman decoder.

``huffman._records`` (32-bit windows, one packed look-up per symbol, blocks
split at the known first-AC positions) must return exactly what
``huffman._records_reference`` (the first implementation: a search per AC
symbol and separate 16-bit windows) returns, dtypes included, or raise
JpegError exactly when the reference does.  Both are called on the very
arguments the decoder passes, for seeded random images (grey and colour,
every subsampling, restart intervals, optimized tables, qualities 1..100)
and for every file of the fuzz corpus.
"""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import refimpl.jpeg as rjpeg
from refimpl.jpeg import huffman as hf

from jpeg_oracle import DATA

CORPUS = sorted((DATA / "corpus").glob("*.jpg"))


@pytest.fixture
def checked(monkeypatch):
    """Make every decode run both versions; return the number of calls."""
    calls = []

    def both(*args):
        try:
            expected = hf._records_reference(*args)
        except rjpeg.JpegError:
            with pytest.raises(rjpeg.JpegError):
                hf._records_fast(*args)
            raise
        got = hf._records_fast(*args)
        for name, e, g in zip(expected._fields, expected, got):
            assert g.dtype == e.dtype, name
            assert np.array_equal(g, e), name
        calls.append(len(args[4]))
        return got

    monkeypatch.setattr(hf, "_records_fast", hf._records, raising=False)
    monkeypatch.setattr(hf, "_records", both)
    return calls


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), quality=st.integers(1, 100),
       colour=st.booleans(), sub=st.sampled_from([None, "4:4:4", "4:2:2", "4:2:0"]),
       restart=st.sampled_from([0, 1, 3]), optimize=st.booleans(),
       smooth=st.booleans())
def test_records_match_reference_on_random_images(seed, quality, colour, sub,
                                                  restart, optimize, smooth):
    rng = np.random.default_rng(seed)
    h, w = rng.integers(1, 60, size=2)
    shape = (h, w, 3) if colour else (h, w)
    pixels = rng.integers(0, 256, size=shape, dtype=np.uint8)
    if smooth:  # few non-zero AC coefficients, long runs, EOBs
        pixels = (pixels // 64 * 64).astype(np.uint8)
    data = rjpeg.encode(pixels, quality, sub, optimize, restart)
    expected = rjpeg.decode(data)  # reference path
    with pytest.MonkeyPatch.context() as mp:
        calls = []

        def both(*args):
            e = hf._records_reference(*args)
            g = fast(*args)
            for name, x, y in zip(e._fields, e, g):
                assert x.dtype == y.dtype and np.array_equal(x, y), name
            calls.append(1)
            return g

        fast = hf._records
        mp.setattr(hf, "_records", both)
        assert np.array_equal(rjpeg.decode(data), expected)
    assert calls


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_records_match_reference_on_corpus(path, checked):
    try:
        rjpeg.decode(path.read_bytes())
    except rjpeg.JpegError:
        pass


def test_records_cover_a_large_image(checked):
    """A 1024x768 photo-like image: several decode chunks, many records."""
    rng = np.random.default_rng(5)
    y, x = np.mgrid[0:768, 0:1024]
    pixels = ((x * 3 + y * 2) % 256 + rng.integers(0, 20, (768, 1024))).clip(0, 255)
    data = rjpeg.encode(pixels.astype(np.uint8), 90)
    rjpeg.decode(data)
    assert sum(checked) == 128 * 96
