"""Fig. 5b: for one partition layer (default conv5, the last conv stage), top-1 and
compression ratio at every QF of a grid (default 5..95 in steps of 5) over the
test set.  With --weights (fine-tuned host weights) the same command gives the
after-fine-tuning curve; the loss is always against the shipped network,
unsplit.  ``qf_at_1pct`` is the smallest swept QF from which on every swept QF
meets the 1 % target on these (test) images: read off the curve, not the
validation search of the compression experiment.
"""
from __future__ import annotations

from . import compression, context, measure

QFS = tuple(range(5, 96, 5))
CSV_HEAD = ["layer", "mapping", "mosaic", "qf", "bytes", "ratio", "top1_pct", "ref_top1_pct", "loss_pp", "agreement"]


def run(ctx, store, at, qfs=QFS, mapping="shift", mosaic="packed", bar=None, log=print) -> dict:
    context.prefill(ctx, "test", [at, ctx.spec.layers[-1].name], bar("edge features (test)", len(ctx.sets["test"][1])) if bar else None)
    if at == ctx.spec.layers[-1].name:
        from ..errors import RefimplError
        raise RefimplError(f"--at {at} is the last layer (edge-only: nothing to code)")
    rows = []
    for qf in qfs:
        key = store.key(set=ctx.sets["test"][2], model=ctx.model_key, layer=at, qf=qf, mapping=mapping, mosaic=mosaic)
        if key not in store.items:
            p = measure.codec_point(ctx, "test", at, "jpeg", bar(f"{at} QF {qf}", len(ctx.sets['test'][1])) if bar else None,
                                    qf=qf, mapping=mapping, mosaic=mosaic)
            store.put(key, p)
            log(f"{at} QF {qf}: {p['bytes']:.1f} B ({p['ratio']:.2f}x), top-1 {p['top1_pct']:.2f} % "
                f"(loss {p['loss_pp']:.2f} points)")
        rows.append(dict(qf=qf, **store.get(key)))
    ok = [compression.passes(r) for r in rows]
    op = None
    for i in range(len(rows)):
        if all(ok[i:]):
            op = rows[i]
            break
    return dict(experiment="qf-sweep", network=ctx.spec.name, weights=ctx.weights, host=ctx.host, quick=ctx.quick,
                layer=at, mapping=mapping, mosaic=mosaic, images=len(ctx.sets["test"][1]),
                raw_bytes=measure.raw_bytes(ctx, at), loss_pp_target=compression.LOSS_PP,
                qf_at_1pct=None if op is None else op["qf"], operating_point=op, points=rows,
                units=compression.UNITS)


def csv_rows(rep: dict) -> list:
    return [dict(layer=rep["layer"], mapping=rep["mapping"], mosaic=rep["mosaic"], qf=r["qf"], bytes=f"{r['bytes']:.1f}",
                 ratio=f"{r['ratio']:.3f}", top1_pct=f"{r['top1_pct']:.2f}", ref_top1_pct=f"{r['ref_top1_pct']:.2f}",
                 loss_pp=f"{r['loss_pp']:.2f}", agreement=f"{r['agreement']:.4f}") for r in rep["points"]]
