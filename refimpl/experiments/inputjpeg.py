"""Host-only inference: the edge JPEG-codes the picture itself and the host runs the
whole network (bit-exact engine) on the decoded picture.

The picture is coded as a colour JPEG by refimpl.jpeg (byte-identical to
Pillow's ``Image.save(..., "JPEG", quality=qf)``: libjpeg's default 4:2:0
chroma subsampling, standard Huffman tables).  Two sizes per frame:
  bytes       the abbreviated datastream (T.81 B.5: no APP0, DQT or DHT; the
              host rebuilds the tables from the QF, as the feature codec does)
              -- the figure compared with the feature bitstreams;
  full_bytes  the complete JFIF file (+ 2 DQT, 4 DHT and APP0: about 600 bytes,
              a large share of a 32x32 picture's file).
Ratios are against the picture's 16-bit form, 2 bytes a value of the int16
input map (3 x 32 x 32 x 2 = 6,144 bytes), the paper's "16-bit precision"
baseline.  ``qf_at_1pct``: the smallest swept QF from which on every swept QF
is within 1 point of the reference top-1 on these (test) images.

Note: CIFAR-10 here is itself a JPEG re-packaging (data README), so the test
pictures have been JPEG-coded once before; the shipped network saw the same.
"""
from __future__ import annotations

import numpy as np

from .. import engine, evaluate, jpeg, quantize
from ..split import codecs
from . import compression, context

QFS = tuple(range(5, 96, 5))
CSV_HEAD = ["qf", "bytes", "full_bytes", "ratio", "full_ratio", "top1_pct", "ref_top1_pct", "loss_pp", "agreement"]


def point(ctx, qf: int, progress=None) -> dict:
    pixels = ctx.sets["test"][0]
    lab, ref = context.labels(ctx, "test"), context.reference_top1(ctx, "test")
    raw = 2 * int(np.prod(ctx.spec.input_shape))
    ab, full, preds = [], [], []
    for start in range(0, len(pixels), context.BATCH):
        dec = []
        for p in pixels[start:start + context.BATCH]:
            data = jpeg.encode(np.ascontiguousarray(p.transpose(1, 2, 0)), quality=qf)
            full.append(len(data))
            ab.append(len(codecs.abbreviate(data, False)))
            dec.append(jpeg.decode(data).transpose(2, 0, 1))
        x = quantize.pixels_to_int(np.stack(dec), ctx.spec)
        logits = engine.run(ctx.qnet, x, keep=(ctx.spec.layers[-1].name,))[-1].output.reshape(len(dec), -1)
        preds.append(evaluate.ranked(logits.astype(np.int64), 1)[:, 0])
        if progress:
            progress(len(dec))
    pred = np.concatenate(preds)
    hits, ref_hits, n = int(np.sum(pred == lab)), int(np.sum(ref == lab)), len(lab)
    return dict(images=n, hits=hits, ref_hits=ref_hits, bytes=float(np.mean(ab)), full_bytes=float(np.mean(full)),
                ratio=raw / float(np.mean(ab)), full_ratio=raw / float(np.mean(full)), top1_pct=100.0 * hits / n,
                ref_top1_pct=100.0 * ref_hits / n, loss_pp=100.0 * (ref_hits - hits) / n,
                agreement=float(np.mean(pred == ref)))


def run(ctx, store, qfs=QFS, bar=None, log=print) -> dict:
    context.prefill(ctx, "test", [ctx.spec.layers[-1].name], bar("reference (test)", len(ctx.sets["test"][1])) if bar else None)
    rows = []
    for qf in qfs:
        key = store.key(set=ctx.sets["test"][2], model=ctx.model_key, qf=qf, picture="colour-jpeg-420")
        if key not in store.items:
            p = point(ctx, qf, bar(f"input QF {qf}", len(ctx.sets["test"][1])) if bar else None)
            store.put(key, p)
            log(f"input QF {qf}: {p['bytes']:.1f} B abbreviated, {p['full_bytes']:.1f} B JFIF ({p['ratio']:.2f}x / "
                f"{p['full_ratio']:.2f}x), top-1 {p['top1_pct']:.2f} % (loss {p['loss_pp']:.2f} points)")
        rows.append(dict(qf=qf, **store.get(key)))
    ok = [compression.passes(r) for r in rows]
    op = next((rows[i] for i in range(len(rows)) if all(ok[i:])), None)
    return dict(experiment="input", network=ctx.spec.name, weights=ctx.weights, quick=ctx.quick,
                images=len(ctx.sets["test"][1]), raw_bytes=2 * int(np.prod(ctx.spec.input_shape)),
                coding="colour JPEG 4:2:0, standard tables (refimpl.jpeg = Pillow)", loss_pp_target=compression.LOSS_PP,
                qf_at_1pct=None if op is None else op["qf"], operating_point=op, points=rows,
                units=dict(compression.UNITS, bytes="bytes per frame (abbreviated JPEG datastream, mean)",
                           full_bytes="bytes per frame (JFIF file, mean)", ratio="raw_bytes / bytes",
                           full_ratio="raw_bytes / full_bytes", raw_bytes="bytes of the int16 input map (2 a value)"))


def csv_rows(rep: dict) -> list:
    return [dict(qf=r["qf"], bytes=f"{r['bytes']:.1f}", full_bytes=f"{r['full_bytes']:.1f}", ratio=f"{r['ratio']:.3f}",
                 full_ratio=f"{r['full_ratio']:.3f}", top1_pct=f"{r['top1_pct']:.2f}",
                 ref_top1_pct=f"{r['ref_top1_pct']:.2f}", loss_pp=f"{r['loss_pp']:.2f}",
                 agreement=f"{r['agreement']:.4f}") for r in rep["points"]]
