"""refimpl experiment: the k-bit peer, the search, the store, and --quick runs of each
experiment on real CIFAR-10 images (skipped without the zip) checked against
independent computations (a direct engine run, Pillow's JPEG sizes, a Counter
entropy) and against the facts the data must show (issue 13)."""
import collections
import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from refimpl import engine, evaluate, networks, quantize, trained
from refimpl.cli import main
from refimpl.experiments import context, measure, store
from refimpl.split import mapping
from refimpl.train import data

ROOT = Path(__file__).resolve().parents[1]


def _zip():
    p = Path(os.environ.get(data.ENV_ZIP) or ROOT / data.DEFAULT_ZIP)
    if not p.is_file():
        pytest.skip(f"CIFAR-10 zip not found at {p} (set {data.ENV_ZIP})")
    return str(p)


# ---------------------------------------------------------------- k-bit uniform quantizer
@pytest.mark.parametrize("k", measure.KBITS)
def test_quantize_k_matches_the_fraction_oracle(k):
    rng = np.random.default_rng(k)
    maps = [rng.integers(0, 3000, (4, 3, 5)), rng.integers(-32768, 32768, (2, 4, 4)),
            np.full((2, 2, 2), 77), np.array([[[0, 0, 5]]])]
    for m in maps:
        m = m.astype(np.int16)
        q, lo, hi = measure.quantize_k(m, k)
        back = measure.dequantize_k(q, lo, hi, k)
        q_ref, back_ref = measure.quantize_k_naive(m, k)
        np.testing.assert_array_equal(q, q_ref)
        np.testing.assert_array_equal(back, back_ref)
        assert q.min() >= 0 and q.max() <= 2 ** k - 1
        r = int(m.max()) - int(m.min())
        bound = math.ceil(r / (2 * (2 ** k - 1))) if r else 0
        assert np.abs(back.astype(np.int64) - m).max() <= bound


def test_eight_bit_quantizer_is_the_minmax_mapping():
    m = np.random.default_rng(5).integers(0, 20000, (8, 7, 7)).astype(np.int16)
    q, lo, hi = measure.quantize_k(m, 8)
    u8, p = mapping.to_samples(m, "minmax")
    np.testing.assert_array_equal(q, u8)
    np.testing.assert_array_equal(measure.dequantize_k(q, lo, hi, 8), mapping.from_samples(u8, p))


# ---------------------------------------------------------------- search and store
def test_smallest_passing_finds_the_threshold_of_every_monotone_predicate():
    cands = list(range(1, 101))
    for t in range(0, 102):
        calls = []

        def ok(c):
            calls.append(c)
            return c >= t
        got = measure.smallest_passing(cands, ok)
        assert got == (None if t > 100 else max(t, 1))
        assert len(calls) <= 1 + math.ceil(math.log2(len(cands)))


def test_validation_subset_is_fixed_and_avoids_the_calibration_images():
    idx = context.val_indices()
    assert len(idx) == 2000 and len(set(idx.tolist())) == 2000 and np.all(np.diff(idx) > 0)
    assert not np.any(idx % 250 == 0)
    np.testing.assert_array_equal(idx, context.val_indices(2000, 13))
    assert not np.array_equal(idx, context.val_indices(2000, 14))


def test_store_resumes_and_ignores_a_cut_line(tmp_path):
    s = store.Store(tmp_path / "x.jsonl")
    k1, k2 = store.Store.key(layer="conv5", qf=30), store.Store.key(layer="conv5", qf=35)
    s.put(k1, {"bytes": 1.5})
    with open(tmp_path / "x.jsonl", "a") as f:
        f.write('{"key": "cut sh')
    again = store.Store(tmp_path / "x.jsonl")
    assert again.get(k1) == {"bytes": 1.5} and again.get(k2) is None
    assert again.point(k1, lambda: pytest.fail("measured again")) == {"bytes": 1.5}


# ---------------------------------------------------------------- bad input
def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "refimpl", *args], capture_output=True, text=True,
                          env=dict(os.environ, **(env or {})), cwd=ROOT)


@pytest.mark.parametrize("args, needle", [
    (["experiment", "nope"], "unknown experiment 'nope' (choose from: sparsity, compression, qf-sweep, input, finetune)"),
    (["experiment", "qf-sweep", "--qf", "0,50"], "every QF must be in 1..100"),
    (["experiment", "qf-sweep", "--qf", "ten"], "expected a list 10,30,50 or a range 5..95:5"),
    (["experiment", "sparsity", "--data", "/nonexistent.zip"], "/nonexistent.zip: no such file"),
])
def test_bad_input_is_one_line_and_exit_2(args, needle):
    r = _cli(*args)
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("refimpl: error: ") and needle in r.stderr
    assert r.stdout == ""


# ---------------------------------------------------------------- --quick runs on CIFAR-10
@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """Each experiment once on few images, in a fresh cache and output folder."""
    zp = _zip()
    root = tmp_path_factory.mktemp("exp")
    cache, out = root / "cache", root / "out"
    common = ["--data", zp, "--cache", str(cache), "--out", str(out)]
    runs = {
        "compression": ["--quick", "--images", "100", "--layers", "input,pool2,conv5", "--no-plot"],
        "qf-sweep": ["--images", "200", "--qf", "10,50,95", "--no-plot"],
        "input": ["--images", "40", "--qf", "50,95", "--no-plot"],
        "sparsity": ["--images", "20", "--layers", "input,conv1,conv5,fc8"],
    }
    for name, args in runs.items():
        assert main(["experiment", name, *common, *args]) == 0
    return dict(zip=zp, cache=cache, out=out, common=common, runs=runs,
                rep={n: json.loads((out / f"{n}.json").read_text()) for n in runs})


def _direct(zp, split, idx):
    """(pixels, labels, fc8 int logits, qnet) of images idx, decoded and run here directly."""
    spec = networks.get("alexnet-cifar")
    params, _, calib = trained.resolve(spec, None)
    qnet = quantize.quantize_network(spec, params, calib)
    z, per_class, _ = data._members(zp, split)
    names = [n for c in per_class for n in c]
    with z:
        px = data.decode(z, [names[i] for i in idx])
    lab = np.repeat(np.arange(10), data.PER_CLASS[split])[idx]
    return px, lab, qnet, spec


def test_compression_quick_shows_the_monotone_facts(quick):
    rep = quick["rep"]["compression"]
    layers = {r["layer"]: r for r in rep["layers"]}
    assert list(layers) == ["input", "pool2", "conv5"]
    ll = {k: r["lossless"]["ratio"] for k, r in layers.items()}
    # the raw input compresses less than the conv outputs (not less than every map: pool1, pool5 and
    # fc7 of the full run are below it; README "Paper experiments")
    assert ll["input"] < min(ll["pool2"], ll["conv5"])
    assert ll["conv5"] > ll["pool2"]                             # deeper, sparser: more
    for r in layers.values():
        raw = 2 * int(np.prod(r["shape"]))
        assert r["raw_bytes"] == raw and r["raw_stream_bytes"] > raw
        for point in (r["lossless"], r["jpeg"] and r["jpeg"]["test"], r["kbit"] and r["kbit"]["test"]):
            if point:
                assert point["ratio"] == pytest.approx(raw / point["bytes"], rel=1e-12)
        if r["jpeg"]:
            v = r["jpeg"]["val"]
            assert (v["ref_hits"] - v["hits"]) * 100 <= v["images"]       # the 1 % target, in counts
            assert r["jpeg"]["test"]["bytes"] < r["lossless"]["bytes"]
            trace = r["jpeg_search"][0]["trace"]
            assert [t["qf"] for t in trace] == sorted(t["qf"] for t in trace)
            assert all(a["bytes"] < b["bytes"] for a, b in zip(trace, trace[1:]))   # bytes grow with QF
    assert rep["sets"]["test"]["images"] == 100 and rep["sets"]["val"]["images"] == 100
    assert not (quick["out"] / "ratios-alexnet-cifar.csv").exists()      # never from a --quick run
    csv_text = (quick["out"] / "compression.csv").read_text().splitlines()
    assert csv_text[0].startswith("layer,shape,raw_bytes,lossless_bytes") and len(csv_text) == 4


def test_cached_features_and_reference_equal_a_direct_engine_run(quick):
    idx = evaluate.spread(10000, 100)
    px, lab, qnet, spec = _direct(quick["zip"], "test", idx)
    res = {r.name: r.output for r in engine.run(qnet, quantize.pixels_to_int(px, spec))}
    cached = sorted((quick["cache"] / "features").glob("alexnet-cifar-*-conv5-*.npy"))
    assert any(np.array_equal(np.load(p), res["conv5"]) for p in cached)
    top1 = evaluate.ranked(res["fc8"].reshape(100, -1).astype(np.int64), 1)[:, 0]
    ref = quick["rep"]["compression"]["sets"]["test"]["reference_top1_pct"]
    assert ref == pytest.approx(100.0 * np.mean(top1 == lab), abs=1e-9)


def test_rerun_resumes_without_measuring_again(quick):
    path = quick["cache"] / "experiments" / "compression.jsonl"
    before = path.read_text()
    assert main(["experiment", "compression", *quick["common"], *quick["runs"]["compression"]]) == 0
    assert path.read_text() == before


def test_qf_sweep_quick_qf95_is_within_half_a_point_and_bytes_grow(quick):
    rep = quick["rep"]["qf-sweep"]
    pts = rep["points"]
    assert [p["qf"] for p in pts] == [10, 50, 95] and rep["layer"] == "conv5" and rep["raw_bytes"] == 2 * 128 * 49
    assert abs(pts[-1]["top1_pct"] - pts[-1]["ref_top1_pct"]) <= 0.5
    assert pts[0]["bytes"] < pts[1]["bytes"] < pts[2]["bytes"]
    assert pts[0]["agreement"] <= pts[2]["agreement"]


def test_input_quick_file_sizes_are_pillows(quick):
    from PIL import Image
    rep = quick["rep"]["input"]
    idx = evaluate.spread(10000, 40)
    px, _, _, _ = _direct(quick["zip"], "test", idx)
    for p in rep["points"]:
        sizes = []
        for im in px:
            buf = io.BytesIO()
            Image.fromarray(im.transpose(1, 2, 0)).save(buf, "JPEG", quality=p["qf"])
            sizes.append(len(buf.getvalue()))
        assert p["full_bytes"] == pytest.approx(np.mean(sizes), abs=1e-9)
        assert p["bytes"] < p["full_bytes"] and p["ratio"] == pytest.approx(6144 / p["bytes"], rel=1e-12)
    assert rep["points"][0]["bytes"] < rep["points"][1]["bytes"]


def test_sparsity_quick_against_a_counter(quick):
    rep = quick["rep"]["sparsity"]
    idx = evaluate.spread(10000, 20)
    px, _, qnet, spec = _direct(quick["zip"], "test", idx)
    x = quantize.pixels_to_int(px, spec)
    acts = {"input": x, **{r.name: r.output for r in engine.run(qnet, x)}}
    for row in rep["layers"]:
        a = acts[row["layer"]]
        ent = []
        for f in a:
            counts = collections.Counter(f.reshape(-1).tolist())
            n = f.size
            ent.append(-sum(c / n * math.log2(c / n) for c in counts.values()))
        assert row["entropy_bits"] == pytest.approx(np.mean(ent), rel=1e-9)
        assert row["nonzero"] == pytest.approx(np.count_nonzero(a) / a.size, rel=1e-12)
    nz = {r["layer"]: r["nonzero"] for r in rep["layers"]}
    assert nz["conv5"] < nz["conv1"] < nz["fc8"]
    assert (quick["out"] / "sparsity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
