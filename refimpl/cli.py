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
    p.add_argument("--weights", help=".npz of float weights, or 'synthetic' for seeded He-normal weights "
                   "(default: the shipped trained weights for alexnet-cifar, synthetic otherwise)")
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
    from . import engine, image, networks, quantize, trained
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
    params, src, calib = trained.resolve(spec, args.weights, args.seed, until=args.until)
    qnet = quantize.quantize_network(spec, params, pixels if calib is None else calib,
                                     per_channel=args.per_channel, bias_bits=args.bias_bits,
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
    if calib is not None:
        src += f", activation formats calibrated on {len(calib)} training images"
    mode = f"tiled on profile {prof.name}" if prof else "fast engine"
    print(f"{spec.name}: {spec.description}; image {args.image or 'embedded default'}; {src}; {mode}")
    print(run_table(qnet, results, sqnr))
    if args.dump:
        from .dump import write_dump
        write_dump(args.dump, qnet, results, extra=dict(
            image=args.image or "embedded default", weights=src))
        print(f"dumped {len(results)} layers to {args.dump}")
    return 0


def _add_eval(sub):
    p = sub.add_parser("eval", help="top-1/top-5 accuracy on CIFAR-10: bit-exact engine against float reference")
    p.add_argument("--network", default="alexnet-cifar", help="alexnet-cifar (default; the 32x32 network)")
    p.add_argument("--weights", help="as for run (default: the shipped trained weights; 'synthetic' for seeded ones)")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic weights (default 0)")
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
    params, src, _ = trained.resolve(spec, args.weights, args.seed)
    calib = trained.calibration_set(spec)["pixels"]
    qnet = quantize.quantize_network(spec, params, calib, per_channel=args.per_channel, bias_bits=args.bias_bits,
                                     acc_bits=args.acc_bits, overflow=args.overflow, rounding=args.rounding)
    from tqdm import tqdm
    with tqdm(total=len(labels), unit="img", desc="eval", disable=None, file=sys.stderr) as bar:
        rep = evaluate.evaluate(evaluate.bitexact_classifier(spec, params, qnet), pixels, labels, args.batch,
                                bar.update)
    head = dict(network=spec.name, weights=src, data=where, calibration=f"{len(calib)} shipped training images")
    if args.format == "json":
        print(json.dumps(dict(head, **rep), indent=1))
    else:
        print(f"{spec.name}: {src}; {where}; activation formats calibrated on {len(calib)} training images")
        print(evaluate.table(rep))
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


def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="refimpl", description="Bit-exact reference model of an edge DNN inference engine")
    ap.add_argument("--version", action="version", version=f"refimpl {__version__}")
    sub = ap.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_run(sub)
    _add_cost(sub)
    _add_eval(sub)
    _add_jpeg(sub)
    _add_golden(sub)
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
