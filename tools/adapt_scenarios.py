"""The README's "Adaptive controller" tables: refimpl adapt on seeded traces, as markdown.

    python tools/adapt_scenarios.py [--network alexnet] [--profile paper-28nm] [--ratios paper]
                                    [--seeds 10] [--plot DIR]

Per scenario (trace x camera rate) one table of every policy (the same
numbers ``refimpl adapt --trace SPEC --fps F --format json`` prints), then,
over ``--seeds`` seeds of each trace, the controller's and each baseline's
delivered frames/s in % of the oracle's (mean and worst seed).
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from refimpl.adapt import controller, points, simulate, traces  # noqa: E402

TRACES = {"Gilbert-Elliott": "ge:good=22,bad=1,dwell_good_s=5,dwell_bad_s=2,duration_s=60,seed={seed}",
          "random walk": "walk:lo=1,hi=22,start=2,sigma=1,dt_s=0.1,duration_s=60,seed={seed}"}
CAMERAS = (30.0, 120.0)


def _f(v, d):
    return "-" if v is None else f"{v:,.{d}f}"


def scenario_table(result) -> str:
    over = result["settings"]["energy_budget_mj"] is not None
    lines = ["| policy | delivered fps | vs oracle | dropped / captured | latency p50 (ms) | p99 (ms) | "
             "energy per frame (mJ) | mean top-1 loss (points) | switches | share of time |"
             + (" frames over budget |" if over else ""),
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |" + (" ---: |" if over else "")]
    for r in result["policies"]:
        share = ", ".join(f"{k} {v * 100:.0f} %" for k, v in list(r["share_of_time"].items())[:3])
        lines.append(f"| {r['policy']} | {_f(r['delivered_fps'], 2)} | {_f(r['fps_vs_oracle_pct'], 1)} % | "
                     f"{r['dropped_frames']:,} / {r['captured_frames']:,} | {_f(r['latency_p50_ms'], 1)} | "
                     f"{_f(r['latency_p99_ms'], 1)} | {_f(r['energy_per_frame_mj'], 3)} | "
                     f"{_f(r['mean_top1_loss_pts'], 2)} | {r['switches']} | {share} |"
                     + (f" {r['frames_over_budget']:,} |" if over else ""))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--network", default="alexnet")
    ap.add_argument("--profile", default="paper-28nm")
    ap.add_argument("--ratios", default=None)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1, help="seed of the per-scenario tables")
    ap.add_argument("--energy-budget-mj", type=float, default=None)
    ap.add_argument("--prefer", default="accuracy", choices=controller.PREFER)
    ap.add_argument("--cameras", default=",".join(f"{c:g}" for c in CAMERAS), help="camera rates, frames/s")
    ap.add_argument("--no-tables", action="store_true", help="the seed summary only")
    ap.add_argument("--plot", help="folder for one PNG per scenario")
    args = ap.parse_args()
    table = points.from_system(args.network, args.profile, args.ratios)
    budget = None if args.energy_budget_mj is None else args.energy_budget_mj * 1e-3
    cameras = [float(c) for c in args.cameras.split(",")]
    print(f"points: {table.source}, {len(table.points)} points; ties: {args.prefer}"
          + ("" if budget is None else f"; energy budget {args.energy_budget_mj:g} mJ") + "\n")
    for label, spec in TRACES.items():
        if args.no_tables:
            break
        trace = traces.from_spec(spec.format(seed=args.seed))
        for fps in cameras:
            result, runs = simulate.compare(table, trace, fps, budget_j=budget, prefer=args.prefer,
                                            max_loss_pts=controller.DEFAULT_LOSS_PTS)
            print(f"**{label}**, `{trace.source}` (mean {trace.mean_rate_mbps():.2f} Mbps), camera {fps:g} "
                  f"frames/s:\n")
            print(scenario_table(result) + "\n")
            if args.plot:
                from refimpl.adapt.plot import plot_runs
                Path(args.plot).mkdir(parents=True, exist_ok=True)
                kind = spec.split(":")[0]
                plot_runs(Path(args.plot) / f"adapt-{kind}-{fps:g}fps.png", table, trace, runs,
                          f"{trace.source}, camera {fps:g} fps")
    print(f"Delivered frames/s in % of the oracle's over seeds 0..{args.seeds - 1} (mean, worst seed):\n")
    names = None
    rows = []
    for label, spec in TRACES.items():
        for fps in cameras:
            per = {}
            for seed in range(args.seeds):
                result, _ = simulate.compare(table, traces.from_spec(spec.format(seed=seed)), fps, budget_j=budget,
                                             prefer=args.prefer)
                for r in result["policies"]:
                    per.setdefault(r["policy"], []).append(r["fps_vs_oracle_pct"])
            names = names or [n for n in per if n != "oracle"]
            rows.append(f"| {label} | {fps:g} | " + " | ".join(
                f"{sum(per[n]) / len(per[n]):.1f} % ({min(per[n]):.1f} %)" for n in names) + " |")
    print("| trace | camera (fps) | " + " | ".join(names) + " |")
    print("| --- | ---: | " + " | ".join("---:" for _ in names) + " |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
