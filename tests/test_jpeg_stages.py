"""Pipeline stages: tables, colour, sampling, DCT, quantization, traces.

Expected values come from T.81 (Figure A.6, Annex K), hand arithmetic with
libjpeg's published formulas (shown next to each value), Pillow's files, or
a slow float DCT used only as a stated error bound.
"""

import io

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from PIL import Image

import refimpl.jpeg as rjpeg
from refimpl.jpeg import color, dct

from jpeg_oracle import photo, pillow_jpeg


# --- tables ---------------------------------------------------------------


def test_zigzag_matches_a_diagonal_walk():
    """Figure A.6: walk the anti-diagonals, alternating direction."""
    order = []
    for s in range(15):
        cells = [(v, s - v) for v in range(8) if 0 <= s - v < 8]
        order += cells if s % 2 else cells[::-1]
    expected = [8 * v + u for v, u in order]
    assert list(rjpeg.NATURAL_ORDER) == expected
    assert list(rjpeg.ZIGZAG_INDEX[rjpeg.NATURAL_ORDER]) == list(range(64))


@pytest.mark.parametrize("quality,scale", [(1, 5000), (10, 500), (25, 200),
                                           (49, 102), (50, 100), (75, 50),
                                           (99, 2), (100, 0)])
def test_quality_scaling(quality, scale):
    # jcparam.c: 5000 / Q below 50, else 200 - 2 Q (integer division).
    assert rjpeg.quality_scaling(quality) == scale


def test_quant_tables_hand_values():
    lum50, chrom50 = rjpeg.quant_tables_for_quality(50)
    assert list(lum50) == list(rjpeg.STD_LUMINANCE_QUANT)  # scale 100 = Table K.1
    assert list(chrom50) == list(rjpeg.STD_CHROMINANCE_QUANT)  # Table K.2
    assert set(rjpeg.quant_tables_for_quality(100)[0]) == {1}  # scale 0 -> 1
    assert set(rjpeg.quant_tables_for_quality(1)[1]) == {255}  # clamped
    # Q75: (16 * 50 + 50) // 100 = 8; (99 * 50 + 50) // 100 = 50.
    assert rjpeg.quant_tables_for_quality(75)[0][0] == 8
    assert rjpeg.quant_tables_for_quality(75)[1][63] == 50
    # Q23: scale 5000 // 23 = 217; 121 * 217 + 50 = 26307 -> 263 -> clamp 255.
    assert rjpeg.quant_tables_for_quality(23)[0][6 * 8 + 5] == 255
    # Q24: scale 208; 121 * 208 + 50 = 25218 -> 252, the largest luma entry.
    assert rjpeg.quant_tables_for_quality(24)[0].max() == 252


@pytest.mark.parametrize("quality", range(1, 101))
def test_quant_tables_equal_pillows(quality):
    image = Image.open(io.BytesIO(pillow_jpeg(photo()[:8, :8], quality=quality)))
    lum, chrom = rjpeg.quant_tables_for_quality(quality)
    assert list(image.quantization[0]) == list(lum)
    assert list(image.quantization[1]) == list(chrom)


@pytest.mark.parametrize("bad", [0, 101, -5, 75.0, "75", True, None])
def test_quality_out_of_range_is_rejected(bad):
    with pytest.raises(rjpeg.JpegError):
        rjpeg.quant_tables_for_quality(bad)


# --- colour conversion and sampling ---------------------------------------


def test_rgb_to_ycbcr_hand_values():
    rgb = np.array([[[255, 0, 0], [0, 0, 0], [255, 255, 255], [0, 0, 255]]],
                   dtype=np.uint8)
    y, cb, cr = rjpeg.rgb_to_ycbcr(rgb)
    # Red:  Y  = (19595*255 + 32768) >> 16 = 5029493 >> 16 = 76
    #       Cb = (-11059*255 + 8388608 + 32767) >> 16 = 5601330 >> 16 = 85
    #       Cr = (32768*255 + 8421375) >> 16 = 16777215 >> 16 = 255
    # Black: (0, 8421375 >> 16 = 128, 128); white: the weights of Cb and Cr
    # sum to 0, Y's to 65536: (255, 128, 128).
    # Blue: Y = (7471*255 + 32768) >> 16 = 1937873 >> 16 = 29,
    #       Cb = 255, Cr = (-5329*255 + 8421375) >> 16 = 7062480 >> 16 = 107.
    assert y.tolist() == [[76, 0, 255, 29]]
    assert cb.tolist() == [[85, 128, 128, 255]]
    assert cr.tolist() == [[255, 128, 128, 107]]


def test_ycbcr_to_rgb_hand_values():
    y = np.array([[76, 128]], dtype=np.uint8)
    cb = np.array([[85, 128]], dtype=np.uint8)
    cr = np.array([[255, 128]], dtype=np.uint8)
    # R = 76 + ((91881*127 + 32768) >> 16) = 76 + 178 = 254
    # G = 76 + ((-22554*(-43) + 32768 - 46802*127) >> 16) = 76 + (-4941264 >> 16)
    #   = 76 - 76 = 0;  B = 76 + ((116130*(-43) + 32768) >> 16) = 76 - 76 = 0
    assert rjpeg.ycbcr_to_rgb(y, cb, cr).tolist() == [[[254, 0, 0], [128, 128, 128]]]


def test_downsample_bias_pattern():
    row = np.array([[1, 2, 1, 2, 1, 2]], dtype=np.uint8)
    # h2v1: (a + b + bias) >> 1 with bias 0, 1, 0: 3 >> 1, 4 >> 1, 3 >> 1
    assert color.downsample(row, 2, 1).tolist() == [[1, 2, 1]]
    block = np.array([[1, 1, 1, 1], [0, 0, 0, 0]], dtype=np.uint8)
    # h2v2: (2 + bias) >> 2 with bias 1, 2: 3 >> 2 = 0, 4 >> 2 = 1
    assert color.downsample(block, 2, 2).tolist() == [[0, 1]]


def test_fancy_upsampling_hand_values():
    x = np.array([[0, 4, 8]], dtype=np.uint8)
    # h2v1: first = 0; (3*0 + 4 + 2) >> 2 = 1; (12 + 0 + 1) >> 2 = 3;
    # (12 + 8 + 2) >> 2 = 5; (24 + 4 + 1) >> 2 = 7; last = 8.
    assert color.upsample(x, 2, 1, 1, 6).tolist() == [[0, 1, 3, 5, 7, 8]]
    col = np.array([[0], [4]], dtype=np.uint8)
    # h1v2: rows (3*0 + 0 + 1) >> 2 = 0, (0 + 4 + 2) >> 2 = 1,
    #            (12 + 0 + 1) >> 2 = 3, (12 + 4 + 2) >> 2 = 4.
    assert color.upsample(col, 1, 2, 4, 1).ravel().tolist() == [0, 1, 3, 4]
    sq = np.array([[0, 16, 32], [16, 32, 48]], dtype=np.uint8)
    # h2v2, first output row: column sums 3*row0 + row0 (top edge) = 4*row0
    # = [0, 64, 128]; outputs (4*0 + 8) >> 4 = 0, (0 + 64 + 7) >> 4 = 4,
    # (192 + 0 + 8) >> 4 = 12, (192 + 128 + 7) >> 4 = 20, (384 + 64 + 8) >> 4 = 28,
    # (4*128 + 7) >> 4 = 32.
    assert color.upsample(sq, 2, 2, 4, 6)[0].tolist() == [0, 4, 12, 20, 28, 32]


def test_narrow_components_use_replication():
    """jdsample.c: fancy h2v1/h2v2 only when downsampled_width > 2."""
    x = np.array([[10, 50]], dtype=np.uint8)
    assert color.upsample(x, 2, 1, 1, 4).tolist() == [[10, 10, 50, 50]]


# --- DCT and quantization -------------------------------------------------


def _float_dct_matrix():
    k, n = np.meshgrid(np.arange(8), np.arange(8), indexing="ij")
    scale = np.where(k == 0, np.sqrt(1 / 8), np.sqrt(2 / 8))
    return scale * np.cos((2 * n + 1) * k * np.pi / 16)


def test_forward_dct_close_to_float_dct():
    """Sanity bound: islow = 8 x orthonormal DCT within 2 units (0.25 true)."""
    rng = np.random.default_rng(1)
    x = rng.integers(-128, 128, (3000, 8, 8))
    x[:500] = np.where(rng.random((500, 8, 8)) < 0.5, -128, 127)
    c = _float_dct_matrix()
    reference = 8 * np.einsum("vy,byx,ux->bvu", c, x.astype(float), c)
    assert np.abs(rjpeg.forward_dct(x) - reference).max() <= 2


def test_inverse_dct_close_to_float_idct():
    """Sanity bound: islow IDCT within 1 of the rounded float IDCT."""
    rng = np.random.default_rng(2)
    coef = np.round(rng.normal(0, 60, (3000, 8, 8)) / (1 + np.arange(8)[:, None]
                                                        + np.arange(8))).astype(int)
    c = _float_dct_matrix()
    reference = np.einsum("vy,bvu,ux->byx", c, coef.astype(float), c)
    expected = np.clip(np.round(reference) + 128, 0, 255)
    ours = rjpeg.inverse_dct(coef, np.ones(64, dtype=int)).astype(int)
    assert np.abs(ours - expected).max() <= 1


def test_dct_hand_values_flat_block():
    # A flat block of value a: pass 1 gives 8a << 2 = 32a in column 0; pass 2
    # gives DESCALE(8 * 32a * 8192, 15) = 64a at DC and 0 elsewhere.
    x = np.full((1, 8, 8), 8, dtype=np.int16)
    out = rjpeg.forward_dct(x)
    assert out[0, 0, 0] == 512 and np.count_nonzero(out) == 1
    # Quantized with Q = 16: (512 + 64) // 128 = 4; back: DC 4 * 16 = 64 ->
    # pass 1: 64 << 2 = 256; pass 2: (256 * 8192 + 2**17) >> 18 = 8 -> 136.
    q = rjpeg.quantize(out, np.full(64, 16))
    assert q[0, 0, 0] == 4
    assert set(rjpeg.inverse_dct(q, np.full(64, 16)).ravel()) == {136}


def test_quantize_rounds_half_away_from_zero():
    # d = 8 * Q = 8: (|c| + 4) // 8 with the sign restored.
    c = np.array([4, -4, 3, -3, 12, -12, 11, -11], dtype=np.int32)
    out = rjpeg.quantize(np.tile(c, 8).reshape(1, 8, 8), np.ones(64))
    assert out.reshape(-1)[:8].tolist() == [1, -1, 0, 0, 2, -2, 1, -1]


def test_quantizer_equals_libjpeg_turbo_reciprocal_method():
    """libjpeg-turbo's 8-bit quantizer (jcdctmgr.c compute_reciprocal /
    quantize) multiplies by a reciprocal instead of dividing.  Recompute it
    here for every divisor 8*Q (Q = 1..255) and every |c| < 2**15 and check
    that it equals our rounded division."""
    magnitude = np.arange(1 << 15, dtype=np.int64)
    for q in range(1, 256):
        d = q << 3
        b = d.bit_length() - 1  # flss(divisor) - 1
        r = 16 + b  # sizeof(DCTELEM) * 8 + b
        fq, fr = divmod(1 << r, d)
        c = d // 2
        if fr == 0:  # power of two
            fq >>= 1
            r -= 1
        elif fr <= d // 2:
            c += 1
        else:
            fq += 1
        reciprocal = ((magnitude + c) * fq) >> r
        coef = np.zeros((len(magnitude) // 64, 8, 8), dtype=np.int64)
        coef.reshape(-1)[:] = magnitude
        ours = rjpeg.quantize(coef, np.full(64, q)).reshape(-1)
        assert np.array_equal(ours, reciprocal)
        assert np.array_equal(rjpeg.quantize(-coef, np.full(64, q)).reshape(-1),
                              -reciprocal)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), quality=st.integers(1, 100),
       rows=st.integers(1, 5), cols=st.integers(1, 5))
def test_fast_plane_paths_equal_block_functions(seed, quality, rows, cols):
    rng = np.random.default_rng(seed)
    plane = rng.integers(0, 256, (8 * rows, 8 * cols), dtype=np.uint8)
    if seed % 3 == 0:
        plane = np.where(plane < 128, 0, 255).astype(np.uint8)  # extremes
    q = rjpeg.quant_tables_for_quality(quality)[seed % 2]
    blocks = plane.reshape(rows, 8, cols, 8).transpose(0, 2, 1, 3).reshape(-1, 8, 8)
    zz = rjpeg.to_zigzag(rjpeg.quantize(rjpeg.forward_dct(rjpeg.level_shift(blocks)),
                                        q))
    assert np.array_equal(dct.fdct_quantize_plane(plane, q), zz)
    # Inverse: the plane layout [by, v, bx, u] with the DC offset added.
    natural = rjpeg.from_zigzag(zz)
    grid = (natural.astype(np.int64) * q.reshape(8, 8)).astype(np.float64)
    grid = grid.reshape(rows, cols, 8, 8).transpose(0, 2, 1, 3).copy()
    grid[:, 0, :, 0] += dct.IDCT_DC_OFFSET
    pixels = rjpeg.inverse_dct(natural, q)
    expected = pixels.reshape(rows, cols, 8, 8).transpose(0, 2, 1, 3)
    assert np.array_equal(dct.idct_plane(grid), expected.reshape(8 * rows, 8 * cols))


def test_idct_range_limit_wraps_like_libjpeg():
    """jdmaster.c: the IDCT output x indexes ``x & 1023`` of a table mapping
    10-bit two's complement [-512, 512) to clamp(x + 128, 0, 255).

    A lone DC coefficient c with table entry 8 gives z = 8c; pass 1 makes
    every column-0 value z * 2**13 >> 11 = 4z, pass 2 (4z * 2**13 + 2**17)
    >> 18 = round(z / 8) = c.  So x = c for every sample.
    """
    def sample(c):
        coef = np.zeros((1, 8, 8), dtype=np.int64)
        coef[0, 0, 0] = c
        block = rjpeg.inverse_dct(coef, np.full(64, 8))
        assert len(set(block.ravel())) == 1
        return int(block[0, 0, 0])

    assert sample(100) == 228  # in range: 100 + 128
    assert sample(400) == 255  # 400 in [128, 512): clamps high
    assert sample(600) == 0  # 600 - 1024 = -424: clamps low
    assert sample(1000) == 104  # 1000 - 1024 = -24: -24 + 128
    assert sample(-1000) == 152  # -1000 + 1024 = 24: 24 + 128


# --- encoder trace ----------------------------------------------------------


@pytest.mark.parametrize("mode,subsampling", [("L", "4:4:4"), ("RGB", "4:2:0"),
                                              ("RGB", "4:2:2")])
def test_trace_coefficients_equal_those_in_pillows_file(mode, subsampling):
    pixels = photo(mode)[:53, :70]
    trace = rjpeg.trace_encoder(pixels, quality=80, subsampling=subsampling)
    theirs = pillow_jpeg(pixels, quality=80, subsampling=subsampling)
    assert trace.jpeg == theirs
    recovered = rjpeg.read_coefficients(theirs)
    for comp, coefs in zip(trace.components, recovered):
        assert np.array_equal(comp.quantized, coefs.reshape(-1, 64))
        assert np.array_equal(comp.level_shifted, comp.samples.reshape(
            -1, 8, comp.samples.shape[1] // 8, 8).transpose(0, 2, 1, 3)
            .reshape(-1, 8, 8).astype(np.int16) - 128)


def test_trace_entropy_segment_hand_derived():
    """Two 8x8 blocks at quality 50: 128 (all zero after the level shift) and
    136 (DC = 64 * 8 = 512, quantized (512 + 64) // 128 = 4).
    Bits: DC 0 '00' + EOB '1010'; DC diff 4: category 3 '100' + '100' + EOB
    '1010' -> 0010 1010 0100 1010 = 0x2A 0x4A (Tables K.3 and K.5)."""
    pixels = np.full((8, 16), 128, dtype=np.uint8)
    pixels[:, 8:] = 136
    trace = rjpeg.trace_encoder(pixels, quality=50, subsampling="4:4:4")
    assert trace.entropy_unstuffed == b"\x2a\x4a"
    assert trace.entropy_stuffed == b"\x2a\x4a"
    assert trace.symbols.symbol.tolist() == [0, 0x00, 3, 0x00]
    assert trace.code.tolist() == [0b00, 0b1010, 0b100, 0b1010]
    assert trace.code_length.tolist() == [2, 4, 3, 4]
    theirs = pillow_jpeg(pixels, quality=50, subsampling="4:4:4")
    assert theirs.endswith(b"\x2a\x4a\xff\xd9")


def test_trace_padding_hand_derived():
    """A flat 8x8 block of 128 at quality 50 codes as DC '00', EOB '1010'
    and 1-bit padding '11': 0x2B.  A black block: DC 64 * -128 = -8192,
    quantized -(8192 + 64) // 128 = -64, category 7 '11110' (Table K.3),
    magnitude bits of -64 - 1 in 7 bits '0111111', EOB '1010':
    1111 0011 1111 1010 = 0xF3 0xFA."""
    flat = np.full((8, 8), 128, dtype=np.uint8)
    assert rjpeg.trace_encoder(flat, quality=50).entropy_unstuffed == b"\x2b"
    black = np.zeros((8, 8), dtype=np.uint8)
    trace = rjpeg.trace_encoder(black, quality=50, subsampling="4:4:4")
    assert trace.entropy_unstuffed == b"\xf3\xfa"
    assert trace.jpeg == pillow_jpeg(black, quality=50, subsampling="4:4:4")


@pytest.mark.parametrize("restart", [0, 3])
def test_trace_stuffing_of_photo(restart):
    pixels = photo()
    trace = rjpeg.trace_encoder(pixels, quality=95, restart_interval=restart)
    segment = 0
    # Independent unstuffing: 0xFF 0x00 is a data byte 0xFF (F.1.2.3), RSTm
    # markers (m cycling 0..7) separate segments and carry no data.
    stuffed = trace.entropy_stuffed
    unstuffed = bytearray()
    i = 0
    while i < len(stuffed):
        byte = stuffed[i]
        if byte == 0xFF and stuffed[i + 1] == 0x00:
            unstuffed.append(0xFF)
            i += 2
        elif byte == 0xFF and 0xD0 <= stuffed[i + 1] <= 0xD7:
            assert stuffed[i + 1] == 0xD0 + segment % 8
            segment += 1
            i += 2
        else:
            assert byte != 0xFF
            unstuffed.append(byte)
            i += 1
    assert bytes(unstuffed) == trace.entropy_unstuffed
    assert 0xFF in unstuffed  # the case is exercised
    theirs = pillow_jpeg(pixels, quality=95, restart_marker_blocks=restart)
    assert theirs.endswith(stuffed + b"\xff\xd9")
