"""Writing and parsing JPEG marker segments (T.81 Annex B).

The writers produce exactly the bytes libjpeg's ``jcmarker.c`` emits for a
baseline file.  The parser walks an interchange-format stream, validates
every segment it needs and returns a :class:`JpegFile`; each scan carries
its entropy-coded data already unstuffed and split at restart markers.  Any
problem raises :class:`JpegError` naming the marker and the fault.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from .errors import JpegError
from .huffman import HuffmanTable, cached_table
from .tables import BLOCK_SIZE, NATURAL_ORDER, HuffmanSpec

__all__ = [
    "SOI", "EOI", "SOF0", "DHT", "DQT", "DRI", "SOS", "APP0",
    "write_soi", "write_app0_jfif", "write_dqt", "write_sof", "write_dht",
    "write_dri", "write_sos", "write_eoi",
    "FrameComponent", "ScanComponent", "Scan", "JpegFile", "parse_jpeg",
    "MAX_PIXELS",
]

# Marker codes (T.81 Table B.1); a marker is 0xFF followed by the code.
SOF0 = 0xC0  # baseline DCT
SOF1 = 0xC1  # extended sequential DCT, Huffman
DHT = 0xC4  # define Huffman tables
DAC = 0xCC  # define arithmetic coding conditioning
RST0, RST7 = 0xD0, 0xD7  # restart markers
SOI = 0xD8  # start of image
EOI = 0xD9  # end of image
SOS = 0xDA  # start of scan
DQT = 0xDB  # define quantization tables
DNL = 0xDC  # define number of lines
DRI = 0xDD  # define restart interval
DHP, EXP = 0xDE, 0xDF  # hierarchical progression
APP0, APP14 = 0xE0, 0xEE  # application segments used by JFIF and Adobe
APP15 = 0xEF
COM = 0xFE  # comment
TEM = 0x01  # temporary private use, no length

MAX_PIXELS = 1 << 28  # decoder/encoder cap on width * height (refimpl's own)
SOF_DIMENSION_MAX = 0xFFFF  # 16-bit Y and X fields of SOF (T.81 B.2.2)
# libjpeg-turbo's JPEG_MAX_DIMENSION (jmorecfg.h, 65500L): jcmaster.c and
# jdinput.c refuse larger images with JERR_IMAGE_TOO_BIG, whose text is below.
MAX_DIMENSION = 65500


def dimension_error(width: int, height: int) -> JpegError | None:
    """libjpeg-turbo's size check (JERR_IMAGE_TOO_BIG), or None if it passes."""
    if width > MAX_DIMENSION or height > MAX_DIMENSION:
        return JpegError(f"image too large: {width}x{height}: Maximum supported "
                         f"image dimension is {MAX_DIMENSION} pixels")
    return None


def pixel_cap(max_pixels) -> int:
    """The frame-size cap in pixels: ``max_pixels`` (an int >= 1) or MAX_PIXELS.

    A value above :data:`MAX_PIXELS` is an error, not a silent clamp.
    """
    if max_pixels is None:
        return MAX_PIXELS
    if isinstance(max_pixels, (bool, np.bool_)) \
            or not isinstance(max_pixels, (int, np.integer)) \
            or not 1 <= max_pixels <= MAX_PIXELS:
        raise JpegError(f"max_pixels must be an integer in 1..{MAX_PIXELS} "
                        f"(2**28) or None, got {max_pixels!r}")
    return int(max_pixels)

_UNSUPPORTED_SOF = {
    0xC2: "progressive DCT (SOF2)",
    0xC3: "lossless (SOF3)",
    0xC5: "differential sequential DCT (SOF5)",
    0xC6: "differential progressive DCT (SOF6)",
    0xC7: "differential lossless (SOF7)",
    0xC9: "arithmetic-coded sequential DCT (SOF9)",
    0xCA: "arithmetic-coded progressive DCT (SOF10)",
    0xCB: "arithmetic-coded lossless (SOF11)",
    0xCD: "arithmetic-coded differential sequential DCT (SOF13)",
    0xCE: "arithmetic-coded differential progressive DCT (SOF14)",
    0xCF: "arithmetic-coded differential lossless (SOF15)",
}


def _segment(code: int, payload: bytes) -> bytes:
    """A marker segment: 0xFF, code, 2-byte length (counting itself), payload."""
    if len(payload) + 2 > 0xFFFF:
        raise JpegError(f"marker segment 0x{code:02X} too long")
    return bytes([0xFF, code]) + struct.pack(">H", len(payload) + 2) + payload


def write_soi() -> bytes:
    """SOI marker (T.81 B.2.1)."""
    return bytes([0xFF, SOI])


def write_eoi() -> bytes:
    """EOI marker (T.81 B.2.1)."""
    return bytes([0xFF, EOI])


def write_app0_jfif(density_unit: int = 0, x_density: int = 1,
                    y_density: int = 1) -> bytes:
    """JFIF APP0 segment as libjpeg writes it (jcmarker.c ``emit_jfif_app0``).

    "JFIF\\0", version 1.01 (libjpeg's default JFIF_major/minor_version),
    density unit (0 = aspect ratio only), X and Y density, no thumbnail.
    """
    payload = b"JFIF\x00" + bytes([1, 1, density_unit]) \
        + struct.pack(">HH", x_density, y_density) + bytes([0, 0])
    return _segment(APP0, payload)


def write_dqt(index: int, table: np.ndarray) -> bytes:
    """DQT segment with one table (T.81 B.2.4.1), entries in zig-zag order.

    Parameters
    ----------
    index : int
        Destination 0..3 (Tq).
    table : ndarray, shape (64,), integer, natural order
        8-bit precision (Pq = 0) if every entry is <= 255, else 16-bit.
    """
    zz = np.asarray(table, dtype=np.int64).reshape(BLOCK_SIZE)[NATURAL_ORDER]
    if zz.max() > 255:
        return _segment(DQT, bytes([0x10 | index]) + zz.astype(">u2").tobytes())
    return _segment(DQT, bytes([index]) + zz.astype(np.uint8).tobytes())


@dataclass(frozen=True)
class FrameComponent:
    """One component of a frame header (T.81 B.2.2)."""

    ident: int  # Ci
    h: int  # Hi, horizontal sampling factor 1..4
    v: int  # Vi, vertical sampling factor 1..4
    tq: int  # Tqi, quantization table destination 0..3


def write_sof(height: int, width: int, components: Sequence[FrameComponent],
              code: int = SOF0) -> bytes:
    """Frame header (T.81 B.2.2), 8-bit precision."""
    if not (1 <= height <= SOF_DIMENSION_MAX and 1 <= width <= SOF_DIMENSION_MAX):
        raise JpegError(f"image size {width}x{height} does not fit a SOF header")
    payload = struct.pack(">BHHB", 8, height, width, len(components))
    for c in components:
        payload += bytes([c.ident, (c.h << 4) | c.v, c.tq])
    return _segment(code, payload)


def write_dht(table_class: int, index: int, spec: HuffmanSpec) -> bytes:
    """DHT segment with one table (T.81 B.2.4.2); class 0 = DC, 1 = AC."""
    payload = bytes([(table_class << 4) | index]) + bytes(spec.bits) \
        + bytes(spec.values)
    return _segment(DHT, payload)


def write_dri(interval: int) -> bytes:
    """DRI segment (T.81 B.2.4.4): restart interval in MCUs."""
    return _segment(DRI, struct.pack(">H", interval))


@dataclass(frozen=True)
class ScanComponent:
    """One component of a scan header (T.81 B.2.3)."""

    ident: int  # Csj
    td: int  # DC entropy table destination
    ta: int  # AC entropy table destination


def write_sos(components: Sequence[ScanComponent], ss: int = 0, se: int = 63,
              ah: int = 0, al: int = 0) -> bytes:
    """Scan header (T.81 B.2.3)."""
    payload = bytes([len(components)])
    for c in components:
        payload += bytes([c.ident, (c.td << 4) | c.ta])
    payload += bytes([ss, se, (ah << 4) | al])
    return _segment(SOS, payload)


# ---------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------


@dataclass
class Scan:
    """A parsed scan with everything needed to decode it.

    Attributes
    ----------
    components : list of int
        Frame component indices (positions in ``JpegFile.components``).
    dc_tables, ac_tables : list of HuffmanTable
        Table of each scan component, as defined when the scan started.
    quant_tables : dict of int to ndarray (64,) int64, natural order
        Quantization tables defined when the scan started.
    restart_interval : int
        MCUs per restart interval (0 = none).
    data : ndarray, shape (B,), dtype uint8
        Unstuffed entropy-coded bytes of all restart segments.
    segment_bytes : ndarray, shape (S, 2), int64
        Byte range [start, end) of each restart segment inside ``data``.
    """

    components: list
    dc_tables: list
    ac_tables: list
    quant_tables: dict
    restart_interval: int
    data: np.ndarray
    segment_bytes: np.ndarray


@dataclass
class JpegFile:
    """A parsed baseline/extended-sequential Huffman JPEG stream.

    Attributes
    ----------
    height, width : int
    components : list of FrameComponent
    scans : list of Scan
    saw_jfif : bool
        A JFIF APP0 segment was present.
    adobe_transform : int or None
        Transform flag of an Adobe APP14 segment, if any.
    """

    height: int = 0
    width: int = 0
    components: list = field(default_factory=list)
    scans: list = field(default_factory=list)
    saw_jfif: bool = False
    adobe_transform: int | None = None


class _Reader:
    """Marker-level parser state."""

    def __init__(self, data: bytes, max_pixels: int = MAX_PIXELS):
        self.data = data
        self.max_pixels = max_pixels
        self.array = np.frombuffer(data, dtype=np.uint8)
        self.pos = 0
        self.file = JpegFile()
        self.frame_seen = False
        self.quant = {}
        self.huff_specs = {}  # (class, index) -> HuffmanSpec
        self.restart_interval = 0

    def next_marker(self) -> int:
        """Skip to the next marker (libjpeg ``next_marker``) and return it."""
        data, n = self.data, len(self.data)
        while True:
            found = data.find(b"\xff", self.pos)  # skip garbage (libjpeg warns)
            self.pos = n if found < 0 else found
            while self.pos < n and data[self.pos] == 0xFF:
                self.pos += 1  # fill bytes
            if self.pos >= n:
                raise JpegError("truncated file: no EOI marker")
            code = data[self.pos]
            self.pos += 1
            if code != 0:  # FF 00 is not a marker
                return code

    def segment(self, code: int) -> bytes:
        """Payload of the length-prefixed segment that starts at ``pos``."""
        if self.pos + 2 > len(self.data):
            raise JpegError(f"truncated file: marker 0x{code:02X} has no length")
        (length,) = struct.unpack_from(">H", self.data, self.pos)
        if length < 2:
            raise JpegError(f"marker 0x{code:02X} has invalid length {length}")
        end = self.pos + length
        if end > len(self.data):
            raise JpegError(f"truncated file: marker segment 0x{code:02X} runs "
                            "past the end of the data")
        payload = self.data[self.pos + 2:end]
        self.pos = end
        return payload


def parse_jpeg(data: bytes, max_pixels: int | None = None) -> JpegFile:
    """Parse a JPEG interchange-format stream.

    Parameters
    ----------
    data : bytes
    max_pixels : int, optional
        Refuse a frame of more than this many pixels (width * height) as
        soon as its SOF header is read; default :data:`MAX_PIXELS`.

    Returns
    -------
    JpegFile

    Raises
    ------
    JpegError
        For anything but a well-formed 8-bit sequential Huffman stream whose
        frame has 1 or 3 components, at most :data:`MAX_DIMENSION` pixels
        a side and at most ``max_pixels`` pixels.
    """
    cap = pixel_cap(max_pixels)
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise JpegError(f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) < 2 or data[0] != 0xFF or data[1] != SOI:
        raise JpegError("not a JPEG file: missing SOI marker")
    # libjpeg would skip garbage after SOI, but applications identify JPEG
    # by FF D8 FF (Pillow's JpegImagePlugin._accept, file(1)); we agree with
    # them rather than decode files they refuse.
    if len(data) < 3 or data[2] != 0xFF:
        raise JpegError("not a JPEG file: SOI is not followed by a marker")
    r = _Reader(data, cap)
    r.pos = 2
    while True:
        code = r.next_marker()
        if code == EOI:
            break
        _dispatch(r, code)
    if not r.frame_seen:
        raise JpegError("no frame header (SOF) before EOI")
    if not r.file.scans:
        raise JpegError("no scan (SOS) before EOI")
    return r.file


def _dispatch(r: _Reader, code: int) -> None:
    if code in (SOF0, SOF1):
        _parse_sof(r, r.segment(code))
    elif code in _UNSUPPORTED_SOF:
        raise JpegError(f"unsupported JPEG process: {_UNSUPPORTED_SOF[code]}")
    elif code == DHT:
        _parse_dht(r, r.segment(code))
    elif code == DQT:
        _parse_dqt(r, r.segment(code))
    elif code == DRI:
        payload = r.segment(code)
        if len(payload) != 2:
            raise JpegError("DRI segment has invalid length")
        (r.restart_interval,) = struct.unpack(">H", payload)
    elif code == SOS:
        _parse_sos(r, r.segment(code))
    elif code == APP0:
        payload = r.segment(code)
        if len(payload) >= 14 and payload[:5] == b"JFIF\x00":  # APP0_DATA_LEN
            r.file.saw_jfif = True
        elif payload[:4] == b"JFIF" and len(payload) < 12:
            # libjpeg skips it; Pillow's APP handler reads version, unit and
            # densities (12 bytes) and fails on a shorter one.
            raise JpegError(f"corrupt data: JFIF APP0 segment of {len(payload)} "
                            "bytes (at least 12 needed)")
    elif code == APP14:
        payload = r.segment(code)
        if len(payload) >= 12 and payload[:5] == b"Adobe":  # APP14_DATA_LEN
            r.file.adobe_transform = payload[11]
    elif APP0 <= code <= APP15 or code in (COM, DAC):
        r.segment(code)  # skipped
    elif code == TEM and not r.file.scans:
        # libjpeg ignores TEM, but Pillow's header parser (JpegImagePlugin)
        # refuses any marker below 0xFFC0 before the first scan.
        raise JpegError("unsupported: marker TEM (0xFF01) before the first scan")
    elif RST0 <= code <= RST7 or code == TEM:
        pass  # parameterless markers outside a scan are ignored (libjpeg)
    elif code == SOI:
        raise JpegError("corrupt data: second SOI marker")
    elif code == DNL:
        raise JpegError("unsupported: DNL marker (height defined after the scan)")
    elif code in (DHP, EXP):
        raise JpegError("unsupported JPEG process: hierarchical (DHP/EXP)")
    else:
        raise JpegError(f"unsupported or invalid marker 0xFF{code:02X}")


def _parse_sof(r: _Reader, p: bytes) -> None:
    if r.frame_seen:
        raise JpegError("corrupt data: more than one frame header (SOF)")
    if len(p) < 6:
        raise JpegError("SOF segment too short")
    precision, height, width, count = struct.unpack_from(">BHHB", p)
    if precision != 8:
        raise JpegError(f"unsupported: {precision}-bit samples (only 8-bit)")
    if len(p) != 6 + 3 * count:
        raise JpegError("SOF segment length does not match its component count")
    if count not in (1, 3):
        raise JpegError(f"unsupported: {count} components (only 1 or 3)")
    if height == 0:
        raise JpegError("unsupported: DNL-defined image height (height 0)")
    if width == 0:
        raise JpegError("corrupt data: image width 0")
    too_big = dimension_error(width, height)
    if too_big is not None:
        raise too_big
    if width * height > r.max_pixels:
        raise JpegError(f"image too large: {width}x{height} = {width * height} "
                        f"pixels exceeds the cap of {r.max_pixels} pixels")
    comps = []
    for i in range(count):
        ident, hv, tq = p[6 + 3 * i:9 + 3 * i]
        h, v = hv >> 4, hv & 0x0F
        if not (1 <= h <= 4 and 1 <= v <= 4):
            raise JpegError(f"corrupt data: bad sampling factors {h}x{v}")
        if tq > 3:
            raise JpegError(f"corrupt data: bad quantization table number {tq}")
        if any(c.ident == ident for c in comps):
            raise JpegError(f"corrupt data: duplicate component id {ident}")
        comps.append(FrameComponent(ident, h, v, tq))
    r.file.height, r.file.width, r.file.components = height, width, comps
    r.frame_seen = True


def _parse_dht(r: _Reader, p: bytes) -> None:
    i = 0
    while i < len(p):
        if i + 17 > len(p):
            raise JpegError("DHT segment too short")
        tc, th = p[i] >> 4, p[i] & 0x0F
        if tc > 1 or th > 3:
            raise JpegError(f"corrupt data: bad Huffman table class/number "
                            f"{tc}/{th}")
        bits = tuple(p[i + 1:i + 17])
        count = sum(bits)
        if count > 256 or i + 17 + count > len(p):
            raise JpegError("corrupt data: bad Huffman table counts in DHT")
        r.huff_specs[(tc, th)] = HuffmanSpec(bits, tuple(p[i + 17:i + 17 + count]))
        i += 17 + count


def _parse_dqt(r: _Reader, p: bytes) -> None:
    i = 0
    while i < len(p):
        pq, tq = p[i] >> 4, p[i] & 0x0F
        if pq > 1 or tq > 3:
            raise JpegError(f"corrupt data: bad DQT precision/number {pq}/{tq}")
        size = BLOCK_SIZE * (pq + 1)
        if i + 1 + size > len(p):
            raise JpegError("DQT segment too short")
        raw = np.frombuffer(p, dtype=">u2" if pq else np.uint8, count=BLOCK_SIZE,
                            offset=i + 1).astype(np.int64)
        # libjpeg keeps the entry as UINT16 (jdmarker.c get_dqt) but its islow
        # IDCT multiplies through ISLOW_MULT_TYPE, a 16-bit ``short`` in
        # SIMD builds such as Pillow's (jmorecfg.h MULTIPLIER, jddctmgr.c):
        # entries 32768..65535 act as entry - 65536.  We do the same.
        raw = np.where(raw > 0x7FFF, raw - 0x10000, raw)
        table = np.empty(BLOCK_SIZE, dtype=np.int64)
        table[NATURAL_ORDER] = raw  # entries arrive in zig-zag order
        r.quant[tq] = table
        i += 1 + size


def _huffman_table(r: _Reader, tc: int, th: int) -> HuffmanTable:
    spec = r.huff_specs.get((tc, th))
    if spec is None:
        kind = "AC" if tc else "DC"
        raise JpegError(f"corrupt data: {kind} Huffman table {th} not defined")
    return cached_table(spec, tc == 0)


def _parse_sos(r: _Reader, p: bytes) -> None:
    if not r.frame_seen:
        raise JpegError("corrupt data: SOS before the frame header")
    if len(p) < 1 or len(p) != 4 + 2 * p[0]:
        raise JpegError("SOS segment length does not match its component count")
    count = p[0]
    if not 1 <= count <= 4:
        raise JpegError(f"corrupt data: {count} components in a scan")
    frame_ids = [c.ident for c in r.file.components]
    comps, dc_tables, ac_tables = [], [], []
    for j in range(count):
        ident, tables = p[1 + 2 * j], p[2 + 2 * j]
        if ident not in frame_ids:
            raise JpegError(f"corrupt data: scan component {ident} not in frame")
        index = frame_ids.index(ident)
        if index in comps:
            raise JpegError(f"corrupt data: component {ident} twice in a scan")
        comps.append(index)
        dc_tables.append(_huffman_table(r, 0, tables >> 4))
        ac_tables.append(_huffman_table(r, 1, tables & 0x0F))
    data, segments = _entropy_data(r)
    r.file.scans.append(Scan(comps, dc_tables, ac_tables, dict(r.quant),
                             r.restart_interval, data, segments))


def _refuse_filled_stuffing(a: np.ndarray, ff: np.ndarray, nxt: np.ndarray) -> None:
    """JpegError for 0xFF 0xFF... 0x00 in a scan without restart markers.

    libjpeg-turbo's byte-wise reader (jdhuff.c ``jpeg_fill_bit_buffer``)
    skips extra 0xFF bytes and takes FF..FF 00 as one data byte 0xFF, but in
    a scan without restart markers it decodes an MCU with its fast path
    (``decode_mcu_fast``) whenever at least 512 bytes per block of the MCU
    are buffered.  That path takes FF FF for a marker, decodes the rest of
    the MCU from zero bits, then hands the MCU to the slow path, which
    re-decodes it correctly but overwrites only the coefficients it finds:
    the fast path's stray coefficients remain.  Whether that happens
    depends on how many bytes the application has buffered (bytes after EOI
    included), not on the file, so there is no one libjpeg answer to match.
    """
    fill = ff[nxt == 0xFF]  # 0xFF followed by 0xFF
    if not fill.size:
        return
    # The byte that ends each run of 0xFF bytes (one exists: the scan's end
    # marker follows every fill byte the caller passes).
    lo = int(fill[0])
    not_ff = np.flatnonzero(a[lo:] != 0xFF) + lo
    run_end = not_ff[np.searchsorted(not_ff, fill)]
    bad = fill[a[run_end] == 0x00]
    if bad.size:
        raise JpegError("unsupported: 0xFF fill bytes before a stuffed 0xFF00 "
                        f"in entropy-coded data at offset {int(bad[0])} (a scan "
                        "without restart markers; libjpeg-turbo's result "
                        "depends on its input buffering)")


def _entropy_data(r: _Reader):
    """Unstuffed entropy-coded data after SOS, split at RST markers.

    Follows libjpeg's reading: 0xFF 0x00 is a data byte 0xFF; extra 0xFF fill
    bytes before a marker are skipped (T.81 B.1.1.2), and so are extra 0xFF
    bytes before a stuffed 0xFF 0x00 in a scan with restart markers (see
    :func:`_refuse_filled_stuffing` for a scan without); RSTm separates
    segments (m must cycle 0..7); any other marker ends the scan (``pos`` is
    left on it).
    """
    a = r.array
    start = r.pos
    ff = np.flatnonzero(a[start:-1] == 0xFF) + start
    nxt = a[ff + 1]
    is_rst = (nxt >= RST0) & (nxt <= RST7)
    is_end = (nxt != 0) & (nxt != 0xFF) & ~is_rst
    if not is_end.any():
        raise JpegError("truncated file: entropy-coded data has no end marker")
    first_end = int(np.argmax(is_end))
    end = int(ff[first_end])
    ff, nxt, is_rst = ff[:first_end], nxt[:first_end], is_rst[:first_end]
    if not r.restart_interval:
        _refuse_filled_stuffing(a, ff, nxt)
    if not ff.size or not (nxt != 0).any():  # only stuffed FF00: one bytes call
        r.pos = end
        data = np.frombuffer(bytes(r.data[start:end]).replace(b"\xff\x00", b"\xff"),
                             dtype=np.uint8)
        return data, np.array([[0, len(data)]], dtype=np.int64)
    # Bytes to drop: stuffed 0x00, fill 0xFF, and both bytes of RST markers.
    rst_pos = ff[is_rst]
    drop = np.concatenate([ff[nxt == 0] + 1, ff[nxt == 0xFF], rst_pos, rst_pos + 1])
    keep = np.ones(end - start, dtype=bool)
    keep[drop - start] = False
    data = a[start:end][keep]
    numbers = nxt[is_rst] - RST0
    if np.any(numbers != (np.arange(len(numbers)) & 7)):
        raise JpegError("corrupt data: restart marker out of sequence")
    kept_before = np.concatenate([[0], np.cumsum(keep)])  # kept bytes before i
    bounds = np.concatenate([[0], kept_before[rst_pos - start], [len(data)]])
    r.pos = end
    return data, np.stack([bounds[:-1], bounds[1:]], axis=1).astype(np.int64)
