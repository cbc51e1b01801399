"""Input pictures: read a file, fit it to the network input, hand back pixels.

Pillow only reads the file.  Fitting is our own NumPy code so that the pixels
a network sees do not depend on the Pillow version: centre-crop to the
network's aspect ratio (crop offsets rounded down), then bilinear resampling
with half-pixel centres (source coordinate = (dst + 0.5) * scale - 0.5,
clamped at the borders), evaluated in float64 and rounded half up to uint8.
"""
from __future__ import annotations

import math
import re
from importlib import resources

import numpy as np

from .errors import RefimplError

DEFAULT_IMAGE = "default.png"   # 227x227 RGB, see refimpl/data/README.txt
# The largest picture read: 8192 x 8192 pixels (uint8 RGB: 192 MiB decoded, and the
# float64 resize of the crop about 1.5 GiB).  Checked on the header before any decoding,
# so a file claiming 100000 x 100000 is refused at once.  Network inputs are 224-227
# pixels wide, so nothing useful is lost.  Below Pillow's own decompression-bomb limit
# (2 x 89,478,485 pixels), which is never reached.
MAX_IMAGE_PIXELS = 8192 * 8192


def read_rgb(path) -> np.ndarray:
    """Pixels of an image file as uint8 (3, H, W), RGB order."""
    from PIL import Image, UnidentifiedImageError
    too_big = (f"{path}: image header claims {{}}, more than refimpl's limit of "
               f"{MAX_IMAGE_PIXELS:,} pixels (refimpl.image.MAX_IMAGE_PIXELS)")
    try:
        with Image.open(path) as im:
            w, h = im.size
            if w * h > MAX_IMAGE_PIXELS:
                raise RefimplError(too_big.format(f"{w} x {h} pixels"))
            rgb = np.asarray(im.convert("RGB"))
    except FileNotFoundError:
        raise RefimplError(f"{path}: no such image file") from None
    except Image.DecompressionBombError as exc:       # Pillow's check runs in open(), before ours
        m = re.search(r"\((\d+) pixels\)", str(exc))
        raise RefimplError(too_big.format(f"{int(m.group(1)):,} pixels" if m else "too many pixels")) from None
    except IsADirectoryError:
        raise RefimplError(f"{path}: is a folder, not an image file") from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise RefimplError(f"{path}: unreadable image ({exc.__class__.__name__}: {exc})") from None
    return np.ascontiguousarray(rgb.transpose(2, 0, 1))


def default_rgb() -> np.ndarray:
    """The embedded default photograph, uint8 (3, 227, 227)."""
    with resources.as_file(resources.files("refimpl") / "data" / DEFAULT_IMAGE) as path:
        return read_rgb(path)


def center_crop(rgb: np.ndarray, aspect: float) -> np.ndarray:
    """Largest centred crop of (3, H, W) with width / height == aspect."""
    _, h, w = rgb.shape
    if w > h * aspect:
        cw = max(1, math.floor(h * aspect + 0.5))
        x0 = (w - cw) // 2
        return rgb[:, :, x0:x0 + cw]
    ch = max(1, math.floor(w / aspect + 0.5))
    y0 = (h - ch) // 2
    return rgb[:, y0:y0 + ch, :]


def _axis_weights(src: int, dst: int):
    pos = (np.arange(dst) + 0.5) * (src / dst) - 0.5
    pos = np.clip(pos, 0, src - 1)
    i0 = np.floor(pos).astype(np.int64)
    i1 = np.minimum(i0 + 1, src - 1)
    return i0, i1, pos - i0


def resize_bilinear(rgb: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize of uint8 (C, H, W) to (C, height, width), half-up rounding."""
    _, h, w = rgb.shape
    if (h, w) == (height, width):
        return rgb
    y0, y1, fy = _axis_weights(h, height)
    x0, x1, fx = _axis_weights(w, width)
    img = rgb.astype(np.float64)
    rows = img[:, y0, :] * (1 - fy)[None, :, None] + img[:, y1, :] * fy[None, :, None]
    out = rows[:, :, x0] * (1 - fx) + rows[:, :, x1] * fx
    return np.clip(np.floor(out + 0.5), 0, 255).astype(np.uint8)


def fit(rgb: np.ndarray, shape: tuple) -> np.ndarray:
    """Fit uint8 (3, H, W) pixels to a network input shape (3, H', W')."""
    c, height, width = shape
    if rgb.shape[0] != c:
        raise RefimplError(f"image has {rgb.shape[0]} channels, network expects {c}")
    return resize_bilinear(center_crop(rgb, width / height), height, width)


def load(path, shape: tuple) -> np.ndarray:
    """uint8 (3, H, W) input for a network: ``path`` or, when None, the default photo."""
    return fit(default_rgb() if path is None else read_rgb(path), shape)
