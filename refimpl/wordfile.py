"""Word files shared by the golden writer and the RTL comparator.

hex : one word per line, fixed width (ceil(word_bits / 4) lowercase digits),
      two's complement of ``word_bits``, after ``//`` header comment lines,
      ending with a newline (Verilator 5.006's $readmemh reads a last word without
      one as 0).  Loadable with $readmemh in Icarus Verilog and Verilator.
bin : raw little-endian words in the container of the dtype (int16: 2 bytes,
      int32: 4, int64: 8 sign-extended, uint8: 1), no header.
npy : numpy.save of the array (shape and dtype included).
Flattening is row-major over the tensor's stated layout.
"""
from __future__ import annotations

import io

import numpy as np

CONTAINERS = {np.dtype(np.uint8): "<u1", np.dtype(np.int8): "<i1", np.dtype(np.int16): "<i2",
              np.dtype(np.int32): "<i4", np.dtype(np.int64): "<i8", np.dtype(np.uint16): "<u2",
              np.dtype(np.uint32): "<u4"}


def hex_digits(word_bits: int) -> int:
    return -(-word_bits // 4)


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def to_hex(a: np.ndarray, word_bits: int, header: list) -> bytes:
    """Hex text of ``a`` (integers that fit ``word_bits`` two's complement, or unsigned)."""
    v = np.asarray(a).astype(np.int64).reshape(-1)
    lo, hi = -(1 << (word_bits - 1)), (1 << word_bits) - 1
    if v.size and (v.min() < lo or v.max() > hi):
        raise ValueError(f"values do not fit {word_bits} bits")
    u = v.view(np.uint64) & np.uint64((1 << word_bits) - 1 if word_bits < 64 else 2 ** 64 - 1)
    digits = hex_digits(word_bits)
    shifts = np.arange(digits - 1, -1, -1, dtype=np.uint64) * np.uint64(4)     # most significant digit first
    text = np.empty((v.size, digits + 1), dtype=np.uint8)
    text[:, :digits] = _HEX[((u[:, None] >> shifts) & np.uint64(15)).astype(np.intp)]
    text[:, digits] = ord("\n")
    head = "".join(f"// {line}\n" for line in header).encode("ascii")
    return head + text.tobytes()


def to_bin(a: np.ndarray) -> bytes:
    a = np.asarray(a)
    return np.ascontiguousarray(a).astype(CONTAINERS[a.dtype], copy=False).tobytes()


def to_npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(a), allow_pickle=False)
    return buf.getvalue()
