"""Benchmark of one training step against its GEMM floor (run by tools/bench.py, or alone).

    python tools/bench_train.py [--repeat N] [--batch 128]

step  : one SGD step of alexnet-cifar on a batch of 128 32x32 images in float32
        (augmentation, forward, softmax cross-entropy, backward, momentum
        update), as tools/train_cifar.py runs it.
floor : the float32 GEMMs of the same products on pre-built contiguous
        operands: per conv group the forward W @ cols, the weight gradient
        dY @ cols^T and the column gradient W^T @ dY; per fc layer x @ W^T,
        dY^T @ x and dY @ W.  That is what BLAS alone costs; everything else
        in a step (im2col/col2im, LRN, pools, ReLU, the update) is overhead.
Prints the per-layer floor, the step time, images/s, and the ratio step/floor
as the last line.
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from refimpl.networks import get  # noqa: E402
from refimpl.spec import layer_shapes  # noqa: E402
from refimpl.train import data, layers, model, optim  # noqa: E402
from refimpl.train.recipe import Recipe  # noqa: E402


def best_of(fn, repeat):
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def gemm_operands(spec, batch, rng):
    """[(layer name, [(A, B) float32 operand pairs of every GEMM of its forward and backward])]."""
    out = []
    for s in layer_shapes(spec):
        if not s.weight_shape:
            continue
        if s.layer.kind == "conv":
            g = s.layer.groups
            m, k = s.weight_shape[0] // g, s.reduction
            p = batch * s.out_shape[1] * s.out_shape[2]
            w = rng.standard_normal((m, k), dtype=np.float32)
            cols = rng.standard_normal((k, p), dtype=np.float32)
            dy = rng.standard_normal((m, p), dtype=np.float32)
            pairs = [(w, cols), (dy, np.ascontiguousarray(cols.T)), (np.ascontiguousarray(w.T), dy)] * g
        else:
            nout, nin = s.weight_shape
            x = rng.standard_normal((batch, nin), dtype=np.float32)
            w = rng.standard_normal((nout, nin), dtype=np.float32)
            dy = rng.standard_normal((batch, nout), dtype=np.float32)
            pairs = [(x, np.ascontiguousarray(w.T)), (np.ascontiguousarray(dy.T), x), (dy, w)]
        out.append((s.layer.name, pairs))
    return out


def train_step_ratio(repeat: int = 5, batch: int = 128, verbose: bool = True) -> float:
    """Time one training step and its GEMM floor; print them; return step / floor."""
    spec = get("alexnet-cifar")
    rng = np.random.default_rng(0)
    recipe = Recipe(batch=batch)
    params = model.init_params(spec, rng)
    velocity = optim.sgd_init(params)
    pixels = rng.integers(0, 256, (batch, 3, 32, 32), dtype=np.uint8)
    labels = rng.integers(0, 10, batch)

    def step():
        x = model.pixels_to_input(data.augment(pixels, rng, recipe.crop_pad), spec)
        logits, caches = model.forward(spec, params, x, train=True, rng=rng)
        _, d = layers.softmax_cross_entropy(logits, labels)
        optim.sgd_step(params, model.backward(d, caches), velocity, 1e-4, recipe.momentum, recipe.weight_decay)

    t_step = best_of(step, repeat)
    floors = [(name, best_of(lambda: [a @ b for a, b in pairs], repeat)) for name, pairs in gemm_operands(spec, batch, rng)]
    t_floor = sum(t for _, t in floors)
    if verbose:
        print(f"training step, alexnet-cifar, batch {batch}, float32 (best of {repeat}):")
        print("  GEMM floor per layer (ms): " + ", ".join(f"{n} {t * 1e3:.1f}" for n, t in floors))
        print(f"  step {t_step * 1e3:.1f} ms ({batch / t_step:.1f} images/s), GEMM floor {t_floor * 1e3:.1f} ms")
        print(f"ratio training step/floor (alexnet-cifar, batch {batch}): {t_step / t_floor:.2f}")
    return t_step / t_floor


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--batch", type=int, default=128)
    a = ap.parse_args()
    train_step_ratio(a.repeat, a.batch)
