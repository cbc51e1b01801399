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


def write_state(path: Path, recipe: dict, params, velocity, rng, epoch: int, log: list, kind: str | None = None):
    """Write a training state (the layout above; ``kind`` in the meta when given) atomically."""
    arrays = {f"param/{k}": v for k, v in params.items()}
    arrays.update({f"velocity/{k}": v for k, v in velocity.items()})
    meta = ({} if kind is None else dict(kind=kind)) | dict(recipe=recipe, epochs_done=epoch,
                                                             rng_state=rng.bit_generator.state, log=log)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write(path, buf.getvalue())


def read_state(path, what: str, kind: str | None = None) -> tuple:
    """(recipe dict, params, velocity, rng, epochs_done, log) of a state file; ``what`` names the
    checkpoint kind in the one-line errors, ``kind`` (when given) must be the meta's."""
    try:
        with np.load(path, allow_pickle=False) as f:
            meta = json.loads(bytes(f["meta"]).decode())
            params = {k[6:]: f[k] for k in f.files if k.startswith("param/")}
            velocity = {k[9:]: f[k] for k in f.files if k.startswith("velocity/")}
    except FileNotFoundError:
        raise RefimplError(f"{path}: no such checkpoint") from None
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as exc:
        raise RefimplError(f"{path}: not a {what} checkpoint ({exc})") from None
    if kind is not None and meta.get("kind") != kind:
        raise RefimplError(f"{path}: not a {what} checkpoint (no kind '{kind}')")
    rng = np.random.default_rng()
    rng.bit_generator.state = meta["rng_state"]
    return meta["recipe"], params, velocity, rng, meta["epochs_done"], meta["log"]


def save_checkpoint(path: Path, recipe: Recipe, params, velocity, rng, epoch: int, log: list):
    """Write the state after ``epoch`` completed epochs to ``path``."""
    write_state(path, recipe.as_dict(), params, velocity, rng, epoch, log)


def load_checkpoint(path):
    """(recipe, params, velocity, rng, epochs_done, log) from a checkpoint file."""
    recipe, params, velocity, rng, done, log = read_state(path, "train_cifar")
    return Recipe(**recipe), params, velocity, rng, done, log
