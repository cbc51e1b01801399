"""Benchmark refimpl.jpeg against Pillow (libjpeg-turbo) in the same run.

Test image: the libjpeg-turbo test photo ``testorig.ppm`` (227x149 RGB,
shipped as tests/data/jpeg/testorig.ppm), converted to greyscale ("L") and
resized to 1024x1024 with Pillow's LANCZOS filter.  Both codecs encode it at
quality 75 (Pillow's default subsampling; for a greyscale image only the SOF
sampling byte would differ) and decode Pillow's file (``np.asarray(
Image.open(...))`` for Pillow).  Each timing is the best of N runs.

Prints the absolute times and::

    encode ratio: X    (our encode time / Pillow encode time)
    decode ratio: Y    (our decode time / Pillow decode time)

Usage: python tools/bench_jpeg.py [--repeat N] [--image PATH]
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

import refimpl.jpeg as rjpeg  # noqa: E402
from bench import best_of  # noqa: E402

DEFAULT_IMAGE = ROOT / "tests" / "data" / "jpeg" / "testorig.ppm"
SIZE = (1024, 1024)
QUALITY = 75


def pillow_encode(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=QUALITY)
    return buf.getvalue()


def pillow_decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--image", type=Path, default=DEFAULT_IMAGE)
    args = parser.parse_args(argv)

    image = Image.open(args.image).convert("L").resize(SIZE, Image.LANCZOS)
    pixels = np.asarray(image)
    reference = pillow_encode(image)
    ours = rjpeg.encode(pixels, quality=QUALITY, subsampling=None)
    if ours != reference:
        print("error: encoder output differs from Pillow's", file=sys.stderr)
        return 1
    if not np.array_equal(rjpeg.decode(reference), pillow_decode(reference)):
        print("error: decoded pixels differ from Pillow's", file=sys.stderr)
        return 1

    t_pil_enc = best_of(lambda: pillow_encode(image), args.repeat)
    t_our_enc = best_of(lambda: rjpeg.encode(pixels, quality=QUALITY,
                                               subsampling=None), args.repeat)
    t_pil_dec = best_of(lambda: pillow_decode(reference), args.repeat)
    t_our_dec = best_of(lambda: rjpeg.decode(reference), args.repeat)

    print(f"image: {args.image.name} -> L {SIZE[0]}x{SIZE[1]} LANCZOS, "
          f"quality {QUALITY}, {len(reference)} bytes, best of {args.repeat}")
    print(f"pillow encode: {t_pil_enc * 1e3:.2f} ms   "
          f"refimpl encode: {t_our_enc * 1e3:.2f} ms")
    print(f"pillow decode: {t_pil_dec * 1e3:.2f} ms   "
          f"refimpl decode: {t_our_dec * 1e3:.2f} ms")
    print(f"encode ratio: {t_our_enc / t_pil_enc:.2f}")
    print(f"decode ratio: {t_our_dec / t_pil_dec:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
