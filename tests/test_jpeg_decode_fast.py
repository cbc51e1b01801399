"""Issue 11 goal 5: the decoder's fast paths against their plain oracles.

* ``dct.idct_plane`` (float matrix passes; a clamp where no sample wraps,
  libjpeg's range-limit table where one does) against ``dct.inverse_dct``
  (int64, block by block, the table always), on coefficients from real
  images and on hostile ones that drive the IDCT far out of range.
* ``bands.idct_band`` (scatter through per-cell and per-coefficient offset
  tables) against a plain loop that fills each block from its records.
* ``huffman._windows32_at`` (8 bytes gathered per position) against
  ``huffman._windows32`` of all byte words and a bit-string reading.
* ``huffman._longest_block_steps`` (one segmented sum) against the per-symbol
  search it lets the lane walk skip: below 63 exactly when no symbol of the
  chain would end its block at zig-zag index 64.
* ``scan._raster_band`` (a one-component scan's MCU m is cell m) against
  ``scan._mcu_bands`` (cells from the MCU grid, dummy blocks dropped).
"""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import refimpl.jpeg as rjpeg
from refimpl.jpeg import bands, dct, huffman, scan
from refimpl.jpeg.markers import parse_jpeg
from refimpl.jpeg.tables import NATURAL_ORDER


def plane_grid(natural, q, rows, cols):
    """(rows, 8, cols, 8) float64 dequantized grid with the DC offset."""
    grid = (natural.astype(np.int64) * q.reshape(8, 8)).astype(np.float64)
    grid = grid.reshape(rows, cols, 8, 8).transpose(0, 2, 1, 3).copy()
    grid[:, 0, :, 0] += dct.IDCT_DC_OFFSET
    return grid


def blocks_to_plane(blocks, rows, cols):
    return blocks.reshape(rows, cols, 8, 8).transpose(0, 2, 1, 3).reshape(8 * rows, 8 * cols)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), rows=st.integers(1, 4), cols=st.integers(1, 4),
       scale=st.sampled_from([1, 8, 64, 1024, 32767]), sparse=st.booleans(),
       qmax=st.sampled_from([1, 255, 65535]))
def test_idct_plane_equals_inverse_dct_on_hostile_coefficients(seed, rows, cols, scale,
                                                                sparse, qmax):
    """Any int16 coefficients and 8/16-bit tables: wrapped and clamped samples."""
    rng = np.random.default_rng(seed)
    natural = rng.integers(-scale, scale + 1, size=(rows * cols, 8, 8))
    if sparse:  # DC-only and low-frequency blocks, as real files have
        natural[:, 2:, :] = 0
        natural[rng.random(rows * cols) < 0.5, :, 1:] = 0
    q = rng.integers(1, qmax + 1, size=64)
    expected = blocks_to_plane(rjpeg.inverse_dct(natural, q), rows, cols)
    got = dct.idct_plane(plane_grid(natural, q, rows, cols))
    assert np.array_equal(got, expected)


def test_idct_plane_takes_both_branches():
    """One DC per block chosen so that samples sit on every edge of the
    no-wrap interval x in [-512, 512): x = -513, -512, 511, 512 (DESCALE of a
    lone DC c with table entry 8 is c, see test_jpeg_stages)."""
    q = np.full(64, 8)
    for c, wraps in [(-513, True), (-512, False), (511, False), (512, True),
                     (-129, False), (128, False), (4000, True)]:
        natural = np.zeros((1, 8, 8), dtype=np.int64)
        natural[0, 0, 0] = c
        expected = blocks_to_plane(rjpeg.inverse_dct(natural, q), 1, 1)
        grid = plane_grid(natural, q, 1, 1)
        assert np.array_equal(dct.idct_plane(grid), expected), c
        t = np.matmul(np.floor(np.matmul(dct._IDCT_P1, grid.reshape(1, 8, 8)) + 0.5)
                      .reshape(-1, 8), dct._IDCT_P2)
        assert (t.min() < dct._NO_WRAP_LOW or t.max() >= dct._NO_WRAP_HIGH) == wraps, c
        # Beside a block that does not wrap, the strip takes the same branch.
        natural = np.concatenate([natural, np.zeros((1, 8, 8), np.int64)])
        natural[1, 0, 1] = 3
        expected = blocks_to_plane(rjpeg.inverse_dct(natural, q), 1, 2)
        assert np.array_equal(dct.idct_plane(plane_grid(natural, q, 1, 2)), expected), c


def idct_band_loop(plane, band):
    """Plain oracle of bands.idct_band: one block at a time."""
    blocks = {}
    for cell, dc in zip(band.cell.tolist(), band.dc.tolist()):
        blocks[cell] = np.zeros(64, dtype=np.int64)
        blocks[cell][0] = dc
    for cell, k, v in zip(band.ac_cell.tolist(), band.ac_k.tolist(), band.ac_value.tolist()):
        blocks[cell][NATURAL_ORDER[k]] = v
    for cell, zz in blocks.items():
        by, bx = divmod(cell, band.cols)
        pixels = rjpeg.inverse_dct(zz.reshape(1, 8, 8), band.q)[0]
        plane[8 * by:8 * by + 8, 8 * bx:8 * bx + 8] = pixels


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), quality=st.integers(1, 100),
       colour=st.booleans(), sub=st.sampled_from(["4:4:4", "4:2:2", "4:2:0"]),
       band_blocks=st.sampled_from([1, 3, 1 << 14]))
def test_idct_band_equals_a_block_loop(seed, quality, colour, sub, band_blocks):
    rng = np.random.default_rng(seed)
    h, w = (int(n) for n in rng.integers(1, 70, size=2))
    pixels = rng.integers(0, 256, size=(h, w, 3) if colour else (h, w), dtype=np.uint8)
    f = parse_jpeg(rjpeg.encode(pixels, quality, sub if colour else None))
    planes = [np.zeros(tuple(8 * n for n in scan.component_size(f, c)), np.uint8)
              for c in f.components]
    loops = [p.copy() for p in planes]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(scan, "BAND_BLOCKS", band_blocks)
        for band in scan.component_bands(f):
            bands.idct_band(planes[band.ci], band)
            idct_band_loop(loops[band.ci], band)
    for got, expected in zip(planes, loops):
        assert np.array_equal(got, expected)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 40), count=st.integers(1, 60))
def test_windows32_at_reads_the_bits_at_each_position(seed, n, count):
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, size=n, dtype=np.uint8)
    if seed % 2:
        data[rng.random(n) < 0.5] = 0xFF
    pos = np.sort(rng.integers(0, 8 * n, size=count)).astype(np.int64)
    bits = "".join(f"{b:08b}" for b in data.tolist()) + "0" * 40
    expected = [int(bits[p:p + 32], 2) for p in pos.tolist()]
    got = huffman._windows32_at(data, pos)
    assert got.dtype == np.uint32 and got.tolist() == expected
    assert np.array_equal(got, huffman._windows32(huffman._byte_words(data), pos))
    # Past the end of the data: zeros, as the reference decoder reads them.
    beyond = np.array([8 * n, 8 * n + 5, 8 * n + 40], dtype=np.int64)
    assert huffman._windows32_at(data, beyond).tolist() == [0, 0, 0]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 300),
       p_end=st.sampled_from([0.0, 0.02, 0.1, 0.5]))
def test_longest_block_steps_flags_exactly_the_chains_to_cut(seed, n, p_end):
    rng = np.random.default_rng(seed)
    step = rng.choice([1, 2, 3, 5, 16], size=n).astype(np.int32)
    step[rng.random(n) < p_end] = 0  # symbols that end their block
    ends = step == 0
    block_last = np.flatnonzero(ends)
    # Plain loop: steps since the block began, at every non-ending symbol.
    reaches, since = False, 0
    for s, end in zip(step.tolist(), ends.tolist()):
        if end:
            since = 0
        else:
            since += s
            reaches |= since >= 63
    longest = huffman._longest_block_steps(step, block_last)
    assert (longest >= 63) == reaches


def test_longest_block_steps_counts_long_chains_without_overflow():
    """int16 steps (the look-up's dtype) summed over 5,000 symbols."""
    step = np.full(5000, 16, dtype=np.int16)
    assert huffman._longest_block_steps(step, np.zeros(0, np.int64)) == 80000
    step[[10, 4000]] = 0
    assert huffman._longest_block_steps(step, np.array([10, 4000])) == 16 * 3989


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), quality=st.integers(1, 100),
       restart=st.sampled_from([0, 1, 4]), band_blocks=st.sampled_from([1, 7, 1 << 14]))
def test_raster_band_equals_the_mcu_grid_path(seed, quality, restart, band_blocks):
    """One-component scans: scan._raster_band against scan._mcu_bands."""
    rng = np.random.default_rng(seed)
    h, w = (int(n) for n in rng.integers(1, 70, size=2))
    pixels = rng.integers(0, 256, size=(h, w), dtype=np.uint8)
    f = parse_jpeg(rjpeg.encode(pixels, quality, None, False, restart))
    seen = []

    def both(f, scan_, rec, m0, n_mcu, dc):
        lay = scan._layout(f, scan_)
        expected = list(scan._mcu_bands(f, scan_, lay, rec, m0, n_mcu, dc))
        got = fast(f, scan_, rec, m0, n_mcu, dc)
        assert len(expected) == 1
        for name in expected[0].__dataclass_fields__:
            e, g = getattr(expected[0], name), getattr(got, name)
            if isinstance(e, np.ndarray):
                assert e.dtype == g.dtype and np.array_equal(e, g), name
            else:
                assert e == g, name
        seen.append(m0)
        return got

    fast = scan._raster_band
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(scan, "BAND_BLOCKS", band_blocks)
        mp.setattr(scan, "_raster_band", both)
        bands_seen = list(scan.component_bands(f))
    assert seen and len(bands_seen) == len(seen)
