"""The MAC array (refimpl/array): pass layout, cycle-level model, array engine, per-pass vectors.

Oracles: a direct per-MAC loop with kernels.acc_step (the contract's accumulator
in plain Python integers) for the model; the fast engine for the array engine;
index arithmetic written out here for the pass layout; hand-derived cycle counts.
"""
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from refimpl import cli, cost, engine, image, kernels, networks, quantize, trained, vectors
from refimpl.array import engine as array_engine
from refimpl.array import model, timing
from refimpl.array.passes import PassGrid
from refimpl.errors import RefimplError
from refimpl.profile import load_profile
from refimpl.schedule import choose_tiling
from refimpl.spec import LayerSpec, layer_shapes

from test_tiled import shape_of, tiled_cases

ROOT = Path(__file__).resolve().parents[1]


def direct_passes(w, x, start, acc_bits, policy):
    """Per MAC, per pass: start, then acc_step(acc, w*x) for k in order (Python ints)."""
    b, n_pass, k_len, rows = w.shape
    cols = x.shape[3]
    end = np.zeros((b, n_pass, rows, cols), np.int64)
    over = np.zeros((b, n_pass, rows, cols), bool)
    for i in range(b):
        for p in range(n_pass):
            for r in range(rows):
                for j in range(cols):
                    acc, o = int(start[i, p, r, j]), False
                    for k in range(k_len):
                        acc, step = kernels.acc_step(acc, int(w[i, p, k, r]) * int(x[i, p, k, j]), acc_bits, policy)
                        o |= step
                    end[i, p, r, j], over[i, p, r, j] = acc, o
    return end, over


@settings(max_examples=25)
@given(st.integers(1, 2), st.integers(1, 4), st.integers(1, 30), st.integers(2, 5), st.integers(2, 5),
       st.sampled_from(["saturate", "wrap"]), st.integers(0, 2 ** 32 - 1))
def test_model_equals_direct_loop_and_counts_the_closed_form(b, n_pass, k_len, rows, cols, policy, seed):
    rng = np.random.default_rng(seed)
    w = rng.integers(-32768, 32768, (b, n_pass, k_len, rows))
    x = rng.integers(-32768, 32768, (b, n_pass, k_len, cols))
    lo, hi = -(1 << 31), (1 << 31) - 1                 # 32-bit accumulator: a few products overflow it
    start = rng.integers(lo, hi + 1, (b, n_pass, rows, cols))
    end, over, cycles = model.run(w, x, start, 32, policy)
    want_end, want_over = direct_passes(w, x, start, 32, policy)
    assert np.array_equal(end, want_end)
    assert np.array_equal(over, want_over)
    # hand-derived: passes every I = max(K, rows + cols) cycles; the last ends K + rows + cols + 1 later
    interval = max(k_len, rows + cols)
    assert cycles == (n_pass - 1) * interval + k_len + rows + cols + 1
    assert cycles == timing.tile_timing(n_pass, k_len, rows, cols).cycles


def test_model_overflow_really_happens_in_the_oracle_test():
    rng = np.random.default_rng(1)
    w = np.full((1, 2, 30, 3), -32768)
    x = np.full((1, 2, 30, 3), -32768)
    start = rng.integers(0, 1 << 30, (1, 2, 3, 3))
    end, over, _ = model.run(w, x, start, 32, "saturate")
    assert over.all() and (end == (1 << 31) - 1).all()          # 30 * 2**30 saturates a 32-bit psum


def test_cycles_hand_derived():
    # smoke conv1 tile 0: 64 channels x 480 pixels -> 6 x 40 = 240 passes of K = 3*5*5 = 75
    t = timing.tile_timing(240, 75, 12, 12)
    assert (t.compute_cycles, t.pass_gap_cycles, t.fill_drain_cycles, t.cycles) == (18000, 0, 25, 18025)
    # K = 5 < 24: passes start every 24 cycles, 3 passes = 2 gaps of 19
    t = timing.tile_timing(3, 5, 12, 12)
    assert (t.interval, t.pass_gap_cycles, t.cycles) == (24, 38, 2 * 24 + 5 + 25)


def test_pass_grid_layout():
    grid = PassGrid(m=14, pixels=27, rows=12, cols=12)           # 2 channel blocks x 3 pixel blocks
    assert (grid.n_cb, grid.n_pb, grid.passes) == (2, 3, 6)
    a = np.arange(14 * 27).reshape(1, 14, 27)
    g = grid.to_grid(a)
    for p in range(6):
        cb, pb = divmod(p, 3)                                     # channel block outer
        for r in range(12):
            for j in range(12):
                ch, q = cb * 12 + r, pb * 12 + j
                assert g[0, p, r, j] == (a[0, ch, q] if ch < 14 and q < 27 else 0)
    assert np.array_equal(grid.from_grid(g), a)
    assert grid.active().sum() == 14 * 27


@pytest.fixture(scope="module")
def cifar():
    spec = networks.get("alexnet-cifar")
    params, _, _ = trained.resolve(spec, None, 0)                  # the shipped trained weights
    pixels = image.load(None, spec.input_shape)
    qnet = quantize.quantize_network(spec, params, pixels)          # formats from this picture (fast)
    x = quantize.pixels_to_int(pixels, spec)
    return qnet, x


def test_array_engine_equals_fast_engine_on_every_alexnet_cifar_layer(cifar):
    qnet, x = cifar
    prof = load_profile("paper-28nm")
    got, arrays = array_engine.run(qnet, x, prof)
    fast = engine.run(qnet, x)
    assert [r.name for r in got] == [l.name for l in qnet.spec.layers]
    shapes = {s.layer.name: s for s in layer_shapes(qnet.spec)}
    for a, f in zip(got, fast):
        assert np.array_equal(a.output, f.output), a.name
        assert a.stats == f.stats, a.name
        if a.name in arrays:
            info = arrays[a.name]
            analytic = cost.mac_layer_analytic(shapes[a.name], prof)
            assert a.counters == analytic                        # the tiled engine's counters
            assert info.compute_cycles == analytic.compute_cycles  # the cost model's compute cycles
            assert info.cycles == info.compute_cycles + info.pass_gap_cycles + info.fill_drain_cycles
            assert info.fill_drain_cycles == 25 * info.tiles
    assert set(arrays) == {"conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"}


@settings(max_examples=25)
@given(tiled_cases())
def test_array_engine_equals_fast_on_random_layers(case):
    layer, in_shape, ql, x, prof = case
    shape = shape_of(layer, in_shape)
    try:
        tiling = choose_tiling(shape, prof)
    except Exception as exc:                      # the buffer can be too small for this layer
        assert "too small for any tile" in str(exc)
        return
    fast, fstats = (engine.conv if layer.kind == "conv" else engine.fc)(x, layer, ql)
    got, stats, counters, info = array_engine.mac_layer(x, shape, ql, prof)
    assert np.array_equal(got, fast)
    assert (stats.acc_overflows, stats.saturations) == (fstats.acc_overflows, fstats.saturations)
    assert counters == cost.mac_layer_analytic(shape, prof, tiling)
    assert info.cycles == info.compute_cycles + info.pass_gap_cycles + info.fill_drain_cycles


def test_array_engine_error_policy_names_the_output():
    layer, in_shape = LayerSpec("t", "conv", 2, kernel=1), (4, 2, 2)
    ql = quantize.QLayer(name="t", kind="conv", in_frac=0, out_frac=0, w_frac=0, b_frac=0, acc_bits=32,
                         overflow="error", rounding="half_up", relu=False,
                         weights=np.full((2, 4, 1, 1), -32768, np.int16), bias=np.zeros(2, np.int16))
    x = np.full((1,) + in_shape, -32768, np.int16)
    x[0, :, 0, 0] = 0                                     # output (0, 0) sums 0; the others 4 * 2**30
    with pytest.raises(engine.AccumulatorOverflow, match="output channel 0, row 0, col 1"):
        array_engine.mac_layer(x, shape_of(layer, in_shape), ql, load_profile("paper-28nm"))


# ---------------------------------------------------------------- per-pass golden vectors
@pytest.fixture(scope="module")
def smoke_passes(tmp_path_factory):
    out = tmp_path_factory.mktemp("passes") / "smoke"
    sd = dataclasses.replace(vectors.load_set("smoke"), passes="all", formats=("npy",))
    vectors.build_set(sd, out)
    return out


def npy(folder, stem):
    return np.load(folder / f"{stem}.npy")


def test_pass_vectors_of_the_smoke_tile(smoke_passes):
    doc = json.loads((smoke_passes / "manifest.json").read_text())
    t = doc["layers"][0]["tiles"][0]
    ps = t["passes"]
    assert (ps["count"], ps["total"], ps["n_channel_blocks"], ps["n_pixel_blocks"], ps["kc"]) == (240, 240, 6, 40, 75)
    assert ps["timing"]["cycles"] == 18025
    f = {k: npy(smoke_passes, v) for k, v in ps["files"].items()}
    weights, inputs = npy(smoke_passes, t["files"]["weights"]), npy(smoke_passes, t["files"]["inputs"])
    psums, outputs = npy(smoke_passes, t["files"]["psums"]), npy(smoke_passes, t["files"]["outputs"])
    bias = npy(smoke_passes, t["files"]["bias"]).astype(np.int64) << t["params"]["bias_shift"]
    wo, k = 32, 5
    rng = np.random.default_rng(0)
    for p in list(range(6)) + list(rng.integers(0, 240, 20)) + [239]:
        cb, pb = divmod(int(p), 40)
        for step in (0, 1, 37, 74):
            c, ky, kx = step // 25, step // 5 % 5, step % 5
            for r in range(12):
                ch = cb * 12 + r
                assert f["w_stream"][p, step, r] == (weights[ch, c, ky, kx] if ch < 64 else 0)
            for j in range(12):
                oy, ox = divmod(pb * 12 + j, wo)
                assert f["x_stream"][p, step, j] == inputs[c, oy + ky, ox + kx]
        for r in range(12):
            for j in range(12):
                ch, q = cb * 12 + r, pb * 12 + j
                real = ch < 64
                assert f["psums_start"][p, r, j] == (bias[ch] if real else 0)
                assert f["psums_end"][p, r, j] == (psums[ch, q // wo, q % wo] if real else 0)
                assert f["outputs"][p, r, j] == (outputs[ch, q // wo, q % wo] if real else 0)


def test_model_on_the_golden_streams_reproduces_the_psums_and_the_cycles(smoke_passes):
    """What the RTL co-simulation checks, here with the Python model: same psums, same cycles."""
    doc = json.loads((smoke_passes / "manifest.json").read_text())
    ps = doc["layers"][0]["tiles"][0]["passes"]
    f = {k: npy(smoke_passes, v) for k, v in ps["files"].items()}
    end, _, cycles = model.run(f["w_stream"][None], f["x_stream"][None], f["psums_start"][None], 40, "saturate")
    assert np.array_equal(end[0], f["psums_end"])
    assert cycles == ps["timing"]["cycles"] == 18025


def test_passes_first_n_and_bad_values(tmp_path):
    sd = dataclasses.replace(vectors.load_set("smoke"), passes="first:3", formats=("npy",))
    vectors.build_set(sd, tmp_path / "g")
    ps = json.loads((tmp_path / "g" / "manifest.json").read_text())["layers"][0]["tiles"][0]["passes"]
    assert (ps["count"], ps["total"]) == (3, 240)
    assert npy(tmp_path / "g", ps["files"]["w_stream"]).shape == (3, 75, 12)
    for bad in ("first:0", "some", "first:x"):
        with pytest.raises(RefimplError, match=f"passes '{bad}' must be none, first:N"):
            vectors.build_set(dataclasses.replace(sd, passes=bad), tmp_path / "h")
    with pytest.raises(RefimplError, match="needs tiles"):
        vectors.build_set(dataclasses.replace(sd, tiles="none"), tmp_path / "h")


def test_golden_without_passes_is_unchanged():
    """The checked-in smoke set has no pass vectors and keeps its bytes (tests/test_golden.py regenerates it)."""
    doc = json.loads((ROOT / "golden" / "smoke" / "manifest.json").read_text())
    assert "passes" not in doc and "tile passes" not in doc["layouts"]
    assert all("passes" not in t for t in doc["layers"][0]["tiles"])


def test_small_buffer_profile_is_paper_28nm_but_its_buffers():
    small = load_profile(str(ROOT / "vectors" / "inputs" / "array-small-buffers.toml"))
    paper = load_profile("paper-28nm")
    assert (small.buffer.feature_kib, small.buffer.weight_kib) == (27, 30)
    same = dataclasses.replace(small, name=paper.name, description=paper.description, source=paper.source,
                               buffer=paper.buffer)
    assert same == paper, "vectors/inputs/array-small-buffers.toml drifted from refimpl/profiles/paper-28nm.toml"
    # AlexNet conv2 on it: 2 input chunks of 24 channels, 2 output rows a tile (as the set's comment derives)
    shape = {s.layer.name: s for s in layer_shapes(networks.get("alexnet"))}["conv2"]
    t = choose_tiling(shape, small)
    assert (t.tm, t.th, t.tk, t.n_m, t.n_h, t.n_k) == (12, 2, 24, 11, 14, 2)


# ---------------------------------------------------------------- command line
def test_run_mode_array_table_and_json(capsys):
    run = ["run", "--network", "alexnet-cifar", "--weights", "synthetic", "--mode", "array", "--until", "conv1"]
    assert cli.main(run + ["--quiet"]) == 0
    out = capsys.readouterr().out
    line = next(l for l in out.splitlines() if l.startswith("conv1") and "38,775" in l)
    # 3 tiles: 6 x 40 + 6 x 40 + 6 x 6 passes (rows 15, 15, 2 of 32 pixels) of K = 75; 25 fill/drain each
    assert line.split() == ["conv1", "3", "516", "38,700", "0", "75", "38,775"]
    assert cli.main(run + ["--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["mode"] == "array"
    assert doc["array"]["layers"][0] == dict(layer="conv1", tiles=3, passes=516, compute_cycles=38700,
                                             pass_gap_cycles=0, fill_drain_cycles=75, cycles=38775)
    assert doc["array"]["units"]["cycles"] == "clock cycles"


def test_cli_bad_mode_and_passes(capsys):
    assert cli.main(["run", "--mode", "systolic"]) == 2
    assert "unknown mode 'systolic' (choose from: fast, tiled, array)" in capsys.readouterr().err
    assert cli.main(["golden", "--set", "smoke", "--passes", "most", "--out", "/nonexistent/x"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["refimpl: error: passes 'most' must be none, first:N (N > 0) or all"]
