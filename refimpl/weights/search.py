"""Per-layer quality search under a network-wide top-1 budget.

Goal: for every conv/fc layer the lowest JPEG quality (fewest DRAM bytes)
such that the whole network, run on the decoded weights through the
bit-exact engine, loses at most ``budget`` points of top-1 against the
uncompressed network, measured on a fixed validation subset of the training
split (the test split is kept for the final confirmation).

1. Sensitivity.  Each layer alone is coded at every quality of ``grid``
   (high to low) with all other layers uncompressed; the network is
   quantized as usual (formats from the calibration set) and run on the
   validation images from that layer on (the layers before it, and so their
   outputs and formats, are unchanged: their outputs are computed once).
   loss[layer][q] = top-1 of the uncompressed engine - top-1 with that layer
   at q, in points.  A layer's sweep stops at the first quality whose loss
   exceeds the budget, or that the quantizer cannot keep (bundle.frac_kept).
2. Allocation (greedy, in the spirit of DATE 2017's sensitivity ranking):
   every layer starts lossless (split/lossless.py on its int16 weights: no
   loss, about 1.1x); the move "one grid step lower
   for one layer" with the most bytes saved per point of added estimated
   loss (losses clamped at >= 0 and summed over layers) is taken while the
   sum stays within ``target``.
3. Check.  The chosen combination is run as a whole; if its measured loss
   exceeds the budget, ``target`` shrinks to 3/4 of itself and step 2 runs
   again (at most ``rounds`` times; the last round falls back to every layer
   lossless, which loses nothing).
"""
from __future__ import annotations

import numpy as np

from .. import engine, evaluate, quantize
from ..split import partition
from ..spec import NetworkSpec
from . import bundle, codec, mapping

GRID = (100, 95, 90, 85, 75, 60, 50, 40, 30, 20, 15, 10, 5)     # qualities tried, high to low
VAL_IMAGES = 2000
VAL_OFFSET = 12          # training image 25 i + 12: never one of the calibration images (every 250th)


def validation_indices(total: int, n: int = VAL_IMAGES) -> np.ndarray:
    """Training-split indices of the validation subset: evenly spread, offset so that none is
    a calibration image (refimpl/data/alexnet-cifar-calib.npz holds every 250th)."""
    step = total // n
    return np.arange(n) * step + min(VAL_OFFSET, step - 1)


def _hits(logits: np.ndarray, labels: np.ndarray) -> int:
    return int(np.sum(evaluate.ranked(logits.reshape(len(labels), -1), 1)[:, 0] == labels))


def _decoded_params(params: dict, spec: NetworkSpec, codes: dict, fracs: dict) -> dict:
    """params with the layers in ``codes`` replaced by their decoded weights (float, exact)."""
    out = dict(params)
    for s in spec.layers:
        if s.name in codes:
            m = codec.decode_matrix(codes[s.name])
            out[f"{s.name}.weight"] = (mapping.from_matrix(m, params[f"{s.name}.weight"].shape).astype(np.float64)
                                       * 2.0 ** -fracs[s.name])
    return out


def run_search(spec: NetworkSpec, params: dict, calib: np.ndarray, pixels: np.ndarray, labels: np.ndarray,
               budget: float = 1.0, grid=GRID, rounds: int = 4, log=None) -> dict:
    """Search (module docstring).  pixels uint8 (N, 3, H, W) and labels (N,) are the validation set.

    Returns {'choices': {layer: qf}, 'codes': {layer: LayerCode}, 'record': JSON-ready summary}."""
    log = log or (lambda text: None)
    labels = np.asarray(labels).astype(np.int64)
    x = quantize.pixels_to_int(pixels, spec)
    q = bundle.quantize_weights(spec, params)
    fracs = {k: v[1] for k, v in q.items()}
    weighted = [l.name for l in spec.layers if l.weighted]
    names = [l.name for l in spec.layers]
    prev = {n: (names[names.index(n) - 1] if names.index(n) else partition.INPUT) for n in weighted}
    qnet0 = quantize.quantize_network(spec, params, calib)
    keep = sorted({p for p in prev.values() if p != partition.INPUT} | {names[-1]})
    res = {r.name: r.output for r in engine.run(qnet0, x, keep=keep) if r.name in keep}
    base = _hits(res[names[-1]], labels)
    log(f"uncompressed: top-1 {100 * base / len(labels):.2f} % on {len(labels)} validation images")

    def network_hits(codes: dict, start: str) -> int:
        qn = quantize.quantize_network(spec, _decoded_params(params, spec, codes, fracs), calib)
        if start == partition.INPUT:
            return _hits(engine.run(qn, x, keep=[names[-1]])[-1].output, labels)
        i = names.index(start)
        assert [l.contract() for l in qn.layers[:i + 1]] == [l.contract() for l in qnet0.layers[:i + 1]]
        return _hits(partition.host_run(qn, res[start], start)["scores_int"], labels)

    sweep = {}
    for name in weighted:
        wq = q[name][0]
        m = mapping.to_matrix(wq)
        ll = codec.encode_matrix(m, "lossless")
        sweep[name] = [dict(qf="lossless", bytes=ll.dram_bytes, loss_pts=0.0, code=ll)]
        for qf in grid:
            c = codec.encode_matrix(m, "jpeg", qf)
            if not bundle.frac_kept(codec.decode_matrix(c), fracs[name]):
                log(f"{name} q{qf}: decoded weights would change w_frac; stop")
                break
            loss = 100 * (base - network_hits({name: c}, prev[name])) / len(labels)
            sweep[name].append(dict(qf=qf, bytes=c.dram_bytes, loss_pts=loss, code=c))
            log(f"{name} q{qf}: {c.dram_bytes:,} bytes ({2 * m.size / c.dram_bytes:.1f}x), loss {loss:+.2f} points")
            if loss > budget:
                break

    def allocate(target: float) -> dict:
        pick = {n: 0 for n in weighted}
        est = lambda: sum(max(0.0, sweep[n][i]["loss_pts"]) for n, i in pick.items())
        while True:
            best = None
            for n, i in pick.items():
                if i + 1 >= len(sweep[n]) or sweep[n][i + 1]["loss_pts"] > budget:
                    continue
                saved = sweep[n][i]["bytes"] - sweep[n][i + 1]["bytes"]
                added = max(0.0, sweep[n][i + 1]["loss_pts"]) - max(0.0, sweep[n][i]["loss_pts"])
                if est() + added > target:
                    continue
                score = saved / added if added > 0 else float("inf")
                if best is None or score > best[0] or (score == best[0] and saved > best[1]):
                    best = (score, saved, n)
            if best is None:
                return pick
            pick[best[2]] += 1

    target, rounds_log, chosen = budget, [], None
    for r in range(rounds):
        pick = allocate(target) if r < rounds - 1 else {n: 0 for n in weighted}
        codes = {n: sweep[n][i]["code"] for n, i in pick.items()}
        loss = 100 * (base - network_hits(codes, partition.INPUT)) / len(labels)
        rounds_log.append(dict(target_pts=round(target, 4), qualities={n: sweep[n][i]["qf"] for n, i in pick.items()},
                               loss_pts=loss))
        log(f"round {r + 1}: target {target:.3f} points -> {rounds_log[-1]['qualities']}, measured loss {loss:+.2f} points")
        if loss <= budget:
            chosen = pick
            break
        target *= 0.75
    assert chosen is not None, "every layer lossless loses nothing"
    record = dict(budget_pts=budget, validation=dict(images=len(labels), split="train",
                                                     indices=f"25 i + {VAL_OFFSET}, i < {len(labels)}"),
                  base_top1_pct=100 * base / len(labels), grid=list(grid),
                  sensitivity={n: [dict(qf=e["qf"], bytes=e["bytes"], loss_pts=e["loss_pts"]) for e in sweep[n]]
                               for n in weighted},
                  rounds=rounds_log, loss_pts=rounds_log[-1]["loss_pts"])
    return dict(choices={n: sweep[n][i]["qf"] for n, i in chosen.items()},
                codes={n: sweep[n][i]["code"] for n, i in chosen.items()}, record=record)
