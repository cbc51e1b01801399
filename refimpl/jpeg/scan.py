"""Scan decoding in bands of MCU rows: geometry, DC prediction, coefficients.

Component layout (T.81 A.2, libjpeg jdinput.c): component ``c`` with
sampling factors (h, v) in a frame with maxima (Hmax, Vmax) is
``ceil(W * h / (8 * Hmax))`` blocks wide and ``ceil(H * v / (8 * Vmax))``
blocks high.  An interleaved scan (several components) codes
``ceil(W / (8 Hmax))`` x ``ceil(H / (8 Vmax))`` MCUs of h x v blocks per
component, blocks outside the component being dummies that are decoded
(their DC differences count in the prediction) and dropped; a scan of one
component codes its blocks in raster order, one block per MCU.

:func:`component_bands` decodes every scan of a frame a band of MCU rows at
a time and yields, per band and component, the coefficient records of that
band's block rows.  Nothing it allocates grows with the whole image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import huffman as hf
from .color import ceil_div
from .errors import JpegError
from .tables import BLOCK, BLOCK_SIZE

__all__ = ["BAND_BLOCKS", "Band", "component_bands", "component_size"]

# Blocks decoded per band (all components of the scan together): 2**14
# blocks are 2**20 samples, so a band's records and work arrays stay at a
# few tens of MB whatever the image size.
BAND_BLOCKS = 1 << 14

MAX_BLOCKS_IN_MCU = 10  # T.81 B.2.3


@dataclass
class Band:
    """Coefficients of block rows ``b0 <= row < b1`` of frame component ``ci``.

    ``cell``/``dc``: grid cell ``row * cols + col`` and DC value (int16) of
    every real block of the band; ``ac_cell``/``ac_k``/``ac_value``: cell,
    zig-zag index 1..63 (uint8) and value (int16) of every non-zero AC
    coefficient.  ``q`` is the component's quantization table (natural
    order, signed as libjpeg's IDCT uses it), latched when its scan started.
    """

    ci: int
    b0: int
    b1: int
    cols: int
    q: np.ndarray
    cell: np.ndarray
    dc: np.ndarray
    ac_cell: np.ndarray
    ac_k: np.ndarray
    ac_value: np.ndarray


def component_size(f, c) -> tuple[int, int]:
    """(rows, cols) of component ``c`` in blocks."""
    h_max = max(x.h for x in f.components)
    v_max = max(x.v for x in f.components)
    return (ceil_div(f.height * c.v, BLOCK * v_max),
            ceil_div(f.width * c.h, BLOCK * h_max))


@dataclass
class _Layout:
    per_row: int  # MCUs per MCU row
    n_mcu: int
    slot_comp: np.ndarray  # frame component of each block slot of an MCU
    slot_dy: np.ndarray  # block offset of the slot inside the MCU
    slot_dx: np.ndarray
    slot_v: np.ndarray  # vertical / horizontal factor used for the MCU grid
    slot_h: np.ndarray
    tables: list  # (DC, AC) HuffmanTable per slot
    segment_mcus: list


def _layout(f, scan) -> _Layout:
    comps = [f.components[i] for i in scan.components]
    if len(comps) == 1:
        rows, cols = component_size(f, comps[0])
        per_row, n_mcu = cols, rows * cols
        slot_comp, dy, dx, sv, sh = ([scan.components[0]], [0], [0], [1], [1])
        tables = [(scan.dc_tables[0], scan.ac_tables[0])]
    else:
        h_max = max(c.h for c in f.components)
        v_max = max(c.v for c in f.components)
        per_row = ceil_div(f.width, BLOCK * h_max)
        n_mcu = per_row * ceil_div(f.height, BLOCK * v_max)
        if sum(c.h * c.v for c in comps) > MAX_BLOCKS_IN_MCU:
            raise JpegError("corrupt data: more than 10 blocks in an MCU")
        slot_comp, dy, dx, sv, sh, tables = [], [], [], [], [], []
        for j, c in enumerate(comps):
            for k in range(c.h * c.v):
                slot_comp.append(scan.components[j])
                dy.append(k // c.h)
                dx.append(k % c.h)
                sv.append(c.v)
                sh.append(c.h)
                tables.append((scan.dc_tables[j], scan.ac_tables[j]))
    n_blocks = n_mcu * len(tables)
    # Every block costs at least 2 bits (1-bit DC code + 1-bit AC code):
    # reject impossible sizes before allocating anything per block.
    if 2 * n_blocks > 8 * len(scan.data):
        raise JpegError(f"corrupt data: {len(scan.data)} bytes of scan data "
                        f"cannot hold {n_blocks} blocks")
    interval = scan.restart_interval
    if interval:
        segment_mcus = [min(interval, n_mcu - s) for s in range(0, n_mcu, interval)]
    else:
        segment_mcus = [n_mcu]
    segments = scan.segment_bytes
    if len(segments) == len(segment_mcus) + 1 and segments[-1, 0] == segments[-1, 1]:
        segments = segments[:-1]  # an RST right before the next marker
        scan.segment_bytes = segments
    if len(segment_mcus) != len(segments):
        raise JpegError(f"corrupt data: scan has {len(segments)} "
                        f"restart segments, expected {len(segment_mcus)}")
    arr = lambda x: np.array(x, dtype=np.int64)  # noqa: E731
    return _Layout(per_row, n_mcu, arr(slot_comp), arr(dy), arr(dx), arr(sv),
                   arr(sh), tables, segment_mcus)


def _dc_values(diff, slot_comp, m0, interval, carry) -> np.ndarray:
    """DC = running sum of differences per component, reset per interval.

    ``diff`` has shape (MCUs, slots) for MCUs m0, m0 + 1, ...; ``carry``
    maps a component to its last DC before m0 (updated in place).  libjpeg
    keeps the running sum in an ``int`` and stores ``(JCOEF) s``, a 16-bit
    value: the sum modulo 2**16 is the same.
    """
    n_mcu = diff.shape[0]
    if diff.shape[1] == 1 and not interval:  # one block per MCU, no restarts
        comp = int(slot_comp[0])
        values = np.cumsum(diff[:, 0], dtype=np.int64)
        if m0 > 0:
            values += carry.get(comp, 0)
        if n_mcu:
            carry[comp] = int(values[-1])
        return values.astype(np.int16)  # libjpeg stores DC as a 16-bit JCOEF
    dc = np.empty(diff.shape, dtype=np.int64)
    mcu = np.arange(m0, m0 + n_mcu)
    for comp in np.unique(slot_comp):
        slots = np.flatnonzero(slot_comp == comp)
        d = diff[:, slots].astype(np.int64).reshape(-1)
        seg = np.repeat(mcu // interval if interval else np.zeros(n_mcu, np.int64),
                        len(slots))
        first = np.ones(len(d), dtype=bool)
        first[1:] = seg[1:] != seg[:-1]
        total = np.cumsum(d)
        starts = np.flatnonzero(first)
        base = (total - d)[starts]  # running sum before each interval
        values = total - np.repeat(base, np.diff(np.append(starts, len(d))))
        continues = m0 > 0 and (not interval or m0 % interval)
        if continues:  # the chunk starts inside an interval
            values[:np.diff(np.append(starts, len(d)))[0]] += carry.get(int(comp), 0)
        carry[int(comp)] = int(values[-1])
        dc[:, slots] = values.reshape(n_mcu, len(slots))
    return dc.reshape(-1).astype(np.int16)  # libjpeg stores DC as a 16-bit JCOEF


def component_bands(f):
    """Decode every scan of ``f``; yield a :class:`Band` per band and component.

    Raises
    ------
    JpegError
        For corrupt entropy-coded data, a missing quantization table, a
        component in two scans or in none.
    """
    scanned = set()
    for scan in f.scans:
        for ci in scan.components:
            c = f.components[ci]
            if ci in scanned:
                raise JpegError(f"corrupt data: component {c.ident} appears in "
                                "more than one scan")
            scanned.add(ci)
            if c.tq not in scan.quant_tables:
                raise JpegError(f"corrupt data: quantization table {c.tq} not "
                                "defined")
        lay = _layout(f, scan)
        per_mcu = len(lay.tables)
        band_rows = max(1, BAND_BLOCKS // (lay.per_row * per_mcu))
        bits = [(a, b) for a, b in (8 * scan.segment_bytes).tolist()]
        chunks = hf.decode_scan_chunks(scan.data, bits, lay.segment_mcus,
                                       lay.tables, band_rows * lay.per_row)
        carry = {}
        m0 = 0
        for rec in chunks:
            n_mcu = len(rec.dc_diff) // per_mcu
            yield from _bands_of_chunk(f, scan, lay, rec, m0, n_mcu, carry)
            m0 += n_mcu
    for ci, c in enumerate(f.components):
        if ci not in scanned:
            raise JpegError(f"corrupt data: component {c.ident} has no scan")


def _bands_of_chunk(f, scan, lay, rec, m0, n_mcu, carry):
    per_mcu = len(lay.tables)
    dc = _dc_values(rec.dc_diff.reshape(n_mcu, per_mcu), lay.slot_comp, m0,
                    scan.restart_interval, carry)
    if per_mcu == 1:  # one component in raster order: MCU m is cell m
        yield _raster_band(f, scan, rec, m0, n_mcu, dc)
    else:
        yield from _mcu_bands(f, scan, lay, rec, m0, n_mcu, dc)


def _mcu_bands(f, scan, lay, rec, m0, n_mcu, dc):
    """The Band of each component of MCUs m0 .. m0 + n_mcu - 1 (any scan):
    block cells from the MCU grid, dummy blocks dropped."""
    per_mcu = len(lay.tables)
    my, mx = np.divmod(np.arange(m0, m0 + n_mcu), lay.per_row)
    row = (my[:, None] * lay.slot_v + lay.slot_dy).reshape(-1)
    col = (mx[:, None] * lay.slot_h + lay.slot_dx).reshape(-1)
    comp = np.tile(lay.slot_comp, n_mcu)
    first_row, last_row = m0 // lay.per_row, ceil_div(m0 + n_mcu, lay.per_row)
    for ci in scan.components:
        c = f.components[ci]
        rows, cols = component_size(f, c)
        unit = c.v if per_mcu > 1 else 1  # block rows per MCU row
        mine = (comp == ci) & (row < rows) & (col < cols)
        cell = row * cols + col  # dummy blocks are dropped below
        keep = np.take(mine, rec.ac_block)  # take: int32 fancy indexing is slow
        ac_block = rec.ac_block[keep]
        yield Band(ci, first_row * unit, min(rows, last_row * unit), cols,
                   scan.quant_tables[c.tq], cell[mine], dc[mine], np.take(cell, ac_block),
                   rec.ac_k[keep], rec.ac_value[keep])


def _raster_band(f, scan, rec, m0, n_mcu, dc):
    """The Band of a one-component scan's MCUs m0 .. m0 + n_mcu - 1: its
    blocks are the component's cells in raster order (``per_row == cols``,
    no dummy blocks), so a block's cell is its MCU index -- what
    :func:`_mcu_bands` computes with row and column arithmetic
    (``tests/test_jpeg_decode_fast.py`` compares the two)."""
    ci = scan.components[0]
    c = f.components[ci]
    rows, cols = component_size(f, c)
    b0, b1 = m0 // cols, min(rows, ceil_div(m0 + n_mcu, cols))
    cell = np.arange(m0, m0 + n_mcu, dtype=np.int64)
    ac_cell = np.add(rec.ac_block, m0, dtype=np.int64)
    return Band(ci, b0, b1, cols, scan.quant_tables[c.tq], cell, dc, ac_cell,
                rec.ac_k, rec.ac_value)


def coefficient_grid(f) -> list[np.ndarray]:
    """Quantized coefficients of every component, (rows, cols, 64) int16 zig-zag."""
    grids = [np.zeros(component_size(f, c) + (BLOCK_SIZE,), dtype=np.int16)
             for c in f.components]
    for band in component_bands(f):
        flat = grids[band.ci].reshape(-1, BLOCK_SIZE)
        flat[band.cell, 0] = band.dc
        flat[band.ac_cell, band.ac_k] = band.ac_value
    return grids
