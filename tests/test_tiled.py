"""Tiled engine: identical outputs to the fast engine; executed counters equal the analytic formula."""
import copy

import numpy as np
import pytest
from hypothesis import given, strategies as st

from refimpl import cost, engine, image, networks, quantize, tiled
from refimpl.profile import load_profile, parse_profile
from refimpl.quantize import QLayer
from refimpl.schedule import choose_tiling, tiles
from refimpl.spec import LayerSpec, NetworkSpec, layer_shapes

from test_profile import PAPER_DOC


def small_profile(feature_kib, weight_kib, double=True, compression=1.0):
    doc = copy.deepcopy(PAPER_DOC)
    doc["buffer"].update(feature_kib=feature_kib, weight_kib=weight_kib, double_buffered=double)
    doc["jpeg"]["weight_compression"] = compression
    return parse_profile(doc, "test profile")


@st.composite
def tiled_cases(draw):
    groups = draw(st.integers(1, 2))
    cg, mg = draw(st.integers(1, 20)), draw(st.integers(1, 30))
    k = draw(st.integers(1, 3))
    pad = draw(st.integers(0, 1))
    h, w = draw(st.integers(k, 9)), draw(st.integers(k, 9))
    stride = draw(st.integers(1, 2))
    fc = draw(st.booleans())
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)
    if fc:
        layer = LayerSpec("t", "fc", groups * mg, relu=draw(st.booleans()))
        in_shape = (groups * cg, h, w)
        wshape = (groups * mg, groups * cg * h * w)
    else:
        layer = LayerSpec("t", "conv", groups * mg, kernel=k, stride=stride, pad=pad, groups=groups,
                          relu=draw(st.booleans()))
        in_shape = (groups * cg, h, w)
        wshape = (groups * mg, cg, k, k)
    full = draw(st.booleans())
    lim = 32767 if full else 200
    ql = QLayer(name="t", kind=layer.kind, in_frac=4, out_frac=draw(st.integers(0, 12)), w_frac=10, b_frac=8,
                acc_bits=draw(st.sampled_from([32, 40])), overflow=draw(st.sampled_from(["saturate", "wrap"])),
                rounding=draw(st.sampled_from(["half_up", "half_even", "truncate"])), relu=layer.relu,
                weights=rng.integers(-lim, lim + 1, wshape).astype(np.int16),
                bias=rng.integers(-lim, lim + 1, wshape[0]).astype(np.int16))
    x = rng.integers(-lim, lim + 1, (draw(st.integers(1, 2)),) + in_shape).astype(np.int16)
    prof = small_profile(draw(st.sampled_from([0.5, 1, 2, 8, 64])), draw(st.sampled_from([0.25, 0.5, 2, 64])),
                         draw(st.booleans()), draw(st.sampled_from([1.0, 1.5, 3.0])))
    return layer, in_shape, ql, x, prof


def shape_of(layer, in_shape):
    net = NetworkSpec("t", in_shape, (layer,))
    return layer_shapes(net)[0]


@given(tiled_cases())
def test_tiled_equals_fast_and_counts_equal_analytic(case):
    layer, in_shape, ql, x, prof = case
    shape = shape_of(layer, in_shape)
    try:
        choose_tiling(shape, prof)
    except Exception as exc:                      # the buffer can be too small for this layer
        assert "too small for any tile" in str(exc)
        return
    fast, fstats = (engine.conv if layer.kind == "conv" else engine.fc)(x, layer, ql)
    got, tstats, counters = tiled.mac_layer(x, shape, ql, prof)
    assert np.array_equal(got, fast)
    assert (tstats.acc_overflows, tstats.saturations) == (fstats.acc_overflows, fstats.saturations)
    assert counters == cost.mac_layer_analytic(shape, prof)
    assert counters.macs == shape.macs            # the spec's MAC count, derived independently


def test_hook_sees_every_tile_in_order():
    layer = LayerSpec("c", "conv", 30, kernel=3, pad=1, groups=2)
    shape = shape_of(layer, (16, 6, 6))
    prof = small_profile(2, 0.5)          # 128 weight words: one input channel per chunk (12*1*9 = 108)
    rng = np.random.default_rng(0)
    ql = QLayer(name="c", kind="conv", in_frac=4, out_frac=6, w_frac=10, b_frac=8,
                weights=rng.integers(-99, 99, (30, 8, 3, 3)).astype(np.int16),
                bias=rng.integers(-99, 99, 30).astype(np.int16))
    x = rng.integers(-99, 99, (1, 16, 6, 6)).astype(np.int16)
    seen = []
    out, _, _ = tiled.mac_layer(x, shape, ql, prof, hook=seen.append)
    sched = list(tiles(shape, choose_tiling(shape, prof)))
    assert [d.tile for d in seen] == sched
    # 15 output channels per group in tiles of 12 -> 2; one input channel per chunk -> 8; the psum
    # spill (12 ch * 6 px * (1 + 3) words per row) lets 512 feature words hold one output row -> 6
    t = choose_tiling(shape, prof)
    assert (t.tm, t.th, t.tk, t.n_m, t.n_h, t.n_k) == (12, 1, 1, 2, 6, 8)
    assert len(sched) == 2 * 2 * 6 * 8
    for d in seen:
        t = d.tile
        assert d.weights.shape == (t.m1 - t.m0, t.c1 - t.c0, 3, 3)
        assert d.psums.shape == (1, t.m1 - t.m0, t.y1 - t.y0, 6)
        if t.last_chunk:
            assert np.array_equal(d.outputs, out[:, t.m0:t.m1, t.y0:t.y1])
        else:
            assert d.outputs is None
        # the tile's psums are the exact int64 sum over its channels so far plus the bias
        g = t.group
        xp = np.pad(x.astype(np.int64), ((0, 0), (0, 0), (1, 1), (1, 1)))
        lo = g * 8
        acc = np.zeros((t.m1 - t.m0, t.y1 - t.y0, 6), np.int64)
        for ci in range(lo, t.c1):
            for ky in range(3):
                for kx in range(3):
                    acc += ql.weights[t.m0:t.m1, ci - lo, ky, kx, None, None].astype(np.int64) * \
                        xp[0, ci, t.y0 + ky:t.y1 + ky, kx:kx + 6][None]
        acc += (ql.bias[t.m0:t.m1].astype(np.int64) << 6)[:, None, None]       # b_frac 8 -> acc_frac 14
        assert np.array_equal(d.psums[0], acc)


def test_hand_derived_counters():
    """Cin 2, Cout 13, 4x4 input, 3x3 pad 1, one tile (the paper profile's buffers hold it all):
    passes = ceil(13/12) * ceil(16/12) = 4, K = 2*9 = 18: compute 72 cycles; MACs 13*16*18 = 3744.
    DRAM words: input 2*4*4 = 32, weights 13*18 = 234, outputs 13*16 = 208 -> 948 bytes, 64 B/cycle
    -> 15 cycles; the decoder passes 234 weights at 1/cycle -> 234; first tile: 72 + 234 = 306 cycles."""
    shape = shape_of(LayerSpec("c", "conv", 13, kernel=3, pad=1), (2, 4, 4))
    c = cost.mac_layer_analytic(shape, load_profile())
    assert (c.tiles, c.macs, c.compute_cycles, c.dram_bytes, c.cycles) == (1, 3744, 72, 948, 306)
    assert c.mac_slots == 72 * 144
    # operand fetches: K * (ceil(p/12) * m + ceil(m/12) * p) = 18 * (2*13 + 2*16) = 1044, + 208 outputs drained
    assert c.buffer_reads == 1044 + 208
    assert c.buffer_writes == 32 + 234 + 208


@pytest.mark.parametrize("net, until", [("alexnet", None), ("alexnet-cifar", None), ("vgg16", "pool1")])
def test_real_networks_tiled_equals_fast(net, until):
    spec = networks.get(net)
    prof = load_profile()
    pixels = image.load(None, spec.input_shape)
    params = quantize.synthetic_params(spec, 2)
    qnet = quantize.quantize_network(spec, params, pixels)
    x = quantize.pixels_to_int(pixels, spec)
    fast = engine.run(qnet, x, until=until)
    slow = tiled.run(qnet, x, prof, until=until)
    shapes = layer_shapes(spec)
    for f, t, s in zip(fast, slow, shapes):
        assert np.array_equal(f.output, t.output), f.name
        assert f.stats == t.stats, f.name
        assert t.counters == cost.layer_counters(s, prof), f.name
