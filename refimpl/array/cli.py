"""The array figures of `refimpl run --mode array`: a table after the run table, or JSON keys."""
from __future__ import annotations

from tabulate import tabulate

COLUMNS = [("layer", "layer"), ("tiles", "tiles"), ("passes", "passes"),
           ("compute_cycles", "compute cycles (cost model)"), ("pass_gap_cycles", "pass gaps"),
           ("fill_drain_cycles", "fill/drain"), ("cycles", "array cycles (counted)")]


def _total(layers) -> dict:
    keys = [k for k, _ in COLUMNS[1:]]
    return {k: sum(getattr(a, k) for a in layers) for k in keys}


def array_table(arrays: dict, prof) -> str:
    """Per conv/fc layer: passes and the cycles the model counted, with the cost model's terms beside."""
    rows = [[a.layer] + [f"{getattr(a, k):,}" for k, _ in COLUMNS[1:]] for a in arrays.values()]
    t = _total(arrays.values())
    rows.append(["total"] + [f"{t[k]:,}" for k, _ in COLUMNS[1:]])
    head = (f"{prof.array.rows} x {prof.array.cols} output-stationary array, cycle-level model (one frame; "
            f"array cycles = compute + pass gaps + fill/drain, README 'For RTL engineers: the MAC array'):")
    return head + "\n" + tabulate(rows, headers=[h for _, h in COLUMNS], disable_numparse=True,
                                  colalign=("left",) + ("right",) * (len(COLUMNS) - 1))


def array_json(arrays: dict, prof) -> dict:
    return dict(array=dict(rows=prof.array.rows, cols=prof.array.cols,
                           units=dict(compute_cycles="clock cycles", pass_gap_cycles="clock cycles",
                                      fill_drain_cycles="clock cycles", cycles="clock cycles"),
                           layers=[a.as_dict() for a in arrays.values()], total=_total(arrays.values())))
