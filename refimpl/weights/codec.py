"""One layer's weight matrix <-> its DRAM stream.

``jpeg``      the matrix's 8-bit image (mapping.py) as one baseline grayscale
              JPEG at quality ``qf`` (refimpl.jpeg: byte-identical to Pillow's
              ``Image.save(img, "JPEG", quality=qf, optimize=True)``), a full
              JFIF stream (APP0, DQT, SOF0, DHT, SOS, EOI) with optimized
              Huffman tables, so any JPEG decoder reads it.  Lossy: the decoder
              gives the int16 matrix ``mapping.from_image(decode(stream), lo, hi)``,
              deterministically (the integer islow IDCT of libjpeg-turbo's C path).
``lossless``  the int16 matrix as a one-channel map [1, rows, cols] through the
              feature lossless coder (refimpl/split/lossless.py, scan ``chw``),
              with the predictor (``left`` or ``none``) that gives fewer bytes
              (``none`` on a tie).  Exact.

Per-layer side information (the decoder's registers), SIDE_BYTES = 11 in DRAM:
codec and qf (1 byte), lo and hi (2 x int16), w_frac (1 byte), predictor
(1 byte), stream length (uint32).  A layer's DRAM weight bytes are
``len(stream) + SIDE_BYTES``; the 16-bit raw figure it is compared with is
2 bytes a weight.  Biases are not in either figure (the cost model moves no
bias words; the bundle keeps them apart, bundle.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import jpeg
from ..errors import RefimplError, check_choice
from ..split import lossless
from . import mapping

CODECS = ("jpeg", "lossless")
QF_RANGE = (1, 100)
# Side information per layer in DRAM, bytes: codec and qf (1), lo (2), hi (2),
# w_frac (1), predictor (1), stream length (4, uint32) = 11.
SIDE_BYTES = 11
MAX_SIDE = jpeg.MAX_DIMENSION   # 65500, libjpeg-turbo's JPEG_MAX_DIMENSION: the longest image side


@dataclass(frozen=True)
class LayerCode:
    """A layer's coded weights.  ``data`` is the stream; lo/hi the mapping (jpeg);
    predictor the lossless predictor; rows x cols the matrix."""

    codec: str
    rows: int
    cols: int
    data: bytes
    qf: int | None = None
    lo: int = 0
    hi: int = 0
    predictor: str | None = None

    @property
    def dram_bytes(self) -> int:
        """Bytes of this layer's weights in DRAM: the stream and its side information."""
        return len(self.data) + SIDE_BYTES


def check_codec(codec: str) -> str:
    return check_choice("weight codec", codec, CODECS)


def check_qf(qf) -> int:
    if isinstance(qf, bool) or not isinstance(qf, (int, np.integer)) or not QF_RANGE[0] <= qf <= QF_RANGE[1]:
        raise RefimplError(f"weight quality {qf!r} outside {QF_RANGE[0]}..{QF_RANGE[1]}")
    return int(qf)


def encode_matrix(m: np.ndarray, codec: str, qf: int | None = None) -> LayerCode:
    """int16 [rows, cols] -> LayerCode (jpeg needs qf 1..100)."""
    check_codec(codec)
    m = np.asarray(m)
    if m.dtype != np.int16 or m.ndim != 2 or m.size == 0:
        raise RefimplError(f"weight matrix must be a non-empty int16 [rows, cols], got {m.dtype} {m.shape}")
    rows, cols = m.shape
    if codec == "lossless":
        best = None
        for predictor in ("none", "left"):
            data = lossless.encode(m[None], "chw", predictor)
            if best is None or len(data) < len(best.data):
                best = LayerCode("lossless", rows, cols, data, predictor=predictor)
        return best
    check_qf(qf)
    if max(rows, cols) > MAX_SIDE:
        raise RefimplError(f"weight matrix {rows} x {cols} has a side above {MAX_SIDE} pixels, "
                           f"the longest a baseline JPEG allows")
    img, mp = mapping.to_image(m)
    data = jpeg.encode(img, quality=int(qf), subsampling=None, optimize=True)
    return LayerCode("jpeg", rows, cols, data, qf=int(qf), lo=mp.lo, hi=mp.hi)


def decode_stages(code: LayerCode) -> dict:
    """{'image': uint8 [rows, cols] (jpeg) or None, 'matrix': int16 [rows, cols]}.

    RefimplError when the stream does not decode to a rows x cols matrix."""
    if code.codec == "lossless":
        m = lossless.decode(code.data, (1, code.rows, code.cols), "chw", code.predictor)[0]
        return dict(image=None, matrix=m)
    if code.codec != "jpeg":
        raise RefimplError(f"unknown weight codec '{code.codec}'")
    try:
        img = jpeg.decode(code.data, max_pixels=code.rows * code.cols)
    except jpeg.JpegError as exc:
        raise RefimplError(f"JPEG stream does not decode ({exc})") from None
    if img.ndim != 2 or img.shape != (code.rows, code.cols):
        raise RefimplError(f"JPEG stream decodes to {img.shape}, expected a {code.rows} x {code.cols} grayscale image")
    return dict(image=img, matrix=mapping.from_image(img, code.lo, code.hi))


def decode_matrix(code: LayerCode) -> np.ndarray:
    """LayerCode -> int16 [rows, cols], the weights the MAC array receives."""
    return decode_stages(code)["matrix"]
