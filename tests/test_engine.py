"""Fast engine == direct-loop kernels, bit for bit, on random layers (hypothesis)
and on every layer of the shipped networks against an independent int64 path."""
import unittest.mock as mock

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from refimpl import engine, fixedpoint as fx, image, kernels, networks, quantize
from refimpl.errors import RefimplError
from refimpl.quantize import QLayer
from refimpl.spec import LayerSpec, layer_shapes


def ints(rng, shape, bits, full):
    lo, hi = fx.int_range(bits)
    if full:
        return rng.integers(lo, hi + 1, shape)
    return rng.integers(-300, 301, shape)


@st.composite
def conv_cases(draw):
    groups = draw(st.integers(1, 2))
    cg = draw(st.integers(1, 3))
    mg = draw(st.integers(1, 3))
    k = draw(st.integers(1, 3))
    pad = draw(st.integers(0, 1))
    h = draw(st.integers(max(1, k - 2 * pad), 6))
    w = draw(st.integers(max(1, k - 2 * pad), 6))
    stride = draw(st.integers(1, 2))
    frames = draw(st.integers(1, 2))
    per_channel = draw(st.booleans())
    bias_bits = draw(st.sampled_from([16, 32]))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    full = draw(st.booleans())
    rng = np.random.default_rng(seed)
    in_frac = draw(st.integers(0, 8))
    w_frac = rng.integers(0, 16, groups * mg) if per_channel else draw(st.integers(0, 16))
    acc_frac_min = in_frac + int(np.min(w_frac))
    b_frac = draw(st.integers(max(0, acc_frac_min - 8), acc_frac_min + 3))   # both shift directions
    ql = QLayer(name="t", kind="conv", in_frac=in_frac, out_frac=draw(st.integers(-2, 20)),
                w_frac=w_frac, b_frac=b_frac, bias_bits=bias_bits,
                acc_bits=draw(st.sampled_from([32, 33, 40])),
                overflow=draw(st.sampled_from(fx.OVERFLOW_POLICIES)),
                rounding=draw(st.sampled_from(fx.ROUNDING_MODES)), relu=draw(st.booleans()),
                weights=ints(rng, (groups * mg, cg, k, k), 16, full).astype(np.int16),
                bias=ints(rng, (groups * mg,), bias_bits, full).astype(np.int32 if bias_bits == 32 else np.int16))
    layer = LayerSpec("t", "conv", groups * mg, kernel=k, stride=stride, pad=pad, groups=groups, relu=ql.relu)
    x = ints(rng, (frames, groups * cg, h, w), 16, full).astype(np.int16)
    return layer, ql, x


def oracle(fn, frames, *args):
    outs, over, sat = [], 0, 0
    for f in frames:
        y, o, s = fn(f, *args)
        outs.append(y)
        over += o
        sat += s
    return np.stack(outs), over, sat


@given(conv_cases())
def test_conv_matches_direct_loop(case):
    layer, ql, x = case
    try:
        want, over, sat = oracle(kernels.conv_direct, x, ql.weights, ql.bias, layer, ql)
    except RefimplError:
        assert ql.overflow == "error"
        with pytest.raises(RefimplError, match="accumulator overflow"):
            engine.conv(x, layer, ql)
        return
    got, stats = engine.conv(x, layer, ql)
    assert got.dtype == np.int16
    assert np.array_equal(got, want)
    assert (stats.acc_overflows, stats.saturations) == (over, sat)


@given(st.integers(1, 40), st.integers(1, 5), st.integers(1, 3), st.booleans(),
       st.sampled_from(fx.ROUNDING_MODES), st.sampled_from(["saturate", "wrap"]), st.integers(0, 2 ** 32 - 1))
def test_fc_matches_direct_loop(nin, nout, frames, full, rounding, overflow, seed):
    rng = np.random.default_rng(seed)
    ql = QLayer(name="f", kind="fc", in_frac=5, out_frac=4, w_frac=12, b_frac=10, acc_bits=34,
                overflow=overflow, rounding=rounding, relu=bool(seed & 1),
                weights=ints(rng, (nout, nin), 16, full).astype(np.int16),
                bias=ints(rng, (nout,), 16, full).astype(np.int16))
    x = ints(rng, (frames, nin, 1, 1), 16, full).astype(np.int16)
    want, over, sat = oracle(kernels.fc_direct, x, ql.weights, ql.bias, ql)
    got, stats = engine.fc(x, LayerSpec("f", "fc", nout), ql)
    assert np.array_equal(got, want)
    assert (stats.acc_overflows, stats.saturations) == (over, sat)


@given(st.integers(1, 3), st.integers(1, 7), st.integers(1, 7), st.integers(1, 3), st.integers(1, 3),
       st.integers(0, 1), st.integers(0, 2 ** 32 - 1))
def test_maxpool_matches_direct_loop(c, h, w, k, stride, pad, seed):
    if k > min(h, w) + 2 * pad or pad >= k:
        return
    x = np.random.default_rng(seed).integers(-32768, 32768, (2, c, h, w)).astype(np.int16)
    layer = LayerSpec("p", "maxpool", kernel=k, stride=stride, pad=pad)
    got, _ = engine.maxpool(x, layer)
    assert np.array_equal(got, np.stack([kernels.maxpool_direct(f, layer) for f in x]))


@given(st.integers(1, 9), st.sampled_from([1, 3, 5]), st.integers(0, 12), st.sampled_from(fx.ROUNDING_MODES),
       st.booleans(), st.integers(0, 2 ** 32 - 1))
def test_lrn_matches_direct_loop(c, size, frac, rounding, full, seed):
    rng = np.random.default_rng(seed)
    x = ints(rng, (1, c, 3, 4), 16, full).astype(np.int16)
    layer = LayerSpec("n", "lrn", lrn_size=size, lrn_alpha=1e-4, lrn_beta=0.75, lrn_k=1.0)
    ql = QLayer(name="n", kind="lrn", in_frac=frac, out_frac=frac, rounding=rounding)
    got, stats = engine.lrn(x, layer, ql)
    want, sat = kernels.lrn_direct(x[0], layer, ql)
    assert np.array_equal(got[0], want)
    assert stats.saturations == sat


def test_int_path_equals_float_path(monkeypatch):
    rng = np.random.default_rng(7)
    w = rng.integers(-32768, 32768, (8, 5000)).astype(np.float64)
    cols = rng.integers(-32768, 32768, (2, 5000, 9)).astype(np.float64)
    fast = engine.products_sum(w, cols)
    monkeypatch.setattr(engine, "FLOAT_EXACT_MAX_K", 0)
    exact = engine.products_sum(w, cols)
    assert np.array_equal(fast, exact)
    assert np.array_equal(exact, np.einsum("mk,nkp->nmp", w.astype(np.int64), cols.astype(np.int64)))


def test_overflow_error_names_the_output():
    ql = QLayer(name="conv9", kind="fc", in_frac=0, out_frac=0, acc_bits=32, overflow="error",
                weights=np.full((2, 8), 32767, np.int16), bias=np.zeros(2, np.int16))
    with pytest.raises(RefimplError, match=r"layer conv9: 32-bit accumulator overflow .* output 0"):
        engine.fc(np.full((1, 8, 1, 1), 32767, np.int16), LayerSpec("conv9", "fc", 2), ql)


# ---------------------------------------------------------------- real networks
def int64_reference(layer, ql, x):
    """Independent exact path: int64 shifted-window sums, no im2col, no float."""
    if layer.kind == "fc":
        acc = x.reshape(x.shape[0], -1).astype(np.int64) @ ql.weights.astype(np.int64).T
        acc = acc[:, :, None]
    else:
        n, c, h, w = x.shape
        k, s, p, g = layer.kernel, layer.stride, layer.pad, layer.groups
        xp = np.pad(x.astype(np.int64), ((0, 0), (0, 0), (p, p), (p, p)))
        ho, wo = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
        wt = ql.weights.astype(np.int64)
        mg, cg = wt.shape[0] // g, c // g
        acc = np.zeros((n, wt.shape[0], ho, wo), np.int64)
        for gi in range(g):
            for ky in range(k):
                for kx in range(k):
                    patch = xp[:, gi * cg:(gi + 1) * cg, ky:ky + s * ho:s, kx:kx + s * wo:s]
                    acc[:, gi * mg:(gi + 1) * mg] += np.einsum("mc,nchw->nmhw", wt[gi * mg:(gi + 1) * mg, :, ky, kx], patch)
        acc = acc.reshape(n, wt.shape[0], -1)
    bias = np.array([kernels.shift_round(int(b), ql.b_frac - ql.in_frac - int(ql.w_frac), ql.rounding) for b in ql.bias])
    acc = acc + bias[None, :, None]
    y, _ = fx.requantize(acc, ql.shift, ql.rounding, ql.relu)
    return y


@pytest.mark.parametrize("net", ["alexnet", "alexnet-cifar"])
def test_network_layers_match_int64_reference(net):
    spec = networks.get(net)
    pixels = image.load(None, spec.input_shape)
    qnet = quantize.quantize_network(spec, quantize.synthetic_params(spec, 3), pixels)
    results = engine.run(qnet, quantize.pixels_to_int(pixels, spec))
    shapes = {s.layer.name: s for s in layer_shapes(spec)}
    for r, ql in zip(results, qnet.layers):
        layer = spec.layer(r.name)
        if layer.weighted:
            assert r.stats.acc_overflows == 0
            want = int64_reference(layer, ql, r.input).reshape(r.output.shape)
            assert np.array_equal(r.output, want), r.name
        assert r.output.shape[1:] == shapes[r.name].out_shape


def test_batch_equals_single_frames():
    spec = networks.get("alexnet-cifar")
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (3,) + spec.input_shape).astype(np.uint8)
    qnet = quantize.quantize_network(spec, quantize.synthetic_params(spec, 1), pixels)
    batch = engine.run(qnet, quantize.pixels_to_int(pixels, spec))
    for i in range(3):
        single = engine.run(qnet, quantize.pixels_to_int(pixels[i], spec))
        for b, s in zip(batch, single):
            assert np.array_equal(b.output[i], s.output[0]), b.name


def test_run_rejects_bad_input():
    spec = networks.get("alexnet-cifar")
    pixels = image.load(None, spec.input_shape)
    qnet = quantize.quantize_network(spec, quantize.synthetic_params(spec, 0), pixels)
    with pytest.raises(RefimplError, match="input must be int16"):
        engine.run(qnet, np.zeros((3, 31, 32), np.int16))
    with pytest.raises(RefimplError, match="input must be int16"):
        engine.run(qnet, np.zeros((3, 32, 32), np.int32))


# ---------------------------------------------------------------- overflow replay and naming
@pytest.mark.parametrize("bits", [32, 33, 34])
def test_saturating_walk_equals_step_loop(bits):
    """Long walks (K = 300, several WALK_BLOCKs) that clamp at one bound, at both, and at
    both within one block, against acc_step one product at a time."""
    rng = np.random.default_rng(bits)
    lo, hi = fx.int_range(bits)
    prods = rng.integers(-(1 << 30), (1 << 30) + 1, (60, 300))
    prods[:20] = np.abs(prods[:20])                  # drift up: pinned at hi
    prods[20:30, ::2] = -(1 << 30)                   # swings of 2**31 every step: both bounds
    prods[20:30, 1::2] = 1 << 30
    start = rng.integers(lo, hi + 1, 60)
    got, over = engine._saturating_walk(start, prods, bits)
    for u in range(60):
        acc, o = int(start[u]), False
        for p in prods[u]:
            acc, ov = kernels.acc_step(acc, int(p), bits, "saturate")
            o |= ov
        assert (int(got[u]), bool(over[u])) == (acc, o), u


@pytest.mark.parametrize("overflow", fx.OVERFLOW_POLICIES)
def test_long_reductions_match_direct_loop(overflow):
    """K = 300 (fc) and 180 (conv, 20 channels x 3 x 3): several screen and walk blocks."""
    rng = np.random.default_rng(len(overflow))
    for bits in (32, 34, 36):
        ql = QLayer(name="f", kind="fc", in_frac=5, out_frac=4, w_frac=12, b_frac=10, acc_bits=bits,
                    overflow=overflow, weights=rng.integers(-32768, 32768, (6, 300)).astype(np.int16),
                    bias=rng.integers(-32768, 32768, 6).astype(np.int16))
        x = rng.integers(-32768, 32768, (2, 300, 1, 1)).astype(np.int16)
        x[1] = np.abs(x[1])
        try:
            want, over, sat = oracle(kernels.fc_direct, x, ql.weights, ql.bias, ql)
        except RefimplError:
            with pytest.raises(RefimplError, match="accumulator overflow"):
                engine.fc(x, LayerSpec("f", "fc", 6), ql)
            continue
        got, stats = engine.fc(x, LayerSpec("f", "fc", 6), ql)
        assert np.array_equal(got, want) and (stats.acc_overflows, stats.saturations) == (over, sat)
    layer = LayerSpec("c", "conv", 4, kernel=3, pad=1)
    ql = QLayer(name="c", kind="conv", in_frac=5, out_frac=10, w_frac=12, b_frac=10, acc_bits=34,
                overflow=overflow, weights=rng.integers(-32768, 32768, (4, 20, 3, 3)).astype(np.int16),
                bias=rng.integers(-32768, 32768, 4).astype(np.int16))
    x = rng.integers(-32768, 32768, (1, 20, 4, 5)).astype(np.int16)
    try:
        want, over, sat = oracle(kernels.conv_direct, x, ql.weights, ql.bias, layer, ql)
    except RefimplError:
        assert overflow == "error"
        return
    got, stats = engine.conv(x, layer, ql)
    assert np.array_equal(got, want) and (stats.acc_overflows, stats.saturations) == (over, sat)


def first_overflow_direct(x, layer, ql):
    """The direct loop's 'error' message, frame by frame, with the frame named as the engines do."""
    for f, frame in enumerate(x):
        try:
            kernels.conv_direct(frame, ql.weights, ql.bias, layer, ql)
        except kernels.AccOverflow as exc:
            head, where = str(exc).split(" at ")
            return f"{head} at frame {f}, {where}"
    return None


@pytest.mark.parametrize("seed", range(6))
def test_overflow_error_names_the_first_output_in_both_engines(seed):
    """The first overflowing output in (frame, out_channel, row, col) order, with layer, channel,
    row and column: the same message from the fast engine, the tiled engine and the direct loop,
    on layers where many outputs overflow at different steps of their accumulation."""
    from refimpl import tiled
    from test_tiled import shape_of, small_profile
    rng = np.random.default_rng(seed)
    groups = 1 + seed % 2
    layer = LayerSpec("conv7", "conv", 6 * groups, kernel=3, pad=1, groups=groups)
    w = rng.integers(-3000, 3001, (6 * groups, 4, 3, 3)).astype(np.int16)
    w[:, :, 0] = rng.integers(-32768, 32768, w[:, :, 0].shape)       # big early terms in some outputs
    ql = QLayer(name="conv7", kind="conv", in_frac=0, out_frac=0, acc_bits=32, overflow="error",
                weights=w, bias=rng.integers(-99, 99, 6 * groups).astype(np.int16))
    x = rng.integers(-32768, 32768, (2, 4 * groups, 7, 6)).astype(np.int16)
    x[0, :, :3] //= 64                                                # frame 0's top rows cannot overflow
    want = first_overflow_direct(x, layer, ql)
    assert want is not None and "row" in want
    with pytest.raises(RefimplError) as fast:
        engine.conv(x, layer, ql)
    with pytest.raises(RefimplError) as slow:
        tiled.mac_layer(x, shape_of(layer, (4 * groups, 7, 6)), ql, small_profile(1, 0.25))
    assert str(fast.value) == str(slow.value) == want


# ---------------------------------------------------------------- batches in chunks
def cifar_net(seed=1, frames=7, **contract):
    spec = networks.get("alexnet-cifar")
    pixels = np.random.default_rng(seed).integers(0, 256, (frames,) + spec.input_shape).astype(np.uint8)
    qnet = quantize.quantize_network(spec, quantize.synthetic_params(spec, seed), pixels[:2], **contract)
    return qnet, quantize.pixels_to_int(pixels, spec)


def test_chunked_batch_equals_single_frames(monkeypatch):
    """Chunks of 1, 2 and 3 frames (and the merged-frame GEMMs of small layers) give every
    frame the outputs and counts it gets alone; keep= holds only the named outputs."""
    qnet, x = cifar_net(acc_bits=33)
    single = [engine.run(qnet, f) for f in x]
    for budget in (1, 2, 3):
        monkeypatch.setattr(engine, "frames_per_chunk", lambda qnet, layers, b=budget: b)
        full = engine.run(qnet, x)
        last = engine.run(qnet, x, keep=("fc8",))
        for i, r in enumerate(full):
            assert np.array_equal(r.output, np.concatenate([s[i].output for s in single])), r.name
            assert r.stats.acc_overflows == sum(s[i].stats.acc_overflows for s in single)
            assert r.stats.saturations == sum(s[i].stats.saturations for s in single)
            assert last[i].stats == r.stats
        assert np.array_equal(last[-1].output, full[-1].output)
        assert all(r.output is None for r in last[:-1])
    assert sum(r.stats.acc_overflows for r in full) > 0          # the replay ran in chunks too
    with pytest.raises(RefimplError, match="cannot keep conv9"):
        engine.run(qnet, x, keep=("conv9",))


def test_overflow_error_order_does_not_depend_on_chunks(monkeypatch):
    """(layer, frame, out_channel, row, col) order: an overflow in an early layer of a late
    frame is named before one in a later layer of frame 0, however the frames are chunked."""
    qnet, x = cifar_net(seed=4, frames=5, acc_bits=32, overflow="error")
    errors = set()
    for budget in (1, 2, 5):
        monkeypatch.setattr(engine, "frames_per_chunk", lambda qnet, layers, b=budget: b)
        with pytest.raises(RefimplError, match="accumulator overflow") as exc:
            engine.run(qnet, x)
        errors.add(str(exc.value))
    assert len(errors) == 1
    # the same output the layer-by-layer walk over all frames names first
    monkeypatch.setattr(engine, "frames_per_chunk", lambda qnet, layers: 100)
    for i, layer in enumerate(qnet.spec.layers):
        try:
            x, _ = engine.run_layer(layer, qnet.layers[i], x, qnet)
        except RefimplError as exc:
            assert str(exc) == errors.pop()
            break


def test_fc_by_weight_row_blocks(monkeypatch):
    """fc weights go through the float64 buffer a few rows at a time: same outputs as the loop."""
    monkeypatch.setattr(engine, "WEIGHT_BLOCK", 70)              # 2 rows of 35 per block, 7 blocks
    rng = np.random.default_rng(9)
    ql = QLayer(name="f", kind="fc", in_frac=5, out_frac=9, w_frac=12, b_frac=10,
                weights=rng.integers(-300, 301, (13, 35)).astype(np.int16), bias=rng.integers(-300, 301, 13).astype(np.int16))
    x = rng.integers(-300, 301, (3, 35, 1, 1)).astype(np.int16)
    want, over, sat = oracle(kernels.fc_direct, x, ql.weights, ql.bias, ql)
    got, stats = engine.fc(x, LayerSpec("f", "fc", 13), ql)
    assert np.array_equal(got, want) and (stats.acc_overflows, stats.saturations) == (over, sat)
    assert np.array_equal(engine.weights_l1(None, ql), np.abs(ql.weights.astype(np.int64)).sum(axis=1))


@pytest.mark.parametrize("overflow", ["saturate", "wrap", "error"])
def test_fc_overflow_path_by_weight_row_blocks(monkeypatch, overflow):
    """The accumulate (overflow) path of fc also takes W a few rows at a time: same outputs,
    overflow and saturation counts as the direct loop, and under 'error' the first overflowing
    output in the loop's order, whichever block it falls in."""
    monkeypatch.setattr(engine, "WEIGHT_BLOCK", 3 * 40)            # 3 rows of 40 per block, 4 blocks
    rng = np.random.default_rng(11)
    ql = QLayer(name="f", kind="fc", in_frac=5, out_frac=4, w_frac=12, b_frac=10, acc_bits=32,
                overflow=overflow, weights=rng.integers(-32768, 32768, (11, 40)).astype(np.int16),
                bias=rng.integers(-32768, 32768, 11).astype(np.int16))
    ql.weights[:7] //= 256                                          # first overflow past the first 2 blocks
    x = rng.integers(-32768, 32768, (2, 40, 1, 1)).astype(np.int16)
    if overflow == "error":
        want = None
        for i, frame in enumerate(x):                               # the loop's first failing frame
            try:
                kernels.fc_direct(frame, ql.weights, ql.bias, ql)
            except RefimplError as exc:
                want = str(exc).replace("at output", f"at frame {i}, output")
                break
        assert want is not None and int(want.rsplit(" ", 1)[1]) >= 6   # outside block 0 and 1
        with pytest.raises(RefimplError) as got:
            engine.fc(x, LayerSpec("f", "fc", 11), ql)
        assert str(got.value) == want
        return
    want, over, sat = oracle(kernels.fc_direct, x, ql.weights, ql.bias, ql)
    assert over > 0                                                 # the case exercises the replay
    got, stats = engine.fc(x, LayerSpec("f", "fc", 11), ql)
    assert np.array_equal(got, want) and (stats.acc_overflows, stats.saturations) == (over, sat)


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("rounding", fx.ROUNDING_MODES)
@pytest.mark.parametrize("per_channel", [False, True])
def test_bias_requant_f64_equals_int64_requantize(relu, rounding, per_channel):
    """engine._add_bias_requant_f64 (the bias and rounding half in one add, ReLU as the cast's
    truncation) against fx.requantize on int64 (acc + bias): values at every rounding and
    saturation edge of each shift, random ones, shifts <= 0 (the general path)."""
    rng = np.random.default_rng(5)
    shifts = np.array([-2, 0, 1, 2, 5, 16, 18, 30]) if per_channel else np.array([18])
    m = len(shifts)
    lo, hi = fx.int_range(16)
    edges = []
    for s in shifts:                                                 # outputs y * 2**s + d around y
        unit = 2.0 ** int(s)
        for y in (lo - 1, lo, -1, 0, 1, hi, hi + 1):
            for d in (-1, 0, 1):
                for frac in (-0.5, 0.0, 0.5):
                    edges.append(int(np.floor((y + frac) * unit)) + d)
    cols = len(edges)
    b = rng.integers(-2 ** 20, 2 ** 20, m)
    x = np.empty((2, m, cols), dtype=np.int64)
    x[0] = np.array(edges)[None, :] - b[:, None]                       # acc + b lands on the edges
    x[1] = rng.integers(-2 ** 38, 2 ** 38, (m, cols))
    ql = QLayer(name="c", kind="conv", in_frac=0, out_frac=0, w_frac=shifts if per_channel else int(shifts[0]),
                acc_bits=40, rounding=rounding, relu=relu)                # shift = in + w - out frac
    got, sat = engine._add_bias_requant_f64(x.astype(np.float64), b, ql, m)
    want, want_sat = fx.requantize(x + b[None, :, None], shifts.reshape(1, -1, 1) if per_channel else int(shifts[0]),
                                   rounding, relu)
    assert got.dtype == np.int16 and np.array_equal(got, want) and sat == want_sat


@settings(max_examples=60, deadline=None)
@given(conv_cases(), st.integers(1, 4))
def test_conv_by_output_row_blocks(case, block_rows):
    """A large conv layer builds its GEMM columns a few output rows at a time (engine.CHUNK_BYTES):
    with a budget of ``block_rows`` rows the outputs and counts still equal the direct loop."""
    layer, ql, x = case
    kdim = ql.weights[0].size * layer.groups
    wo = (x.shape[3] + 2 * layer.pad - layer.kernel) // layer.stride + 1
    try:
        want, over, sat = oracle(kernels.conv_direct, x, ql.weights, ql.bias, layer, ql)
    except RefimplError:
        return                                                      # 'error' overflows: the other test
    with mock.patch.object(engine, "CHUNK_BYTES", 8 * x.shape[0] * kdim * wo * block_rows), \
            mock.patch.object(engine, "MERGE_PIXELS", 0):             # never the merged-frames GEMM
        got, stats = engine.conv(x, layer, ql)
    assert np.array_equal(got, want) and (stats.acc_overflows, stats.saturations) == (over, sat)


def test_weights_l1_full_int16_range(monkeypatch):
    """Row L1 norms by int32 row blocks: -32768 included, sums past int32 (K = 70,000 rows of 2**15)."""
    monkeypatch.setattr(engine, "WEIGHT_BLOCK", 3 * 70000)
    w = np.full((7, 70000), -32768, dtype=np.int16)
    w[1::2] = 32767
    w[3, ::3] = 0
    ql = QLayer(name="f", kind="fc", in_frac=0, out_frac=0, weights=w, bias=np.zeros(7, np.int16))
    want = [sum(abs(int(v)) for v in row) for row in w]               # Python integers
    assert engine.weights_l1(None, ql).tolist() == want
