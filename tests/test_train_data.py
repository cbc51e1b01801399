"""CIFAR-10 reader, augmentation, the shipped subsets' provenance, and exact resume."""
import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from refimpl.errors import RefimplError
from refimpl.networks import get
from refimpl.train import data, model, optim
from refimpl.train.checkpoint import load_checkpoint, save_checkpoint
from refimpl.train.recipe import Recipe, train_epoch

ROOT = Path(__file__).resolve().parents[1]
SUBSET = ROOT / "tests" / "data" / "cifar10" / "test-300.npz"
CALIB = ROOT / "refimpl" / "data" / "alexnet-cifar-calib.npz"


def cifar_zip() -> Path:
    """The real zip ($REFIMPL_CIFAR_ZIP or ../shared/data/cifar10-jpeg.zip from the repo root), else skip."""
    p = Path(os.environ.get(data.ENV_ZIP) or ROOT / data.DEFAULT_ZIP)
    if not p.is_file():
        pytest.skip(f"CIFAR-10 zip not found at {p} (set {data.ENV_ZIP})")
    return p


def fake_zip(path, per_class=2, split="test", size=32, drop=None):
    """A small zip in the CIFAR layout; image (c, i) is a solid colour (c*20, i*10, 7)."""
    with zipfile.ZipFile(path, "w") as z:
        for c, name in enumerate(data.CLASSES):
            for i in range(per_class):
                if drop == (c, i):
                    continue
                buf = io.BytesIO()
                Image.new("RGB", (size, size), (c * 20, i * 10, 7)).save(buf, "JPEG", quality=95)
                z.writestr(f"{split}/{name}/{i:04d}.jpg", buf.getvalue())
    return path


def test_reader_decodes_orders_and_caches(tmp_path, monkeypatch):
    monkeypatch.setitem(data.PER_CLASS, "test", 2)
    zp = fake_zip(tmp_path / "c.zip")
    px, lab = data.load(zp, "test", tmp_path / "cache")
    assert px.shape == (20, 3, 32, 32) and px.dtype == np.uint8
    np.testing.assert_array_equal(lab, np.repeat(np.arange(10), 2))
    with zipfile.ZipFile(zp) as z:        # independent decode with Pillow of one member
        ref = np.asarray(Image.open(io.BytesIO(z.read("test/dog/0001.jpg"))).convert("RGB")).transpose(2, 0, 1)
    np.testing.assert_array_equal(px[5 * 2 + 1], ref)
    cached = list((tmp_path / "cache").glob("cifar10-test-*.npz"))
    assert len(cached) == 1
    px2, lab2 = data.load(zp, "test", tmp_path / "cache")     # second call reads the cache
    np.testing.assert_array_equal(px2, px)


@pytest.mark.parametrize("case, message", [
    ("missing", "no such file"), ("notzip", "not a zip file"), ("folder", "is a folder"),
    ("short", "test/airplane/ holds 1 .jpg files, expected 2"), ("badsplit", "split 'val' unknown"),
    ("size", "16x16 image, expected 32x32")])
def test_reader_errors_name_the_fault(tmp_path, monkeypatch, case, message):
    monkeypatch.setitem(data.PER_CLASS, "test", 2)
    path, split = tmp_path / "c.zip", "test"
    if case == "notzip":
        path.write_bytes(b"hello")
    elif case == "folder":
        path.mkdir()
    elif case == "short":
        fake_zip(path, drop=(0, 1))
    elif case == "badsplit":
        fake_zip(path)
        split = "val"
    elif case == "size":
        fake_zip(path, size=16)
    with pytest.raises(RefimplError, match=message) as e:
        data.load(path, split, tmp_path / "cache")
    assert "\n" not in str(e.value) and (case == "badsplit" or str(path) in str(e.value))


def test_augment_is_a_padded_crop_or_its_mirror():
    rng = np.random.default_rng(0)
    px = rng.integers(0, 256, (64, 3, 8, 8), dtype=np.uint8)
    out = data.augment(px, np.random.default_rng(1), pad=2)
    again = data.augment(px, np.random.default_rng(1), pad=2)
    np.testing.assert_array_equal(out, again)                  # seeded: same draws, same crops
    r = np.random.default_rng(1)                               # the documented draw order
    dy, dx, flip = r.integers(0, 5, 64), r.integers(0, 5, 64), r.random(64) < 0.5
    for i in range(64):
        padded = np.zeros((3, 12, 12), np.uint8)
        padded[:, 2:10, 2:10] = px[i]
        crop = padded[:, dy[i]:dy[i] + 8, dx[i]:dx[i] + 8]
        np.testing.assert_array_equal(out[i], crop[:, :, ::-1] if flip[i] else crop)
    assert 0 < flip.sum() < 64 and len(set(dy)) > 1


def test_resume_is_bit_exact(tmp_path):
    """Two epochs in one go equal one epoch, a checkpoint round trip, and another epoch."""
    spec = get("alexnet-cifar")
    rng0 = np.random.default_rng(3)
    px = rng0.integers(0, 256, (64, 3, 32, 32), dtype=np.uint8)
    lab = rng0.integers(0, 10, 64)
    recipe = Recipe(epochs=2, batch=32, peak_lr=0.005, dropout={"fc6": 0.5}, seed=4)

    def start():
        rng = np.random.default_rng(recipe.seed)
        params = model.init_params(spec, rng)
        return params, optim.sgd_init(params), rng

    p1, v1, r1 = start()
    for e in range(2):
        train_epoch(spec, recipe, p1, v1, px, lab, e, r1)
    p2, v2, r2 = start()
    train_epoch(spec, recipe, p2, v2, px, lab, 0, r2)
    save_checkpoint(tmp_path / "ck.npz", recipe, p2, v2, r2, 1, [{"epoch": 1}])
    recipe3, p3, v3, r3, done, log = load_checkpoint(tmp_path / "ck.npz")
    assert recipe3 == recipe and done == 1 and log == [{"epoch": 1}]
    train_epoch(spec, recipe3, p3, v3, px, lab, 1, r3)
    for k in p1:
        np.testing.assert_array_equal(p1[k], p3[k])
        np.testing.assert_array_equal(v1[k], v3[k])


def test_bad_checkpoint_is_one_line(tmp_path):
    (tmp_path / "x.npz").write_bytes(b"PK\x03\x04junk")
    with pytest.raises(RefimplError, match="not a train_cifar checkpoint"):
        load_checkpoint(tmp_path / "x.npz")
    with pytest.raises(RefimplError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "nope.npz")


def test_shipped_subsets_are_what_their_provenance_says():
    """Layout, sizes and class balance; without the zip this is all that can be checked."""
    for path, n, per in ((SUBSET, 300, 30), (CALIB, 200, 20)):
        with np.load(path) as f:
            px, lab, names = f["pixels"], f["labels"], f["names"]
        assert px.shape == (n, 3, 32, 32) and px.dtype == np.uint8 and px.nbytes < 1_000_000
        np.testing.assert_array_equal(np.bincount(lab), [per] * 10)
        for name, label in zip(names, lab):
            split, cls, _ = str(name).split("/")
            assert data.CLASSES[label] == cls and split == ("test" if path == SUBSET else "train")
    with np.load(SUBSET) as f:
        assert list(f["names"][:2]) == ["test/airplane/0000.jpg", "test/airplane/0001.jpg"]
    with np.load(CALIB) as f:
        assert list(f["names"][:2]) == ["train/airplane/0000.jpg", "train/airplane/0250.jpg"]


def test_shipped_subsets_match_the_zip():
    zp = cifar_zip()
    with zipfile.ZipFile(zp) as z:
        for path in (SUBSET, CALIB):
            with np.load(path) as f:
                for i in (0, 77, 150, len(f["names"]) - 1):
                    name = str(f["names"][i])
                    ref = np.asarray(Image.open(io.BytesIO(z.read(name))).convert("RGB")).transpose(2, 0, 1)
                    np.testing.assert_array_equal(f["pixels"][i], ref)
