"""Colour conversion, chroma down/upsampling and edge padding as libjpeg does.

Scaling essay
=============
RGB -> YCbCr (encoder, jccolor.c ``rgb_ycc_convert``)
    The JFIF equations (JFIF 1.02 section 7 / ITU-R BT.601) with Q16
    constants ``FIX(c) = round(c * 2**16)`` (``SCALEBITS = 16``).  Inputs are
    8-bit, so every product is below 2**16 * 2**8 = 2**24 and a sum of three
    below 2**26: int32 suffices.  One right shift by 16 ends each equation.
    Y adds ``ONE_HALF = 2**15`` before the shift (round half up).  Cb and Cr
    add the centre ``128 << 16`` and ``ONE_HALF - 1``: rounding with a fudge
    of 0.5 - 2**-16 keeps the largest result at 255 (no clamp needed); the
    sums are never negative, so the shift is a plain floor division.

Downsampling (encoder, jcsample.c)
    2:1 horizontal (h2v1): ``(a + b + bias) >> 1`` with bias 0, 1, 0, 1, ...
    2:1 both ways (h2v2): ``(a + b + c + d + bias) >> 2`` with bias
    1, 2, 1, 2, ...  -- an ordered dither so that exact halves round up and
    down alternately.  Sums of up to four 8-bit samples need 10 bits.

Edge padding (encoder, jcprepct.c / jcsample.c ``expand_right_edge``)
    The last image row is replicated to a multiple of the maximum vertical
    sampling factor, and the last column to the width the downsampler
    consumes (``width_in_blocks * 8 * h_expand``); after downsampling the
    last component row is replicated to whole MCU rows.

YCbCr -> RGB (decoder, jdcolor.c ``ycc_rgb_convert``)
    ``R = Y + round(1.402 (Cr-128))``, ``B = Y + round(1.772 (Cb-128))`` with
    the rounding done in Q16 (add 2**15, arithmetic shift); ``G = Y +
    ((-FIX(0.34414) (Cb-128) + 2**15 - FIX(0.71414) (Cr-128)) >> 16)``.  The
    products are below 2**24 in magnitude (int32).  Results are clamped to
    0..255 (libjpeg's ``range_limit``).

Upsampling (decoder, jdsample.c, libjpeg-turbo 3.x defaults)
    "Fancy" triangle filters: h2v1 ``(3 * near + far + 1 or 2) >> 2``;
    h1v2 the same vertically; h2v2 first forms column sums
    ``3 * near_row + far_row`` (Q2) and then ``(3 * near + far + 8 or 7) >> 4``
    (Q4 -> Q0; the 8/7 and 1/2 alternate to dither exact halves).  Image
    edges behave as if the edge sample were replicated.  h2v1/h2v2 fall back
    to plain replication when the component is at most 2 samples wide; any
    other integral ratio is plain replication (``int_upsample``).
"""

from __future__ import annotations

import numpy as np

from .errors import JpegError
from .tables import BLOCK

__all__ = [
    "rgb_to_ycbcr",
    "ycbcr_to_rgb",
    "downsample",
    "encoder_component_plane",
    "upsample",
    "ceil_div",
]

SCALEBITS = 16  # Q16 colour-conversion constants (jccolor.c, jdcolor.c)
ONE_HALF = 1 << (SCALEBITS - 1)  # 0.5 in Q16
CBCR_OFFSET = 128 << SCALEBITS  # chroma centre 128 in Q16
MAX_SAMPLE = 255

# jccolor.c rgb_ycc_start: FIX(c) = int(c * 2**16 + 0.5)
FIX_0_29900 = 19595  # round(0.29900 * 2**16), Y weight of R
FIX_0_58700 = 38470  # round(0.58700 * 2**16), Y weight of G
FIX_0_11400 = 7471  # round(0.11400 * 2**16), Y weight of B
FIX_0_16874 = 11059  # round(0.16874 * 2**16), -Cb weight of R
FIX_0_33126 = 21709  # round(0.33126 * 2**16), -Cb weight of G
FIX_0_50000 = 32768  # round(0.50000 * 2**16), Cb weight of B, Cr weight of R
FIX_0_41869 = 27439  # round(0.41869 * 2**16), -Cr weight of G
FIX_0_08131 = 5329  # round(0.08131 * 2**16), -Cr weight of B
# jdcolor.c build_ycc_rgb_table
FIX_1_40200 = 91881  # round(1.40200 * 2**16), R from Cr
FIX_1_77200 = 116130  # round(1.77200 * 2**16), B from Cb
FIX_0_71414 = 46802  # round(0.71414 * 2**16), -G from Cr
FIX_0_34414 = 22554  # round(0.34414 * 2**16), -G from Cb


def ceil_div(a: int, b: int) -> int:
    """``ceil(a / b)`` for non-negative integers (libjpeg's jdiv_round_up)."""
    return -(-a // b)


def rgb_to_ycbcr(rgb: np.ndarray) -> list[np.ndarray]:
    """libjpeg's RGB -> YCbCr conversion (jccolor.c).

    Parameters
    ----------
    rgb : ndarray, shape (H, W, 3), dtype uint8

    Returns
    -------
    list of 3 ndarray, each shape (H, W), dtype uint8
        The Y, Cb and Cr planes.
    """
    r, g, b = (rgb[..., i].astype(np.int32) for i in range(3))
    y = (FIX_0_29900 * r + FIX_0_58700 * g + FIX_0_11400 * b + ONE_HALF) \
        >> SCALEBITS
    cb = (-FIX_0_16874 * r - FIX_0_33126 * g + FIX_0_50000 * b
          + CBCR_OFFSET + ONE_HALF - 1) >> SCALEBITS
    cr = (FIX_0_50000 * r - FIX_0_41869 * g - FIX_0_08131 * b
          + CBCR_OFFSET + ONE_HALF - 1) >> SCALEBITS
    return [p.astype(np.uint8) for p in (y, cb, cr)]


def _ycc_tables():
    x = np.arange(256, dtype=np.int64) - 128  # chroma value minus its centre
    cr_r = (FIX_1_40200 * x + ONE_HALF) >> SCALEBITS
    cb_b = (FIX_1_77200 * x + ONE_HALF) >> SCALEBITS
    cr_g = -FIX_0_71414 * x
    cb_g = -FIX_0_34414 * x + ONE_HALF  # rounding half folded in, as libjpeg
    tables = tuple(t.astype(np.int32) for t in (cr_r, cb_b, cr_g, cb_g))
    for t in tables:
        t.setflags(write=False)
    return tables


_CR_R, _CB_B, _CR_G, _CB_G = _ycc_tables()


def ycbcr_to_rgb(y: np.ndarray, cb: np.ndarray, cr: np.ndarray) -> np.ndarray:
    """libjpeg's YCbCr -> RGB conversion (jdcolor.c ``ycc_rgb_convert``).

    Parameters
    ----------
    y, cb, cr : ndarray, shape (H, W), dtype uint8

    Returns
    -------
    ndarray, shape (H, W, 3), dtype uint8
    """
    yi = y.astype(np.int32)
    out = np.empty(y.shape + (3,), dtype=np.uint8)
    np.clip(yi + _CR_R[cr], 0, MAX_SAMPLE, out=out[..., 0], casting="unsafe")
    green = yi + ((_CB_G[cb] + _CR_G[cr]) >> SCALEBITS)
    np.clip(green, 0, MAX_SAMPLE, out=out[..., 1], casting="unsafe")
    np.clip(yi + _CB_B[cb], 0, MAX_SAMPLE, out=out[..., 2], casting="unsafe")
    return out


def _pad_edges(plane: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Replicate the last row/column of ``plane`` out to ``(rows, cols)``."""
    extra_rows, extra_cols = rows - plane.shape[0], cols - plane.shape[1]
    if extra_rows == 0 and extra_cols == 0:
        return plane
    return np.pad(plane, ((0, extra_rows), (0, extra_cols)), mode="edge")


def downsample(plane: np.ndarray, h_expand: int, v_expand: int) -> np.ndarray:
    """libjpeg's downsampling of one component (jcsample.c, no smoothing).

    Parameters
    ----------
    plane : ndarray, shape (v_expand * R, h_expand * C), dtype uint8
        Full-resolution component, already edge-padded.
    h_expand, v_expand : int
        Ratio of the maximum to this component's sampling factor; (1, 1),
        (2, 1) and (2, 2) are supported (fullsize, h2v1, h2v2).

    Returns
    -------
    ndarray, shape (R, C), dtype uint8
    """
    if (h_expand, v_expand) == (1, 1):
        return plane
    p = plane.astype(np.uint16)
    if (h_expand, v_expand) == (2, 1):
        bias = np.arange(p.shape[1] // 2, dtype=np.uint16) & 1  # 0,1,0,1,...
        return ((p[:, 0::2] + p[:, 1::2] + bias) >> 1).astype(np.uint8)
    if (h_expand, v_expand) == (2, 2):
        bias = 1 + (np.arange(p.shape[1] // 2, dtype=np.uint16) & 1)  # 1,2,..
        total = p[0::2, 0::2] + p[0::2, 1::2] + p[1::2, 0::2] + p[1::2, 1::2]
        return ((total + bias) >> 2).astype(np.uint8)
    raise JpegError(f"unsupported downsampling ratio {h_expand}x{v_expand}")


def encoder_component_plane(plane: np.ndarray, h: int, v: int, h_max: int,
                            v_max: int, mcu_rows: int) -> np.ndarray:
    """Pad and downsample one full-resolution component as libjpeg does.

    Parameters
    ----------
    plane : ndarray, shape (H, W), dtype uint8
        Full-resolution component (after colour conversion).
    h, v : int
        The component's sampling factors.
    h_max, v_max : int
        Largest sampling factors of the frame.
    mcu_rows : int
        iMCU rows to fill: the MCU rows of an interleaved scan,
        ``ceil(H / (8 * v_max))``; for a lone (non-interleaved) component
        its block rows divided by ``v``, rounded up.

    Returns
    -------
    ndarray, shape (8 * v * mcu_rows, 8 * width_in_blocks), dtype uint8
        ``width_in_blocks = ceil(W * h / (8 * h_max))``; samples beyond the
        image are edge replicas exactly as libjpeg's prep/downsample
        controllers produce them.
    """
    height, width = plane.shape
    h_expand, v_expand = h_max // h, v_max // v
    width_in_blocks = ceil_div(width * h, BLOCK * h_max)
    # jcprepct.c: bottom rows replicated to a whole row group (v_max rows);
    # jcsample.c: right edge replicated to what the downsampler reads.
    full = _pad_edges(plane, ceil_div(height, v_max) * v_max,
                      width_in_blocks * BLOCK * h_expand)
    small = downsample(full, h_expand, v_expand)
    # jcprepct.c: the downsampled component's last row fills the iMCU row.
    return _pad_edges(small, mcu_rows * v * BLOCK, width_in_blocks * BLOCK)


def _replicate_border(x: np.ndarray, axis: int) -> np.ndarray:
    """Widen ``x`` by one replicated sample at both ends of ``axis``."""
    first = np.take(x, [0], axis=axis)
    last = np.take(x, [x.shape[axis] - 1], axis=axis)
    return np.concatenate([first, x, last], axis=axis)


def _fancy_h2(colsum: np.ndarray, near: int, bias_even: int, bias_odd: int,
              shift: int) -> np.ndarray:
    """Horizontal triangle filter doubling the width of ``colsum``.

    Output ``2i``   = (near * c[i] + c[i-1] + bias_even) >> shift,
    output ``2i+1`` = (near * c[i] + c[i+1] + bias_odd) >> shift,
    with c replicated beyond both ends.
    """
    c = _replicate_border(colsum, axis=1)
    centre = near * c[:, 1:-1]
    out = np.empty((colsum.shape[0], 2 * colsum.shape[1]), dtype=np.int32)
    out[:, 0::2] = (centre + c[:, :-2] + bias_even) >> shift
    out[:, 1::2] = (centre + c[:, 2:] + bias_odd) >> shift
    return out


def _fancy_v2(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertical ``3 * near + far`` sums for the upper and lower output rows."""
    r = _replicate_border(x, axis=0)
    centre = 3 * r[1:-1]
    return centre + r[:-2], centre + r[2:]


def _interleave_rows(upper: np.ndarray, lower: np.ndarray) -> np.ndarray:
    out = np.empty((2 * upper.shape[0],) + upper.shape[1:], dtype=upper.dtype)
    out[0::2] = upper
    out[1::2] = lower
    return out


def upsample(plane: np.ndarray, h_expand: int, v_expand: int, height: int,
             width: int) -> np.ndarray:
    """Upsample one decoded component to full size as libjpeg-turbo does.

    Parameters
    ----------
    plane : ndarray, shape (dh, dw), dtype uint8
        The component's real samples, ``dh = ceil(height * v / v_max)`` and
        ``dw = ceil(width * h / h_max)`` (libjpeg's downsampled_height/width).
    h_expand, v_expand : int
        ``h_max // h`` and ``v_max // v`` (integral ratios only).
    height, width : int
        Image size.

    Returns
    -------
    ndarray, shape (height, width), dtype uint8
    """
    dw = plane.shape[1]
    ratio = (h_expand, v_expand)
    if ratio == (1, 1):
        out = plane
    elif ratio == (2, 1) and dw > 2:
        out = _fancy_h2(plane.astype(np.int32), 3, 1, 2, 2)  # h2v1_fancy
    elif ratio == (1, 2):
        upper, lower = _fancy_v2(plane.astype(np.int32))  # h1v2_fancy
        out = _interleave_rows((upper + 1) >> 2, (lower + 2) >> 2)
    elif ratio == (2, 2) and dw > 2:
        upper, lower = _fancy_v2(plane.astype(np.int32))  # h2v2_fancy
        out = _interleave_rows(_fancy_h2(upper, 3, 8, 7, 4),
                               _fancy_h2(lower, 3, 8, 7, 4))
    else:  # h2v1/h2v2 on narrow components, and int_upsample: replication
        out = np.repeat(np.repeat(plane, v_expand, axis=0), h_expand, axis=1)
    return out[:height, :width].astype(np.uint8, copy=False)
