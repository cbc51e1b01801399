"""JPEG-compressed weights in DRAM and the on-chip weight decoder (issue 14).

One module a step, in data-flow order:
  mapping  weight tensor <-> 2-D weight matrix <-> 8-bit grayscale image
  codec    one layer's matrix <-> its DRAM stream (baseline JPEG at a quality, or lossless)
  bundle   the one-file container of every layer's stream (layout, CRC) and its loader
  search   the per-layer quality search under a network-wide top-1 budget
  golden   weight-decoder golden vectors (stream, decoded 8-bit image, int16 weights)
  cli      ``refimpl weights compress|info`` and the --weights BUNDLE loading path
"""
