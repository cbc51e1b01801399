"""Per-layer feature statistics and codec results (the paper's Figs. 3 and 4),
and the feature encoder's cycles and energy from the engine profile.

Every byte count is a whole bitstream (header + payload): side information
counts.  Ratios are raw bitstream payload bytes (2 bytes a value) / bytes.
"""
from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np

from .. import engine
from ..errors import RefimplError
from . import bitstream, partition

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".ppm", ".pgm", ".bmp", ".tif", ".tiff", ".gif", ".webp")


def entropy_bits(fmap: np.ndarray) -> float:
    """Zeroth-order entropy of the int16 values, bits per value: -sum p log2 p."""
    counts = np.bincount(np.asarray(fmap).astype(np.int64).reshape(-1) + 32768)
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log2(p)).sum())


def sqnr_db(x: np.ndarray, y: np.ndarray) -> float:
    """10 log10(sum x**2 / sum (y - x)**2) in dB of integer maps; inf when equal."""
    x = np.asarray(x, dtype=np.float64)
    e = np.asarray(y, dtype=np.float64) - x
    noise, signal = float((e * e).sum()), float((x * x).sum())
    if noise == 0:
        return math.inf
    return -math.inf if signal == 0 else 10 * math.log10(signal / noise)


def encoder_cost(h: bitstream.Header, profile) -> dict:
    """Cycles and energy (pJ) of the edge's feature encoder for one map.

    raw: none (the words go out as they are).  lossless: C*H*W values at
    jpeg.lossless_values_per_cycle and lossless_pj_per_value.  jpeg: the
    mosaic's pixels at jpeg.encoder_pixels_per_cycle and encoder_pj_per_pixel.
    """
    j = profile.jpeg
    if h.codec == "raw":
        units, rate, pj, basis = 0, 1.0, 0.0, "no coder"
    elif h.codec == "lossless":
        units, rate, pj, basis = int(np.prod(h.shape)), j.lossless_values_per_cycle, j.lossless_pj_per_value, "values"
    else:
        r, c = h.mosaic.shape
        units, rate, pj, basis = r * c, j.encoder_pixels_per_cycle, j.encoder_pj_per_pixel, "mosaic pixels"
    cycles = math.ceil(units / rate)
    return dict(units=units, basis=basis, cycles=cycles, energy_pj=units * pj,
                latency_s=cycles / profile.clock_hz)


def image_paths(items) -> list:
    """Files, and the picture files inside folders (sorted), in the order given."""
    out = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_SUFFIXES and q.is_file())
            if not found:
                raise RefimplError(f"{p}: folder holds no picture files ({', '.join(IMAGE_SUFFIXES)})")
            out += found
        elif p.is_file():
            out.append(p)
        else:
            raise RefimplError(f"{p}: no such image file or folder")
    return out


def feature_rows(qnet, params, x_int: np.ndarray, qfs, *, mapping="shift", mosaic="packed", scan="chw",
                 predictor="left", optimize=False, mode="fixed") -> dict:
    """Statistics of every split point over the frames x_int (N, 3, H, W).

    Returns {"layers": [per-layer dict], "qf": [...]}; every value is a mean over frames.
    """
    spec = qnet.spec
    full = partition.host_run(qnet, x_int, partition.INPUT, "fixed")["scores_int"]
    ref_top1 = np.argmax(full, axis=1) if mode == "fixed" else np.argmax(
        partition.host_run(qnet, x_int, partition.INPUT, "float", params)["scores"], axis=1)
    rows = []
    acts = {partition.INPUT: x_int}
    for r in engine.run(qnet, x_int):
        acts[r.name] = r.output
    for at in partition.split_points(spec):
        maps = acts[at]
        shape, out_frac = partition.map_format(qnet, at)
        n = int(np.prod(shape))
        raw_bytes = 2 * n
        ll = [partition.encode_fmap(qnet, f, at, "lossless", scan=scan, predictor=predictor)
              for f in maps]
        row = dict(layer=at, shape=list(shape), out_frac=out_frac, values=n, raw_bytes=raw_bytes,
                   raw_stream_bytes=len(partition.encode_fmap(qnet, maps[0], at, "raw")),
                   entropy_bits=float(np.mean([entropy_bits(f) for f in maps])),
                   nonzero=float(np.mean([np.count_nonzero(f) / n for f in maps])),
                   lossless_bytes=float(np.mean([len(s) for s in ll])))
        row["lossless_ratio"] = raw_bytes / row["lossless_bytes"]
        row["entropy_bound_bytes"] = row["entropy_bits"] * n / 8
        lossy = []
        for qf in qfs:
            opts = dict(qf=qf, mapping=mapping, mosaic=mosaic, optimize=optimize)
            ab = [partition.encode_fmap(qnet, f, at, "jpeg", abbreviated=True, **opts) for f in maps]
            fu = [len(partition.encode_fmap(qnet, f, at, "jpeg", abbreviated=False, **opts)) for f in maps]
            out = partition.host_decode_run(qnet, ab, mode, params)
            dec = out["fmap"]
            err = np.abs(dec.astype(np.int64) - maps.astype(np.int64))
            top1 = np.argmax(out["scores"], axis=1)
            lossy.append(dict(qf=qf, bytes=float(np.mean([len(s) for s in ab])), full_bytes=float(np.mean(fu)),
                              ratio=raw_bytes / float(np.mean([len(s) for s in ab])),
                              max_err_lsb=int(err.max()),
                              sqnr_db=float(np.mean([sqnr_db(m, d) for m, d in zip(maps, dec)])),
                              top1_agreement=float(np.mean(top1 == ref_top1))))
        row["jpeg"] = lossy
        rows.append(row)
    return dict(network=spec.name, frames=int(len(x_int)), mapping=mapping, mosaic=mosaic, scan=scan,
                predictor=predictor,
                optimize=optimize, mode=mode, qf=list(qfs), layers=rows)


UNITS = dict(raw_bytes="bytes (2 per value, no header)", raw_stream_bytes="bytes (raw bitstream, header included)",
             entropy_bits="bits per value (zeroth order)", nonzero="fraction of values != 0",
             lossless_bytes="bytes (bitstream, header included)", lossless_ratio="raw_bytes / lossless_bytes",
             entropy_bound_bytes="bytes (entropy_bits * values / 8)",
             bytes="bytes (abbreviated JPEG bitstream, header included)",
             full_bytes="bytes (full JFIF bitstream, header included)", ratio="raw_bytes / bytes",
             max_err_lsb="LSB of the int16 map (max over frames)", sqnr_db="dB (mean over frames)",
             top1_agreement="fraction of frames whose host top-1 equals the unsplit network's",
             out_frac="fractional bits", values="values per frame")


def _fmt(v, digits=2):
    if isinstance(v, float):
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return f"{v:,.{digits}f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def as_json(rep: dict) -> str:
    def clean(o):
        if isinstance(o, float) and math.isinf(o):
            return "inf" if o > 0 else "-inf"
        if isinstance(o, dict):
            return {k: clean(v) for k, v in o.items()}
        if isinstance(o, list):
            return [clean(v) for v in o]
        return o
    return json.dumps(dict(clean(rep), units=UNITS), indent=1)


CSV_HEAD = ["layer", "shape", "values", "out_frac", "raw_bytes", "entropy_bits", "nonzero", "lossless_bytes",
            "lossless_ratio", "qf", "jpeg_bytes", "jpeg_full_bytes", "jpeg_ratio", "max_err_lsb", "sqnr_db",
            "top1_agreement"]


def as_csv(rep: dict) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_HEAD)
    for r in rep["layers"]:
        for j in r["jpeg"]:
            w.writerow([r["layer"], "x".join(map(str, r["shape"])), r["values"], r["out_frac"], r["raw_bytes"],
                        f"{r['entropy_bits']:.4f}", f"{r['nonzero']:.4f}", f"{r['lossless_bytes']:.1f}",
                        f"{r['lossless_ratio']:.4f}", j["qf"], f"{j['bytes']:.1f}", f"{j['full_bytes']:.1f}",
                        f"{j['ratio']:.4f}", j["max_err_lsb"], _fmt(j["sqnr_db"], 3), f"{j['top1_agreement']:.4f}"])
    return buf.getvalue()


def as_table(rep: dict) -> str:
    from tabulate import tabulate
    head = ["layer", "output CxHxW", "raw (bytes)", "entropy (bits/value)", "non-zero (ratio)",
            "lossless (bytes)", "lossless ratio (x)"]
    rows = [[r["layer"], "x".join(map(str, r["shape"])), _fmt(r["raw_bytes"]), _fmt(r["entropy_bits"]),
             _fmt(r["nonzero"], 3), _fmt(r["lossless_bytes"], 1), _fmt(r["lossless_ratio"])] for r in rep["layers"]]
    head2 = ["layer", "QF", "JPEG abbreviated (bytes)", "JPEG full JFIF (bytes)", "ratio (x)",
             "max |error| (LSB)", "SQNR (dB)", "top-1 agreement"]
    rows2 = [[r["layer"], j["qf"], _fmt(j["bytes"], 1), _fmt(j["full_bytes"], 1), _fmt(j["ratio"]),
              j["max_err_lsb"], _fmt(j["sqnr_db"], 1), _fmt(j["top1_agreement"], 3)]
             for r in rep["layers"] for j in r["jpeg"]]
    title = (f"{rep['network']}: {rep['frames']} frame(s), means over frames; byte counts are whole bitstreams "
             f"(header included); ratios against raw 2 bytes a value")
    lossless = f"lossless: scan {rep['scan']}, predictor {rep['predictor']}"
    lossy = (f"lossy path: jpeg, mapping {rep['mapping']}, mosaic {rep['mosaic']}, "
             f"{'optimized' if rep['optimize'] else 'standard'} Huffman tables, host mode {rep['mode']}")
    return "\n".join([title, lossless, tabulate(rows, headers=head, disable_numparse=True), "", lossy,
                      tabulate(rows2, headers=head2, disable_numparse=True)])
