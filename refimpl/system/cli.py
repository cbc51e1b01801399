"""`refimpl system`: the system model per partition point, the sweep of Figs. 7-12, the fit.

refimpl/cli.py calls ``add_parser`` and nothing else; the command runs ``run``.
"""
from __future__ import annotations

import json
from pathlib import Path

from .. import networks, plotting
from ..errors import RefimplError, check_choice
from ..fileio import atomic_dir
from ..profile import load_profile
from ..weights import load as wload
from . import fit, links, pipeline, plots, ratios, report, stages, sweep

INDEX = "refimpl-system.json"          # the file list of a folder this command wrote
FORMATS = ("table", "csv", "json")
DEFAULT_SWEEP_PROFILES = "paper-28nm,paper-fit"
FIG7_COLUMNS = ["inference_latency_s", "encode_latency_s", "tx_latency_s", "stage2_latency_s", "bottleneck",
                "throughput_fps", "latency_s"]
FIG8_COLUMNS = ["energy_j", "frames_per_j"] + [f"energy_{p}_j" for p in pipeline.PARTS]


def add_parser(sub):
    p = sub.add_parser("system", help="edge system model: throughput and energy per partition point (paper Figs. 7-12)",
                       description="Per partition point of a network: inference, encoding and transmission latency "
                                   "and energy of the edge, pipeline throughput, energy breakdown; the best point "
                                   "and its improvement over host-only and edge-only.  --sweep writes every figure "
                                   "of the paper's section 4 as CSV and JSON (PNG with --plot).")
    p.add_argument("--network", default="alexnet", help="network (default alexnet)")
    p.add_argument("--profile", default=None,
                   help="engine profile name or .toml (default paper-28nm; --sweep: a comma list, "
                        f"default {DEFAULT_SWEEP_PROFILES})")
    p.add_argument("--link", default=links.DEFAULT_LINK,
                   help=f"link name or .toml (default {links.DEFAULT_LINK}; shipped: {', '.join(links.shipped_links())})")
    p.add_argument("--rate-mbps", type=float, default=None, help="override the link's rate (Mbps, > 0)")
    p.add_argument("--power-mw", type=float, default=None, help="override the link's transmit power (mW, > 0)")
    p.add_argument("--ratios", default=None,
                   help="ratio table: FILE (CSV), 'measured' (alexnet-cifar) or 'paper' "
                        "(default: measured for alexnet-cifar, paper otherwise)")
    p.add_argument("--codec", default="raw,lossless,jpeg,jpeg-ft",
                   help="feature codecs of the partitions, comma list (default all four)")
    p.add_argument("--points", default=None,
                   help="cut layers, comma list (default: the network's stages); host-only and edge-only always")
    p.add_argument("--weights", default=None, metavar="BUNDLE",
                   help="a weight bundle (refimpl weights compress): the edge moves its real per-layer DRAM bytes "
                        "and pays the weight decoder (default: the profile's weight_compression)")
    p.add_argument("--format", default="table", help="table, csv or json (default table)")
    p.add_argument("--plot", default=None, metavar="DIR", help="write PNG plots into DIR (needs the 'plot' extra)")
    p.add_argument("--show-ratios", action="store_true", help="print the ratio table used (CSV) and stop")
    p.add_argument("--sweep", action="store_true", help="run every figure (Figs. 7-12) and the claims; needs --out")
    p.add_argument("--out", default=None, metavar="DIR", help="output folder of --sweep (CSV and JSON)")
    p.add_argument("--force", action="store_true", help="replace an output folder holding files refimpl did not write")
    p.add_argument("--fit", action="store_true",
                   help="solve the paper-fit profile's four unknowns against the paper's headline ratios and print them")
    p.set_defaults(func=run)
    return p


def _link(args):
    link = links.load_link(args.link)
    if args.rate_mbps is None and args.power_mw is None:
        return link
    rate = link.rate_mbps if args.rate_mbps is None else args.rate_mbps
    power = link.power_mw if args.power_mw is None else args.power_mw
    where = "--rate-mbps/--power-mw"
    for key, v in (("rate_mbps", rate), ("power_mw", power)):
        links.check_value(where, key, v)
    return links.Link(f"{link.name} ({rate:g} Mbps, {power:g} mW)", link.description, rate, power,
                      f"{link.source}; overridden on the command line")


def _table(args, spec):
    choice = args.ratios or ("measured" if spec.name == "alexnet-cifar" else "paper")
    if choice == "measured":
        if spec.name != "alexnet-cifar":
            raise RefimplError(f"--ratios measured is the alexnet-cifar table; network {spec.name} takes "
                               "--ratios paper or FILE")
        return ratios.read_measured()
    if choice == "paper":
        if spec.name not in stages.STAGES:
            raise RefimplError(f"--ratios paper: no paper table for network {spec.name}")
        return ratios.paper_table(spec, ratios.read_measured(required=False))
    return ratios.read_table(choice)


def _owned(folder: Path):
    idx = folder / INDEX
    if not idx.is_file():
        return None
    try:
        return json.loads(idx.read_text())["files"] + [INDEX]
    except (ValueError, KeyError, TypeError, OSError):
        return None


def _write_folder(path, files: dict, force: bool, pngs=None):
    """files {name: text}; pngs(folder) -> [names] writes the plots inside the same atomic folder."""
    with atomic_dir(path, _owned, force) as tmp:
        for name, text in files.items():
            (tmp / name).write_text(text)
        names = list(files) + (pngs(tmp) if pngs else [])
        (tmp / INDEX).write_text(json.dumps(dict(written_by="refimpl system", files=names), indent=1) + "\n")
    return names


def _cost_options(args, spec) -> dict:
    """cost.network_cost options from --weights: a bundle's streams, or none."""
    if not args.weights:
        return {}
    streams = wload.weight_streams(args.weights, spec)
    if streams is None:
        raise RefimplError(f"--weights {args.weights}: refimpl system takes a weight bundle "
                           "(refimpl weights compress); float weights do not change the cost")
    return dict(weight_streams=streams)


def run(args) -> int:
    check_choice("format", args.format, FORMATS)
    if args.weights and (args.fit or args.sweep):
        raise RefimplError("--weights applies to the per-point table (the sweep and the fit model the paper's "
                           "networks with the profile's weight_compression)")
    if args.fit:
        return _fit()
    if args.sweep:
        return _sweep(args)
    if args.out:
        raise RefimplError("--out applies to --sweep (the table goes to stdout; plots to --plot DIR)")
    spec = networks.get(args.network)
    prof = load_profile(args.profile or "paper-28nm")
    link = _link(args)
    table = _table(args, spec)
    if args.show_ratios:
        print(ratios.to_csv(table), end="")
        return 0
    codecs = [check_choice("codec", c.strip(), pipeline.FEATURE_CODECS) for c in args.codec.split(",") if c.strip()]
    if not codecs:
        raise RefimplError("--codec names no codec (give e.g. --codec jpeg)")
    cuts = [c.strip() for c in args.points.split(",") if c.strip()] if args.points else None
    if args.points is not None and not cuts:
        raise RefimplError("--points names no layer (give e.g. --points conv5,pool5)")
    pts = stages.points(spec, cuts, pipeline.table_layers(table))
    if args.plot:
        plotting.pyplot()                       # the extra is there before anything is computed or written
    edge = pipeline.edge_costs(spec, prof, **_cost_options(args, spec))
    runs = {}
    for c in codecs:
        recs = pipeline.sweep_points(spec, prof, link, table, c, pts, edge)
        for r in recs:
            r["scenario"] = c
        runs[c] = dict(records=recs, summary=pipeline.summary(recs))
    allrecs = [r for c in codecs for r in runs[c]["records"]]
    if args.format == "json":
        print(report.to_json(dict(network=spec.name, profile=prof.name, clock_mhz=prof.array.clock_mhz,
                                  link=link.record(), ratios=table.source, units=report.UNITS, scenarios=runs)), end="")
    elif args.format == "csv":
        print(report.rows_csv(allrecs, ("scenario",) + report.RECORD_COLUMNS), end="")
    else:
        for c in codecs:
            head = (f"{spec.name} on {prof.name} ({prof.array.clock_mhz:g} MHz), link {link.name} "
                    f"({link.rate_mbps:g} Mbps, {link.power_mw:g} mW, {link.nj_per_bit:g} nJ/bit), feature codec {c}; "
                    f"ratios: {table.source}; per frame")
            print(report.table(runs[c]["records"], {c: runs[c]["summary"]}, head))
            print()
    if args.plot:
        rows = [dict(profile=prof.name, case=c, feature_codec=c, **sweep.point_columns(r))
                for c in codecs for r in runs[c]["records"]]
        where = f"{spec.name}, {prof.name}, {link.name}"

        def pngs(folder):
            plots.fig07(rows, folder / "throughput.png", f"throughput and stage latencies per point: {where}")
            plots.fig08(rows, folder / "energy.png", f"energy breakdown per frame: {where}")
            return ["throughput.png", "energy.png"]
        _write_folder(args.plot, {"points.csv": report.rows_csv(rows)}, args.force, pngs)
    return 0


def _sweep(args):
    if not args.out:
        raise RefimplError("--sweep needs --out DIR (the CSV and JSON files of every figure go there)")
    if args.ratios not in (None, "paper"):
        raise RefimplError("--sweep uses the paper ratio tables of alexnet, vgg16 and resnet50; --ratios does not apply")
    names = [n.strip() for n in (args.profile or DEFAULT_SWEEP_PROFILES).split(",") if n.strip()]
    profs = [load_profile(n) for n in names]
    if len({p.name for p in profs}) != len(profs):
        raise RefimplError(f"--profile names a profile twice: {', '.join(names)}")
    if args.plot:
        plotting.pyplot()
    out = sweep.run(profs)
    files = {}
    base = ["profile", "case", "feature_codec", "point", "layer", "codec_used", "bytes_per_frame"]
    tables = dict(fig07=[{k: r[k] for k in base + FIG7_COLUMNS} for r in out["fig07-08"]],
                  fig08=[{k: r[k] for k in base + FIG8_COLUMNS} for r in out["fig07-08"]],
                  **{name: out[name] for name in ("fig09", "fig10", "fig10c", "fig11", "fig12", "claims")})
    for name, rows in tables.items():
        files[f"{name}.csv"] = report.rows_csv(rows)
        files[f"{name}.json"] = report.to_json(dict(figure=name, units=report.UNITS, rows=rows))
    for net, t in out["ratios"].items():
        files[f"ratios-{net}.csv"] = ratios.to_csv(t)
    labels = [p.label for p in stages.points(networks.get("alexnet"))]
    same = args.plot and Path(args.plot).resolve() == Path(args.out).resolve()
    written = _write_folder(args.out, files, args.force,
                            (lambda folder: plots.write_all(out, folder, labels)) if same else None)
    if args.plot and not same:
        written += _write_folder(args.plot, {}, args.force, lambda folder: plots.write_all(out, folder, labels))
    print(f"refimpl system --sweep: {len(written)} files ({', '.join(p.name for p in profs)}) in {args.out}"
          + (f" and {args.plot}" if args.plot and not same else ""))
    for r in out["claims"]:
        print(f"  {r['what']}: paper {r['paper']}" + "".join(
            f", {p.name} {r[p.name]:.3g}" if isinstance(r[p.name], float) else f", {p.name} {r[p.name]}" for p in profs))
    return 0


def _fit():
    sol = fit.solve()
    v, r = sol["values"], sol["ratios"]
    print(f"paper-fit unknowns, fitted to the paper's four AlexNet headline ratios ({sol['steps']} Newton steps):")
    print(f"  clock_mhz                 {v['clock_mhz']:.6g}")
    print(f"  on-chip energy scale      {v['energy_scale']:.6g}  (x paper-28nm's per-operation energies)")
    print(f"  weight_compression        {v['weight_compression']:.6g}")
    print(f"  decoder_pixels_per_cycle  {v['decoder_pixels_per_cycle']:.6g}")
    print("  features_in_dram          false (structural, not fitted)")
    print("ratios:", ", ".join(f"{k} {r[k]:.4f} (paper {fit.TARGETS[k]})" for k in fit.TARGETS))
    return 0
