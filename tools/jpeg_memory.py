"""Peak memory of ``refimpl.jpeg.decode`` on a large file, against its output.

Writes (once, cached in ``--work``) a 16384x16384 colour 4:4:4 JPEG made by
Pillow from the test photograph enlarged 8x and tiled (smooth content, a
file of a few MB, like the 7 MB file of issue 9), then decodes it in a fresh
subprocess and reports that process's peak resident set size
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``) and the peak of Python and
NumPy allocations (``tracemalloc``, which NumPy reports to) during
``decode`` alone, each as a multiple of the output array (H * W * 3 bytes).
The decoded pixels are checked against Pillow's (libjpeg-turbo C path,
``JSIMD_FORCENONE=1``) by sha256.

    nice -n 10 python tools/jpeg_memory.py [--size 16384] [--subsampling 4:4:4]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_CHILD = r"""
import hashlib, json, resource, sys, time, tracemalloc
import numpy as np
import refimpl.jpeg as rjpeg
data = open(sys.argv[1], "rb").read()
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
tracemalloc.start()
t0, c0 = time.perf_counter(), time.process_time()
pixels = rjpeg.decode(data)
seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
_, traced = tracemalloc.get_traced_memory()
tracemalloc.stop()
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps(dict(shape=list(pixels.shape), output_bytes=int(pixels.nbytes),
                      file_bytes=len(data), peak_rss=rss, rss_before=base,
                      traced_peak=traced, seconds=seconds, cpu=cpu,
                      sha256=hashlib.sha256(np.ascontiguousarray(pixels)).hexdigest())))
"""

_ORACLE = r"""
import hashlib, sys
import numpy as np
from PIL import Image
Image.MAX_IMAGE_PIXELS = None
with Image.open(sys.argv[1]) as im:
    print(hashlib.sha256(np.asarray(im).tobytes()).hexdigest())
"""


def make_file(path: Path, size: int, subsampling: str) -> None:
    from PIL import Image

    photo = Image.open(ROOT / "tests" / "data" / "jpeg" / "testorig.ppm")
    tile = photo.resize((photo.width * 8, photo.height * 8), Image.LANCZOS)
    canvas = Image.new("RGB", (size, size))
    for y in range(0, size, tile.height):
        for x in range(0, size, tile.width):
            canvas.paste(tile, (x, y))
    canvas.save(path, "JPEG", quality=75, subsampling=subsampling)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=16384, help="width = height (default 16384)")
    ap.add_argument("--subsampling", default="4:4:4", choices=["4:4:4", "4:2:2", "4:2:0"])
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()),
                    help="folder for the generated JPEG (default: the temp folder)")
    ap.add_argument("--no-oracle", action="store_true", help="skip the Pillow pixel check")
    args = ap.parse_args(argv)
    path = args.work / f"refimpl-jpeg-memory-{args.size}-{args.subsampling.replace(':', '')}.jpg"
    if not path.exists():
        # A separate process, so that its memory is not counted below.
        subprocess.run([sys.executable, __file__, "--make", str(path), str(args.size),
                        args.subsampling], check=True)
    out = subprocess.run([sys.executable, "-c", _CHILD, str(path)], check=True,
                         capture_output=True, text=True)
    m = json.loads(out.stdout)
    ratio_rss = m["peak_rss"] / m["output_bytes"]
    ratio_traced = m["traced_peak"] / m["output_bytes"]
    print(f"{path.name}: {m['shape'][1]}x{m['shape'][0]} {args.subsampling}, "
          f"file {m['file_bytes'] / 1e6:.1f} MB, output {m['output_bytes'] / 1e6:.0f} MB, "
          f"decode {m['seconds']:.1f} s wall, {m['cpu']:.1f} s CPU")
    print(f"peak RSS {m['peak_rss'] / 1e6:.0f} MB = {ratio_rss:.2f}x the output "
          f"(process before decode: {m['rss_before'] / 1e6:.0f} MB, input bytes included); "
          f"traced NumPy/Python peak during decode {m['traced_peak'] / 1e6:.0f} MB = "
          f"{ratio_traced:.2f}x")
    if not args.no_oracle:
        env = dict(os.environ, JSIMD_FORCENONE="1")
        ref = subprocess.run([sys.executable, "-c", _ORACLE, str(path)], check=True,
                             capture_output=True, text=True, env=env).stdout.strip()
        print("pixels identical to libjpeg-turbo (C path): "
              + ("yes" if ref == m["sha256"] else "NO"))
        if ref != m["sha256"]:
            return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--make":
        make_file(Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
        sys.exit(0)
    sys.exit(main())
