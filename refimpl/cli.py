"""Command line: argument parsing, progress and error reporting only.

Every bad input ends as one line on stderr, ``refimpl: error: ...``, and
exit status 2; results go to stdout, warnings and progress to stderr
(progress only when stderr is a terminal, never with ``--quiet``).
"""
from __future__ import annotations

import argparse
import json
import sys

from . import __version__
from .errors import RefimplError, check_choice


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        sub = self.prog.partition(" ")[2]             # "refimpl run" -> "run"; the top level has none
        raise RefimplError(f"{sub}: {message}" if sub else message)


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: '{text}'") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"seed {value} must be >= 0 (numpy seeds are non-negative)")
    return value


def _warn(text: str):
    print(f"refimpl: warning: {text}", file=sys.stderr)


class _Progress:
    """One overwritten progress line on stderr, only when stderr is a terminal and not --quiet."""

    def __init__(self, quiet: bool):
        self.on = not quiet and sys.stderr.isatty()

    def stage(self, text: str):
        if self.on:
            sys.stderr.write(f"\r\x1b[Krefimpl: {text}")
            sys.stderr.flush()

    def layer(self, i: int, n: int, name: str):
        self.stage(f"layer {i + 1}/{n} {name}")

    def done(self):
        if self.on:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()

    def warn(self, text: str):
        """A warning on its own line, the progress line cleared first."""
        self.done()
        _warn(text)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.done()                     # also on errors: the error line starts on a clean line
        return False


def _add_output_flags(p, what: str):
    p.add_argument("--force", action="store_true",
                   help=f"replace {what} even when it is not a previous refimpl output (its files are deleted)")
    p.add_argument("--quiet", action="store_true", help="no progress line on stderr")


# ---------------------------------------------------------------- run
def _add_run(sub):
    p = sub.add_parser("run", help="run a network bit-exactly and print the per-layer table",
                       description="Run a network bit-exactly on one picture and print, per layer, the output "
                                   "shape, MACs, fractional formats, accumulator overflows, saturations and SQNR "
                                   "against the float64 reference (--mode tiled adds tiles and cycles).")
    p.add_argument("--network", default="alexnet", help="alexnet (default), alexnet-cifar, vgg16")
    p.add_argument("--image", help="input picture (default: the embedded photograph)")
    p.add_argument("--weights", help=".npz of float weights, an ONNX model (.onnx), a weight bundle (refimpl weights "
                   "compress), or 'synthetic' for seeded He-normal weights "
                   "(default: the shipped trained weights for alexnet-cifar, synthetic otherwise)")
    p.add_argument("--seed", type=_seed, default=0, help="seed (>= 0) of the synthetic weights (default 0)")
    p.add_argument("--until", metavar="LAYER", help="stop after this layer")
    p.add_argument("--dump", metavar="DIR", help="write every layer's tensors and layers.json to DIR")
    p.add_argument("--per-channel", action="store_true", help="weight fractional bits per output channel")
    p.add_argument("--bias-bits", type=int, default=16, help="bias word width, 16 (default) or 32")
    p.add_argument("--acc-bits", type=int, default=40, help="accumulator width in bits (default 40)")
    p.add_argument("--overflow", default="saturate", help="accumulator overflow: saturate (default), wrap, error")
    p.add_argument("--rounding", default="half_up", help="requantization rounding: half_up (default), half_even, truncate")
    p.add_argument("--mode", default="fast", help="fast (default), tiled (walk the 144-MAC tile schedule) or "
                                                  "array (step the 12x12 array cycle by cycle; slow)")
    p.add_argument("--profile", help="engine profile of --mode tiled or array (only): a shipped name or a "
                                     ".toml file (default paper-28nm)")
    p.add_argument("--format", default="table", choices=("table", "csv", "json"),
                   help="stdout as a table (default), CSV or JSON (keys in the README)")
    _add_output_flags(p, "the --dump folder")
    p.set_defaults(func=cmd_run)


def _run_inputs(args, spec, progress):
    """(pixels, params, weights description, weights sha256, calibration pixels or None) of a run.

    --weights: an .npz, 'synthetic', or nothing: the shipped trained weights
    where the network has them (refimpl.trained), seeded synthetic ones otherwise.
    """
    from . import image, trained
    from .fileio import file_sha256
    from .weights import load as wload

    pixels = image.load(args.image, spec.input_shape)
    if args.weights and args.weights != trained.SYNTHETIC:
        progress.stage(f"reading {args.weights}")
    params, src, calib = wload.resolve(spec, args.weights, args.seed, until=args.until)
    if calib is not None:
        src += f", activation formats calibrated on {len(calib)} training images"
    sha = file_sha256(args.weights) if args.weights and args.weights != trained.SYNTHETIC else None
    return pixels, params, src, sha, calib


def _run_compute(args, spec, prof, pixels, params, progress, calib=None) -> tuple:
    """(qnet, results, float reference outputs) of a run; formats calibrated on
    ``calib`` (uint8 (N, 3, H, W)) when given, else on the input picture."""
    from . import engine, quantize

    progress.stage("quantizing (float reference for calibration)")
    qnet = quantize.quantize_network(spec, params, pixels if calib is None else calib, per_channel=args.per_channel, bias_bits=args.bias_bits,
                                     acc_bits=args.acc_bits, overflow=args.overflow, rounding=args.rounding,
                                     until=args.until)
    x = quantize.pixels_to_int(pixels, spec)
    if prof is None:
        results = engine.run(qnet, x, until=args.until, progress=progress.layer)
    elif args.mode == "array":
        from .array import engine as array_engine
        results, args.array_layers = array_engine.run(qnet, x, prof, until=args.until, progress=progress.layer)
    else:
        from . import tiled
        results = tiled.run(qnet, x, prof, until=args.until, progress=progress.layer)
    progress.stage("float reference for SQNR")
    ref = quantize.reference_outputs(qnet, params, pixels, until=args.until)
    return qnet, results, ref


def _print_run(args, spec, prof, records, src, weights_sha256):
    from . import report

    if args.format == "table":
        mode = f"{args.mode} on profile {prof.name}" if prof else "fast engine"
        print(f"{spec.name}: {spec.description}; image {args.image or 'embedded default'}; {src}; {mode}")
        print(report.run_table(records))
        if args.mode == "array":
            from .array.cli import array_table
            print(array_table(args.array_layers, prof))
    elif args.format == "csv":
        print(report.run_csv(records), end="")
    else:
        doc = dict(network=spec.name, description=spec.description, image=args.image or "embedded default",
                   weights=src, weights_sha256=weights_sha256,
                   mode=args.mode, profile=prof.name if prof else None, frames=1,
                   units=dict(macs="multiply-accumulates", frac_bits="fractional bits",
                              acc_overflow_outputs="outputs whose accumulation overflowed at least once",
                              saturated_outputs="outputs clamped to int16", sqnr_db="dB (null: infinite)",
                              tiles="tiles of the 144-MAC schedule", cycles="clock cycles"),
                   layers=records, total=report.run_total(records))
        if args.mode == "array":
            from .array.cli import array_json
            doc.update(array_json(args.array_layers, prof))
        print(json.dumps(report.clean(doc), indent=1))


def cmd_run(args) -> int:
    from . import networks, quantize, report
    from .dump import dump_files

    spec = networks.get(args.network)
    quantize.check_supported(spec)
    check_choice("mode", args.mode, ("fast", "tiled", "array"))
    if args.profile is not None and args.mode == "fast":
        raise RefimplError("--profile applies to --mode tiled or array only (the fast engine has no schedule); "
                           "for cycles and energy without a run see 'refimpl cost'")
    prof = None
    if args.mode in ("tiled", "array"):
        from .profile import DEFAULT_PROFILE, load_profile
        prof = load_profile(args.profile or DEFAULT_PROFILE)
    if args.until is not None:
        spec.layer(args.until)
    if args.dump:
        from .fileio import check_output_dir
        check_output_dir(args.dump, dump_files, args.force)
    with _Progress(args.quiet) as progress:
        pixels, params, src, weights_sha256, calib = _run_inputs(args, spec, progress)
        qnet, results, ref = _run_compute(args, spec, prof, pixels, params, progress, calib)
    for text in report.clamp_warnings(qnet, results, params, ref):
        _warn(text)
    sqnr = {r.name: quantize.sqnr_db(ref[r.name], r.output, ql.out_frac) for r, ql in zip(results, qnet.layers)}
    records = report.run_records(qnet, results, sqnr, tiled=prof is not None)
    _print_run(args, spec, prof, records, src, weights_sha256)
    if args.dump:
        from .dump import write_dump
        write_dump(args.dump, qnet, results, force=args.force, extra=dict(
            image=args.image or "embedded default", weights=src,
            weights_sha256=weights_sha256))
        print(f"dumped {len(results)} layers to {args.dump}", file=sys.stdout if args.format == "table" else sys.stderr)
    return 0


# ---------------------------------------------------------------- cost
def _add_cost(sub):
    p = sub.add_parser("cost", help="per-layer cycles, utilisation, traffic and energy of one frame",
                       description="Cycles, utilisation, buffer and DRAM traffic and energy per layer of one "
                                   "frame on an engine profile, from the network's geometry alone (no data).")
    p.add_argument("--network", default="alexnet", help="alexnet (default), alexnet-cifar, vgg16, resnet50")
    p.add_argument("--profile", default="paper-28nm", help="a shipped profile name or a .toml file")
    p.add_argument("--until", metavar="LAYER", help="stop after this layer")
    p.add_argument("--format", default="table", help="table (default), csv or json")
    p.add_argument("--columns", metavar="default|all|NAME,...",
                   help="table and csv columns: 'default' (table default, fits 100 columns), 'all' (csv default) "
                        "or a list of csv column names")
    p.add_argument("--list-profiles", action="store_true", help="list the shipped profiles and exit")
    p.add_argument("--plot", metavar="FILE.png", help="also draw cycles, utilisation, energy breakdown and the "
                   "cumulative compute and DRAM demand per layer (paper Fig. 3a); needs the 'plot' extra")
    p.add_argument("--weights", metavar="BUNDLE", help="a weight bundle (refimpl weights compress): weights move "
                   "their compressed bytes and pay the weight decoder (an .npz or 'synthetic' changes nothing here)")
    p.set_defaults(func=cmd_cost)


def cmd_cost(args) -> int:
    from . import cost, networks, profile, report

    if args.list_profiles:
        print(_list_profiles())
        return 0
    if args.format not in ("table", "csv", "json"):
        raise RefimplError(f"unknown format '{args.format}' (choose from: table, csv, json)")
    if args.columns is not None:
        if args.format == "json":
            raise RefimplError("--columns applies to the table and csv formats (json has every counter)")
        report.cost_columns(args.columns)
    if args.plot:
        from .plotting import pyplot
        pyplot()                                    # a missing 'plot' extra fails before any work
    spec = networks.get(args.network)
    streams = _wload().weight_streams(args.weights, spec)
    if args.weights and args.weights != "synthetic" and streams is None:
        from .weights import load as wload
        wload.load_params(args.weights, spec)           # a bad file is still an error
    rep = cost.network_cost(spec, profile.load_profile(args.profile), args.until, weight_streams=streams)
    if args.plot:                                   # first: a PNG that cannot be written leaves stdout empty
        from . import charts
        charts.write(charts.cost_figure(rep), args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    if args.format == "json":
        print(json.dumps(report.clean(rep), indent=1))
    elif args.format == "csv":
        print(report.cost_csv(rep, args.columns or "all"), end="")
    else:
        print(report.cost_table(rep, args.columns or "default"))
        if streams:
            print(_weight_cost_table(rep, args.weights))
    return 0


def _weight_cost_table(rep: dict, where: str) -> str:
    """The bundle's part of a cost report: weight DRAM bytes and the weight decoder, per layer."""
    from tabulate import tabulate
    rows, tot = [], [0, 0, 0, 0.0, 0.0]
    for r in rep["layers"]:
        if "weight_codec" not in r:
            continue
        e = r["energy_pj"]["weight_decoder"]
        raw = 2 * r["decoded_weights"]
        rows.append([r["name"], r["weight_codec"], f"{r['weight_stream_bytes']:,}", f"{r['weight_dram_bytes']:,}",
                     f"{raw:,}", f"{raw / r['weight_dram_bytes']:.2f}" if r["weight_dram_bytes"] else "-",
                     f"{r['decoded_weights']:,}", f"{e / 1e6:.3f}"])
        for k, v in enumerate((r["weight_stream_bytes"], r["weight_dram_bytes"], raw, e)):
            tot[k] += v
    rows.append(["total", "", f"{tot[0]:,}", f"{tot[1]:,}", f"{tot[2]:,}", f"{tot[2] / tot[1]:.2f}" if tot[1] else "-",
                 "", f"{tot[3] / 1e6:.3f}"])
    return (f"\nweights from bundle {where} (one frame):\n"
            + tabulate(rows, headers=["layer", "codec", "stream bytes", "weight DRAM bytes", "16-bit bytes", "ratio",
                                      "decoded samples", "E wdec (uJ)"], disable_numparse=True))


# ---------------------------------------------------------------- list
def _list_sets() -> str:
    from tabulate import tabulate

    from .vectors import describe_sets
    return tabulate(describe_sets(), headers=["golden set", "network", "description"])


def _list_profiles() -> str:
    from tabulate import tabulate

    from .profile import load_profile, shipped_profiles
    rows = []
    for name in shipped_profiles():
        p = load_profile(name)
        rows.append([name, f"{p.array.macs}", f"{p.array.clock_mhz:g}", p.description])
    return tabulate(rows, headers=["profile", "MACs", "clock MHz", "description"], disable_numparse=True)


def _list_networks() -> str:
    from tabulate import tabulate

    from . import networks, quantize
    rows = []
    for name, spec in networks.NETWORKS.items():
        try:
            quantize.check_supported(spec)
            engine = "bit-exact"
        except RefimplError:
            engine = "geometry only (cost)"
        rows.append([name, "x".join(map(str, spec.input_shape)), engine, spec.description])
    return tabulate(rows, headers=["network", "input", "engine", "description"], disable_numparse=True)


LISTS = {"sets": _list_sets, "profiles": _list_profiles, "networks": _list_networks}


def _add_list(sub):
    p = sub.add_parser("list", help="list the shipped golden sets, engine profiles and networks",
                       description="List what ships with refimpl: the standard golden sets (vectors/*.toml), "
                                   "the engine profiles (refimpl/profiles) and the networks, with descriptions.")
    p.add_argument("what", nargs="?", choices=tuple(LISTS), help="only this list (default: all three)")
    p.set_defaults(func=cmd_list)


def cmd_list(args) -> int:
    print("\n\n".join(LISTS[w]() for w in ([args.what] if args.what else LISTS)))
    return 0


# ---------------------------------------------------------------- jpeg
def _add_jpeg(sub):
    from .jpeg.cli import JPEG_DESCRIPTION

    p = sub.add_parser("jpeg", help="baseline JPEG codec: encode IN OUT -q Q ... | decode IN OUT",
                       description=JPEG_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", nargs="?", metavar="{encode,decode}",
                   help="encode an image or decode a JPEG ('refimpl jpeg ACTION -h' for its options)")
    p.add_argument("args", nargs=argparse.REMAINDER, help="arguments of 'refimpl jpeg ACTION'")
    p.set_defaults(func=cmd_jpeg)


def cmd_jpeg(args) -> int:
    from .jpeg.cli import decode_main, encode_main

    if args.action is None:
        raise RefimplError("refimpl jpeg: missing action (encode or decode; see 'refimpl jpeg --help')")
    if args.action not in ("encode", "decode"):
        raise RefimplError(f"refimpl jpeg: unknown action '{args.action}' (choose from: encode, decode)")
    return (encode_main if args.action == "encode" else decode_main)(args.args)


# ---------------------------------------------------------------- golden, verify, compare
def _add_golden(sub):
    p = sub.add_parser("golden", help="write a golden-vector set (default: the embedded default set)",
                       description="Write a golden-vector set (hex/bin/npy files and manifest.json) for RTL "
                                   "testbenches: a standard set from vectors/ or your own .toml, with overrides.")
    p.add_argument("--set", help="a standard set name (refimpl list sets) or a set .toml file (default: default)")
    p.add_argument("--network", help="override the set's network (the set's layers must exist in it; "
                                     "default folder out/<set>-<network>)")
    p.add_argument("--layers", help="comma-separated layer names (override)")
    p.add_argument("--tiles", help="none, first:N, all or I-J (tile indices; override)")
    p.add_argument("--passes", help="per-pass MAC-array vectors of each written tile: none, first:N or all "
                                    "(override; default none)")
    p.add_argument("--format", help="comma-separated formats among hex,bin,npy (override)")
    p.add_argument("--out", help="output folder (default: out/<set>, out/<set>-<network> with --network)")
    p.add_argument("--list", action="store_true", help="list the standard sets and exit")
    _add_output_flags(p, "the --out folder")
    # the numeric contract (override the set's keys of the same names)
    p.add_argument("--acc-bits", type=int, help="accumulator width in bits, 32..62 (override; default 40)")
    p.add_argument("--overflow", help="accumulator overflow: saturate, wrap, error (override; default saturate)")
    p.add_argument("--rounding", help="requantization rounding: half_up, half_even, truncate "
                                      "(override; default half_up)")
    p.add_argument("--bias-bits", type=int, help="bias word width, 16 or 32 (override; default 16)")
    p.add_argument("--per-channel", action=argparse.BooleanOptionalAction, default=None,
                   help="weight fractional bits per output channel (override; default off)")
    p.set_defaults(func=cmd_golden)
    p = sub.add_parser("verify", help="validate a golden set's manifest and check its files against it",
                       description="Validate a golden set's manifest and check every file against it (missing, "
                                   "truncated, altered, extra). Exit 0: intact; 1: files damaged; 2: not a usable "
                                   "golden set (no folder, no or invalid manifest).")
    p.add_argument("dir")
    p.set_defaults(func=cmd_verify)
    p = sub.add_parser("compare", help="compare RTL dumps with a golden set",
                       description="Compare the files an RTL simulation dumped with a golden set, word by word. "
                                   "Exit 0: all match; 1: mismatches; 2: unusable input.")
    p.add_argument("golden_dir")
    p.add_argument("rtl_dir")
    p.add_argument("--junit", metavar="FILE", help="also write a JUnit XML report")
    p.add_argument("--max-report", type=int, default=10, metavar="N", help="mismatches listed per file (default 10)")
    p.add_argument("--ignore", action="append", default=[], metavar="GLOB",
                   help="skip RTL-side files or folders matching GLOB (path or name; repeatable), e.g. '*.log'")
    p.add_argument("--require-all", action="store_true", help="exit 1 when a golden tensor was not dumped")
    p.set_defaults(func=cmd_compare)


def _golden_changes(args, sd, notes: list) -> dict:
    """SetDef field overrides from the golden flags; what is left out goes to ``notes``."""
    from . import networks, vectors
    from .vectors import parse_formats

    changes = {}
    if args.network and args.network != sd.network:
        spec = networks.get(args.network)
        changes["network"] = args.network
        known = {l.name for l in spec.layers}
        kept = []
        for j in sd.jpeg:
            source = str(j.get("source", ""))
            if source.startswith("feature:") and source[8:] not in known:
                notes.append(f"set {sd.name}: JPEG trace '{j.get('name')}' of {source} left out "
                      f"(network {args.network} has no layer {source[8:]})")
            else:
                kept.append(j)
        changes["jpeg"] = tuple(kept)
    if args.layers is not None:
        names = tuple(n.strip() for n in args.layers.split(",") if n.strip())
        if not names:
            raise RefimplError(f"--layers '{args.layers}' names no layer (give e.g. --layers conv1,conv2)")
        changes["layers"] = names
    if args.tiles is not None:
        changes["tiles"] = args.tiles
    if args.passes is not None:
        changes["passes"] = args.passes
    if args.format is not None:
        changes["formats"] = parse_formats(f for f in args.format.split(",") if f)
    for key in vectors.CONTRACT_DEFAULTS:            # the numeric contract flags override the set's keys
        value = getattr(args, key)
        if value is not None:
            problem = vectors.contract_problem(key, value)
            if problem:
                raise RefimplError(f"--{key.replace('_', '-')} {value}: {problem}")
            changes[key] = value
    return changes


def cmd_golden(args) -> int:
    import dataclasses
    import time

    from . import networks, quantize, vectors

    if args.list:
        print(_list_sets())
        return 0
    t0 = time.perf_counter()
    sd = vectors.load_set(args.set or vectors.DEFAULT_SET)
    original, notes = sd, []
    sd = dataclasses.replace(sd, **_golden_changes(args, sd, notes))
    spec = networks.get(sd.network)
    quantize.check_supported(spec)
    vectors.check_layers(sd, spec)
    for text in notes:
        _warn(text)
    out = args.out or vectors.default_out_dir(sd, original)
    with _Progress(args.quiet) as progress:
        progress.stage(f"golden set {sd.name}: quantizing {sd.network}")
        manifest = vectors.build_set(sd, out, force=args.force, progress=progress.layer, warn=progress.warn)
    size = sum(e["bytes"] for e in manifest["files"])
    print(f"golden set '{sd.name}' ({manifest['network']}, {len(manifest['layers'])} layers, "
          f"{sum(len(l.get('tiles', [])) for l in manifest['layers'])} tiles, {len(manifest['jpeg'])} JPEG traces): "
          f"{len(manifest['files'])} files, {size:,} bytes in {out} ({time.perf_counter() - t0:.1f} s)")
    return 0


def cmd_verify(args) -> int:
    from .manifest import verify

    v = verify(args.dir)                        # exit 2: manifest invalid or unusable; 1: files damaged
    for p in v.invalid:
        print(f"refimpl: error: {args.dir}: {p}", file=sys.stderr)
    for p in v.problems:
        print(f"FAIL {p}")
    if v.doc is not None:
        print(f"verify {args.dir}: " + ("OK" if not v.status else ", ".join(
            f"{len(x)} {what}" for x, what in ((v.invalid, "manifest violation(s)"), (v.problems, "problem(s)")) if x)))
    return v.status


def cmd_compare(args) -> int:
    from . import compare

    if args.max_report < 0:
        raise RefimplError(f"--max-report {args.max_report} must be >= 0")
    return compare.run(args.golden_dir, args.rtl_dir, args.max_report, args.junit, args.ignore, args.require_all)


def _add_eval(sub):
    p = sub.add_parser("eval", help="top-1/top-5 accuracy on CIFAR-10: bit-exact engine against float reference",
                       description="Accuracy on CIFAR-10 of the bit-exact engine and of the float64 reference "
                                   "path (top-1, top-5, agreement, saturations, images/s); with --at and --codec, "
                                   "of the partitioned pipeline (edge encode, bitstream, host decode) against the "
                                   "unsplit engine, with the mean bitstream bytes per image.")
    p.add_argument("--network", default="alexnet-cifar", help="alexnet-cifar (default; the 32x32 network)")
    p.add_argument("--weights", help="as for run (default: the shipped trained weights; 'synthetic' for seeded ones)")
    p.add_argument("--seed", type=_seed, default=0, help="seed (>= 0) of the synthetic weights (default 0)")
    p.add_argument("--data", help="CIFAR-10 JPEG zip (default $REFIMPL_CIFAR_ZIP or ../shared/data/cifar10-jpeg.zip), "
                   "or an .npz with 'pixels' and 'labels' such as tests/data/cifar10/test-300.npz")
    p.add_argument("--split", default="test", help="test (default) or train (zip only)")
    p.add_argument("--cache", help="folder for the decoded arrays (default $REFIMPL_CACHE or ~/.cache/refimpl)")
    p.add_argument("--limit", type=int, help="evaluate N images evenly spread over the split (default all)")
    p.add_argument("--batch", type=int, default=250, help="images per engine call (default 250)")
    p.add_argument("--format", default="table", help="table (default) or json")
    p.add_argument("--per-channel", action="store_true", help="weight fractional bits per output channel")
    p.add_argument("--bias-bits", type=int, default=16, help="bias word width, 16 (default) or 32")
    p.add_argument("--acc-bits", type=int, default=40, help="accumulator width in bits (default 40)")
    p.add_argument("--overflow", default="saturate", help="accumulator overflow: saturate (default), wrap, error")
    p.add_argument("--rounding", default="half_up", help="requantization rounding: half_up (default), half_even, truncate")
    g = p.add_argument_group("partitioned pipeline (refimpl edge / host, image by image)")
    g.add_argument("--at", metavar="LAYER", help="partition layer ('input': host-only); without it, no split")
    g.add_argument("--codec", default="lossless", help="raw, lossless (default) or jpeg")
    g.add_argument("--qf", type=int, default=50, help="JPEG quality 1..100 (default 50)")
    g.add_argument("--mapping", default="shift", help="8-bit mapping for jpeg: shift (default) or minmax")
    g.add_argument("--mosaic", default="packed", help="jpeg mosaic: packed (default) or aligned")
    g.add_argument("--container", default="abbreviated", help="jpeg datastream: abbreviated (default) or full")
    g.add_argument("--host", default="fixed", help="host mode: fixed (default, the bit-exact engine) or float")
    p.set_defaults(func=cmd_eval)


def _eval_data(args):
    """(pixels, labels, description) from --data: the zip, or an .npz of arrays."""
    import numpy as np

    from .train import data
    path = args.data or data.default_zip()
    if str(path).endswith(".npz"):
        try:
            with np.load(path, allow_pickle=False) as f:
                pixels, labels = f["pixels"], f["labels"]
        except FileNotFoundError:
            raise RefimplError(f"{path}: no such file") from None
        except (OSError, ValueError, KeyError) as exc:
            raise RefimplError(f"{path}: not an .npz with 'pixels' and 'labels' arrays ({exc})") from None
        if pixels.dtype != np.uint8 or pixels.ndim != 4 or len(labels) != len(pixels):
            raise RefimplError(f"{path}: 'pixels' must be uint8 (N, 3, H, W) with one label each")
        return pixels, labels, str(path)
    pixels, labels = data.load(path, args.split, args.cache)
    return pixels, labels, f"{path} ({args.split} split)"


def cmd_eval(args) -> int:
    import json

    from . import evaluate, networks, quantize, trained

    spec = networks.get(args.network)
    if args.format not in ("table", "json"):
        raise RefimplError(f"unknown format '{args.format}' (choose from: table, json)")
    if args.batch < 1 or (args.limit is not None and args.limit < 1):
        raise RefimplError("--batch and --limit must be >= 1")
    if spec.name not in trained.SHIPPED:
        raise RefimplError(f"network {spec.name} takes {'x'.join(map(str, spec.input_shape))} inputs; "
                           f"eval runs the CIFAR-10 network ({', '.join(trained.SHIPPED)})")
    pixels, labels, where = _eval_data(args)
    if tuple(pixels.shape[1:]) != tuple(spec.input_shape):
        raise RefimplError(f"{where}: images are {tuple(pixels.shape[1:])}, network {spec.name} takes {spec.input_shape}")
    idx = evaluate.spread(len(labels), args.limit)
    pixels, labels = pixels[idx], labels[idx]
    from .weights import load as wload
    params, src, _ = wload.resolve(spec, args.weights, args.seed)
    calib = trained.calibration_set(spec)["pixels"]
    qnet = quantize.quantize_network(spec, params, calib, per_channel=args.per_channel, bias_bits=args.bias_bits,
                                     acc_bits=args.acc_bits, overflow=args.overflow, rounding=args.rounding)
    classify, split_text = _eval_classifier(args, spec, params, qnet)
    from tqdm import tqdm
    with tqdm(total=len(labels), unit="img", desc="eval", disable=None, file=sys.stderr) as bar:
        rep = evaluate.evaluate(classify, pixels, labels, args.batch, bar.update)
    head = dict(network=spec.name, weights=src, data=where, calibration=f"{len(calib)} shipped training images",
                split=split_text)
    if args.format == "json":
        print(json.dumps(dict(head, **rep), indent=1))
    else:
        print(f"{spec.name}: {src}; {where}; activation formats calibrated on {len(calib)} training images"
              + (f"; {split_text}" if split_text else ""))
        print(evaluate.table(rep))
    return 0


def _eval_classifier(args, spec, params, qnet):
    """(classify, description of the split or None): the unsplit engine, or with
    --at the partitioned pipeline (refimpl.split.classify)."""
    from . import evaluate
    if args.at is None:
        return evaluate.bitexact_classifier(spec, params, qnet), None
    from .split import classify, codecs, mapping, mosaic, partition
    partition.check_split_point(spec, args.at)
    codecs.check_codec(args.codec)
    check_choice("host mode", args.host, partition.MODES)
    opts = {}
    text = f"split after {args.at}, codec {args.codec}"
    if args.codec == "jpeg":
        codecs.check_qf(args.qf)
        mapping.check_mapping(args.mapping)
        mosaic.check_mosaic(args.mosaic)
        check_choice("container", args.container, ("abbreviated", "full"))
        opts = dict(qf=args.qf, mapping=args.mapping, mosaic=args.mosaic, abbreviated=args.container == "abbreviated")
        text += f" qf {args.qf}, mapping {args.mapping}, mosaic {args.mosaic}, {args.container} datastream"
    text += f", host {args.host}"
    return classify.split_classifier(spec, params, qnet, args.at, args.codec, args.host, **opts), text


# ---------------------------------------------------------------- partitioned inference (refimpl.split)
def _split_params(spec, weights, seed, described: bool = False):
    """(params, calibration frames or None) as refimpl.trained resolves --weights (or a weight bundle);
    with ``described``, (params, calibration, the weights' description)."""
    from .weights import load as wload
    params, desc, calib = wload.resolve(spec, weights, seed)
    return (params, calib, desc) if described else (params, calib)


def _add_weight_flags(p):
    """--weights and --seed, as every command that runs a network reads them (refimpl.trained.resolve)."""
    p.add_argument("--weights", help=".npz of float weights, an ONNX model (.onnx), a weight bundle (refimpl weights "
                   "compress), or 'synthetic' (default: the shipped trained weights for alexnet-cifar, seeded "
                   "synthetic ones otherwise)")
    p.add_argument("--seed", type=_seed, default=0, help="seed (>= 0) of the synthetic weights (default 0)")


def _add_edge(sub):
    p = sub.add_parser("edge", help="run the network up to a layer, encode its output, write the bitstream",
                       description="Edge side of partitioned inference: run the bit-exact engine up to and including "
                                   "--at LAYER, code that layer's output (raw, lossless or jpeg) and write the "
                                   "bitstream; print its size, the ratio against raw int16 and the encoder's cost.")
    p.add_argument("--network", default="alexnet", help="alexnet (default), alexnet-cifar, vgg16")
    _add_weight_flags(p)
    p.add_argument("--image", help="input picture (default: the embedded photograph)")
    p.add_argument("--at", required=True, metavar="LAYER", help="partition layer L ('input': host-only)")
    p.add_argument("--codec", required=True, help="raw, lossless or jpeg")
    p.add_argument("--qf", type=int, default=50, help="JPEG quality 1..100 (default 50)")
    p.add_argument("--mapping", default="shift", help="8-bit mapping for jpeg: shift (default) or minmax")
    p.add_argument("--mosaic", default="packed", help="jpeg mosaic: packed (default) or aligned")
    p.add_argument("--container", default="abbreviated",
                   help="jpeg datastream: abbreviated (default, T.81 B.5: no DQT/DHT) or full (JFIF)")
    p.add_argument("--optimize", action="store_true", help="jpeg: optimized Huffman tables (the DHT travels)")
    p.add_argument("--scan", default="chw", help="lossless scan order: chw (default) or blocks")
    p.add_argument("--predictor", default="left", help="lossless predictor: left (default) or none")
    p.add_argument("--profile", default="paper-28nm", help="engine profile for the cycle/energy figures")
    p.add_argument("--out", required=True, metavar="FILE", help="bitstream file to write")
    p.set_defaults(func=cmd_edge)


def cmd_edge(args) -> int:
    from . import cost, image, networks, quantize
    from .fileio import atomic_write
    from .profile import load_profile
    from .split import analysis, bitstream, codecs, lossless, mapping, mosaic, partition

    spec = networks.get(args.network)
    quantize.check_supported(spec)
    partition.check_split_point(spec, args.at)
    codecs.check_codec(args.codec)
    codecs.check_qf(args.qf)
    mapping.check_mapping(args.mapping)
    mosaic.check_mosaic(args.mosaic)
    lossless.check_scan(args.scan)
    lossless.check_predictor(args.predictor)
    check_choice("container", args.container, ("abbreviated", "full"))
    prof = load_profile(args.profile)
    pixels = image.load(args.image, spec.input_shape)
    params, calib = _split_params(spec, args.weights, args.seed)
    qnet = partition.quantize_for_split(spec, params, calib)
    x = quantize.pixels_to_int(pixels, spec)
    opts = dict(qf=args.qf, mapping=args.mapping, mosaic=args.mosaic, abbreviated=args.container == "abbreviated",
                optimize=args.optimize) if args.codec == "jpeg" else dict(scan=args.scan, predictor=args.predictor) if args.codec == "lossless" else {}
    fmap = partition.edge_run(qnet, x, args.at)[0]
    data = partition.encode_fmap(qnet, fmap, args.at, args.codec, **opts)
    atomic_write(args.out, data)
    h, payload = bitstream.read(data)
    raw = 2 * fmap.size
    enc = analysis.encoder_cost(h, prof)
    what = "sends the input feature map (host-only)" if args.at == partition.INPUT else f"runs input..{args.at}"
    print(f"{spec.name}: edge {what}, codec {args.codec}"
          + (f" qf {args.qf}, mapping {args.mapping}, mosaic {args.mosaic}, {args.container} datastream"
             f"{', optimized tables' if args.optimize else ''}" if args.codec == "jpeg" else "")
          + (f" scan {args.scan}, predictor {args.predictor}" if args.codec == "lossless" else ""))
    print(f"wrote {args.out}: {len(data):,} bytes (header {len(data) - len(payload)} + payload {len(payload):,}); "
          f"raw map {'x'.join(map(str, fmap.shape))} = {raw:,} bytes; ratio {raw / len(data):.2f}x")
    if args.codec == "jpeg":
        other = partition.encode_fmap(qnet, fmap, args.at, "jpeg", **dict(opts, abbreviated=not opts["abbreviated"]))
        print(f"the same map as a {'full JFIF' if opts['abbreviated'] else 'abbreviated'} datastream: "
              f"{len(other):,} bytes (ratio {raw / len(other):.2f}x)")
    print(f"feature encoder on profile {prof.name}: {enc['units']:,} {enc['basis']}, {enc['cycles']:,} cycles, "
          f"{enc['energy_pj'] / 1e3:,.2f} nJ, {enc['latency_s'] * 1e3:.3f} ms at {prof.array.clock_mhz:g} MHz")
    if args.at != partition.INPUT:
        tot = cost.network_cost(spec, prof, args.at, weight_streams=_wload().weight_streams(args.weights, spec))["total"]
        print(f"edge inference input..{args.at}: {tot['cycles']:,} cycles, {tot['energy_pj']['total'] / 1e6:,.3f} uJ")
    return 0


def _add_host(sub):
    p = sub.add_parser("host", help="decode a feature bitstream, run the rest of the network, print the top-5",
                       description="Host side of partitioned inference: check and decode a bitstream written by "
                                   "'refimpl edge', run the layers after its partition layer (fixed: the bit-exact "
                                   "engine; float: the float64 reference) and print the top classes.")
    p.add_argument("file", help="bitstream written by 'refimpl edge'")
    p.add_argument("--network", help="refuse a bitstream of any other network")
    _add_weight_flags(p)
    p.add_argument("--edge-weights", metavar="W",
                   help="the weights the edge ran, as --weights takes them or 'shipped' (the network's shipped "
                        "trained weights), when the host's differ after the cut (a host partition fine-tuned on "
                        "the edge's coded features): the bitstream's weights CRC is checked against these, the "
                        "layers after the cut run with --weights")
    p.add_argument("--mode", default="fixed", help="fixed (default: the bit-exact engine) or float (float64)")
    p.add_argument("--top", type=int, default=5, help="classes to print (default 5)")
    p.add_argument("--format", default="table", help="table (default) or json")
    p.set_defaults(func=cmd_host)


def cmd_host(args) -> int:
    import json

    from . import networks
    from .split import bitstream, partition

    check_choice("mode", args.mode, partition.MODES)
    check_choice("format", args.format, ("table", "json"))
    if args.top < 1:
        raise RefimplError(f"--top {args.top} must be >= 1")
    try:
        with open(args.file, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise RefimplError(f"{args.file}: no such bitstream file") from None
    except OSError as exc:
        raise RefimplError(f"{args.file}: unreadable ({exc.strerror or exc})") from None
    try:
        h, _ = bitstream.read(data)
    except RefimplError as exc:
        raise RefimplError(f"{args.file}: {exc}") from None
    if args.network and args.network != h.network:
        networks.get(args.network)
        raise RefimplError(f"{args.file}: bitstream is from network '{h.network}', this host runs '{args.network}'")
    if h.network not in networks.NETWORKS:
        raise RefimplError(f"{args.file}: bitstream names network '{h.network}', unknown to this host "
                           f"(known: {', '.join(networks.NETWORKS)})")
    spec = networks.get(h.network)
    params, calib = _split_params(spec, args.weights, args.seed)
    qnet = partition.quantize_for_split(spec, params, calib)
    edge_qnet = None
    if args.edge_weights is not None:
        from . import trained
        if args.edge_weights == "shipped" and not trained.has_shipped(spec):
            raise RefimplError(f"--edge-weights shipped: network {spec.name} has no shipped trained weights")
        edge_params, edge_calib = _split_params(spec, None if args.edge_weights == "shipped" else args.edge_weights,
                                                args.seed)
        edge_qnet = partition.quantize_for_split(spec, edge_params, edge_calib)
    try:
        out = partition.host_decode_run(qnet, data, args.mode, params, edge_qnet)
    except RefimplError as exc:
        raise RefimplError(f"{args.file}: {exc}") from None
    top = partition.top_k(out["scores"][0], args.top)
    if args.format == "json":
        print(json.dumps(dict(file=args.file, network=h.network, layer=h.layer, codec=h.codec, mode=args.mode,
                              bytes=len(data), top=[dict(rank=i + 1, class_index=c, score=s)
                                                    for i, (c, s) in enumerate(top)],
                              units=dict(score="output of the last layer (logit), real value",
                                         bytes="bytes of the bitstream file")), indent=1))
        return 0
    from tabulate import tabulate
    print(f"{args.file}: {h.network} cut after {h.layer}, codec {h.codec}, {len(data):,} bytes; host mode {args.mode}")
    print(tabulate([[i + 1, c, f"{s:.6f}"] for i, (c, s) in enumerate(top)],
                   headers=["rank", "class", "score (logit)"], disable_numparse=True))
    return 0


def _add_features(sub):
    p = sub.add_parser("features", help="per-layer feature statistics and codec results (paper Figs. 3-4)",
                       description="For every layer: output size, entropy, non-zero ratio, lossless and JPEG "
                                   "bytes and ratios, lossy reconstruction error and host top-1 agreement, as "
                                   "means over the given pictures (paper Figs. 3 and 4).")
    p.add_argument("--network", default="alexnet", help="alexnet (default), alexnet-cifar, vgg16")
    _add_weight_flags(p)
    p.add_argument("--images", nargs="+", metavar="PATH", help="pictures or folders (default: the embedded photo)")
    p.add_argument("--qf", default="10,30,50,75", help="comma-separated JPEG qualities (default 10,30,50,75)")
    p.add_argument("--mapping", default="shift", help="8-bit mapping: shift (default) or minmax")
    p.add_argument("--mosaic", default="packed", help="mosaic: packed (default) or aligned")
    p.add_argument("--optimize", action="store_true", help="optimized Huffman tables for the JPEG path")
    p.add_argument("--scan", default="chw", help="lossless scan order: chw (default) or blocks")
    p.add_argument("--predictor", default="left", help="lossless predictor: left (default) or none")
    p.add_argument("--mode", default="fixed", help="host mode for the top-1 agreement: fixed (default) or float")
    p.add_argument("--format", default="table", help="table (default), csv or json")
    p.add_argument("--plot", metavar="FILE.png", help="also draw feature size per layer (paper Fig. 3b) and "
                   "entropy and non-zero ratio (Fig. 4a); needs the 'plot' extra")
    p.set_defaults(func=cmd_features)


def cmd_features(args) -> int:
    import numpy as np

    from . import image, networks, quantize
    from .split import analysis, codecs, lossless, mapping, mosaic, partition

    check_choice("format", args.format, ("table", "csv", "json"))
    check_choice("mode", args.mode, partition.MODES)
    mapping.check_mapping(args.mapping)
    mosaic.check_mosaic(args.mosaic)
    lossless.check_scan(args.scan)
    lossless.check_predictor(args.predictor)
    try:
        qfs = [int(q) for q in args.qf.split(",") if q.strip()]
    except ValueError:
        raise RefimplError(f"--qf '{args.qf}' must be comma-separated integers 1..100") from None
    if not qfs:
        raise RefimplError("--qf names no quality")
    for q in qfs:
        codecs.check_qf(q)
    if args.plot:
        from .plotting import pyplot
        pyplot()                                    # a missing 'plot' extra fails before any work
    spec = networks.get(args.network)
    quantize.check_supported(spec)
    paths = analysis.image_paths(args.images) if args.images else [None]
    pixels = np.stack([image.load(p, spec.input_shape) for p in paths])
    params, calib, desc = _split_params(spec, args.weights, args.seed, described=True)
    qnet = partition.quantize_for_split(spec, params, calib)
    rep = analysis.feature_rows(qnet, params, quantize.pixels_to_int(pixels, spec), qfs, mapping=args.mapping,
                                mosaic=args.mosaic, scan=args.scan, predictor=args.predictor, optimize=args.optimize,
                                mode=args.mode)
    rep["images"] = [str(p) if p else "embedded default" for p in paths]
    rep["weights"] = desc                            # what trained.resolve used (the shipped weights by default)
    if args.plot:                                   # first: a PNG that cannot be written leaves stdout empty
        from . import charts
        charts.write(charts.features_figure(rep), args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    print(analysis.as_json(rep) if args.format == "json" else analysis.as_csv(rep) if args.format == "csv"
          else analysis.as_table(rep), end="" if args.format == "csv" else "\n")
    return 0


# ---------------------------------------------------------------- ONNX (refimpl.interop, the 'onnx' extra)
def _add_onnx(sub):
    p = sub.add_parser("import", help="read an ONNX file's Conv and Gemm/MatMul weights into a weights .npz",
                       description="Read the float weights of an ONNX model (Conv and Gemm/MatMul initializers, "
                                   "in graph order) into the .npz layout every --weights reads, matched to the "
                                   "network spec by order and shape; the first layer that differs is named.")
    p.add_argument("model", metavar="MODEL.onnx", help="ONNX file")
    p.add_argument("--network", help="network spec to match (default: the one shipped network the file fits "
                                     "exactly; a file that fits none is refused)")
    p.add_argument("--out", required=True, metavar="FILE.npz", help="weights file to write")
    p.set_defaults(func=cmd_import)
    p = sub.add_parser("export", help="write a network and its float weights as an ONNX model (opset 13)",
                       description="Write the float reference path of a network (quantize.float_forward) as an "
                                   "ONNX graph, opset 13, float32, that onnxruntime runs: input 'pixels' (N, 3, H, "
                                   "W) RGB 0..255 (the mean is subtracted inside), output 'logits'.")
    p.add_argument("--network", default="alexnet-cifar", help="alexnet-cifar (default), alexnet, vgg16")
    _add_weight_flags(p)
    p.add_argument("--out", required=True, metavar="MODEL.onnx", help="ONNX file to write")
    p.set_defaults(func=cmd_export)


def cmd_import(args) -> int:
    import numpy as np

    from . import networks
    from .interop import onnx_import

    spec = networks.get(args.network) if args.network else onnx_import.detect_network(args.model)
    params = onnx_import.import_params(args.model, spec)
    onnx_import.write_npz(args.out, params)
    n = sum(int(np.prod(a.shape)) for a in params.values())
    dtypes = sorted({str(a.dtype) for a in params.values()})
    print(f"wrote {args.out}: network {spec.name}, {len(params) // 2} conv/fc layers, {n:,} parameters "
          f"({', '.join(dtypes)}) from {args.model}" + ("" if args.network else " (the one shipped network it fits)"))
    return 0


def cmd_export(args) -> int:
    from . import networks, trained
    from .fileio import atomic_write
    from .interop import onnx_common, onnx_export

    spec = networks.get(args.network)
    onnx_export.check_exportable(spec)
    onnx_common.onnx_module()
    params, src, _ = trained.resolve(spec, args.weights, args.seed)
    data = onnx_export.export_bytes(spec, params)
    atomic_write(args.out, data)
    print(f"wrote {args.out}: {len(data):,} bytes, network {spec.name}, {src}, ONNX opset {onnx_common.OPSET} "
          f"(IR version {onnx_common.IR_VERSION}), float32; input '{onnx_common.INPUT}' "
          f"(N, {', '.join(map(str, spec.input_shape))}) RGB pixels 0..255, output '{onnx_common.OUTPUT}'")
    return 0
# ---------------------------------------------------------------- weights (refimpl.weights)
def _add_weights(sub):
    from .weights import cli as wcli
    wcli.add_parser(sub, _seed)


def _wload():
    from .weights import load
    return load


# ---------------------------------------------------------------- paper experiments (refimpl.experiments)
def _add_experiment(sub):
    from .experiments import cli as experiments_cli
    experiments_cli.add_parser(sub)


# ---------------------------------------------------------------- main
# ---------------------------------------------------------------- adapt (issue 16; refimpl/adapt/cli.py)
def _add_adapt(sub):
    from .adapt import cli as adapt_cli
    adapt_cli.add_parser(sub)


def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="refimpl", description="Bit-exact reference model of an edge DNN inference engine: "
                                             "runs, golden vectors for RTL, cost reports, JPEG codec.")
    ap.add_argument("--version", action="version", version=f"refimpl {__version__}")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    _add_run(sub)
    _add_cost(sub)
    _add_jpeg(sub)
    _add_golden(sub)
    _add_list(sub)
    _add_edge(sub)
    _add_host(sub)
    _add_features(sub)
    _add_eval(sub)
    from .system import cli as system_cli          # refimpl system (issue 15): its own parser and command
    system_cli.add_parser(sub)
    _add_onnx(sub)
    _add_adapt(sub)
    _add_weights(sub)
    _add_experiment(sub)
    return ap


def main(argv=None) -> int:
    try:
        parser = build_parser()
        args, extra = parser.parse_known_args(argv)
        if extra:
            where = f"{args.command}: " if args.command else ""
            raise RefimplError(f"{where}unrecognized arguments: {' '.join(extra)}")
        if args.command is None:
            sys.stderr.write(parser.format_usage())
            commands = ", ".join(parser._subparsers._group_actions[0].choices)
            raise RefimplError(f"no command given (choose from: {commands}; refimpl COMMAND --help for each)")
        return args.func(args)
    except RefimplError as exc:
        print(f"refimpl: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except OSError as exc:                      # e.g. an output folder that cannot be written
        where = exc.filename or ""
        print(f"refimpl: error: {where}{': ' if where else ''}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("refimpl: interrupted", file=sys.stderr)
        return 130
