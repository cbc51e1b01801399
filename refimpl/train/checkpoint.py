"""Training checkpoints: weights, momentum buffers, rng state, recipe and log in one .npz.

Keys: 'param/<layer>.weight|bias', 'velocity/<same>' (float32 arrays) and
'meta' (UTF-8 JSON as uint8: recipe, epochs_done, rng_state = the PCG64
bit_generator.state, log).  Written atomically, so a checkpoint on disk is
always complete.
"""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np

from ..errors import RefimplError
from ..fileio import atomic_write
from .recipe import Recipe


def save_checkpoint(path: Path, recipe: Recipe, params, velocity, rng, epoch: int, log: list):
    """Write the state after ``epoch`` completed epochs to ``path``."""
    arrays = {f"param/{k}": v for k, v in params.items()}
    arrays.update({f"velocity/{k}": v for k, v in velocity.items()})
    meta = dict(recipe=recipe.as_dict(), epochs_done=epoch, rng_state=rng.bit_generator.state, log=log)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write(path, buf.getvalue())


def load_checkpoint(path):
    """(recipe, params, velocity, rng, epochs_done, log) from a checkpoint file."""
    try:
        with np.load(path, allow_pickle=False) as f:
            meta = json.loads(bytes(f["meta"]).decode())
            params = {k[6:]: f[k] for k in f.files if k.startswith("param/")}
            velocity = {k[9:]: f[k] for k in f.files if k.startswith("velocity/")}
    except FileNotFoundError:
        raise RefimplError(f"{path}: no such checkpoint") from None
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as exc:
        raise RefimplError(f"{path}: not a train_cifar checkpoint ({exc})") from None
    rng = np.random.default_rng()
    rng.bit_generator.state = meta["rng_state"]
    return Recipe(**meta["recipe"]), params, velocity, rng, meta["epochs_done"], meta["log"]
