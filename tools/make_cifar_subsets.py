#!/usr/bin/env python3
"""Cut the two fixed CIFAR-10 subsets the project ships, from the JPEG zip.

    python tools/make_cifar_subsets.py --data ../shared/data/cifar10-jpeg.zip

* tests/data/cifar10/test-300.npz : test/<class>/0000.jpg..0029.jpg of each
  class (30 x 10 = 300 images), for the suite's accuracy checks.
* refimpl/data/alexnet-cifar-calib.npz : train/<class>/NNNN.jpg for NNNN in
  0000, 0250, ..., 4750 (20 x 10 = 200 images, every 250th training image in
  class order), the activation-format calibration set of the shipped model.

Each holds pixels uint8 (N, 3, 32, 32) RGB as refimpl.train.data decodes them
(Pillow), labels uint8 (N,) (index into data.CLASSES) and names (the zip
member of each image).  Output is deterministic: same zip, same bytes.
"""
from __future__ import annotations

import argparse
import io
import sys
import zipfile
from pathlib import Path

import numpy as np

from refimpl.errors import RefimplError
from refimpl.fileio import atomic_write
from refimpl.train import data

ROOT = Path(__file__).resolve().parents[1]
TEST_OUT = ROOT / "tests" / "data" / "cifar10" / "test-300.npz"
CALIB_OUT = ROOT / "refimpl" / "data" / "alexnet-cifar-calib.npz"


def subset(zip_path, split: str, numbers) -> dict:
    """Decode test|train/<class>/<NNNN>.jpg for every class and NNNN in ``numbers``."""
    data._members(zip_path, split)[0].close()           # validates the zip, one clear line if not
    names = [f"{split}/{c}/{n:04d}.jpg" for c in data.CLASSES for n in numbers]
    with zipfile.ZipFile(zip_path) as z:
        pixels = data.decode(z, names, zip_path)
    labels = np.repeat(np.arange(len(data.CLASSES), dtype=np.uint8), len(numbers))
    return dict(pixels=pixels, labels=labels, names=np.array(names))


def write(path: Path, arrays: dict):
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write(path, buf.getvalue())
    print(f"wrote {path.relative_to(ROOT)}: {len(arrays['labels'])} images, {path.stat().st_size:,} bytes")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=None, help=f"CIFAR-10 JPEG zip (default ${data.ENV_ZIP} or {data.DEFAULT_ZIP})")
    args = p.parse_args(argv)
    zip_path = args.data or data.default_zip()
    write(TEST_OUT, subset(zip_path, "test", range(30)))
    write(CALIB_OUT, subset(zip_path, "train", range(0, 5000, 250)))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RefimplError as exc:
        print(f"refimpl: error: {exc}", file=sys.stderr)
        sys.exit(2)
