"""Word files shared by the golden writer and the RTL comparator.

hex : one word per line, fixed width (ceil(word_bits / 4) lowercase digits),
      two's complement of ``word_bits``, after ``//`` header comment lines,
      ending with a newline (Verilator 5.006's $readmemh reads a last word without
      one as 0).  Loadable with $readmemh in Icarus Verilog and Verilator.
bin : raw little-endian words in the container of the dtype (int16: 2 bytes,
      int32: 4, int64: 8 sign-extended, uint8: 1), no header.
npy : numpy.save of the array (shape and dtype included).
Flattening is row-major over the tensor's stated layout.

The readers below are strict where a testbench bug would otherwise pass as
data (a ``0x`` prefix, a byte-order mark, words wider than the golden width,
an .npy of the wrong shape) and accept what $writememh and editors produce
(comments, ``@address``, ``_``, x/z digits, CRLF).
"""
from __future__ import annotations

import io
import math
import re

import numpy as np

from .fixedpoint import MAX_ACC_BITS, MIN_ACC_BITS

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


# ---- readers (the golden verifier and the RTL comparator) -------------------------------------------------

# The word widths the golden writer produces per container dtype: bytes, 16-bit activations and
# weights, 16/32-bit bias, JPEG stage words, and acc_bits psums in int64 (fixedpoint.check_acc_bits).
WORD_BITS = {"uint8": range(8, 9), "int8": range(8, 9), "uint16": range(16, 17), "int16": range(16, 17),
             "uint32": range(32, 33), "int32": range(32, 33),
             "int64": range(MIN_ACC_BITS, MAX_ACC_BITS + 1)}
NPY_MAGIC = b"\x93NUMPY"
BOM = b"\xef\xbb\xbf"
_NIBBLES = bytearray(b"\xff" * 256)        # bytes.translate table: hex digit -> 0..15, "\n" -> 0xfe
for _i, _c in enumerate(b"0123456789abcdef"):
    _NIBBLES[_c] = _NIBBLES[ord(chr(_c).upper())] = _i
_NIBBLES[10] = 0xfe
_NIBBLES = bytes(_NIBBLES)
_TOKEN = re.compile(r"[0-9a-fA-FxXzZ]+")
_ADDRESS = re.compile(r"[0-9a-fA-F]+")


class WordFileError(ValueError):
    """A word file that cannot be read as the tensor it should hold (the message names file and line)."""


def word_range(word_bits: int, signed: bool) -> tuple:
    """(lo, hi) inclusive of a ``word_bits`` two's complement (or unsigned) word."""
    return (-(1 << (word_bits - 1)), (1 << (word_bits - 1)) - 1) if signed else (0, (1 << word_bits) - 1)


def check_range(v: np.ndarray, word_bits: int, signed: bool, where: str):
    """Every value fits ``word_bits``; else a width error naming the first offender (flat index)."""
    lo, hi = word_range(word_bits, signed)
    bad = np.flatnonzero((v < lo) | (v > hi)) if v.size else []
    if len(bad):
        i = int(bad[0])
        raise WordFileError(f"{where}: word {i} = {int(v[i])} does not fit the golden width of {word_bits} bits "
                            f"({'signed' if signed else 'unsigned'} {lo}..{hi}); {len(bad)} such words "
                            f"(a sign- or zero-extension bug in the testbench?)")


def _to_signed(u: np.ndarray, word_bits: int, signed: bool) -> np.ndarray:
    """int64 values of unsigned ``word_bits`` patterns (sign bit extended when ``signed``)."""
    if signed and 8 * u.dtype.itemsize == word_bits:
        return u.view(u.dtype.str.replace("u", "i")).astype(np.int64)      # the container is the width
    if not signed:
        return u.astype(np.int64)
    s = np.uint64(64 - word_bits)
    return (u.astype(np.uint64) << s).view(np.int64) >> s.astype(np.int64)


def _fast_hex(body: bytes, n: int, digits: int):
    """Unsigned words of fixed-width, newline-terminated hex lines (the writer's and $writememh's
    layout), or None for anything else.  The digits are packed two per byte and read as big-endian
    integers of 1, 2, 4 or 8 bytes."""
    if len(body) != n * (digits + 1) or digits > 16:
        return None
    nib = body.translate(_NIBBLES)
    if b"\xff" in nib or nib.count(b"\xfe") != n:
        return None
    a = np.frombuffer(nib, np.uint8).reshape(n, digits + 1)
    if n and not (a[:, digits] == 0xfe).all():
        return None
    width = next(k for k in (1, 2, 4, 8) if 2 * k >= digits)
    off = 2 * width - digits                                    # leading zero nibbles
    packed = np.zeros((n, width), np.uint8)
    for j in range(width):                                      # column by column: 1-D loops over n
        hi, lo = 2 * j - off, 2 * j + 1 - off
        if lo >= 0:
            packed[:, j] = a[:, lo] if hi < 0 else (a[:, hi] << 4) | a[:, lo]
    return packed.view(f">u{width}").reshape(n)


def read_hex(data: bytes, n: int, word_bits: int, signed: bool, where: str, exact: bool = False):
    """(int64 values [n], bool X/Z mask [n]) of $readmemh text.

    Accepted: ``//`` and ``/* */`` comments, ``@address`` lines (hex, >= 0), ``_`` separators,
    x/z digits (a word with any is X/Z), CRLF or LF line ends, words of fewer digits than
    the width (zero-extended, as $readmemh does).  Refused: a UTF-8 byte-order mark, a ``0x``
    prefix, words of more digits than ceil(word_bits / 4) or of a value wider than ``word_bits``
    (one rule for sign- and zero-extended words: both are a testbench width bug), too few or
    too many words.  ``exact``: every word has exactly ceil(word_bits / 4) digits and no x/z
    (what the golden writer produces).
    """
    digits = hex_digits(word_bits)
    if data.startswith(BOM):
        raise WordFileError(f"{where}:1: starts with a UTF-8 byte-order mark (EF BB BF); "
                            f"$readmemh reads plain ASCII: save the file without a BOM")
    pos = 0
    while data.startswith(b"//", pos):                      # header comment lines (fast path)
        nl = data.find(b"\n", pos)
        pos = len(data) if nl < 0 else nl + 1
    u = _fast_hex(data[pos:], n, digits)
    if u is not None:
        if word_bits < 8 * u.dtype.itemsize and n and int(u.max()) >> word_bits:
            i = int(np.flatnonzero(u >> word_bits)[0])
            line = data[:pos].count(b"\n") + i + 1
            raise WordFileError(f"{where}:{line}: word '{data[pos + i * (digits + 1):][:digits].decode()}' is "
                                f"wider than the golden width of {word_bits} bits")
        return _to_signed(u, word_bits, signed), np.zeros(n, bool)
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise WordFileError(f"{where}:{line}: not text (byte 0x{data[exc.start]:02x} at offset {exc.start}; "
                            f"a hex dump is ASCII)") from None
    values = np.zeros(n, np.int64)
    xz = np.zeros(n, bool)
    seen = np.zeros(n, bool)
    lo, hi = word_range(word_bits, signed)
    at, in_block = 0, False
    for lineno, line in enumerate(text.splitlines(), start=1):
        if in_block:                                        # inside a /* */ comment
            end = line.find("*/")
            if end < 0:
                continue
            line, in_block = line[end + 2:], False
        line = re.sub(r"/\*.*?\*/", " ", line.split("//", 1)[0])
        if "/*" in line:
            line, in_block = line.split("/*", 1)[0], True
        for tok in line.split():
            if tok.startswith("@"):
                if not _ADDRESS.fullmatch(tok[1:]):
                    raise WordFileError(f"{where}:{lineno}: bad address '{tok}' (an address is @ and hex digits)")
                at = int(tok[1:], 16)
                if at >= n:
                    raise WordFileError(f"{where}:{lineno}: address '{tok}' = {at} is past the {n} words expected")
                continue
            word = tok.replace("_", "")
            if word[:2] in ("0x", "0X") and len(word) > 2 and re.fullmatch(r"[0-9a-fA-F]+", word[2:]):
                raise WordFileError(f"{where}:{lineno}: not a hex word: '{tok}' ($readmemh words are bare "
                                    f"hex digits, no 0x prefix)")
            if not _TOKEN.fullmatch(word):
                raise WordFileError(f"{where}:{lineno}: not a hex word: '{tok}'")
            if len(word) > digits or (exact and len(word) != digits):
                raise WordFileError(f"{where}:{lineno}: word '{tok}' has {len(word)} hex digits; the golden width "
                                    f"is {word_bits} bits ({digits} digits)"
                                    + ("" if exact else " (a sign- or zero-extended word: a testbench width bug)"))
            if at >= n:
                raise WordFileError(f"{where}:{lineno}: more than the {n} words expected")
            if word.strip("0123456789abcdefABCDEF"):
                if exact:
                    raise WordFileError(f"{where}:{lineno}: word '{tok}' has x/z digits")
                xz[at] = True
            else:
                v = int(word, 16)
                if v >> word_bits:
                    raise WordFileError(f"{where}:{lineno}: word '{tok}' is wider than the golden width of "
                                        f"{word_bits} bits")
                values[at] = v - (1 << word_bits) if signed and v > hi else v
            seen[at] = True
            at += 1
    if not seen.all():
        missing = int(np.flatnonzero(~seen)[0])
        raise WordFileError(f"{where}: {int(seen.sum())} words, expected {n} (first missing word: {missing})")
    return values, xz


def hex_header(data: bytes) -> dict:
    """The ``shape=`` and ``word_bits=`` the writer puts in a hex file's ``//`` header (None if absent)."""
    found = dict(shape=None, word_bits=None)
    pos = 0
    while data.startswith(b"//", pos):
        nl = data.find(b"\n", pos)
        line = data[pos:len(data) if nl < 0 else nl].decode("ascii", "replace")
        pos = len(data) if nl < 0 else nl + 1
        for key, pat in (("shape", r"\bshape=([0-9x]+)"), ("word_bits", r"\bword_bits=([0-9]+)")):
            m = re.search(pat, line)
            if m and found[key] is None:
                found[key] = m.group(1) if key == "shape" else int(m.group(1))
    return found


def read_npy(data: bytes, shape: tuple, where: str) -> np.ndarray:
    """The integer array of an .npy file, which must have exactly ``shape``."""
    if not data.startswith(NPY_MAGIC):
        raise WordFileError(f"{where}: not an npy file (no \\x93NUMPY magic)")
    try:
        a = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise WordFileError(f"{where}: not an npy file ({str(exc).splitlines()[0][:100]})") from None
    if a.dtype.kind not in "iu":
        raise WordFileError(f"{where}: npy holds {a.dtype}, expected integer words")
    if a.shape != tuple(shape):
        raise WordFileError(f"{where}: npy shape {list(a.shape)}, expected {list(shape)} "
                            f"(same layout as the golden file)")
    return a


def read_words(data: bytes, fmt: str, shape: tuple, dtype: str, word_bits: int, where: str, exact: bool = False):
    """(int64 values, flat row-major, and X/Z mask) of a hex, bin or npy word file.

    ``shape``, ``dtype`` and ``word_bits`` are the golden tensor's (from a validated manifest).
    bin: the golden dtype's little-endian container.  npy: any integer dtype of exactly
    ``shape``.  Every value must fit ``word_bits``.  Raises WordFileError naming the file.
    """
    n = math.prod(shape)
    signed = not dtype.startswith("u")
    if fmt == "hex":
        return read_hex(data, n, word_bits, signed, where, exact)
    if fmt == "bin":
        dt = np.dtype(CONTAINERS[np.dtype(dtype)])
        if len(data) != n * dt.itemsize:
            raise WordFileError(f"{where}: {len(data)} bytes, expected {n * dt.itemsize} "
                                f"({n} words of {dt.itemsize} bytes)")
        v = np.frombuffer(data, dt).astype(np.int64)
        if 8 * dt.itemsize == word_bits:
            return v, np.zeros(n, bool)                         # the container is the width
    else:
        a = read_npy(data, shape, where)
        if a.dtype == np.uint64 and a.size and int(a.max()) > np.iinfo(np.int64).max:
            raise WordFileError(f"{where}: words do not fit the golden width of {word_bits} bits")
        v = a.reshape(-1).astype(np.int64)
    check_range(v, word_bits, signed, where)
    return v, np.zeros(n, bool)
