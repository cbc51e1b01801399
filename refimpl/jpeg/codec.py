"""Baseline JPEG encode/decode orchestration, byte-exact with libjpeg-turbo.

The encoder reproduces what Pillow's ``Image.save(f, "JPEG", quality=Q,
subsampling=S, optimize=O, restart_marker_blocks=R)`` writes through
libjpeg-turbo: JFIF APP0, one DQT per table, SOF0, one DHT per table, an
optional DRI, a single interleaved (colour) or non-interleaved (grey) scan,
EOI.  The decoder reproduces libjpeg-turbo's default decompression (islow
IDCT, fancy upsampling, YCbCr -> RGB) as Pillow returns it.

Component layout (T.81 A.2, libjpeg jdinput.c/jcmaster.c): component ``c``
with sampling factors (h, v) in a frame with maxima (Hmax, Vmax) has
``width_in_blocks = ceil(W * h / (8 * Hmax))`` and ``height_in_blocks =
ceil(H * v / (8 * Vmax))``.  An interleaved scan has ``ceil(W / (8 Hmax))`` x
``ceil(H / (8 Vmax))`` MCUs of h x v blocks per component; blocks outside the
component are "dummy" blocks which libjpeg's coefficient controller
(jccoefct.c) codes with AC = 0 and DC = the DC of the block to their left
(right edge) or of the last block of the row above in the same MCU (bottom).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from . import blockscan
from . import huffman as hf
from .bands import colour_bands, idct_band
from .color import ceil_div, encoder_component_plane, rgb_to_ycbcr
from .dct import fdct_quantize_plane, forward_dct, level_shift, quantize, to_zigzag
from .errors import JpegError
from .scan import coefficient_grid, component_bands, component_size
from .markers import (MAX_PIXELS, FrameComponent, ScanComponent,
                      dimension_error, parse_jpeg, write_app0_jfif, write_dht, write_dqt,
                      write_dri, write_eoi, write_soi, write_sof, write_sos)
from .tables import (BLOCK, BLOCK_SIZE, NATURAL_ORDER, STD_AC_CHROMINANCE,
                     STD_AC_LUMINANCE, STD_DC_CHROMINANCE, STD_DC_LUMINANCE,
                     quant_tables_for_quality)

__all__ = [
    "SUBSAMPLING",
    "encode",
    "decode",
    "EncoderTrace",
    "ComponentTrace",
    "trace_encoder",
    "read_coefficients",
    "encode_entropy",
    "decode_entropy",
]

# Luminance sampling factors for Pillow's subsampling names (JpegEncode.c);
# chrominance is always 1x1.
SUBSAMPLING = {"4:4:4": (1, 1), "4:2:2": (2, 1), "4:2:0": (2, 2)}

MAX_RESTART_INTERVAL = 0xFFFF  # DRI holds 16 bits (T.81 B.2.4.4)

_STD_TABLES = {
    "dc0": hf.HuffmanTable(STD_DC_LUMINANCE, True),
    "ac0": hf.HuffmanTable(STD_AC_LUMINANCE, False),
    "dc1": hf.HuffmanTable(STD_DC_CHROMINANCE, True),
    "ac1": hf.HuffmanTable(STD_AC_CHROMINANCE, False),
}


# ---------------------------------------------------------------------------
# Encoder
# ---------------------------------------------------------------------------


def _check_image(array) -> np.ndarray:
    if not isinstance(array, np.ndarray):
        raise JpegError(f"expected a numpy array, got {type(array).__name__}")
    if array.dtype != np.uint8:
        raise JpegError(f"expected dtype uint8, got {array.dtype}")
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 3)):
        raise JpegError(f"expected shape (H, W) or (H, W, 3), got {array.shape}")
    height, width = array.shape[:2]
    if not (height >= 1 and width >= 1):
        raise JpegError(f"image size {width}x{height}: empty image")
    too_big = dimension_error(width, height)
    if too_big is not None:
        raise too_big
    if height * width > MAX_PIXELS:
        raise JpegError(f"image too large: {width}x{height} exceeds the cap of "
                        f"{MAX_PIXELS} pixels")
    return np.ascontiguousarray(array)


def _check_flag(name: str, value) -> bool:
    """A boolean option: only True/False (numpy's too); "no", 0 or None are errors."""
    if not isinstance(value, (bool, np.bool_)):
        raise JpegError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _luma_sampling(subsampling, grey: bool) -> tuple[int, int]:
    if subsampling is None:  # Pillow default: libjpeg's 2x2, 1x1 for grey
        return (1, 1) if grey else (2, 2)
    if not isinstance(subsampling, str) or subsampling not in SUBSAMPLING:
        raise JpegError(f"subsampling must be one of {sorted(SUBSAMPLING)} or "
                        f"None, got {subsampling!r}")
    return SUBSAMPLING[subsampling]


@dataclass
class _Layout:
    """Frame and scan geometry of the encoder's single scan."""

    height: int
    width: int
    components: list  # FrameComponent
    h_max: int
    v_max: int
    mcus_per_row: int
    mcu_rows: int
    interleaved: bool

    @property
    def blocks_per_mcu(self) -> int:
        if not self.interleaved:
            return 1
        return sum(c.h * c.v for c in self.components)

    def blocks_wide(self, c: FrameComponent) -> int:
        return ceil_div(self.width * c.h, BLOCK * self.h_max)

    def blocks_high(self, c: FrameComponent) -> int:
        return ceil_div(self.height * c.v, BLOCK * self.v_max)


def _encoder_layout(height: int, width: int, grey: bool, h: int, v: int) -> _Layout:
    if grey:
        comps = [FrameComponent(1, h, v, 0)]
    else:  # jcparam.c jpeg_set_colorspace(JCS_YCbCr): ids 1, 2, 3
        comps = [FrameComponent(1, h, v, 0), FrameComponent(2, 1, 1, 1),
                 FrameComponent(3, 1, 1, 1)]
    h_max, v_max = h, v
    if grey:  # one non-interleaved scan: an MCU is one block
        mcus_per_row = ceil_div(width * h, BLOCK * h_max)
        mcu_rows = ceil_div(height * v, BLOCK * v_max)
    else:
        mcus_per_row = ceil_div(width, BLOCK * h_max)
        mcu_rows = ceil_div(height, BLOCK * v_max)
    return _Layout(height, width, comps, h_max, v_max, mcus_per_row, mcu_rows,
                   not grey)


def _component_planes(array: np.ndarray, layout: _Layout) -> list[np.ndarray]:
    """Padded (and downsampled) sample plane of each component.

    Returns a list of ndarray, shape (8 * height_in_blocks, 8 *
    width_in_blocks), dtype uint8, one per component.
    """
    planes = [array] if array.ndim == 2 else rgb_to_ycbcr(array)
    out = []
    for plane, c in zip(planes, layout.components):
        # A non-interleaved component's iMCU row is v block rows high.
        imcu_rows = layout.mcu_rows if layout.interleaved \
            else ceil_div(layout.mcu_rows, c.v)
        padded = encoder_component_plane(plane, c.h, c.v, layout.h_max,
                                         layout.v_max, imcu_rows)
        out.append(padded[:BLOCK * layout.blocks_high(c)])
    return out


def _mcu_grid(coef: np.ndarray, c: FrameComponent, layout: _Layout) -> np.ndarray:
    """Blocks of one component padded with dummy blocks to whole MCUs.

    Parameters
    ----------
    coef : ndarray, shape (rows, cols, 64), int16
        The component's real blocks (zig-zag order).
    c : FrameComponent
    layout : _Layout

    Returns
    -------
    ndarray, shape (mcu_rows * v, mcus_per_row * h, 64), int16
    """
    rows, cols = coef.shape[:2]
    full_rows, full_cols = layout.mcu_rows * c.v, layout.mcus_per_row * c.h
    if (rows, cols) == (full_rows, full_cols):
        return coef
    grid = np.zeros((full_rows, full_cols, BLOCK_SIZE), dtype=coef.dtype)
    grid[:rows, :cols] = coef
    # Right edge: DC of the last real block in the row (jccoefct.c).
    grid[:rows, cols:, 0] = coef[:, cols - 1:cols, 0]
    # Bottom: DC of the last block (rightmost in the MCU) of the row above.
    last_in_mcu = grid[rows - 1, c.h - 1::c.h, 0]
    grid[rows:, :, 0] = np.repeat(last_in_mcu, c.h)[None, :]
    return grid


def _scan_order(grids: list[np.ndarray], layout: _Layout):
    """Blocks of all components in MCU order, and each block's component."""
    if not layout.interleaved:
        blocks = grids[0].reshape(-1, BLOCK_SIZE)
        return blocks, np.zeros(len(blocks), dtype=np.int64)
    n_mcu = layout.mcu_rows * layout.mcus_per_row
    parts, pattern = [], []
    for index, (grid, c) in enumerate(zip(grids, layout.components)):
        g = grid.reshape(layout.mcu_rows, c.v, layout.mcus_per_row, c.h, BLOCK_SIZE)
        parts.append(g.transpose(0, 2, 1, 3, 4).reshape(n_mcu, c.h * c.v,
                                                        BLOCK_SIZE))
        pattern += [index] * (c.h * c.v)
    blocks = np.concatenate(parts, axis=1).reshape(-1, BLOCK_SIZE)
    return blocks, np.tile(np.array(pattern, dtype=np.int64), n_mcu)


def _restart_interval(layout: _Layout, restart_interval, restart_rows) -> int:
    for name, value in (("restart_interval", restart_interval),
                        ("restart_rows", restart_rows)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
                or not 0 <= value <= MAX_RESTART_INTERVAL:
            raise JpegError(f"{name} must be an integer in 0..65535, got {value!r}")
    if restart_rows:  # jcmaster.c: restart_in_rows overrides, capped at 65535
        return min(int(restart_rows) * layout.mcus_per_row, MAX_RESTART_INTERVAL)
    return int(restart_interval)


def _component_tables(symbols: hf.Symbols, n_comps: int, optimize: bool):
    """DC and AC Huffman table of each scan component (Y: 0, chroma: 1)."""
    table_no = [0] + [1] * (n_comps - 1)
    if not optimize:
        return ([_STD_TABLES[f"dc{t}"] for t in table_no],
                [_STD_TABLES[f"ac{t}"] for t in table_no])
    dc_freq, ac_freq = hf.symbol_frequencies(symbols, n_comps)
    dc_tables, ac_tables = {}, {}
    for t in sorted(set(table_no)):  # jchuff.c: counts are per table number
        members = [i for i, n in enumerate(table_no) if n == t]
        dc_tables[t] = hf.optimal_table(dc_freq[members].sum(axis=0), True)
        ac_tables[t] = hf.optimal_table(ac_freq[members].sum(axis=0), False)
    return [dc_tables[t] for t in table_no], [ac_tables[t] for t in table_no]


def _headers(layout: _Layout, qtables, dc_tables, ac_tables, interval: int) -> bytes:
    """SOI through SOS, in jcmarker.c's order."""
    out = [write_soi(), write_app0_jfif()]
    for t in sorted({c.tq for c in layout.components}):
        out.append(write_dqt(t, qtables[t]))
    out.append(write_sof(layout.height, layout.width, layout.components))
    table_no = [c.tq for c in layout.components]  # Huffman no. = quant no. here
    sent = set()
    for t, dc, ac in zip(table_no, dc_tables, ac_tables):
        for cls, table in ((0, dc), (1, ac)):
            if (cls, t) not in sent:
                out.append(write_dht(cls, t, table.spec))
                sent.add((cls, t))
    if interval:
        out.append(write_dri(interval))
    out.append(write_sos([ScanComponent(c.ident, t, t)
                          for c, t in zip(layout.components, table_no)]))
    return b"".join(out)


def _quant_tables(quality):
    """:func:`quant_tables_for_quality`, cached (read-only arrays) per quality."""
    if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)):
        return quant_tables_for_quality(quality)  # raises the JpegError
    return _cached_quant_tables(int(quality))


@functools.lru_cache(maxsize=128)
def _cached_quant_tables(quality: int):
    tables = quant_tables_for_quality(quality)
    for table in tables:
        table.setflags(write=False)
    return tables


@functools.lru_cache(maxsize=64)
def _standard_headers(height: int, width: int, grey: bool, h: int, v: int,
                      quality: int, interval: int) -> bytes:
    """:func:`_headers` of a file with the standard Huffman tables (cached)."""
    layout = _encoder_layout(height, width, grey, h, v)
    n = len(layout.components)
    table_no = [0] + [1] * (n - 1)
    return _headers(layout, _cached_quant_tables(quality),
                    [_STD_TABLES[f"dc{t}"] for t in table_no],
                    [_STD_TABLES[f"ac{t}"] for t in table_no], interval)


@dataclass
class _Encoded:
    layout: _Layout
    qtables: tuple
    planes: list
    coefficients: list
    scan_blocks: np.ndarray
    block_component: np.ndarray
    symbols: hf.Symbols
    dc_tables: list
    ac_tables: list
    code: np.ndarray
    code_length: np.ndarray
    restart_interval: int
    jpeg: bytes


def _memory_checked(stage, array, *args):
    """``stage(array, *args)``, a MemoryError becoming one JpegError line."""
    try:
        return stage(array, *args)
    except MemoryError:
        shape = getattr(array, "shape", "?")
        raise JpegError(f"out of memory encoding an image of shape {shape}") from None


class _Setup(NamedTuple):
    """The checked parameters of one encode."""
    image: np.ndarray
    optimize: bool
    grey: bool
    h: int
    v: int
    quality: int
    qtables: tuple
    layout: _Layout
    interval: int


def _setup(array, quality, subsampling, optimize, restart_interval, restart_rows) -> _Setup:
    """Check the image and parameters; layout, quantization tables, restart interval."""
    image = _check_image(array)
    optimize = _check_flag("optimize", optimize)
    grey = image.ndim == 2
    h, v = _luma_sampling(subsampling, grey)
    qtables = _quant_tables(quality)
    layout = _encoder_layout(image.shape[0], image.shape[1], grey, h, v)
    interval = _restart_interval(layout, restart_interval, restart_rows)
    return _Setup(image, optimize, grey, h, v, int(quality), qtables, layout, interval)


def _encode(array, quality, subsampling, optimize, restart_interval,
            restart_rows) -> _Encoded:
    return _memory_checked(_encode_stages, _setup(array, quality, subsampling, optimize,
                                                  restart_interval, restart_rows))


def _encode_stages(setup: _Setup) -> _Encoded:
    image, optimize, grey, h, v, quality, qtables, layout, interval = setup
    planes = _component_planes(image, layout)
    coefficients, grids = [], []
    for plane, c in zip(planes, layout.components):
        rows, cols = layout.blocks_high(c), layout.blocks_wide(c)
        coef = fdct_quantize_plane(plane, qtables[c.tq]).reshape(rows, cols,
                                                                 BLOCK_SIZE)
        coefficients.append(coef)
        grids.append(_mcu_grid(coef, c, layout) if layout.interleaved else coef)
    blocks, block_component = _scan_order(grids, layout)
    bpm = layout.blocks_per_mcu
    symbols = hf.run_length_symbols(blocks, block_component, bpm, interval)
    dc_tables, ac_tables = _component_tables(symbols, len(layout.components),
                                             optimize)
    code, code_length = hf.assign_codes(symbols, dc_tables, ac_tables)
    scan = hf.encode_segments(symbols, code, code_length, bpm, interval)
    if optimize:
        header = _headers(layout, qtables, dc_tables, ac_tables, interval)
    else:  # standard tables: the header depends on these parameters only
        header = _standard_headers(image.shape[0], image.shape[1], grey, h, v,
                                   int(quality), interval)
    jpeg = header + scan + write_eoi()
    return _Encoded(layout, qtables, planes, coefficients, blocks,
                    block_component, symbols, dc_tables, ac_tables, code,
                    code_length, interval, jpeg)


def encode(array: np.ndarray, quality: int = 75, subsampling: str | None = None,
           optimize: bool = False, restart_interval: int = 0,
           restart_rows: int = 0) -> bytes:
    """Encode an 8-bit image as a baseline JFIF JPEG, exactly as Pillow does.

    The result equals ``Image.save(buf, "JPEG", quality=quality,
    subsampling=subsampling, optimize=optimize,
    restart_marker_blocks=restart_interval,
    restart_marker_rows=restart_rows)`` with Pillow's libjpeg-turbo.

    Parameters
    ----------
    array : ndarray, shape (H, W) or (H, W, 3), dtype uint8
        Greyscale or RGB image, 1 <= H, W <= 65500 (libjpeg-turbo's
        JPEG_MAX_DIMENSION), H * W <= 2**28.
    quality : int
        1..100, libjpeg's quality scaling of the Annex K tables with entries
        clamped to 255 (``jpeg_set_quality(..., force_baseline=TRUE)``).
    subsampling : {"4:4:4", "4:2:2", "4:2:0"} or None
        Luminance sampling factors 1x1, 2x1 or 2x2 (chroma 1x1).  None (the
        default) is libjpeg's and Pillow's default: 2x2 (4:2:0) for colour,
        1x1 for greyscale (``cjpeg -grayscale``, ``Image.save(f, "JPEG")``).
        Given explicitly for a greyscale image, only the factors written in
        SOF change, exactly as with Pillow's ``subsampling=`` argument.
    optimize : bool
        Optimal Huffman tables (libjpeg's two-pass ``optimize_coding``).
    restart_interval : int
        MCUs per restart interval, 0..65535 (0 = no restart markers).
    restart_rows : int
        Restart interval in MCU rows (libjpeg ``restart_in_rows``); when
        non-zero it overrides ``restart_interval``.

    Returns
    -------
    bytes

    Raises
    ------
    JpegError
        For an invalid array or parameter.
    """
    return _memory_checked(_encode_bytes, _setup(array, quality, subsampling, optimize,
                                                 restart_interval, restart_rows))


def _encode_bytes(setup: _Setup) -> bytes:
    """:func:`encode`: greyscale without restart markers takes the
    :mod:`blockscan` fast path (no per-symbol records); anything else, and
    :func:`trace_encoder`, the staged general path it is tested against."""
    image, optimize, grey, h, v, quality, qtables, layout, interval = setup
    if not grey or interval:
        return _encode_stages(setup).jpeg
    plane, = _component_planes(image, layout)
    c, = layout.components
    runs = blockscan.block_runs(fdct_quantize_plane(plane, qtables[c.tq]))
    if optimize:
        dc_freq, ac_freq = blockscan.run_frequencies(runs)
        dc = hf.optimal_table(dc_freq, True)
        ac = hf.optimal_table(ac_freq, False)
        header = _headers(layout, qtables, [dc], [ac], 0)
    else:
        dc, ac = _STD_TABLES["dc0"], _STD_TABLES["ac0"]
        header = _standard_headers(image.shape[0], image.shape[1], True, h, v,
                                   int(quality), 0)
    return header + blockscan.encode_block_runs(runs, dc, ac) + write_eoi()


@dataclass
class ComponentTrace:
    """Per-component encoder stages (blocks in raster order of the component).

    Attributes
    ----------
    ident : int
        Component id (1 = Y or grey, 2 = Cb, 3 = Cr).
    samples : ndarray, shape (8 * R, 8 * C), uint8
        Padded, downsampled samples.
    level_shifted : ndarray, shape (R * C, 8, 8), int16
        ``samples - 128`` per block (T.81 A.3.1).
    dct : ndarray, shape (R * C, 8, 8), int32
        libjpeg islow forward-DCT output (scaled by 8).
    quantized : ndarray, shape (R * C, 64), int16
        Quantized coefficients in zig-zag order.
    qtable : ndarray, shape (64,), uint16, natural order
    """

    ident: int
    samples: np.ndarray
    level_shifted: np.ndarray
    dct: np.ndarray
    quantized: np.ndarray
    qtable: np.ndarray


@dataclass
class EncoderTrace:
    """Every intermediate stage of :func:`encode`, for golden vectors.

    Attributes
    ----------
    components : list of ComponentTrace
    scan_blocks : ndarray, shape (N, 64), int16
        Quantized zig-zag blocks in scan (MCU) order, dummy blocks included.
    block_component : ndarray, shape (N,), int64
    symbols : huffman.Symbols
        Run/size symbols in emission order.
    code : ndarray, shape (T,), uint32
        Huffman code of each symbol; ``code_length`` (uint8) its length.
    code_length : ndarray, shape (T,), uint8
    dc_tables, ac_tables : list of HuffmanTable, per scan component
    restart_interval : int
    entropy_unstuffed : bytes
        Packed entropy-coded data, each restart segment 1-padded, no RST.
    entropy_stuffed : bytes
        The scan data as written (stuffed, with RST markers).
    jpeg : bytes
        The complete file, identical to :func:`encode`'s result.
    """

    components: list
    scan_blocks: np.ndarray
    block_component: np.ndarray
    symbols: hf.Symbols
    code: np.ndarray
    code_length: np.ndarray
    dc_tables: list
    ac_tables: list
    restart_interval: int
    entropy_unstuffed: bytes
    entropy_stuffed: bytes
    jpeg: bytes


def _blocks_of(plane: np.ndarray) -> np.ndarray:
    rows, cols = plane.shape[0] // BLOCK, plane.shape[1] // BLOCK
    return plane.reshape(rows, BLOCK, cols, BLOCK).transpose(0, 2, 1, 3) \
        .reshape(rows * cols, BLOCK, BLOCK)


def trace_encoder(array: np.ndarray, quality: int = 75,
                  subsampling: str | None = None, optimize: bool = False,
                  restart_interval: int = 0, restart_rows: int = 0) -> EncoderTrace:
    """Run :func:`encode` and return all of its intermediate stages.

    Parameters are those of :func:`encode`.  The per-block stages are
    recomputed with the block-level functions of :mod:`refimpl.jpeg.dct`
    and must agree with the fast path's quantized coefficients (checked
    here; a mismatch raises ``AssertionError``).

    Returns
    -------
    EncoderTrace
    """
    enc = _encode(array, quality, subsampling, optimize, restart_interval,
                  restart_rows)
    comps = []
    for plane, coef, c in zip(enc.planes, enc.coefficients, enc.layout.components):
        shifted = level_shift(_blocks_of(plane))
        dct = forward_dct(shifted)
        quant = to_zigzag(quantize(dct, enc.qtables[c.tq]))
        assert np.array_equal(quant, coef.reshape(-1, BLOCK_SIZE))
        comps.append(ComponentTrace(c.ident, plane, shifted, dct, quant,
                                    enc.qtables[c.tq]))
    bpm = enc.layout.blocks_per_mcu
    value = (enc.code.astype(np.uint64)
             << enc.symbols.extra_length.astype(np.uint64)) \
        | enc.symbols.extra.astype(np.uint64)
    length = enc.code_length.astype(np.int64) + enc.symbols.extra_length
    starts = [0]
    if enc.restart_interval:
        s = enc.symbols
        mcu = s.block // bpm
        starts += np.flatnonzero(s.is_dc & (s.block % bpm == 0) & (mcu > 0)
                                 & (mcu % enc.restart_interval == 0)).tolist()
    unstuffed, _ = hf.pack_bits(value, length, starts)
    stuffed = hf.encode_segments(enc.symbols, enc.code, enc.code_length, bpm,
                                 enc.restart_interval)
    return EncoderTrace(comps, enc.scan_blocks, enc.block_component, enc.symbols,
                        enc.code, enc.code_length, enc.dc_tables, enc.ac_tables,
                        enc.restart_interval, unstuffed.tobytes(), stuffed,
                        enc.jpeg)


# ---------------------------------------------------------------------------
# Decoder
# ---------------------------------------------------------------------------


def read_coefficients(data: bytes, max_pixels: int | None = None) -> list[np.ndarray]:
    """Quantized DCT coefficients of every component, as coded in the file.

    Parameters
    ----------
    data : bytes
        A JPEG file :func:`decode` accepts.
    max_pixels : int, optional
        As for :func:`decode`.

    Returns
    -------
    list of ndarray, one per frame component, shape (rows, cols, 64), int16
        ``rows``/``cols`` are the component's height/width in blocks
        (dummy blocks of interleaved MCUs excluded); coefficients in
        zig-zag order, DC as its absolute value (predictions undone).

    Raises
    ------
    JpegError
    """
    return coefficient_grid(parse_jpeg(data, max_pixels))


def decode(data: bytes, max_pixels: int | None = None) -> np.ndarray:
    """Decode a baseline (or extended sequential Huffman) 8-bit JPEG.

    Matches libjpeg-turbo's default decompression as returned by
    ``np.asarray(Image.open(f))`` with its plain C code path (Pillow run
    with ``JSIMD_FORCENONE=1``): islow IDCT, fancy upsampling, YCbCr -> RGB
    (or no conversion for Adobe-RGB / 'R','G','B'-id files).  Where Pillow's
    default SIMD kernels differ from the C code (blocks whose coefficients
    drive the IDCT out of range), the C code is the reference.

    Parameters
    ----------
    data : bytes
    max_pixels : int, optional
        Refuse frames of more than this many pixels (width * height) when
        the frame header is read, before any per-frame allocation; default
        and upper limit :data:`MAX_PIXELS` (2**28).

    Returns
    -------
    ndarray, shape (H, W) (1 component) or (H, W, 3), dtype uint8

    Raises
    ------
    JpegError
        For malformed, truncated or unsupported data (progressive,
        arithmetic-coded, lossless, hierarchical, not 8-bit, 2 or 4
        components, a side above 65500 (libjpeg-turbo's limit), more than
        ``max_pixels`` pixels), and when memory runs out.

    Notes
    -----
    Peak memory is about twice the output array for a colour 4:4:4 image,
    1.5x for 4:2:0, plus the coefficient records and the Huffman stage's
    work arrays, which grow with the size of the entropy-coded data (see
    :mod:`refimpl.jpeg.bands` and ``tools/jpeg_memory.py``).
    """
    f = parse_jpeg(data, max_pixels)
    try:
        return _pixels(f)
    except MemoryError:
        raise JpegError(f"out of memory decoding a {f.width}x{f.height} image "
                        f"with {len(f.components)} components (the output "
                        "alone is "
                        f"{f.width * f.height * len(f.components)} bytes)") from None


def _pixels(f) -> np.ndarray:
    h_max = max(c.h for c in f.components)
    v_max = max(c.v for c in f.components)
    for c in f.components:
        if h_max % c.h or v_max % c.v:
            raise JpegError("unsupported: fractional sampling ratio "
                            f"{h_max}/{c.h} x {v_max}/{c.v}")
    planes = [np.empty(tuple(BLOCK * n for n in component_size(f, c)),
                       dtype=np.uint8) for c in f.components]
    for band in component_bands(f):
        idct_band(planes[band.ci], band)
    for ci, c in enumerate(f.components):
        dh = ceil_div(f.height * c.v, v_max)  # libjpeg downsampled_height
        dw = ceil_div(f.width * c.h, h_max)  # downsampled_width
        planes[ci] = planes[ci][:dh, :dw]
    if len(planes) == 1:
        return planes[0]
    expands = [(h_max // c.h, v_max // c.v) for c in f.components]
    return colour_bands(planes, expands, f.height, f.width, _is_rgb(f))


def _is_rgb(f) -> bool:
    """libjpeg's colour-space guess for 3 components (jdapimin.c)."""
    if f.saw_jfif:
        return False
    if f.adobe_transform is not None:
        return f.adobe_transform == 0
    return [c.ident for c in f.components] == [82, 71, 66]  # 'R', 'G', 'B'


# ---------------------------------------------------------------------------
# Entropy-only coding of integer blocks
# ---------------------------------------------------------------------------

_ENTROPY_MAGIC = b"RJPE"  # refimpl JPEG entropy container
_ENTROPY_VERSION = 1
_LAYOUT_BLOCKS, _LAYOUT_ZIGZAG = 0, 1


def encode_entropy(coefficients: np.ndarray, optimize: bool = True) -> bytes:
    """Losslessly code integer blocks with JPEG's run-length + Huffman stage.

    No DCT and no quantization: the values are coded exactly as quantized
    coefficients are in a baseline scan (DC differences, AC run/size symbols,
    ZRL, EOB; T.81 F.1.2), one component, no restart markers.

    Container layout: ``b"RJPE"``, version (1 byte), layout (1 byte: 0 for
    (N, 8, 8) natural-order blocks, 1 for (N, 64) sequences), N (4 bytes,
    big-endian), the DC and AC tables as DHT segment payloads (class/id,
    16 counts, symbols), then the stuffed entropy-coded data.

    Parameters
    ----------
    coefficients : ndarray, shape (N, 8, 8) or (N, 64), integer dtype
        (N, 8, 8): natural-order blocks, zig-zag scanned before coding.
        (N, 64): sequences coded in the given order (index 0 is the "DC").
        Values must fit int16; AC values and successive DC differences need
        at most 15 magnitude bits (at most 10 and 11 with standard tables).
    optimize : bool
        True: optimal tables (libjpeg's method); False: T.81 K.3 luminance.

    Returns
    -------
    bytes

    Raises
    ------
    JpegError
        For a bad shape/dtype or values out of range.
    """
    optimize = _check_flag("optimize", optimize)
    arr = np.asarray(coefficients)
    if arr.dtype.kind not in "iu":
        raise JpegError(f"expected an integer array, got dtype {arr.dtype}")
    if arr.ndim == 3 and arr.shape[1:] == (BLOCK, BLOCK):
        layout, zz = _LAYOUT_BLOCKS, to_zigzag(arr)
    elif arr.ndim == 2 and arr.shape[1] == BLOCK_SIZE:
        layout, zz = _LAYOUT_ZIGZAG, arr
    else:
        raise JpegError(f"expected shape (N, 8, 8) or (N, 64), got {arr.shape}")
    if arr.size and (arr.min() < -32768 or arr.max() > 32767):
        raise JpegError("coefficient values must fit in int16")
    if len(arr) >= 1 << 32:
        raise JpegError("too many blocks")
    zz = zz.astype(np.int16)
    runs = blockscan.block_runs(zz)  # one component, no restarts
    if optimize:
        dc_freq, ac_freq = blockscan.run_frequencies(runs)
        dc = hf.optimal_table(dc_freq, True)
        ac = hf.optimal_table(ac_freq, False)
    else:
        dc, ac = _STD_TABLES["dc0"], _STD_TABLES["ac0"]
    body = blockscan.encode_block_runs(runs, dc, ac) if len(zz) else b""
    header = _ENTROPY_MAGIC + bytes([_ENTROPY_VERSION, layout]) \
        + int(len(zz)).to_bytes(4, "big")
    tables = bytes([0x00]) + bytes(dc.spec.bits) + bytes(dc.spec.values) \
        + bytes([0x10]) + bytes(ac.spec.bits) + bytes(ac.spec.values)
    return header + tables + body


def _read_table(data: bytes, pos: int, is_dc: bool):
    if pos + 17 > len(data):
        raise JpegError("truncated entropy stream: Huffman table")
    bits = tuple(data[pos + 1:pos + 17])
    count = sum(bits)
    if data[pos] != (0x00 if is_dc else 0x10) or pos + 17 + count > len(data):
        raise JpegError("corrupt entropy stream: bad Huffman table")
    spec = hf.HuffmanSpec(bits, tuple(data[pos + 17:pos + 17 + count]))
    return hf.HuffmanTable(spec, is_dc), pos + 17 + count


def decode_entropy(data: bytes) -> np.ndarray:
    """Inverse of :func:`encode_entropy`.

    Parameters
    ----------
    data : bytes

    Returns
    -------
    ndarray, shape (N, 8, 8) or (N, 64) (as given to the encoder), int16

    Raises
    ------
    JpegError
        For malformed or truncated data.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise JpegError(f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) < 10 or data[:4] != _ENTROPY_MAGIC:
        raise JpegError("not an entropy stream: bad magic")
    if data[4] != _ENTROPY_VERSION or data[5] not in (_LAYOUT_BLOCKS, _LAYOUT_ZIGZAG):
        raise JpegError("unsupported entropy stream version or layout")
    layout, n = data[5], int.from_bytes(data[6:10], "big")
    dc, pos = _read_table(data, 10, True)
    ac, pos = _read_table(data, pos, False)
    body = np.frombuffer(data, dtype=np.uint8)[pos:]
    if body.size and np.any((body[:-1] == 0xFF) & (body[1:] != 0)):
        raise JpegError("corrupt entropy stream: marker inside the data")
    payload = hf.unstuff_bytes(body)
    if n:  # decode_scan rejects block counts the data cannot hold first
        rec = hf.decode_scan(payload, [(0, 8 * len(payload))], [n], [(dc, ac)])
    zz = np.zeros((n, BLOCK_SIZE), dtype=np.int16)
    if n:
        zz[:, 0] = np.cumsum(rec.dc_diff).astype(np.int16)
        zz[rec.ac_block, rec.ac_k] = rec.ac_value.astype(np.int16)
    if layout == _LAYOUT_BLOCKS:
        out = np.empty((n, BLOCK_SIZE), dtype=np.int16)
        out[:, NATURAL_ORDER] = zz
        return out.reshape(n, BLOCK, BLOCK)
    return zz
