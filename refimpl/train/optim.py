"""SGD with momentum and weight decay, and the learning-rate schedules.

The optimizer knows nothing of layers: it updates a dict of arrays from a
dict of gradients.  Update (Caffe / PyTorch SGD form):
    g = grad + weight_decay * w        (decay on '*.weight' only, not biases)
    v = momentum * v + g
    w = w - lr * v
"""
from __future__ import annotations

import math

import numpy as np


def sgd_init(params: dict) -> dict:
    """Optimizer state: one zero velocity per parameter, same dtype."""
    return {k: np.zeros_like(v) for k, v in params.items()}


def sgd_step(params: dict, grads: dict, velocity: dict, lr: float, momentum: float = 0.9,
             weight_decay: float = 5e-4):
    """In-place SGD update of params and velocity."""
    for k, w in params.items():
        g = grads[k]
        if weight_decay and k.endswith(".weight"):
            g = g + w.dtype.type(weight_decay) * w
        v = velocity[k]
        v *= w.dtype.type(momentum)
        v += g
        w -= w.dtype.type(lr) * v


def one_cycle_lr(step: int, total_steps: int, peak: float, warmup: float = 0.15,
                 start_div: float = 10.0, final_div: float = 100.0) -> float:
    """Piecewise-linear one-cycle schedule (Smith & Topin, 2018): peak/start_div
    rising linearly to ``peak`` over the first ``warmup`` fraction of the steps,
    then falling linearly to peak/final_div at the last step."""
    up = max(1, int(round(warmup * total_steps)))
    if step < up:
        return peak / start_div + (peak - peak / start_div) * step / up
    t = (step - up) / max(1, total_steps - 1 - up)
    return peak + (peak / final_div - peak) * min(1.0, t)


def step_lr(step: int, steps_per_epoch: int, base: float, milestones=(), gamma: float = 0.1) -> float:
    """Step decay: base * gamma**(number of milestone epochs passed)."""
    epoch = step / steps_per_epoch
    return base * gamma ** sum(epoch >= m for m in milestones)


def cosine_lr(step: int, total_steps: int, peak: float, warmup_steps: int = 0) -> float:
    """Linear warm-up then half-cosine decay to 0."""
    if step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    t = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * peak * (1 + math.cos(math.pi * min(1.0, t)))
