#!/usr/bin/env python3
"""Split fine-tuning of alexnet-cifar's host partition on JPEG-coded features (issue 13).

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python tools/finetune_split.py train \\
        --data ZIP --cache /work/cache/cifar --out ft --at conv5 --qf-band 15 30 --epochs 10
    python tools/finetune_split.py eval --data ZIP --cache /work/cache/cifar --out ft \\
        --which base finetuned --qfs 5:95:5 12:28:1

``train`` runs refimpl.experiments.finetune.run: the edge pass once (cached in
--cache), then the epochs, a checkpoint after each (<out>/ckpt/epoch-NNN.npz);
started again with the same options it resumes after the last checkpoint.  It
writes <out>/<network>-ft-<at>.npz (the whole network) and finetune-log.json.
``eval`` measures the bit-exact split pipeline on the 10,000 test images at each
QF for the shipped ('base') and/or the fine-tuned weights and, once both are
measured, writes finetune-eval.csv/.json with the 1%-loss operating points.
``export --ckpt CKPT`` writes the whole network from one checkpoint's host
weights (to --finetuned, default <out>/alexnet-cifar-ft-<at>.npz).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from refimpl.errors import RefimplError
from refimpl.experiments import finetune


def qf_list(items) -> list:
    out = []
    for item in items:
        try:
            if ":" in item:
                lo, hi, step = (int(v) for v in item.split(":"))
                out += list(range(lo, hi + 1, step))
            else:
                out.append(int(item))
        except ValueError:
            raise RefimplError(f"--qfs '{item}': expected Q or LO:HI:STEP") from None
    return sorted(set(out))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("what", choices=("train", "eval", "export"))
    p.add_argument("--data", default=None, help="CIFAR-10 JPEG zip (default $REFIMPL_CIFAR_ZIP)")
    p.add_argument("--cache", default=None, help="cache folder for decoded CIFAR and edge maps")
    p.add_argument("--out", default="finetune", help="output folder (default ./finetune)")
    p.add_argument("--at", default="conv5", help="partition layer (default conv5)")
    p.add_argument("--qf-band", nargs=2, type=int, default=(15, 30), metavar=("LO", "HI"))
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--peak-lr", type=float, default=finetune.Recipe.peak_lr)
    p.add_argument("--weights", default=None, help="starting weights (default: shipped)")
    p.add_argument("--which", nargs="+", default=["base", "finetuned"], choices=("base", "finetuned"))
    p.add_argument("--finetuned", default=None, help="fine-tuned weights for eval (default <out>/alexnet-cifar-ft-<at>.npz)")
    p.add_argument("--ckpt", default=None, help="export: the checkpoint whose host weights to write")
    p.add_argument("--qfs", nargs="+", default=["5:95:5"], help="QFs for eval: Q or LO:HI:STEP (default 5:95:5)")
    a = p.parse_args(argv)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)   # noqa: E731
    if a.what == "train":
        s = finetune.run(a.data, a.cache, a.out, at=a.at, qf_band=tuple(a.qf_band), epochs=a.epochs, seed=a.seed,
                         weights=a.weights, log=log, peak_lr=a.peak_lr)
    elif a.what == "export":
        if not a.ckpt:
            raise RefimplError("export needs --ckpt CHECKPOINT")
        path = Path(a.finetuned or Path(a.out) / f"alexnet-cifar-ft-{a.at}.npz")
        s = finetune.export(a.ckpt, path, a.weights)
    else:
        ft = a.finetuned or str(Path(a.out) / f"alexnet-cifar-ft-{a.at}.npz")
        weights = {"base": a.weights, "finetuned": ft}
        s = finetune.evaluate(a.data, a.cache, a.out, a.at, {k: weights[k] for k in a.which}, qf_list(a.qfs), log=log)
    print(json.dumps(s, indent=1, default=str))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RefimplError as exc:
        print(f"refimpl: error: {exc}", file=sys.stderr)
        sys.exit(2)
