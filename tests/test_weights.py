"""JPEG-compressed weights (refimpl/weights/): the 8-bit mapping against a loop,
the JPEG streams against Pillow, the bundle's determinism and damage checks,
the engine on a bundle against the direct loops, the cost model's weight
streams against hand-derived figures, and the weight-decoder golden set."""
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from jpeg_oracle import pillow_jpeg
from refimpl import cost, engine, image, kernels, networks, quantize, trained, vectors
from refimpl.errors import RefimplError
from refimpl.profile import load_profile
from refimpl.spec import LayerSpec, layer_shapes
from refimpl.weights import bundle, codec, load, mapping

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "golden" / "weight-decoder"
SPEC = networks.get("alexnet-cifar")


def refimpl(*argv, cwd=None):
    return subprocess.run([sys.executable, "-m", "refimpl", *map(str, argv)], capture_output=True, text=True,
                          timeout=600, cwd=cwd)


def one_line_error(proc, *words):
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("refimpl: error: "), proc.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])


@pytest.fixture(scope="module")
def trained_params():
    params, _, calib = trained.resolve(SPEC, None)
    return params, calib


@pytest.fixture(scope="module")
def q50(trained_params, tmp_path_factory):
    """A bundle of the shipped trained weights, every layer JPEG q50, and its file."""
    params, _ = trained_params
    b = bundle.build(SPEC, params, {l.name: 50 for l in SPEC.layers if l.weighted})
    path = tmp_path_factory.mktemp("bundle") / "q50.rfwb"
    path.write_bytes(bundle.write(b))
    return b, path


# ---------------------------------------------------------------- mapping and codec
def test_mapping_matches_a_loop_of_exact_fractions():
    rng = np.random.default_rng(5)
    for lo, hi in ((-32768, 32767), (-300, 4000), (7, 7), (-5, -4)):
        m = rng.integers(lo, hi + 1, (9, 13)).astype(np.int16)
        img, mp = mapping.to_image(m)
        back = mapping.from_image(img, mp.lo, mp.hi)
        a, b = int(m.min()), int(m.max())
        assert (mp.lo, mp.hi) == (a, b)
        r = b - a
        for (i, j), w in np.ndenumerate(m):
            # round half up of (w - lo) * 255 / r, and of lo + p * r / 255 (Python integers, floor division)
            p = 0 if r == 0 else (2 * (int(w) - a) * 255 + r) // (2 * r)
            assert img[i, j] == p
            assert back[i, j] == max(-32768, min(32767, a + (2 * p * r + 255) // 510))
        assert img.min() == 0 and (r == 0 or img.max() == 255)


def test_matrix_is_the_engine_order():
    w = np.arange(2 * 3 * 2 * 2, dtype=np.int16).reshape(2, 3, 2, 2)
    m = mapping.to_matrix(w)
    assert m.shape == (2, 12)
    assert m[1, 5] == w[1, 1, 0, 1]                 # column = (in_channel, ky, kx)
    assert np.array_equal(mapping.from_matrix(m, w.shape), w)


@pytest.mark.parametrize("qf", [10, 50, 95])
def test_jpeg_stream_is_pillows_file(qf):
    m = (np.random.default_rng(qf).standard_normal((37, 75)) * 4000).astype(np.int16)
    c = codec.encode_matrix(m, "jpeg", qf)
    img, _ = mapping.to_image(m)
    assert c.data == pillow_jpeg(img, quality=qf, optimize=True)
    assert c.dram_bytes == len(c.data) + codec.SIDE_BYTES


def test_lossless_round_trips_every_value():
    rng = np.random.default_rng(1)
    m = rng.integers(-32768, 32768, (5, 300)).astype(np.int16)
    m[0, :3] = (-32768, 32767, 0)
    c = codec.encode_matrix(m, "lossless")
    assert c.predictor in ("none", "left")
    assert np.array_equal(codec.decode_matrix(c), m)


# ---------------------------------------------------------------- bundle
def test_bundle_bytes_are_deterministic_and_round_trip(trained_params, q50):
    params, _ = trained_params
    b, path = q50
    again = bundle.write(bundle.build(SPEC, params, {l.name: 50 for l in SPEC.layers if l.weighted}))
    assert again == path.read_bytes()
    back = bundle.read(again, "x")
    assert bundle.write(back) == again
    for e, f in zip(b.layers, back.layers):
        assert e.code == f.code and e.w_frac == f.w_frac and np.array_equal(e.bias, f.bias)


def test_a_damaged_bundle_is_refused(q50, tmp_path):
    _, path = q50
    data = path.read_bytes()
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x10
    with pytest.raises(RefimplError, match="damaged weight bundle .CRC-32"):
        bundle.read(bytes(flipped), "f")
    with pytest.raises(RefimplError, match="damaged weight bundle"):
        bundle.read(data[:-100], "t")
    with pytest.raises(RefimplError, match="not a refimpl weight bundle"):
        bundle.read(b"PK\x03\x04" + data[4:], "m")
    bad = tmp_path / "bad.rfwb"
    bad.write_bytes(bytes(flipped))
    one_line_error(refimpl("run", "--network", "alexnet-cifar", "--weights", bad), str(bad), "CRC-32")
    one_line_error(refimpl("weights", "info", bad), "damaged weight bundle")
    one_line_error(refimpl("cost", "--network", "alexnet-cifar", "--weights", bad), "damaged weight bundle")
    one_line_error(refimpl("run", "--network", "alexnet", "--weights", path), "not 'alexnet'")


def test_engine_on_a_bundle_equals_the_direct_loops_on_the_decoded_weights(q50):
    """The MAC array gets exactly the decoder's int16 weights, and the fast engine's
    outputs on them are the direct loops' (two output channels of each conv, one per
    group, and 24 outputs of each fc, to keep the Python loops short)."""
    b, path = q50
    params, _, calib = load.resolve(SPEC, str(path))
    qnet = quantize.quantize_network(SPEC, params, calib)
    ints = bundle.decoded(b)
    pixels = image.load(None, SPEC.input_shape)
    results = engine.run(qnet, quantize.pixels_to_int(pixels, SPEC))
    for r, ql in zip(results, qnet.layers):
        layer = SPEC.layer(r.name)
        if not layer.weighted:
            continue
        assert ql.weights.dtype == np.int16 and np.array_equal(ql.weights, ints[r.name]), r.name
        assert ql.w_frac == b.layer(r.name).w_frac
        x = r.input[0]
        if layer.kind == "fc":
            want, _, _ = kernels.fc_direct(x, ql.weights[:24], ql.bias[:24], ql)
            assert np.array_equal(r.output[0, :24], want), r.name
            continue
        cg = x.shape[0] // layer.groups
        mg = layer.out_channels // layer.groups
        one = LayerSpec(layer.name, "conv", 1, kernel=layer.kernel, stride=layer.stride, pad=layer.pad,
                        relu=layer.relu)
        for g in range(layer.groups):
            c = g * mg + (7 % mg)
            want, _, _ = kernels.conv_direct(x[g * cg:(g + 1) * cg], ql.weights[c:c + 1], ql.bias[c:c + 1], one, ql)
            assert np.array_equal(r.output[0, c], want[0]), (r.name, c)


def test_a_lossless_bundle_runs_exactly_like_its_source_weights():
    """Lossless weights: every layer's output equals the source weights' run, bit for bit
    (a small conv/pool/fc network with seeded weights, so the test stays short)."""
    from refimpl.spec import NetworkSpec
    tiny = NetworkSpec("tiny", (3, 16, 16), (LayerSpec("c1", "conv", 8, kernel=3, pad=1, relu=True),
                                             LayerSpec("p1", "maxpool", kernel=2, stride=2),
                                             LayerSpec("c2", "conv", 6, kernel=3, pad=1, groups=2, relu=True),
                                             LayerSpec("f1", "fc", 10)), input_mean=(120.0, 110.0, 100.0))
    params = quantize.synthetic_params(tiny, 4)
    pixels = np.random.default_rng(2).integers(0, 256, (3, 3, 16, 16)).astype(np.uint8)
    b = bundle.read(bundle.write(bundle.build(tiny, params, {"c1": "lossless", "c2": "lossless", "f1": "lossless"})))
    x = quantize.pixels_to_int(pixels, tiny)
    a = engine.run(quantize.quantize_network(tiny, params, pixels), x)
    c = engine.run(quantize.quantize_network(tiny, bundle.to_params(b, tiny), pixels), x)
    assert all(np.array_equal(r.output, s.output) for r, s in zip(a, c))
    assert all(e.code.codec == "lossless" for e in b.layers)


def test_a_quality_that_changes_the_format_is_refused(trained_params):
    params, _ = trained_params
    wq, frac = bundle.quantize_layer(params, "conv1")
    with pytest.raises(RefimplError, match="would change w_frac"):
        bundle.encode_layer(wq, frac, "conv1", 1)


# ---------------------------------------------------------------- cost model
def test_cost_streams_against_the_profile_figures_they_stand_for():
    """A stream of 2 bytes a weight is the uncompressed profile, record for record (but for
    the int16 mapping's energy, which only a compressed stream pays); one of
    1 byte in 2 of that (every layer has an even weight count) moves the bytes and takes
    the cycles of weight_compression = 4, tile by tile the same ceiling."""
    import dataclasses
    prof = load_profile("paper-28nm")
    shapes = {s.layer.name: s for s in layer_shapes(SPEC)}
    words = {n: math.prod(s.weight_shape) for n, s in shapes.items() if s.weight_shape}
    raw = cost.network_cost(SPEC, prof, weight_streams={n: dict(dram_bytes=2 * w, weights=w) for n, w in words.items()})
    base = cost.network_cost(SPEC, prof)
    for r, s in zip(raw["layers"], base["layers"]):           # the same but the decoder's int16 mapping (2 MACs)
        assert {k: r[k] for k in s if k != "energy_pj"} == {k: v for k, v in s.items() if k != "energy_pj"}
        extra = r["decoded_weights"] * 2 * prof.energy.e_mac_pj
        assert r["energy_pj"]["weight_decoder"] == pytest.approx(s["energy_pj"]["weight_decoder"] + extra)
        assert r["energy_pj"]["dram"] == s["energy_pj"]["dram"]
    four = dataclasses.replace(prof, jpeg=dataclasses.replace(prof.jpeg, weight_compression=4.0))
    c4 = cost.network_cost(SPEC, four)
    s4 = cost.network_cost(SPEC, prof, weight_streams={n: cost.WeightStream(w // 2, w) for n, w in words.items()})
    for r, s in zip(s4["layers"], c4["layers"]):
        assert r["dram_bytes"] == s["dram_bytes"] and r["cycles"] == s["cycles"], r["name"]


def test_cost_charges_the_bundle_bytes_and_the_decoder(q50):
    b, _ = q50
    prof = load_profile("paper-28nm")
    rep = cost.network_cost(SPEC, prof, weight_streams=bundle.cost_figures(b))
    for r in rep["layers"]:
        if r["type"] not in ("conv", "fc"):
            continue
        e = b.layer(r["name"])
        n = e.code.rows * e.code.cols
        assert r["decoded_weights"] % n == 0
        loads = r["decoded_weights"] // n            # passes over the weights in one frame
        tiles = r["tiles"]
        assert loads * e.code.dram_bytes <= r["weight_dram_bytes"] < loads * e.code.dram_bytes + tiles
        # JPEG decoder 2.5 pJ a pixel + the int16 mapping, 2 MACs of 0.575 pJ (paper-28nm.toml)
        assert r["energy_pj"]["weight_decoder"] == pytest.approx(r["decoded_weights"] * (2.5 + 2 * 0.575))
    ll = cost.network_cost(SPEC, prof, weight_streams={"fc6": cost.WeightStream(1000, 589824, "lossless")})
    r = next(x for x in ll["layers"] if x["name"] == "fc6")
    assert r["energy_pj"]["weight_decoder"] == pytest.approx(589824 * prof.jpeg.lossless_pj_per_value / 2)
    assert ll["total"]["energy_pj"]["total"] == pytest.approx(sum(x["energy_pj"]["total"] for x in ll["layers"]))


# ---------------------------------------------------------------- CLI and golden vectors
def test_compress_info_and_cost_on_the_command_line(tmp_path):
    out = [tmp_path / "a.rfwb", tmp_path / "b.rfwb"]
    for o in out:
        p = refimpl("weights", "compress", "--network", "alexnet-cifar", "--weights", "synthetic", "--qf", "40",
                    "--out", o)
        assert p.returncode == 0, p.stderr
    assert out[0].read_bytes() == out[1].read_bytes()
    info = json.loads(refimpl("weights", "info", out[0], "--format", "json").stdout)
    b = bundle.read_file(out[0])
    assert [r["layer"] for r in info["layers"]] == [e.name for e in b.layers]
    for r, e in zip(info["layers"], b.layers):
        assert r["dram_bytes"] == len(e.code.data) + 11 and r["raw_bytes"] == 2 * e.code.rows * e.code.cols
        assert r["qf"] == 40
    p = refimpl("cost", "--network", "alexnet-cifar", "--weights", out[0])
    assert p.returncode == 0 and "weight DRAM bytes" in p.stdout, p.stderr
    one_line_error(refimpl("weights", "compress", "--qf", "101", "--out", tmp_path / "c"), "101")
    one_line_error(refimpl("weights", "compress", "--qf", "50", "--lossless", "--out", tmp_path / "c"), "exclude")
    one_line_error(refimpl("weights", "info", tmp_path / "none.rfwb"), "no such weight bundle")
    one_line_error(refimpl("weights"), "missing action")


def test_checked_in_weight_decoder_set_regenerates_byte_for_byte(tmp_path):
    vectors.build_set(vectors.load_set("weight-decoder"), tmp_path / "s")
    tree = lambda f: {p.relative_to(f).as_posix(): p.read_bytes() for p in sorted(f.rglob("*")) if p.is_file()}
    want, got = tree(GOLDEN), tree(tmp_path / "s")
    assert sorted(got) == sorted(want)
    assert [k for k in want if want[k] != got[k]] == []


def read_hex(path: Path, bits: int, shape) -> np.ndarray:
    v = np.array([int(l, 16) for l in path.read_text().splitlines() if l and not l.startswith("//")], np.int64)
    return (np.where(v >= 1 << (bits - 1), v - (1 << bits), v) if bits > 8 else v).reshape(shape)


def test_weight_decoder_vectors_against_pillow_and_the_mapping():
    """Each entry: source weights = the quantizer's; the stream = Pillow's file of the
    mapped image; the decoded image and weights = refimpl's decoder; the weights = the
    loop formula of the mapping on the image."""
    from PIL import Image
    import io
    doc = json.loads((GOLDEN / "manifest.json").read_text())
    params = quantize.synthetic_params(SPEC, 0)
    for e in doc["weight_decoder"]:
        rows, cols = e["matrix"]
        d = GOLDEN / "weight_decoder" / e["name"]
        src = read_hex(d / "source_weights.hex", 16, (rows, cols))
        wq, frac = bundle.quantize_layer(params, e["layer"])
        assert np.array_equal(src, mapping.to_matrix(wq)) and frac == e["w_frac"]
        got = read_hex(d / "weights.hex", 16, (rows, cols))
        if e["codec"] == "jpeg":
            img = read_hex(d / "image.hex", 8, (rows, cols))
            stream = (d / "stream.jpg").read_bytes()
            mapped, _ = mapping.to_image(src.astype(np.int16))
            assert stream == pillow_jpeg(mapped, quality=e["qf"], optimize=True)
            assert np.asarray(Image.open(io.BytesIO(stream))).shape == (rows, cols)
            lo, hi = e["mapping"]["lo"], e["mapping"]["hi"]
            assert np.array_equal(got, np.clip(lo + (img * (hi - lo) * 2 + 255) // 510, -32768, 32767))
        else:
            assert np.array_equal(got, src)


def test_search_keeps_its_budget_and_reuses_its_cache(tmp_path):
    """The search on a small network and 60 seeded images: the chosen combination's
    loss, measured again here with the engine, is the recorded one and within the
    budget; a second run from the sensitivity cache gives the same choice."""
    from refimpl.spec import NetworkSpec
    from refimpl.weights import search
    tiny = NetworkSpec("tiny", (3, 16, 16), (LayerSpec("c1", "conv", 8, kernel=3, pad=1, relu=True),
                                             LayerSpec("p1", "maxpool", kernel=2, stride=2),
                                             LayerSpec("f1", "fc", 10)), input_mean=(120.0, 110.0, 100.0))
    params = quantize.synthetic_params(tiny, 9)
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (60, 3, 16, 16)).astype(np.uint8)
    calib = pixels[:4]
    base = quantize.quantize_network(tiny, params, calib)
    x = quantize.pixels_to_int(pixels, tiny)
    labels = np.argmax(engine.run(base, x)[-1].output.reshape(60, -1), axis=1)      # 100 % top-1 uncompressed
    labels[:6] = (labels[:6] + 1) % 10
    cache = tmp_path / "sens.json"
    out = search.run_search(tiny, params, calib, pixels, labels, budget=5.0, grid=(90, 50, 20, 5), cache=cache,
                            refine=2)
    b = bundle.build(tiny, params, out["choices"], codes=out["codes"])
    q = quantize.quantize_network(tiny, bundle.to_params(b, tiny), calib)
    hits = int(np.sum(np.argmax(engine.run(q, x)[-1].output.reshape(60, -1), axis=1) == labels))
    assert 100 * (54 - hits) / 60 == pytest.approx(out["record"]["loss_pts"]) and out["record"]["loss_pts"] <= 5.0
    assert json.loads(cache.read_text())["key"]["budget_pts"] == 5.0
    again = search.run_search(tiny, params, calib, pixels, labels, budget=5.0, grid=(90, 50, 20, 5), cache=cache,
                              refine=2)
    assert again["choices"] == out["choices"] and again["record"] == out["record"]
    assert search.validation_indices(50000, 2000)[:3].tolist() == [12, 37, 62]       # never a multiple of 250


def test_search_needs_cifar_networks():
    one_line_error(refimpl("weights", "compress", "--network", "alexnet", "--out", "x.rfwb"), "--qf or --lossless")
