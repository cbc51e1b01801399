"""Human-readable tables (tabulate).  Every column names its unit."""
from __future__ import annotations

import math

import numpy as np
from tabulate import tabulate

from .spec import layer_shapes


def _frac(v):
    if v is None:
        return "-"
    if np.ndim(v):
        return f"{int(np.min(v))}..{int(np.max(v))}/ch"
    return str(int(v))


def run_table(qnet, results, sqnr: dict) -> str:
    """Per-layer table of a run: shape, MACs, formats, overflow/saturation counts, SQNR."""
    shapes = {s.layer.name: s for s in layer_shapes(qnet.spec)}
    rows = []
    for r, ql in zip(results, qnet.layers):
        s = shapes[r.name]
        db = sqnr.get(r.name)
        wf = _frac(ql.w_frac) if ql.weights is not None else "-"
        rows.append([r.name, r.kind, "x".join(map(str, s.out_shape)), f"{s.macs:,}",
                     f"{ql.in_frac}/{wf}/{ql.out_frac}", r.stats.acc_overflows, r.stats.saturations,
                     "-" if db is None else ("inf" if math.isinf(db) else f"{db:.1f}")])
    total = sum(shapes[r.name].macs for r in results)
    rows.append(["total", "", "", f"{total:,}", "", sum(r.stats.acc_overflows for r in results),
                 sum(r.stats.saturations for r in results), ""])
    head = ["layer", "type", "output CxHxW", "MACs", "frac in/w/out (bits)", "acc overflows (outputs)",
            "saturated (outputs)", "SQNR vs float (dB)"]
    return tabulate(rows, headers=head, disable_numparse=True, colalign=("left", "left", "right", "right"))


COST_COLUMNS = [  # (header with unit, getter)
    ("layer", lambda r: r["name"]),
    ("type", lambda r: r["type"]),
    ("tiling (out ch x out rows x in ch)", lambda r: r["tiling"]),
    ("MACs", lambda r: r["macs"]),
    ("cycles", lambda r: r["cycles"]),
    ("stall cycles", lambda r: r["stall_cycles"]),
    ("util (%)", lambda r: round(100 * r["utilization"], 1)),
    ("buffer rd (words)", lambda r: r["buffer_reads"]),
    ("buffer wr (words)", lambda r: r["buffer_writes"]),
    ("DRAM (bytes)", lambda r: r["dram_bytes"]),
    ("E mac (uJ)", lambda r: r["energy_pj"]["mac"] / 1e6),
    ("E buffer (uJ)", lambda r: r["energy_pj"]["buffer"] / 1e6),
    ("E reg (uJ)", lambda r: r["energy_pj"]["register"] / 1e6),
    ("E DRAM (uJ)", lambda r: r["energy_pj"]["dram"] / 1e6),
    ("E wdec (uJ)", lambda r: r["energy_pj"]["weight_decoder"] / 1e6),
    ("E static (uJ)", lambda r: r["energy_pj"]["static"] / 1e6),
    ("E total (uJ)", lambda r: r["energy_pj"]["total"] / 1e6),
    ("latency (ms)", lambda r: r["latency_s"] * 1e3),
]


def cost_rows(report: dict) -> tuple:
    """(headers, rows) of a cost report, the total last."""
    total = dict(report["total"], name="total", type="", tiling="")
    rows = [[get(r) for _, get in COST_COLUMNS] for r in report["layers"] + [total]]
    return [h for h, _ in COST_COLUMNS], rows


def cost_table(report: dict) -> str:
    head, rows = cost_rows(report)
    title = (f"{report['network']} on profile {report['profile']} (clock {report['clock_mhz']} MHz); "
             f"one frame; energies in microjoules")
    return title + "\n" + tabulate(rows, headers=head, floatfmt=".2f", intfmt=",")


def cost_csv(report: dict) -> str:
    import csv
    import io
    head, rows = cost_rows(report)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(head)
    writer.writerows(rows)
    return buf.getvalue()
