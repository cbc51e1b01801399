"""Command-line front ends: ``refimpl jpeg encode`` and ``refimpl jpeg decode``.

``encode_main(argv)`` and ``decode_main(argv)`` take the arguments after
``refimpl jpeg encode`` / ``refimpl jpeg decode`` and return an exit status:
0 on success, 2 on bad input or arguments (one line on stderr naming the file
and the problem, no traceback).  Outputs are written atomically: to a
temporary file in the destination folder, then renamed over the target.

Pillow is used here (and only here) to read and write PGM, PPM and PNG.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np

from ..errors import RefimplError
from ..fileio import atomic_write
from .codec import SUBSAMPLING, decode, encode
from .markers import MAX_PIXELS
from .errors import JpegError

__all__ = ["JPEG_DESCRIPTION", "encode_main", "decode_main"]

JPEG_DESCRIPTION = """\
Pure-NumPy baseline JPEG codec, exact with libjpeg-turbo (Pillow).

actions:
  encode IN OUT [-q Q] [--subsampling S] [--optimize] [--restart-interval N]
      PGM/PPM/PNG -> JPEG, byte-identical to Pillow's Image.save(..., "JPEG")
      (greyscale 1x1 and colour 4:2:0 by default, as libjpeg's cjpeg)
  decode IN OUT [--max-pixels N]
      JPEG -> PGM/PPM/PNG, pixels identical to libjpeg-turbo's C code path

'refimpl jpeg ACTION --help' lists an action's options."""

EXIT_OK = 0  # success
EXIT_BAD_INPUT = 2  # bad arguments or input (argparse uses 2 for usage errors)

_OUTPUT_FORMATS = {".pgm": "PPM", ".ppm": "PPM", ".png": "PNG"}


class _InputError(Exception):
    """A problem with a named file, reported as ``file: message``."""

    def __init__(self, path, message):
        super().__init__(f"{path}: {message}")


def _fail(prog: str, error) -> int:
    print(f"{prog}: error: {error}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _read_image(path: Path) -> np.ndarray:
    """PGM/PPM/PNG -> (H, W) uint8 for greyscale, (H, W, 3) uint8 for colour."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            if im.format not in ("PPM", "PNG"):  # Pillow reports PGM as PPM
                raise _InputError(path, f"unsupported input format {im.format} "
                                        "(expected PGM, PPM or PNG)")
            mode = im.mode
            if mode == "1":
                im = im.convert("L")
            elif mode == "P":
                im = im.convert("RGB")
            elif mode not in ("L", "RGB"):
                raise _InputError(path, f"unsupported image mode {mode} (expected "
                                        "8-bit greyscale or RGB, no alpha)")
            return np.asarray(im, dtype=np.uint8)
    except FileNotFoundError:
        raise _InputError(path, "no such file") from None
    except UnidentifiedImageError:
        raise _InputError(path, "not a PGM, PPM or PNG image") from None
    except (OSError, ValueError) as exc:
        raise _InputError(path, f"cannot read image ({exc})") from None


def _same_file(source: Path, target: Path) -> bool:
    """True if ``target`` names the file ``source`` names (any path, symlink
    or hard link to it): writing it would destroy the input."""
    try:
        return target.exists() and source.exists() and source.samefile(target)
    except OSError:
        return False


def _refuse_overwrite(prog: str, source: Path, target: Path):
    if _same_file(source, target):
        return _fail(prog, f"{target}: output is the input file {source}; "
                           "choose another output path")
    return None


class _Parser(argparse.ArgumentParser):
    """argparse with the project's one-line errors (no usage block)."""

    def error(self, message):
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


def _encode_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="refimpl jpeg encode",
        description="Encode a PGM, PPM or PNG image as a baseline JPEG "
                    "(byte-identical to Pillow/libjpeg-turbo).")
    parser.add_argument("input", type=Path, help="PGM, PPM or PNG image")
    parser.add_argument("output", type=Path, help="JPEG file to write")
    parser.add_argument("-q", "--quality", type=int, default=75,
                        help="quality 1..100 (default 75)")
    parser.add_argument("--subsampling", choices=sorted(SUBSAMPLING), default=None,
                        help="luminance sampling 4:4:4 (1x1), 4:2:2 (2x1) or 4:2:0 (2x2) "
                             "(default: libjpeg's, 4:2:0 for colour and 1x1 for "
                             "greyscale; given for a greyscale image it sets the "
                             "factors written in SOF, as Pillow's subsampling=)")
    parser.add_argument("--optimize", action="store_true",
                        help="optimal Huffman tables (two passes)")
    parser.add_argument("--restart-interval", type=int, default=0,
                        help="restart marker every N MCUs (default 0: none)")
    return parser


def encode_main(argv=None) -> int:
    """``refimpl jpeg encode IN OUT -q Q [--subsampling S] [--optimize]``.

    Refuses (exit 2) an OUT that is IN itself (same path, a symlink or a
    hard link to it).

    Parameters
    ----------
    argv : list of str, optional
        Arguments after ``encode`` (default ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 2 on bad arguments or input.
    """
    parser = _encode_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed the problem
        return EXIT_OK if exc.code == 0 else EXIT_BAD_INPUT
    if not 1 <= args.quality <= 100:
        return _fail(parser.prog, f"quality must be in 1..100, got {args.quality}")
    if not 0 <= args.restart_interval <= 0xFFFF:  # DRI is 16 bits
        return _fail(parser.prog, "--restart-interval must be in 0..65535, got "
                                  f"{args.restart_interval}")
    refused = _refuse_overwrite(parser.prog, args.input, args.output)
    if refused is not None:
        return refused
    try:
        image = _read_image(args.input)
        data = encode(image, quality=args.quality, subsampling=args.subsampling,
                      optimize=args.optimize,
                      restart_interval=args.restart_interval)
    except _InputError as exc:
        return _fail(parser.prog, exc)
    except JpegError as exc:
        return _fail(parser.prog, f"{args.input}: {exc}")
    try:
        atomic_write(args.output, data)
    except RefimplError as exc:
        return _fail(parser.prog, exc)
    return EXIT_OK


def _decode_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="refimpl jpeg decode",
        description="Decode a baseline JPEG to PGM, PPM or PNG (pixels "
                    "identical to Pillow/libjpeg-turbo).")
    parser.add_argument("input", type=Path, help="JPEG file")
    parser.add_argument("output", type=Path,
                        help="image to write; format from the extension "
                             ".pgm (greyscale), .ppm or .png")
    parser.add_argument("--max-pixels", type=int, default=None, metavar="N",
                        help="refuse frames of more than N pixels (width * height) "
                             f"before allocating them (default and maximum {MAX_PIXELS})")
    return parser


def decode_main(argv=None) -> int:
    """``refimpl jpeg decode IN OUT [--max-pixels N]`` (OUT: .pgm, .ppm or .png).

    A colour JPEG cannot be written as .pgm; a greyscale JPEG written as
    .ppm is expanded to three equal channels.

    Parameters
    ----------
    argv : list of str, optional
        Arguments after ``decode`` (default ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 2 on bad arguments or input.
    """
    parser = _decode_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_OK if exc.code == 0 else EXIT_BAD_INPUT
    refused = _refuse_overwrite(parser.prog, args.input, args.output)
    if refused is not None:
        return refused
    suffix = args.output.suffix.lower()
    if suffix not in _OUTPUT_FORMATS:
        return _fail(parser.prog, f"{args.output}: unsupported output extension "
                                  f"{suffix or '(none)'} (use .pgm, .ppm or .png)")
    if args.max_pixels is not None and not 1 <= args.max_pixels <= MAX_PIXELS:
        return _fail(parser.prog, f"--max-pixels must be in 1..{MAX_PIXELS}, got "
                                  f"{args.max_pixels}")
    try:
        data = args.input.read_bytes()
    except OSError as exc:
        return _fail(parser.prog, f"{args.input}: cannot read ({exc.strerror})")
    try:
        pixels = decode(data, max_pixels=args.max_pixels)
    except JpegError as exc:
        return _fail(parser.prog, f"{args.input}: {exc}")
    if suffix == ".pgm" and pixels.ndim == 3:
        return _fail(parser.prog, f"{args.output}: a colour image cannot be "
                                  "written as PGM (use .ppm or .png)")
    if suffix == ".ppm" and pixels.ndim == 2:
        pixels = np.repeat(pixels[:, :, None], 3, axis=2)
    from PIL import Image

    image = Image.fromarray(pixels)
    buf = io.BytesIO()
    image.save(buf, format=_OUTPUT_FORMATS[suffix])
    try:
        atomic_write(args.output, buf.getvalue())
    except RefimplError as exc:
        return _fail(parser.prog, exc)
    return EXIT_OK
