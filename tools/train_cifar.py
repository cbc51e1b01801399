#!/usr/bin/env python3
"""Train the alexnet-cifar reference model on CIFAR-10 in NumPy (float32).

    OPENBLAS_NUM_THREADS=2 python tools/train_cifar.py --data ZIP --epochs 8 \
        --out weights.npz --ckpt-dir /work/cache/train
    python tools/train_cifar.py --resume /work/cache/train/epoch-003.npz --out weights.npz

A checkpoint (weights, momentum buffers, rng state, recipe, log) is written
atomically after every epoch as <ckpt-dir>/epoch-NNN.npz; --resume continues
from one with the recipe stored in it, bit for bit as if never stopped.  The
JSON log (--log, default <out>.log.json) gets one record per epoch.  The
final weights are float32, with the input scaling folded in (train.model.export),
in the .npz layout `refimpl run --weights` reads.
"""
from __future__ import annotations

import argparse
import io
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from refimpl.errors import RefimplError
from refimpl.fileio import atomic_write
from refimpl.networks import get
from refimpl.train import data, model, optim
from refimpl.train.checkpoint import load_checkpoint, save_checkpoint
from refimpl.train.recipe import Recipe, predict, train_epoch

RECIPE_FLAGS = {"epochs": int, "batch": int, "peak_lr": float, "warmup": float, "momentum": float,
                "weight_decay": float, "seed": int, "crop_pad": int}


def write_weights(spec, params, out):
    """The float32 .npz `refimpl run --weights` reads (input scaling folded into conv1)."""
    buf = io.BytesIO()
    np.savez(buf, **model.export(spec, params))
    atomic_write(Path(out), buf.getvalue())
    print(f"wrote {out}", file=sys.stderr)


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=None, help=f"CIFAR-10 JPEG zip (default ${data.ENV_ZIP} or {data.DEFAULT_ZIP})")
    p.add_argument("--cache", default=None, help=f"decoded-array cache folder (default ${data.ENV_CACHE} or {data.DEFAULT_CACHE})")
    p.add_argument("--out", required=True, help="final float32 weights .npz")
    p.add_argument("--ckpt-dir", default="train-ckpt", help="folder for epoch-NNN.npz checkpoints (default ./train-ckpt)")
    p.add_argument("--resume", default=None, help="checkpoint to continue from (its recipe is used)")
    p.add_argument("--log", default=None, help="JSON log (default <out>.log.json)")
    p.add_argument("--stop-after", type=int, default=None,
                   help="stop after this many epochs of this run (checkpoint kept; resume later)")
    p.add_argument("--export", action="store_true",
                   help="only write --out from the --resume checkpoint's weights (no training)")
    p.add_argument("--eval-every", type=int, default=5, help="evaluate on every k-th test image after each epoch (default 5)")
    p.add_argument("--train-every", type=int, default=1,
                   help="train on every k-th training image only (smoke tests; default 1 = all 50,000)")
    p.add_argument("--dropout", default=None, help="e.g. fc6=0.5,fc7=0.5 (default none)")
    for name, typ in RECIPE_FLAGS.items():
        p.add_argument("--" + name.replace("_", "-"), type=typ, default=None,
                       help=f"recipe (default {getattr(Recipe(), name)})")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse(argv)
    given = {k: getattr(args, k) for k in RECIPE_FLAGS if getattr(args, k) is not None}
    if args.dropout:
        try:
            given["dropout"] = {k: float(v) for k, v in (kv.split("=") for kv in args.dropout.split(","))}
        except ValueError:
            raise RefimplError(f"--dropout '{args.dropout}': expected layer=p[,layer=p]") from None
    if args.resume:
        recipe, params, velocity, rng, done, log = load_checkpoint(args.resume)
        for k, v in given.items():
            if v != getattr(recipe, k):
                raise RefimplError(f"--{k.replace('_', '-')} {v} differs from the checkpoint's {getattr(recipe, k)}; "
                                   "a resumed run keeps its recipe")
    else:
        recipe = Recipe(**given)
        rng = np.random.default_rng(recipe.seed)
        params = model.init_params(get(recipe.network), rng)
        velocity = optim.sgd_init(params)
        done, log = 0, []
    spec = get(recipe.network)
    if args.export:
        if not args.resume:
            raise RefimplError("--export needs --resume CHECKPOINT")
        write_weights(spec, params, args.out)
        return 0
    from tqdm import tqdm
    pixels, labels = data.load(args.data, "train", args.cache)
    pixels, labels = pixels[::args.train_every], labels[::args.train_every]
    tpix, tlab = data.load(args.data, "test", args.cache)
    tpix, tlab = tpix[::args.eval_every], tlab[::args.eval_every]
    ckpt_dir = Path(args.ckpt_dir)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    log_path = Path(args.log or str(args.out) + ".log.json")
    print(f"recipe {json.dumps(recipe.as_dict())}; starting at epoch {done + 1}", file=sys.stderr)
    tty = sys.stderr.isatty()
    last = recipe.epochs if args.stop_after is None else min(recipe.epochs, done + args.stop_after)
    for epoch in range(done, last):
        bar = tqdm(total=recipe.steps_per_epoch(len(pixels)), desc=f"epoch {epoch + 1}/{recipe.epochs}",
                   unit="batch", mininterval=1 if tty else 60, file=sys.stderr)
        t0 = time.perf_counter()

        def progress(s, steps, loss, acc, lr):
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.3f}", acc=f"{acc:.3f}", lr=f"{lr:.4f}",
                            img_s=f"{(s + 1) * recipe.batch / (time.perf_counter() - t0):.0f}", refresh=False)

        stats = train_epoch(spec, recipe, params, velocity, pixels, labels, epoch, rng, progress)
        bar.close()
        seconds = time.perf_counter() - t0
        test_acc = float(np.mean(predict(spec, params, tpix).argmax(axis=1) == tlab))
        rec = dict(epoch=epoch + 1, train_loss=round(stats["loss"], 5), train_acc=round(stats["acc"], 5),
                   test_acc_subset=round(test_acc, 5), test_images=len(tlab), seconds=round(seconds, 1),
                   images_per_s=round(recipe.steps_per_epoch(len(pixels)) * recipe.batch / seconds, 1),
                   end_utc=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
        log.append(rec)
        print(json.dumps(rec), file=sys.stderr, flush=True)
        save_checkpoint(ckpt_dir / f"epoch-{epoch + 1:03d}.npz", recipe, params, velocity, rng, epoch + 1, log)
        atomic_write(log_path, (json.dumps(dict(recipe=recipe.as_dict(), epochs=log), indent=1) + "\n").encode())
    if last == recipe.epochs:
        write_weights(spec, params, args.out)
    else:
        print(f"stopped after epoch {last}; continue with --resume {ckpt_dir / f'epoch-{last:03d}.npz'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RefimplError as exc:
        print(f"refimpl: error: {exc}", file=sys.stderr)
        sys.exit(2)
