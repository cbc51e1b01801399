"""Rebuild refimpl/data/default.png from libjpeg-turbo's test photograph.

    python tools/make_default_image.py ../shared/conformance/libjpeg-turbo/testorig.ppm

testorig.ppm is 227x149 RGB (IJG licence, see refimpl/data/LICENSE-IJG.txt).
The default input is its centred 149x149 square, upscaled to AlexNet's
227x227 with refimpl.image.resize_bilinear, written as PNG (lossless).
"""
import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from refimpl.image import center_crop, read_rgb, resize_bilinear  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ppm", help="path to testorig.ppm")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "refimpl" / "data" / "default.png"))
    args = ap.parse_args()
    rgb = read_rgb(args.ppm)
    square = resize_bilinear(center_crop(rgb, 1.0), 227, 227)
    Image.fromarray(np.ascontiguousarray(square.transpose(1, 2, 0))).save(args.out, optimize=False)
    print(f"wrote {args.out} {square.shape}")


if __name__ == "__main__":
    main()
