"""Fig. 4a: per split point, the entropy (bits per value) and the non-zero ratio of
the output features over the test set.

entropy_bits   zeroth-order entropy of one frame's int16 values (split.analysis.
               entropy_bits: -sum p log2 p over that frame's histogram), mean over
               frames, as ``refimpl features`` reports it.
nonzero        fraction of values != 0, over all frames (the same as the mean
               over frames: every frame has the same size).
The engine runs once over the set in batches; each batch's sums are stored, so a
rerun resumes at the first batch not done.
"""
from __future__ import annotations

import numpy as np

from .. import engine, quantize
from ..split import analysis, partition
from . import context

CSV_HEAD = ["layer", "shape", "values", "entropy_bits", "nonzero"]


def run(ctx, store, layers, bar=None, log=print) -> dict:
    pixels = ctx.sets["test"][0]
    n = len(pixels)
    prog = bar("sparsity (test)", n) if bar else None
    sums = {at: [0.0, 0] for at in layers}        # sum of per-frame entropies, non-zero count
    for start in range(0, n, context.BATCH):
        key = store.key(set=ctx.sets["test"][2], model=ctx.model_key, layers=list(layers), start=start,
                        batch=context.BATCH)

        def measure(start=start):
            x = quantize.pixels_to_int(pixels[start:start + context.BATCH], ctx.spec)
            acts = {partition.INPUT: x}
            acts.update({r.name: r.output for r in engine.run(ctx.qnet, x, keep=tuple(l for l in layers if l != partition.INPUT))})
            return {at: [float(sum(analysis.entropy_bits(f) for f in acts[at])), int(np.count_nonzero(acts[at]))]
                    for at in layers}
        part = store.point(key, measure)
        for at in layers:
            sums[at][0] += part[at][0]
            sums[at][1] += part[at][1]
        if prog:
            prog(min(context.BATCH, n - start))
    rows = []
    for at in layers:
        shape, _ = partition.map_format(ctx.qnet, at)
        values = int(np.prod(shape))
        rows.append(dict(layer=at, shape=list(shape), values=values, entropy_bits=sums[at][0] / n,
                         nonzero=sums[at][1] / (values * n)))
        log(f"{at}: entropy {rows[-1]['entropy_bits']:.3f} bits/value, non-zero {rows[-1]['nonzero']:.4f}")
    return dict(experiment="sparsity", network=ctx.spec.name, weights=ctx.weights, quick=ctx.quick,
                images=n, layers=rows,
                units=dict(entropy_bits="bits per value (zeroth order, per frame, mean over frames)",
                           nonzero="fraction of values != 0", values="values per frame"))


def csv_rows(rep: dict) -> list:
    return [dict(layer=r["layer"], shape="x".join(map(str, r["shape"])), values=r["values"],
                 entropy_bits=f"{r['entropy_bits']:.4f}", nonzero=f"{r['nonzero']:.4f}") for r in rep["layers"]]
