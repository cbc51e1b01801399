"""The paper's accuracy experiments on the trained alexnet-cifar (Figs. 4 and 5).

One module a step, imported in this order (data flows one way):

  context      the model, the image sets (10,000 test images; a fixed validation
               subset of the training split) and the edge-feature cache
  store        resumable per-point results and atomic CSV/JSON output
  measure      one operating point: codec over cached maps -> host -> top-1, bytes;
               the k-bit uniform quantizer peer; the smallest passing setting
  sparsity     Fig. 4a: entropy and non-zero ratio per layer
  compression  Fig. 4b: lossless ratio and lossy ratio at 1 % loss per layer,
               the k-bit peer, the ratio table for the system model
  qfsweep      Fig. 5b: top-1 and ratio at every QF for one layer
  inputjpeg    host-only inference on the JPEG-coded picture
  plots        one PNG per paper figure (the optional plot extra)
  cli          ``refimpl experiment NAME``

``finetune`` (split fine-tuning) is a separate module of its own.
"""
