"""Partitioned inference with feature-space encoding (the paper's method).

One module a step, imported in this order (data flows one way):

  mapping    int16 feature map <-> 8-bit samples (power-of-two shift, min..max scale)
  mosaic     8-bit (C, H, W) <-> one grayscale picture (packed or block-aligned)
  lossless   exact run-length + Huffman coding of int16 values (JPEG's back end)
  codecs     raw / lossless / jpeg payloads of one feature map, with their decoders
  bitstream  the self-describing byte layout a host decodes with nothing else
  partition  edge run up to layer L + encode; host decode + run of the rest
  golden     stage-by-stage vectors of the feature encoder (for RTL teams)
"""
