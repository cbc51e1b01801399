"""Interchange with other tools (the optional ``onnx`` extra).

``onnx_export`` writes a network spec and its float weights as an ONNX
graph (opset 13) that onnxruntime runs; ``onnx_import`` reads the Conv and
Gemm/MatMul weights of an ONNX file back into the package's weight layout
(``<layer>.weight`` / ``<layer>.bias``, see spec.py), matched to a network
spec by order and shape.  The float graph is the float64 reference path
of quantize.float_forward, not the bit-exact integer engine.
"""
