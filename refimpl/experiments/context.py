"""The experiments' model, image sets and edge-feature cache.

Sets (CIFAR-10, refimpl.train.data; pixels uint8 (N, 3, 32, 32), labels (N,)):
  ``test``  the 10,000 test images (``--quick``: QUICK_IMAGES of them, evenly
            spread over the classes by evaluate.spread).
  ``val``   VAL_SIZE training images drawn without replacement by
            numpy.random.default_rng(VAL_SEED) from the 49,800 training images
            that are not in the shipped calibration set (every 250th image),
            sorted; ``--quick``: the first QUICK_IMAGES of them.  The network
            was trained on these images, so its top-1 on them is higher than on
            the test set; only differences (1 % loss) are read from them.

Edge features: the bit-exact engine runs once per set over every layer asked
for; each layer's int16 outputs (N, C, H, W) are cached as
``<cache>/features/<network>-<set key>-<layer>-<edge crc>.npy``.  The set key
is a hash of the pixels and labels; the edge CRC covers the numeric contract and
weights of every layer up to and including that layer (as
split.partition.weights_crc does for the whole network), so fine-tuned host
weights reuse the edge features of the frozen edge.

The reference (the "unsplit bit-exact model" of the 1 % loss) is the shipped
network's unsplit bit-exact top-1 on the same images, whatever --weights the
host uses (split fine-tuning keeps the edge and compares against the original).
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import engine, evaluate, networks, quantize, trained
from ..errors import RefimplError, check_choice
from ..quantize import QNetwork
from ..split import partition
from ..train import data

NETWORK = "alexnet-cifar"
VAL_SIZE = 2000           # validation subset of the training split (images)
VAL_SEED = 13             # numpy.random.default_rng seed of its draw
QUICK_IMAGES = 300        # images per set in --quick mode
BATCH = 250               # frames per engine call


@dataclass
class Context:
    spec: object
    params: dict              # host weights (float)
    qnet: QNetwork            # the network the edge and host run (--weights)
    ref_qnet: QNetwork        # the shipped network: the reference top-1
    weights: str              # description of --weights
    host: str                 # host mode: fixed | float
    cache: Path
    sets: dict = field(default_factory=dict)       # name -> (pixels, labels, key)
    quick: bool = False

    @property
    def model_key(self) -> str:
        """Identifies the host network and mode (part of every stored point's key)."""
        return f"{partition.weights_crc(self.qnet):08x}-{self.host}"


def _set_key(pixels: np.ndarray, labels: np.ndarray) -> str:
    h = hashlib.sha256(np.ascontiguousarray(pixels).tobytes())
    h.update(np.asarray(labels, dtype=np.int64).tobytes())
    return h.hexdigest()[:16]


def val_indices(size: int = VAL_SIZE, seed: int = VAL_SEED, total: int = 50000, calib_every: int = 250) -> np.ndarray:
    """Sorted indices (in the zip's class order) of the validation subset of the training split."""
    pool = np.array([i for i in range(total) if i % calib_every != 0])
    if not 1 <= size <= len(pool):
        raise RefimplError(f"--val-size {size} outside 1..{len(pool)}")
    return np.sort(np.random.default_rng(seed).choice(pool, size, replace=False))


def build(weights=None, data_zip=None, cache=None, quick=False, images=None, host="fixed",
          val_size=VAL_SIZE, val_seed=VAL_SEED, need_val=True) -> Context:
    """Load the network, the weights and the image sets (see the module text)."""
    check_choice("host mode", host, partition.MODES)
    spec = networks.get(NETWORK)
    calib = trained.calibration_set(spec)["pixels"]
    params, desc, _ = trained.resolve(spec, weights)
    qnet = quantize.quantize_network(spec, params, calib)
    ref_params, _, _ = trained.resolve(spec, None)
    ref_qnet = qnet if weights is None else quantize.quantize_network(spec, ref_params, calib)
    cache = Path(cache if cache is not None else data.default_cache()).expanduser()
    limit = images if images is not None else (QUICK_IMAGES if quick else None)
    if limit is not None and limit < 1:
        raise RefimplError(f"--images {limit} must be >= 1")
    ctx = Context(spec=spec, params=params, qnet=qnet, ref_qnet=ref_qnet, weights=desc, host=host, cache=cache,
                  quick=quick)
    idx = evaluate.spread(data.PER_CLASS["test"] * len(data.CLASSES), limit)
    px, lab = subset(data_zip, "test", idx, cache)
    ctx.sets["test"] = (px, lab, _set_key(px, lab))
    if need_val:
        idx = val_indices(val_size, val_seed, data.PER_CLASS["train"] * len(data.CLASSES))
        px, lab = subset(data_zip, "train", idx[:limit] if limit is not None else idx, cache)
        ctx.sets["val"] = (px, lab, _set_key(px, lab))
    return ctx


def subset(data_zip, split: str, idx: np.ndarray, cache: Path) -> tuple:
    """(pixels, labels) of images ``idx`` (zip order) of a split: from the decoded cache
    of the whole split when the set is large or the cache exists (data.load), else by
    decoding only those members (a --quick run on a fresh machine needs seconds, not
    the minutes of decoding 50,000 training images)."""
    z, per_class, key = data._members(data.default_zip() if data_zip is None else data_zip, split)
    with z:
        if len(idx) > 2000 or (cache / f"cifar10-{split}-{key}.npz").exists():
            pass
        else:
            names = [n for names in per_class for n in names]
            labels = np.repeat(np.arange(len(data.CLASSES), dtype=np.uint8), data.PER_CLASS[split])
            return data.decode(z, [names[i] for i in idx], data_zip), labels[idx]
    px, lab = data.load(data_zip, split, cache)
    return px[idx], lab[idx]


def edge_crc(qnet: QNetwork, at: str) -> int:
    """CRC-32 of the contract and weights of every layer up to and including ``at``."""
    crc = zlib.crc32(json.dumps(dict(input_frac=qnet.input_frac, mean_q=np.asarray(qnet.mean_q).tolist())).encode())
    for ql in qnet.layers:
        crc = zlib.crc32(json.dumps(dict(name=ql.name, **ql.contract()), sort_keys=True).encode(), crc)
        if ql.weights is not None:
            crc = zlib.crc32(np.asarray(ql.weights).astype(">i2").tobytes(), crc)
            crc = zlib.crc32(np.asarray(ql.bias).astype(">i4").tobytes(), crc)
        if ql.name == at:
            break
    return crc


def _feature_path(ctx: Context, qnet: QNetwork, set_name: str, at: str) -> Path:
    key = ctx.sets[set_name][2]
    return ctx.cache / "features" / f"{ctx.spec.name}-{key}-{at}-{edge_crc(qnet, at):08x}.npy"


def _fill(ctx: Context, qnet: QNetwork, set_name: str, layers: list, progress=None):
    """Run the engine once over the set, writing every layer of ``layers`` to its cache file."""
    pixels = ctx.sets[set_name][0]
    shapes = {at: partition.map_format(qnet, at)[0] for at in layers}
    folder = ctx.cache / "features"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RefimplError(f"{folder}: cannot create cache folder ({exc.strerror})") from None
    tmp, out = {}, {}
    try:
        for at in layers:
            fd, tmp[at] = tempfile.mkstemp(prefix=".features-", suffix=".npy", dir=folder)
            os.close(fd)
            out[at] = np.lib.format.open_memmap(tmp[at], mode="w+", dtype=np.int16,
                                                shape=(len(pixels),) + tuple(shapes[at]))
        last = max(partition.split_points(ctx.spec).index(at) for at in layers) - 1
        until = ctx.spec.layers[last].name
        for start in range(0, len(pixels), BATCH):
            x = quantize.pixels_to_int(pixels[start:start + BATCH], ctx.spec)
            res = {r.name: r.output for r in engine.run(qnet, x, until=until, keep=tuple(layers))}
            for at in layers:
                out[at][start:start + len(x)] = x if at == partition.INPUT else res[at]
            if progress:
                progress(len(x))
        for at in layers:
            out[at].flush()
            del out[at]
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp[at], 0o666 & ~umask)
            os.replace(tmp.pop(at), _feature_path(ctx, qnet, set_name, at))
    finally:
        for path in tmp.values():
            if os.path.exists(path):
                os.unlink(path)


def maps(ctx: Context, set_name: str, at: str, qnet: QNetwork | None = None, progress=None) -> np.ndarray:
    """int16 (N, C, H, W) outputs of ``at`` (or the int16 input) over the set, read-only memmap."""
    qnet = qnet or ctx.qnet
    if at == partition.INPUT:
        return quantize.pixels_to_int(ctx.sets[set_name][0], ctx.spec)
    path = _feature_path(ctx, qnet, set_name, at)
    if not path.exists():
        _fill(ctx, qnet, set_name, [at], progress)
    return np.load(path, mmap_mode="r")


def prefill(ctx: Context, set_name: str, layers, progress=None):
    """One engine run for every layer of ``layers`` not cached yet (the last layer always)."""
    want = [at for at in layers if at != partition.INPUT]
    missing = [at for at in want if not _feature_path(ctx, ctx.qnet, set_name, at).exists()]
    if missing:
        _fill(ctx, ctx.qnet, set_name, missing, progress)


def reference_top1(ctx: Context, set_name: str) -> np.ndarray:
    """(N,) top-1 classes of the shipped network, unsplit and bit-exact, on the set."""
    last = ctx.spec.layers[-1].name
    logits = maps(ctx, set_name, last, ctx.ref_qnet).reshape(len(ctx.sets[set_name][1]), -1)
    return evaluate.ranked(logits.astype(np.int64), 1)[:, 0]


def labels(ctx: Context, set_name: str) -> np.ndarray:
    return np.asarray(ctx.sets[set_name][1]).astype(np.int64)
