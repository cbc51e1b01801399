"""CIFAR-10 from its JPEG zip: validated, decoded once, cached as uint8 arrays.

The zip (see /work/shared/data/README.md) holds ``<split>/<class>/<NNNN>.jpg``
for split in (train, test), 5,000 / 1,000 images per class, 32x32 RGB.
Images are ordered by class (CLASSES order, label = index) and then by file
name, so image i of a split is the same file on every machine.  Pixels are
(N, 3, 32, 32) uint8 in RGB order (the package's (C, H, W) layout), decoded
with Pillow.  The cache file name carries a hash of the zip's member names
and CRC-32s, so a different zip never reads a stale cache.

Augmentation (train only): pad 4 pixels of zeros on every side, take a random
32x32 crop, flip left-right with probability 1/2; every choice from the
caller's numpy Generator.
"""
from __future__ import annotations

import hashlib
import io
import os
import zipfile
from pathlib import Path

import numpy as np

from ..errors import RefimplError
from ..fileio import atomic_write

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
PER_CLASS = {"train": 5000, "test": 1000}     # CIFAR-10 (Krizhevsky, 2009)
SIZE = 32
ENV_ZIP = "REFIMPL_CIFAR_ZIP"
DEFAULT_ZIP = "../shared/data/cifar10-jpeg.zip"   # relative to the project root (data README)
ENV_CACHE = "REFIMPL_CACHE"
DEFAULT_CACHE = "~/.cache/refimpl"


def default_zip() -> str:
    """$REFIMPL_CIFAR_ZIP, else ../shared/data/cifar10-jpeg.zip from the current folder."""
    return os.environ.get(ENV_ZIP) or DEFAULT_ZIP


def default_cache() -> Path:
    return Path(os.environ.get(ENV_CACHE) or DEFAULT_CACHE).expanduser()


def _members(path, split: str) -> tuple:
    """(open ZipFile, [[names of class c] for c in CLASSES], content key); one clear error otherwise."""
    p = Path(path)
    hint = f"the CIFAR-10 JPEG zip; pass --data or set {ENV_ZIP}"
    if not p.exists():
        raise RefimplError(f"{path}: no such file ({hint})")
    if p.is_dir():
        raise RefimplError(f"{path}: is a folder, expected {hint}")
    if not zipfile.is_zipfile(p):
        raise RefimplError(f"{path}: not a zip file, expected {hint}")
    if split not in PER_CLASS:
        raise RefimplError(f"split '{split}' unknown (choose from: {', '.join(PER_CLASS)})")
    try:
        z = zipfile.ZipFile(p)
        infos = z.infolist()
    except (OSError, zipfile.BadZipFile) as exc:
        raise RefimplError(f"{path}: unreadable zip ({exc})") from None
    by_class = {c: [] for c in CLASSES}
    h = hashlib.sha256()
    for info in infos:
        parts = info.filename.split("/")
        if len(parts) == 3 and parts[0] == split and parts[1] in by_class and parts[2].endswith(".jpg"):
            by_class[parts[1]].append(info.filename)
            h.update(f"{info.filename}:{info.CRC:08x}\n".encode())
    for c, names in by_class.items():
        if len(names) != PER_CLASS[split]:
            z.close()
            raise RefimplError(f"{path}: not the CIFAR-10 JPEG zip: {split}/{c}/ holds {len(names)} .jpg "
                               f"files, expected {PER_CLASS[split]}")
    return z, [sorted(by_class[c]) for c in CLASSES], h.hexdigest()[:16]


def decode(z: zipfile.ZipFile, names: list, path="zip") -> np.ndarray:
    """JPEG members -> uint8 (N, 3, 32, 32) RGB via Pillow."""
    from PIL import Image

    out = np.empty((len(names), 3, SIZE, SIZE), dtype=np.uint8)
    for i, name in enumerate(names):
        try:
            with Image.open(io.BytesIO(z.read(name))) as im:
                a = np.asarray(im.convert("RGB"))
        except Exception as exc:             # Pillow raises many types for a bad JPEG
            raise RefimplError(f"{path}: {name}: not a decodable JPEG ({exc})") from None
        if a.shape != (SIZE, SIZE, 3):
            raise RefimplError(f"{path}: {name}: {a.shape[1]}x{a.shape[0]} image, expected 32x32")
        out[i] = a.transpose(2, 0, 1)
    return out


def load(path=None, split: str = "train", cache_dir=None, progress=None) -> tuple:
    """(pixels uint8 (N, 3, 32, 32), labels uint8 (N,)) of one split.

    Decodes the zip on the first call and caches the arrays in
    ``cache_dir`` (default $REFIMPL_CACHE or ~/.cache/refimpl) as
    cifar10-<split>-<key>.npz; later calls read the cache.  ``progress`` is
    an optional callable wrapping an iterable (e.g. tqdm) for the decode.
    """
    path = default_zip() if path is None else path
    z, per_class, key = _members(path, split)
    cache = Path(cache_dir if cache_dir is not None else default_cache()).expanduser()
    cfile = cache / f"cifar10-{split}-{key}.npz"
    with z:
        if cfile.exists():
            with np.load(cfile) as f:
                return f["pixels"], f["labels"]
        names = [n for names in per_class for n in names]
        labels = np.repeat(np.arange(len(CLASSES), dtype=np.uint8), PER_CLASS[split])
        chunks = range(0, len(names), 1000)
        parts = [decode(z, names[i:i + 1000], path) for i in (progress(chunks) if progress else chunks)]
    pixels = np.concatenate(parts)
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RefimplError(f"{cache}: cannot create cache folder ({exc.strerror})") from None
    buf = io.BytesIO()
    np.savez(buf, pixels=pixels, labels=labels)
    atomic_write(cfile, buf.getvalue())
    return pixels, labels


def augment(pixels: np.ndarray, rng: np.random.Generator, pad: int = 4) -> np.ndarray:
    """Random crop of the zero-padded images and random horizontal flip.

    pixels : uint8 (N, 3, H, W) -> uint8 (N, 3, H, W).  Draws, in order,
    N crop rows, N crop columns (each uniform in 0..2*pad) and N flips.
    """
    n, c, h, w = pixels.shape
    padded = np.zeros((n, c, h + 2 * pad, w + 2 * pad), dtype=pixels.dtype)
    padded[:, :, pad:pad + h, pad:pad + w] = pixels
    dy = rng.integers(0, 2 * pad + 1, n)
    dx = rng.integers(0, 2 * pad + 1, n)
    flip = rng.random(n) < 0.5
    out = np.empty_like(pixels)
    for i in range(n):
        crop = padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w]
        out[i] = crop[:, :, ::-1] if flip[i] else crop
    return out
