"""The three feature codecs: payload of one int16 map (C, H, W) and its inverse.

``raw``       int16 words, big-endian, (C, H, W) order: 2 bytes a value.  The
              paper's baseline ("0.3 MB with 16-bit precision" for AlexNet's
              input); every ratio in the project is raw bytes / bytes.
``lossless``  run-length + Huffman of the int16 values (split.lossless).
``jpeg``      8-bit mapping (split.mapping) -> grayscale mosaic (split.mosaic)
              -> baseline JPEG by refimpl.jpeg (byte-identical to Pillow's
              ``Image.save(..., "JPEG", quality=qf[, optimize=True])``).
              ``abbreviated``: JPEG's abbreviated format for compressed image
              data (T.81 B.5): SOI, SOF0, [DHT], SOS, data, EOI.  No APP0 (JFIF)
              and no DQT: the host rebuilds the quantization table from qf
              (libjpeg's scaling of T.81 Annex K); the DHT is dropped too when
              the standard Annex K tables are used, and travels when the
              tables are optimized.
"""
from __future__ import annotations

import struct

import numpy as np

from .. import jpeg
from ..errors import RefimplError, check_choice
from ..jpeg import markers
from . import lossless
from . import mapping as mp
from . import mosaic as mos
from .bitstream import CODECS, Header

QF_RANGE = (1, 100)


def check_codec(codec: str) -> str:
    return check_choice("codec", codec, CODECS)


def check_qf(qf) -> int:
    if isinstance(qf, bool) or not isinstance(qf, (int, np.integer)) or not QF_RANGE[0] <= qf <= QF_RANGE[1]:
        raise RefimplError(f"qf {qf!r} outside {QF_RANGE[0]}..{QF_RANGE[1]}")
    return int(qf)


# ---------------------------------------------------------------- abbreviated JPEG (T.81 B.5)
def _segments(data: bytes):
    """(marker, segment bytes) from SOI up to SOS; then (SOS, the rest of the stream)."""
    pos = 2
    while pos + 4 <= len(data):
        code = data[pos + 1]
        if code == markers.SOS:
            yield code, data[pos:]
            return
        n = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        yield code, data[pos:pos + 2 + n]
        pos += 2 + n
    raise RefimplError("jpeg payload: no SOS segment")


def abbreviate(full: bytes, optimized: bool) -> bytes:
    """Full JFIF stream -> abbreviated image datastream: drop APP0, DQT and (standard tables) DHT."""
    drop = {markers.APP0, markers.DQT} | (set() if optimized else {markers.DHT})
    return b"\xff\xd8" + b"".join(seg for code, seg in _segments(full) if code not in drop)


def complete(abbrev: bytes, qf: int, optimized: bool) -> bytes:
    """Host side: the tables an abbreviated stream leaves out, rebuilt from qf, put back in."""
    if abbrev[:2] != b"\xff\xd8":
        raise RefimplError("jpeg payload: no SOI marker")
    tables = markers.write_dqt(0, jpeg.quant_tables_for_quality(qf)[0])
    if not optimized:
        tables += markers.write_dht(0, 0, jpeg.STD_DC_LUMINANCE) + markers.write_dht(1, 0, jpeg.STD_AC_LUMINANCE)
    return abbrev[:2] + tables + abbrev[2:]


# ---------------------------------------------------------------- encode / decode
def encode_map(fmap: np.ndarray, codec: str, *, qf: int = 50, mapping: str = "shift", mosaic: str = "packed",
               abbreviated: bool = True, optimize: bool = False, scan: str = "chw",
               predictor: str = "left") -> tuple:
    """int16 (C, H, W) -> (dict of the codec's Header fields, payload bytes)."""
    check_codec(codec)
    a = np.asarray(fmap)
    if a.dtype != np.int16 or a.ndim != 3 or a.size == 0:
        raise RefimplError(f"feature map must be a non-empty int16 (C, H, W), got {a.dtype} {a.shape}")
    if codec == "raw":
        return {}, a.astype(">i2").tobytes()
    if codec == "lossless":
        lossless.check_scan(scan)
        lossless.check_predictor(predictor)
        return dict(scan=scan, predictor=predictor), lossless.encode(a, scan, predictor)
    qf = check_qf(qf)
    u8, params = mp.to_samples(a, mapping)
    img, lay = mos.to_mosaic(u8, mosaic)
    full = jpeg.encode(img, quality=qf, subsampling=None, optimize=optimize)
    data = abbreviate(full, optimize) if abbreviated else full
    return dict(mapping=params, mosaic=lay, qf=qf, abbreviated=abbreviated, optimized=optimize), data


def decode_map(h: Header, payload: bytes) -> np.ndarray:
    """Payload -> int16 (C, H, W) as the header describes it."""
    n = int(np.prod(h.shape))
    if h.codec == "raw":
        if len(payload) != 2 * n:
            raise RefimplError(f"raw payload has {len(payload)} bytes, shape {h.shape} needs {2 * n}")
        return np.frombuffer(payload, dtype=">i2").astype(np.int16).reshape(h.shape)
    if h.codec == "lossless":
        return lossless.decode(payload, h.shape, h.scan, h.predictor)
    data = complete(payload, h.qf, h.optimized) if h.abbreviated else payload
    try:
        img = jpeg.decode(data)
    except jpeg.JpegError as exc:
        raise RefimplError(f"jpeg payload: {exc}") from None
    if img.ndim != 2 or img.shape != h.mosaic.shape:
        raise RefimplError(f"jpeg payload decodes to {img.shape}, the mosaic is {h.mosaic.shape} grayscale")
    return mp.from_samples(mos.from_mosaic(img, h.mosaic, h.shape), h.mapping)
