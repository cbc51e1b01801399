"""Feature map -> 8-bit mosaic image, the input of the feature JPEG encoder.

An int16 feature map (C, H, W) at out_frac becomes one grayscale picture:
  1. 8-bit samples: u8 = clip(round_shift(x, s, half_up), 0, 255) with the
     smallest shift s >= 0 that brings max(x) to at most 255.  Negative values
     (none after ReLU) clip to 0.  The sample then means u8 * 2**(s - out_frac).
  2. Mosaic: channels tiled row-major on a grid of ceil(sqrt(C)) columns and
     ceil(C / columns) rows; channel c sits at grid cell (c // columns,
     c % columns); unused cells are 0.  AlexNet conv5 (256 x 13 x 13) gives a
     16 x 16 grid, a 208 x 208 picture.
"""
from __future__ import annotations

import math

import numpy as np

from . import fixedpoint as fx

SAMPLE_MAX = 255      # 8-bit JPEG samples (ITU T.81 baseline)


def sample_shift(fmap: np.ndarray) -> int:
    """Smallest s >= 0 with round_shift(max(fmap), s, half_up) <= 255."""
    top = int(np.max(fmap, initial=0))
    s = 0
    while int(fx.round_shift(np.int64(top), s, "half_up")) > SAMPLE_MAX:
        s += 1
    return s


def to_samples(fmap: np.ndarray) -> tuple:
    """int16 (C, H, W) -> (uint8 (C, H, W), shift)."""
    s = sample_shift(fmap)
    u8 = np.clip(fx.round_shift(fmap.astype(np.int64), s, "half_up"), 0, SAMPLE_MAX).astype(np.uint8)
    return u8, s


def grid(channels: int) -> tuple:
    """(grid rows, grid columns) of the mosaic."""
    cols = math.ceil(math.sqrt(channels))
    return math.ceil(channels / cols), cols


def mosaic(u8: np.ndarray) -> np.ndarray:
    """uint8 (C, H, W) -> uint8 (rows * H, cols * W)."""
    c, h, w = u8.shape
    rows, cols = grid(c)
    canvas = np.zeros((rows * cols, h, w), dtype=np.uint8)
    canvas[:c] = u8
    return canvas.reshape(rows, cols, h, w).transpose(0, 2, 1, 3).reshape(rows * h, cols * w)


def unmosaic(img: np.ndarray, shape: tuple) -> np.ndarray:
    """Inverse of mosaic: (rows * H, cols * W) -> (C, H, W)."""
    c, h, w = shape
    rows, cols = grid(c)
    return img.reshape(rows, h, cols, w).transpose(0, 2, 1, 3).reshape(rows * cols, h, w)[:c]
