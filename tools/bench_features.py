"""Lossless feature coding against the peers a user would reach for.

For every split point of AlexNet (input, conv1 .. fc8) the same int16 maps,
from the embedded photo and the libjpeg-turbo test pictures under tests/data
(seeded synthetic weights, NOT trained features), are compressed by:

  ours   refimpl.split.lossless (run-length + Huffman, JPEG's back end), both scans and
         both predictors; the goals are checked on the default, scan chw, predictor left
  zlib   zlib.compress(level=9)        bz2   bz2.compress(9)        lzma   lzma.compress(preset 6)

all on the raw payload (big-endian int16, (C, H, W), 2 bytes a value) and
without the bitstream header (the same for every coder).  Also printed: the
zeroth-order entropy bound, H0 * values / 8 bytes, with H0 the entropy of the
map's value histogram.  Ratios are raw bytes / compressed bytes, summed over
the pictures; times are each coder's encode time for all pictures, best of N.

Goals (issue 10): ours >= zlib-9 on every layer; ours within 10 % of the
entropy bound (bytes <= 1.1 x bound); our encode time within 5x of zlib's.

Usage: python tools/bench_features.py [--repeat N] [--markdown]
"""
from __future__ import annotations

import argparse
import bz2
import lzma
import sys
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from bench import best_of  # noqa: E402
from refimpl import engine, image, networks, quantize  # noqa: E402
from refimpl.split import lossless, partition  # noqa: E402
from refimpl.split.analysis import entropy_bits  # noqa: E402

PICTURES = [None] + sorted((ROOT / "tests" / "data" / "jpeg").glob("test*.*"))


def peers():
    return {"zlib-9": lambda b: zlib.compress(b, 9), "bz2-9": lambda b: bz2.compress(b, 9),
            "lzma-6": lambda b: lzma.compress(b)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="best of N timings (default 3)")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table (for the README)")
    args = ap.parse_args(argv)
    spec = networks.get("alexnet")
    qnet = partition.quantize_for_split(spec, quantize.synthetic_params(spec, 0))
    pics = [p for p in PICTURES if p is None or p.suffix in (".ppm", ".jpg", ".png")]
    x = quantize.pixels_to_int(np.stack([image.load(p, spec.input_shape) for p in pics]), spec)
    acts = {"input": x, **{r.name: r.output for r in engine.run(qnet, x)}}
    rows, fails, time_ratio = [], [], []
    tot = dict(ours=0.0, **{k: 0.0 for k in peers()})
    for at in partition.split_points(spec):
        maps = acts[at]
        raws = [m.astype(">i2").tobytes() for m in maps]
        raw = sum(map(len, raws))
        bound = sum(entropy_bits(m) * m.size / 8 for m in maps)
        configs = [(sc, pr) for pr in ("left", "none") for sc in lossless.SCANS]
        size = {c: sum(len(lossless.encode(m, *c)) for m in maps) for c in configs}
        best = ("chw", "left")                                   # the default configuration
        for m in maps:                                           # exactness, every run
            assert np.array_equal(lossless.decode(lossless.encode(m, *best), m.shape, *best), m)
        t = {"ours": best_of(lambda: [lossless.encode(m, *best) for m in maps], args.repeat)}
        sizes = {"ours": size[best]}
        for name, fn in peers().items():
            sizes[name] = sum(len(fn(b)) for b in raws)
            t[name] = best_of(lambda: [fn(b) for b in raws], args.repeat)
        for k in t:
            tot[k] += t[k]
        ok = sizes["ours"] <= sizes["zlib-9"] and sizes["ours"] <= 1.1 * bound
        if not ok:
            fails.append(at)
        rows.append([at, "x".join(map(str, maps.shape[1:])), f"{raw:,}", f"{raw / bound:.2f}",
                     *(f"{raw / size[c]:.2f}" for c in configs),
                     *(f"{raw / sizes[k]:.2f}" for k in peers()), f"{sizes['ours'] / bound:.3f}",
                     f"{t['ours'] * 1e3:.1f}", *(f"{t[k] * 1e3:.1f}" for k in peers()),
                     f"{t['ours'] / t['zlib-9']:.2f}"])
        time_ratio.append((t["ours"] / t["zlib-9"], at))
    head = ["layer", "map CxHxW", "raw bytes", "H0 bound (x)", *(f"ours {sc}/{pr} (x)" for sc, pr in configs),
            *(f"{k} (x)" for k in peers()), "ours / bound", "ours (ms)", *(f"{k} (ms)" for k in peers()),
            "ours / zlib-9 time"]
    print(f"alexnet, {len(pics)} pictures, seeded synthetic weights (not trained features); ratios = raw bytes / "
          f"compressed bytes; times: encode of all pictures, best of {args.repeat}")
    if args.markdown:
        print("| " + " | ".join(head) + " |")
        print("| " + " | ".join(["---"] * 2 + ["---:"] * (len(head) - 2)) + " |")
        for r in rows:
            print("| " + " | ".join(r) + " |")
    else:
        from tabulate import tabulate
        print(tabulate(rows, headers=head, disable_numparse=True))
    print(f"encode time, all layers: ours {tot['ours'] * 1e3:.0f} ms, zlib-9 {tot['zlib-9'] * 1e3:.0f} ms: "
          f"ratio {tot['ours'] / tot['zlib-9']:.2f}; per layer at most {max(time_ratio)[0]:.2f} ({max(time_ratio)[1]}) "
          f"(goal <= 5)")
    print("'ours / bound' and the times are for the default chw/left")
    print(f"layers missing a size goal (>= zlib-9 and <= 1.1 x bound): {', '.join(fails) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
