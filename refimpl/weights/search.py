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
2. Allocation by sensitivity threshold (in the spirit of DATE 2017, where a
   block's quantization follows its error sensitivity).  Single-layer losses
   are noisy (a validation set of N images resolves 100/N points) and not
   additive, so each layer's curve is made monotone (loss at q = the largest
   loss at q or any higher quality; lossless, which loses nothing, first),
   and one threshold t picks, for every layer, the lowest quality whose
   monotone loss is <= t.  t runs over the distinct monotone losses <= budget
   by bisection: the whole network with every layer at its pick is run on the
   validation set, and the largest t whose measured loss is within the budget
   wins (t = 0 is measured too; if even it exceeds the budget, every layer is
   lossless, which loses nothing).
3. Refinement (optional, ``refine`` rounds of measured coordinate descent; 0 by default): from
   that pick, each layer in turn is tried one quality step lower (entries whose
   single-layer loss exceeds the budget are skipped) and the whole network is
   measured; of the moves whose measured loss stays within the budget, the one
   that saves the most bytes is taken.  The threshold step is coarse (one t
   for all layers), and this recovers the bytes it leaves; every accepted
   combination was measured as a whole.
The sensitivity table is the expensive part (one network run per layer and
quality); ``cache`` (a JSON file) keeps it, keyed by everything it depends on
(the int16 weights, calibration and validation images, grid and budget), so
a second run only repeats step 2.
"""
from __future__ import annotations

import hashlib
import json

import numpy as np

from .. import engine, evaluate, quantize
from ..errors import RefimplError
from ..split import partition
from ..spec import NetworkSpec
from . import bundle, codec, mapping

GRID = (100, 95, 90, 85, 75, 60, 50, 40, 30, 20, 15, 10, 5)     # qualities tried, high to low
VAL_IMAGES = 1000
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
               budget: float = 1.0, grid=GRID, cache=None, refine: int = 0, log=None) -> dict:
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

    key = sweep_key(q, calib, x, labels, grid, budget)
    cached = _read_cache(cache, key)
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
            if cached is not None:
                hit = {e["qf"]: e for e in cached.get(name, [])}.get(qf)
                if hit is None:
                    break
                assert hit["bytes"] == c.dram_bytes, (name, qf)
                loss = hit["loss_pts"]
            else:
                loss = 100 * (base - network_hits({name: c}, prev[name])) / len(labels)
            sweep[name].append(dict(qf=qf, bytes=c.dram_bytes, loss_pts=loss, code=c))
            log(f"{name} q{qf}: {c.dram_bytes:,} bytes ({2 * m.size / c.dram_bytes:.1f}x), loss {loss:+.2f} points"
                + (" (cached)" if cached is not None else ""))
            if loss > budget:
                break
    table = {n: [dict(qf=e["qf"], bytes=e["bytes"], loss_pts=e["loss_pts"]) for e in sweep[n][1:]] for n in weighted}
    if cache is not None and cached is None:
        from ..fileio import atomic_write
        atomic_write(cache, (json.dumps(dict(key=key, sensitivity=table), indent=1, sort_keys=True) + "\n").encode())

    mono = {}
    for n in weighted:
        run, mono[n] = 0.0, []
        for e in sweep[n]:
            run = max(run, e["loss_pts"])
            mono[n].append(run)

    def pick_at(t: float) -> dict:
        return {n: max(i for i, v in enumerate(mono[n]) if v <= t) for n in weighted}

    tried = {}

    def measure(t: float) -> float:
        pick = pick_at(t)
        sig = tuple(sorted(pick.items()))
        if sig not in tried:
            codes = {n: sweep[n][i]["code"] for n, i in pick.items() if i > 0}
            loss = 100 * (base - network_hits(codes, partition.INPUT)) / len(labels)
            tried[sig] = dict(threshold_pts=t, qualities={n: sweep[n][i]["qf"] for n, i in pick.items()},
                              bytes=sum(sweep[n][i]["bytes"] for n, i in pick.items()), loss_pts=loss)
            log(f"threshold {t:.2f}: {tried[sig]['qualities']}, {tried[sig]['bytes']:,} bytes, "
                f"measured loss {loss:+.2f} points")
        return tried[sig]["loss_pts"]

    ts = sorted({v for n in weighted for v in mono[n] if v <= budget})
    lo, hi = 0, len(ts) - 1                  # ts[0] == 0.0 (lossless is in every curve)
    best = None
    if measure(ts[0]) <= budget:
        best = ts[0]
        while lo < hi:                       # largest index whose measured loss is within the budget
            mid = (lo + hi + 1) // 2
            if measure(ts[mid]) <= budget:
                lo, best = mid, ts[mid]
            else:
                hi = mid - 1
    chosen = pick_at(best) if best is not None else {n: 0 for n in weighted}
    if best is None:
        log("even threshold 0 exceeds the budget: every layer lossless")
    for _ in range(refine if best is not None else 0):
        moves = []
        for n in weighted:
            j = chosen[n] + 1
            while j < len(sweep[n]) and sweep[n][j]["loss_pts"] > budget:
                j += 1
            if j >= len(sweep[n]):
                continue
            trial = dict(chosen, **{n: j})
            codes = {m: sweep[m][i]["code"] for m, i in trial.items() if i > 0}
            sig = tuple(sorted(trial.items()))
            if sig not in tried:
                loss = 100 * (base - network_hits(codes, partition.INPUT)) / len(labels)
                tried[sig] = dict(threshold_pts=None, move=f"{n} -> {sweep[n][j]['qf']}",
                                  qualities={m: sweep[m][i]["qf"] for m, i in trial.items()},
                                  bytes=sum(sweep[m][i]["bytes"] for m, i in trial.items()), loss_pts=loss)
                log(f"refine {n} -> q{sweep[n][j]['qf']}: {tried[sig]['bytes']:,} bytes, "
                    f"measured loss {loss:+.2f} points")
            if tried[sig]["loss_pts"] <= budget:
                moves.append((sweep[n][chosen[n]]["bytes"] - sweep[n][j]["bytes"], n, j))
        if not moves:
            break
        _, n, j = max(moves)
        chosen[n] = j
    final = tried.get(tuple(sorted(chosen.items())))
    rule = f"training image i * (split size // N) + {VAL_OFFSET}, i < N"
    record = dict(budget_pts=budget, validation=dict(images=len(labels), split="train", rule=rule),
                  base_top1_pct=100 * base / len(labels), grid=list(grid), sensitivity=table,
                  rounds=list(tried.values()), threshold_pts=best,
                  loss_pts=final["loss_pts"] if final else 0.0)
    return dict(choices={n: sweep[n][i]["qf"] for n, i in chosen.items()},
                codes={n: sweep[n][i]["code"] for n, i in chosen.items()}, record=record)


def sweep_key(q: dict, calib: np.ndarray, x: np.ndarray, labels: np.ndarray, grid, budget: float) -> dict:
    """What the sensitivity table depends on, as JSON-ready text (sha256 digests of the arrays)."""
    h = hashlib.sha256()
    for name in sorted(q):
        h.update(name.encode() + bytes([q[name][1] & 0xFF]) + np.ascontiguousarray(q[name][0]).tobytes())
    return dict(weights=h.hexdigest(), calibration=hashlib.sha256(np.ascontiguousarray(calib).tobytes()).hexdigest(),
                validation=hashlib.sha256(np.ascontiguousarray(x).tobytes() + labels.astype(np.int64).tobytes())
                .hexdigest(), grid=list(grid), budget_pts=budget)


def _read_cache(path, key: dict):
    """The cached sensitivity table when ``path`` holds one for ``key``, else None."""
    if path is None:
        return None
    try:
        with open(path) as f:
            doc = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise RefimplError(f"{path}: unreadable sensitivity cache ({exc})") from None
    if not isinstance(doc, dict) or doc.get("key") != key:
        return None
    return doc.get("sensitivity")
