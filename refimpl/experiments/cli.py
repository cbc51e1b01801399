"""``refimpl experiment NAME``: the paper's accuracy experiments (refimpl/cli.py calls
add_parser and the parser's func).

Every experiment writes ``<out>/<name>[-<tag>].csv`` and ``.json`` (units inside)
and, when matplotlib (the plot extra) is installed, ``.png``; points measured so
far are kept in ``<cache>/experiments/`` so a rerun resumes.  Progress: a bar per
operating point on a terminal, and one line per finished point on stderr always
(a log file of a background run shows where it is).
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from ..errors import RefimplError, check_choice

EXPERIMENTS = ("sparsity", "compression", "qf-sweep", "input", "finetune")
RATIO_FILE = "ratios-alexnet-cifar.csv"


def _qf_list(text: str) -> list:
    try:
        if ".." in text:                     # 5..95:5
            span, _, step = text.partition(":")
            a, b = span.split("..")
            values = list(range(int(a), int(b) + 1, int(step or 1)))
        else:
            values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise RefimplError(f"--qf '{text}': expected a list 10,30,50 or a range 5..95:5") from None
    if not values or any(not 1 <= q <= 100 for q in values):
        raise RefimplError(f"--qf '{text}': every QF must be in 1..100")
    return sorted(set(values))


def add_parser(sub):
    p = sub.add_parser("experiment", help="the paper's feature-coding experiments (Figs. 4, 5) on alexnet-cifar",
                       description="Run one of the paper's accuracy experiments on the trained alexnet-cifar over "
                                   "CIFAR-10 and write CSV, JSON and (with matplotlib) PNG: sparsity (Fig. 4a), "
                                   "compression (Fig. 4b, lossless and at 1 %% loss, with the k-bit peer and the "
                                   "system model's ratio table), qf-sweep (Fig. 5b), input (host-only, the picture "
                                   "JPEG-coded), finetune (split fine-tuning). Resumable: rerun the same command.")
    p.add_argument("name", metavar="NAME", help=", ".join(EXPERIMENTS))
    p.add_argument("--data", help="CIFAR-10 JPEG zip (default $REFIMPL_CIFAR_ZIP or ../shared/data/cifar10-jpeg.zip)")
    p.add_argument("--cache", help="folder for decoded images, edge features and finished points "
                                   "(default $REFIMPL_CACHE or ~/.cache/refimpl)")
    p.add_argument("--out", default="out/experiments", help="output folder (default out/experiments)")
    p.add_argument("--weights", help="host weights .npz (e.g. fine-tuned); default the shipped ones. The 1 %% loss "
                                     "is always against the shipped network, unsplit")
    p.add_argument("--tag", help="suffix of the output names (default: none; 'ft' is usual with --weights)")
    p.add_argument("--quick", action="store_true", help="300 images a set, coarse QF grid, one mapping/mosaic")
    p.add_argument("--images", type=int, help="images per set (overrides the default 10,000 test / 2,000 val)")
    p.add_argument("--layers", help="comma-separated partition layers (sparsity: every split point; "
                                    "compression: input,conv1,pool1,conv2,pool2,conv3,conv4,conv5,pool5,fc6,fc7)")
    p.add_argument("--at", default="conv5", help="qf-sweep: the partition layer (default conv5)")
    p.add_argument("--qf", help="qf-sweep and input: QF list or range (default 5..95:5); finetune: the QFs of "
                                "its before/after test evaluation (default: none)")
    p.add_argument("--mapping", default="shift", help="qf-sweep: 8-bit mapping, shift (default) or minmax")
    p.add_argument("--mosaic", default="packed", help="qf-sweep: packed (default) or aligned")
    p.add_argument("--host", default="fixed", help="host mode: fixed (default, bit-exact engine) or float")
    p.add_argument("--val-size", type=int, default=None, help="validation images drawn from the training split "
                                                              "(default 2,000)")
    p.add_argument("--val-seed", type=int, default=None, help="seed of that draw (default 13)")
    p.add_argument("--epochs", type=int, default=10, help="finetune: epochs of the recipe (default 10; the "
                                                          "shipped weights are its epoch-6 checkpoint)")
    p.add_argument("--qf-band", help="finetune: QFs drawn uniformly per map and epoch, LO..HI (default 15..30)")
    p.add_argument("--seed", type=int, default=0, help="finetune: seed of the QF draws, shuffles and dropout "
                                                      "(default 0)")
    p.add_argument("--no-plot", action="store_true", help="do not write the PNG even when matplotlib is installed")
    p.set_defaults(func=cmd)
    return p


def _bar_factory():
    from tqdm import tqdm

    def bar(desc, total):
        t = tqdm(total=total, desc=desc, unit="img", disable=None, file=sys.stderr, leave=False)

        def update(n):
            t.update(n)
            if t.n >= total:
                t.close()
        return update
    return bar


def _log(text: str):
    print(f"refimpl: {time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)


def _plot(args, fn, rep, path, extra=None):
    if args.no_plot:
        return
    try:
        fn(rep, path, **(extra or {}))
    except RefimplError as exc:
        if "extra" in str(exc):
            _log(f"no plot: {exc}")
            return
        raise
    _log(f"wrote {path}")


def _read(path: Path):
    return json.loads(path.read_text()) if path.exists() else None


def write_ratio_table(out: Path):
    """Rebuild <out>/ratios-alexnet-cifar.csv from the compression (and input, and
    compression-ft) reports in ``out``, when the compression report covers the test set."""
    from . import compression, store
    rep = _read(out / "compression.json")
    if rep is None or rep.get("quick"):
        return
    rows = compression.ratio_rows(rep, _read(out / "input.json"), _read(out / "compression-ft.json"))
    store.write_csv(out / RATIO_FILE, compression.RATIO_HEAD, rows)
    _log(f"wrote {out / RATIO_FILE}")


def cmd(args) -> int:
    check_choice("experiment", args.name, EXPERIMENTS)
    if args.name == "finetune":
        from . import finetune
        lo, sep, hi = (args.qf_band or "15..30").partition("..")
        try:
            band = (int(lo), int(hi)) if sep else None
        except ValueError:
            band = None
        if band is None:
            raise RefimplError(f"--qf-band '{args.qf_band}': expected LO..HI, e.g. 15..30")
        finetune.run(data_zip=args.data, cache_dir=args.cache, out_dir=args.out, at=args.at, qf_band=band,
                     epochs=args.epochs, seed=args.seed, weights=args.weights,
                     eval_qfs=_qf_list(args.qf) if args.qf else None, log=_log)
        return 0
    from . import compression, context, inputjpeg, plots, qfsweep, sparsity, store
    from .. import networks
    from ..split import mapping, mosaic, partition
    spec = networks.get(context.NETWORK)
    points = partition.split_points(spec)
    qfs = _qf_list(args.qf) if args.qf else None
    layers = None
    if args.layers:
        layers = [s.strip() for s in args.layers.split(",") if s.strip()]
        if not layers:
            raise RefimplError("--layers: empty list")
        for at in layers:
            partition.check_split_point(spec, at)
    last = spec.layers[-1].name
    if args.name == "compression" and layers and last in layers:
        raise RefimplError(f"--layers: {last} is the last layer (edge-only: nothing to code)")
    if args.name == "qf-sweep":
        partition.check_split_point(spec, args.at)
        if args.at == last:
            raise RefimplError(f"--at {last} is the last layer (edge-only: nothing to code)")
        mapping.check_mapping(args.mapping)
        mosaic.check_mosaic(args.mosaic)
    if args.images is not None and args.images < 1:
        raise RefimplError(f"--images {args.images} must be >= 1")
    name = args.name + (f"-{args.tag}" if args.tag else "")
    val_size = args.val_size if args.val_size is not None else context.VAL_SIZE
    val_seed = args.val_seed if args.val_seed is not None else context.VAL_SEED
    if val_seed < 0:
        raise RefimplError(f"--val-seed {val_seed} must be >= 0")
    ctx = context.build(args.weights, args.data, args.cache, args.quick, args.images, args.host, val_size, val_seed,
                        need_val=args.name == "compression")
    out = store.out_dir(args.out)
    st = store.Store(ctx.cache / "experiments" / f"{args.name}.jsonl")
    bar = _bar_factory()
    t0 = time.time()
    _log(f"experiment {name}: {ctx.weights}, host {ctx.host}, "
         + ", ".join(f"{k} {len(v[1]):,} images" for k, v in ctx.sets.items()))
    if args.name == "sparsity":
        rep = sparsity.run(ctx, st, layers or points, bar, _log)
        store.write_csv(out / f"{name}.csv", sparsity.CSV_HEAD, sparsity.csv_rows(rep))
        plot, extra = plots.sparsity, None
    elif args.name == "compression":
        rep = compression.run(ctx, st, layers or compression.LAYERS, bar, _log)
        store.write_csv(out / f"{name}.csv", compression.CSV_HEAD, compression.csv_rows(rep))
        plot, extra = plots.compression, None
    elif args.name == "qf-sweep":
        rep = qfsweep.run(ctx, st, args.at, qfs or qfsweep.QFS, args.mapping, args.mosaic, bar, _log)
        store.write_csv(out / f"{name}.csv", qfsweep.CSV_HEAD, qfsweep.csv_rows(rep))
        plot = plots.qf_sweep
        others = [p for p in sorted(out.glob("qf-sweep*.json")) if p.stem != name]
        extra = dict(others=[_read(p) for p in others])
    else:
        rep = inputjpeg.run(ctx, st, qfs or inputjpeg.QFS, bar, _log)
        store.write_csv(out / f"{name}.csv", inputjpeg.CSV_HEAD, inputjpeg.csv_rows(rep))
        plot, extra = plots.input_jpeg, None
    rep["seconds_this_run"] = round(time.time() - t0, 1)
    rep["points_measured_this_run"] = st.measured      # the others came from the store (earlier runs)
    store.write_json(out / f"{name}.json", rep)
    _log(f"wrote {out / (name + '.csv')} and .json ({rep['seconds_this_run']:.0f} s, "
         f"{st.measured} points measured, the rest from {st.path})")
    _plot(args, plot, rep, out / f"{name}.png", extra)
    if args.name in ("compression", "input") and not ctx.quick and args.images is None:
        write_ratio_table(out)
    return 0
