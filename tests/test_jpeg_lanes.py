"""Issue 11 goal 5: the speculative lane walk (refimpl/jpeg/lanes.py).

Oracle: the plain Python walk ``huffman._walk`` (one loop step per symbol).
Every call of ``_Windows.walk`` that the lanes answer is repeated with
``_walk`` for the same number of MCUs on the same per-bit tables; positions,
end position and MCU count must be equal, and the AC windows the lanes pass
on must be the 32 bits of the data at those positions, with their table
look-ups and the number of AC symbols of each block.  Files: grey images
of several sizes and qualities (quality 100 puts non-zero coefficients at
zig-zag index 63, which cut the lanes' chain), optimized tables, restart
intervals, tiny windows and lane spacings (many Python hops and gaps), and
every file of the fuzz corpus with the lanes forced onto regions of any size
(their pixels or JpegError text must be the Python walk's).
"""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import refimpl.jpeg as rjpeg
from refimpl.jpeg import huffman as hf, lanes

from jpeg_oracle import DATA, photo, pillow_jpeg, pillow_pixels

CORPUS = sorted((DATA / "corpus").glob("*.jpg"))


@pytest.fixture
def checked(monkeypatch):
    """Check every lane answer against _walk; return the list of lane calls."""
    served = []
    lane_walk = hf._LaneWalk.walk

    def both(self, p, mcus, limit, segment_end):
        got = lane_walk(self, p, mcus, limit, segment_end)
        if got is not None:
            walked, q, dc_pos, ac_pos, (ac_w, info, counts) = got
            assert 0 < walked <= mcus
            plan = self.oracle.exact_plan()
            e_walked, e_q, e_dc, e_ac = hf._walk(plan, p, walked, limit)
            assert (e_walked, e_q) == (walked, q)
            assert np.array_equal(e_dc, dc_pos) and np.array_equal(e_ac, ac_pos)
            assert ac_w.dtype == np.uint32
            words = hf._byte_words(self.data)
            assert np.array_equal(ac_w, hf._windows32(words, ac_pos))
            assert np.array_equal(info, hf._window_info(self.ac)[ac_w >> 16])
            # AC symbols per block: from the DC positions (each block's AC
            # symbols lie between its DC symbol and the next block's).
            bounds = np.searchsorted(ac_pos, np.append(dc_pos[1:], q))
            assert np.array_equal(counts, np.diff(bounds, prepend=0))
            served.append(walked)
        return got

    windows_walk = hf._Windows.walk

    def attach(self, p, mcus, segment_end):
        base, _ = self.at(p)
        if self.lanes is None and self.use_lanes:
            self.lanes = hf._LaneWalk(self.data[base >> 3:self.stop], self.block_tables[0],
                                      self.stop == len(self.data))
        if self.lanes is not None:
            self.lanes.oracle = self
        return windows_walk(self, p, mcus, segment_end)

    monkeypatch.setattr(hf._LaneWalk, "walk", both)
    monkeypatch.setattr(hf._Windows, "walk", attach)
    return served


def decode_or_error(data):
    try:
        return rjpeg.decode(data)
    except rjpeg.JpegError as e:
        return str(e)


def same(a, b):
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    return np.array_equal(a, b)


@pytest.mark.parametrize("quality", [30, 75, 95, 100])
@pytest.mark.parametrize("size", [(64, 64), (208, 208), (331, 257)])
def test_lanes_match_the_python_walk_on_grey_photos(checked, monkeypatch, quality, size):
    monkeypatch.setattr(lanes, "MIN_REGION_BITS", 0)  # also below the default threshold
    data = pillow_jpeg(photo("L", size=size), quality=quality)
    assert np.array_equal(rjpeg.decode(data), pillow_pixels(data))
    assert checked  # the lanes answered


def test_quality_100_cuts_the_chain_and_still_matches(checked, monkeypatch):
    """Blocks that end at index 63 without EOB: each one cuts the chain."""
    cuts = []
    cut = hf._LaneWalk._cut

    def counting(self, p, path):
        before = self.cuts
        cut(self, p, path)
        cuts.append(self.cuts - before)
    monkeypatch.setattr(hf._LaneWalk, "_cut", counting)
    monkeypatch.setattr(lanes, "MIN_REGION_BITS", 0)
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, size=(96, 96), dtype=np.uint8)  # noise: k=63 set
    data = pillow_jpeg(pixels, quality=100)
    assert np.array_equal(rjpeg.decode(data), pillow_pixels(data))
    assert sum(cuts) >= 1 and checked


@pytest.mark.parametrize("optimize", [False, True])
@pytest.mark.parametrize("restart", [0, 7, 200])
def test_lanes_with_optimized_tables_and_restarts(checked, monkeypatch, optimize, restart):
    monkeypatch.setattr(lanes, "MIN_REGION_BITS", 0)
    pixels = photo("L", size=(301, 203))
    data = rjpeg.encode(pixels, 85, None, optimize, restart)
    expected = pillow_pixels(data)
    assert np.array_equal(rjpeg.decode(data), expected)
    assert checked


def test_tiny_windows_spacing_and_regions(checked, monkeypatch):
    """Many windows, lanes 8 bits apart (hops, gaps), lanes on every region."""
    data = pillow_jpeg(photo("L", size=(150, 120)), quality=90)
    expected = pillow_pixels(data)
    monkeypatch.setattr(lanes, "MIN_REGION_BITS", 0)
    for window, spacing in [(16, 8), (700, 8), (1 << 18, 3), (1 << 18, 4096)]:
        monkeypatch.setattr(hf, "WINDOW_BYTES", window)
        monkeypatch.setattr(lanes, "SPACING", spacing)
        checked.clear()
        assert np.array_equal(rjpeg.decode(data), expected), (window, spacing)
        assert checked


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), quality=st.integers(1, 100),
       restart=st.sampled_from([0, 2, 5]), optimize=st.booleans(),
       smooth=st.booleans(), spacing=st.sampled_from([2, 5, 32, 192]))
def test_lanes_on_random_grey_images(seed, quality, restart, optimize, smooth, spacing):
    rng = np.random.default_rng(seed)
    h, w = rng.integers(8, 90, size=2)
    pixels = rng.integers(0, 256, size=(h, w), dtype=np.uint8)
    if smooth:  # few AC coefficients, long runs, many DC+EOB blocks
        pixels = (pixels // 64 * 64).astype(np.uint8)
    data = rjpeg.encode(pixels, quality, None, optimize, restart)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(hf, "LANES", False)
        expected = rjpeg.decode(data)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(lanes, "MIN_REGION_BITS", 0)
        mp.setattr(lanes, "SPACING", spacing)
        assert np.array_equal(rjpeg.decode(data), expected)


def test_corpus_outcomes_equal_the_python_walk(monkeypatch):
    """Corrupt and truncated files: the same pixels or the same error text."""
    monkeypatch.setattr(lanes, "MIN_REGION_BITS", 0)
    monkeypatch.setattr(lanes, "SPACING", 16)
    used = []
    build = hf._LaneWalk._build
    monkeypatch.setattr(hf._LaneWalk, "_build",
                        lambda self, *a: (used.append(1), build(self, *a)))
    for path in CORPUS:
        data = path.read_bytes()
        with monkeypatch.context() as mp:
            mp.setattr(hf, "LANES", False)
            expected = decode_or_error(data)
        assert same(decode_or_error(data), expected), path.name
    assert used


def test_chain_positions_is_the_chain_of_f():
    """A hand-made successor function: the stitched chain is f's orbit."""
    rng = np.random.default_rng(0)
    n = 5000
    size = n + hf.SINK_PAD + 1
    step = rng.integers(1, 12, size=size).astype(np.int32)
    f = np.minimum(np.arange(size, dtype=np.int32) + step, size - 1).astype(np.int32)
    for spacing in (3, 17, 100, 10000):
        paths = lanes.run_lanes(f, 5, n, spacing)
        owner = lanes.owner_table(paths, size)
        got = lanes.chain_positions(f, paths, owner, 5, n)
        expected, x = [], 5
        while x < n:
            expected.append(x)
            x = int(f[x])
        assert got.tolist() == expected, spacing


def test_default_threshold_sends_the_mosaic_through_the_lanes(checked):
    """The benchmark's case (a 208x208 feature-like image, about 50,000 bits)."""
    rng = np.random.default_rng(1)
    pixels = np.maximum(rng.normal(0, 60, size=(208, 208)), 0).astype(np.uint8)
    data = pillow_jpeg(pixels, quality=75)
    assert 8 * len(data) > lanes.MIN_REGION_BITS
    assert np.array_equal(rjpeg.decode(data), pillow_pixels(data))
    assert checked
