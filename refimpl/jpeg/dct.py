"""Integer ("islow") 8x8 DCT, quantization and inverse DCT, bit-exact with libjpeg.

Scaling essay
=============
libjpeg's accurate integer DCT (jfdctint.c / jidctint.c) is the
Loeffler-Ligtenberg-Moschytz flow graph with 12 multiplies.  Every multiplier
is a Q13 constant, ``FIX(c) = round(c * 2**13)`` (``CONST_BITS = 13``), and
each pass ends with exactly one rounding right shift, :func:`descale`
(add half of the divisor, then arithmetic shift right; C's ``DESCALE``).

Because a pass is only additions, subtractions and products with integer
constants before its final shift, the pre-shift value of every output is an
exact integer linear combination of the eight inputs.  We therefore evaluate
the flow graph once on the identity matrix to obtain the integer matrix of
the pass (``FDCT_MATRIX``, ``IDCT_MATRIX``) and apply it as a matrix product.
This is the same arithmetic in a different order of additions, which cannot
change an exact integer result.  The block-level functions below compute in
int64.  The whole-plane fast paths used by the codec form the products with
BLAS in floating point, with the shift's power of two folded into the matrix;
every term and partial sum is then an integer times a power of two whose
significand fits the format -- float32 for the forward pass 1 (|pre| <= 2**23,
24 bits), float64 (53 bits) everywhere else -- so the results are exact and
the order of summation does not matter.

The even outputs 0 and 4 of the C code are ``(a + b) << PASS1_BITS`` in the
forward pass 1 and ``DESCALE(a + b, PASS1_BITS)`` in the forward pass 2, and
``(a + b) << CONST_BITS`` in the inverse.  Writing them as
``(a + b) * 2**13`` followed by the pass's common shift gives the identical
result (``((x << 13) + 2**(n-1)) >> n == x << (13 - n)`` for ``n <= 13`` and
``== DESCALE(x, n - 13)`` for ``n > 13``), so one matrix serves both passes.

Forward DCT (encoder), per 8x8 block
------------------------------------
* input: level-shifted samples ``x - 128``, range [-128, 127] (8 bits signed).
* pass 1 (rows): pre-shift value ``FDCT_MATRIX @ row``; the largest absolute
  row sum of the matrix is 65536 = 2**16, so |pre| <= 2**23.  Shift by
  ``CONST_BITS - PASS1_BITS = 11``: the outputs keep 2 fractional bits
  (``PASS1_BITS = 2``) and carry the flow graph's gain of sqrt(8); |out| <=
  4096 = 2**12 (13 bits signed).
* pass 2 (columns): |pre| <= 2**16 * 2**12 = 2**28; shift by
  ``CONST_BITS + PASS1_BITS = 15`` removes the Q13 constants and the Q2 of
  pass 1.  The result is the orthonormal 2-D DCT times 8 (sqrt(8) per pass),
  |out| <= 8192 = 2**13 (the DC of a flat block of -128 is -8192).
* the factor 8 is removed by the quantizer, which divides by ``8 * Q``
  (jcdctmgr.c: ``qtbl->quantval[i] << 3``).

Quantization
------------
libjpeg-turbo divides with the dividend made positive first, rounding half up:
``q = sign(c) * ((|c| + d // 2) // d)`` with ``d = 8 * Q`` (d >= 8).  (Its
8-bit build computes this with a reciprocal multiply, ``compute_reciprocal``
in jcdctmgr.c, which is exact for all |c| < 2**15; the test suite checks that
equivalence.)  With d >= 8 the quantized DC is at most (8192 + 4) // 8 =
1024 in magnitude, so DC differences need at most 11 magnitude bits; AC
values stay below 1024 (10 bits), as T.81 F.1.2 requires of 8-bit data.

Inverse DCT (decoder), per 8x8 block
------------------------------------
* input: dequantized coefficients ``coef * Q``, |.| <= 2**15 * 255 for
  baseline tables.
* pass 1 (columns): Q13 products, shift by ``CONST_BITS - PASS1_BITS = 11``;
  outputs carry 2 fractional bits and gain sqrt(8); C stores them in ``int``.
* pass 2 (rows): shift by ``CONST_BITS + PASS1_BITS + 3 = 18``: removes Q13,
  the 2 fractional bits and the total gain 8 = 2**3 of the two passes.
* range limit: like libjpeg's ``IDCT_range_limit`` table, the shifted value
  is masked to 10 bits (``RANGE_MASK = 1023``, 2 bits wider than a sample),
  re-centred by +128 and clamped to 0..255; so a wildly out-of-range value
  wraps exactly as in libjpeg.

Pass-1 results outside int32 (possible only with 16-bit DQT entries and
hostile coefficients) are truncated to ``int`` by the C code (its workspace
is ``int``; products and pass 2 are 64-bit ``JLONG``).  No wrap is needed
here: changing a pass-1 value by k * 2**32 changes each pass-2 sum by
k * 2**32 * M (M an integer matrix entry), i.e. the shifted result by
k * 2**14 * M, which RANGE_MASK (10 bits) removes.  Exactness holds: |coef
* Q| <= 2**30, so |pass 1| < 2**35 and |pass-2 sum| < 2**50 < 2**53, and
results beyond int32 are floored in int64.  This is libjpeg-turbo's plain C path;
its SIMD kernels (Pillow's default) compute in saturating 16-bit lanes and
give different pixels for such out-of-range blocks -- the C path is the
reference (run Pillow with ``JSIMD_FORCENONE=1`` to compare).
"""

from __future__ import annotations

import functools

import numpy as np

from .tables import BLOCK, BLOCK_SIZE, NATURAL_ORDER, ZIGZAG_INDEX

__all__ = [
    "CONST_BITS",
    "PASS1_BITS",
    "FDCT_MATRIX",
    "IDCT_MATRIX",
    "descale",
    "level_shift",
    "forward_dct",
    "quantize",
    "dequantize",
    "inverse_dct",
    "to_zigzag",
    "from_zigzag",
    "fdct_quantize_plane",
    "idct_plane",
]

CONST_BITS = 13  # Q13 multipliers (jfdctint.c / jidctint.c)
PASS1_BITS = 2  # fractional bits kept between the two passes
CENTER_SAMPLE = 128  # T.81 A.3.1 level shift for 8-bit samples: 2**(P-1)
MAX_SAMPLE = 255  # 2**8 - 1
RANGE_MASK = 1023  # jdct.h: MAXJSAMPLE * 4 + 3, 2 bits wider than a sample

# Q13 multipliers of jfdctint.c / jidctint.c: round(c * 2**13).
FIX_0_298631336 = 2446  # round(0.298631336 * 2**13) = sqrt(2)*(-c1+c3+c5-c7)
FIX_0_390180644 = 3196  # round(0.390180644 * 2**13) = sqrt(2)*(c3-c5)
FIX_0_541196100 = 4433  # round(0.541196100 * 2**13) = sqrt(2)*c6
FIX_0_765366865 = 6270  # round(0.765366865 * 2**13) = sqrt(2)*(c2-c6)
FIX_0_899976223 = 7373  # round(0.899976223 * 2**13) = sqrt(2)*(c3-c7)
FIX_1_175875602 = 9633  # round(1.175875602 * 2**13) = sqrt(2)*c3
FIX_1_501321110 = 12299  # round(1.501321110 * 2**13) = sqrt(2)*(c1+c3-c5-c7)
FIX_1_847759065 = 15137  # round(1.847759065 * 2**13) = sqrt(2)*(c2+c6)
FIX_1_961570560 = 16069  # round(1.961570560 * 2**13) = sqrt(2)*(c3+c5)
FIX_2_053119869 = 16819  # round(2.053119869 * 2**13) = sqrt(2)*(c1+c3-c5+c7)
FIX_2_562915447 = 20995  # round(2.562915447 * 2**13) = sqrt(2)*(c1+c3)
FIX_3_072711026 = 25172  # round(3.072711026 * 2**13) = sqrt(2)*(c1+c3+c5-c7)
# (cK = cos(K*pi/16); the sqrt(2) is the per-pass gain of the flow graph.)

ONE_Q13 = 1 << CONST_BITS  # 1.0 in Q13: the even outputs' "<< CONST_BITS"

FDCT_PASS1_SHIFT = CONST_BITS - PASS1_BITS  # 11: keep 2 fractional bits
FDCT_PASS2_SHIFT = CONST_BITS + PASS1_BITS  # 15: drop Q13 and pass-1 bits
IDCT_PASS1_SHIFT = CONST_BITS - PASS1_BITS  # 11: keep 2 fractional bits
IDCT_PASS2_SHIFT = CONST_BITS + PASS1_BITS + 3  # 18: also remove gain 8 = 2**3


def descale(x: np.ndarray, n: int) -> np.ndarray:
    """Round-to-nearest right shift (libjpeg's ``DESCALE``): add half, shift.

    Parameters
    ----------
    x : ndarray, integer dtype, or float64 holding exact integers
        Values to scale down by ``2**n``.
    n : int
        Number of bits to remove, ``n >= 1``.

    Returns
    -------
    ndarray, same shape and dtype as ``x``
        ``floor((x + 2**(n-1)) / 2**n)``: halves round towards +infinity,
        as the arithmetic shift of the C code does for negative values.
    """
    if x.dtype.kind == "f":
        # Exact: x is an integer < 2**53, and scaling by 2**-n is exact.
        return np.floor((x + float(1 << (n - 1))) * (1.0 / (1 << n)))
    return (x + (1 << (n - 1))) >> n


def _fdct_flow_graph(x):
    """Pre-shift outputs of one 1-D pass of jfdctint.c (LL&M figure 1 and 8).

    Parameters
    ----------
    x : sequence of 8 ndarrays (same shape, int64)
        The eight inputs of the 1-D transform.

    Returns
    -------
    ndarray, shape (8,) + x[0].shape, int64
        Output ``k`` before its final :func:`descale`; outputs 0 and 4 are
        scaled by ``2**CONST_BITS`` (see the module essay).
    """
    tmp0, tmp7 = x[0] + x[7], x[0] - x[7]
    tmp1, tmp6 = x[1] + x[6], x[1] - x[6]
    tmp2, tmp5 = x[2] + x[5], x[2] - x[5]
    tmp3, tmp4 = x[3] + x[4], x[3] - x[4]
    # Even part (LL&M figure 1, rotator sqrt(2)*c6).
    tmp10, tmp13 = tmp0 + tmp3, tmp0 - tmp3
    tmp11, tmp12 = tmp1 + tmp2, tmp1 - tmp2
    out = [None] * 8
    out[0] = (tmp10 + tmp11) * ONE_Q13
    out[4] = (tmp10 - tmp11) * ONE_Q13
    z1 = (tmp12 + tmp13) * FIX_0_541196100
    out[2] = z1 + tmp13 * FIX_0_765366865
    out[6] = z1 - tmp12 * FIX_1_847759065
    # Odd part (LL&M figure 8).
    z1, z2 = tmp4 + tmp7, tmp5 + tmp6
    z3, z4 = tmp4 + tmp6, tmp5 + tmp7
    z5 = (z3 + z4) * FIX_1_175875602
    tmp4 = tmp4 * FIX_0_298631336
    tmp5 = tmp5 * FIX_2_053119869
    tmp6 = tmp6 * FIX_3_072711026
    tmp7 = tmp7 * FIX_1_501321110
    z1 = z1 * -FIX_0_899976223
    z2 = z2 * -FIX_2_562915447
    z3 = z3 * -FIX_1_961570560 + z5
    z4 = z4 * -FIX_0_390180644 + z5
    out[7] = tmp4 + z1 + z3
    out[5] = tmp5 + z2 + z4
    out[3] = tmp6 + z2 + z3
    out[1] = tmp7 + z1 + z4
    return np.stack(out)


def _idct_flow_graph(x):
    """Pre-shift outputs of one 1-D pass of jidctint.c (transposed graph).

    Parameters
    ----------
    x : sequence of 8 ndarrays (same shape, int64)
        Frequency-domain inputs 0..7 of the 1-D inverse transform.

    Returns
    -------
    ndarray, shape (8,) + x[0].shape, int64
        Sample-domain output ``k`` before its final :func:`descale`.
    """
    # Even part: rotator sqrt(2)*c(-6).
    z1 = (x[2] + x[6]) * FIX_0_541196100
    tmp2 = z1 - x[6] * FIX_1_847759065
    tmp3 = z1 + x[2] * FIX_0_765366865
    tmp0 = (x[0] + x[4]) * ONE_Q13
    tmp1 = (x[0] - x[4]) * ONE_Q13
    tmp10, tmp13 = tmp0 + tmp3, tmp0 - tmp3
    tmp11, tmp12 = tmp1 + tmp2, tmp1 - tmp2
    # Odd part: i0..i3 are inputs 7, 5, 3, 1.
    tmp0, tmp1, tmp2, tmp3 = x[7], x[5], x[3], x[1]
    z1, z2 = tmp0 + tmp3, tmp1 + tmp2
    z3, z4 = tmp0 + tmp2, tmp1 + tmp3
    z5 = (z3 + z4) * FIX_1_175875602
    tmp0 = tmp0 * FIX_0_298631336
    tmp1 = tmp1 * FIX_2_053119869
    tmp2 = tmp2 * FIX_3_072711026
    tmp3 = tmp3 * FIX_1_501321110
    z1 = z1 * -FIX_0_899976223
    z2 = z2 * -FIX_2_562915447
    z3 = z3 * -FIX_1_961570560 + z5
    z4 = z4 * -FIX_0_390180644 + z5
    tmp0 = tmp0 + z1 + z3
    tmp1 = tmp1 + z2 + z4
    tmp2 = tmp2 + z2 + z3
    tmp3 = tmp3 + z1 + z4
    return np.stack([tmp10 + tmp3, tmp11 + tmp2, tmp12 + tmp1, tmp13 + tmp0,
                     tmp13 - tmp0, tmp12 - tmp1, tmp11 - tmp2, tmp10 - tmp3])


def _pass_matrix(flow_graph) -> np.ndarray:
    matrix = flow_graph(list(np.eye(BLOCK, dtype=np.int64)))
    matrix.setflags(write=False)
    return matrix


# FDCT_MATRIX[k, i]: weight of input i in forward output k before the shift.
FDCT_MATRIX = _pass_matrix(_fdct_flow_graph)
# IDCT_MATRIX[k, i]: weight of frequency i in inverse output k before the shift.
IDCT_MATRIX = _pass_matrix(_idct_flow_graph)


def level_shift(samples: np.ndarray) -> np.ndarray:
    """Level shift of T.81 A.3.1: subtract 2**(P-1) = 128 from 8-bit samples.

    Parameters
    ----------
    samples : ndarray, any shape, dtype uint8

    Returns
    -------
    ndarray, same shape, dtype int16, values in [-128, 127]
    """
    return samples.astype(np.int16) - CENTER_SAMPLE


def forward_dct(shifted: np.ndarray) -> np.ndarray:
    """libjpeg's islow forward DCT (jfdctint.c) of level-shifted blocks.

    Parameters
    ----------
    shifted : ndarray, shape (N, 8, 8), integer dtype, values in [-128, 127]
        Blocks indexed ``[block, row y, column x]``.

    Returns
    -------
    ndarray, shape (N, 8, 8), dtype int32
        Coefficients ``[block, v, u]`` (vertical, horizontal frequency) scaled
        by 8 relative to the orthonormal DCT, exactly as libjpeg passes them
        to its quantizer.
    """
    x = np.asarray(shifted, dtype=np.int64)
    rows = descale(x @ FDCT_MATRIX.T, FDCT_PASS1_SHIFT)  # [b, y, u]
    cols = descale(np.matmul(FDCT_MATRIX, rows), FDCT_PASS2_SHIFT)  # [b, v, u]
    return cols.astype(np.int32)


def _divisors(qtable: np.ndarray) -> np.ndarray:
    """Quantizer divisors ``8 * Q`` (jcdctmgr.c ``quantval << 3``), shape (8, 8)."""
    q = np.asarray(qtable, dtype=np.int64).reshape(BLOCK, BLOCK)
    return q << 3  # the forward DCT's gain of 8 is divided out here


def quantize(coefficients: np.ndarray, qtable: np.ndarray) -> np.ndarray:
    """Quantize forward-DCT output as libjpeg does (T.81 A.3.4, rounded).

    Parameters
    ----------
    coefficients : ndarray, shape (N, 8, 8), integer dtype
        Output of :func:`forward_dct` (scaled by 8).
    qtable : ndarray, shape (64,), integer
        Quantization table in natural (row-major) order, entries >= 1.

    Returns
    -------
    ndarray, shape (N, 8, 8), dtype int16
        ``sign(c) * ((|c| + d // 2) // d)`` with ``d = 8 * Q`` (the dividend
        is made non-negative first, so C's truncating division and Python's
        floor division agree).
    """
    c = np.asarray(coefficients, dtype=np.int64)
    d = _divisors(qtable)
    magnitude = (np.abs(c) + (d >> 1)) // d
    return np.where(c < 0, -magnitude, magnitude).astype(np.int16)


def dequantize(quantized: np.ndarray, qtable: np.ndarray) -> np.ndarray:
    """Multiply quantized coefficients by their table entries (T.81 A.3.4).

    Parameters
    ----------
    quantized : ndarray, shape (N, 8, 8), integer dtype, natural order
    qtable : ndarray, shape (64,), integer, natural order

    Returns
    -------
    ndarray, shape (N, 8, 8), dtype int64
    """
    q = np.asarray(qtable, dtype=np.int64).reshape(BLOCK, BLOCK)
    return np.asarray(quantized, dtype=np.int64) * q


def _range_limit_table() -> np.ndarray:
    """libjpeg's post-IDCT range-limit table (jdmaster.c), 1024 entries.

    Index ``x & RANGE_MASK`` of a descaled, not yet re-centred IDCT output x.
    """
    idx = np.arange(RANGE_MASK + 1, dtype=np.int64)
    signed = np.where(idx < 512, idx, idx - 1024)  # 10-bit two's complement
    table = np.clip(signed + CENTER_SAMPLE, 0, MAX_SAMPLE).astype(np.uint8)
    table.setflags(write=False)
    return table


RANGE_LIMIT = _range_limit_table()


def inverse_dct(quantized: np.ndarray, qtable: np.ndarray) -> np.ndarray:
    """libjpeg's islow inverse DCT (jidctint.c) with dequantization.

    Parameters
    ----------
    quantized : ndarray, shape (N, 8, 8), integer dtype
        Quantized coefficients ``[block, v, u]`` in natural order.
    qtable : ndarray, shape (64,), integer
        Quantization table in natural order.

    Returns
    -------
    ndarray, shape (N, 8, 8), dtype uint8
        Reconstructed samples ``[block, y, x]`` after level shift and
        libjpeg's range limiting.
    """
    z = dequantize(quantized, qtable)
    cols = descale(np.matmul(IDCT_MATRIX, z), IDCT_PASS1_SHIFT)  # [b, y, u]
    cols = ((cols + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)  # C's int workspace
    rows = descale(cols @ IDCT_MATRIX.T, IDCT_PASS2_SHIFT)  # [b, y, x]
    return RANGE_LIMIT[rows & RANGE_MASK]


def to_zigzag(blocks: np.ndarray) -> np.ndarray:
    """Reorder natural-order 8x8 blocks into zig-zag sequence (Figure A.6).

    Parameters
    ----------
    blocks : ndarray, shape (N, 8, 8)

    Returns
    -------
    ndarray, shape (N, 64), same dtype; ``[:, k]`` is zig-zag coefficient k.
    """
    blocks = np.asarray(blocks)
    return blocks.reshape(blocks.shape[0], BLOCK_SIZE)[:, NATURAL_ORDER]


def from_zigzag(zigzag: np.ndarray) -> np.ndarray:
    """Inverse of :func:`to_zigzag`.

    Parameters
    ----------
    zigzag : ndarray, shape (N, 64)

    Returns
    -------
    ndarray, shape (N, 8, 8), same dtype, natural order ``[block, v, u]``.
    """
    zigzag = np.asarray(zigzag)
    return zigzag[:, ZIGZAG_INDEX].reshape(zigzag.shape[0], BLOCK, BLOCK)


# ---------------------------------------------------------------------------
# Whole-plane fast paths used by the codec.  They compute exactly the same
# integers as the block functions above (the test suite checks this); they
# only avoid reshuffling the data between the two passes.
# ---------------------------------------------------------------------------

# Pass matrices pre-scaled by 2**-shift (exact: powers of two), so that a
# product yields pre / 2**shift and descale() reduces to floor(t + 0.5).
_FDCT_P1 = np.ascontiguousarray(FDCT_MATRIX.T, dtype=np.float64) \
    * (1.0 / (1 << FDCT_PASS1_SHIFT))
_FDCT_P1_F32 = _FDCT_P1.astype(np.float32)  # exact: 15-bit integers * 2**-11
_FDCT_P2 = FDCT_MATRIX.astype(np.float64) * (1.0 / (1 << FDCT_PASS2_SHIFT))


def _round_half_up(t: np.ndarray) -> np.ndarray:
    """In-place ``floor(t + 0.5)``: :func:`descale` of a pre-scaled value."""
    t += 0.5
    return np.floor(t, out=t)


# Planes are processed in horizontal strips of whole block rows holding about
# this many samples: the float64 work buffers (8 bytes per sample) then stay
# in cache and are recycled by the allocator instead of being faulted in anew.
STRIP_SAMPLES = 1 << 16
# The forward DCT's strips are smaller: its float32/float64 work buffers
# plus the int16 output per sample fit L2 better.  Measured here (best of
# 40, perf_counter): fdct_quantize_plane of the 1024x1024 benchmark plane
# 3.6 ms with 2**15 against 4.0 ms with 2**16 (2**14: 3.8 ms, 2**17:
# 4.3 ms); the 208x208 mosaic 145 us in two strips of 13 block rows, 151 us
# in 19 + 7, 149 us in one.
FDCT_STRIP_SAMPLES = 1 << 15


def _strip_block_rows(cols: int) -> int:
    return max(1, STRIP_SAMPLES // (BLOCK * cols))


def _fdct_strip_rows(block_rows: int, cols: int) -> int:
    """Block rows per forward-DCT strip: as many strips as
    FDCT_STRIP_SAMPLES requires, of equal height (the last one may be
    shorter)."""
    strips = max(1, -(-block_rows * BLOCK * cols // FDCT_STRIP_SAMPLES))
    return max(1, -(-block_rows // strips))


def fdct_quantize_plane(plane: np.ndarray, qtable: np.ndarray) -> np.ndarray:
    """Level shift, forward DCT and quantize every block of a padded plane.

    Parameters
    ----------
    plane : ndarray, shape (8 * R, 8 * C), dtype uint8
        Component samples already padded to whole blocks.
    qtable : ndarray, shape (64,), integer, natural order

    Returns
    -------
    ndarray, shape (R * C, 64), dtype int16
        Quantized coefficients of block ``row * C + column`` in zig-zag
        order; identical to ``to_zigzag(quantize(forward_dct(level_shift(
        blocks)), qtable))``.
    """
    rows, cols = plane.shape
    nby, nbx = rows // BLOCK, cols // BLOCK
    d, half = _tiled_quantizer(np.asarray(qtable).tobytes(),
                               np.asarray(qtable).dtype.str, nbx)
    out = np.empty((nby * nbx, BLOCK_SIZE), dtype=np.int16)
    step = _fdct_strip_rows(nby, cols)
    for by in range(0, nby, step):
        strip = plane[by * BLOCK:(by + step) * BLOCK]
        index = _zigzag_gather_index(strip.shape[0] // BLOCK, nbx)
        _fdct_quantize_strip(strip, d, half, index,
                             out[by * nbx:by * nbx + len(index)])
    return out


@functools.lru_cache(maxsize=16)
def _zigzag_gather_index(nby: int, nbx: int) -> np.ndarray:
    """Flat indices taking [by, v, bx, u] samples to [(by, bx), k] zig-zag.

    Returns ndarray, shape (nby * nbx, 64), dtype intp (read-only, cached).
    """
    cols = nbx * BLOCK
    v, u = NATURAL_ORDER // BLOCK, NATURAL_ORDER % BLOCK
    index = (np.arange(nby)[:, None, None] * (BLOCK * cols)
             + np.arange(nbx)[None, :, None] * BLOCK
             + (v * cols + u)[None, None, :])
    index = index.reshape(nby * nbx, BLOCK_SIZE)
    index.setflags(write=False)
    return index


@functools.lru_cache(maxsize=16)
def _tiled_quantizer(qtable_bytes: bytes, dtype: str, nbx: int):
    """Divisors and their halves tiled to a plane ``nbx`` blocks wide.

    Returns ``(d, half)``, float32 (exact), shape (8, 8 * nbx):
    ``d[v, bx * 8 + u] = 8 * Q[v, u]`` and ``d / 2``.  Tiling keeps the
    broadcasts' inner loops long.  Read-only, cached per table and width.
    """
    qtable = np.frombuffer(qtable_bytes, dtype=dtype)
    d = np.tile(_divisors(qtable).astype(np.float32), (1, nbx))
    half = d * np.float32(0.5)
    for a in (d, half):
        a.setflags(write=False)
    return d, half


_SIGN_BIT = np.uint32(0x80000000)  # IEEE 754 binary32 sign bit


def _fdct_quantize_strip(strip: np.ndarray, d: np.ndarray, half: np.ndarray,
                         index: np.ndarray, out: np.ndarray) -> None:
    """:func:`fdct_quantize_plane` of one strip of block rows, into ``out``.

    ``d``/``half``: the plane's :func:`_tiled_quantizer` arrays; ``index``:
    the strip's :func:`_zigzag_gather_index`; ``out``: the strip's rows of
    the plane's result, shape (blocks, 64), int16.

    Precision: pass 1 runs in float32, which is exact there -- its inputs
    are 8-bit and every partial sum is a multiple of 2**-11 below 2**12 in
    magnitude (|pre| <= 2**23), so it needs at most 24 significant bits.
    Pass 2 needs float64 (|pre| <= 2**28 in units of 2**-15).  The rounded
    coefficients (|c| <= 2**13) and the quantizer's numerator (< 2**14) are
    exact in float32 again, and so is its truncated quotient (see below).
    """
    rows, cols = strip.shape
    nby = rows // BLOCK
    # Level shift while widening, then pass 1 along each 8-sample row
    # segment: [(y, bx), x] -> [(y, bx), u].
    a = np.subtract(strip.reshape(-1, BLOCK), np.float32(CENTER_SAMPLE),
                    dtype=np.float32)
    b = _round_half_up(np.matmul(a, _FDCT_P1_F32))  # DESCALE(pre, 11)
    # Pass 2 down each 8-row column segment: [by, y, (bx, u)] -> [by, v, ...].
    t = np.matmul(_FDCT_P2, b.astype(np.float64).reshape(nby, BLOCK, cols))
    t += 0.5
    c = a.reshape(nby, BLOCK, cols)
    np.floor(t, out=c)  # DESCALE(pre, 15), an integer: exact in float32
    # Quantize: sign(c) * floor((|c| + d/2) / d) == trunc((c + sgn * d/2) / d)
    # since the numerator has the sign of c.  The float32 quotient Q is
    # correctly rounded with an error below ulp(Q) <= 2**-9 / d, while a
    # non-integer true quotient is at least 1/d away from the next integer,
    # so the truncating int16 cast is exact.  sgn * d/2 is built by OR-ing
    # c's IEEE sign bit into d/2 (copysign, but vectorised integer ops).
    signed_half = c.view(np.uint32) & _SIGN_BIT
    signed_half |= half.view(np.uint32)
    c += signed_half.view(np.float32)
    c /= d
    # mode="wrap" only skips the bounds check (every index is in range) and
    # lets take write straight into ``out``.
    np.take(c.astype(np.int16).reshape(-1), index, out=out, mode="wrap")


_IDCT_P1 = IDCT_MATRIX.astype(np.float64) * (1.0 / (1 << IDCT_PASS1_SHIFT))
_IDCT_P2 = np.ascontiguousarray(IDCT_MATRIX.T, dtype=np.float64) \
    * (1.0 / (1 << IDCT_PASS2_SHIFT))
# Adding IDCT_DC_OFFSET to a block's dequantized DC adds 4 * offset = 4112
# (an integer, so pass 1's rounding is unchanged) to each pass-1 output of
# column 0 (weight 2**13 / 2**11), and that adds 4112 * 2**13 / 2**18 =
# offset / 8 = 128.5 to every pass-2 output before its floor (every output
# weighs frequency 0 by 2**13): the rounding half of DESCALE plus the level
# shift CENTER_SAMPLE.  So floor(pass 2) = x + 128, x the descaled IDCT
# output that libjpeg's range-limit table is indexed with.
IDCT_DC_OFFSET = 8 * CENTER_SAMPLE + 4

# No sample wraps when every x lies in [-512, 512) (10-bit two's complement,
# RANGE_MASK): the range-limit table is then clamp(x + 128, 0, 255), and
# with v = x + 128 + frac the pre-floor value, clamp(floor(v), 0, 255) =
# trunc(clamp(v, 0, 255)) (for v < 0 both are 0, for v >= 255 both 255,
# between them trunc = floor).  x in [-512, 512) <=> v in [-384, 640).
_NO_WRAP_LOW = -512.0 + CENTER_SAMPLE
_NO_WRAP_HIGH = 512.0 + CENTER_SAMPLE


def idct_plane(coef: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Inverse DCT of a grid of dequantized blocks laid out for the fast path.

    Parameters
    ----------
    coef : ndarray, shape (R, 8, C, 8), dtype float64
        ``coef[by, v, bx, u]`` = dequantized coefficient (v, u) of block
        (by, bx), with :data:`IDCT_DC_OFFSET` already added to each DC term.
    out : ndarray, shape (8 * R, 8 * C), uint8, optional
        Where to write the samples (default: a new array).

    Returns
    -------
    ndarray, shape (8 * R, 8 * C), dtype uint8
        Reconstructed samples; identical to :func:`inverse_dct` per block.
    """
    nby, _, nbx, _ = coef.shape
    cols = nbx * BLOCK
    if out is None:
        out = np.empty((nby * BLOCK, cols), dtype=np.uint8)
    step = _strip_block_rows(cols)
    for by in range(0, nby, step):
        strip = coef[by:by + step]
        _idct_strip(strip, out[by * BLOCK:(by + len(strip)) * BLOCK])
    return out


def _idct_strip(coef: np.ndarray, out: np.ndarray) -> None:
    """:func:`idct_plane` of one strip of block rows, written into ``out``."""
    rows = coef.shape[0]
    cols = coef.shape[2] * BLOCK
    # Pass 1 down the columns: [by, v, (bx, u)] -> [by, y, (bx, u)].
    t = _round_half_up(np.matmul(_IDCT_P1, coef.reshape(rows, BLOCK, cols)))
    # Pass 2 along the rows: [(by, y, bx), u] -> [(by, y, bx), x], which is
    # already the raster order of the samples; t2 = x + 128 + frac.
    t2 = np.matmul(t.reshape(-1, BLOCK), _IDCT_P2).reshape(out.shape)
    if t2.size and (t2.min() < _NO_WRAP_LOW or t2.max() >= _NO_WRAP_HIGH):
        # Some sample wraps: libjpeg's table at x & RANGE_MASK (exact: t2 is
        # an integer / 2**18 below 2**32 in magnitude, see the module text).
        x = np.floor(t2).astype(np.int64) - CENTER_SAMPLE
        x &= RANGE_MASK
        np.take(RANGE_LIMIT, x, out=out)
    else:
        np.clip(t2, 0, MAX_SAMPLE, out=out, casting="unsafe")  # truncates
