"""Mutation fuzzing of ``refimpl.jpeg.decode`` against libjpeg-turbo's C path.

Every input is a small valid JPEG (Pillow-encoded crops of the test photo:
greyscale and colour, 4:4:4 / 4:2:2 / 4:2:0, standard and optimized tables,
with and without restart markers) with 1-4 mutations: byte flips,
truncations, insertions, deletions, and targeted ones (0xFF fill bytes
before a marker or a stuffed FF00, 16-bit DQT tables with entries above
32767, huge SOF dimensions, restart-interval changes).  Each outcome is
classified against Pillow run with ``JSIMD_FORCENONE=1`` (libjpeg-turbo's
plain C path, the reference; ``tools/jpeg_c_oracle.py``):

* ``same``     -- refimpl decoded, identical shape and pixels to libjpeg;
* ``rejected`` -- refimpl raised JpegError (allowed whatever libjpeg did;
  the summary says how many of them libjpeg decoded: refimpl is stricter
  on repeated DHT symbols, missing Huffman tables, data ending before the
  last MCU and the like, where libjpeg substitutes, pads or warns);
* ``DIFF``     -- refimpl returned pixels libjpeg does not (other pixels,
  or libjpeg refused the file): a silent difference;
* ``CRASH``    -- any exception other than JpegError;
* ``HANG``     -- one decode took longer than ``--timeout`` seconds.

DIFF, CRASH and HANG inputs are written to ``--failures DIR``.  The run is
deterministic for a given ``--seed``.  ``--corpus DIR`` writes the
regression corpus of ``tests/test_jpeg_corpus.py``: ``--corpus-size``
inputs (about half decoded, half rejected) with ``expected.json`` pinning
each outcome (sha256 and shape of libjpeg's pixels, or "JpegError").

    nice -n 10 python tools/fuzz_jpeg.py -n 100000
    python tools/fuzz_jpeg.py -n 3000 --seed 2 --corpus tests/data/jpeg/corpus
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import signal
import struct
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import jpeg_c_oracle  # noqa: E402  (tools/ is not a package)

ROOT = Path(__file__).resolve().parent.parent
PHOTO = ROOT / "tests" / "data" / "jpeg" / "testorig.ppm"


def seed_files(rng: np.random.Generator, count: int = 48) -> list[bytes]:
    """Small valid files (at most 48x48) written by Pillow."""
    from PIL import Image

    photo = Image.open(PHOTO)
    seeds = []
    for i in range(count):
        w, h = (int(x) for x in rng.integers(1, 49, 2))
        x, y = int(rng.integers(0, photo.width - w)), int(rng.integers(0, photo.height - h))
        image = photo.crop((x, y, x + w, y + h))
        if i % 3 == 0:
            image = image.convert("L")
        options = dict(quality=int(rng.integers(5, 101)),
                       subsampling=["4:4:4", "4:2:2", "4:2:0"][i % 3 if i % 3 else int(rng.integers(0, 3))],
                       optimize=bool(i % 2))
        if i % 4 == 1:
            options["restart_marker_blocks"] = int(rng.integers(1, 4))
        buf = io.BytesIO()
        image.save(buf, "JPEG", **options)
        seeds.append(buf.getvalue())
    return seeds


def _segments(data: bytes):
    """(offset, code, length) of the marker segments before the first SOS."""
    out, i = [], 2
    while i + 6 <= len(data) and data[i] == 0xFF:
        code = data[i + 1]
        (length,) = struct.unpack(">H", data[i + 2:i + 4])
        out.append((i, code, length))
        if code == 0xDA:
            break
        i += 2 + length
    return out


def mutate(data: bytes, rng: np.random.Generator) -> bytes:
    """1-4 random mutations of ``data``."""
    d = bytearray(data)
    for _ in range(int(rng.integers(1, 5))):
        if not d:
            break
        op = int(rng.integers(0, 10))
        where = int(rng.integers(0, len(d)))
        if op <= 2:  # flip
            d[where] ^= int(rng.integers(1, 256))
        elif op == 3:
            del d[where:]
        elif op == 4:
            d[where:where] = rng.integers(0, 256, int(rng.integers(1, 9)), dtype=np.uint8).tobytes()
        elif op == 5:
            del d[where:where + int(rng.integers(1, 9))]
        elif op == 6:  # 0xFF fill before a marker or before a stuffed FF00
            ff = [i for i in range(2, len(d) - 1) if d[i] == 0xFF]
            if ff:
                i = ff[int(rng.integers(0, len(ff)))]
                d[i:i] = b"\xff" * int(rng.integers(1, 4))
        elif op == 7:  # a 16-bit DQT with entries above 32767
            for off, code, length in _segments(bytes(d)):
                if code == 0xDB and length >= 67 and off + 2 + length <= len(d) \
                        and rng.integers(0, 2):
                    body = bytes(d[off + 5:off + 4 + length - 1])[:64]
                    table = np.frombuffer(body.ljust(64, b"\x01"), dtype=np.uint8).astype(np.int64)
                    k = rng.integers(0, 64, int(rng.integers(1, 5)))
                    table = table.copy()
                    table[k] = rng.integers(32768, 65536, len(k))
                    seg = bytes([0xFF, 0xDB]) + struct.pack(">H", 2 + 1 + 128) \
                        + bytes([0x10 | (d[off + 4] & 0x0F)]) + table.astype(">u2").tobytes()
                    d[off:off + 2 + length] = seg
                    break
        elif op == 8:  # SOF dimensions near libjpeg's limits
            for off, code, _ in _segments(bytes(d)):
                if code in (0xC0, 0xC1):
                    size = int(rng.choice([1, 2, 7, 8, 9, 16, 17, 65500, 65501, 65535]))
                    field = off + 5 + 2 * int(rng.integers(0, 2))
                    d[field:field + 2] = struct.pack(">H", size)
                    break
        else:  # restart interval
            for off, code, _ in _segments(bytes(d)):
                if code == 0xDD:
                    d[off + 4:off + 6] = struct.pack(">H", int(rng.integers(0, 5)))
                    break
    return bytes(d)


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout


def classify(data: bytes, oracle, timeout: float):
    """(outcome, detail, expected) for one input; see the module docstring."""
    import refimpl.jpeg as rjpeg

    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        pixels = rjpeg.decode(data)
    except rjpeg.JpegError as exc:
        return "rejected", str(exc), "JpegError"
    except _Timeout:
        return "HANG", f"decode took more than {timeout} s", None
    except Exception as exc:  # noqa: BLE001 - exactly what the fuzzer hunts
        return "CRASH", f"{type(exc).__name__}: {exc}", None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    status, ref = oracle.decode(data)
    if status != "decoded":
        return "DIFF", f"refimpl decoded {pixels.shape}, libjpeg: {status} {ref}", None
    if ref.shape != pixels.shape or not np.array_equal(ref, pixels):
        return "DIFF", f"pixels differ from libjpeg (shapes {pixels.shape} / {ref.shape})", None
    return "same", "", {"shape": list(ref.shape),
                        "sha256": hashlib.sha256(np.ascontiguousarray(ref).tobytes()).hexdigest()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", "--count", type=int, default=100_000, help="inputs to try (default 100000)")
    ap.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds per decode before HANG")
    ap.add_argument("--failures", type=Path, default=Path("fuzz-failures"),
                    help="folder for DIFF/CRASH/HANG inputs (default fuzz-failures)")
    ap.add_argument("--corpus", type=Path, help="write a regression corpus here")
    ap.add_argument("--corpus-size", type=int, default=300)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    seeds = seed_files(rng)
    counts, first = Counter(), {}
    corpus = {"same": [], "rejected": []}
    start = time.monotonic()
    with jpeg_c_oracle.start() as oracle:
        for n in range(args.count):
            data = mutate(seeds[n % len(seeds)], rng)
            outcome, detail, expected = classify(data, oracle, args.timeout)
            counts[outcome] += 1
            if outcome == "rejected":
                try:
                    if oracle.decode(data)[0] == "decoded":
                        counts["rejected, libjpeg decoded"] += 1
                except RuntimeError:  # the worker died (a Pillow crash): restart
                    counts["oracle worker died"] += 1
                    oracle.close()
                    oracle.__init__()
            if outcome in ("DIFF", "CRASH", "HANG"):
                args.failures.mkdir(parents=True, exist_ok=True)
                name = f"{outcome.lower()}-{n:06d}.jpg"
                (args.failures / name).write_bytes(data)
                first.setdefault(outcome, f"{name}: {detail}")
                counts[f"{outcome}: {detail[:60]}"] += 1
            elif args.corpus is not None and len(corpus[outcome]) < args.corpus_size // 2:
                corpus[outcome].append((data, expected, detail))
            if (n + 1) % 10_000 == 0:
                print(f"{n + 1} inputs, {time.monotonic() - start:.0f} s: "
                      + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if ":" not in k),
                      file=sys.stderr, flush=True)
        if args.corpus is not None:
            _write_corpus(args.corpus, corpus, oracle)
    elapsed = time.monotonic() - start
    print(f"{args.count} inputs (seed {args.seed}) in {elapsed:.0f} s: "
          f"{counts['same']} decoded identically to libjpeg-turbo's C path, "
          f"{counts['rejected']} rejected with JpegError (libjpeg decoded "
          f"{counts['rejected, libjpeg decoded']} of them), "
          f"{counts['DIFF']} silent differences, {counts['CRASH']} crashes, "
          f"{counts['HANG']} hangs")
    for key, value in sorted(counts.items()):
        if ":" in key:
            print(f"  {value:6d}  {key}")
    for outcome, text in first.items():
        print(f"first {outcome}: {args.failures / text}")
    return 1 if counts["DIFF"] or counts["CRASH"] or counts["HANG"] else 0


def _write_corpus(folder: Path, corpus, oracle) -> None:
    """NNN.jpg files and expected.json: {name: {"shape", "sha256"}} for
    libjpeg's pixels, or {"outcome": "JpegError", "libjpeg": what the C path
    did with the file (for information: refimpl may refuse files libjpeg
    decodes with warnings)}."""
    folder.mkdir(parents=True, exist_ok=True)
    expected = {}
    entries = [e for pair in zip(corpus["same"], corpus["rejected"]) for e in pair]
    for i, (data, outcome, detail) in enumerate(entries):
        name = f"{i:03d}.jpg"
        (folder / name).write_bytes(data)
        if outcome == "JpegError":
            status, _ = oracle.decode(data)
            outcome = {"outcome": "JpegError", "refimpl": detail, "libjpeg": status}
        expected[name] = outcome
    (folder / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(entries)} corpus files to {folder}")

if __name__ == "__main__":
    sys.exit(main())
