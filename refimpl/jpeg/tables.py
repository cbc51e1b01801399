"""Constant tables of ITU-T T.81 and libjpeg's quality scaling.

Contents
--------
* ``NATURAL_ORDER`` / ``ZIGZAG_INDEX``: the zig-zag scan of T.81 Figure A.6.
* ``STD_LUMINANCE_QUANT`` / ``STD_CHROMINANCE_QUANT``: T.81 Annex K, Tables
  K.1 and K.2 (natural, row-major order).
* ``quality_scaling`` / ``scaled_quant_table`` / ``quant_tables_for_quality``:
  the quality (1..100) to table mapping of libjpeg's ``jcparam.c``
  (``jpeg_quality_scaling``, ``jpeg_add_quant_table``, ``jpeg_set_quality``).
* ``STD_DC_LUMINANCE`` ... ``STD_AC_CHROMINANCE``: the Huffman table
  specifications of T.81 Annex K.3.3 (Tables K.3 to K.6) in the BITS/HUFFVAL
  form in which they are written to a DHT segment.

All integer tables are read-only NumPy arrays.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .errors import JpegError

__all__ = [
    "BLOCK",
    "BLOCK_SIZE",
    "NATURAL_ORDER",
    "ZIGZAG_INDEX",
    "STD_LUMINANCE_QUANT",
    "STD_CHROMINANCE_QUANT",
    "quality_scaling",
    "scaled_quant_table",
    "quant_tables_for_quality",
    "HuffmanSpec",
    "STD_DC_LUMINANCE",
    "STD_AC_LUMINANCE",
    "STD_DC_CHROMINANCE",
    "STD_AC_CHROMINANCE",
]

BLOCK = 8  # T.81 A.1.3: a block is 8 x 8 samples
BLOCK_SIZE = 64  # BLOCK * BLOCK coefficients per block


def _frozen(values, dtype) -> np.ndarray:
    array = np.array(values, dtype=dtype)
    array.setflags(write=False)
    return array


# T.81 Figure A.6: zig-zag sequence of quantized DCT coefficients.
# NATURAL_ORDER[k] is the row-major index (8 * v + u) of the k-th coefficient
# in zig-zag order (libjpeg calls this table jpeg_natural_order).
NATURAL_ORDER = _frozen(
    [
        0, 1, 8, 16, 9, 2, 3, 10,
        17, 24, 32, 25, 18, 11, 4, 5,
        12, 19, 26, 33, 40, 48, 41, 34,
        27, 20, 13, 6, 7, 14, 21, 28,
        35, 42, 49, 56, 57, 50, 43, 36,
        29, 22, 15, 23, 30, 37, 44, 51,
        58, 59, 52, 45, 38, 31, 39, 46,
        53, 60, 61, 54, 47, 55, 62, 63,
    ],
    np.intp,
)

# Inverse permutation: ZIGZAG_INDEX[8 * v + u] is the zig-zag position k.
ZIGZAG_INDEX = _frozen(np.argsort(NATURAL_ORDER), np.intp)

# T.81 Annex K, Table K.1: luminance quantization table (natural order).
STD_LUMINANCE_QUANT = _frozen(
    [
        16, 11, 10, 16, 24, 40, 51, 61,
        12, 12, 14, 19, 26, 58, 60, 55,
        14, 13, 16, 24, 40, 57, 69, 56,
        14, 17, 22, 29, 51, 87, 80, 62,
        18, 22, 37, 56, 68, 109, 103, 77,
        24, 35, 55, 64, 81, 104, 113, 92,
        49, 64, 78, 87, 103, 121, 120, 101,
        72, 92, 95, 98, 112, 100, 103, 99,
    ],
    np.int64,
)

# T.81 Annex K, Table K.2: chrominance quantization table (natural order).
STD_CHROMINANCE_QUANT = _frozen(
    [
        17, 18, 24, 47, 99, 99, 99, 99,
        18, 21, 26, 66, 99, 99, 99, 99,
        24, 26, 56, 99, 99, 99, 99, 99,
        47, 66, 99, 99, 99, 99, 99, 99,
        99, 99, 99, 99, 99, 99, 99, 99,
        99, 99, 99, 99, 99, 99, 99, 99,
        99, 99, 99, 99, 99, 99, 99, 99,
        99, 99, 99, 99, 99, 99, 99, 99,
    ],
    np.int64,
)

MAX_QUANT_12BIT = 32767  # jcparam.c: "max quantizer needed for 12 bits"
MAX_QUANT_BASELINE = 255  # T.81 B.2.4.1: Pq = 0 means 8-bit table entries


def quality_scaling(quality: int) -> int:
    """Convert a quality rating to libjpeg's percentage scale factor.

    Parameters
    ----------
    quality : int
        Quality rating; values below 1 are treated as 1 and values above 100
        as 100, as in ``jpeg_quality_scaling`` (jcparam.c).

    Returns
    -------
    int
        ``5000 // quality`` for quality < 50, else ``200 - 2 * quality``
        (so quality 50 keeps the Annex K tables, quality 100 gives 0).
    """
    quality = min(max(int(quality), 1), 100)
    if quality < 50:
        return 5000 // quality
    return 200 - 2 * quality


def scaled_quant_table(base: np.ndarray, scale_factor: int,
                       force_baseline: bool = True) -> np.ndarray:
    """Scale a basic quantization table as ``jpeg_add_quant_table`` does.

    Parameters
    ----------
    base : ndarray, shape (64,), integer
        Basic table in natural (row-major) order.
    scale_factor : int
        Percentage scale, e.g. from :func:`quality_scaling`.
    force_baseline : bool
        Clamp entries to 255 (8-bit DQT entries).  Pillow's encoder always
        calls ``jpeg_set_quality(cinfo, quality, TRUE)``, i.e. True.

    Returns
    -------
    ndarray, shape (64,), dtype uint16
        ``(base * scale_factor + 50) // 100`` clamped to 1..32767 and, if
        ``force_baseline``, to at most 255.  Both operands are non-negative,
        so floor division equals C's truncating division here.
    """
    base = np.asarray(base, dtype=np.int64).reshape(BLOCK_SIZE)
    # + 50 rounds to nearest, / 100 removes the percentage (jcparam.c).
    table = (base * int(scale_factor) + 50) // 100
    table = np.clip(table, 1, MAX_QUANT_12BIT)
    if force_baseline:
        table = np.minimum(table, MAX_QUANT_BASELINE)
    return table.astype(np.uint16)


def quant_tables_for_quality(quality: int) -> tuple[np.ndarray, np.ndarray]:
    """Luminance and chrominance tables for a quality, as Pillow sets them.

    Parameters
    ----------
    quality : int
        1..100 (anything else raises :class:`JpegError`).

    Returns
    -------
    (luminance, chrominance) : tuple of ndarray, shape (64,), dtype uint16
        Natural-order tables as made by ``jpeg_set_quality(cinfo, quality,
        force_baseline=TRUE)``.
    """
    if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)) \
            or not 1 <= int(quality) <= 100:
        raise JpegError(f"quality must be an integer in 1..100, got {quality!r}")
    scale = quality_scaling(int(quality))
    return (scaled_quant_table(STD_LUMINANCE_QUANT, scale, True),
            scaled_quant_table(STD_CHROMINANCE_QUANT, scale, True))


class HuffmanSpec(NamedTuple):
    """A Huffman table as carried by a DHT segment (T.81 B.2.4.2).

    Attributes
    ----------
    bits : tuple of 16 int
        ``bits[i]`` is the number of codes of length ``i + 1`` (BITS list).
    values : tuple of int
        Symbols in order of increasing code length (HUFFVAL list).
    """

    bits: tuple
    values: tuple


# T.81 Table K.3 (K.3.3.1): luminance DC differences.
STD_DC_LUMINANCE = HuffmanSpec(
    bits=(0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0),
    values=tuple(range(12)),
)

# T.81 Table K.4 (K.3.3.1): chrominance DC differences.
STD_DC_CHROMINANCE = HuffmanSpec(
    bits=(0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0),
    values=tuple(range(12)),
)

# T.81 Table K.5 (K.3.3.2): luminance AC coefficients.
STD_AC_LUMINANCE = HuffmanSpec(
    bits=(0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7D),
    values=(
        0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12,
        0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07,
        0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xA1, 0x08,
        0x23, 0x42, 0xB1, 0xC1, 0x15, 0x52, 0xD1, 0xF0,
        0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0A, 0x16,
        0x17, 0x18, 0x19, 0x1A, 0x25, 0x26, 0x27, 0x28,
        0x29, 0x2A, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39,
        0x3A, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49,
        0x4A, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59,
        0x5A, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
        0x6A, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79,
        0x7A, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
        0x8A, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98,
        0x99, 0x9A, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7,
        0xA8, 0xA9, 0xAA, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6,
        0xB7, 0xB8, 0xB9, 0xBA, 0xC2, 0xC3, 0xC4, 0xC5,
        0xC6, 0xC7, 0xC8, 0xC9, 0xCA, 0xD2, 0xD3, 0xD4,
        0xD5, 0xD6, 0xD7, 0xD8, 0xD9, 0xDA, 0xE1, 0xE2,
        0xE3, 0xE4, 0xE5, 0xE6, 0xE7, 0xE8, 0xE9, 0xEA,
        0xF1, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF7, 0xF8,
        0xF9, 0xFA,
    ),
)

# T.81 Table K.6 (K.3.3.2): chrominance AC coefficients.
STD_AC_CHROMINANCE = HuffmanSpec(
    bits=(0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77),
    values=(
        0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21,
        0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71,
        0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91,
        0xA1, 0xB1, 0xC1, 0x09, 0x23, 0x33, 0x52, 0xF0,
        0x15, 0x62, 0x72, 0xD1, 0x0A, 0x16, 0x24, 0x34,
        0xE1, 0x25, 0xF1, 0x17, 0x18, 0x19, 0x1A, 0x26,
        0x27, 0x28, 0x29, 0x2A, 0x35, 0x36, 0x37, 0x38,
        0x39, 0x3A, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48,
        0x49, 0x4A, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58,
        0x59, 0x5A, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68,
        0x69, 0x6A, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78,
        0x79, 0x7A, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87,
        0x88, 0x89, 0x8A, 0x92, 0x93, 0x94, 0x95, 0x96,
        0x97, 0x98, 0x99, 0x9A, 0xA2, 0xA3, 0xA4, 0xA5,
        0xA6, 0xA7, 0xA8, 0xA9, 0xAA, 0xB2, 0xB3, 0xB4,
        0xB5, 0xB6, 0xB7, 0xB8, 0xB9, 0xBA, 0xC2, 0xC3,
        0xC4, 0xC5, 0xC6, 0xC7, 0xC8, 0xC9, 0xCA, 0xD2,
        0xD3, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8, 0xD9, 0xDA,
        0xE2, 0xE3, 0xE4, 0xE5, 0xE6, 0xE7, 0xE8, 0xE9,
        0xEA, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF7, 0xF8,
        0xF9, 0xFA,
    ),
)
