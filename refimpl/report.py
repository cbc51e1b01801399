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
