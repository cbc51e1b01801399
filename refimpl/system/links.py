"""Radio links as data: a TOML file per link mode (refimpl/links/*.toml).

A link is a data rate and the power drawn while sending at it; the model
sends every bit of a frame at ``rate_mbps`` (1 Mbps = 1e6 bit/s) drawing
``power_mw``, so
    transmit latency (s) = bits / (rate_mbps * 1e6)
    transmit energy  (J) = power_mw * 1e-3 * latency
    energy per bit  (nJ) = power_mw / rate_mbps.
Keys: name, description, source (strings), rate_mbps, power_mw (numbers > 0).
Unknown, missing, non-numeric, NaN, infinite or non-positive values are one
line naming the file and the key.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources

from ..errors import RefimplError
from ..profile import read_shipped_toml

DEFAULT_LINK = "redpine-2mbps"          # paper section 4.1: "we use a 2 Mbps mode as a default"
# accepted ranges: 1 bit/s .. 1 Tbit/s, 1 nW .. 1 kW (finite, positive: every latency and energy stays finite)
LIMITS = {"rate_mbps": (1e-6, 1e6, "Mbps"), "power_mw": (1e-6, 1e6, "mW")}


@dataclass(frozen=True)
class Link:
    name: str
    description: str
    rate_mbps: float           # 1e6 bits per second
    power_mw: float            # while transmitting
    source: str = ""

    @property
    def nj_per_bit(self) -> float:
        """Radio energy per bit in nJ (mW / Mbps = 1e-3 J/s / 1e6 bit/s = 1e-9 J/bit)."""
        return self.power_mw / self.rate_mbps

    def tx_latency_s(self, bits: float) -> float:
        return bits / (self.rate_mbps * 1e6)

    def tx_energy_j(self, bits: float) -> float:
        return self.power_mw * 1e-3 * self.tx_latency_s(bits)

    def record(self) -> dict:
        return dict(link=self.name, rate_mbps=self.rate_mbps, power_mw=self.power_mw,
                    nj_per_bit=self.nj_per_bit, link_source=self.source)


def check_value(where: str, key: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RefimplError(f"{where}: key '{key}' must be a number, got {value!r}")
    if not math.isfinite(value):
        raise RefimplError(f"{where}: key '{key}' must be a finite number, got {value!r}")
    lo, hi, unit = LIMITS[key]
    if value <= 0:
        raise RefimplError(f"{where}: key '{key}' must be > 0, got {value!r}")
    if not lo <= value <= hi:
        raise RefimplError(f"{where}: key '{key}' = {value!r} is outside the accepted range {lo:g}..{hi:g} ({unit})")
    return float(value)


def parse_link(doc: dict, where: str) -> Link:
    known = ("name", "description", "source", "rate_mbps", "power_mw")
    for key in doc:
        if key not in known:
            raise RefimplError(f"{where}: unknown key '{key}' (keys: {', '.join(known)})")
    for key in known:
        if key not in doc:
            raise RefimplError(f"{where}: missing key '{key}'")
    for key in ("name", "description", "source"):
        if not isinstance(doc[key], str):
            raise RefimplError(f"{where}: key '{key}' must be a string, got {doc[key]!r}")
    return Link(name=doc["name"], description=doc["description"], source=doc["source"],
                rate_mbps=check_value(where, "rate_mbps", doc["rate_mbps"]),
                power_mw=check_value(where, "power_mw", doc["power_mw"]))


def shipped_links() -> list:
    return sorted(p.name[:-5] for p in (resources.files("refimpl") / "links").iterdir() if p.name.endswith(".toml"))


def load_link(name_or_path: str = DEFAULT_LINK) -> Link:
    """A shipped link by name, or a TOML file by path."""
    doc, where = read_shipped_toml(name_or_path, "links", "link", shipped_links, "link file")
    return parse_link(doc, where)


def make_link(rate_mbps: float, power_mw: float, name: str = "") -> Link:
    """A link from two numbers (the Fig. 12 grid, the adaptive controller), checked as a file would be."""
    where = name or "link"
    return Link(name=name or f"{rate_mbps:g}Mbps-{power_mw:g}mW", description="", source="given",
                rate_mbps=check_value(where, "rate_mbps", rate_mbps), power_mw=check_value(where, "power_mw", power_mw))
