"""Split fine-tuning (refimpl.experiments.finetune) on the shipped 300 test images.

Oracles: the coding path against Pillow (libjpeg-turbo) encode/decode of a
mosaic built by a direct loop with the shift mapping written out here; the
edge freeze against the bytes of refimpl/data/alexnet-cifar.npz read with
np.load; QF draws against the band's integers.  Small and fast: a few hundred
conv5 maps, one to three epochs.
"""
from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest

from refimpl import engine, quantize, trained
from refimpl.errors import RefimplError
from refimpl.experiments import finetune as ft
from refimpl.networks import get
from refimpl.split import partition
from refimpl.train import checkpoint as train_ckpt
from refimpl.train import optim
from refimpl.train.recipe import Recipe as TrainRecipe

ROOT = Path(__file__).resolve().parents[1]
SUBSET = ROOT / "tests" / "data" / "cifar10" / "test-300.npz"
DATA = ROOT / "refimpl" / "data"
SHIPPED_FT = DATA / "alexnet-cifar-ft-conv5.npz"
AT = "conv5"


@pytest.fixture(scope="module")
def setup():
    spec = get("alexnet-cifar")
    base, _, calib = trained.resolve(spec, None)
    qnet = partition.quantize_for_split(spec, base, calib)
    with np.load(SUBSET) as f:
        px, lab = f["pixels"], f["labels"].astype(np.int64)
    maps = partition.edge_run(qnet, quantize.pixels_to_int(px, spec), AT)
    return dict(spec=spec, base=base, calib=calib, qnet=qnet, maps=maps, labels=lab, px=px,
                hspec=ft.host_spec(qnet, AT))


def _host(setup):
    return {k: np.asarray(setup["base"][k], dtype=np.float32).copy() for k in ft.host_keys(setup["spec"], AT)}


# ---------------------------------------------------------------- geometry of the cut
def test_host_is_pool5_to_fc8_on_the_conv5_map(setup):
    assert [l.name for l in setup["hspec"].layers] == ["pool5", "fc6", "fc7", "fc8"]
    assert setup["hspec"].input_shape == (128, 7, 7)
    assert setup["maps"].shape == (300, 128, 7, 7) and setup["maps"].dtype == np.int16
    assert ft.host_keys(setup["spec"], AT) == [f"{n}.{p}" for n in ("fc6", "fc7", "fc8") for p in ("weight", "bias")]
    assert ft.edge_keys(setup["spec"], AT) == [f"conv{i}.{p}" for i in range(1, 6) for p in ("weight", "bias")]


# ---------------------------------------------------------------- QF draws
def test_qf_draws_in_band_every_value_seeded():
    a = ft.draw_qfs(np.random.default_rng(7), 20000, (15, 30))
    assert a.min() >= 15 and a.max() <= 30
    assert set(a.tolist()) == set(range(15, 31))               # inclusive at both ends
    counts = np.bincount(a, minlength=31)[15:]
    assert np.all(np.abs(counts - 1250) < 6 * math.sqrt(1250))   # uniform: 6 sigma of a binomial count
    assert np.array_equal(a, ft.draw_qfs(np.random.default_rng(7), 20000, (15, 30)))
    assert not np.array_equal(a, ft.draw_qfs(np.random.default_rng(8), 20000, (15, 30)))
    assert set(ft.draw_qfs(np.random.default_rng(0), 50, (30, 30)).tolist()) == {30}


@pytest.mark.parametrize("band", [(0, 10), (30, 20), (50, 101), ("a", 3), (5,)])
def test_bad_band_is_one_clear_error(band):
    with pytest.raises(RefimplError, match="qf band"):
        ft.check_band(band)


def test_epoch_codes_every_map_once_at_seeded_in_band_qfs(setup, monkeypatch):
    seen = {}

    def recording(qnet, fmaps, at, qfs, mapping="shift", mosaic="packed"):
        seen.setdefault("qfs", []).extend(np.broadcast_to(qfs, (len(fmaps),)).tolist())
        return real(qnet, fmaps, at, qfs, mapping, mosaic)

    real = ft.code_maps
    monkeypatch.setattr(ft, "code_maps", recording)
    runs = []
    for seed in (3, 3, 4):
        seen.clear()
        rec = ft.Recipe(epochs=1, batch=64, qf_band=(20, 24), seed=seed)
        params = _host(setup)
        ft.train_epoch(rec, setup["qnet"], setup["hspec"], params, optim.sgd_init(params), setup["maps"][:128],
                       setup["labels"][:128], 0, np.random.default_rng(seed))
        runs.append((seen["qfs"], params))
    qfs = runs[0][0]
    assert len(qfs) == 128 and set(qfs) <= set(range(20, 25))
    assert runs[0][0] == runs[1][0] and runs[0][0] != runs[2][0]
    assert all(np.array_equal(runs[0][1][k], runs[1][1][k]) for k in runs[0][1])     # same seed, same weights


# ---------------------------------------------------------------- the coding path against Pillow
def _pillow_roundtrip(fmap: np.ndarray, qf: int) -> np.ndarray:
    """Shift mapping, packed mosaic and JPEG written out by hand; Pillow encodes and decodes."""
    from PIL import Image

    def half_up(v, s):                     # round(v / 2**s), halves up
        return (v + (1 << (s - 1))) >> s if s else v

    c, h, w = fmap.shape
    s = 0
    while half_up(int(fmap.max()), s) > 255:
        s += 1
    u8 = np.clip(half_up(fmap.astype(np.int64), s), 0, 255).astype(np.uint8)
    cols = math.ceil(math.sqrt(c))
    rows = math.ceil(c / cols)
    img = np.zeros((rows * h, cols * w), dtype=np.uint8)
    for ch in range(c):
        img[(ch // cols) * h:(ch // cols + 1) * h, (ch % cols) * w:(ch % cols + 1) * w] = u8[ch]
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=qf)
    dec = np.asarray(Image.open(io.BytesIO(buf.getvalue())))
    out = np.empty_like(u8)
    for ch in range(c):
        out[ch] = dec[(ch // cols) * h:(ch // cols + 1) * h, (ch % cols) * w:(ch % cols + 1) * w]
    return (out.astype(np.int64) << s).astype(np.int16)


def test_code_maps_is_the_jpeg_path_pillow_gives(setup):
    maps = setup["maps"][:6]
    qfs = np.array([15, 22, 30, 30, 50, 90])
    dec, nbytes = ft.code_maps(setup["qnet"], maps, AT, qfs)
    for m, d, q in zip(maps, dec, qfs):
        assert np.array_equal(d, _pillow_roundtrip(m, int(q)))
    # each map's bytes are its whole bitstream, as `refimpl eval` counts them
    for m, n, q in zip(maps, nbytes, qfs):
        assert n == len(partition.encode_fmap(setup["qnet"], m, AT, "jpeg", qf=int(q)))


# ---------------------------------------------------------------- training: loss falls, edge frozen, resume exact
def test_host_loss_falls_and_edge_stays_bit_identical(setup, tmp_path):
    maps, lab = setup["maps"][:256], setup["labels"][:256]
    rec = ft.Recipe(epochs=2, batch=64, peak_lr=0.01, qf_band=(15, 30))
    params = _host(setup)
    before = ft.host_loss(setup["qnet"], setup["hspec"], params, maps, lab, 20, rec)
    vel, rng = optim.sgd_init(params), np.random.default_rng(0)
    for e in range(rec.epochs):
        ft.train_epoch(rec, setup["qnet"], setup["hspec"], params, vel, maps, lab, e, rng)
    after = ft.host_loss(setup["qnet"], setup["hspec"], params, maps, lab, 20, rec)
    assert after < before - 0.05, (before, after)
    path = tmp_path / "ft.npz"
    ft.write_weights(path, setup["base"], params)
    with np.load(DATA / "alexnet-cifar.npz") as f0, np.load(path) as f1:
        assert sorted(f0.files) == sorted(f1.files)
        for k in f0.files:
            assert f1[k].dtype == f0[k].dtype == np.float32 and f1[k].shape == f0[k].shape
            same = f1[k].tobytes() == f0[k].tobytes()
            assert same == k.startswith("conv"), k                   # edge identical, every host array moved
    tuned = quantize.load_params(path, setup["spec"])
    ft.check_edge_identical(setup["spec"], setup["base"], tuned, setup["calib"], AT)
    _assert_edge_quantized_equal(setup, tuned)


def _assert_edge_quantized_equal(setup, tuned):
    spec = setup["spec"]
    qa, qb = setup["qnet"], partition.quantize_for_split(spec, tuned, setup["calib"])
    n_edge = [l.name for l in spec.layers].index(AT) + 1
    for la, lb in zip(qa.layers[:n_edge], qb.layers[:n_edge]):
        assert (la.in_frac, la.out_frac, la.w_frac, la.b_frac) == (lb.in_frac, lb.out_frac, lb.w_frac, lb.b_frac)
        if la.weights is not None:
            assert np.array_equal(la.weights, lb.weights) and np.array_equal(la.bias, lb.bias)
    x = quantize.pixels_to_int(setup["px"][:8], spec)
    assert np.array_equal(engine.run(qa, x, until=AT)[-1].output, engine.run(qb, x, until=AT)[-1].output)
    assert partition.map_format(qa, AT) == partition.map_format(qb, AT)


def test_check_edge_identical_catches_a_changed_edge_weight(setup):
    tuned = dict(setup["base"])
    w = np.asarray(tuned["conv3.weight"]).copy()
    w.flat[0] = np.nextafter(w.flat[0], np.float32(np.inf))
    tuned["conv3.weight"] = w
    with pytest.raises(RefimplError, match="conv3.weight"):
        ft.check_edge_identical(setup["spec"], setup["base"], tuned, setup["calib"], AT)


def test_resume_from_checkpoint_is_bit_exact(setup, tmp_path):
    maps, lab = setup["maps"][:128], setup["labels"][:128]
    rec = ft.Recipe(epochs=2, batch=64, qf_band=(20, 30), seed=5)

    def fresh():
        p = _host(setup)
        return p, optim.sgd_init(p), np.random.default_rng(rec.seed)

    p1, v1, r1 = fresh()
    for e in range(2):
        ft.train_epoch(rec, setup["qnet"], setup["hspec"], p1, v1, maps, lab, e, r1)
    p2, v2, r2 = fresh()
    ft.train_epoch(rec, setup["qnet"], setup["hspec"], p2, v2, maps, lab, 0, r2)
    ft.save_checkpoint(tmp_path / "epoch-001.npz", rec, p2, v2, r2, 1, [{"epoch": 1}])
    rec3, p3, v3, r3, done, log = ft.load_checkpoint(tmp_path / "epoch-001.npz")
    assert rec3 == rec and done == 1 and log == [{"epoch": 1}]
    ft.train_epoch(rec3, setup["qnet"], setup["hspec"], p3, v3, maps, lab, 1, r3)
    assert all(p1[k].tobytes() == p3[k].tobytes() for k in p1)
    ft.save_checkpoint(tmp_path / "epoch-002.npz", rec3, p3, v3, r3, 2, log)
    got = ft.export(tmp_path / "epoch-002.npz", tmp_path / "w.npz")
    assert got["epochs_done"] == 2
    with np.load(tmp_path / "w.npz") as f:
        assert all(f[k].tobytes() == p1[k].tobytes() for k in p1)


def test_a_training_checkpoint_is_refused_clearly(setup, tmp_path):
    p = _host(setup)
    train_ckpt.save_checkpoint(tmp_path / "t.npz", TrainRecipe(), p, optim.sgd_init(p), np.random.default_rng(0), 1, [])
    with pytest.raises(RefimplError, match="not a fine-tuning checkpoint"):
        ft.load_checkpoint(tmp_path / "t.npz")
    with pytest.raises(RefimplError, match="no such checkpoint"):
        ft.load_checkpoint(tmp_path / "missing.npz")


# ---------------------------------------------------------------- operating point
def test_operating_point_is_the_lowest_qf_within_one_point():
    def row(w, qf, pct, ratio):
        return dict(weights=w, qf=qf, top1_pct=pct, ratio=ratio)
    rows = [row("base", None, 77.80, None), row("base", 20, 76.50, 30.0), row("base", 25, 76.80, 26.0),
            row("base", 30, 77.07, 23.0), row("finetuned", 15, 76.79, 36.0), row("finetuned", 18, 76.90, 32.0),
            row("finetuned", 25, 77.50, 26.5)]
    rep = ft.report(rows)
    assert rep["before"]["qf"] == 25 and rep["after"]["qf"] == 18          # 76.80 >= 77.80 - 1 counts
    assert rep["ratio_gain_pct"] == pytest.approx(100 * (32.0 / 26.0 - 1))
    assert ft.operating_point(rows, "base", 80.0) is None


def test_evaluate_qfs_unsplit_row_is_the_engine(setup):
    qn = setup["qnet"]
    rows = ft.evaluate_qfs({"base": qn}, setup["maps"][:50], setup["labels"][:50], AT, [None, 30])
    full = engine.run(qn, quantize.pixels_to_int(setup["px"][:50], setup["spec"]))[-1].output.reshape(50, -1)
    expect = int(np.sum(np.argsort(-full.astype(np.int64), axis=1, kind="stable")[:, 0] == setup["labels"][:50]))
    assert rows[0]["qf"] is None and rows[0]["top1"] == expect
    assert rows[1]["qf"] == 30 and rows[1]["ratio"] == pytest.approx(12544 / rows[1]["bytes_per_frame"])


# ---------------------------------------------------------------- the shipped fine-tuned weights
@pytest.mark.skipif(not SHIPPED_FT.exists(), reason=f"{SHIPPED_FT} not built yet (tools/finetune_split.py train)")
def test_shipped_finetuned_weights_keep_the_edge(setup):
    with np.load(DATA / "alexnet-cifar.npz") as f0, np.load(SHIPPED_FT) as f1:
        assert sorted(f0.files) == sorted(f1.files)
        for k in f0.files:
            assert f1[k].dtype == np.float32 and f1[k].shape == f0[k].shape
            assert (f1[k].tobytes() == f0[k].tobytes()) == k.startswith("conv"), k
    tuned = quantize.load_params(SHIPPED_FT, setup["spec"])
    ft.check_edge_identical(setup["spec"], setup["base"], tuned, setup["calib"], AT)
    _assert_edge_quantized_equal(setup, tuned)


def test_experiment_finetune_cli_bad_input_is_one_line(tmp_path, capsys):
    """`refimpl experiment finetune` dispatches to finetune.run; bad input is one line, exit 2, nothing written."""
    from refimpl.cli import main
    out = tmp_path / "ft"
    for argv, words in ((["--qf-band", "30"], "expected LO..HI"),
                        (["--qf-band", "40..20"], "qf band 40..20"),
                        (["--data", str(tmp_path / "missing.zip")], "missing.zip: no such file")):
        assert main(["experiment", "finetune", "--out", str(out)] + argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and words in err[0], err
        assert not out.exists()
