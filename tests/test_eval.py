"""refimpl eval and the shipped trained model, on the shipped 300-image test subset.

Model-card figures (README "Trained model"), measured once on all 10,000
test images with `refimpl eval`; the subset of 300 must agree with them
within a binomial bound: 3 standard errors of a 300-image mean,
3 * sqrt(p (1 - p) / 300), about 7.5 points at p = 0.75.
"""
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from refimpl import engine, evaluate, networks, quantize, trained
from refimpl.cli import main

ROOT = Path(__file__).resolve().parents[1]
SUBSET = ROOT / "tests" / "data" / "cifar10" / "test-300.npz"
MODEL_CARD_FIXED_TOP1 = 0.7780   # 7,780 of 10,000 test images (README "Trained model")
MODEL_CARD_FLOAT_TOP1 = 0.7781   # 7,781 of 10,000


@pytest.fixture(scope="module")
def subset():
    with np.load(SUBSET) as f:
        return f["pixels"], f["labels"].astype(np.int64)


@pytest.fixture(scope="module")
def shipped(subset):
    """Fixed and float logits of the shipped model on the subset, computed directly."""
    spec = networks.get("alexnet-cifar")
    params, _, calib = trained.resolve(spec, None)
    qnet = quantize.quantize_network(spec, params, calib)
    px, _ = subset
    fixed = engine.run(qnet, quantize.pixels_to_int(px, spec))[-1].output.reshape(len(px), -1)
    flt = quantize.float_forward(spec, params, quantize.pixels_to_float(px, spec))["fc8"].reshape(len(px), -1)
    return fixed, flt


def test_ranked_breaks_ties_to_the_lower_class():
    logits = np.array([[1, 5, 5, 0], [3, 3, 3, 3], [0, 1, 2, 3]])
    np.testing.assert_array_equal(evaluate.ranked(logits, 2), [[1, 2], [0, 1], [3, 2]])


def test_spread_covers_every_class():
    np.testing.assert_array_equal(evaluate.spread(10000, 10), np.arange(10) * 1000)
    np.testing.assert_array_equal(evaluate.spread(7, None), np.arange(7))
    np.testing.assert_array_equal(evaluate.spread(7, 100), np.arange(7))


def test_evaluate_counts_against_hand_made_scores():
    fixed = np.array([[9, 1, 0], [0, 9, 1], [1, 0, 9], [9, 8, 7]])
    flt = np.array([[0.9, 0.1, 0], [0.9, 0.8, 0], [0, 0, 1], [0.1, 0.2, 0.3]])
    labels = np.array([0, 1, 1, 2])

    def classify(px):
        i = px[:, 0, 0, 0].astype(int)
        return evaluate.Scores(fixed=fixed[i], float=flt[i], saturations={"fc8": 1}, acc_overflows={"fc8": 0})

    px = np.zeros((4, 3, 1, 1), np.uint8)
    px[:, 0, 0, 0] = np.arange(4)
    rep = evaluate.evaluate(classify, px, labels, batch=3)
    # fixed top-1: 0 ok, 1 ok, 2 no (label 1, rank 2,0), 3 no -> 2; top-2 would differ but top-5 covers all 3
    assert (rep["fixed_top1"], rep["float_top1"], rep["fixed_top5"]) == (2, 1 + 0 + 0 + 1, 4)
    assert rep["agree_top1"] == 2 and rep["agreement"] == 0.5     # images 0 and 2 agree
    assert rep["saturations"] == {"fc8": 2} and rep["images"] == 4   # two batches, 1 each


def test_synthetic_keyword_keeps_the_seeded_weights():
    spec = networks.get("alexnet-cifar")
    params, src, calib = trained.resolve(spec, "synthetic", seed=3)
    ref = quantize.synthetic_params(spec, 3)
    assert calib is None and "synthetic" in src
    assert all(np.array_equal(params[k], ref[k]) for k in ref)


def test_shipped_weights_are_the_default(subset):
    spec = networks.get("alexnet-cifar")
    assert trained.has_shipped(spec)
    params, src, calib = trained.resolve(spec, None)
    assert "trained" in src and calib.shape == (200, 3, 32, 32)
    assert all(v.shape == quantize.synthetic_params(spec, 0)[k].shape for k, v in params.items())
    alex = networks.get("alexnet")
    assert not trained.has_shipped(alex) and trained.resolve(alex, None, until="conv1")[2] is None


def test_fixed_and_float_agree_on_the_subset(shipped):
    fixed, flt = shipped
    agree = np.mean(fixed.argmax(axis=1) == flt.argmax(axis=1))
    assert agree >= 0.99, agree


def test_subset_accuracy_is_within_the_bound_of_the_model_card(shipped, subset):
    fixed, flt = shipped
    _, labels = subset
    for logits, card in ((fixed, MODEL_CARD_FIXED_TOP1), (flt, MODEL_CARD_FLOAT_TOP1)):
        acc = np.mean(logits.argmax(axis=1) == labels)
        bound = 3 * math.sqrt(card * (1 - card) / len(labels))
        assert abs(acc - card) <= bound, (acc, card, bound)


def test_cli_eval_json_matches_a_direct_count(capsys, shipped, subset):
    code = main(["eval", "--data", str(SUBSET), "--limit", "60", "--format", "json", "--batch", "25"])
    out, err = capsys.readouterr()
    assert code == 0, err
    rep = json.loads(out)
    idx = np.arange(60) * 300 // 60
    fixed, flt = shipped
    _, labels = subset
    assert rep["images"] == 60
    assert rep["fixed_top1"] == int(np.sum(fixed[idx].argmax(axis=1) == labels[idx]))
    assert rep["float_top1"] == int(np.sum(flt[idx].argmax(axis=1) == labels[idx]))
    top5 = np.argsort(-fixed[idx], axis=1, kind="stable")[:, :5]
    assert rep["fixed_top5"] == int(np.sum(np.any(top5 == labels[idx, None], axis=1)))
    assert set(rep["saturations"]) == {l.name for l in networks.get("alexnet-cifar").layers}


def test_cli_eval_table(capsys):
    assert main(["eval", "--data", str(SUBSET), "--limit", "20"]) == 0
    out = capsys.readouterr().out
    assert "bit-exact fixed point" in out and "float reference" in out and "images/s" in out


@pytest.mark.parametrize("argv, message", [
    (["--network", "alexnet"], "eval runs the CIFAR-10 network"),
    (["--format", "csv"], "unknown format 'csv'"),
    (["--limit", "0"], "must be >= 1"),
    (["--data", "nope.npz"], "nope.npz: no such file"),
    (["--data", "nope.zip"], "nope.zip: no such file"),
    (["--weights", "nope-w.npz"], "no such weight file")])
def test_cli_eval_errors_are_one_line(capsys, argv, message):
    extra = [] if any(a == "--data" for a in argv) else ["--data", str(SUBSET)]
    assert main(["eval"] + extra + argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("refimpl: error: ") and message in err and err.count("\n") == 1


def test_eval_through_the_zip_matches_the_subset(capsys, tmp_path, shipped, subset):
    """--limit 10 of the zip's test split is image 0000 of each class: subset images 0, 30, ..., 270."""
    from test_train_data import cifar_zip
    zp = cifar_zip()
    assert main(["eval", "--data", str(zp), "--cache", str(tmp_path), "--limit", "10", "--format", "json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    fixed, flt = shipped
    _, labels = subset
    idx = np.arange(10) * 30
    assert rep["images"] == 10
    assert rep["fixed_top1"] == int(np.sum(fixed[idx].argmax(axis=1) == labels[idx]))
    assert rep["float_top1"] == int(np.sum(flt[idx].argmax(axis=1) == labels[idx]))


def _eval_json(*argv):
    proc = subprocess.run([sys.executable, "-m", "refimpl", "eval", "--data", str(SUBSET), "--format", "json", *argv],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_eval_lossless_split_is_the_unsplit_engine(shipped, subset):
    # a lossless split must classify exactly as the unsplit engine (the direct run of the fixture)
    fixed, _ = shipped
    _, labels = subset
    rep = _eval_json("--at", "pool2", "--codec", "lossless", "--limit", "120")
    idx = evaluate.spread(len(labels), 120)
    expect = int(np.sum(evaluate.ranked(fixed[idx], 1)[:, 0] == labels[idx]))
    assert rep["paths"] == ["split", "unsplit"]
    assert rep["split_top1"] == rep["unsplit_top1"] == expect
    assert rep["agree_top1"] == 120 and rep["split"].startswith("split after pool2, codec lossless")
    assert rep["mean_link_bytes"] > 0


def test_eval_jpeg_split_bytes_are_the_bitstreams(tmp_path, subset):
    # mean link bytes equal the sizes of the bitstreams refimpl edge writes for the same images
    from PIL import Image
    px, _ = subset
    idx = evaluate.spread(len(px), 3)
    rep = _eval_json("--at", "conv5", "--codec", "jpeg", "--qf", "30", "--limit", "3")
    sizes = []
    for i in idx:
        Image.fromarray(px[i].transpose(1, 2, 0)).save(tmp_path / f"{i}.png")
        out = tmp_path / f"{i}.rfsb"
        proc = subprocess.run([sys.executable, "-m", "refimpl", "edge", "--network", "alexnet-cifar", "--image",
                               str(tmp_path / f"{i}.png"), "--at", "conv5", "--codec", "jpeg", "--qf", "30",
                               "--out", str(out)], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        sizes.append(out.stat().st_size)
    assert rep["mean_link_bytes"] == pytest.approx(sum(sizes) / 3, abs=1e-9)
    assert 0 <= rep["agree_top1"] <= 3


@pytest.mark.parametrize("argv, message", [
    (("--at", "conv9"), "unknown partition layer 'conv9'"),
    (("--at", "conv5", "--codec", "jpeg", "--qf", "0"), "qf"),
    (("--at", "conv5", "--codec", "zip"), "zip"),
    (("--at", "conv5", "--host", "gpu"), "host mode"),
])
def test_eval_bad_split_options(argv, message):
    proc = subprocess.run([sys.executable, "-m", "refimpl", "eval", "--data", str(SUBSET), *argv],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith("refimpl: error: ") and message in proc.stderr, proc.stderr
