"""Channel traces: the link rate over time, read from CSV or generated from a seed.

A trace is a list of rows ``(time_s, rate_mbps[, power_mw])`` with strictly
increasing times.  Row i's rate (and radio power) holds on ``[t_i, t_{i+1})``:
sample and hold, as a link reports its PHY rate.  The last row marks the end of
the trace (its time is the duration, counted from the first row's time, which
becomes 0); its rate holds beyond the end only to finish frames already on the
air, which are not counted as delivered.

Units: time in s, rate in Mbps (1e6 bit/s), power in mW.  Without a power
column the radio power comes from the link modes of the operating-point table
(``points.radio_power_mw``).

Spec strings (seeded, ``numpy.random.default_rng(seed)``):

* ``ge:good=22,bad=1,dwell_good_s=5,dwell_bad_s=2,duration_s=60,seed=0`` --
  Gilbert-Elliott two-state channel in continuous time: the dwell in each
  state is exponential with the stated mean; starts in the good state.
* ``walk:lo=1,hi=22,start=2,sigma=1,dt_s=0.1,duration_s=60,seed=0`` -- bounded
  random walk: every ``dt_s`` the rate moves by N(0, sigma^2) Mbps, reflected
  at ``lo`` and ``hi``.
* ``steps:rates=1/2/22,dwell_s=5,duration_s=60,seed=0,order=random`` -- steps
  between the paper's modes: every ``dwell_s`` the rate jumps to another rate
  of the list (``order=random``: drawn uniformly from the others;
  ``order=cycle``: the list in order, repeated).
"""
from __future__ import annotations

import csv
import functools
import io
import math
from dataclasses import dataclass

import numpy as np

from ..errors import RefimplError

MBPS = 1e6                      # bit/s per Mbps
MAX_RATE_MBPS = 1e5             # 100 Gbps: anything above is a unit mistake
MAX_POWER_MW = 1e6              # 1 kW
MAX_ROWS = 10_000_000
HEADER = ("time_s", "rate_mbps")
POWER_COLUMN = "power_mw"


@dataclass(frozen=True)
class Trace:
    """time_s (n,) strictly increasing from 0; rate_mbps (n,) > 0; power_mw (n,) >= 0 or None."""

    time_s: np.ndarray
    rate_mbps: np.ndarray
    power_mw: np.ndarray | None
    source: str

    @property
    def duration_s(self) -> float:
        return float(self.time_s[-1])

    def mean_rate_mbps(self) -> float:
        """Time-weighted mean rate over [0, duration]."""
        return float(np.sum(self.rate_mbps[:-1] * np.diff(self.time_s)) / self.duration_s)

    def rate_at(self, t) -> np.ndarray:
        """Rate (Mbps) in force at time(s) t (sample and hold; the last row's rate past the end)."""
        i = np.clip(np.searchsorted(self.time_s, t, side="right") - 1, 0, len(self.time_s) - 1)
        return self.rate_mbps[i]

    @functools.cached_property
    def cumulative_bits(self) -> np.ndarray:
        """(n,) bits the link carries from 0 to each row time."""
        return _cumulative(self.time_s, self.rate_mbps * MBPS)

    @functools.cached_property
    def cumulative_energy_j(self) -> np.ndarray:
        """(n,) radio energy (J) of transmitting from 0 to each row time."""
        return _cumulative(self.time_s, self.power_mw * 1e-3)

    def with_power(self, power_of_rate) -> "Trace":
        """This trace with ``power_mw`` filled by ``power_of_rate(rate_mbps)`` when it has none."""
        if self.power_mw is not None:
            return self
        return Trace(self.time_s, self.rate_mbps, np.asarray(power_of_rate(self.rate_mbps), float), self.source)


def _cumulative(time_s, value):
    """Integral of the sample-and-hold ``value`` at each row time: (n,) float64."""
    return np.concatenate([[0.0], np.cumsum(value[:-1] * np.diff(time_s))])


def bits_at(trace: Trace, t) -> np.ndarray:
    """Bits the link can carry from time 0 to t (s): the integral of rate."""
    return _integral_at(trace.time_s, trace.rate_mbps * MBPS, trace.cumulative_bits, t)


def energy_at(trace: Trace, t) -> np.ndarray:
    """Radio energy (J) drawn while transmitting from 0 to t: the integral of power."""
    return _integral_at(trace.time_s, trace.power_mw * 1e-3, trace.cumulative_energy_j, t)


def _integral_at(time_s, value, cum, t):
    t = np.asarray(t, float)
    i = np.clip(np.searchsorted(time_s, t, side="right") - 1, 0, len(time_s) - 1)
    return cum[i] + value[i] * (t - time_s[i])


def time_of_bits(trace: Trace, bits) -> np.ndarray:
    """Earliest time (s) at which ``bits_at`` reaches ``bits`` (the inverse of bits_at)."""
    rate = trace.rate_mbps * MBPS
    cum = trace.cumulative_bits
    bits = np.asarray(bits, float)
    i = np.clip(np.searchsorted(cum, bits, side="right") - 1, 0, len(cum) - 1)
    return trace.time_s[i] + (bits - cum[i]) / rate[i]


# ---------------------------------------------------------------- validation and CSV
def make_trace(time_s, rate_mbps, power_mw=None, source="trace") -> Trace:
    """Validated Trace; RefimplError naming ``source`` and the row (1-based data rows) at fault."""
    t = np.asarray(time_s, float)
    r = np.asarray(rate_mbps, float)
    p = None if power_mw is None else np.asarray(power_mw, float)
    if t.ndim != 1 or len(t) < 2:
        raise RefimplError(f"{source}: a trace needs at least 2 rows (the last row marks its end), got {t.size}")
    for name, v, lo, hi in (("time_s", t, -math.inf, math.inf), ("rate_mbps", r, 0.0, MAX_RATE_MBPS),
                            ("power_mw", p, 0.0, MAX_POWER_MW)):
        if v is None:
            continue
        bad = np.flatnonzero(~np.isfinite(v))
        if bad.size:
            raise RefimplError(f"{source}: row {bad[0] + 1}: {name} {v[bad[0]]} is not a finite number")
        if name == "rate_mbps":
            bad = np.flatnonzero(v <= 0)
            if bad.size:
                raise RefimplError(f"{source}: row {bad[0] + 1}: rate_mbps {v[bad[0]]:g} must be > 0 "
                                   f"(a rate is in Mbps; give an outage as the lowest rate the link holds)")
        if name == "power_mw":
            bad = np.flatnonzero(v < 0)
            if bad.size:
                raise RefimplError(f"{source}: row {bad[0] + 1}: power_mw {v[bad[0]]:g} must be >= 0")
        bad = np.flatnonzero(v > hi)
        if bad.size:
            raise RefimplError(f"{source}: row {bad[0] + 1}: {name} {v[bad[0]]:g} exceeds {hi:g}")
    step = np.diff(t)
    bad = np.flatnonzero(step <= 0)
    if bad.size:
        k = bad[0]
        raise RefimplError(f"{source}: row {k + 2}: time_s {t[k + 1]:g} is not after the previous row's "
                           f"{t[k]:g} (times must be strictly increasing)")
    return Trace(t - t[0], r, p, source)


def read_text(path, what: str, limit: int = -1) -> str:
    """A CSV file's text (at most ``limit`` characters); one-line errors naming ``what``."""
    try:
        with open(path, newline="") as f:
            return f.read(limit)
    except UnicodeDecodeError:
        raise RefimplError(f"{path}: not a text CSV file") from None
    except OSError as exc:
        raise RefimplError(f"{path}: cannot read the {what} ({exc.strerror})") from None


def read_csv(path) -> Trace:
    """Read a trace CSV: header ``time_s,rate_mbps[,power_mw]``, then one row per sample."""
    return parse_csv(read_text(path, "trace", MAX_ROWS * 64), str(path))


def parse_csv(text: str, source: str) -> Trace:
    rows = [row for row in csv.reader(io.StringIO(text)) if row and any(c.strip() for c in row)]
    want = ",".join(HEADER)
    if not rows:
        raise RefimplError(f"{source}: empty trace file (expected the header {want}[,{POWER_COLUMN}] "
                           "and at least 2 rows)")
    header = tuple(c.strip().lower() for c in rows[0])
    if header not in (HEADER, HEADER + (POWER_COLUMN,)):
        raise RefimplError(f"{source}: header {','.join(rows[0])!r} is not {want} or {want},{POWER_COLUMN}")
    cols = len(header)
    values = np.empty((len(rows) - 1, cols))
    for n, row in enumerate(rows[1:]):
        if len(row) != cols:
            raise RefimplError(f"{source}: row {n + 1}: {len(row)} fields, the header has {cols}")
        for c, cell in enumerate(row):
            try:
                values[n, c] = float(cell)
            except ValueError:
                raise RefimplError(f"{source}: row {n + 1}: {header[c]} {cell.strip()!r} is not a number") from None
    return make_trace(values[:, 0], values[:, 1], values[:, 2] if cols == 3 else None, source)


def to_csv(trace: Trace) -> str:
    """The trace as CSV text (repr floats: reading it back gives the same arrays)."""
    head = list(HEADER) + ([POWER_COLUMN] if trace.power_mw is not None else [])
    lines = [",".join(head)]
    for i in range(len(trace.time_s)):
        cells = [trace.time_s[i], trace.rate_mbps[i]] + ([trace.power_mw[i]] if trace.power_mw is not None else [])
        lines.append(",".join(repr(float(v)) for v in cells))
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- generators
def gilbert_elliott(good=22.0, bad=1.0, dwell_good_s=5.0, dwell_bad_s=2.0, duration_s=60.0, seed=0) -> Trace:
    """Two-state channel: exponential dwell times with the stated means, starting good."""
    rng = np.random.default_rng(seed)
    times, rates, t, state = [], [], 0.0, 0
    while t < duration_s:
        times.append(t)
        rates.append(good if state == 0 else bad)
        t += rng.exponential(dwell_good_s if state == 0 else dwell_bad_s)
        state ^= 1
    times.append(duration_s)
    rates.append(rates[-1])
    return make_trace(times, rates, source=f"ge:good={good:g},bad={bad:g},dwell_good_s={dwell_good_s:g},"
                                           f"dwell_bad_s={dwell_bad_s:g},duration_s={duration_s:g},seed={seed}")


def random_walk(lo=1.0, hi=22.0, start=2.0, sigma=1.0, dt_s=0.1, duration_s=60.0, seed=0) -> Trace:
    """Rate (Mbps) moving by N(0, sigma^2) every dt_s, reflected into [lo, hi]."""
    rng = np.random.default_rng(seed)
    n = int(math.floor(duration_s / dt_s + 1e-9))
    rates = np.empty(n + 1)
    rates[0] = min(max(start, lo), hi)
    steps = rng.normal(0.0, sigma, n)
    width = hi - lo
    for i in range(n):
        x = rates[i] + steps[i] - lo
        if width > 0:
            x = x % (2 * width)                         # reflection at both walls
            x = 2 * width - x if x > width else x
        else:
            x = 0.0
        rates[i + 1] = lo + x
    times = np.append(np.arange(n) * dt_s, duration_s)
    rates[n] = rates[n - 1] if n else rates[0]
    if n == 0:
        times, rates = np.array([0.0, duration_s]), np.array([rates[0], rates[0]])
    return make_trace(times, rates, source=f"walk:lo={lo:g},hi={hi:g},start={start:g},sigma={sigma:g},"
                                           f"dt_s={dt_s:g},duration_s={duration_s:g},seed={seed}")


def steps(rates=(1.0, 2.0, 22.0), dwell_s=5.0, duration_s=60.0, seed=0, order="random") -> Trace:
    """Piecewise-constant steps every dwell_s between the given rates."""
    rng = np.random.default_rng(seed)
    rates = [float(r) for r in rates]
    n = int(math.ceil(duration_s / dwell_s - 1e-9))
    seq, cur = [], 0
    for i in range(n):
        if i > 0:
            if order == "cycle":
                cur = (cur + 1) % len(rates)
            elif len(rates) > 1:
                others = [j for j in range(len(rates)) if j != cur]
                cur = others[int(rng.integers(len(others)))]
        seq.append(rates[cur])
    times = np.append(np.arange(n) * dwell_s, duration_s)
    return make_trace(times, seq + [seq[-1]],
                      source=f"steps:rates={'/'.join(f'{r:g}' for r in rates)},dwell_s={dwell_s:g},"
                             f"duration_s={duration_s:g},seed={seed},order={order}")


_GENERATORS = {
    "ge": (gilbert_elliott, {"good": float, "bad": float, "dwell_good_s": float, "dwell_bad_s": float,
                             "duration_s": float, "seed": int}),
    "walk": (random_walk, {"lo": float, "hi": float, "start": float, "sigma": float, "dt_s": float,
                           "duration_s": float, "seed": int}),
    "steps": (steps, {"rates": "rates", "dwell_s": float, "duration_s": float, "seed": int, "order": str}),
}
MAX_DURATION_S = 86_400.0       # a day of trace at most (memory of the frame log)


def _value(gen: str, key: str, kind, text: str):
    where = f"trace '{gen}:' {key}={text}"
    try:
        if kind == "rates":
            value = tuple(float(x) for x in text.split("/"))
            if not value or any(not math.isfinite(v) or v <= 0 or v > MAX_RATE_MBPS for v in value):
                raise ValueError
            return value
        if kind is str:
            if text not in ("random", "cycle"):
                raise RefimplError(f"{where}: unknown order (choose from: random, cycle)")
            return text
        value = kind(text)
    except ValueError:
        raise RefimplError(f"{where}: not a valid {'list of positive rates a/b/c' if kind == 'rates' else kind.__name__}") from None
    if kind is int:
        if value < 0:
            raise RefimplError(f"{where}: a seed must be >= 0")
        return value
    if not math.isfinite(value):
        raise RefimplError(f"{where}: not a finite number")
    if key == "sigma":
        if value < 0:
            raise RefimplError(f"{where}: must be >= 0")
    elif value <= 0:
        raise RefimplError(f"{where}: must be > 0")
    if key in ("good", "bad", "lo", "hi", "start") and value > MAX_RATE_MBPS:
        raise RefimplError(f"{where}: exceeds {MAX_RATE_MBPS:g} Mbps")
    if key == "duration_s" and value > MAX_DURATION_S:
        raise RefimplError(f"{where}: exceeds {MAX_DURATION_S:g} s")
    return value


def from_spec(spec: str) -> Trace:
    """A trace from ``FILE`` (CSV) or a generator spec ``ge:...``, ``walk:...``, ``steps:...``."""
    gen, sep, rest = spec.partition(":")
    if not sep or gen not in _GENERATORS:
        return read_csv(spec)
    func, kinds = _GENERATORS[gen]
    kwargs = {}
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, eq, text = item.partition("=")
        key = key.strip()
        if not eq:
            raise RefimplError(f"trace '{gen}:': '{item}' is not key=value (keys: {', '.join(kinds)})")
        if key not in kinds:
            raise RefimplError(f"trace '{gen}:': unknown key '{key}' (choose from: {', '.join(kinds)})")
        kwargs[key] = _value(gen, key, kinds[key], text.strip())
    if gen == "walk":
        lo, hi = kwargs.get("lo", 1.0), kwargs.get("hi", 22.0)
        if lo > hi:
            raise RefimplError(f"trace 'walk:': lo={lo:g} is above hi={hi:g}")
        if kwargs.get("duration_s", 60.0) / kwargs.get("dt_s", 0.1) > MAX_ROWS:
            raise RefimplError(f"trace 'walk:': more than {MAX_ROWS} steps (raise dt_s)")
    if gen == "ge" and kwargs.get("duration_s", 60.0) / min(kwargs.get("dwell_good_s", 5.0),
                                                          kwargs.get("dwell_bad_s", 2.0)) > MAX_ROWS / 4:
        raise RefimplError(f"trace 'ge:': duration_s / dwell times above {MAX_ROWS // 4} state changes (raise the dwells)")
    if gen == "steps" and kwargs.get("duration_s", 60.0) / kwargs.get("dwell_s", 5.0) > MAX_ROWS:
        raise RefimplError(f"trace 'steps:': more than {MAX_ROWS} steps (raise dwell_s)")
    return func(**kwargs)
