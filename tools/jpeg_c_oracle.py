"""libjpeg-turbo's plain C decoder (through Pillow) as a subprocess oracle.

The reference behaviour of ``refimpl.jpeg.decode`` is libjpeg-turbo's C code
path: the SIMD kernels that Pillow uses by default disagree with the C code
on blocks whose coefficients push the IDCT out of range (saturating 16-bit
SIMD arithmetic against C's 32/64-bit integers).  libjpeg-turbo reads the
environment variable ``JSIMD_FORCENONE=1`` once, when its SIMD dispatch is
first initialised, so it must be set before Pillow's libjpeg is loaded: this
module is therefore run as a separate process (:func:`start`), never imported
into a process that has already decoded a JPEG.

Protocol (binary, on the worker's stdin/stdout): the parent writes a 4-byte
big-endian length and the JPEG bytes; the worker answers one status byte --
``0`` decoded, then height, width (4 bytes each, big-endian), channels (1
byte) and the raw pixels; ``1`` Pillow raised (libjpeg error, truncated
data, or a frame above ``ORACLE_MAX_PIXELS``), then a 2-byte length and the
exception's one-line text; ``2`` decoded
to a mode other than L or RGB (e.g. CMYK).  A zero length ends the worker.

    python tools/jpeg_c_oracle.py            # the worker loop (used by start())
"""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys

import numpy as np

DECODED, FAILED, OTHER_MODE = 0, 1, 2
ORACLE_MAX_PIXELS = 1 << 25  # larger frames are reported as failed, not decoded


def _serve() -> None:
    import warnings

    from PIL import Image  # imported after JSIMD_FORCENONE is in the env

    warnings.simplefilter("ignore", Image.DecompressionBombWarning)

    # Pillow refuses (DecompressionBombError) frames above twice this: a
    # fuzzed header claiming 65500 x 65500 would otherwise allocate 12 GB.
    Image.MAX_IMAGE_PIXELS = ORACLE_MAX_PIXELS // 2
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        head = stdin.read(4)
        if len(head) < 4:
            return
        (n,) = struct.unpack(">I", head)
        if n == 0:
            return
        data = stdin.read(n)
        try:
            with Image.open(io.BytesIO(data)) as im:
                im.load()
                mode = im.mode
                pixels = np.asarray(im) if mode in ("L", "RGB") else None
        except Exception as exc:  # noqa: BLE001 - any Pillow failure is "failed"
            text = " ".join(f"{type(exc).__name__}: {exc}".split())[:1000].encode()
            stdout.write(bytes([FAILED]) + struct.pack(">H", len(text)) + text)
        else:
            if pixels is None:
                stdout.write(bytes([OTHER_MODE]))
            else:
                channels = 1 if pixels.ndim == 2 else pixels.shape[2]
                stdout.write(bytes([DECODED]) + struct.pack(
                    ">IIB", pixels.shape[0], pixels.shape[1], channels)
                    + pixels.tobytes())
        stdout.flush()


class Oracle:
    """A running worker; ``decode(data)`` returns ("decoded", pixels),
    ("failed", message) or ("other", mode-less None)."""

    def __init__(self, simd: bool = False):
        env = dict(os.environ)
        if simd:
            env.pop("JSIMD_FORCENONE", None)
        else:
            env["JSIMD_FORCENONE"] = "1"
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     env=env)

    def _read(self, n: int) -> bytes:
        out = self.proc.stdout.read(n)
        if len(out) != n:
            raise RuntimeError("JPEG oracle worker died")
        return out

    def decode(self, data: bytes):
        if not data:  # a zero length is the worker's end-of-input signal
            return "failed", "empty file"
        self.proc.stdin.write(struct.pack(">I", len(data)) + bytes(data))
        self.proc.stdin.flush()
        status = self._read(1)[0]
        if status == DECODED:
            h, w, c = struct.unpack(">IIB", self._read(9))
            pixels = np.frombuffer(self._read(h * w * c), dtype=np.uint8)
            return "decoded", pixels.reshape((h, w) if c == 1 else (h, w, c))
        if status == FAILED:
            (n,) = struct.unpack(">H", self._read(2))
            return "failed", self._read(n).decode()
        return "other", None

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(struct.pack(">I", 0))
                self.proc.stdin.close()
            except OSError:
                pass
            self.proc.wait(timeout=30)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def start(simd: bool = False) -> Oracle:
    """A worker decoding with libjpeg-turbo's C path (or its SIMD path)."""
    return Oracle(simd)


if __name__ == "__main__":
    _serve()
