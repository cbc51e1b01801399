"""The training recipe as frozen data, and one epoch of SGD over it.

Everything that decides the final weights is in ``Recipe`` (plus the data
and the BLAS build): the same recipe and seed give the same weights.  All
randomness (init, shuffles, crops, flips, dropout) comes from one
numpy Generator seeded with ``seed``; its state is saved in every
checkpoint, so a resumed run draws exactly what an uninterrupted one would.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from ..spec import NetworkSpec
from . import data, layers, model, optim


@dataclass(frozen=True)
class Recipe:
    network: str = "alexnet-cifar"
    epochs: int = 10
    batch: int = 128
    peak_lr: float = 0.02        # one-cycle peak learning rate
    warmup: float = 0.15         # fraction of the steps spent rising to peak_lr
    start_div: float = 10.0      # first lr = peak_lr / start_div
    final_div: float = 100.0     # last lr = peak_lr / final_div
    momentum: float = 0.9
    weight_decay: float = 5e-4   # on weights, not biases
    dropout: dict = field(default_factory=dict)   # {fc layer: drop probability}
    crop_pad: int = 4            # random crop of the 4-pixel zero-padded image, plus random flip
    seed: int = 0

    def as_dict(self) -> dict:
        return asdict(self)

    def steps_per_epoch(self, n_images: int) -> int:
        return n_images // self.batch          # the last partial batch of a shuffle is dropped

    def lr(self, step: int, n_images: int) -> float:
        return optim.one_cycle_lr(step, self.epochs * self.steps_per_epoch(n_images), self.peak_lr,
                                  self.warmup, self.start_div, self.final_div)


def train_epoch(spec: NetworkSpec, recipe: Recipe, params: dict, velocity: dict, pixels: np.ndarray,
                labels: np.ndarray, epoch: int, rng: np.random.Generator, progress=None) -> dict:
    """One pass over a fresh shuffle; updates params and velocity in place.

    progress : optional callable(step_in_epoch, steps, loss, acc, lr) after every step.
    Returns {'loss', 'acc'} means over the epoch's batches (with augmentation and dropout).
    """
    n = len(pixels)
    steps = recipe.steps_per_epoch(n)
    order = rng.permutation(n)
    loss_sum = hit = seen = 0
    for s in range(steps):
        idx = order[s * recipe.batch:(s + 1) * recipe.batch]
        px = data.augment(pixels[idx], rng, recipe.crop_pad) if recipe.crop_pad >= 0 else pixels[idx]
        x = model.pixels_to_input(px, spec)
        logits, caches = model.forward(spec, params, x, train=True, rng=rng, dropout=recipe.dropout)
        loss, dlogits = layers.softmax_cross_entropy(logits, labels[idx])
        if not np.isfinite(loss):
            raise FloatingPointError(f"epoch {epoch + 1} step {s}: loss is {loss} (learning rate too high?)")
        lr = recipe.lr(epoch * steps + s, n)
        optim.sgd_step(params, model.backward(dlogits, caches), velocity, lr, recipe.momentum, recipe.weight_decay)
        loss_sum += loss * len(idx)
        hit += int(np.sum(logits.argmax(axis=1) == labels[idx]))
        seen += len(idx)
        if progress:
            progress(s, steps, loss_sum / seen, hit / seen, lr)
    return {"loss": loss_sum / seen, "acc": hit / seen}


def predict(spec: NetworkSpec, params: dict, pixels: np.ndarray, batch: int = 500) -> np.ndarray:
    """Float32 logits (N, classes) of uint8 pixels (N, 3, H, W), no dropout."""
    out = [model.forward(spec, params, model.pixels_to_input(pixels[i:i + batch], spec))[0]
           for i in range(0, len(pixels), batch)]
    return np.concatenate(out)
