"""Benchmark refimpl.jpeg against Pillow (libjpeg-turbo) in the same run.

Workloads (all greyscale, quality 75, Pillow's defaults otherwise):

mosaic : the 208x208 feature mosaic of the default run -- AlexNet conv5
         (256 x 13 x 13) of the default image with the synthetic weights of
         seed 0, turned into 8-bit samples and tiled by ``refimpl.features``
         (``to_samples`` then ``mosaic``).
1MP    : libjpeg-turbo's test photo ``testorig.ppm`` (tests/data/jpeg),
         converted to "L" and resized to 1024x1024 with Pillow's LANCZOS.
batch  : 100 mosaics, the conv5 channels of the default run in 100 seeded
         random orders (``np.random.default_rng(seed).permutation``, seeds
         0..99), each encoded / decoded by one call of each codec in a loop
         (refimpl has no shared-set-up batch API; see the README).

Both codecs encode the raw samples and decode Pillow's file; before timing,
the run checks that refimpl's files equal Pillow's byte for byte and its
pixels equal Pillow's (exit 1 otherwise).  Each figure is the best of N
repetitions of CPU time (``time.process_time``, which counts every thread
of the process), so another job on the shared machine inflates it less than
wall time.  Both codecs run on one thread (libjpeg-turbo in Pillow and
refimpl's NumPy code are single-threaded; the BLAS thread count, which only
the DCT's small matrix products could use, is set with --blas-threads
before NumPy loads and printed).

Prints per workload ``<name> encode ratio: X`` and ``<name> decode ratio: Y``
(refimpl CPU time / Pillow CPU time) with the goals of issue 11.

Usage: python tools/bench_jpeg.py [--repeat N] [--blas-threads T]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

QUALITY = 75
PHOTO = ROOT / "tests" / "data" / "jpeg" / "testorig.ppm"
PHOTO_SIZE = (1024, 1024)
BATCH = 100
GOALS = {"encode": 5.0, "decode": 10.0}  # issue 11 goal 5: ratio to Pillow
BLAS_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def best_cpu(fn, repeat: int) -> float:
    """Best CPU time (seconds, time.process_time) of ``repeat`` calls of ``fn``."""
    best = float("inf")
    for _ in range(repeat):
        t = time.process_time()
        fn()
        best = min(best, time.process_time() - t)
    return best


def pillow_encode(pixels) -> bytes:
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", quality=QUALITY)
    return buf.getvalue()


def pillow_decode(data: bytes):
    import numpy as np
    from PIL import Image
    return np.asarray(Image.open(io.BytesIO(data)))


def conv5_samples():
    """uint8 (256, 13, 13) conv5 samples of the default run."""
    from refimpl import engine, features, image, networks, quantize
    spec = networks.get("alexnet")
    pixels = image.load(None, spec.input_shape)
    qnet = quantize.quantize_network(spec, quantize.synthetic_params(spec, 0), pixels)
    x = quantize.pixels_to_int(pixels, spec)
    conv5 = list(engine.run(qnet, x, until="conv5"))[-1]
    return features.to_samples(conv5.output[0])[0]


def workloads():
    """{name: list of uint8 (H, W) images}."""
    import numpy as np
    from PIL import Image
    from refimpl import features
    u8 = conv5_samples()
    mosaic = features.mosaic(u8)
    photo = np.asarray(Image.open(PHOTO).convert("L").resize(PHOTO_SIZE, Image.LANCZOS))
    batch = [features.mosaic(u8[np.random.default_rng(seed).permutation(len(u8))])
             for seed in range(BATCH)]
    return {"mosaic": [mosaic], "1MP": [photo], f"batch{BATCH}": batch}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200,
                        help="repetitions of the mosaic (1MP: /10, batch: /100, at least 5)")
    parser.add_argument("--blas-threads", type=int, default=1)
    args = parser.parse_args(argv)
    for var in BLAS_VARS:
        os.environ[var] = str(args.blas_threads)
    import numpy as np
    import refimpl.jpeg as rjpeg

    print(f"threads: Pillow 1, refimpl 1 (NumPy), BLAS {args.blas_threads} "
          f"({', '.join(BLAS_VARS)}={args.blas_threads}); CPU time "
          f"(time.process_time), best of N; quality {QUALITY}")
    failed = False
    for name, images in workloads().items():
        files = [pillow_encode(im) for im in images]
        if [rjpeg.encode(im, quality=QUALITY) for im in images] != files:
            print(f"error: {name}: encoder output differs from Pillow's", file=sys.stderr)
            return 1
        if not all(np.array_equal(rjpeg.decode(f), pillow_decode(f)) for f in files):
            print(f"error: {name}: decoded pixels differ from Pillow's", file=sys.stderr)
            return 1
        pixels = sum(im.size for im in images)
        repeat = max(5, args.repeat * 43264 // pixels)
        t = {
            ("pillow", "encode"): best_cpu(lambda: [pillow_encode(im) for im in images], repeat),
            ("refimpl", "encode"): best_cpu(
                lambda: [rjpeg.encode(im, quality=QUALITY) for im in images], repeat),
            ("pillow", "decode"): best_cpu(lambda: [pillow_decode(f) for f in files], repeat),
            ("refimpl", "decode"): best_cpu(lambda: [rjpeg.decode(f) for f in files], repeat),
        }
        shape = "x".join(map(str, images[0].shape))
        print(f"{name}: {len(images)} x {shape}, {sum(map(len, files))} bytes, "
              f"best of {repeat}, threads alive {threading.active_count()}")
        for op in ("encode", "decode"):
            ratio = t["refimpl", op] / t["pillow", op]
            failed |= ratio > GOALS[op]
            print(f"  pillow {op}: {t['pillow', op] * 1e3:8.2f} ms   "
                  f"refimpl {op}: {t['refimpl', op] * 1e3:8.2f} ms")
            print(f"{name} {op} ratio: {ratio:.2f}  (goal <= {GOALS[op]:g})")
    print("goals " + ("not all met" if failed else "met"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
