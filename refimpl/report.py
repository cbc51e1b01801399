"""Reports of runs and costs: tables (tabulate), CSV and JSON, and run warnings.

Every table column names its unit; CSV columns are the JSON keys with the unit
in the name.  Floats are cut to 12 significant digits (``clean``) so binary
noise such as 60.61373999999999 never reaches a report.
"""
from __future__ import annotations

import csv
import io
import math

import numpy as np
import tabulate as _tabulate_module
from tabulate import tabulate

from .quantize import FLOAT_MAXIMA, FRAC_MAX, FRAC_MIN
from .spec import layer_shapes


def clean(v):
    """``v`` with every float cut to 12 significant digits (dicts and lists recursively)."""
    if isinstance(v, float):
        return float(f"{v:.12g}") if math.isfinite(v) else v
    if isinstance(v, dict):
        return {k: clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [clean(x) for x in v]
    return v


def _csv(head: list, rows: list) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(head)
    writer.writerows([[clean(v) for v in row] for row in rows])
    return buf.getvalue()


def _frac(v):
    if v is None:
        return "-"
    if np.ndim(v):
        return f"{int(np.min(v))}..{int(np.max(v))}/ch"
    return str(int(v))


# ---------------------------------------------------------------- refimpl run
RUN_KEYS = ["layer", "type", "output_shape", "macs", "in_frac_bits", "w_frac_bits", "out_frac_bits",
            "acc_overflow_outputs", "saturated_outputs", "outputs", "sqnr_db"]
TILED_KEYS = ["tiles", "cycles"]


def run_records(qnet, results, sqnr: dict, tiled: bool = False) -> list:
    """One JSON-ready record per layer run (one frame): RUN_KEYS (+ TILED_KEYS).

    w_frac_bits is a list per output channel with --per-channel, None for
    unweighted layers; sqnr_db is None when infinite (output equals the float
    reference) or undefined.
    """
    shapes = {s.layer.name: s for s in layer_shapes(qnet.spec)}
    records = []
    for r, ql in zip(results, qnet.layers):
        s = shapes[r.name]
        db = sqnr.get(r.name)
        wf = None if ql.weights is None else (ql.w_frac.tolist() if np.ndim(ql.w_frac) else int(ql.w_frac))
        rec = dict(layer=r.name, type=r.kind, output_shape=list(s.out_shape), macs=int(s.macs),
                   in_frac_bits=int(ql.in_frac), w_frac_bits=wf, out_frac_bits=int(ql.out_frac),
                   acc_overflow_outputs=int(r.stats.acc_overflows), saturated_outputs=int(r.stats.saturations),
                   outputs=int(np.prod(s.out_shape)),
                   sqnr_db=None if db is None or not math.isfinite(db) else round(db, 3))
        if tiled:
            rec.update(tiles=int(r.counters.tiles), cycles=int(r.counters.cycles))
        records.append(rec)
    return records


def run_total(records: list) -> dict:
    keys = ["macs", "acc_overflow_outputs", "saturated_outputs", "outputs"] + \
        [k for k in TILED_KEYS if records and k in records[0]]
    return {k: sum(r[k] for r in records) for k in keys}


def run_table(records: list) -> str:
    """Per-layer table of a run: shape, MACs, formats, overflow/saturation counts, SQNR (+ tiles, cycles)."""
    tiled = bool(records) and "tiles" in records[0]
    rows = []
    for r in records:
        wf = r["w_frac_bits"]
        wf = "-" if wf is None else _frac(np.asarray(wf))
        row = [r["layer"], r["type"], "x".join(map(str, r["output_shape"])), f"{r['macs']:,}",
               f"{r['in_frac_bits']}/{wf}/{r['out_frac_bits']}", r["acc_overflow_outputs"], r["saturated_outputs"],
               "inf" if r["sqnr_db"] is None else f"{r['sqnr_db']:.1f}"]
        if tiled:
            row += [f"{r['tiles']:,}", f"{r['cycles']:,}"]
        rows.append(row)
    t = run_total(records)
    rows.append(["total", "", "", f"{t['macs']:,}", "", t["acc_overflow_outputs"], t["saturated_outputs"], ""]
                + ([f"{t['tiles']:,}", f"{t['cycles']:,}"] if tiled else []))
    head = ["layer", "type", "output CxHxW", "MACs", "frac in/w/out (bits)", "acc overflows (outputs)",
            "saturated (outputs)", "SQNR vs float (dB)"] + (["tiles", "cycles"] if tiled else [])
    return tabulate(rows, headers=head, disable_numparse=True, colalign=("left", "left", "right", "right"))


def run_csv(records: list) -> str:
    """CSV of run_records: the same keys; output_shape as CxHxW, per-channel w_frac as lo..hi, inf SQNR as inf."""
    keys = RUN_KEYS + [k for k in TILED_KEYS if records and k in records[0]]
    rows = []
    for r in records:
        row = []
        for k in keys:
            v = r[k]
            if k == "output_shape":
                v = "x".join(map(str, v))
            elif k == "w_frac_bits":
                v = "" if v is None else (f"{min(v)}..{max(v)}" if isinstance(v, list) else v)
            elif k == "sqnr_db" and v is None:
                v = "inf"
            row.append(v)
        rows.append(row)
    return _csv(keys, rows)


def _clamped(frac, max_abs, bits: int) -> tuple:
    """(low, high): at FRAC_MIN values of magnitude max_abs still overflow ``bits``; at
    FRAC_MAX they would fit with one more fractional bit.  Arrays broadcast (per channel)."""
    frac, max_abs = np.asarray(frac), np.asarray(max_abs, dtype=np.float64)
    top = (1 << (bits - 1)) - 1
    low = (frac == FRAC_MIN) & (np.floor(max_abs * 2.0 ** FRAC_MIN + 0.5) > top)
    high = (frac == FRAC_MAX) & (max_abs > 0) & (np.floor(max_abs * 2.0 ** (FRAC_MAX + 1) + 0.5) <= top)
    return bool(np.any(low)), bool(np.any(high))


def _float_maxima(qnet, ql, params: dict) -> tuple:
    """(max |w| scalar, or per row with per-channel formats; max |b|) of a layer's float
    params: quantize_network's own figures when qnet was quantized from this very params
    dict, else max(max w, -min w) (no full-size |w| temporary: AlexNet's fc weights are
    470 MB of float64; issue 11 goal 3, start-up)."""
    pid, maxima = qnet.cache.get(FLOAT_MAXIMA, (None, None))
    if pid == id(params) and ql.name in maxima:
        return maxima[ql.name]
    w = np.asarray(params[f"{ql.name}.weight"], dtype=np.float64).reshape(ql.weights.shape[0], -1)
    b = np.abs(np.asarray(params[f"{ql.name}.bias"], dtype=np.float64))
    w_max = (np.maximum(w.max(axis=1), -w.min(axis=1)) if np.ndim(ql.w_frac)
             else max(float(w.max()), -float(w.min())))
    return w_max, float(b.max()) if b.size else 0.0


def clamp_warnings(qnet, results, params: dict | None = None, ref: dict | None = None) -> list:
    """One line per layer whose weight, bias or output format sits at the FRAC_MIN..FRAC_MAX
    limit of quantize.py and is worse for it: at FRAC_MIN the values do not fit and
    saturate; at FRAC_MAX they would fit with more fractional bits (precision lost).

    ``params`` (float weights) and ``ref`` (float outputs) give exact magnitudes; without
    them the integer tensors stand in (then a tensor quantized to all zeros at FRAC_MAX
    cannot be told from a zero one and is not reported).
    """
    out = {r.name: r for r in results}
    lines = []
    for ql in qnet.layers:
        if ql.weights is None:
            continue
        r = out.get(ql.name)
        checks = []
        if params is not None:
            w_max, b_max = _float_maxima(qnet, ql, params)
            checks += [("weights", "w_frac", ql.w_frac, w_max, 16),
                       ("bias", "b_frac", ql.b_frac, b_max, ql.bias_bits)]
        else:
            w = np.abs(ql.weights.astype(np.int64)).reshape(ql.weights.shape[0], -1).max(axis=1)
            checks += [("weights", "w_frac", ql.w_frac, w * 2.0 ** -np.asarray(ql.w_frac, dtype=np.float64), 16),
                       ("bias", "b_frac", ql.b_frac,
                        float(np.abs(ql.bias.astype(np.int64)).max()) * 2.0 ** -ql.b_frac, ql.bias_bits)]
        if ref is not None and ql.name in ref:
            checks.append(("outputs", "out_frac", ql.out_frac, float(np.abs(ref[ql.name]).max()), 16))
        elif r is not None:
            o = float(np.abs(r.output.astype(np.int64)).max()) * 2.0 ** -ql.out_frac
            if ql.out_frac == FRAC_MIN and r.stats.saturations:
                o = float("inf")
            checks.append(("outputs", "out_frac", ql.out_frac, o, 16))
        found = []
        for what, key, frac, mag, bits in checks:
            low, high = _clamped(frac, mag, bits)
            if what == "bias" and ql.b_frac >= np.min(ql.acc_frac):
                high = False                # b_frac is capped at acc_frac anyway (an exact alignment)
            if low:
                found.append(f"{what} {key} clamped at {FRAC_MIN} (values too large: saturated)")
            if high:
                found.append(f"{what} {key} clamped at {FRAC_MAX} (values too small: precision lost)")
        if found:
            lines.append(f"layer {ql.name}: " + "; ".join(found) + f" [formats are kept within {FRAC_MIN}..{FRAC_MAX}]")
    return lines


# ---------------------------------------------------------------- refimpl cost
# (CSV / --columns name = JSON key with its unit, table header, JSON getter, table scale, in the default table)
COST_COLUMNS = [
    ("layer", "layer", lambda r: r["name"], None, True),
    ("type", "type", lambda r: r["type"], None, True),
    ("tiling", "tiling (out ch x out rows x in ch)", lambda r: r["tiling"], None, False),
    ("tiles", "tiles", lambda r: r["tiles"], None, True),
    ("macs", "MACs", lambda r: r["macs"], None, True),
    ("mac_slots", "MAC slots (MACs x cycles)", lambda r: r["mac_slots"], None, False),
    ("compute_cycles", "compute cycles", lambda r: r["compute_cycles"], None, False),
    ("cycles", "cycles", lambda r: r["cycles"], None, True),
    ("stall_cycles", "stall cycles", lambda r: r["stall_cycles"], None, False),
    ("utilization_fraction", "util %", lambda r: r["utilization"], 100, True),
    ("buffer_reads_words", "buffer rd (words)", lambda r: r["buffer_reads"], None, False),
    ("buffer_writes_words", "buffer wr (words)", lambda r: r["buffer_writes"], None, False),
    ("register_accesses", "psum reg accesses", lambda r: r["register_accesses"], None, False),
    ("dram_bytes", "DRAM bytes", lambda r: r["dram_bytes"], None, True),
    ("decoded_weights_words", "decoded weights (words)", lambda r: r["decoded_weights"], None, False),
    ("alu_ops", "post-proc ops", lambda r: r["alu_ops"], None, False),
    ("energy_mac_pj", "E mac (uJ)", lambda r: r["energy_pj"]["mac"], 1e-6, False),
    ("energy_buffer_pj", "E buffer (uJ)", lambda r: r["energy_pj"]["buffer"], 1e-6, False),
    ("energy_register_pj", "E reg (uJ)", lambda r: r["energy_pj"]["register"], 1e-6, False),
    ("energy_dram_pj", "E DRAM (uJ)", lambda r: r["energy_pj"]["dram"], 1e-6, False),
    ("energy_weight_decoder_pj", "E wdec (uJ)", lambda r: r["energy_pj"]["weight_decoder"], 1e-6, False),
    ("energy_static_pj", "E static (uJ)", lambda r: r["energy_pj"]["static"], 1e-6, False),
    ("energy_total_pj", "energy uJ", lambda r: r["energy_pj"]["total"], 1e-6, True),
    ("latency_s", "latency ms", lambda r: r["latency_s"], 1e3, True),
]
COST_NAMES = [c[0] for c in COST_COLUMNS]


def cost_columns(spec: str) -> list:
    """Columns for --columns: 'default', 'all' or a comma-separated list of COST_NAMES."""
    from .errors import RefimplError
    if spec == "default":
        return [c for c in COST_COLUMNS if c[4]]
    if spec == "all":
        return list(COST_COLUMNS)
    names = [n.strip() for n in spec.split(",") if n.strip()]
    if not names:
        raise RefimplError(f"--columns '{spec}' names no column (default, all or names from: {', '.join(COST_NAMES)})")
    bad = [n for n in names if n not in COST_NAMES]
    if bad:
        raise RefimplError(f"--columns: unknown column '{','.join(bad)}' (choose from: default, all, "
                           f"{', '.join(COST_NAMES)})")
    return [c for n in names for c in COST_COLUMNS if c[0] == n]


def _cost_records(report: dict) -> list:
    return report["layers"] + [dict(report["total"], name="total", type="", tiling="")]


def cost_table(report: dict, columns: str = "default") -> str:
    cols = cost_columns(columns)
    rows = []
    for r in _cost_records(report):
        rows.append([get(r) if scale is None else get(r) * scale for _, _, get, scale, _ in cols])
    title = (f"{report['network']} on profile {report['profile']}, {report['clock_mhz']:g} MHz, one frame"
             + ("" if columns == "all" else " (--columns all: every counter)"))
    saved = _tabulate_module.MIN_PADDING
    _tabulate_module.MIN_PADDING = 0        # headers no wider than they are: the default fits 100 columns
    try:
        table = tabulate(rows, headers=[c[1] for c in cols], floatfmt=".2f", intfmt=",")
    finally:
        _tabulate_module.MIN_PADDING = saved
    return title + "\n" + table


def cost_csv(report: dict, columns: str = "all") -> str:
    """CSV with the JSON's values and units (unit in each column name), floats without noise."""
    cols = cost_columns(columns)
    return _csv([c[0] for c in cols], [[get(r) for _, _, get, _, _ in cols] for r in _cost_records(report)])
