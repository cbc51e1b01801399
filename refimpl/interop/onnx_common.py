"""What export and import share: the one door to the ``onnx`` package and the opset.

OPSET 13 (ONNX 1.8, IR version 7): every operator the shipped networks need
(Conv with ``group``, MaxPool, LRN, Relu, Flatten, Gemm, Sub) exists there
with today's semantics, and onnxruntime >= 1.16 (the extra's floor) runs it.
"""
from ..errors import RefimplError

OPSET = 13                  # ai.onnx default domain
IR_VERSION = 7              # the IR version that came with opset 13 (onnx 1.8)
INSTALL_HINT = "pip install 'refimpl[onnx]' (onnx, onnxruntime)"
INPUT = "pixels"            # graph input: float32 (N, 3, H, W) RGB pixels 0..255
OUTPUT = "logits"           # graph output: the last layer, (N, C) for an fc, else (N, C, H, W)


def onnx_module():
    """The ``onnx`` package, or RefimplError naming the extra."""
    try:
        import onnx
    except ImportError:
        raise RefimplError(f"ONNX needs the 'onnx' extra: {INSTALL_HINT}") from None
    return onnx
