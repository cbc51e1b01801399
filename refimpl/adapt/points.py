"""The operating-point table: what the edge can do per frame, per link mode.

An operating point is a partition layer, a feature codec and (for ``jpeg``) a
quality factor.  Per frame it costs (from the system model, ``refimpl/system``):

  edge_latency_s, edge_energy_j      inference up to and including the layer
                                      (stage 1 of the pipeline)
  encode_latency_s, encode_energy_j  feature encoder on the map (stage 2, before the radio)
  bits_per_frame                      the bitstream, header and side information included
  top1_pct                            the expected top-1 of the split network (%), when measured
  top1_loss_pts                       its expected loss against the unsplit model (points of top-1)

The controller works on the loss, which every row has even where no top-1 was
measured (the paper's own rows of the ``paper`` ratio table: input, conv5 stage):
``raw``, ``lossless`` and edge-only ``top5`` are exact (loss 0: a lossless
split is bit-identical to the unsplit run, README "Partitioned inference");
a ``jpeg`` or ``jpeg-ft`` row without a QF is, by the ratio table's
definition, at the QF of 1 % loss (loss 1.0); a row with a measured top-1 has
``unsplit - top1``, the unsplit top-1 being that of the exact rows.  Any
other row has an unknown loss and is never chosen under an accuracy floor.

The radio is per link mode (``link``, ``rate_mbps``, ``radio_power_mw``); at a
rate r (Mbps) and radio power P (mW) the frame's second stage takes
``encode_latency_s + bits / (r * 1e6)`` s and the radio draws
``P * 1e-3 * bits / (r * 1e6)`` J.  Between the table's modes the power is
interpolated linearly in the rate (``radio_power_mw``), and held constant
outside them: the paper's RS9110-N-11-02 draws 62.7, 99 and 660 mW at 1, 2 and
22 Mbps, i.e. 62.7, 49.5 and 30.0 nJ/bit.

The CSV holds one row per (point, link mode): columns ``POINT_FIELDS`` and
``LINK_FIELDS`` (required), ``OPTIONAL_FIELDS`` (the stage label; the loss,
which must agree with a measured top-1) and, informative and checked on
reading when present, ``DERIVED_FIELDS`` (the pipeline figures at that mode,
with no camera limit).
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass

import numpy as np

from ..errors import RefimplError
from .traces import MBPS, read_text

POINT_FIELDS = ("layer", "codec", "qf", "edge_latency_s", "edge_energy_j", "encode_latency_s",
                "encode_energy_j", "bits_per_frame", "top1_pct")
OPTIONAL_FIELDS = ("stage", "top1_loss_pts")     # the stage's label in the figures; the expected loss
LINK_FIELDS = ("link", "rate_mbps", "radio_power_mw")
EXACT_CODECS = ("raw", "lossless", "top5")       # lossless end to end: the unsplit model's top-1
ONE_PCT_CODECS = ("jpeg", "jpeg-ft")             # without a QF: the ratio table's 1 %-loss point
ONE_PCT_LOSS_PTS = 1.0                           # "the 1 %-loss operating point" (ratio table, GUIDE)
DERIVED_FIELDS = ("tx_latency_s", "tx_energy_j", "throughput_fps", "energy_per_frame_j")
DEFAULT_LINKS = ("redpine-1mbps", "redpine-2mbps", "redpine-22mbps")    # paper section 4.1 [12]
DERIVED_RTOL = 1e-6             # derived columns are printed to 12 significant digits


@dataclass(frozen=True)
class Point:
    """One operating point (units in the field names; qf None for raw and lossless)."""

    layer: str
    codec: str
    qf: int | None
    edge_latency_s: float
    edge_energy_j: float
    encode_latency_s: float
    encode_energy_j: float
    bits_per_frame: float
    top1_pct: float | None
    top1_loss_pts: float | None = None
    stage: str = ""

    @property
    def name(self) -> str:
        return f"{self.layer}/{self.codec}" + (f"@q{self.qf}" if self.qf is not None else "")


def expected_loss(codec: str, qf, top1_pct, unsplit_top1_pct):
    """Expected top-1 loss (points) of a row, by the rule in the module docstring; None when unknown."""
    if top1_pct is not None and unsplit_top1_pct is not None:
        return unsplit_top1_pct - top1_pct         # may be < 0: a lossy split can measure above
    if codec in EXACT_CODECS:
        return 0.0
    if codec in ONE_PCT_CODECS and qf is None:
        return ONE_PCT_LOSS_PTS
    return None


@dataclass(frozen=True)
class Link:
    """A link mode: name, nominal rate (Mbps) and radio power while transmitting (mW)."""

    name: str
    rate_mbps: float
    power_mw: float


@dataclass(frozen=True)
class Table:
    points: tuple            # of Point, in table order
    links: tuple             # of Link, sorted by rate
    source: str

    def arrays(self) -> dict:
        """Per-point float64 arrays (n,) of every numeric field; top1 NaN where unknown."""
        out = {f: np.array([getattr(p, f) for p in self.points], float)
               for f in POINT_FIELDS[3:8]}
        for f in ("top1_pct", "top1_loss_pts"):
            out[f] = np.array([math.nan if getattr(p, f) is None else getattr(p, f) for p in self.points])
        return out

    def unsplit_top1_pct(self) -> float | None:
        """Top-1 of the unsplit model: that of the exact codecs (raw, lossless, top5), which equal it."""
        exact = [p.top1_pct for p in self.points if p.codec in EXACT_CODECS and p.top1_pct is not None]
        return max(exact) if exact else None

    def index(self, name: str) -> int:
        for i, p in enumerate(self.points):
            if p.name == name:
                return i
        raise RefimplError(f"{self.source}: no operating point '{name}'")


def radio_power_mw(rate_mbps, links) -> np.ndarray:
    """Radio power (mW) at the rate(s): linear between the link modes, constant outside them."""
    rates = np.array([l.rate_mbps for l in links], float)
    powers = np.array([l.power_mw for l in links], float)
    return np.interp(np.asarray(rate_mbps, float), rates, powers)


def stage_latencies(arr: dict, rate_mbps) -> tuple:
    """(stage 1, stage 2) latency (s) of every point at a rate (Mbps): inference; encode + transmit."""
    return arr["edge_latency_s"], arr["encode_latency_s"] + arr["bits_per_frame"] / (rate_mbps * MBPS)


def pipeline_fps(arr: dict, rate_mbps) -> np.ndarray:
    """Two-stage pipeline throughput 1 / max(inference, encode + transmit) (frames/s), no camera limit."""
    s1, s2 = stage_latencies(arr, rate_mbps)
    return 1.0 / np.maximum(s1, s2)


def frame_energy_j(arr: dict, rate_mbps, power_mw) -> np.ndarray:
    """Energy per frame (J): inference + encoder + radio power x time on air."""
    return (arr["edge_energy_j"] + arr["encode_energy_j"]
            + power_mw * 1e-3 * arr["bits_per_frame"] / (rate_mbps * MBPS))


# ---------------------------------------------------------------- from the system model
def from_records(records, source="system model") -> Table:
    """The adapter from the system model's per-(point, link) records to a Table.

    Each record (``refimpl.system.pipeline.operating_points``) is a mapping
    with POINT_FIELDS and the radio it used as ``link`` (name), ``rate_mbps``
    and ``power_mw`` (or ``radio_power_mw``); ``point``, when present, is the
    stage's label in the figures (``conv5`` for the cut after pool5).
    Records of one point under several links must agree on every point field.
    """
    rows = []
    for rec in records:
        row = {k: rec[k] for k in POINT_FIELDS + LINK_FIELDS[:2]}
        row["radio_power_mw"] = rec["radio_power_mw"] if "radio_power_mw" in rec else rec["power_mw"]
        row["stage"] = str(rec.get("point") or rec.get("stage") or "")
        row["top1_loss_pts"] = rec.get("top1_loss_pts")
        rows.append(row)
    return _build(rows, source)


def from_system(network: str, profile_name: str, ratio_choice=None, link_names=DEFAULT_LINKS) -> Table:
    """The operating-point table from the system model: every point and codec row under every link mode."""
    from .. import networks
    from ..profile import load_profile
    from ..system import links, pipeline, ratios

    spec = networks.get(network)
    prof = load_profile(profile_name)
    choice = ratio_choice or ("measured" if spec.name == "alexnet-cifar" else "paper")
    if choice == "measured":
        if spec.name != "alexnet-cifar":
            raise RefimplError(f"--ratios measured is the alexnet-cifar table; network {spec.name} takes "
                               "--ratios paper or FILE")
        table = ratios.read_measured()
    elif choice == "paper":
        table = ratios.paper_table(spec, ratios.read_measured(required=False))
    else:
        table = ratios.read_table(choice)
    records = []
    for name in link_names:
        records += pipeline.operating_points(spec, prof, links.load_link(name), table)
    return from_records(records, f"system model ({spec.name}, {prof.name}, ratios {table.source})")


# ---------------------------------------------------------------- CSV
def _num(x) -> str:
    return "" if x is None else (str(x) if isinstance(x, int) else f"{x:.12g}")


def to_csv(table: Table) -> str:
    """One row per (point, link mode), derived pipeline figures included."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(POINT_FIELDS + OPTIONAL_FIELDS + LINK_FIELDS + DERIVED_FIELDS)
    for p in table.points:
        for l in table.links:
            tx = p.bits_per_frame / (l.rate_mbps * MBPS)
            e_tx = l.power_mw * 1e-3 * tx
            fps = 1.0 / max(p.edge_latency_s, p.encode_latency_s + tx)
            w.writerow([p.layer, p.codec, _num(p.qf)] + [_num(getattr(p, f)) for f in POINT_FIELDS[3:]]
                       + [p.stage, _num(p.top1_loss_pts)] + [l.name, _num(l.rate_mbps), _num(l.power_mw), _num(tx), _num(e_tx), _num(fps),
                          _num(p.edge_energy_j + p.encode_energy_j + e_tx)])
    return out.getvalue()


def read_csv(path) -> Table:
    return parse_csv(read_text(path, "operating-point table"), str(path))


def parse_csv(text: str, source: str) -> Table:
    rows = [r for r in csv.reader(io.StringIO(text)) if r and any(c.strip() for c in r)]
    if not rows:
        raise RefimplError(f"{source}: empty operating-point table (header: {','.join(POINT_FIELDS + LINK_FIELDS)})")
    header = [c.strip() for c in rows[0]]
    missing = [f for f in POINT_FIELDS + LINK_FIELDS if f not in header]
    if missing:
        raise RefimplError(f"{source}: header lacks column(s) {', '.join(missing)}")
    unknown = [c for c in header if c not in POINT_FIELDS + OPTIONAL_FIELDS + LINK_FIELDS + DERIVED_FIELDS]
    if unknown:
        raise RefimplError(f"{source}: unknown column '{unknown[0]}'")
    recs = []
    for n, row in enumerate(rows[1:], start=1):
        if len(row) != len(header):
            raise RefimplError(f"{source}: row {n}: {len(row)} fields, the header has {len(header)}")
        recs.append({h: c.strip() for h, c in zip(header, row)})
    if not recs:
        raise RefimplError(f"{source}: the operating-point table has a header and no rows")
    parsed = [_parse_row(r, n, source) for n, r in enumerate(recs, start=1)]
    table = _build(parsed, source)
    for n, (raw, rec) in enumerate(zip(recs, parsed), start=1):
        _check_derived(raw, rec, n, source)
    return table


def _parse_row(raw: dict, n: int, source: str) -> dict:
    rec = {"layer": raw["layer"], "codec": raw["codec"], "link": raw["link"], "stage": raw.get("stage", "")}
    for key in ("layer", "codec", "link"):
        if not rec[key]:
            raise RefimplError(f"{source}: row {n}: empty {key}")
    text = raw["qf"]
    if text:
        try:
            rec["qf"] = int(text)
        except ValueError:
            raise RefimplError(f"{source}: row {n}: qf {text!r} is not an integer") from None
    else:
        rec["qf"] = None
    for key in POINT_FIELDS[3:] + LINK_FIELDS[1:] + ("top1_loss_pts",):
        text = raw.get(key, "")
        if key in ("top1_pct", "top1_loss_pts") and text == "":
            rec[key] = None
            continue
        try:
            rec[key] = float(text)
        except ValueError:
            raise RefimplError(f"{source}: row {n}: {key} {text!r} is not a number") from None
    return rec


def _check_derived(raw: dict, rec: dict, n: int, source: str):
    tx = rec["bits_per_frame"] / (rec["rate_mbps"] * MBPS)
    e_tx = rec["radio_power_mw"] * 1e-3 * tx
    want = {"tx_latency_s": tx, "tx_energy_j": e_tx,
            "throughput_fps": 1.0 / max(rec["edge_latency_s"], rec["encode_latency_s"] + tx),
            "energy_per_frame_j": rec["edge_energy_j"] + rec["encode_energy_j"] + e_tx}
    for key, value in want.items():
        if key in raw and raw[key] != "":
            try:
                got = float(raw[key])
            except ValueError:
                raise RefimplError(f"{source}: row {n}: {key} {raw[key]!r} is not a number") from None
            if not math.isclose(got, value, rel_tol=DERIVED_RTOL, abs_tol=1e-300):
                raise RefimplError(f"{source}: row {n}: {key} {got:g} disagrees with the row's own figures "
                                   f"({value:.12g}); delete the derived columns or fix them")


def _build(rows, source: str) -> Table:
    points, links = {}, {}
    exact = [r["top1_pct"] for r in rows if r["codec"] in EXACT_CODECS and r["top1_pct"] is not None]
    unsplit = max(exact) if exact else None
    for n, r in enumerate(rows, start=1):
        where = f"{source}: row {n} ({r['layer']}/{r['codec']})"
        for key in POINT_FIELDS[3:] + LINK_FIELDS[1:] + ("top1_loss_pts",):
            v = r.get(key)
            if v is None and key in ("top1_pct", "top1_loss_pts"):
                continue
            if not isinstance(v, (int, float)) or not math.isfinite(v):
                raise RefimplError(f"{where}: {key} {v!r} is not a finite number")
            if key == "top1_pct" and not 0 <= v <= 100:
                raise RefimplError(f"{where}: top1_pct {v:g} is not a percentage (0..100)")
            if key in ("rate_mbps",) and v <= 0:
                raise RefimplError(f"{where}: rate_mbps {v:g} must be > 0")
            if v < 0 and key != "top1_loss_pts":
                raise RefimplError(f"{where}: {key} {v:g} must be >= 0")
        if r["edge_latency_s"] <= 0 and r["encode_latency_s"] + r["bits_per_frame"] <= 0:
            raise RefimplError(f"{where}: a point with no latency in either stage has no finite frame rate")
        qf = r["qf"]
        if qf is not None and not (isinstance(qf, int) and 1 <= qf <= 100):
            raise RefimplError(f"{where}: qf {qf!r} must be an integer 1..100")
        top1 = None if r["top1_pct"] is None else float(r["top1_pct"])
        loss = expected_loss(r["codec"], qf, top1, unsplit)
        given = r.get("top1_loss_pts")
        if given is not None:
            measured = top1 is not None and unsplit is not None
            if measured and not math.isclose(given, loss, rel_tol=DERIVED_RTOL, abs_tol=1e-9):
                raise RefimplError(f"{where}: top1_loss_pts {given:g} disagrees with the expected loss {loss:g} "
                                   "(unsplit top-1 minus the row's)")
            if not measured:
                loss = float(given)
        p = Point(r["layer"], r["codec"], qf, *(float(r[k]) for k in POINT_FIELDS[3:8]), top1, loss,
                  str(r.get("stage") or ""))
        if p.name in points and points[p.name] != p:
            raise RefimplError(f"{where}: point {p.name} has other figures in an earlier row (the edge's "
                               "figures do not depend on the link)")
        points.setdefault(p.name, p)
        l = Link(str(r["link"]), float(r["rate_mbps"]), float(r["radio_power_mw"]))
        if l.name in links and links[l.name] != l:
            raise RefimplError(f"{where}: link {l.name} has another rate or power in an earlier row")
        links.setdefault(l.name, l)
    rates = sorted(l.rate_mbps for l in links.values())
    if len(set(rates)) != len(rates):
        raise RefimplError(f"{source}: two link modes share a rate (the power model needs one power per rate)")
    return Table(tuple(points.values()), tuple(sorted(links.values(), key=lambda l: l.rate_mbps)), source)
