"""Decoder: pixels identical to Pillow's (libjpeg-turbo) decode of the same file.

Oracle: ``np.asarray(PIL.Image.open(f))``.  Inputs are files written by
Pillow itself, the libjpeg-turbo conformance images, and files crafted here
with unusual sampling factors, several scans, restart markers and the
colour-space signals libjpeg looks at (JFIF, Adobe, component ids).
"""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import refimpl.jpeg as rjpeg
from refimpl.jpeg import huffman, markers
from refimpl.jpeg.markers import FrameComponent, ScanComponent

from jpeg_oracle import DATA, photo, pillow_jpeg, pillow_pixels

QUALITIES = [1, 5, 10, 25, 50, 75, 90, 95, 100]
CONFIGS = [("L", "4:4:4"), ("L", "4:2:0"), ("RGB", "4:4:4"), ("RGB", "4:2:2"),
           ("RGB", "4:2:0")]


def assert_decodes_like_pillow(data):
    ours = rjpeg.decode(data)
    theirs = pillow_pixels(data)
    assert ours.dtype == np.uint8 and ours.shape == theirs.shape
    assert np.array_equal(ours, theirs)


@pytest.mark.parametrize("name", ["testorig.jpg", "testimgint.jpg"])
def test_conformance_images(name):
    assert_decodes_like_pillow((DATA / name).read_bytes())


@pytest.mark.parametrize("mode,subsampling", CONFIGS)
@pytest.mark.parametrize("quality", QUALITIES)
def test_pillow_files_photo(quality, mode, subsampling):
    assert_decodes_like_pillow(pillow_jpeg(photo(mode), quality=quality,
                                           subsampling=subsampling))


@pytest.mark.parametrize("mode,subsampling", CONFIGS)
@pytest.mark.parametrize("height,width", [(1, 1), (7, 9), (9, 7), (1, 17),
                                          (17, 1), (2, 2), (3, 5), (33, 18)])
@pytest.mark.parametrize("quality", [1, 50, 95, 100])
def test_pillow_files_small(quality, height, width, mode, subsampling):
    rng = np.random.default_rng(height * 100 + width)
    shape = (height, width, 3) if mode == "RGB" else (height, width)
    pixels = rng.integers(0, 256, shape, dtype=np.uint8)
    assert_decodes_like_pillow(pillow_jpeg(pixels, quality=quality,
                                           subsampling=subsampling))


@pytest.mark.parametrize("mode,subsampling", CONFIGS)
@pytest.mark.parametrize("quality", [5, 75, 100])
def test_pillow_files_1023x767(quality, mode, subsampling):
    assert_decodes_like_pillow(pillow_jpeg(photo(mode, (1023, 767)),
                                           quality=quality, subsampling=subsampling))


@pytest.mark.parametrize("mode,subsampling", CONFIGS)
@pytest.mark.parametrize("options", [dict(optimize=True),
                                     dict(restart_marker_blocks=1),
                                     dict(restart_marker_blocks=5, optimize=True),
                                     dict(restart_marker_rows=2)])
def test_pillow_files_optimized_and_restarts(options, mode, subsampling):
    assert_decodes_like_pillow(pillow_jpeg(photo(mode)[:77, :101], quality=70,
                                           subsampling=subsampling, **options))


@settings(max_examples=40, deadline=None)
@given(quality=st.integers(1, 100), height=st.integers(1, 48),
       width=st.integers(1, 48), config=st.sampled_from(CONFIGS),
       restart=st.integers(0, 3), seed=st.integers(0, 2**16))
def test_random_pillow_files(quality, height, width, config, restart, seed):
    mode, subsampling = config
    rng = np.random.default_rng(seed)
    shape = (height, width, 3) if mode == "RGB" else (height, width)
    pixels = rng.integers(0, 256, shape, dtype=np.uint8)
    assert_decodes_like_pillow(pillow_jpeg(pixels, quality=quality,
                                           subsampling=subsampling,
                                           restart_marker_blocks=restart))


# ---------------------------------------------------------------------------
# Crafted files: any sampling factors, several scans, colour-space signals.
# ---------------------------------------------------------------------------


def ceil_div(a, b):
    return -(-a // b)


def _blocks(plane, rows, cols):
    """Edge-pad a plane to rows x cols blocks; return (rows*cols, 8, 8)."""
    padded = np.pad(plane, ((0, max(0, 8 * rows - plane.shape[0])),
                            (0, max(0, 8 * cols - plane.shape[1]))), mode="edge")
    padded = padded[:8 * rows, :8 * cols]
    return padded.reshape(rows, 8, cols, 8).transpose(0, 2, 1, 3).reshape(-1, 8, 8)


def craft_jpeg(rgb, factors, quality=75, restart_interval=0, interleaved=True,
               ids=(1, 2, 3), jfif=True, adobe_transform=None, convert=True):
    """A valid sequential JPEG with arbitrary sampling factors.

    Component planes are the YCbCr (or raw RGB) planes decimated by plain
    subsampling; the exact content does not matter, only that the stream is
    valid, because Pillow decodes it as the reference.
    """
    height, width = rgb.shape[:2]
    planes = rjpeg.rgb_to_ycbcr(rgb) if convert else [rgb[..., i] for i in range(3)]
    h_max, v_max = max(f[0] for f in factors), max(f[1] for f in factors)
    qtables = rjpeg.quant_tables_for_quality(quality)
    comps = [FrameComponent(ids[i], h, v, min(i, 1)) for i, (h, v) in enumerate(factors)]
    mcus_x, mcus_y = ceil_div(width, 8 * h_max), ceil_div(height, 8 * v_max)
    coded = []
    for plane, c in zip(planes, comps):
        small = plane[::v_max // c.v, ::h_max // c.h]
        if interleaved:
            rows, cols = mcus_y * c.v, mcus_x * c.h
        else:
            rows = ceil_div(height * c.v, 8 * v_max)
            cols = ceil_div(width * c.h, 8 * h_max)
        blocks = rjpeg.level_shift(_blocks(small, rows, cols))
        zz = rjpeg.to_zigzag(rjpeg.quantize(rjpeg.forward_dct(blocks),
                                            qtables[c.tq]))
        coded.append(zz.reshape(rows, cols, 64))
    std = {0: (rjpeg.STD_DC_LUMINANCE, rjpeg.STD_AC_LUMINANCE),
           1: (rjpeg.STD_DC_CHROMINANCE, rjpeg.STD_AC_CHROMINANCE)}
    tables = {t: (huffman.HuffmanTable(dc, True), huffman.HuffmanTable(ac, False))
              for t, (dc, ac) in std.items()}
    out = [markers.write_soi()]
    if jfif:
        out.append(markers.write_app0_jfif())
    if adobe_transform is not None:
        out.append(b"\xff\xee\x00\x0eAdobe\x00\x64\x00\x00\x00\x00"
                   + bytes([adobe_transform]))
    out += [markers.write_dqt(0, qtables[0]), markers.write_dqt(1, qtables[1]),
            markers.write_sof(height, width, comps)]
    for t, (dc, ac) in std.items():
        out += [markers.write_dht(0, t, dc), markers.write_dht(1, t, ac)]
    if restart_interval:
        out.append(markers.write_dri(restart_interval))
    scans = [list(range(3))] if interleaved else [[0], [1], [2]]
    for members in scans:
        if len(members) == 1:
            i = members[0]
            blocks = coded[i].reshape(-1, 64)
            pattern = [0]
        else:
            per_mcu, pattern = [], []
            for j in members:
                c = comps[j]
                g = coded[j].reshape(mcus_y, c.v, mcus_x, c.h, 64)
                per_mcu.append(g.transpose(0, 2, 1, 3, 4).reshape(mcus_y * mcus_x,
                                                                   c.h * c.v, 64))
                pattern += [j] * (c.h * c.v)
            blocks = np.concatenate(per_mcu, axis=1).reshape(-1, 64)
        bpm = len(pattern)
        comp_of = np.tile(np.array([members.index(p) if len(members) > 1 else 0
                                    for p in pattern]), len(blocks) // bpm)
        symbols = huffman.run_length_symbols(blocks, comp_of, bpm, restart_interval)
        dc_t = [tables[min(j, 1)][0] for j in members]
        ac_t = [tables[min(j, 1)][1] for j in members]
        code, length = huffman.assign_codes(symbols, dc_t, ac_t)
        out.append(markers.write_sos([ScanComponent(comps[j].ident, min(j, 1),
                                                    min(j, 1)) for j in members]))
        out.append(huffman.encode_segments(symbols, code, length, bpm,
                                           restart_interval))
    out.append(markers.write_eoi())
    return b"".join(out)


SAMPLINGS = [
    [(1, 2), (1, 1), (1, 1)],  # 4:4:0 -> h1v2 fancy upsampling
    [(4, 1), (1, 1), (1, 1)],  # 4:1:1 -> generic 4x1 replication
    [(3, 1), (1, 1), (1, 1)],  # 3x1 -> generic replication
    [(4, 2), (1, 1), (1, 1)],  # 4x2 -> generic replication
    [(2, 2), (1, 1), (2, 2)],  # Cr at full size
    [(2, 1), (1, 2), (1, 1)],  # h1v2, h2v1 and h2v2 in one image
    [(1, 1), (2, 2), (2, 2)],  # luma is the subsampled component
    [(4, 1), (2, 1), (2, 1)],  # ratio 2 from factors 4 and 2
]


@pytest.mark.parametrize("factors", SAMPLINGS)
@pytest.mark.parametrize("height,width", [(37, 53), (16, 16), (5, 3), (1, 1),
                                          (2, 9), (9, 2), (64, 3)])
def test_crafted_sampling_factors(factors, height, width):
    rgb = photo()[:height, :width]
    assert_decodes_like_pillow(craft_jpeg(rgb, factors))


@pytest.mark.parametrize("factors", [[(2, 2), (1, 1), (1, 1)],
                                     [(4, 4), (1, 1), (1, 1)],
                                     [(1, 1), (1, 1), (1, 1)],
                                     [(3, 2), (1, 2), (3, 1)]])
@pytest.mark.parametrize("restart_interval", [0, 1, 7])
def test_crafted_one_scan_per_component(factors, restart_interval):
    rgb = photo()[:45, :70]
    assert_decodes_like_pillow(craft_jpeg(rgb, factors, interleaved=False,
                                          restart_interval=restart_interval))


@pytest.mark.parametrize("restart_interval", [1, 2, 3, 9, 100])
def test_crafted_restart_intervals(restart_interval):
    rgb = photo()[:50, :90]
    assert_decodes_like_pillow(craft_jpeg(rgb, [(2, 1), (1, 1), (1, 1)],
                                          restart_interval=restart_interval))


@pytest.mark.parametrize("signals,is_rgb", [
    (dict(jfif=False, ids=(82, 71, 66)), True),  # 'R','G','B' ids
    (dict(jfif=False, adobe_transform=0), True),  # Adobe: no transform
    (dict(jfif=False, adobe_transform=1), False),  # Adobe: YCbCr
    (dict(jfif=False, ids=(1, 2, 3)), False),  # JFIF-style ids
    (dict(jfif=False, ids=(7, 8, 9)), False),  # unknown ids: YCbCr
    (dict(jfif=True, ids=(82, 71, 66)), False),  # JFIF wins
])
def test_colour_space_guess(signals, is_rgb):
    rgb = photo()[:24, :40]
    data = craft_jpeg(rgb, [(1, 1), (1, 1), (1, 1)], convert=not is_rgb,
                      **signals)
    assert_decodes_like_pillow(data)
