"""refimpl: bit-exact reference implementation of an edge DNN inference engine.

Data flows one way through the modules:
  spec -> layout -> fixedpoint -> quantize -> engine -> dump/report -> cli
"""
__version__ = "0.1.0"
