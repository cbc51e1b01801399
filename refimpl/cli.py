"""Command line: argument parsing and error reporting only.

Every bad input ends as one line on stderr, ``refimpl: error: ...``, and
exit status 2; results go to stdout.
"""
from __future__ import annotations

import argparse
import sys

from . import __version__
from .errors import RefimplError


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise RefimplError(f"{self.prog}: {message}")


def _add_run(sub):
    p = sub.add_parser("run", help="run a network bit-exactly and print the per-layer table")
    p.add_argument("--network", default="alexnet", help="alexnet (default), alexnet-cifar, vgg16")
    p.add_argument("--image", help="input picture (default: the embedded photograph)")
    p.add_argument("--weights", help=".npz of float weights (default: seeded synthetic He-normal weights)")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic weights (default 0)")
    p.add_argument("--until", metavar="LAYER", help="stop after this layer")
    p.add_argument("--dump", metavar="DIR", help="write every layer's tensors and layers.json to DIR")
    p.add_argument("--per-channel", action="store_true", help="weight fractional bits per output channel")
    p.add_argument("--bias-bits", type=int, default=16, help="bias word width, 16 (default) or 32")
    p.add_argument("--acc-bits", type=int, default=40, help="accumulator width in bits (default 40)")
    p.add_argument("--overflow", default="saturate", help="accumulator overflow: saturate (default), wrap, error")
    p.add_argument("--rounding", default="half_up", help="requantization rounding: half_up (default), half_even, truncate")
    p.add_argument("--mode", default="fast", help="fast (default) or tiled: walk the 144-MAC tile schedule")
    p.add_argument("--profile", default="paper-28nm", help="engine profile for --mode tiled: a shipped name or a .toml file")
    p.set_defaults(func=cmd_run)


def _add_cost(sub):
    p = sub.add_parser("cost", help="per-layer cycles, utilisation, traffic and energy of one frame")
    p.add_argument("--network", default="alexnet", help="alexnet (default), alexnet-cifar, vgg16, resnet50")
    p.add_argument("--profile", default="paper-28nm", help="a shipped profile name or a .toml file")
    p.add_argument("--until", metavar="LAYER", help="stop after this layer")
    p.add_argument("--format", default="table", help="table (default), csv or json")
    p.set_defaults(func=cmd_cost)


def cmd_cost(args) -> int:
    import json

    from . import cost, networks, profile, report

    if args.format not in ("table", "csv", "json"):
        raise RefimplError(f"unknown format '{args.format}' (choose from: table, csv, json)")
    rep = cost.network_cost(networks.get(args.network), profile.load_profile(args.profile), args.until)
    if args.format == "json":
        print(json.dumps(rep, indent=1))
    elif args.format == "csv":
        print(report.cost_csv(rep), end="")
    else:
        print(report.cost_table(rep))
    return 0


def cmd_run(args) -> int:
    from . import engine, image, networks, quantize
    from .report import run_table

    spec = networks.get(args.network)
    quantize.check_supported(spec)
    if args.mode not in ("fast", "tiled"):
        raise RefimplError(f"unknown mode '{args.mode}' (choose from: fast, tiled)")
    prof = None
    if args.mode == "tiled":
        from .profile import load_profile
        prof = load_profile(args.profile)
    if args.until is not None:
        spec.layer(args.until)
    pixels = image.load(args.image, spec.input_shape)
    if args.weights:
        params = quantize.load_params(args.weights, spec)
    else:
        params = quantize.synthetic_params(spec, args.seed, until=args.until)
    qnet = quantize.quantize_network(spec, params, pixels, per_channel=args.per_channel, bias_bits=args.bias_bits,
                                     acc_bits=args.acc_bits, overflow=args.overflow, rounding=args.rounding,
                                     until=args.until)
    x = quantize.pixels_to_int(pixels, spec)
    if prof is None:
        results = engine.run(qnet, x, until=args.until)
    else:
        from . import tiled
        results = tiled.run(qnet, x, prof, until=args.until)
    ref = quantize.float_forward(spec, params, quantize.pixels_to_float(pixels, spec), until=args.until)
    sqnr = {r.name: quantize.sqnr_db(ref[r.name], r.output, ql.out_frac) for r, ql in zip(results, qnet.layers)}
    src = f"weights {args.weights}" if args.weights else f"synthetic weights (seed {args.seed})"
    mode = f"tiled on profile {prof.name}" if prof else "fast engine"
    print(f"{spec.name}: {spec.description}; image {args.image or 'embedded default'}; {src}; {mode}")
    print(run_table(qnet, results, sqnr))
    if args.dump:
        from .dump import write_dump
        write_dump(args.dump, qnet, results, extra=dict(
            image=args.image or "embedded default", weights=args.weights or f"synthetic seed {args.seed}"))
        print(f"dumped {len(results)} layers to {args.dump}")
    return 0


def _add_jpeg(sub):
    p = sub.add_parser("jpeg", help="baseline JPEG codec: encode IN OUT -q Q ... | decode IN OUT",
                       add_help=False)
    p.add_argument("action", help="encode or decode")
    p.add_argument("args", nargs=argparse.REMAINDER, help="arguments of 'refimpl jpeg ACTION' (-h for help)")
    p.set_defaults(func=cmd_jpeg)


def cmd_jpeg(args) -> int:
    from .jpeg.cli import decode_main, encode_main

    if args.action not in ("encode", "decode"):
        raise RefimplError(f"refimpl jpeg: unknown action '{args.action}' (choose from: encode, decode)")
    return (encode_main if args.action == "encode" else decode_main)(args.args)


def _add_golden(sub):
    p = sub.add_parser("golden", help="write a golden-vector set (default: the embedded default set)")
    p.add_argument("--set", help="a standard set name (see vectors/) or a set .toml file (default: default)")
    p.add_argument("--network", help="override the set's network")
    p.add_argument("--layers", help="comma-separated layer names (override)")
    p.add_argument("--tiles", help="none, first:N or all (override)")
    p.add_argument("--format", help="comma-separated formats among hex,bin,npy (override)")
    p.add_argument("--out", help="output folder (default: out/<set>)")
    p.set_defaults(func=cmd_golden)
    p = sub.add_parser("verify", help="check a golden set's files against its manifest")
    p.add_argument("dir")
    p.set_defaults(func=cmd_verify)
    p = sub.add_parser("compare", help="compare RTL dumps with a golden set")
    p.add_argument("golden_dir")
    p.add_argument("rtl_dir")
    p.add_argument("--junit", metavar="FILE", help="also write a JUnit XML report")
    p.add_argument("--max-report", type=int, default=10, metavar="N", help="mismatches listed per file (default 10)")
    p.set_defaults(func=cmd_compare)


def cmd_golden(args) -> int:
    import dataclasses
    import time

    from . import vectors

    t0 = time.perf_counter()
    sd = vectors.load_set(args.set or vectors.DEFAULT_SET)
    changes = {}
    if args.network:
        changes["network"] = args.network
        if args.layers is None and args.set is None:
            changes["layers"] = None
        changes["jpeg"] = () if args.network != sd.network else sd.jpeg
    if args.layers is not None:
        changes["layers"] = tuple(n for n in args.layers.split(",") if n)
    if args.tiles is not None:
        changes["tiles"] = args.tiles
    if args.format is not None:
        changes["formats"] = tuple(f for f in args.format.split(",") if f)
    sd = dataclasses.replace(sd, **changes)
    out = args.out or f"out/{sd.name}"
    manifest = vectors.build_set(sd, out)
    size = sum(e["bytes"] for e in manifest["files"])
    print(f"golden set '{sd.name}' ({manifest['network']}, {len(manifest['layers'])} layers, "
          f"{sum(len(l.get('tiles', [])) for l in manifest['layers'])} tiles, {len(manifest['jpeg'])} JPEG traces): "
          f"{len(manifest['files'])} files, {size:,} bytes in {out} ({time.perf_counter() - t0:.1f} s)")
    return 0


def cmd_verify(args) -> int:
    from .manifest import verify

    problems = verify(args.dir)
    for p in problems:
        print(f"FAIL {p}")
    print(f"verify {args.dir}: {'OK' if not problems else f'{len(problems)} problem(s)'}")
    return 1 if problems else 0


def cmd_compare(args) -> int:
    from . import compare

    if args.max_report < 0:
        raise RefimplError(f"--max-report {args.max_report} must be >= 0")
    return compare.run(args.golden_dir, args.rtl_dir, args.max_report, args.junit)


# ---------------------------------------------------------------- partitioned inference (refimpl.split)
def _split_params(spec, weights, seed):
    from . import quantize
    return quantize.load_params(weights, spec) if weights else quantize.synthetic_params(spec, seed)


def _split_choice(name: str, value: str, choices) -> str:
    if value not in choices:
        raise RefimplError(f"unknown {name} '{value}' (choose from: {', '.join(choices)})")
    return value


def _add_edge(sub):
    p = sub.add_parser("edge", help="run the network up to a layer, encode its output, write the bitstream")
    p.add_argument("--network", default="alexnet", help="alexnet (default), alexnet-cifar, vgg16")
    p.add_argument("--weights", help=".npz of float weights (default: seeded synthetic weights)")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic weights (default 0)")
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
    _split_choice("container", args.container, ("abbreviated", "full"))
    prof = load_profile(args.profile)
    pixels = image.load(args.image, spec.input_shape)
    qnet = partition.quantize_for_split(spec, _split_params(spec, args.weights, args.seed))
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
        tot = cost.network_cost(spec, prof, args.at)["total"]
        print(f"edge inference input..{args.at}: {tot['cycles']:,} cycles, {tot['energy_pj']['total'] / 1e6:,.3f} uJ")
    return 0


def _add_host(sub):
    p = sub.add_parser("host", help="decode a feature bitstream, run the rest of the network, print the top-5")
    p.add_argument("file", help="bitstream written by 'refimpl edge'")
    p.add_argument("--network", help="refuse a bitstream of any other network")
    p.add_argument("--weights", help=".npz of float weights (default: seeded synthetic weights)")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic weights (default 0)")
    p.add_argument("--mode", default="fixed", help="fixed (default: the bit-exact engine) or float (float64)")
    p.add_argument("--top", type=int, default=5, help="classes to print (default 5)")
    p.add_argument("--format", default="table", help="table (default) or json")
    p.set_defaults(func=cmd_host)


def cmd_host(args) -> int:
    import json

    from . import networks, quantize
    from .split import bitstream, partition

    _split_choice("mode", args.mode, partition.MODES)
    _split_choice("format", args.format, ("table", "json"))
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
    params = _split_params(spec, args.weights, args.seed)
    qnet = partition.quantize_for_split(spec, params)
    try:
        out = partition.host_decode_run(qnet, data, args.mode, params)
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
    p = sub.add_parser("features", help="per-layer feature statistics and codec results (paper Figs. 3-4)")
    p.add_argument("--network", default="alexnet", help="alexnet (default), alexnet-cifar, vgg16")
    p.add_argument("--weights", help=".npz of float weights (default: seeded synthetic weights)")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic weights (default 0)")
    p.add_argument("--images", nargs="+", metavar="PATH", help="pictures or folders (default: the embedded photo)")
    p.add_argument("--qf", default="10,30,50,75", help="comma-separated JPEG qualities (default 10,30,50,75)")
    p.add_argument("--mapping", default="shift", help="8-bit mapping: shift (default) or minmax")
    p.add_argument("--mosaic", default="packed", help="mosaic: packed (default) or aligned")
    p.add_argument("--optimize", action="store_true", help="optimized Huffman tables for the JPEG path")
    p.add_argument("--scan", default="chw", help="lossless scan order: chw (default) or blocks")
    p.add_argument("--predictor", default="left", help="lossless predictor: left (default) or none")
    p.add_argument("--mode", default="fixed", help="host mode for the top-1 agreement: fixed (default) or float")
    p.add_argument("--format", default="table", help="table (default), csv or json")
    p.set_defaults(func=cmd_features)


def cmd_features(args) -> int:
    import numpy as np

    from . import image, networks, quantize
    from .split import analysis, codecs, lossless, mapping, mosaic, partition

    _split_choice("format", args.format, ("table", "csv", "json"))
    _split_choice("mode", args.mode, partition.MODES)
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
    spec = networks.get(args.network)
    quantize.check_supported(spec)
    paths = analysis.image_paths(args.images) if args.images else [None]
    pixels = np.stack([image.load(p, spec.input_shape) for p in paths])
    params = _split_params(spec, args.weights, args.seed)
    qnet = partition.quantize_for_split(spec, params)
    rep = analysis.feature_rows(qnet, params, quantize.pixels_to_int(pixels, spec), qfs, mapping=args.mapping,
                                mosaic=args.mosaic, scan=args.scan, predictor=args.predictor, optimize=args.optimize,
                                mode=args.mode)
    rep["images"] = [str(p) if p else "embedded default" for p in paths]
    rep["weights"] = args.weights or f"synthetic seed {args.seed}"
    print(analysis.as_json(rep) if args.format == "json" else analysis.as_csv(rep) if args.format == "csv"
          else analysis.as_table(rep), end="" if args.format == "csv" else "\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="refimpl", description="Bit-exact reference model of an edge DNN inference engine")
    ap.add_argument("--version", action="version", version=f"refimpl {__version__}")
    sub = ap.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_run(sub)
    _add_cost(sub)
    _add_jpeg(sub)
    _add_golden(sub)
    _add_edge(sub)
    _add_host(sub)
    _add_features(sub)
    return ap


def main(argv=None) -> int:
    try:
        args = build_parser().parse_args(argv)
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
