"""Tables, CSV and JSON of the system model's records (units in every column name).

Floats are cut to 12 significant digits (refimpl.report.clean); infinities
(a point whose stages both take no time) become empty CSV cells and JSON null.
"""
from __future__ import annotations

import csv
import io
import json
import math

from ..report import clean
from . import pipeline

RECORD_COLUMNS = (
    "network", "profile", "link", "rate_mbps", "power_mw", "nj_per_bit", "point", "layer", "kind", "codec",
    "codec_used", "qf", "raw_bytes", "bytes_per_frame", "bits_per_frame", "ratio", "top1_pct",
    "edge_cycles", "edge_latency_s", "edge_energy_j", "encode_cycles", "encode_latency_s", "encode_energy_j",
    "tx_latency_s", "tx_energy_j", "stage2_latency_s", "bottleneck", "throughput_fps", "latency_s", "energy_j",
    "frames_per_j", "dram_weight_bytes", "dram_feature_bytes") + tuple(f"energy_{p}_j" for p in pipeline.PARTS) + (
    "origin",)

UNITS = dict(rate_mbps="1e6 bit/s", power_mw="mW while transmitting", nj_per_bit="nJ per bit (power / rate)",
             raw_bytes="bytes, 16-bit words, no header", bytes_per_frame="bytes per frame, whole bitstream",
             bits_per_frame="bits per frame", ratio="raw_bytes / bytes_per_frame", top1_pct="% top-1",
             edge_cycles="clock cycles", edge_latency_s="s (inference, stage 1)", edge_energy_j="J (inference)",
             encode_cycles="clock cycles", encode_latency_s="s", encode_energy_j="J", tx_latency_s="s",
             tx_energy_j="J (radio)", stage2_latency_s="s (encode + transmit)",
             throughput_fps="frames/s = 1 / max(stage 1, stage 2)", latency_s="s (stage 1 + stage 2)",
             energy_j="J per frame (sum of energy_*_j)", frames_per_j="frames/J", dram_weight_bytes="bytes",
             dram_feature_bytes="bytes", energy_parts="J per frame",
             inference_latency_s="s (inference, stage 1)", inference_energy_j="J (inference)",
             throughput_x_host="x (throughput / host-only's)", throughput_x_edge="x (throughput / edge-only's)",
             energy_x_host="x (host-only's energy / this energy = frames/J ratio)",
             energy_x_edge="x (edge-only's energy / this energy)", best_energy_j="J per frame",
             best_throughput_fps="frames/s", host_only_fps="frames/s", edge_only_fps="frames/s",
             host_only_energy_j="J per frame", edge_only_energy_j="J per frame", macs="multiply-accumulates per frame")


def _cell(v):
    if v is None:
        return ""
    if isinstance(v, float):
        return "" if not math.isfinite(v) else clean(v)
    return v


def rows_csv(rows: list, columns=None) -> str:
    """CSV of dict rows; columns default to the first row's keys."""
    cols = list(columns or (rows[0].keys() if rows else ()))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for r in rows:
        w.writerow([_cell(r.get(c)) for c in cols])
    return buf.getvalue()


def to_json(obj) -> str:
    def fix(o):
        if isinstance(o, float):
            return clean(o) if math.isfinite(o) else None
        if isinstance(o, dict):
            return {k: fix(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [fix(v) for v in o]
        return o
    return json.dumps(fix(obj), indent=1) + "\n"


def records_csv(records: list) -> str:
    return rows_csv(records, RECORD_COLUMNS)


def _ms(v):
    return f"{v * 1e3:,.3f}"


def table(records: list, summaries: dict, header: str) -> str:
    from tabulate import tabulate
    head = ["point", "cut after", "codec", "bytes/frame", "inference (ms)", "enc+tx (ms)", "bound by",
            "throughput (fps)", "energy (mJ)", "radio (mJ)", "frames/J"]
    rows = [[r["point"], r["layer"], r["codec_used"], f"{r['bytes_per_frame']:,.0f}", _ms(r["edge_latency_s"]),
             _ms(r["stage2_latency_s"]), "inference" if r["bottleneck"] == "inference" else "enc+tx",
             f"{r['throughput_fps']:,.2f}", f"{r['energy_j'] * 1e3:,.3f}", f"{r['tx_energy_j'] * 1e3:,.3f}",
             f"{r['frames_per_j']:,.1f}"] for r in records]
    lines = [header, tabulate(rows, headers=head, disable_numparse=True, colalign=("left", "left", "left") +
                              ("right",) * 3 + ("left",) + ("right",) * 4), ""]
    for codec, s in summaries.items():
        lines.append(f"{codec}: best for throughput {s['best_throughput']} ({s['best_throughput_fps']:,.2f} fps: "
                     f"{s['throughput_x_host']:.2f}x host-only, {s['throughput_x_edge']:.2f}x edge-only); "
                     f"best for energy {s['best_energy']} ({s['best_energy_j'] * 1e3:,.3f} mJ: "
                     f"{s['energy_x_host']:.2f}x host-only, {s['energy_x_edge']:.2f}x edge-only)")
    return "\n".join(lines)
