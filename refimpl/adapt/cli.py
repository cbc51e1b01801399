"""``refimpl adapt``: the adaptive controller and its baselines on a channel trace.

Parsing and printing only; the work is in traces, points, controller, simulate
and plot.  refimpl/cli.py calls ``add_parser`` and nothing else.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from ..errors import RefimplError
from ..fileio import atomic_write
from ..report import clean
from . import controller, points, simulate, traces
from .estimator import DEFAULT_WINDOW

DEFAULT_FPS = 30.0              # "a typical frame rate of 30 frames/sec" (paper section 3.2)
MAX_FPS = 10_000.0
MAX_FRAMES = 20_000_000         # frame log memory bound (about 1.3 GB of arrays): duration x fps
PLOT_NAME = "adapt.png"


def _positive(kind, what, lo=None, hi=None, allow_zero=False):
    def parse(text):
        try:
            v = kind(text)
        except ValueError:
            raise RefimplError(f"adapt: {what} {text!r} is not a{'n integer' if kind is int else ' number'}") from None
        if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
            raise RefimplError(f"adapt: {what} {text} must be {'>= 0' if allow_zero else '> 0'}")
        if hi is not None and v > hi:
            raise RefimplError(f"adapt: {what} {text} exceeds {hi:g}")
        return v
    return parse


def add_parser(sub):
    p = sub.add_parser(
        "adapt", help="adaptive partition + QF controller on a channel trace, against static and oracle baselines",
        description="Simulate the edge's two-stage pipeline (inference; encoder + radio) frame by frame on a "
                    "channel trace with a camera at F frames/s, under the adaptive controller (picks the partition "
                    "layer, codec and QF before each frame from the rate it has measured) and four baselines: the "
                    "paper's static design (conv5 at the 1%-loss QF), the best static point for the trace's mean "
                    "rate, partition-only (raw features, layer re-picked per frame) and an oracle that knows each "
                    "frame's rate.  Reports delivered frames/s, latency p50/p99, drops, energy per frame, mean "
                    "expected top-1 and the share of time at each point.")
    p.add_argument("--trace", required=True, metavar="FILE|ge:...|walk:...|steps:...",
                   help="a CSV (time_s,rate_mbps[,power_mw]) or a seeded generator: ge:good=22,bad=1,dwell_good_s=5,"
                        "dwell_bad_s=2,duration_s=60,seed=0 | walk:lo=1,hi=22,start=2,sigma=1,dt_s=0.1,duration_s=60,"
                        "seed=0 | steps:rates=1/2/22,dwell_s=5,duration_s=60,seed=0,order=random|cycle "
                        "(every key optional; these are the defaults)")
    p.add_argument("--points", metavar="FILE.csv",
                   help="operating-point table (README 'Adaptive controller': one row per point and link mode); "
                        "default: built from the system model with --network, --profile, --ratios, --links")
    p.add_argument("--network", default="alexnet", help="system model: network (default alexnet)")
    p.add_argument("--profile", default="paper-28nm", help="system model: engine profile (default paper-28nm)")
    p.add_argument("--ratios", default=None, help="system model: ratio table FILE, 'measured' (alexnet-cifar) or "
                                                  "'paper' (default: measured for alexnet-cifar, paper otherwise)")
    p.add_argument("--links", default=",".join(points.DEFAULT_LINKS),
                   help=f"system model: the link modes, comma-separated names or .toml files (default "
                        f"{','.join(points.DEFAULT_LINKS)}: the paper's 1, 2 and 22 Mbps modes)")
    p.add_argument("--write-points", metavar="FILE.csv", help="also write the operating-point table used")
    p.add_argument("--fps", type=_positive(float, "--fps", hi=MAX_FPS), default=DEFAULT_FPS,
                   help=f"camera frame rate, frames/s (default {DEFAULT_FPS:g})")
    p.add_argument("--accuracy-floor", type=_positive(float, "--accuracy-floor", hi=100, allow_zero=True),
                   metavar="A", help="least expected top-1 in %% (default: the unsplit model's minus 1 point; "
                        "needs a table with the unsplit top-1)")
    p.add_argument("--energy-budget-mj", type=_positive(float, "--energy-budget-mj", hi=1e9), metavar="E",
                   help="most energy per frame, mJ (inference + encoder + radio; default: none)")
    p.add_argument("--queue", type=_positive(int, "--queue", hi=1_000_000), default=simulate.DEFAULT_QUEUE_DEPTH,
                   help=f"camera queue depth, frames waiting for inference (default {simulate.DEFAULT_QUEUE_DEPTH})")
    p.add_argument("--hysteresis", type=_positive(float, "--hysteresis", hi=10, allow_zero=True),
                   default=controller.DEFAULT_HYSTERESIS,
                   help=f"relative margin a new point must win by (default {controller.DEFAULT_HYSTERESIS:g})")
    p.add_argument("--prefer", default="accuracy", choices=controller.PREFER,
                   help="when several points keep up with the camera: the least top-1 loss (accuracy, default) "
                        "or the least energy per frame (energy)")
    p.add_argument("--window", type=_positive(int, "--window", hi=10_000), default=DEFAULT_WINDOW,
                   help=f"frames in the harmonic-mean rate estimate (default {DEFAULT_WINDOW})")
    p.add_argument("--format", default="table", choices=("table", "json"), help="table (default) or json")
    p.add_argument("--plot", metavar="DIR", help=f"write DIR/{PLOT_NAME}: trace, layer and QF over time, queue")
    p.add_argument("--write-trace", metavar="FILE.csv", help="also write the trace (generated or read) as CSV")
    p.set_defaults(func=run)
    return p


def _table_text(result: dict) -> str:
    from tabulate import tabulate
    s = result["settings"]
    lines = [f"trace {s['trace']}: {s['duration_s']:g} s, mean rate {s['mean_rate_mbps']:.3f} Mbps; "
             f"camera {s['fps']:g} frames/s, queue {s['queue_depth']} frames",
             f"points {s['points']} ({s['n_points']} points, links "
             + ", ".join(f"{l['name']} {l['rate_mbps']:g} Mbps {l['power_mw']:g} mW" for l in s["links"]) + ")",
             f"accuracy floor: top-1 loss <= {s['max_top1_loss_pts']:g} points against the unsplit model"
             + ("" if s["accuracy_floor_pct"] is None else f" (top-1 >= {s['accuracy_floor_pct']:g} %)")
             + ", energy budget " + ("none" if s["energy_budget_mj"] is None else f"{s['energy_budget_mj']:g} mJ")
             + f", hysteresis {s['hysteresis']:g}, ties at the camera rate: {s['prefer']}, "
             f"estimator: harmonic mean of the last {s['window']} frames"]
    head = ["policy", "delivered fps", "vs oracle %", "dropped", "p50 ms", "p99 ms", "mJ/frame", "top-1 loss pts",
            "switches", "time at points (top 3)"] + (["over budget"] if s["energy_budget_mj"] is not None else [])
    rows = []
    for r in result["policies"]:
        share = ", ".join(f"{k} {v * 100:.0f}%" for k, v in list(r["share_of_time"].items())[:3])
        f = lambda v, d: "-" if v is None else f"{v:.{d}f}"
        rows.append([r["policy"], f(r["delivered_fps"], 2), f(r["fps_vs_oracle_pct"], 1), r["dropped_frames"],
                     f(r["latency_p50_ms"], 1), f(r["latency_p99_ms"], 1), f(r["energy_per_frame_mj"], 3),
                     f(r["mean_top1_loss_pts"], 2), r["switches"], share]
                    + ([r["frames_over_budget"]] if "frames_over_budget" in r else []))
    return "\n".join(lines) + "\n" + tabulate(rows, head, disable_numparse=True)


def run(args) -> int:
    trace = traces.from_spec(args.trace)
    if trace.duration_s * args.fps > MAX_FRAMES:
        raise RefimplError(f"adapt: {trace.duration_s:g} s at {args.fps:g} frames/s is more than {MAX_FRAMES} frames")
    if args.points:
        table = points.read_csv(args.points)
    else:
        names = [n.strip() for n in args.links.split(",") if n.strip()]
        if not names:
            raise RefimplError("adapt: --links needs at least one link mode")
        table = points.from_system(args.network, args.profile, args.ratios, names)
    max_loss = controller.max_loss_pts(table, args.accuracy_floor)
    budget_j = None if args.energy_budget_mj is None else args.energy_budget_mj * 1e-3
    if args.plot and Path(args.plot).exists() and not Path(args.plot).is_dir():
        raise RefimplError(f"{args.plot}: exists and is not a folder (--plot takes a folder)")
    result, runs = simulate.compare(table, trace, args.fps, args.queue, max_loss, budget_j, args.hysteresis,
                                    args.window, args.prefer)
    if args.write_trace:
        atomic_write(args.write_trace, traces.to_csv(trace).encode())
    if args.write_points:
        atomic_write(args.write_points, points.to_csv(table).encode())
    if args.plot:
        from .plot import plot_runs
        Path(args.plot).mkdir(parents=True, exist_ok=True)
        plot_runs(Path(args.plot) / PLOT_NAME, table, trace, runs,
                  f"{trace.source}, camera {args.fps:g} fps, top-1 loss <= {max_loss:g} points")
    if args.format == "json":
        print(json.dumps(clean(result), indent=1))
    else:
        print(_table_text(result))
    return 0
