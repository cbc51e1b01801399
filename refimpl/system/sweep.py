"""The paper's section 4 as tables: one list of rows per figure (Figs. 7-12) and the claims.

Every figure is rows first (CSV and JSON, units in the column names); the
plots (``plots``) only read these rows.  Configuration of every figure (paper
section 4.2-4.3): AlexNet at 2 Mbps unless the figure varies it; host-only
sends the picture JPEG-coded at 15x; edge-only sends the top-5 classes; the
ratio tables are the ``paper`` tables; the weights are charged as each
profile stores them.
  fig07  throughput and stage latencies per point: (a) raw features, (b) lossy (jpeg)
  fig08  energy breakdown per point, same two cases
  fig09  best-partition improvement over host-only and edge-only for raw, lossless, jpeg, jpeg-ft
  fig10  VGG-16 and ResNet-50: host-only, edge-only, best partition, conv5-stage partition (jpeg-ft);
         and each network's inference demand (MACs, weight DRAM bytes)
  fig11  AlexNet at 1, 2 and 22 Mbps: host-only, edge-only, best partition (jpeg-ft)
  fig12  the optimal partition over a grid of link rate x radio energy per bit (jpeg-ft)
"""
from __future__ import annotations

from .. import networks
from ..errors import RefimplError
from ..spec import layer_shapes
from . import links, pipeline, ratios

LINKS = ("redpine-1mbps", "redpine-2mbps", "redpine-22mbps")
FIG12_RATES_MBPS = tuple(round(10 ** (e / 8), 4) for e in range(-8, 17))          # 0.1 .. 100 Mbps, 8 per decade
FIG12_NJ_PER_BIT = tuple(round(10 ** (e / 8), 4) for e in range(0, 25))           # 1 .. 1000 nJ/bit, 8 per decade
FIG7_CASES = (("a", "raw"), ("b", "jpeg"))


class Context:
    """Ratio tables and edge costs, built once per (network) and (network, profile)."""

    def __init__(self, profiles: list):
        self.profiles = profiles
        self.measured = ratios.read_measured(required=False)
        self._tables, self._edges = {}, {}

    def table(self, net: str):
        if net not in self._tables:
            self._tables[net] = ratios.paper_table(networks.get(net), self.measured)
        return self._tables[net]

    def edge(self, net: str, prof):
        key = (net, prof.name)
        if key not in self._edges:
            self._edges[key] = pipeline.edge_costs(networks.get(net), prof)
        return self._edges[key]

    def records(self, net: str, prof, link, codec: str) -> list:
        return pipeline.sweep_points(networks.get(net), prof, link, self.table(net), codec,
                                     edge=self.edge(net, prof))


def _ms(s):
    return s * 1e3


def fig07_08(ctx: Context) -> list:
    link = links.load_link("redpine-2mbps")
    rows = []
    for prof in ctx.profiles:
        for case, codec in FIG7_CASES:
            for r in ctx.records("alexnet", prof, link, codec):
                rows.append(dict(profile=prof.name, case=case, feature_codec=codec, **point_columns(r)))
    return rows


def point_columns(r: dict) -> dict:
    out = dict(point=r["point"], layer=r["layer"], codec_used=r["codec_used"], bytes_per_frame=r["bytes_per_frame"],
               inference_latency_s=r["edge_latency_s"], encode_latency_s=r["encode_latency_s"],
               tx_latency_s=r["tx_latency_s"], stage2_latency_s=r["stage2_latency_s"], bottleneck=r["bottleneck"],
               throughput_fps=r["throughput_fps"], latency_s=r["latency_s"], energy_j=r["energy_j"],
               frames_per_j=r["frames_per_j"])
    out.update({k: r[k] for k in r if k.startswith("energy_") and k.endswith("_j")})
    return out


def fig09(ctx: Context) -> list:
    link = links.load_link("redpine-2mbps")
    rows = []
    for prof in ctx.profiles:
        for codec in pipeline.FEATURE_CODECS:
            s = pipeline.summary(ctx.records("alexnet", prof, link, codec))
            rows.append(dict(profile=prof.name, feature_codec=codec, **s))
    return rows


def _approaches(recs: list, conv_stage: str) -> list:
    """host-only, edge-only, the best partition for throughput and for energy, the last conv stage."""
    s = pipeline.summary(recs)
    by = {r["point"]: r for r in recs}
    host = next(r for r in recs if r["kind"] == "host-only")
    edge = next(r for r in recs if r["kind"] == "edge-only")
    chosen = [("host-only", host), ("edge-only", edge), ("best partition (throughput)", by[s["best_throughput"]]),
              ("best partition (energy)", by[s["best_energy"]]), (f"{conv_stage} partition", by[conv_stage])]
    return [dict(approach=a, point=r["point"], layer=r["layer"], throughput_fps=r["throughput_fps"],
                 energy_j=r["energy_j"], frames_per_j=r["frames_per_j"],
                 throughput_x_host=r["throughput_fps"] / host["throughput_fps"],
                 energy_x_host=host["energy_j"] / r["energy_j"],
                 throughput_x_edge=r["throughput_fps"] / edge["throughput_fps"],
                 energy_x_edge=edge["energy_j"] / r["energy_j"], bottleneck=r["bottleneck"]) for a, r in chosen]


def fig10(ctx: Context) -> list:
    link = links.load_link("redpine-2mbps")
    rows = []
    for prof in ctx.profiles:
        for net, conv in (("vgg16", "conv5"), ("resnet50", "conv5_x"), ("alexnet", "conv5")):
            for a in _approaches(ctx.records(net, prof, link, "jpeg-ft"), conv):
                rows.append(dict(profile=prof.name, network=net, **a))
    return rows


def fig10_demand(ctx: Context) -> list:
    """(c): each network's inference demand with the weights as stored (whole network, one frame)."""
    rows = []
    for prof in ctx.profiles:
        for net in ("alexnet", "vgg16", "resnet50"):
            spec = networks.get(net)
            whole = ctx.edge(net, prof)[spec.layers[-1].name]
            rows.append(dict(profile=prof.name, network=net, macs=sum(s.macs for s in layer_shapes(spec)),
                             dram_weight_bytes=whole["dram_weight_bytes"],
                             dram_feature_bytes=whole["dram_feature_bytes"], inference_latency_s=whole["latency_s"],
                             inference_energy_j=sum(whole["energy_j"].values())))
    return rows


def fig11(ctx: Context) -> list:
    rows = []
    for prof in ctx.profiles:
        for name in LINKS:
            link = links.load_link(name)
            for a in _approaches(ctx.records("alexnet", prof, link, "jpeg-ft"), "conv5"):
                rows.append(dict(profile=prof.name, link=name, rate_mbps=link.rate_mbps, power_mw=link.power_mw, **a))
    return rows


def optimal(recs: list) -> tuple:
    """(point with the highest throughput, point with the lowest energy) over every point."""
    kinds = ("host-only", "partition", "edge-only")
    return pipeline.best(recs, "throughput", kinds)["point"], pipeline.best(recs, "energy", kinds)["point"]


def fig12(ctx: Context, rates=FIG12_RATES_MBPS, nj_per_bit=FIG12_NJ_PER_BIT) -> list:
    rows = []
    for prof in ctx.profiles:
        for rate in rates:
            for e_bit in nj_per_bit:
                link = links.make_link(rate, e_bit * rate, name=f"{rate:g}Mbps@{e_bit:g}nJ/bit")
                t, e = optimal(ctx.records("alexnet", prof, link, "jpeg-ft"))
                rows.append(dict(profile=prof.name, rate_mbps=rate, nj_per_bit=e_bit, power_mw=e_bit * rate,
                                 best_throughput=t, best_energy=e))
    return rows


# ---------------------------------------------------------------- claims (README side-by-side table)
PAPER_CLAIMS = (
    # id, what, paper value, unit
    ("headline_energy_x_host", "conv5 stage, jpeg-ft: energy efficiency over host-only", 15.3, "x"),
    ("headline_throughput_x_host", "conv5 stage, jpeg-ft: throughput over host-only", 16.5, "x"),
    ("headline_energy_x_edge", "conv5 stage, jpeg-ft: energy efficiency over edge-only", 2.3, "x"),
    ("headline_throughput_x_edge", "conv5 stage, jpeg-ft: throughput over edge-only", 2.5, "x"),
    ("raw_best_throughput", "without encoding: best point for throughput", "fc6", ""),
    ("raw_best_energy", "without encoding: best point for energy", "fc6", ""),
    ("raw_fc6_energy_x_host", "without encoding, fc6: energy efficiency over host-only", 4.5, "x"),
    ("raw_fc6_throughput_x_host", "without encoding, fc6: throughput over host-only", 7.5, "x"),
    ("raw_fc6_energy_x_edge", "without encoding, fc6: energy efficiency over edge-only", 1.2, "x"),
    ("raw_fc6_throughput_x_edge", "without encoding, fc6: throughput over edge-only", 1.15, "x"),
    ("jpeg_best_throughput", "with lossy encoding (jpeg): best point for throughput", "conv5", ""),
    ("jpeg_best_energy", "with lossy encoding (jpeg): best point for energy", "conv5", ""),
    ("vgg16_energy_x_edge", "VGG-16, conv5 stage, jpeg-ft: energy efficiency over edge-only", 1.2, "x"),
    ("vgg16_throughput_x_edge", "VGG-16, conv5 stage, jpeg-ft: throughput over edge-only", 4.3, "x"),
    ("resnet50_edge_beats_host", "ResNet-50: edge-only beats host-only (throughput and energy)", "yes", ""),
    ("resnet50_partition_beats_both", "ResNet-50: the conv5_x partition beats both (throughput and energy)", "yes", ""),
    ("best_throughput_1mbps", "1 Mbps (jpeg-ft): best point for throughput", "deeper than at 22 Mbps", ""),
    ("best_throughput_2mbps", "2 Mbps (jpeg-ft): best point for throughput", "conv5", ""),
    ("best_throughput_22mbps", "22 Mbps (jpeg-ft): best point for throughput", "conv2", ""),
    ("best_energy_22mbps", "22 Mbps (jpeg-ft): best point for energy", "(not stated)", ""),
)


def claims(ctx: Context) -> list:
    """One row per claim of the paper: the paper's value and each profile's prediction."""
    values = {}
    for prof in ctx.profiles:
        v = {}
        l2 = links.load_link("redpine-2mbps")
        ft = ctx.records("alexnet", prof, l2, "jpeg-ft")
        by = {r["point"]: r for r in ft}
        host = by["host-only"]
        edge = by["edge-only"]
        p = by["conv5"]
        v["headline_energy_x_host"] = host["energy_j"] / p["energy_j"]
        v["headline_throughput_x_host"] = p["throughput_fps"] / host["throughput_fps"]
        v["headline_energy_x_edge"] = edge["energy_j"] / p["energy_j"]
        v["headline_throughput_x_edge"] = p["throughput_fps"] / edge["throughput_fps"]
        raw = ctx.records("alexnet", prof, l2, "raw")
        v["raw_best_throughput"], v["raw_best_energy"] = optimal(raw)
        fc6 = next(r for r in raw if r["point"] == "fc6")
        v["raw_fc6_energy_x_host"] = host["energy_j"] / fc6["energy_j"]
        v["raw_fc6_throughput_x_host"] = fc6["throughput_fps"] / host["throughput_fps"]
        v["raw_fc6_energy_x_edge"] = edge["energy_j"] / fc6["energy_j"]
        v["raw_fc6_throughput_x_edge"] = fc6["throughput_fps"] / edge["throughput_fps"]
        v["jpeg_best_throughput"], v["jpeg_best_energy"] = optimal(ctx.records("alexnet", prof, l2, "jpeg"))
        vgg = {r["point"]: r for r in ctx.records("vgg16", prof, l2, "jpeg-ft")}
        v["vgg16_energy_x_edge"] = vgg["edge-only"]["energy_j"] / vgg["conv5"]["energy_j"]
        v["vgg16_throughput_x_edge"] = vgg["conv5"]["throughput_fps"] / vgg["edge-only"]["throughput_fps"]
        res = {r["point"]: r for r in ctx.records("resnet50", prof, l2, "jpeg-ft")}
        h, e, c = res["host-only"], res["edge-only"], res["conv5_x"]
        v["resnet50_edge_beats_host"] = _yes(e["throughput_fps"] > h["throughput_fps"], e["energy_j"] < h["energy_j"])
        v["resnet50_partition_beats_both"] = _yes(
            c["throughput_fps"] > max(h["throughput_fps"], e["throughput_fps"]),
            c["energy_j"] < min(h["energy_j"], e["energy_j"]))
        for name, tag in zip(LINKS, ("1mbps", "2mbps", "22mbps")):
            t, en = optimal(ctx.records("alexnet", prof, links.load_link(name), "jpeg-ft"))
            v[f"best_throughput_{tag}"] = t
            if tag == "22mbps":
                v["best_energy_22mbps"] = en
        values[prof.name] = v
    return [dict(claim=cid, what=what, paper=paper, unit=unit, **{p: values[p][cid] for p in values})
            for cid, what, paper, unit in PAPER_CLAIMS]


def _yes(throughput: bool, energy: bool) -> str:
    if throughput and energy:
        return "yes"
    if not throughput and not energy:
        return "no"
    return "throughput only" if throughput else "energy only"


FIGURES = {"fig07-08": fig07_08, "fig09": fig09, "fig10": fig10, "fig10c": fig10_demand, "fig11": fig11,
           "fig12": fig12, "claims": claims}


def run(profiles: list) -> dict:
    """{figure name: rows} for every figure and the claims."""
    if not profiles:
        raise RefimplError("the sweep needs at least one profile")
    ctx = Context(profiles)
    out = {name: f(ctx) for name, f in FIGURES.items()}
    out["ratios"] = {net: ctx.table(net) for net in ("alexnet", "vgg16", "resnet50")}
    return out
