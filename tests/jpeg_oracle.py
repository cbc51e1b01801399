"""Pillow (libjpeg-turbo) as the oracle of the JPEG tests, and the test photograph."""
import io
from pathlib import Path

import numpy as np
from PIL import Image

DATA = Path(__file__).parent / "data" / "jpeg"


def pillow_jpeg(pixels, **options) -> bytes:
    """Pillow's JPEG file of a uint8 array (or a PIL image) with Image.save options."""
    image = pixels if isinstance(pixels, Image.Image) else Image.fromarray(pixels)
    buf = io.BytesIO()
    image.save(buf, "JPEG", **options)
    return buf.getvalue()


def pillow_pixels(data: bytes) -> np.ndarray:
    """Pillow's decode of a JPEG file."""
    return np.asarray(Image.open(io.BytesIO(data)))


def photo(mode="RGB", size=None) -> np.ndarray:
    """testorig.ppm (227x149) in ``mode``, optionally resized with LANCZOS."""
    image = Image.open(DATA / "testorig.ppm")
    image = image.convert(mode) if mode != "RGB" else image
    if size is not None:
        image = image.resize(size, Image.LANCZOS)
    return np.asarray(image)


def c_path_oracle(simd: bool = False):
    """A subprocess decoding with Pillow's libjpeg-turbo C path (JSIMD_FORCENONE=1),
    or with its default SIMD path (``simd=True``); see tools/jpeg_c_oracle.py."""
    import sys

    tools = str(Path(__file__).resolve().parent.parent / "tools")
    if tools not in sys.path:
        sys.path.insert(0, tools)
    import jpeg_c_oracle

    return jpeg_c_oracle.start(simd=simd)
