"""Quantizer: formats chosen from data, input mapping, weight files, SQNR."""
import math

import numpy as np
import pytest

from refimpl import image, networks, quantize
from refimpl.spec import layer_shapes
from refimpl.errors import RefimplError


def test_choose_frac_hand_values():
    assert quantize.choose_frac(1.0) == 14          # 1.0 * 2**15 = 32768 > 32767, 2**14 fits
    assert quantize.choose_frac(0.99) == 15         # 0.99 * 2**15 = 32440.3 -> 32440 fits
    assert quantize.choose_frac(255.0) == 7         # 255 * 2**7 = 32640
    assert quantize.choose_frac(256.0) == 6
    assert quantize.choose_frac(0.0) == quantize.FRAC_MAX
    assert quantize.choose_frac(1e-12) == quantize.FRAC_MAX
    assert quantize.choose_frac(1e9) == quantize.FRAC_MIN
    assert quantize.choose_frac(40000.0, 32) == 15  # 40000 * 2**16 = 2.62e9 > 2**31 - 1 = 2.15e9


def test_to_fixed_half_up_and_saturation():
    q, n = quantize.to_fixed([0.5, -0.5, 1.25, -1.75, 1000.0], 1)
    # * 2 -> 1, -1, 2.5, -3.5, 2000 -> floor(v + 0.5): 1, -1, 3, -3, 2000
    assert q.tolist() == [1, -1, 3, -3, 2000] and n == 0
    q, n = quantize.to_fixed([1.0, -1.0], 15)     # 32768 saturates, -32768 fits
    assert q.tolist() == [32767, -32768] and n == 1


def test_input_mapping_hand_values():
    spec = networks.get("alexnet")
    # mean R 122.67891434 * 2**7 = 15702.9 -> 15703; G 116.66876762 * 128 = 14933.6 -> 14934; B 104.00698793 * 128 = 13312.9 -> 13313
    assert quantize.mean_q(spec) == (15703, 14934, 13313)
    px = np.zeros((3, 227, 227), np.uint8)
    px[:, 0, 0] = (255, 0, 128)
    x = quantize.pixels_to_int(px, spec)
    assert x.dtype == np.int16
    assert x[:, 0, 0].tolist() == [255 * 128 - 15703, -14934, 128 * 128 - 13313]


def test_synthetic_params_are_seeded_he_normal():
    spec = networks.get("alexnet-cifar")
    a = quantize.synthetic_params(spec, 5)
    b = quantize.synthetic_params(spec, 5)
    c = quantize.synthetic_params(spec, 6)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["conv1.weight"], c["conv1.weight"])
    w = a["fc6.weight"]                              # 512 x 1152 samples, std sqrt(2/1152)
    assert abs(w.std() / math.sqrt(2 / 1152) - 1) < 0.01
    assert abs(w.mean()) < 0.001


def test_quantized_formats_fit_the_data():
    spec = networks.get("alexnet-cifar")
    params = quantize.synthetic_params(spec, 0)
    px = image.load(None, spec.input_shape)
    qnet = quantize.quantize_network(spec, params, px)
    acts = quantize.float_forward(spec, params, quantize.pixels_to_float(px, spec))
    for ql in qnet.layers:
        if ql.weights is None:
            continue
        w = params[f"{ql.name}.weight"]
        # the chosen w_frac is the largest that holds max|w| in int16
        assert round(np.abs(w).max() * 2 ** ql.w_frac) <= 32767 < round(np.abs(w).max() * 2 ** (ql.w_frac + 1))
        assert np.abs(acts[ql.name]).max() * 2 ** ql.out_frac <= 32767.5
        assert ql.b_frac <= ql.in_frac + ql.w_frac
        assert np.abs(ql.weights.astype(np.float64) * 2.0 ** -ql.w_frac - w).max() <= 2.0 ** -(ql.w_frac + 1)


def test_per_channel_weights():
    spec = networks.get("alexnet-cifar")
    params = quantize.synthetic_params(spec, 0)
    params["conv1.weight"][3] *= 0.01                 # one small channel gets more fraction bits
    qnet = quantize.quantize_network(spec, params, image.load(None, spec.input_shape), per_channel=True)
    wf = qnet.layer("conv1").w_frac
    assert wf.shape == (64,) and wf[3] >= wf.max() - 0 and wf[3] - np.median(wf) >= 6


def test_sqnr_formula():
    ref = np.array([1.0, -2.0, 3.0])
    q = np.array([4, -8, 13])                        # frac 2 -> 1, -2, 3.25: noise 0.0625, signal 14
    assert quantize.sqnr_db(ref, q, 2) == pytest.approx(10 * math.log10(14 / 0.0625), abs=1e-12)
    assert quantize.sqnr_db(ref, np.array([4, -8, 12]), 2) == math.inf


def test_resnet_is_geometry_only():
    with pytest.raises(RefimplError, match="geometry-only"):
        quantize.check_supported(networks.get("resnet50"))


def save(path, **arrays):
    np.savez(path, **arrays)
    return path


def good_params(spec):
    return {k: v.astype(np.float32) for k, v in quantize.synthetic_params(spec, 0).items()}


def test_load_params_roundtrip(tmp_path):
    spec = networks.get("alexnet-cifar")
    p = good_params(spec)
    loaded = quantize.load_params(save(tmp_path / "w.npz", **p), spec)
    assert all(np.array_equal(loaded[k], p[k].astype(np.float64)) for k in p)


@pytest.mark.parametrize("mutate, message", [
    (lambda p: p.pop("conv3.bias"), "missing key 'conv3.bias'"),
    (lambda p: p.__setitem__("fc6.weight", np.zeros((512, 1000))), r"'fc6.weight' has shape \(512, 1000\), expected \(512, 1152\)"),
    (lambda p: p.__setitem__("conv9.weight", np.zeros(3)), "unexpected key 'conv9.weight'"),
    (lambda p: p["conv1.bias"].__setitem__(0, np.nan), "'conv1.bias' contains NaN"),
])
def test_load_params_errors(tmp_path, mutate, message):
    spec = networks.get("alexnet-cifar")
    p = good_params(spec)
    mutate(p)
    with pytest.raises(RefimplError, match=message):
        quantize.load_params(save(tmp_path / "w.npz", **p), spec)


def test_load_params_bad_files(tmp_path):
    spec = networks.get("alexnet-cifar")
    with pytest.raises(RefimplError, match="no such weight file"):
        quantize.load_params(tmp_path / "none.npz", spec)
    (tmp_path / "t.npz").write_text("hello")
    with pytest.raises(RefimplError, match="no zip signature"):
        quantize.load_params(tmp_path / "t.npz", spec)
    (tmp_path / "z.npz").write_bytes(b"PK\x03\x04" + b"\0" * 30)
    with pytest.raises(RefimplError, match="not a readable .npz"):
        quantize.load_params(tmp_path / "z.npz", spec)


def test_chunked_synthetic_weights_equal_one_draw(monkeypatch):
    """Drawn in chunks (here 1000 values, so chunks straddle layers' ends), the weights are
    the definition: one float32 draw of each array in layer order, to float64, times std."""
    spec = networks.get("alexnet-cifar")
    monkeypatch.setattr(quantize, "SYNTH_CHUNK", 1000)
    got = quantize.synthetic_params(spec, 3)
    rng = np.random.default_rng(3)
    for s in layer_shapes(spec):
        if s.weight_shape:
            want = rng.standard_normal(s.weight_shape, dtype=np.float32).astype(np.float64) * math.sqrt(2.0 / s.reduction)
            assert np.array_equal(got[f"{s.layer.name}.weight"], want)
            assert np.array_equal(got[f"{s.layer.name}.bias"], rng.standard_normal(s.layer.out_channels) * 0.1)


@pytest.mark.parametrize("per_channel", [False, True])
def test_weights_to_int16_equals_to_fixed(monkeypatch, per_channel):
    monkeypatch.setattr(quantize, "SYNTH_CHUNK", 700)
    w = np.random.default_rng(1).standard_normal((33, 7, 3, 3)) * 3
    w[0, 0, 0, 0] = 1e9                                         # saturates
    frac = np.arange(33) % 14 if per_channel else 11
    want, _ = quantize.to_fixed(w, np.reshape(frac, (-1, 1, 1, 1)) if per_channel else frac)
    got = quantize.weights_to_int16(w, frac)
    assert got.dtype == np.int16 and np.array_equal(got, want)
    # with max |w| given: the clamp is skipped only when nothing saturates, same values either way
    rows = np.abs(w).reshape(33, -1).max(axis=1)
    w_max = rows if per_channel else float(rows.max())
    assert np.array_equal(quantize.weights_to_int16(w, frac, w_max), want)
    w[0, 0, 0, 0] = 0.0
    fits = quantize.choose_frac(float(np.abs(w).max()))            # frac at which max |w| fits
    want, sat = quantize.to_fixed(w, fits)
    assert sat == 0
    assert np.array_equal(quantize.weights_to_int16(w, fits, float(np.abs(w).max())), want)


def test_run_reuses_the_calibration_forward():
    spec = networks.get("alexnet-cifar")
    params = quantize.synthetic_params(spec, 0)
    px = image.load(None, spec.input_shape)
    qnet = quantize.quantize_network(spec, params, px)
    want = quantize.float_forward(spec, params, quantize.pixels_to_float(px, spec))
    got = quantize.reference_outputs(qnet, params, px)
    assert got.keys() == want.keys() and all(np.array_equal(got[k], want[k]) for k in want)
    other = px[:, ::-1].copy()                                  # other pixels: a new forward
    fresh = quantize.reference_outputs(qnet, params, other)
    assert np.array_equal(fresh["conv1"], quantize.float_forward(spec, params, quantize.pixels_to_float(other, spec))["conv1"])


@pytest.mark.parametrize("per_channel", [False, True])
def test_clamp_warnings_maxima_cached_equal_recomputed(per_channel):
    """report.clamp_warnings takes max |w| and max |b| from quantize_network when the params
    are the very dict it quantized; any other dict (a copy) is measured again: same figures,
    and both equal the direct np.abs(...).max()."""
    from refimpl import report
    spec = networks.get("alexnet-cifar")
    params = quantize.synthetic_params(spec, 3)
    qnet = quantize.quantize_network(spec, params, image.load(None, spec.input_shape), per_channel=per_channel)
    copy = dict(params)
    for ql in qnet.layers:
        if ql.weights is None:
            continue
        w = np.abs(params[f"{ql.name}.weight"]).reshape(ql.weights.shape[0], -1)
        direct = (w.max(axis=1) if per_channel else w.max(), np.abs(params[f"{ql.name}.bias"]).max())
        for src in (params, copy):
            w_max, b_max = report._float_maxima(qnet, ql, src)
            assert np.array_equal(w_max, direct[0]) and b_max == direct[1]


def test_max_abs_by_chunks(monkeypatch):
    """max |a| taken chunk by chunk equals np.abs(a).max(), the extreme in any chunk and sign."""
    monkeypatch.setattr(quantize, "SYNTH_CHUNK", 7)
    rng = np.random.default_rng(4)
    assert quantize.max_abs(np.empty(0)) == 0.0
    for n in (1, 6, 7, 8, 50):
        for where in range(n):
            for sign in (-1.0, 1.0):
                a = rng.uniform(-1, 1, n)
                a[where] = sign * 9.25
                assert quantize.max_abs(a) == float(np.abs(a).max()) == 9.25
    b = rng.standard_normal((4, 3, 5))
    assert quantize.max_abs(b) == float(np.abs(b).max())          # any shape: taken flat
