"""The edge as a two-stage pipeline: inference, then encoding plus transmission.

Per frame, for a partition point (cut layer L) and a codec:
  stage 1  inference of layers ..L      edge_latency_s  = cost-model cycles / clock
                                         edge_energy_j   = cost-model energy (pJ * 1e-12)
  stage 2  encode L's map + transmit     encode_latency_s = coder cycles / clock (split.analysis.encoder_cost:
                                                           jpeg on the mosaic's pixels, lossless on the values,
                                                           raw none; the host-only picture: its C*H*W samples)
                                         tx_latency_s    = bits / rate,  tx_energy_j = power * tx_latency_s
  throughput_fps = 1 / max(stage 1, stage 2)      (the slower stage sets the rate)
  latency_s      = stage 1 + stage 2               (one frame through both)
  energy_j       = edge + encode + tx = sum of the breakdown:
                   mac (incl. post-processing ALU ops), buffer, register, dram_weights, dram_features,
                   weight_decoder, static, encoder, radio
  frames_per_j   = 1 / energy_j
Host-only (L = input) runs nothing and JPEG-codes the picture; edge-only runs the
whole network and sends the top-5 classes (stages.TOP5_BYTES).  The bits are the
ratio table's bytes_per_frame x 8: whole bitstreams, header and side information
included.  Weights are charged as the profile (or a compressed-weight bundle
passed to the cost model) stores them; DRAM bytes are split into weights and
feature maps by running the cost model once more with feature maps on chip.
"""
from __future__ import annotations

import dataclasses
import math

from .. import cost
from ..spec import NetworkSpec
from ..split import analysis, bitstream
from ..split import mosaic as mos
from . import ratios, stages

PARTS = ("mac", "buffer", "register", "dram_weights", "dram_features", "weight_decoder", "static", "encoder", "radio")
FEATURE_CODECS = ("raw", "lossless", "jpeg", "jpeg-ft")


def _layer_energy_j(rec: dict, feature_bytes: int, profile) -> dict:
    e = rec["energy_pj"]
    per_byte = profile.dram.e_access_pj / (profile.dram.access_bits // 8)
    dram_feat = feature_bytes * per_byte
    return dict(mac=e["mac"] * 1e-12, buffer=e["buffer"] * 1e-12, register=e["register"] * 1e-12,
                dram_weights=(e["dram"] - dram_feat) * 1e-12, dram_features=dram_feat * 1e-12,
                weight_decoder=e["weight_decoder"] * 1e-12, static=e["static"] * 1e-12)


def edge_costs(spec: NetworkSpec, profile, **cost_options) -> dict:
    """Cumulative cost of the edge partition ending at each layer: {layer: {"cycles", "latency_s",
    "dram_weight_bytes", "dram_feature_bytes", "energy_j": {part: J}}}, plus "input" (nothing run).
    ``cost_options`` go to cost.network_cost unchanged (a compressed-weight bundle, when it has one)."""
    rep = cost.network_cost(spec, profile, **cost_options)
    if profile.buffer.features_in_dram:
        on_chip = dataclasses.replace(profile, buffer=dataclasses.replace(profile.buffer, features_in_dram=False))
        weights_only = [r["dram_bytes"] for r in cost.network_cost(spec, on_chip, **cost_options)["layers"]]
    else:
        weights_only = [r["dram_bytes"] for r in rep["layers"]]
    zero = dict.fromkeys(PARTS[:7], 0.0)
    run = dict(cycles=0, latency_s=0.0, dram_weight_bytes=0, dram_feature_bytes=0, energy_j=zero)
    out = {stages.INPUT: run}
    for rec, w_bytes in zip(rep["layers"], weights_only):
        f_bytes = rec["dram_bytes"] - w_bytes
        e = _layer_energy_j(rec, f_bytes, profile)
        run = dict(cycles=run["cycles"] + rec["cycles"], latency_s=(run["cycles"] + rec["cycles"]) / profile.clock_hz,
                   dram_weight_bytes=run["dram_weight_bytes"] + w_bytes,
                   dram_feature_bytes=run["dram_feature_bytes"] + f_bytes,
                   energy_j={k: run["energy_j"][k] + e[k] for k in zero})
        out[rec["name"]] = run
    return out


def encoder(spec: NetworkSpec, layer: str, codec: str, profile, mosaic: str = "packed") -> dict:
    """The edge coder's cycles, latency (s) and energy (J) for the map at ``layer`` (split.analysis.encoder_cost
    on the map actually coded: jpeg/jpeg-ft the packed mosaic's pixels, lossless the values, raw nothing;
    the host-only picture: its C x H x W samples, a colour JPEG at the profile's encoder figures)."""
    shape = stages.map_shape(spec, layer)
    base = "jpeg" if codec == "jpeg-ft" else codec
    if layer == stages.INPUT and base == "jpeg":
        # host-only: the picture as a colour JPEG, every sample through the encoder (4:4:4, no subsampling)
        samples = math.prod(shape)
        cycles = math.ceil(samples / profile.jpeg.encoder_pixels_per_cycle)
        return dict(cycles=cycles, latency_s=cycles / profile.clock_hz,
                    energy_j=samples * profile.jpeg.encoder_pj_per_pixel * 1e-12)
    h = bitstream.Header(codec=base, network=spec.name, layer=layer, shape=shape, out_frac=0,
                         mosaic=mos.layout(mosaic, shape) if base == "jpeg" else None)
    c = analysis.encoder_cost(h, profile)
    return dict(cycles=c["cycles"], latency_s=c["latency_s"], energy_j=c["energy_pj"] * 1e-12)


def table_layers(table) -> set:
    return {r.layer for r in table.rows}


def evaluate(spec: NetworkSpec, profile, link, point: stages.Point, codec: str, row, edge: dict) -> dict:
    """One operating-point record (see the module docstring).  ``row`` is the ratio-table Row of the
    map sent (None for edge-only), ``edge`` is edge_costs(spec, profile)."""
    inf = edge[point.layer] if point.kind != "host-only" else edge[stages.INPUT]
    if point.kind == "edge-only":
        used, nbytes, ratio, qf, top1, origin = "top5", float(stages.TOP5_BYTES), None, None, None, \
            "top-5 class indices, 5 x uint16"
        enc = dict(cycles=0, latency_s=0.0, energy_j=0.0)
    else:
        used, nbytes, ratio, qf, top1, origin = row.codec, row.bytes_per_frame, row.ratio, row.qf, row.top1_pct, \
            row.origin
        enc = encoder(spec, point.layer, used, profile)
    bits = nbytes * 8
    tx_s, tx_j = link.tx_latency_s(bits), link.tx_energy_j(bits)
    stage1, stage2 = inf["latency_s"], enc["latency_s"] + tx_s
    parts = dict(inf["energy_j"], encoder=enc["energy_j"], radio=tx_j)
    edge_j = sum(inf["energy_j"].values())
    energy = sum(parts.values())
    slow = max(stage1, stage2)
    return dict(network=spec.name, profile=profile.name, point=point.label, layer=point.layer, kind=point.kind,
                codec=codec if point.kind == "partition" else used, codec_used=used, qf=qf,
                raw_bytes=ratios.raw_bytes(spec, point.layer) if point.kind != "edge-only" else None,
                bytes_per_frame=nbytes, bits_per_frame=bits, ratio=ratio, top1_pct=top1, origin=origin,
                edge_cycles=inf["cycles"], edge_latency_s=stage1, edge_energy_j=edge_j,
                encode_cycles=enc["cycles"], encode_latency_s=enc["latency_s"], encode_energy_j=enc["energy_j"],
                tx_latency_s=tx_s, tx_energy_j=tx_j, stage2_latency_s=stage2,
                bottleneck="inference" if stage1 >= stage2 else "encode+transmit",
                throughput_fps=1.0 / slow if slow > 0 else math.inf, latency_s=stage1 + stage2,
                energy_j=energy, frames_per_j=1.0 / energy if energy > 0 else math.inf,
                dram_weight_bytes=inf["dram_weight_bytes"], dram_feature_bytes=inf["dram_feature_bytes"],
                **{f"energy_{k}_j": v for k, v in parts.items()}, **link.record())


def sweep_points(spec: NetworkSpec, profile, link, table, codec: str, pts=None, edge=None, **cost_options) -> list:
    """Records of every point for one feature codec: host-only (jpeg picture), the partitions with
    ``codec``, edge-only (top-5)."""
    edge = edge or edge_costs(spec, profile, **cost_options)
    out = []
    for p in pts or stages.points(spec, available=table_layers(table)):
        if p.kind == "edge-only":
            out.append(evaluate(spec, profile, link, p, codec, None, edge))
        else:
            c = "jpeg" if p.kind == "host-only" else codec
            out.append(evaluate(spec, profile, link, p, codec, ratios.lookup(spec, table, p.layer, c), edge))
    return out


def operating_points(spec: NetworkSpec, profile, link, table, pts=None, **cost_options) -> list:
    """The operating points the adaptive controller chooses among: one record per partition point and
    codec row of the ratio table (every QF row of a jpeg codec), plus host-only (each input row) and
    edge-only.  Fields include layer, codec, qf, edge_latency_s, edge_energy_j, encode_latency_s,
    encode_energy_j, bits_per_frame, top1_pct and the link's rate_mbps, power_mw, nj_per_bit."""
    edge = edge_costs(spec, profile, **cost_options)
    out = []
    for p in pts or stages.points(spec, available=table_layers(table)):
        if p.kind == "edge-only":
            out.append(evaluate(spec, profile, link, p, "top5", None, edge))
            continue
        codecs = ("jpeg", "raw") if p.kind == "host-only" else FEATURE_CODECS
        for c in codecs:
            for row in table.find(p.layer, c):
                out.append(evaluate(spec, profile, link, p, c, ratios.resolve(spec, table, row), edge))
    return out


def best(records: list, key: str, kinds=("partition",)) -> dict:
    """The record of the given kinds with the highest throughput ('throughput') or lowest energy ('energy')."""
    cands = [r for r in records if r["kind"] in kinds]
    if key == "throughput":
        return max(cands, key=lambda r: r["throughput_fps"])
    return min(cands, key=lambda r: r["energy_j"])


def summary(records: list) -> dict:
    """Best partition for throughput and for energy, and its improvement over host-only and edge-only:
    throughput ratio fps / fps_ref, energy-efficiency ratio energy_ref / energy (= frames/J ratio)."""
    host = next(r for r in records if r["kind"] == "host-only")
    edge = next(r for r in records if r["kind"] == "edge-only")
    bt, be = best(records, "throughput"), best(records, "energy")
    overall_t = best(records, "throughput", ("host-only", "partition", "edge-only"))
    overall_e = best(records, "energy", ("host-only", "partition", "edge-only"))
    return dict(best_throughput=bt["point"], best_throughput_layer=bt["layer"], best_throughput_fps=bt["throughput_fps"],
                best_energy=be["point"], best_energy_layer=be["layer"], best_energy_j=be["energy_j"],
                best_overall_throughput=overall_t["point"], best_overall_energy=overall_e["point"],
                throughput_x_host=bt["throughput_fps"] / host["throughput_fps"],
                throughput_x_edge=bt["throughput_fps"] / edge["throughput_fps"],
                energy_x_host=host["energy_j"] / be["energy_j"], energy_x_edge=edge["energy_j"] / be["energy_j"],
                host_only_fps=host["throughput_fps"], host_only_energy_j=host["energy_j"],
                edge_only_fps=edge["throughput_fps"], edge_only_energy_j=edge["energy_j"])
