"""``refimpl weights compress|info``: argument handling and printing only."""
from __future__ import annotations

import json
import sys

from ..errors import RefimplError

DESCRIPTION = """JPEG-compressed weights (refimpl/weights/, README "Compressed weights").

  refimpl weights compress --network N [--weights W] (--qf Q | --lossless | [--budget 1.0])
                           [--data ZIP] [--val 1000] [--no-test] --out BUNDLE
  refimpl weights info BUNDLE [--format table|json]

compress: without --qf/--lossless, searches per layer the lowest quality within
--budget points of top-1 (bit-exact engine, validation subset of the CIFAR-10
training split), then measures the bundle on the 10,000 test images."""


def add_parser(sub, seed_type):
    import argparse

    p = sub.add_parser("weights", help="JPEG-compressed weights: compress a network's weights | info BUNDLE",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    wsub = p.add_subparsers(dest="action", metavar="{compress,info}", parser_class=type(p))
    c = wsub.add_parser("compress", help="write a weight bundle (per-layer JPEG streams, or lossless)")
    c.add_argument("--network", default="alexnet-cifar", help="network (default alexnet-cifar)")
    c.add_argument("--weights", help=".npz of float weights or 'synthetic' (default: the shipped trained weights "
                   "for alexnet-cifar, synthetic otherwise)")
    c.add_argument("--seed", type=seed_type, default=0, help="seed (>= 0) of the synthetic weights (default 0)")
    c.add_argument("--qf", type=int, help="one JPEG quality 1..100 for every layer (no search)")
    c.add_argument("--lossless", action="store_true", help="every layer through the lossless coder (no search)")
    c.add_argument("--budget", type=float, default=1.0, help="search: top-1 loss allowed, points (default 1.0)")
    c.add_argument("--data", help="CIFAR-10 JPEG zip for the search (default $REFIMPL_CIFAR_ZIP or "
                   "../shared/data/cifar10-jpeg.zip)")
    c.add_argument("--cache", help="folder for the decoded arrays (default $REFIMPL_CACHE or ~/.cache/refimpl)")
    c.add_argument("--val", type=int, default=1000, help="search: validation images from the training split "
                   "(default 1000)")
    c.add_argument("--sensitivity-cache", metavar="FILE.json",
                   help="search: keep the per-layer sensitivity table in FILE (reused when its key matches)")
    c.add_argument("--refine", type=int, default=0, metavar="N",
                   help="search: rounds of measured one-step refinement after the threshold (default 0: none; "
                        "each round runs the network once per layer)")
    c.add_argument("--no-test", action="store_true", help="search: skip the measurement on the 10,000 test images")
    c.add_argument("--out", required=True, metavar="BUNDLE", help="bundle file to write")
    i = wsub.add_parser("info", help="per-layer bytes, ratio against 16 bits and quality of a bundle")
    i.add_argument("bundle")
    i.add_argument("--format", default="table", help="table (default) or json")
    p.set_defaults(func=cmd_weights)


def cmd_weights(args) -> int:
    if getattr(args, "action", None) is None:
        raise RefimplError("weights: missing action (compress or info; see 'refimpl weights --help')")
    return {"compress": cmd_compress, "info": cmd_info}[args.action](args)


def _log(text: str):
    print(f"refimpl: {text}", file=sys.stderr, flush=True)


def layer_rows(b) -> list:
    """One dict per layer: name, codec, qf, weights, raw_bytes (16-bit), dram_bytes, ratio, w_frac, lo, hi."""
    rows = []
    for e in b.layers:
        n = e.code.rows * e.code.cols
        rows.append(dict(layer=e.name, codec=e.code.codec, qf=e.code.qf, weights=n, raw_bytes=2 * n,
                         stream_bytes=len(e.code.data), dram_bytes=e.code.dram_bytes,
                         ratio=2 * n / e.code.dram_bytes, w_frac=e.w_frac,
                         lo=e.code.lo if e.code.codec == "jpeg" else None,
                         hi=e.code.hi if e.code.codec == "jpeg" else None, predictor=e.code.predictor))
    return rows


def info_table(b, where: str) -> str:
    from tabulate import tabulate

    rows = layer_rows(b)
    raw, stored = sum(r["raw_bytes"] for r in rows), sum(r["dram_bytes"] for r in rows)
    body = [[r["layer"], r["codec"], r["qf"] if r["qf"] is not None else "-", f"{r['weights']:,}",
             f"{r['raw_bytes']:,}", f"{r['dram_bytes']:,}", f"{r['ratio']:.2f}", r["w_frac"],
             f"{r['lo']}..{r['hi']}" if r["lo"] is not None else r["predictor"]] for r in rows]
    body.append(["total", "", "", f"{raw // 2:,}", f"{raw:,}", f"{stored:,}", f"{raw / stored:.2f}", "", ""])
    out = [f"{where}: weight bundle of {b.network}" + (f" (from weights sha256 {b.source_sha256[:16]}...)"
                                                       if b.source_sha256 else ""),
           tabulate(body, headers=["layer", "codec", "qf", "weights", "16-bit bytes", "DRAM bytes", "ratio",
                                   "w_frac", "mapping lo..hi / predictor"],
                    disable_numparse=True, colalign=("left", "left", "right", "right", "right", "right", "right",
                                                     "right", "left"))]
    s = b.search
    if s:
        out.append(f"search: budget {s['budget_pts']} points of top-1; validation {s['validation']['images']} "
                   f"training images: uncompressed {s['base_top1_pct']:.2f} %, loss {s['loss_pts']:+.2f} points")
        if s.get("test"):
            t = s["test"]
            out.append(f"test ({t['images']:,} images, bit-exact engine): source weights {t['source_top1_pct']:.2f} %, "
                       f"bundle {t['bundle_top1_pct']:.2f} %, loss {t['loss_pts']:+.2f} points")
    out.append("DRAM bytes = JPEG (or lossless) stream + 11 bytes of side information; ratio = 16-bit bytes / "
               "DRAM bytes; biases are in neither figure")
    return "\n".join(out)


def cmd_info(args) -> int:
    from . import bundle

    if args.format not in ("table", "json"):
        raise RefimplError(f"unknown format '{args.format}' (choose from: table, json)")
    b = bundle.read_file(args.bundle)
    bundle.decoded(b, args.bundle)                 # every stream must decode: a damaged one is an error here
    if args.format == "json":
        rows = layer_rows(b)
        print(json.dumps(dict(bundle=args.bundle, network=b.network, source_sha256=b.source_sha256, layers=rows,
                              total=dict(raw_bytes=sum(r["raw_bytes"] for r in rows),
                                         dram_bytes=sum(r["dram_bytes"] for r in rows)),
                              search=b.search, units=dict(raw_bytes="bytes at 16 bits a weight",
                                                          dram_bytes="bytes (stream + side information)",
                                                          stream_bytes="bytes", ratio="raw_bytes / dram_bytes",
                                                          loss_pts="points of top-1")), indent=1))
    else:
        print(info_table(b, args.bundle))
    return 0


def _test_accuracy(spec, params, calib, args) -> tuple:
    """(top-1 hits, images) of the bit-exact engine on the 10,000 test images (refimpl.evaluate)."""
    from .. import evaluate, quantize
    from ..train import data

    pixels, labels = data.load(args.data or data.default_zip(), "test", args.cache)
    qnet = quantize.quantize_network(spec, params, calib)
    rep = evaluate.evaluate(evaluate.bitexact_classifier(spec, params, qnet), pixels, labels, 250)
    return rep["fixed_top1"], rep["images"], rep


def cmd_compress(args) -> int:
    from .. import networks, quantize, trained
    from ..fileio import atomic_write, file_sha256
    from . import bundle, codec, search

    spec = networks.get(args.network)
    quantize.check_supported(spec)
    if args.qf is not None and args.lossless:
        raise RefimplError("--qf and --lossless exclude each other")
    if args.qf is not None:
        codec.check_qf(args.qf)
    if not 0 <= args.budget <= 100:
        raise RefimplError(f"--budget {args.budget} must be 0..100 points of top-1")
    if args.val < 1:
        raise RefimplError(f"--val {args.val} must be >= 1")
    if args.refine < 0:
        raise RefimplError(f"--refine {args.refine} must be >= 0")
    searching = args.qf is None and not args.lossless
    if searching and not trained.has_shipped(spec):
        raise RefimplError(f"the quality search runs on CIFAR-10 ({', '.join(trained.SHIPPED)}); "
                           f"for network {spec.name} give --qf or --lossless")
    params, src, calib = trained.resolve(spec, args.weights, args.seed)
    if searching and calib is None:
        raise RefimplError("the quality search needs trained weights (the shipped ones, or an .npz), "
                           "not synthetic ones")
    sha = file_sha256(args.weights) if args.weights and args.weights != trained.SYNTHETIC else None
    weighted = [l.name for l in spec.layers if l.weighted]
    rec, codes = None, None
    if args.qf is not None or args.lossless:
        choices = {n: "lossless" if args.lossless else args.qf for n in weighted}
    else:
        from ..train import data
        tp, tl = data.load(args.data or data.default_zip(), "train", args.cache)
        idx = search.validation_indices(len(tl), args.val)
        out = search.run_search(spec, params, calib, tp[idx], tl[idx], args.budget, cache=args.sensitivity_cache,
                                refine=args.refine, log=_log)
        choices, codes, rec = out["choices"], out["codes"], out["record"]
    b = bundle.build(spec, params, choices, sha, rec, codes)
    if rec is not None and not args.no_test:
        _log("measuring on the 10,000 test images (source weights, then the bundle)")
        h0, n, _ = _test_accuracy(spec, params, calib, args)
        h1, _, rep = _test_accuracy(spec, bundle.to_params(b, spec), calib, args)
        rec = dict(rec, test=dict(images=n, source_top1_pct=100 * h0 / n, bundle_top1_pct=100 * h1 / n,
                                  loss_pts=100 * (h0 - h1) / n, bundle_float_top1_pct=100 * rep["float_acc_top1"]))
        b = bundle.Bundle(b.network, b.layers, b.source_sha256, rec)
    data_bytes = bundle.write(b)
    atomic_write(args.out, data_bytes)
    print(info_table(bundle.read(data_bytes, args.out), args.out))
    print(f"wrote {args.out}: {len(data_bytes):,} bytes ({src})")
    return 0
