"""8-bit samples (C, H, W) <-> one grayscale mosaic, the JPEG encoder's picture.

Channels sit row-major on a grid of ceil(sqrt(C)) columns and ceil(C / cols)
rows (refimpl/features.py); unused cells are 0.  Two cell layouts:

``packed``   cells are H x W: the smallest picture, but an 8x8 JPEG block
             straddles channels wherever H or W is not a multiple of 8
             (AlexNet conv5: 13 x 13 cells, 208 x 208 picture).
``aligned``  each channel is padded to ceil(H/8)*8 x ceil(W/8)*8 by edge
             replication (the last row and column repeated, as libjpeg pads a
             picture's right and bottom edges), so every 8x8 block holds one
             channel (AlexNet conv5: 16 x 16 cells, 256 x 256 picture).
The host crops the cells back; the padding is never decoded into the map.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import features
from ..errors import RefimplError, check_choice

MOSAICS = ("packed", "aligned")
BLOCK = 8                                  # T.81: 8x8 sample blocks


@dataclass(frozen=True)
class MosaicLayout:
    """Geometry of a mosaic: grid rows/cols of cells, each cell_h x cell_w samples."""

    kind: str
    grid_rows: int
    grid_cols: int
    cell_h: int
    cell_w: int

    @property
    def shape(self) -> tuple:
        """(picture rows, picture cols)."""
        return self.grid_rows * self.cell_h, self.grid_cols * self.cell_w


def check_mosaic(kind: str) -> str:
    return check_choice("mosaic", kind, MOSAICS)


def layout(kind: str, shape: tuple) -> MosaicLayout:
    """The mosaic layout of a (C, H, W) map."""
    check_mosaic(kind)
    c, h, w = shape
    rows, cols = features.grid(c)
    if kind == "aligned":
        h, w = -(-h // BLOCK) * BLOCK, -(-w // BLOCK) * BLOCK
    return MosaicLayout(kind, rows, cols, h, w)


def to_mosaic(u8: np.ndarray, kind: str = "packed") -> tuple:
    """uint8 (C, H, W) -> (uint8 picture (rows*cell_h, cols*cell_w), MosaicLayout)."""
    u8 = np.asarray(u8, dtype=np.uint8)
    lay = layout(kind, u8.shape)
    c, h, w = u8.shape
    if kind == "aligned":
        u8 = np.pad(u8, ((0, 0), (0, lay.cell_h - h), (0, lay.cell_w - w)), mode="edge")
    return features.mosaic(u8), lay


def from_mosaic(img: np.ndarray, lay: MosaicLayout, shape: tuple) -> np.ndarray:
    """Inverse of ``to_mosaic``: picture -> uint8 (C, H, W)."""
    c, h, w = shape
    if tuple(np.shape(img)) != lay.shape:
        raise RefimplError(f"mosaic picture is {np.shape(img)}, the layout says {lay.shape}")
    cells = features.unmosaic(np.asarray(img), (c, lay.cell_h, lay.cell_w))
    return np.ascontiguousarray(cells[:, :h, :w])


def mosaic_naive(u8: np.ndarray, kind: str) -> np.ndarray:
    """Direct-loop oracle of ``to_mosaic`` (tests)."""
    lay = layout(kind, u8.shape)
    c, h, w = u8.shape
    img = np.zeros(lay.shape, dtype=np.uint8)
    for ch in range(c):
        r0, c0 = (ch // lay.grid_cols) * lay.cell_h, (ch % lay.grid_cols) * lay.cell_w
        for y in range(lay.cell_h):
            for x in range(lay.cell_w):
                img[r0 + y, c0 + x] = u8[ch, min(y, h - 1), min(x, w - 1)]
    return img
