"""Exact run-length + Huffman coding of int16 values: JPEG's back end (T.81 F.1.2.2).

Point transform.  The largest k (0..15) for which every value of each channel
c has the same low k bits r_c is found, and y = (x - r_c) >> k is coded (exact:
x - r_c is a multiple of 2**k); only a k that saves more bits per channel
(k * H * W) than its residue costs (16) is used, so 1x1 maps (fc) keep k = 0.  k = 7 for the input map x = (pixel << 7) -
MEAN_Q; k = 0 for almost every feature map, which then costs one byte.
Prediction (``predictor``).  ``left``: the left neighbour in the same row, as
predictor 1 (Ra) of lossless JPEG (T.81 H.1.2.1, Table H.1), with 0 for the
first value of a row; the difference is taken modulo 2**16 (as in H.1.2.1), so
it is again an int16 and the host's running sum modulo 2**16 restores y
exactly.  ``none``: y itself (the better choice for very sparse maps, where a
difference turns each zero after a non-zero into a non-zero).
Scan.  The map (C, H, W) is read as a sequence of 64-value coding units:
  ``chw``     channel-major raster order, cut every 64 values (the last unit
              padded with zeros, never decoded): no padding inside the map.
  ``blocks``  each channel zero-padded to multiples of 8, cut into 8x8 blocks
              (channel, block row, block col), each read in zig-zag order.
Symbols.  Every unit is coded as JPEG codes the AC coefficients of a block,
but over all 64 positions (there is no DC and no prediction):
  (R << 4) | S   R = 0..15 zeros, then a value of size category S = 1..15
                 (T.81 Table F.2), followed by S magnitude bits: v if v > 0,
                 else the low S bits of v - 1 (F.1.2.1).
  0xF0  ZRL      16 zeros.
  0x00  EOB      the rest of the unit is zero (left out when its last value is not).
  0x10  ESC      (a symbol JPEG leaves unused) the next value symbol codes
                 -32767 (S = 15, bits 0) and means -32768, the one int16 value
                 whose magnitude needs 16 bits.
  So every int16 value, any sign, round-trips exactly.
Tables.  Pass 1 counts the symbols, libjpeg's jpeg_gen_optimal_table (T.81
K.2, ``refimpl.jpeg.optimal_table``) builds the code (<= 16 bits); pass 2
codes.  The table travels in the payload.
Payload.  k (1 byte), then when k > 0 the C residues r_c (big-endian uint16),
then BITS (16 bytes: codes of each length 1..16), HUFFVAL (one byte per
symbol), then the codes with their magnitude bits, MSB first, the last byte
padded with 1-bits (F.1.2.3).  No byte stuffing: the bitstream header gives
the payload length, so there are no markers to protect.

Bit budget: a code is <= 16 bits and its magnitude bits <= 15, so one item
is <= 31 bits (jpeg.pack_bits packs them exactly).
"""
from __future__ import annotations

import numpy as np

from .. import jpeg
from ..errors import RefimplError, check_choice

SCANS = ("chw", "blocks")
PREDICTORS = ("none", "left")
RESIDUE_BYTES = 2             # one big-endian uint16 residue per channel
UNIT = 64                     # values per coding unit (one JPEG block)
ZRL, EOB, ESC = 0xF0, 0x00, 0x10
STEP_EOB, STEP_ZRL = -1, -2   # decoder codes for the two symbols that move k other than by run + 1
INT16_MIN = -32768


def check_scan(scan: str) -> str:
    return check_choice("lossless scan", scan, SCANS)


def check_predictor(predictor: str) -> str:
    return check_choice("lossless predictor", predictor, PREDICTORS)


# ---------------------------------------------------------------- point transform and prediction
def point_transform(fmap: np.ndarray) -> tuple:
    """int16 (C, H, W) -> (k, residues int64 (C,), y = (x - r_c) >> k int16 (C, H, W))."""
    x = np.asarray(fmap).astype(np.int64)
    c = x.shape[0]
    per_channel = x[0].size
    k = 0
    for bits in range(15, 0, -1):
        if bits * per_channel <= 8 * RESIDUE_BYTES:      # the residues would cost more than the bits saved
            continue
        low = x & ((1 << bits) - 1)
        if np.all(low == low.reshape(c, -1)[:, :1].reshape(c, 1, 1)):
            k = bits
            break
    r = (x.reshape(c, -1)[:, 0] & ((1 << k) - 1)) if k else np.zeros(c, np.int64)
    return k, r, ((x - r.reshape(c, 1, 1)) >> k).astype(np.int16)


def inverse_point_transform(y: np.ndarray, k: int, r: np.ndarray) -> np.ndarray:
    return ((y.astype(np.int64) << k) + np.asarray(r, np.int64).reshape(-1, 1, 1)).astype(np.int16)


def _wrap16(v: np.ndarray) -> np.ndarray:
    """Modulo 2**16 into the int16 range."""
    return ((v + 32768) & 0xFFFF) - 32768


def predict(y: np.ndarray, predictor: str) -> np.ndarray:
    """int16 (C, H, W) -> int16 differences from the left neighbour modulo 2**16 (or y)."""
    if check_predictor(predictor) == "none":
        return np.asarray(y, dtype=np.int16)
    v = np.asarray(y).astype(np.int64)
    left = np.zeros_like(v)
    left[:, :, 1:] = v[:, :, :-1]
    return _wrap16(v - left).astype(np.int16)


def unpredict(d: np.ndarray, predictor: str) -> np.ndarray:
    """Inverse of ``predict``: the running sum along each row, modulo 2**16."""
    if predictor == "none":
        return np.asarray(d, dtype=np.int16)
    return _wrap16(np.cumsum(np.asarray(d).astype(np.int64), axis=2)).astype(np.int16)


def _zigzag_natural() -> np.ndarray:
    """natural index (row * 8 + col) of zig-zag position k."""
    return np.asarray(jpeg.NATURAL_ORDER).reshape(-1)


# ---------------------------------------------------------------- scan order
def scan_units(fmap: np.ndarray, scan: str) -> np.ndarray:
    """int16 (C, H, W) -> int64 (U, 64) coding units in coding order."""
    check_scan(scan)
    x = np.asarray(fmap).astype(np.int64)
    if scan == "chw":
        flat = x.reshape(-1)
        units = np.zeros(-(-flat.size // UNIT) * UNIT, dtype=np.int64)
        units[:flat.size] = flat
        return units.reshape(-1, UNIT)
    c, h, w = x.shape
    hp, wp = -(-h // 8) * 8, -(-w // 8) * 8
    padded = np.zeros((c, hp, wp), dtype=np.int64)
    padded[:, :h, :w] = x
    blocks = padded.reshape(c, hp // 8, 8, wp // 8, 8).transpose(0, 1, 3, 2, 4).reshape(-1, 64)
    return blocks[:, _zigzag_natural()]


def unscan_units(units: np.ndarray, scan: str, shape: tuple) -> np.ndarray:
    """Inverse of ``scan_units``: (U, 64) -> int16 (C, H, W)."""
    c, h, w = shape
    if scan == "chw":
        return units.reshape(-1)[:c * h * w].reshape(c, h, w).astype(np.int16)
    hp, wp = -(-h // 8) * 8, -(-w // 8) * 8
    nat = np.empty_like(units)
    nat[:, _zigzag_natural()] = units
    x = nat.reshape(c, hp // 8, wp // 8, 8, 8).transpose(0, 1, 3, 2, 4).reshape(c, hp, wp)
    return np.ascontiguousarray(x[:, :h, :w]).astype(np.int16)


# ---------------------------------------------------------------- symbols
def symbols(units: np.ndarray) -> dict:
    """Symbol stream of coding units (U, 64), in emission order.

    Returns dict of arrays, shape (T,): ``unit`` (int64), ``symbol`` (uint8),
    ``extra`` (uint32 magnitude bits) and ``extra_length`` (uint8).
    """
    u = np.asarray(units, dtype=np.int64)
    n_units = u.shape[0]
    flat = np.flatnonzero(u)                       # 64 * unit + k of every non-zero value
    unit = flat >> 6
    value = u.reshape(-1)[flat]
    esc = value == INT16_MIN
    coded = np.where(esc, INT16_MIN + 1, value)
    size = jpeg.magnitude_category(coded).astype(np.int64)
    prev = np.empty_like(flat)
    prev[1:] = flat[:-1]
    prev[:1] = -1
    same_unit = (prev >= 0) & ((prev >> 6) == unit)
    start = np.where(same_unit, prev, (unit << 6) - 1)    # -1 before the unit's first position
    run = flat - start - 1
    n_zrl = run >> 4
    weight = n_zrl + esc + 1                       # items per non-zero value
    has_eob = u[:, UNIT - 1] == 0
    eob_before = np.cumsum(has_eob) - has_eob      # EOBs of earlier units
    cum_excl = np.cumsum(weight) - weight
    first = cum_excl + eob_before[unit]           # slot of the value's first item
    value_slot = first + n_zrl + esc
    w_per_unit = np.bincount(unit, weights=weight, minlength=n_units).astype(np.int64)
    eob_slot = (np.cumsum(w_per_unit) + eob_before)[has_eob]
    total = int(weight.sum()) + int(has_eob.sum())
    sym = np.full(total, ZRL, dtype=np.uint8)
    extra = np.zeros(total, dtype=np.uint32)
    extra_len = np.zeros(total, dtype=np.uint8)
    item_unit = np.zeros(total, dtype=np.int64)
    sym[value_slot] = ((run & 15) << 4) | size
    bits = coded + (coded < 0) * -1                # v - 1 for negative v
    extra[value_slot] = (bits & ((1 << size) - 1)).astype(np.uint32)
    extra_len[value_slot] = size
    sym[value_slot[esc] - 1] = ESC
    sym[eob_slot] = EOB
    item_unit[value_slot] = unit
    item_unit[eob_slot] = np.flatnonzero(has_eob)
    owner = np.repeat(np.arange(flat.size), n_zrl)
    if owner.size:
        nth = np.arange(owner.size) - np.repeat(np.cumsum(n_zrl) - n_zrl, n_zrl)
        item_unit[first[owner] + nth] = unit[owner]
    item_unit[value_slot[esc] - 1] = unit[esc]
    return dict(unit=item_unit, symbol=sym, extra=extra, extra_length=extra_len)


def symbols_naive(units: np.ndarray) -> list:
    """Direct-loop oracle of ``symbols``: [(unit, symbol, extra, extra_length)]."""
    out = []
    for ui, row in enumerate(np.asarray(units, dtype=np.int64).tolist()):
        run = 0
        for k, v in enumerate(row):
            if v == 0:
                run += 1
                continue
            while run >= 16:
                out.append((ui, ZRL, 0, 0))
                run -= 16
            if v == INT16_MIN:
                out.append((ui, ESC, 0, 0))
                v = INT16_MIN + 1
            s = abs(v).bit_length()
            out.append((ui, (run << 4) | s, (v if v > 0 else v - 1) & ((1 << s) - 1), s))
            run = 0
        if row[-1] == 0:
            out.append((ui, EOB, 0, 0))
    return out


# ---------------------------------------------------------------- coder
def huffman_table(sym: np.ndarray) -> "jpeg.HuffmanTable":
    """Pass 1: libjpeg's optimal table for the symbol counts."""
    return jpeg.optimal_table(np.bincount(sym, minlength=256), False)


def coded_values(fmap: np.ndarray, predictor: str = "left") -> tuple:
    """(k, residues, int16 (C, H, W) values the entropy coder sees) of a map."""
    k, r, y = point_transform(fmap)
    return k, r, predict(y, predictor)


def encode(fmap: np.ndarray, scan: str = "chw", predictor: str = "left") -> bytes:
    """int16 (C, H, W) -> lossless payload (point transform, table, bits)."""
    a = np.asarray(fmap)
    if a.dtype != np.int16 or a.ndim != 3 or a.size == 0:
        raise RefimplError(f"lossless coder takes a non-empty int16 (C, H, W) map, got {a.dtype} {a.shape}")
    check_scan(scan)
    k, r, d = coded_values(a, predictor)
    head = bytes([k]) + (r.astype(">u2").tobytes() if k else b"")
    st = symbols(scan_units(d, scan))
    table = huffman_table(st["symbol"])
    code, length = table.codes[st["symbol"]], table.lengths[st["symbol"]]
    value = (code.astype(np.uint64) << st["extra_length"].astype(np.uint64)) | st["extra"].astype(np.uint64)
    data, _ = jpeg.pack_bits(value, length.astype(np.int64) + st["extra_length"])
    return head + bytes(table.spec.bits) + bytes(table.spec.values) + data.tobytes()


def _corrupt(what: str) -> RefimplError:
    return RefimplError(f"lossless payload is corrupt: {what}")


def decode(payload: bytes, shape: tuple, scan: str = "chw", predictor: str = "left") -> np.ndarray:
    """Inverse of ``encode``: payload -> int16 (C, H, W) of the given shape."""
    check_scan(scan)
    check_predictor(predictor)
    c, h, w = shape
    data = bytes(payload)
    if not data or data[0] > 15:
        raise _corrupt("missing or bad point transform (k must be 0..15)")
    k = data[0]
    if len(data) < 1 + 2 * c * (k > 0):
        raise _corrupt("truncated point-transform residues")
    r = np.frombuffer(data[1:1 + 2 * c], ">u2").astype(np.int64) if k else np.zeros(c, np.int64)
    if k and np.any(r >= (1 << k)):
        raise _corrupt(f"point-transform residue >= 2**{k}")
    d = _decode_values(data[1 + 2 * c * (k > 0):], shape, scan)
    x = (unpredict(d, predictor).astype(np.int64) << k) + r.reshape(-1, 1, 1)
    if x.size and (x.min() < -32768 or x.max() > 32767):
        raise _corrupt("values leave the int16 range after the point transform")
    return x.astype(np.int16)


def _decode_values(data: bytes, shape: tuple, scan: str) -> np.ndarray:
    """Table + bits -> the coded int16 (C, H, W) values."""
    c, h, w = shape
    n_units = len(scan_units(np.zeros((c, h, w), np.int16), scan))
    if len(data) < 16 or len(data) < 16 + sum(data[:16]):
        raise _corrupt("truncated Huffman table")
    bits_ = tuple(data[:16])
    n_sym = sum(bits_)
    try:
        table = jpeg.HuffmanTable(jpeg.HuffmanSpec(bits_, tuple(data[16:16 + n_sym])), False)
    except jpeg.JpegError as exc:
        raise _corrupt(str(exc)) from None
    body = np.frombuffer(data[16 + n_sym:], dtype=np.uint8)
    nbits = 8 * body.size
    padded = np.concatenate([body, np.zeros(4, np.uint8)]).astype(np.int64)
    w24 = (padded[:-2] << 16) | (padded[1:-1] << 8) | padded[2:]
    pos = np.arange(nbits + 1)
    win = (w24[pos >> 3] >> (8 - (pos & 7))) & 0xFFFF          # 16-bit window at every bit position
    length = table.lookup_length[win].astype(np.int64)
    sym = table.lookup_symbol[win].astype(np.int64)
    size = sym & 15
    valid = (length > 0) & ((size > 0) | (sym == EOB) | (sym == ZRL) | (sym == ESC))
    advance = np.where(valid, length + size, 0).tolist()
    # change of the position index k: run + 1 for a value; EOB ends the unit; ZRL adds 16; ESC 0
    step = np.select([sym == EOB, sym == ZRL, sym == ESC], [STEP_EOB, STEP_ZRL, 0], (sym >> 4) + 1).tolist()
    vpos, vidx, escs = [], [], []
    p, unit, k, pending_esc = 0, 0, 0, False
    while unit < n_units:
        if p >= nbits:
            raise _corrupt(f"data ends in coding unit {unit} of {n_units}")
        a = advance[p]
        if a == 0:
            raise _corrupt(f"no valid Huffman code at bit {p}")
        s = step[p]
        if s == STEP_EOB:
            if pending_esc:
                raise _corrupt(f"ESC before EOB at bit {p}")
            unit, k = unit + 1, 0
        elif s == 0:                                 # ESC
            if pending_esc:
                raise _corrupt(f"two ESC at bit {p}")
            pending_esc = True
        elif s == STEP_ZRL:
            k += 16
            if k >= UNIT or pending_esc:
                raise _corrupt(f"ZRL past the end of coding unit {unit} at bit {p}")
        else:
            k += s
            if k > UNIT:
                raise _corrupt(f"run past the end of coding unit {unit} at bit {p}")
            vpos.append(p)
            vidx.append(unit * UNIT + k - 1)
            escs.append(pending_esc)
            pending_esc = False
            if k == UNIT:
                unit, k = unit + 1, 0
        p += a
    if p > nbits or nbits - p >= 8 or (nbits - p and int(win[p]) >> (16 - (nbits - p)) != (1 << (nbits - p)) - 1):
        raise _corrupt(f"{nbits - p} bits left after the last coding unit (expected < 8 one-bits of padding)")
    vpos = np.asarray(vpos, dtype=np.int64)
    sz = size[vpos]
    raw = win[np.minimum(vpos + length[vpos], nbits)] >> (16 - sz)
    vals = np.where(raw < (1 << (sz - 1)), raw - (1 << sz) + 1, raw)
    escs = np.asarray(escs, dtype=bool)
    if escs.any():
        if np.any(vals[escs] != INT16_MIN + 1):
            raise _corrupt("ESC not followed by -32767")
        vals[escs] = INT16_MIN
    units = np.zeros(n_units * UNIT, dtype=np.int64)
    units[np.asarray(vidx, dtype=np.int64)] = vals
    return unscan_units(units.reshape(n_units, UNIT), scan, shape)
