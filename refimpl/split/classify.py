"""The partitioned pipeline as a classifier for ``refimpl.evaluate``.

classify(pixels uint8 (N, 3, H, W)) -> evaluate.Scores, image by image as a
deployed system would run it:

  edge   engine.run up to and including ``at`` -> codec -> one bitstream per image
  host   bitstream.read + checks -> decode -> layers after ``at`` (fixed or float)

and, beside it, the unsplit bit-exact engine on the same images, so the
report's agreement is "the split pipeline picks the class the unsplit
engine picks" (the accuracy a codec costs) and its per-layer saturation
counts are the unsplit run's.  ``link_bytes`` is every bitstream's full size,
header and side information included.

The Scores' two logit sets are ``paths = ("split", "unsplit")``: split logits
are the host's scores (real values: int logits * 2**-out_frac in fixed mode,
float64 in float mode), unsplit ones the engine's int logits.
"""
from __future__ import annotations

import numpy as np

from .. import engine, quantize
from ..evaluate import Scores
from ..quantize import QNetwork
from ..spec import NetworkSpec
from . import partition


def split_classifier(spec: NetworkSpec, params: dict, qnet: QNetwork, at: str, codec: str,
                     host: str = "fixed", **options):
    """classify(pixels) -> Scores of the pipeline cut after ``at`` with ``codec``
    (options as partition.encode_fmap: qf, mapping, mosaic, abbreviated, optimize,
    scan, predictor) and the host in mode ``host`` ('fixed' or 'float')."""
    partition.check_split_point(spec, at)
    if host not in partition.MODES:
        raise ValueError(f"host mode {host!r}")

    def classify(pixels: np.ndarray) -> Scores:
        x = quantize.pixels_to_int(pixels, spec)
        streams = partition.edge_encode(qnet, x, at, codec, **options)
        out = partition.host_decode_run(qnet, list(streams), host, params)
        full = engine.run(qnet, x, keep=(spec.layers[-1].name,))
        return Scores(fixed=np.asarray(out["scores"], dtype=np.float64).reshape(len(pixels), -1),
                      float=full[-1].output.reshape(len(pixels), -1).astype(np.int64),
                      saturations={r.name: r.stats.saturations for r in full},
                      acc_overflows={r.name: r.stats.acc_overflows for r in full},
                      link_bytes=np.array([len(s) for s in streams]), paths=("split", "unsplit"))
    return classify
