"""Engine profiles: the hardware description, kept apart from the network.

A profile is a TOML file (see refimpl/profiles/paper-28nm.toml, the default).
Key names carry their units.  Every key is required; unknown keys, missing
keys, wrong types, NaN and infinities, non-positive sizes and values outside
the accepted range of their key (LIMITS) are rejected with one line naming
the file and the key.
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path

from .errors import RefimplError

if sys.version_info >= (3, 11):
    import tomllib
else:                                   # pragma: no cover - Python 3.10
    import tomli as tomllib

DEFAULT_PROFILE = "paper-28nm"


@dataclass(frozen=True)
class ArraySpec:
    macs: int
    rows: int                  # output channels in parallel
    cols: int                  # output pixels in parallel
    word_bits: int
    clock_mhz: float


@dataclass(frozen=True)
class BufferSpec:
    feature_kib: float
    weight_kib: float
    banks: int
    double_buffered: bool
    features_in_dram: bool     # layer inputs/outputs go through DRAM (else they stay in on-chip storage)


@dataclass(frozen=True)
class DramSpec:
    gbps: float                # GB/s (1e9 bytes per second)
    access_bits: int
    e_access_pj: float


@dataclass(frozen=True)
class EnergySpec:
    e_mac_pj: float
    e_buffer_read_pj: float    # per 16-bit word
    e_buffer_write_pj: float
    e_register_pj: float
    static_mw: float


@dataclass(frozen=True)
class JpegSpec:
    encoder_pixels_per_cycle: float
    encoder_pj_per_pixel: float
    decoder_pixels_per_cycle: float
    decoder_pj_per_pixel: float
    weight_compression: float
    lossless_values_per_cycle: float   # feature lossless coder (split.lossless), both passes
    lossless_pj_per_value: float


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    array: ArraySpec
    buffer: BufferSpec
    dram: DramSpec
    energy: EnergySpec
    jpeg: JpegSpec
    source: str = ""

    @property
    def clock_hz(self) -> float:
        return self.array.clock_mhz * 1e6

    @property
    def dram_bytes_per_cycle(self) -> float:
        return self.dram.gbps * 1e9 / self.clock_hz

    @property
    def feature_words(self) -> int:
        """16-bit words in one ping-pong half of the feature buffer (all when not double-buffered)."""
        return int(self.buffer.feature_kib * 1024 // 2 // (2 if self.buffer.double_buffered else 1))

    @property
    def weight_words(self) -> int:
        return int(self.buffer.weight_kib * 1024 // 2 // (2 if self.buffer.double_buffered else 1))


SECTIONS = {"array": ArraySpec, "buffer": BufferSpec, "dram": DramSpec, "energy": EnergySpec, "jpeg": JpegSpec}

# Accepted range of every numeric key: (low, high, low may be equal, unit).  Wide enough
# for any real engine (1 kHz..100 GHz clocks, 1 kB/s..1 PB/s DRAM, up to 1 mJ per
# operation, 1 TiB buffers) and narrow enough that every cycle and energy count stays
# finite and below 2**63 = 9.2e18: the worst case, VGG-16's 277 MB of weights plus its
# feature traffic over 1 kB/s DRAM at a 100 GHz clock (1e-8 bytes per cycle), is 1.2e17
# cycles and 1.2e24 pJ with every energy at 1e9 pJ (tests/test_profile.py runs every
# shipped network on profiles at both ends of these ranges).
# Zero is allowed for energies and power only (a model without leakage, say).
_ENERGY = (0.0, 1e9, True, "pJ")
LIMITS = {
    "macs": (1, 1 << 20, True, "MAC units"), "rows": (1, 1 << 20, True, "MACs"), "cols": (1, 1 << 20, True, "MACs"),
    "word_bits": (1, 64, True, "bits"), "clock_mhz": (1e-3, 1e5, True, "MHz"),
    "feature_kib": (0.0, 1 << 30, False, "KiB"), "weight_kib": (0.0, 1 << 30, False, "KiB"),
    "banks": (1, 1 << 16, True, "banks"),
    "gbps": (1e-6, 1e6, True, "GB/s"), "access_bits": (1, 4096, True, "bits"), "e_access_pj": _ENERGY,
    "e_mac_pj": _ENERGY, "e_buffer_read_pj": _ENERGY, "e_buffer_write_pj": _ENERGY, "e_register_pj": _ENERGY,
    "static_mw": (0.0, 1e9, True, "mW"),
    "encoder_pixels_per_cycle": (1e-6, 1e6, True, "pixels per cycle"), "encoder_pj_per_pixel": _ENERGY,
    "decoder_pixels_per_cycle": (1e-6, 1e6, True, "pixels per cycle"), "decoder_pj_per_pixel": _ENERGY,
    "lossless_values_per_cycle": (1e-6, 1e6, True, "values per cycle"), "lossless_pj_per_value": _ENERGY,
    "weight_compression": (0.0, 1e6, False, "ratio"),           # and >= 1.0, checked below
}


def _field(where: str, key: str, value, typ):
    if typ == "bool":
        if not isinstance(value, bool):
            raise RefimplError(f"{where}: key '{key}' must be true or false, got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RefimplError(f"{where}: key '{key}' must be a number, got {value!r}")
    if typ == "int" and not isinstance(value, int):
        raise RefimplError(f"{where}: key '{key}' must be an integer, got {value!r}")
    if not math.isfinite(value):
        raise RefimplError(f"{where}: key '{key}' must be a finite number, got {value!r}")
    lo, hi, lo_ok, unit = LIMITS[key.split(".")[-1]]
    if value < 0 or (value == 0 and lo == 0 and not lo_ok):
        raise RefimplError(f"{where}: key '{key}' must be {'>= 0' if lo_ok and lo == 0 else '> 0'}, got {value!r}")
    if not (lo <= value <= hi) or (value == lo and not lo_ok):
        raise RefimplError(f"{where}: key '{key}' = {value!r} is outside the accepted range "
                           f"{lo:g}..{hi:g} ({unit})")
    return value


def parse_profile(doc: dict, where: str) -> Profile:
    """Profile from a parsed TOML document; ``where`` names the file in errors."""
    known = {"name", "description"} | set(SECTIONS)
    for key in doc:
        if key not in known:
            raise RefimplError(f"{where}: unknown key '{key}'")
    for key in ("name", "description"):
        if not isinstance(doc.get(key), str):
            raise RefimplError(f"{where}: missing key '{key}' (a string)")
    parts = {}
    for section, cls in SECTIONS.items():
        table = doc.get(section)
        if not isinstance(table, dict):
            raise RefimplError(f"{where}: missing section [{section}]")
        names = [f.name for f in fields(cls)]
        for key in table:
            if key not in names:
                raise RefimplError(f"{where}: unknown key '{section}.{key}'")
        values = {}
        for f in fields(cls):
            if f.name not in table:
                raise RefimplError(f"{where}: missing key '{section}.{f.name}'")
            values[f.name] = _field(where, f"{section}.{f.name}", table[f.name], f.type)
        parts[section] = cls(**values)
    a = parts["array"]
    if a.rows * a.cols != a.macs:
        raise RefimplError(f"{where}: key 'array.macs' = {a.macs} but rows x cols = {a.rows * a.cols}")
    if a.word_bits != 16:
        raise RefimplError(f"{where}: key 'array.word_bits' = {a.word_bits}; the numeric contract is 16-bit")
    if parts["jpeg"].weight_compression < 1.0:
        raise RefimplError(f"{where}: key 'jpeg.weight_compression' must be >= 1.0")
    return Profile(name=doc["name"], description=doc["description"], source=where, **parts)


def shipped_profiles() -> list:
    """Names of the profiles shipped in refimpl/profiles, sorted."""
    return sorted(p.name[:-5] for p in (resources.files("refimpl") / "profiles").iterdir() if p.name.endswith(".toml"))


def read_shipped_toml(name_or_path: str, folder: str, kind: str, shipped_names, unreadable: str) -> tuple:
    """(TOML document, where) of a shipped ``refimpl/<folder>/<name>.toml`` by name, or of a
    .toml file by path; one-line RefimplError naming the file or the unknown ``kind`` name
    (profiles here, links in refimpl/system/links.py)."""
    path = Path(name_or_path)
    if path.suffix != ".toml" and not path.exists():
        shipped = resources.files("refimpl") / folder / f"{name_or_path}.toml"
        if not shipped.is_file():
            raise RefimplError(f"unknown {kind} '{name_or_path}' (shipped: {', '.join(shipped_names())}; "
                               "or give a .toml path)")
        text, where = shipped.read_text(), f"{kind} {name_or_path}"
    else:
        try:
            text, where = path.read_text(), str(path)
        except FileNotFoundError:
            raise RefimplError(f"{path}: no such {kind} file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise RefimplError(f"{path}: unreadable {unreadable} ({exc})") from None
    try:
        return tomllib.loads(text), where
    except tomllib.TOMLDecodeError as exc:
        raise RefimplError(f"{where}: not valid TOML ({exc})") from None


def load_profile(name_or_path: str = DEFAULT_PROFILE) -> Profile:
    """A shipped profile by name, or a TOML file by path."""
    doc, where = read_shipped_toml(name_or_path, "profiles", "profile", shipped_profiles, "profile")
    return parse_profile(doc, where)
