"""Pure-NumPy baseline JPEG codec, byte-exact with libjpeg-turbo (Pillow).

Public API
----------
encode(array, quality=75, subsampling=None, optimize=False,
       restart_interval=0, restart_rows=0) -> bytes
    subsampling=None is libjpeg's default: 4:2:0 colour, 1x1 greyscale.
decode(data, max_pixels=None) -> ndarray (H, W) or (H, W, 3) uint8
    libjpeg-turbo's C-path pixels (JSIMD_FORCENONE=1) or JpegError.
read_coefficients(data, max_pixels=None) -> list of (rows, cols, 64) int16
    zig-zag blocks
encode_entropy(coefficients, optimize=True) / decode_entropy(data)
    Lossless run-length + Huffman coding of integer 8x8 blocks.
trace_encoder(...) -> EncoderTrace
    Every encoder stage (samples, level shift, DCT, quantized zig-zag
    coefficients, symbols with codes, entropy data before/after stuffing).
Stage functions: level_shift, forward_dct, quantize, dequantize,
inverse_dct, to_zigzag, from_zigzag, rgb_to_ycbcr, ycbcr_to_rgb,
run_length_symbols, symbol_frequencies, assign_codes, pack_bits,
stuff_bytes, unstuff_bytes, encode_segments, HuffmanTable, optimal_table,
quant_tables_for_quality.
JpegError (a ValueError) is the only exception raised for bad input.
"""

from .codec import (SUBSAMPLING, ComponentTrace, EncoderTrace, decode,
                    decode_entropy, encode, encode_entropy, read_coefficients,
                    trace_encoder)
from .color import rgb_to_ycbcr, ycbcr_to_rgb
from .dct import (dequantize, forward_dct, from_zigzag, inverse_dct,
                  level_shift, quantize, to_zigzag)
from .errors import JpegError
from .huffman import (HuffmanTable, Symbols, assign_codes, encode_segments,
                      magnitude_category, optimal_table, pack_bits,
                      run_length_symbols, stuff_bytes, symbol_frequencies,
                      unstuff_bytes)
from .markers import MAX_DIMENSION, MAX_PIXELS
from .tables import (NATURAL_ORDER, STD_AC_CHROMINANCE, STD_AC_LUMINANCE,
                     STD_CHROMINANCE_QUANT, STD_DC_CHROMINANCE,
                     STD_DC_LUMINANCE, STD_LUMINANCE_QUANT, ZIGZAG_INDEX,
                     HuffmanSpec, quality_scaling, quant_tables_for_quality)

__all__ = [
    "JpegError", "MAX_DIMENSION", "MAX_PIXELS", "SUBSAMPLING",
    "encode", "decode", "read_coefficients", "encode_entropy", "decode_entropy",
    "trace_encoder", "EncoderTrace", "ComponentTrace",
    "level_shift", "forward_dct", "quantize", "dequantize", "inverse_dct",
    "to_zigzag", "from_zigzag", "rgb_to_ycbcr", "ycbcr_to_rgb",
    "HuffmanSpec", "HuffmanTable", "Symbols", "optimal_table",
    "magnitude_category", "run_length_symbols", "symbol_frequencies",
    "assign_codes", "pack_bits", "stuff_bytes", "unstuff_bytes",
    "encode_segments",
    "NATURAL_ORDER", "ZIGZAG_INDEX", "STD_LUMINANCE_QUANT",
    "STD_CHROMINANCE_QUANT", "STD_DC_LUMINANCE", "STD_AC_LUMINANCE",
    "STD_DC_CHROMINANCE", "STD_AC_CHROMINANCE", "quality_scaling",
    "quant_tables_for_quality",
]
