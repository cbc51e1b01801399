"""Accuracy of a network through the bit-exact engine and the float reference path.

One classifier call handles a batch of images: ``classify(pixels)`` with
pixels uint8 (N, 3, H, W) returns a ``Scores`` record (fixed-point and float
logits per image, saturation and overflow counts per layer, and, for a
partitioned pipeline, the bytes each image cost on the link).
``bitexact_classifier`` is the whole network on one engine; a split
pipeline (edge encode, bitstream, host decode, classify) plugs in as another
classifier with the same signature.  ``evaluate`` walks a data set in
batches through any classifier and sums the counts.

Ranking: top-k takes the k largest logits, ties broken towards the lower
class index (a stable sort of the negated logits), for the integer
logits of the engine and the float64 logits of the reference path alike.
Agreement is the fraction of images whose fixed-point and float top-1
classes are equal.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from . import engine, quantize
from .spec import NetworkSpec


@dataclass
class Scores:
    fixed: np.ndarray                 # (N, classes) int64 logits of the bit-exact engine (at fc8's out_frac)
    float: np.ndarray                 # (N, classes) float64 logits of quantize.float_forward
    saturations: dict = field(default_factory=dict)     # layer -> outputs clamped to int16 (all N images)
    acc_overflows: dict = field(default_factory=dict)   # layer -> outputs whose accumulator overflowed
    link_bytes: np.ndarray | None = None                # (N,) bytes per image on the link (split pipelines)
    paths: tuple = ("fixed", "float")                   # names of the two logit sets, the report's key prefixes


PATH_NAMES = {"fixed": "bit-exact fixed point", "float": "float reference",
              "split": "split pipeline (edge, bitstream, host)", "unsplit": "unsplit bit-exact fixed point"}


def bitexact_classifier(spec: NetworkSpec, params: dict, qnet: quantize.QNetwork):
    """classify(pixels uint8 (N, 3, H, W)) -> Scores, the whole network on the fast engine."""
    def classify(pixels: np.ndarray) -> Scores:
        results = engine.run(qnet, quantize.pixels_to_int(pixels, spec))
        ref = quantize.float_forward(spec, params, quantize.pixels_to_float(pixels, spec))
        last = spec.layers[-1].name
        return Scores(fixed=results[-1].output.reshape(len(pixels), -1).astype(np.int64),
                      float=ref[last].reshape(len(pixels), -1),
                      saturations={r.name: r.stats.saturations for r in results},
                      acc_overflows={r.name: r.stats.acc_overflows for r in results})
    return classify


def ranked(logits: np.ndarray, k: int) -> np.ndarray:
    """(N, k) class indices of the k largest logits, ties to the lower index."""
    return np.argsort(-np.asarray(logits), axis=1, kind="stable")[:, :k]


def spread(total: int, limit: int | None) -> np.ndarray:
    """Indices of ``limit`` images evenly spread over ``total`` (all when None):
    i * total // limit, so every class of a class-ordered split is represented."""
    if limit is None or limit >= total:
        return np.arange(total)
    return np.arange(limit) * total // limit


def evaluate(classify, pixels: np.ndarray, labels: np.ndarray, batch: int = 250, progress=None) -> dict:
    """Run ``classify`` over (pixels uint8 (N, 3, H, W), labels (N,)) in batches.

    progress : optional callable(images done) after every batch.
    Returns counts and rates: images, top1/top5 hits and accuracy of the
    fixed and float paths, top-1 agreement, saturations and accumulator
    overflows summed per layer, seconds and images per second (and mean
    link bytes per image when the classifier reports them).
    """
    n = len(labels)
    hits, paths = {}, None
    agree = 0
    sat, ovf = {}, {}
    link = []
    t0 = time.perf_counter()
    for start in range(0, n, batch):
        px, lab = pixels[start:start + batch], np.asarray(labels[start:start + batch]).astype(np.int64)
        s = classify(px)
        paths = paths or s.paths
        rf, rr = ranked(s.fixed, 5), ranked(s.float, 5)
        for name, r in zip(paths, (rf, rr)):
            hits[f"{name}_top1"] = hits.get(f"{name}_top1", 0) + int(np.sum(r[:, 0] == lab))
            hits[f"{name}_top5"] = hits.get(f"{name}_top5", 0) + int(np.sum(np.any(r == lab[:, None], axis=1)))
        agree += int(np.sum(rf[:, 0] == rr[:, 0]))
        for name, v in s.saturations.items():
            sat[name] = sat.get(name, 0) + int(v)
        for name, v in s.acc_overflows.items():
            ovf[name] = ovf.get(name, 0) + int(v)
        if s.link_bytes is not None:
            link.append(np.asarray(s.link_bytes))
        if progress:
            progress(len(lab))
    seconds = time.perf_counter() - t0
    rep = dict(images=n, paths=list(paths or ("fixed", "float")), **hits, **{k.replace("top", "acc_top"): v / n for k, v in hits.items()},
               agree_top1=agree, agreement=agree / n, saturations=sat, acc_overflows=ovf,
               seconds=seconds, images_per_s=n / seconds if seconds > 0 else float("inf"))
    if link:
        rep["mean_link_bytes"] = float(np.mean(np.concatenate(link)))
    return rep


def table(rep: dict) -> str:
    """Human-readable summary: accuracy per path, agreement, speed, per-layer counts."""
    from tabulate import tabulate

    n = rep["images"]
    rows = [[path, f"{rep[f'{key}_top1']:,}", f"{100 * rep[f'{key}_acc_top1']:.2f}",
             f"{rep[f'{key}_top5']:,}", f"{100 * rep[f'{key}_acc_top5']:.2f}"]
            for key in rep["paths"] for path in [PATH_NAMES.get(key, key)]]
    out = [tabulate(rows, headers=["path", "top-1 (images)", "top-1 (%)", "top-5 (images)", "top-5 (%)"],
                    disable_numparse=True, colalign=("left", "right", "right", "right", "right"))]
    out.append(f"images: {n:,}; {'/'.join(rep['paths'])} top-1 agreement: {rep['agree_top1']:,} images "
               f"({100 * rep['agreement']:.2f} %); {rep['seconds']:.1f} s, {rep['images_per_s']:.1f} images/s")
    if "mean_link_bytes" in rep:
        out.append(f"mean link bytes per image: {rep['mean_link_bytes']:.1f}")
    layer_rows = [[name, f"{rep['saturations'][name]:,}", f"{rep['acc_overflows'].get(name, 0):,}"]
                  for name in rep["saturations"]]
    out.append(tabulate(layer_rows, headers=["layer", "saturated (outputs, all images)",
                                             "acc overflows (outputs, all images)"],
                        disable_numparse=True, colalign=("left", "right", "right")))
    return "\n\n".join(out)
