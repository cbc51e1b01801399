"""Encoder: output bytes identical to Pillow's (libjpeg-turbo) JPEG writer.

Oracle: ``PIL.Image.save(buf, "JPEG", ...)`` run in the same process.  Every
comparison is ``==`` on the complete file; each file is also decoded by our
decoder and by Pillow and the pixels compared with ``np.array_equal``.
"""

import io

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from PIL import Image

import refimpl.jpeg as rjpeg

from jpeg_oracle import photo, pillow_jpeg

QUALITIES = [1, 5, 10, 25, 50, 75, 90, 95, 100]
CONFIGS = [("L", "4:2:0"), ("RGB", "4:4:4"), ("RGB", "4:2:2"), ("RGB", "4:2:0")]


def synthetic(kind, height, width, rgb, seed=0):
    """Seeded noise, a diagonal gradient or a flat image."""
    shape = (height, width, 3) if rgb else (height, width)
    if kind == "noise":
        return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)
    if kind == "gradient":
        y, x = np.mgrid[0:height, 0:width]
        g = (255 * (x + y) / max(1, height + width - 2)).astype(np.uint8)
        return np.stack([g, 255 - g, g // 2], axis=-1) if rgb else g
    return np.full(shape, 173, dtype=np.uint8)


def assert_same_as_pillow(pixels, quality, subsampling, **extra):
    ours = rjpeg.encode(pixels, quality=quality, subsampling=subsampling,
                        optimize=extra.get("optimize", False),
                        restart_interval=extra.get("restart_marker_blocks", 0),
                        restart_rows=extra.get("restart_marker_rows", 0))
    theirs = pillow_jpeg(pixels, quality=quality, subsampling=subsampling, **extra)
    assert ours == theirs
    # Our decoder on our file: the same pixels as Pillow's decoder.
    assert np.array_equal(rjpeg.decode(ours),
                          np.asarray(Image.open(io.BytesIO(theirs))))


@pytest.mark.parametrize("optimize", [False, True])
@pytest.mark.parametrize("mode,subsampling", CONFIGS)
@pytest.mark.parametrize("quality", QUALITIES)
def test_photo_227x149(quality, mode, subsampling, optimize):
    assert_same_as_pillow(photo(mode), quality, subsampling, optimize=optimize)


@pytest.mark.parametrize("mode,subsampling", CONFIGS)
@pytest.mark.parametrize("kind", ["noise", "gradient", "flat"])
@pytest.mark.parametrize("height,width", [(1, 1), (7, 9), (9, 7), (2, 3),
                                          (17, 33), (16, 16), (24, 40)])
@pytest.mark.parametrize("quality", QUALITIES)
def test_synthetic_sizes(quality, height, width, kind, mode, subsampling):
    pixels = synthetic(kind, height, width, mode == "RGB")
    assert_same_as_pillow(pixels, quality, subsampling)


@pytest.mark.parametrize("mode,subsampling", CONFIGS)
@pytest.mark.parametrize("quality,optimize", [(5, False), (75, False),
                                              (75, True), (100, False)])
def test_photo_1023x767(quality, optimize, mode, subsampling):
    pixels = photo(mode, (1023, 767))
    assert_same_as_pillow(pixels, quality, subsampling, optimize=optimize)


@pytest.mark.parametrize("mode,subsampling", CONFIGS)
@pytest.mark.parametrize("blocks,rows", [(1, 0), (3, 0), (7, 0), (1000, 0),
                                         (0, 1), (0, 2), (5, 1)])
@pytest.mark.parametrize("optimize", [False, True])
def test_restart_markers(blocks, rows, optimize, mode, subsampling):
    """restart_marker_blocks -> libjpeg restart_interval (in MCUs), and
    restart_marker_rows -> restart_in_rows (overrides the former)."""
    pixels = photo(mode)[:61, :83]
    assert_same_as_pillow(pixels, 60, subsampling, optimize=optimize,
                          restart_marker_blocks=blocks, restart_marker_rows=rows)


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_default_subsampling_matches_pillow_default(mode):
    """subsampling=None is Pillow's default: 2x2 colour, 1x1 greyscale."""
    pixels = photo(mode)
    assert rjpeg.encode(pixels, quality=75, subsampling=None) == \
        pillow_jpeg(pixels, quality=75)


def test_greyscale_subsampling_only_changes_sof():
    """Pillow writes the requested luma factors into a 1-component SOF."""
    pixels = photo("L")
    a = rjpeg.encode(pixels, quality=50, subsampling="4:4:4")
    b = rjpeg.encode(pixels, quality=50, subsampling="4:2:0")
    sof_a, sof_b = a.index(b"\xff\xc0"), b.index(b"\xff\xc0")
    assert a[sof_a + 11] == 0x11 and b[sof_b + 11] == 0x22
    assert a[:sof_a + 11] == b[:sof_b + 11] and a[sof_a + 12:] == b[sof_b + 12:]


@settings(max_examples=40, deadline=None)
@given(quality=st.integers(1, 100),
       height=st.integers(1, 40), width=st.integers(1, 40),
       config=st.sampled_from(CONFIGS),
       optimize=st.booleans(),
       restart=st.integers(0, 4),
       seed=st.integers(0, 2**16))
def test_random_images(quality, height, width, config, optimize, restart, seed):
    mode, subsampling = config
    pixels = synthetic("noise", height, width, mode == "RGB", seed)
    # Smooth half of the image so that long zero runs (ZRL) and EOBs occur.
    pixels[: height // 2] = pixels[: height // 2] // 64 * 64
    assert_same_as_pillow(pixels, quality, subsampling, optimize=optimize,
                          restart_marker_blocks=restart)


def test_zero_runs_of_16_and_more_use_zrl():
    """Blocks whose only non-zero AC sits late in zig-zag order need ZRL."""
    y, x = np.mgrid[0:32, 0:32]
    pixels = (128 + 100 * np.cos(np.pi * 7 * (2 * x + 1) / 16)
              * np.cos(np.pi * 6 * (2 * y + 1) / 16)).astype(np.uint8)
    trace = rjpeg.trace_encoder(pixels, quality=90, subsampling="4:4:4")
    assert np.any(trace.symbols.symbol == 0xF0)
    assert trace.jpeg == pillow_jpeg(pixels, quality=90, subsampling="4:4:4")
