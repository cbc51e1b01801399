"""The feature bitstream: one self-describing byte layout a host decodes alone.

Layout (PNG style: explicit big-endian fields, lengths before data, CRC-32 of
what the receiver must trust).  ``FIELDS`` below is the one definition; the
writer and the reader walk it, and the README table is checked against it.
A name's length byte comes right before it.  The header ends with a CRC-32 of
every header byte before it; the payload follows, protected by its own CRC-32
(in the header), so a damaged header and a damaged payload are told apart.

Every way a stream can be damaged ends in one RefimplError naming the field:
truncation (in which field, at which offset), a bad magic or version, a header
length or CRC that does not match, a truncated payload or trailing bytes, a
payload CRC mismatch, then values outside their range or inconsistent with
each other (codec, mapping, mosaic geometry, QF, flags).  The checks against
the host's own network (name, layer, shape, out_frac, weights) are in
``partition``.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from ..errors import RefimplError
from . import mosaic as mos
from .mapping import MappingParams

MAGIC = b"RFSB"                    # refimpl feature split bitstream
VERSION = 1
CODECS = ("raw", "lossless", "jpeg")
SCAN_IDS = ("chw", "blocks")
PREDICTOR_IDS = ("none", "left")
MAPPING_IDS = ("none", "shift", "minmax")
MOSAIC_IDS = ("none", "packed", "aligned")
FLAG_ABBREVIATED, FLAG_OPTIMIZED = 1, 2     # jpeg_flags bits

# (field, struct format (big-endian), meaning).  "name" fields are a length byte + ASCII.
FIELDS = (
    ("magic", "4s", 'b"RFSB"'),
    ("version", "B", "layout version, 1"),
    ("header_bytes", "H", "bytes from magic through header_crc"),
    ("codec", "B", "0 raw, 1 lossless, 2 jpeg"),
    ("network", "name", "network name (length byte, then ASCII)"),
    ("layer", "name", "partition layer L whose output this is; 'input' for host-only"),
    ("channels", "H", "C of the map (C, H, W)"),
    ("height", "H", "H"),
    ("width", "H", "W"),
    ("out_frac", "b", "fractional bits of the int16 values (signed)"),
    ("weights_crc", "I", "CRC-32 of the quantized network (partition.weights_crc)"),
    ("scan", "B", "lossless scan order: 0 chw, 1 blocks (0 for other codecs)"),
    ("predictor", "B", "lossless predictor: 0 none, 1 left neighbour (0 for other codecs)"),
    ("mapping", "B", "8-bit mapping: 0 none, 1 shift, 2 minmax"),
    ("shift", "B", "shift mapping: s (u8 = x >> s, half up)"),
    ("lo", "h", "minmax mapping: min of the map"),
    ("hi", "h", "minmax mapping: max of the map"),
    ("mosaic", "B", "0 none, 1 packed, 2 aligned"),
    ("grid_rows", "H", "mosaic grid rows"),
    ("grid_cols", "H", "mosaic grid columns"),
    ("cell_h", "H", "mosaic cell height (H, or H rounded up to 8 when aligned)"),
    ("cell_w", "H", "mosaic cell width"),
    ("qf", "B", "JPEG quality 1..100 (0 for other codecs)"),
    ("jpeg_flags", "B", "bit 0: abbreviated datastream (T.81 B.5), bit 1: optimized Huffman tables"),
    ("payload_bytes", "I", "payload length"),
    ("payload_crc", "I", "CRC-32 (ISO 3309, as zlib.crc32 and PNG) of the payload"),
    ("header_crc", "I", "CRC-32 of every header byte before this field"),
)


@dataclass(frozen=True)
class Header:
    """Everything a host needs besides the payload.  shape is (C, H, W)."""

    codec: str
    network: str
    layer: str
    shape: tuple
    out_frac: int
    weights_crc: int = 0
    scan: str = "chw"
    predictor: str = "none"
    mapping: MappingParams | None = None
    mosaic: mos.MosaicLayout | None = None
    qf: int = 0
    abbreviated: bool = False
    optimized: bool = False


def _values(h: Header, payload: bytes) -> dict:
    m = h.mapping or MappingParams("none")
    lay = h.mosaic
    return dict(magic=MAGIC, version=VERSION, header_bytes=0, codec=CODECS.index(h.codec),
                network=h.network, layer=h.layer, channels=h.shape[0], height=h.shape[1], width=h.shape[2],
                out_frac=h.out_frac, weights_crc=h.weights_crc, scan=SCAN_IDS.index(h.scan),
                predictor=PREDICTOR_IDS.index(h.predictor),
                mapping=MAPPING_IDS.index(m.kind), shift=m.shift, lo=m.lo, hi=m.hi,
                mosaic=MOSAIC_IDS.index(lay.kind) if lay else 0, grid_rows=lay.grid_rows if lay else 0,
                grid_cols=lay.grid_cols if lay else 0, cell_h=lay.cell_h if lay else 0,
                cell_w=lay.cell_w if lay else 0, qf=h.qf,
                jpeg_flags=(FLAG_ABBREVIATED if h.abbreviated else 0) | (FLAG_OPTIMIZED if h.optimized else 0),
                payload_bytes=len(payload), payload_crc=zlib.crc32(payload))


def _pack(name: str, fmt: str, value) -> bytes:
    if fmt == "name":
        raw = value.encode("ascii")
        if not 1 <= len(raw) <= 255:
            raise RefimplError(f"bitstream: {name} '{value}' must be 1..255 ASCII characters")
        return bytes([len(raw)]) + raw
    try:
        return struct.pack(">" + fmt, value)
    except struct.error:
        raise RefimplError(f"bitstream: field {name} = {value!r} does not fit '{fmt}'") from None


def write(h: Header, payload: bytes) -> bytes:
    """Header + payload as one bitstream."""
    payload = bytes(payload)
    vals = _values(h, payload)
    parts = [_pack(n, f, vals[n]) for n, f, _ in FIELDS[:-1]]
    size = sum(map(len, parts)) + 4
    parts[2] = struct.pack(">H", size)
    head = b"".join(parts)
    return head + struct.pack(">I", zlib.crc32(head)) + payload


def header_size(h: Header) -> int:
    """Bytes of side information (the header) of a stream with this header."""
    return len(write(h, b""))


def _damaged(msg: str) -> RefimplError:
    return RefimplError(f"bitstream: {msg}")


def parse_fields(data: bytes) -> tuple:
    """({field: raw value}, {field: (offset, size)}, header end) with the structural checks."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise _damaged(f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    vals, where, pos = {}, {}, 0
    for name, fmt, _ in FIELDS:
        if fmt == "name":
            if pos + 1 > len(data):
                raise _damaged(f"truncated in field '{name}' length (offset {pos}, {len(data)} bytes in all)")
            n = data[pos]
            size = 1 + n
            if n == 0:
                raise _damaged(f"field '{name}' is empty (offset {pos})")
        else:
            size = struct.calcsize(">" + fmt)
        if pos + size > len(data):
            raise _damaged(f"truncated in field '{name}' (offset {pos}, needs {size} bytes, "
                           f"{len(data) - pos} left)")
        chunk = data[pos:pos + size]
        if fmt == "name":
            try:
                vals[name] = chunk[1:].decode("ascii")
            except UnicodeDecodeError:
                vals[name] = None
        else:
            vals[name] = struct.unpack(">" + fmt, chunk)[0]
        where[name] = (pos, size)
        pos += size
        if name == "magic" and vals["magic"] != MAGIC:
            raise _damaged(f"not a refimpl feature bitstream (magic {vals['magic']!r}, expected {MAGIC!r})")
        if name == "version" and vals["version"] != VERSION:
            raise _damaged(f"unsupported version {vals['version']} (this reader knows version {VERSION})")
    return vals, where, pos


def read(data: bytes) -> tuple:
    """Bitstream -> (Header, payload bytes), or one RefimplError saying what is damaged."""
    if isinstance(data, (bytes, bytearray, memoryview)) and len(data) >= 7 and bytes(data[:5]) == MAGIC + bytes([VERSION]):
        hb = struct.unpack(">H", bytes(data[5:7]))[0]          # header CRC first: a damaged header is
        if 11 <= hb <= len(data) and zlib.crc32(bytes(data[:hb - 4])) != struct.unpack(">I", bytes(data[hb - 4:hb]))[0]:
            raise _damaged("header CRC-32 mismatch (the header is damaged)")   # never parsed further
    vals, where, end = parse_fields(data)
    data = bytes(data)
    if vals["header_bytes"] != end:
        raise _damaged(f"field 'header_bytes' says {vals['header_bytes']}, the fields take {end}")
    if zlib.crc32(data[:end - 4]) != vals["header_crc"]:
        raise _damaged("header CRC-32 mismatch (the header is damaged)")
    payload = data[end:]
    n = vals["payload_bytes"]
    if len(payload) < n:
        raise _damaged(f"payload truncated: {len(payload)} of {n} bytes")
    if len(payload) > n:
        raise _damaged(f"{len(payload) - n} trailing bytes after the {n}-byte payload")
    if zlib.crc32(payload) != vals["payload_crc"]:
        raise _damaged("payload CRC-32 mismatch (the payload is damaged)")
    return _header(vals), payload


def _enum(vals: dict, name: str, names: tuple) -> str:
    v = vals[name]
    if v >= len(names):
        raise _damaged(f"field '{name}' = {v} unknown (0..{len(names) - 1}: {', '.join(names)})")
    return names[v]


def _header(v: dict) -> Header:
    """Semantic checks of a structurally sound, CRC-clean header."""
    codec = _enum(v, "codec", CODECS)
    for name in ("network", "layer"):
        if v[name] is None or not v[name].isprintable():
            raise _damaged(f"field '{name}' is not printable ASCII")
    shape = (v["channels"], v["height"], v["width"])
    if min(shape) < 1:
        raise _damaged(f"shape {shape} has an empty dimension")
    scan = _enum(v, "scan", SCAN_IDS)
    predictor = _enum(v, "predictor", PREDICTOR_IDS)
    mkind = _enum(v, "mapping", MAPPING_IDS)
    lkind = _enum(v, "mosaic", MOSAIC_IDS)
    jpeg = codec == "jpeg"
    if jpeg != (mkind != "none") or jpeg != (lkind != "none") or jpeg != (v["qf"] != 0):
        raise _damaged(f"codec {codec} with mapping {mkind}, mosaic {lkind}, qf {v['qf']}: "
                       "mapping, mosaic and qf are set exactly for jpeg")
    if codec != "lossless" and (scan != "chw" or predictor != "none"):
        raise _damaged(f"field 'scan' = {scan} / 'predictor' = {predictor} set for codec {codec}")
    if v["jpeg_flags"] & ~(FLAG_ABBREVIATED | FLAG_OPTIMIZED) or (v["jpeg_flags"] and not jpeg):
        raise _damaged(f"field 'jpeg_flags' = {v['jpeg_flags']} has unknown bits or is set without jpeg")
    mapping = lay = None
    if jpeg:
        if not 1 <= v["qf"] <= 100:
            raise _damaged(f"field 'qf' = {v['qf']} outside 1..100")
        if mkind == "shift" and (v["shift"] > 15 or v["lo"] or v["hi"]):
            raise _damaged(f"shift mapping with shift {v['shift']} (0..15), lo {v['lo']}, hi {v['hi']} (0)")
        if mkind == "minmax" and (v["lo"] > v["hi"] or v["shift"]):
            raise _damaged(f"minmax mapping with lo {v['lo']} > hi {v['hi']} or shift {v['shift']} set")
        mapping = MappingParams(mkind, v["shift"], v["lo"], v["hi"])
        lay = mos.MosaicLayout(lkind, v["grid_rows"], v["grid_cols"], v["cell_h"], v["cell_w"])
        if lay != mos.layout(lkind, shape):
            raise _damaged(f"mosaic geometry {lay} does not match shape {shape} ({mos.layout(lkind, shape)})")
    else:
        extra = [n for n in ("shift", "lo", "hi", "grid_rows", "grid_cols", "cell_h", "cell_w") if v[n]]
        if extra:
            raise _damaged(f"fields {', '.join(extra)} set for codec {codec}")
    return Header(codec=codec, network=v["network"], layer=v["layer"], shape=shape, out_frac=v["out_frac"],
                  weights_crc=v["weights_crc"], scan=scan, predictor=predictor, mapping=mapping, mosaic=lay, qf=v["qf"],
                  abbreviated=bool(v["jpeg_flags"] & FLAG_ABBREVIATED),
                  optimized=bool(v["jpeg_flags"] & FLAG_OPTIMIZED))
