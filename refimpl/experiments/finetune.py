"""Split fine-tuning (Ko et al., AVSS 2018, Sec. 4 and Fig. 5b): retrain the host
partition on JPEG-coded features, the edge partition frozen.

  1. edge pass, once: the bit-exact engine (partition.edge_run) runs input..``at``
     over the training split; the int16 maps (N, C, H, W) at ``at``'s out_frac
     are cached on disk (``edge_features``), keyed by the edge layers' CRC-32
     and a SHA-256 of the pixels (alexnet-cifar conv5: 128 x 7 x 7 int16,
     12,544 bytes a map, 627 MB for 50,000 images).
  2. every epoch: each map is coded again through the project's bitstream path
     (partition.encode_fmap -> partition.host_decode: 8-bit mapping, mosaic,
     baseline JPEG, header) at a QF drawn uniformly from the integers
     ``qf_band[0]..qf_band[1]`` (one draw per map per epoch, from the run's one
     ``default_rng(seed)``); the host layers (the layers after ``at``) train in
     float32 (refimpl.train: layers, SGD with momentum, one-cycle LR) on the
     decoded map times 2**-out_frac, the real value the float model reads.
  3. the result is the whole network: every edge parameter copied bit for bit
     from the starting weights, the host parameters fine-tuned.  Activation
     formats are calibrated per layer on that layer's own float output
     (quantize.quantize_network), so the edge's formats, int16 weights and
     maps are unchanged (``check_edge_identical``); the host's are re-derived
     from the new host weights on the same calibration frames.

``evaluate_qfs`` measures before and after on cached test maps with the
bit-exact host (the path of ``refimpl eval --at L --codec jpeg --qf Q``):
one bitstream per map, mean bytes per frame header included.  The 1%-loss
operating point is the lowest QF on the grid whose top-1 is at least the
unsplit bit-exact model's minus 1 percentage point (issue 13's definition),
for the fine-tuned host against the same unsplit baseline as before.
"""
from __future__ import annotations

import hashlib
import io
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .. import quantize, trained
from ..errors import RefimplError
from ..fileio import atomic_write
from ..networks import get
from ..quantize import QNetwork
from ..spec import NetworkSpec
from ..split import partition
from ..train import data, layers, model, optim
from ..train.checkpoint import read_state, write_state

CHUNK = 1000          # images per edge-pass chunk (one resumable unit)


@dataclass(frozen=True)
class Recipe:
    """Everything that decides the fine-tuned weights (besides data and BLAS build)."""

    network: str = "alexnet-cifar"
    at: str = "conv5"
    qf_band: tuple = (15, 30)      # inclusive integer QF band, one uniform draw per map per epoch
    mapping: str = "shift"         # the codec options of `refimpl eval --codec jpeg` (its defaults)
    mosaic: str = "packed"
    epochs: int = 10
    batch: int = 128
    peak_lr: float = 0.002         # one-cycle; a tenth of the from-scratch recipe's 0.02
    warmup: float = 0.15
    start_div: float = 10.0
    final_div: float = 100.0
    momentum: float = 0.9
    weight_decay: float = 5e-4     # on weights, not biases (train.optim)
    dropout: dict = field(default_factory=dict)
    seed: int = 0

    def as_dict(self) -> dict:
        d = asdict(self)
        d["qf_band"] = list(self.qf_band)
        return d

    def lr(self, step: int, steps_per_epoch: int) -> float:
        return optim.one_cycle_lr(step, self.epochs * steps_per_epoch, self.peak_lr, self.warmup,
                                  self.start_div, self.final_div)


def check_band(band) -> tuple:
    try:
        lo, hi = (int(v) for v in band)
    except (TypeError, ValueError):
        raise RefimplError(f"qf band {band!r}: expected two integers lo, hi") from None
    if not 1 <= lo <= hi <= 100:
        raise RefimplError(f"qf band {lo}..{hi}: need 1 <= lo <= hi <= 100")
    return lo, hi


def draw_qfs(rng: np.random.Generator, n: int, band) -> np.ndarray:
    """(n,) int64 QFs uniform on the integers band[0]..band[1] inclusive."""
    lo, hi = check_band(band)
    return rng.integers(lo, hi + 1, n)


# ---------------------------------------------------------------- edge / host split of the network
def host_layers(spec: NetworkSpec, at: str) -> list:
    i = partition.split_points(spec).index(partition.check_split_point(spec, at)) - 1
    return list(spec.layers[i + 1:])


def edge_keys(spec: NetworkSpec, at: str) -> list:
    host = {l.name for l in host_layers(spec, at)}
    return [f"{l.name}.{p}" for l in spec.layers if l.weighted and l.name not in host for p in ("weight", "bias")]


def host_keys(spec: NetworkSpec, at: str) -> list:
    return [f"{l.name}.{p}" for l in host_layers(spec, at) if l.weighted for p in ("weight", "bias")]


def host_spec(qnet: QNetwork, at: str) -> NetworkSpec:
    """The layers after ``at`` as a network whose input is the (C, H, W) map at ``at``."""
    spec = qnet.spec
    shape, frac = partition.map_format(qnet, at)
    return NetworkSpec(name=spec.name, input_shape=shape, layers=tuple(host_layers(spec, at)),
                       input_mean=spec.input_mean, input_frac=frac, description=f"{spec.name} host after {at}")


def edge_crc(qnet: QNetwork, at: str) -> int:
    """CRC-32 of the edge layers' contracts and int16 weights (partition.weights_crc on the prefix)."""
    n = len(qnet.spec.layers) - len(host_layers(qnet.spec, at))
    return partition.weights_crc(QNetwork(spec=qnet.spec, layers=qnet.layers[:n], mean_q=qnet.mean_q))


def check_edge_identical(spec: NetworkSpec, base: dict, tuned: dict, calib: np.ndarray, at: str) -> None:
    """RefimplError unless the edge parameters are bit-identical float32 and the
    quantized edge layers (formats, int16 weights, biases) are equal."""
    for k in edge_keys(spec, at):
        a, b = np.asarray(base[k]), np.asarray(tuned[k])
        if a.dtype != b.dtype or a.shape != b.shape or a.tobytes() != b.tobytes():
            raise RefimplError(f"edge parameter {k} differs between the base and the fine-tuned weights")
    qa, qb = (partition.quantize_for_split(spec, p, calib) for p in (base, tuned))
    if edge_crc(qa, at) != edge_crc(qb, at):
        raise RefimplError(f"quantized edge layers up to {at} differ (formats or int16 weights)")


# ---------------------------------------------------------------- 1. edge pass, cached
def edge_features(qnet: QNetwork, pixels: np.ndarray, at: str, cache_dir, tag: str, progress=None) -> np.ndarray:
    """int16 (N, C, H, W) maps at ``at`` of uint8 pixels (N, 3, H, W), read-only memmap.

    Cached as <cache_dir>/edge-<network>-<at>-<tag>-<edge crc>-<pixel sha>.npy; a
    stopped pass resumes at its last finished chunk of CHUNK images (the count
    sits in a .done file beside the .partial.npy).  progress(images done).
    """
    cache = Path(cache_dir)
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RefimplError(f"{cache}: cannot create cache folder ({exc.strerror})") from None
    sha = hashlib.sha256(np.ascontiguousarray(pixels).tobytes()).hexdigest()[:16]
    final = cache / f"edge-{qnet.spec.name}-{at}-{tag}-{edge_crc(qnet, at):08x}-{sha}.npy"
    if final.exists():
        return np.load(final, mmap_mode="r")
    shape, _ = partition.map_format(qnet, at)
    part, done_file = final.with_suffix(".partial.npy"), final.with_suffix(".done")
    n = len(pixels)
    done = int(done_file.read_text()) if part.exists() and done_file.exists() else 0
    out = (np.lib.format.open_memmap(part, mode="r+") if done else
           np.lib.format.open_memmap(part, mode="w+", dtype=np.int16, shape=(n,) + tuple(shape)))
    for start in range(done, n, CHUNK):
        stop = min(n, start + CHUNK)
        out[start:stop] = partition.edge_run(qnet, quantize.pixels_to_int(pixels[start:stop], qnet.spec), at)
        out.flush()
        atomic_write(done_file, str(stop).encode())
        if progress:
            progress(stop - start)
    del out
    part.rename(final)
    done_file.unlink()
    return np.load(final, mmap_mode="r")


# ---------------------------------------------------------------- 2. coding path
def code_maps(qnet: QNetwork, fmaps: np.ndarray, at: str, qfs, mapping: str = "shift",
              mosaic: str = "packed") -> tuple:
    """Each int16 map (C, H, W) through bitstream and back at its QF.

    Returns (decoded int16 (N, C, H, W), bitstream bytes per map (N,) int64),
    the edge_encode -> host_decode path of `refimpl eval --codec jpeg`.
    """
    dec = np.empty(fmaps.shape, dtype=np.int16)
    nbytes = np.empty(len(fmaps), dtype=np.int64)
    for i, (fm, qf) in enumerate(zip(fmaps, np.broadcast_to(qfs, (len(fmaps),)))):
        stream = partition.encode_fmap(qnet, np.asarray(fm), at, "jpeg", qf=int(qf), mapping=mapping, mosaic=mosaic)
        _, dec[i] = partition.host_decode(qnet, stream)
        nbytes[i] = len(stream)
    return dec, nbytes


# ---------------------------------------------------------------- 3. host training
def train_epoch(recipe: Recipe, qnet: QNetwork, hspec: NetworkSpec, params: dict, velocity: dict,
                fmaps: np.ndarray, labels: np.ndarray, epoch: int, rng: np.random.Generator, progress=None) -> dict:
    """One epoch over a fresh shuffle: draw N QFs, then per batch code the maps,
    forward/backward the host in float32 and step SGD on the host params (in place).

    Draw order from ``rng``: N QFs (map i's QF this epoch), then the permutation,
    then any dropout masks.  progress(step, steps, loss, acc, lr) after every step.
    Returns {'loss', 'acc', 'qf_mean', 'bytes_mean'} over the epoch's batches.
    """
    n = len(fmaps)
    steps = n // recipe.batch
    qfs = draw_qfs(rng, n, recipe.qf_band)
    order = rng.permutation(n)
    scale = np.float32(2.0 ** -hspec.input_frac)
    loss_sum = hit = seen = 0
    byte_sum = 0
    for s in range(steps):
        idx = np.sort(order[s * recipe.batch:(s + 1) * recipe.batch])
        dec, nbytes = code_maps(qnet, fmaps[idx], recipe.at, qfs[idx], recipe.mapping, recipe.mosaic)
        x = dec.astype(np.float32) * scale
        logits, caches = model.forward(hspec, params, x, train=True, rng=rng, dropout=recipe.dropout)
        loss, dlogits = layers.softmax_cross_entropy(logits, labels[idx])
        if not np.isfinite(loss):
            raise FloatingPointError(f"epoch {epoch + 1} step {s}: loss is {loss}")
        lr = recipe.lr(epoch * steps + s, steps)
        optim.sgd_step(params, model.backward(dlogits, caches), velocity, lr, recipe.momentum, recipe.weight_decay)
        loss_sum += loss * len(idx)
        hit += int(np.sum(logits.argmax(axis=1) == labels[idx]))
        seen += len(idx)
        byte_sum += int(nbytes.sum())
        if progress:
            progress(s, steps, loss_sum / seen, hit / seen, lr)
    used = order[:steps * recipe.batch]
    return dict(loss=loss_sum / seen, acc=hit / seen, qf_mean=float(qfs[used].mean()), bytes_mean=byte_sum / seen)


def host_loss(qnet: QNetwork, hspec: NetworkSpec, params: dict, fmaps: np.ndarray, labels: np.ndarray, qf: int,
              recipe: Recipe) -> float:
    """Mean float32 cross-entropy of the host on the maps coded at one QF (no dropout)."""
    dec, _ = code_maps(qnet, fmaps, recipe.at, qf, recipe.mapping, recipe.mosaic)
    logits, _ = model.forward(hspec, params, dec.astype(np.float32) * np.float32(2.0 ** -hspec.input_frac))
    return layers.softmax_cross_entropy(logits, np.asarray(labels).astype(np.int64))[0]


# ---------------------------------------------------------------- checkpoints
CHECKPOINT_KIND = "refimpl-finetune"


def save_checkpoint(path: Path, recipe: Recipe, params: dict, velocity: dict, rng, epoch: int, log: list):
    """Host params, momentum buffers, rng state, recipe and log, written atomically
    (train.checkpoint's layout, kind 'refimpl-finetune')."""
    write_state(path, recipe.as_dict(), params, velocity, rng, epoch, log, kind=CHECKPOINT_KIND)


def load_checkpoint(path) -> tuple:
    """(recipe, host params, velocity, rng, epochs_done, log)."""
    rec, params, velocity, rng, done, log = read_state(path, "fine-tuning", kind=CHECKPOINT_KIND)
    return Recipe(**dict(rec, qf_band=tuple(rec["qf_band"]))), params, velocity, rng, done, log


def write_weights(path: Path, base: dict, host: dict):
    """The whole network's float32 .npz: base params (float32 values, possibly held as
    float64 by quantize.load_params) with the host ones replaced."""
    out = {}
    for k, v in base.items():
        out[k] = np.asarray(v, dtype=np.float32)
        if not np.array_equal(out[k], v):
            raise RefimplError(f"base parameter {k} is not exactly float32; the edge would change")
    for k, v in host.items():
        out[k] = np.asarray(v, dtype=np.float32)
    buf = io.BytesIO()
    np.savez(buf, **out)
    atomic_write(path, buf.getvalue())


def export(ckpt, path, weights=None) -> dict:
    """The whole network from a checkpoint's host weights and the starting weights
    (None: shipped), edge identity checked; returns what was written."""
    recipe, params, _, _, done, log = load_checkpoint(ckpt)
    spec = get(recipe.network)
    base, desc, calib = trained.resolve(spec, weights)
    if sorted(params) != sorted(host_keys(spec, recipe.at)):
        raise RefimplError(f"{ckpt}: holds {sorted(params)}, the host after {recipe.at} is {host_keys(spec, recipe.at)}")
    write_weights(Path(path), base, params)
    check_edge_identical(spec, base, quantize.load_params(path, spec), calib, recipe.at)
    return dict(weights_file=str(path), start_weights=desc, epochs_done=done, recipe=recipe.as_dict(), epochs=log)


# ---------------------------------------------------------------- evaluation on cached test maps
def evaluate_qfs(qnets: dict, fmaps: np.ndarray, labels: np.ndarray, at: str, qfs, mapping: str = "shift",
                 mosaic: str = "packed", progress=None) -> list:
    """Top-1 of each bit-exact host (qnets: name -> QNetwork sharing the edge) on the maps coded at each QF.

    The maps are coded once per QF with the first network's bitstream path and
    decoded maps fed to every host (the decoded map depends on the payload only).
    qfs: QFs, and None for the uncoded map (the unsplit engine).  Rows, in that
    order: dict(weights, qf, top1, images, top1_pct, bytes_per_frame, ratio);
    ratio = 16-bit raw bytes / mean bitstream bytes.  progress(qf, rows so far).
    """
    labels = np.asarray(labels).astype(np.int64)
    first = next(iter(qnets.values()))
    shape, _ = partition.map_format(first, at)
    raw_bytes = 2 * int(np.prod(shape))
    rows = []
    for qf in qfs:
        if qf is None:
            dec, nb = np.asarray(fmaps), None
        else:
            dec, nb = code_maps(first, fmaps, at, qf, mapping, mosaic)
        for name, qn in qnets.items():
            hits = 0
            for s in range(0, len(dec), 500):
                scores = partition.host_run(qn, dec[s:s + 500], at, "fixed")["scores_int"]
                hits += int(np.sum(np.argsort(-scores, axis=1, kind="stable")[:, 0] == labels[s:s + 500]))
            mean = None if nb is None else float(nb.mean())
            rows.append(dict(weights=name, qf=qf, images=len(labels), top1=hits, top1_pct=100.0 * hits / len(labels),
                             bytes_per_frame=mean, ratio=None if mean is None else raw_bytes / mean))
        if progress:
            progress(qf, rows)
    return rows


def operating_point(rows: list, weights: str, baseline_pct: float, loss_pp: float = 1.0):
    """Lowest-QF row of ``weights`` with top1_pct >= baseline_pct - loss_pp, or None."""
    ok = [r for r in rows if r["weights"] == weights and r["qf"] is not None and r["top1_pct"] >= baseline_pct - loss_pp]
    return min(ok, key=lambda r: r["qf"]) if ok else None


# ---------------------------------------------------------------- the experiment
def run(data_zip=None, cache_dir=None, out_dir="finetune", at: str = "conv5", qf_band=(15, 30), epochs: int = 10,
        seed: int = 0, weights=None, eval_qfs=None, eval_every: int = 5, log=print, **recipe_options) -> dict:
    """Fine-tune the host after ``at`` on JPEG-coded maps; resumable; returns the summary.

    data_zip   CIFAR-10 JPEG zip (default $REFIMPL_CIFAR_ZIP or ../shared/data/...)
    cache_dir  decoded CIFAR arrays and edge maps (default $REFIMPL_CACHE or ~/.cache/refimpl)
    out_dir    writes ckpt/epoch-NNN.npz, <network>-ft-<at>.npz (whole network),
               finetune-log.json; with eval_qfs also finetune-eval.csv/.json
    weights    starting weights (None: the shipped ones)
    eval_qfs   QFs for the before/after test evaluation (None: skip it)
    eval_every per-epoch monitor: float host top-1 on every k-th test image at the band's middle QF
    recipe_options: further Recipe fields (batch, peak_lr, mapping, mosaic, dropout, ...)
    """
    out = Path(out_dir)
    ckpt_dir = out / "ckpt"
    cache = data.default_cache() if cache_dir is None else Path(cache_dir)
    spec_name = recipe_options.pop("network", "alexnet-cifar")
    recipe = Recipe(network=spec_name, at=at, qf_band=check_band(qf_band), epochs=epochs, seed=seed, **recipe_options)
    spec = get(recipe.network)
    base, desc, calib = trained.resolve(spec, weights)
    base = {k: np.asarray(v, dtype=np.float32) for k, v in base.items()}
    qnet = partition.quantize_for_split(spec, base, calib)
    hspec = host_spec(qnet, at)
    done_ckpts = sorted(ckpt_dir.glob("epoch-*.npz"))
    if done_ckpts:
        rec2, params, velocity, rng, done, elog = load_checkpoint(done_ckpts[-1])
        if rec2 != recipe:
            raise RefimplError(f"{done_ckpts[-1]}: recipe {rec2.as_dict()} differs from this run's "
                               f"{recipe.as_dict()}; use another out folder")
        log(f"resuming after epoch {done} from {done_ckpts[-1]}")
    else:
        rng = np.random.default_rng(seed)
        params = {k: base[k].copy() for k in host_keys(spec, at)}
        velocity = optim.sgd_init(params)
        done, elog = 0, []
    t0 = time.perf_counter()
    pixels, labels = data.load(data_zip, "train", cache)
    tpix, tlab = data.load(data_zip, "test", cache)
    fmaps = edge_features(qnet, pixels, at, cache, "train")
    tmaps = edge_features(qnet, tpix, at, cache, "test")
    log(f"edge maps at {at}: train {fmaps.shape}, test {tmaps.shape} int16 ({time.perf_counter() - t0:.0f} s)")
    fmaps = np.asarray(fmaps)                 # into memory: random batches
    ckpt_dir.mkdir(parents=True, exist_ok=True)   # only once the inputs are known good
    mon = slice(None, None, eval_every)
    mid = (recipe.qf_band[0] + recipe.qf_band[1]) // 2
    labels64 = labels.astype(np.int64)
    for epoch in range(done, recipe.epochs):
        t1 = time.perf_counter()
        stats = train_epoch(recipe, qnet, hspec, params, velocity, fmaps, labels64, epoch, rng)
        seconds = time.perf_counter() - t1
        dec, _ = code_maps(qnet, tmaps[mon], at, mid, recipe.mapping, recipe.mosaic)
        logits, _ = model.forward(hspec, params, dec.astype(np.float32) * np.float32(2.0 ** -hspec.input_frac))
        rec = dict(epoch=epoch + 1, train_loss=round(stats["loss"], 5), train_acc=round(stats["acc"], 5),
                   qf_mean=round(stats["qf_mean"], 3), bytes_mean=round(stats["bytes_mean"], 1),
                   test_float_top1_subset=round(float(np.mean(logits.argmax(axis=1) == tlab[mon])), 5),
                   test_images=int(len(tlab[mon])), monitor_qf=mid, seconds=round(seconds, 1),
                   end_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        elog.append(rec)
        log(json.dumps(rec))
        save_checkpoint(ckpt_dir / f"epoch-{epoch + 1:03d}.npz", recipe, params, velocity, rng, epoch + 1, elog)
    wpath = out / f"{spec.name}-ft-{at}.npz"
    write_weights(wpath, base, params)
    tuned = quantize.load_params(wpath, spec)
    check_edge_identical(spec, base, tuned, calib, at)
    summary = dict(recipe=recipe.as_dict(), start_weights=desc, weights_file=str(wpath), epochs=elog,
                   edge_crc=f"{edge_crc(qnet, at):08x}", train_seconds=round(sum(r["seconds"] for r in elog), 1))
    atomic_write(out / "finetune-log.json", (json.dumps(summary, indent=1) + "\n").encode())
    if eval_qfs:
        summary.update(evaluate(data_zip, cache, out, at, {"base": weights, "finetuned": str(wpath)}, eval_qfs,
                                recipe.mapping, recipe.mosaic, log))
    return summary


def evaluate(data_zip, cache_dir, out_dir, at: str, weights: dict, qfs, mapping: str = "shift",
             mosaic: str = "packed", log=print, network: str = "alexnet-cifar") -> dict:
    """10,000-test before/after: ``weights`` maps a name ('base', 'finetuned') to a
    --weights value (None: shipped).  Writes <out_dir>/finetune-eval-<name>.json for
    each and, once both 'base' and 'finetuned' exist there, finetune-eval.csv/.json
    with the 1%-loss report.  Returns the report (or {} when one side is missing)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cache = data.default_cache() if cache_dir is None else Path(cache_dir)
    spec = get(network)
    qnets = {}
    for name, w in weights.items():
        params, _, calib = trained.resolve(spec, w)
        qnets[name] = partition.quantize_for_split(spec, params, calib)
    crcs = {edge_crc(q, at) for q in qnets.values()}
    if len(crcs) != 1:
        raise RefimplError(f"the weights {sorted(weights)} differ in their edge layers up to {at}")
    tpix, tlab = data.load(data_zip, "test", cache)
    tmaps = edge_features(next(iter(qnets.values())), tpix, at, cache, "test")
    files = {name: out / f"finetune-eval-{name}.json" for name in qnets}
    rows = {name: [] for name in qnets}
    for name, path in files.items():                  # resume: keep the QFs measured with these weights
        if path.exists():
            old = json.loads(path.read_text())
            if old.get("weights") == weights[name] and old.get("at") == at and old.get("codec") == [mapping, mosaic]:
                rows[name] = old["rows"]
    for qf in [None] + sorted(set(qfs)):
        todo = {n: q for n, q in qnets.items() if not any(r["qf"] == qf for r in rows[n])}
        if not todo:
            continue
        new = evaluate_qfs(todo, tmaps, tlab, at, [qf], mapping, mosaic)
        log(f"eval qf {qf}: " + ", ".join(f"{r['weights']} {r['top1_pct']:.2f} %" +
                                          ("" if r["ratio"] is None else f" {r['ratio']:.2f}x") for r in new))
        for r in new:
            rows[r["weights"]].append(r)
            rows[r["weights"]].sort(key=lambda x: -1 if x["qf"] is None else x["qf"])
            atomic_write(files[r["weights"]], (json.dumps(dict(weights=weights[r["weights"]], at=at,
                                                               codec=[mapping, mosaic], rows=rows[r["weights"]]),
                                                          indent=1) + "\n").encode())
    parts = [out / f"finetune-eval-{n}.json" for n in ("base", "finetuned")]
    if not all(p.exists() for p in parts):
        return {}
    rows = [r for p in parts for r in json.loads(p.read_text())["rows"]]
    summary = report(rows)
    write_eval(out, rows, summary)
    return summary


def report(rows: list) -> dict:
    """Baseline (unsplit base), the 1%-loss operating point before and after, and the ratio gain."""
    base = next(r for r in rows if r["weights"] == "base" and r["qf"] is None)
    before, after = (operating_point(rows, w, base["top1_pct"]) for w in ("base", "finetuned"))
    gain = None if not (before and after) else after["ratio"] / before["ratio"] - 1
    return dict(unsplit_top1_pct=base["top1_pct"], before=before, after=after,
                ratio_gain_pct=None if gain is None else 100 * gain)


def write_eval(out: Path, rows: list, summary: dict):
    lines = ["weights,qf,images,top1,top1_pct,bytes_per_frame,ratio"]
    for r in rows:
        lines.append(",".join("" if r[k] is None else (f"{r[k]:.4f}" if isinstance(r[k], float) else str(r[k]))
                              for k in ("weights", "qf", "images", "top1", "top1_pct", "bytes_per_frame", "ratio")))
    atomic_write(out / "finetune-eval.csv", ("\n".join(lines) + "\n").encode())
    atomic_write(out / "finetune-eval.json", (json.dumps(dict(rows=rows, **summary), indent=1) + "\n").encode())
