"""The numeric contract against exact rational arithmetic and fxpmath."""
import math
import re
import warnings
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, strategies as st

from refimpl import fixedpoint as fx
from refimpl import kernels

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fxpmath import Fxp


def rational_round(v: Fraction, mode: str) -> int:
    """Rounding defined on exact rationals (independent of any shift trick)."""
    fl = math.floor(v)
    rem = v - fl
    if mode == "truncate":
        return fl
    if mode == "half_up":
        return fl + (1 if rem >= Fraction(1, 2) else 0)
    if rem > Fraction(1, 2) or (rem == Fraction(1, 2) and fl % 2 == 1):
        return fl + 1
    return fl


ints = st.integers(-(1 << 45), (1 << 45))


@given(st.lists(ints, min_size=1, max_size=20), st.integers(-8, 40), st.sampled_from(fx.ROUNDING_MODES))
def test_round_shift_matches_rationals(xs, s, mode):
    got = fx.round_shift(np.array(xs, dtype=np.int64), s, mode)
    want = [rational_round(Fraction(x, 1) / Fraction(2) ** s, mode) for x in xs]
    assert got.tolist() == want
    assert [kernels.shift_round(x, s, mode) for x in xs] == want


def test_round_shift_hand_values():
    x = np.array([5, 6, 7, -5, -6, -7, 2, -2, 6, -6])
    # /4: 1.25 1.5 1.75 -1.25 -1.5 -1.75 0.5 -0.5 1.5 -1.5
    assert fx.round_shift(x, 2, "half_up").tolist() == [1, 2, 2, -1, -1, -2, 1, 0, 2, -1]
    assert fx.round_shift(x, 2, "half_even").tolist() == [1, 2, 2, -1, -2, -2, 0, 0, 2, -2]
    assert fx.round_shift(x, 2, "truncate").tolist() == [1, 1, 1, -2, -2, -2, 0, -1, 1, -2]


def test_round_shift_per_channel():
    x = np.array([[12, 12], [12, 12]])
    assert fx.round_shift(x, np.array([[1], [3]]), "half_up").tolist() == [[6, 6], [2, 2]]


@given(st.lists(st.integers(-(1 << 40), 1 << 40), min_size=1, max_size=30), st.integers(1, 24))
def test_against_fxpmath(xs, s):
    """fxpmath's 'floor' is our truncate, its 'around' (numpy, ties to even) our half_even,
    and half_up is floor(v + 1/2); saturation and wrap at 16 bits as fxpmath's overflow modes."""
    x = np.array(xs, dtype=np.int64)
    v = x / 2.0 ** s                              # exact: |x| < 2**53
    kw = dict(signed=True, n_word=16, n_frac=0)
    cases = [("truncate", Fxp(v, rounding="floor", overflow="saturate", **kw)),
             ("half_even", Fxp(v, rounding="around", overflow="saturate", **kw)),
             ("half_up", Fxp(v + 0.5, rounding="floor", overflow="saturate", **kw))]
    for mode, ref in cases:
        y, _ = fx.saturate(fx.round_shift(x, s, mode), 16)
        assert y.tolist() == np.asarray(ref.val, dtype=np.int64).tolist(), mode
    wrapped = Fxp(v, rounding="floor", overflow="wrap", **kw)
    assert fx.wrap(fx.round_shift(x, s, "truncate"), 16).tolist() == np.asarray(wrapped.val, dtype=np.int64).tolist()


def test_saturate_counts():
    y, n = fx.saturate([-40000, -32768, 0, 32767, 32768, 10 ** 12], 16)
    assert y.tolist() == [-32768, -32768, 0, 32767, 32767, 32767]
    assert n == 3


def test_wrap_two_complement():
    assert fx.wrap([127, 128, -129, 256 + 5], 8).tolist() == [127, -128, 127, 5]


def test_requantize_relu_after_saturation():
    y, n = fx.requantize(np.array([-(1 << 30), 100, 1 << 30]), 4, "half_up", relu=True)
    assert y.dtype == np.int16
    assert y.tolist() == [0, 6, 32767]     # 100 / 16 = 6.25 -> 6
    assert n == 2


@given(st.integers(-(1 << 39), (1 << 39) - 1), st.integers(-(1 << 30), 1 << 30), st.sampled_from(fx.OVERFLOW_POLICIES))
def test_acc_add_matches_scalar_definition(acc, p, policy):
    bits = 40
    got, over = fx.acc_add(np.array([acc]), np.array([p]), bits, policy)
    try:
        want, wover = kernels.acc_step(acc, p, bits, policy)
    except Exception:
        assert policy == "error" and over[0]
        return
    assert bool(over[0]) == wover
    if policy != "error" or not wover:
        assert int(got[0]) == want


def test_align_bias():
    # b_frac 4 -> acc_frac 10: shift left 6; b_frac 12 -> acc_frac 10: round right 2
    assert fx.align_bias(np.array([3, -3]), 4, 10).tolist() == [192, -192]
    assert fx.align_bias(np.array([6, -6]), 12, 10, "half_up").tolist() == [2, -1]


def test_bit_length():
    v = np.array([1, 2, 3, 255, 256, (1 << 61) + 5])
    assert fx.bit_length(v).tolist() == [int(x).bit_length() for x in v.tolist()]


def test_lrn_table_constants():
    t = fx.lrn_tables(5, 1e-4, 0.75, 1.0)
    # alpha / n = 2e-5 = 1.34... * 2**-16, so ALPHA_FRAC = 14 + 16 = 30, ALPHA_Q = round(2e-5 * 2**30) = 21475
    assert (t["ALPHA_FRAC"], t["ALPHA_Q"], t["K_Q"]) == (30, 21475, 65536)
    assert t["MANT_LUT"][0] == 32768                       # 1**-0.75 at 15 fraction bits
    assert t["MANT_LUT"][256] == 19484                     # 2**-0.75 * 2**15 = 19483.97
    # e = D_FRAC (d in [1, 2)): 2**0 -> 32768, shift 0; e = 17: 2**-0.75 -> 19484, shift 0;
    # e = 20: 2**-3 = 2**-0 * 2**-3 -> 32768, shift 3
    assert (t["EXP_LUT"][16], t["EXP_SHIFT"][16]) == (32768, 0)
    assert (t["EXP_LUT"][17], t["EXP_SHIFT"][17]) == (19484, 0)
    assert (t["EXP_LUT"][20], t["EXP_SHIFT"][20]) == (32768, 3)


@pytest.mark.parametrize("frac", [0, 3, 6, 9, 12])
def test_lrn_error_bound_vs_float(frac):
    """|b_int - b * 2**f| <= LRN_ERROR_BOUND * |b * 2**f| + 1 over the full int16 range."""
    rng = np.random.default_rng(frac)
    t = fx.lrn_tables(5, 1e-4, 0.75, 1.0)
    a = np.concatenate([rng.integers(-32768, 32768, 100000), [0, 1, -1, 32767, -32768]])
    others = rng.integers(0, 32768, (a.size, 4)).astype(np.int64) * rng.integers(0, 2, (a.size, 4))
    ssq = a.astype(np.int64) ** 2 + (others ** 2).sum(axis=1)
    b = fx.lrn_scale(a, ssq, frac, t)
    real = a / 2.0 ** frac * (1.0 + 1e-4 / 5 * ssq / 4.0 ** frac) ** -0.75 * 2.0 ** frac
    assert np.all(np.abs(b - real) <= fx.LRN_ERROR_BOUND * np.abs(real) + 1)


def test_contract_checks():
    from refimpl.errors import RefimplError
    with pytest.raises(RefimplError, match="rounding"):
        fx.check_rounding("nearest")
    with pytest.raises(RefimplError, match="overflow"):
        fx.check_overflow("clip")
    with pytest.raises(RefimplError, match="acc_bits"):
        fx.check_acc_bits(16)


# ---------------------------------------------------------------- exact float64 fast paths
def _lrn_f64(a, ssq, frac, tables, mode, size=5):
    plan = fx.lrn_f64_plan(tables, size, frac, mode)
    assert plan is not None
    return fx.lrn_scale_f64(np.asarray(a, np.float64), np.asarray(ssq, np.float64), plan)


def test_lrn_f64_equals_direct_loop_over_the_int16_range():
    """Every int16 a, with its own square alone and with the largest other-channel sum
    (4 * 2**30), plus a random one: the float64 LRN equals the Python-integer loop."""
    from refimpl import kernels
    t = fx.lrn_tables(5, 1e-4, 0.75, 1.0)
    rng = np.random.default_rng(11)
    a = np.arange(-32768, 32768)
    for extra in (np.zeros(a.size, np.int64), np.full(a.size, 4 << 30), rng.integers(0, 4 << 30, a.size)):
        ssq = a * a + extra
        got = _lrn_f64(a, ssq, 5, t, "half_up")
        want = [kernels.lrn_scale_direct(int(v), int(s), 5, t, "half_up") for v, s in zip(a, ssq)]
        assert np.array_equal(got, np.array(want, dtype=np.float64))


@pytest.mark.parametrize("mode", fx.ROUNDING_MODES)
def test_lrn_f64_equals_int64_definition_for_every_frac(mode):
    """The whole reachable frac range -8..24 (quantize.FRAC_MIN..FRAC_MAX), every rounding,
    random a and window sums up to 5 * 2**30 with the extremes, against fixedpoint.lrn_scale
    (int64, bit_length); a sample against the Python-integer loop."""
    from refimpl import kernels
    t = fx.lrn_tables(5, 1e-4, 0.75, 1.0)
    rng = np.random.default_rng(len(mode))
    a = np.concatenate([rng.integers(-32768, 32768, 60000), [0, 1, -1, 32767, -32768, -32768]])
    ssq = a * a + np.concatenate([rng.integers(0, 4 << 30, a.size - 1), [4 << 30]])
    ssq[-2] = 32768 ** 2 * 5
    for frac in range(-8, 25):
        want = fx.lrn_scale(a, ssq, frac, t, mode)
        assert np.array_equal(_lrn_f64(a, ssq, frac, t, mode), want), frac
        for j in rng.integers(0, a.size, 40):
            assert want[j] == kernels.lrn_scale_direct(int(a[j]), int(ssq[j]), frac, t, mode)


def test_lrn_f64_plan_refuses_configurations_outside_its_proof():
    # alpha / n = 2**20 at frac -8: D = ssq * ALPHA_Q << 38, far beyond 2**53
    assert fx.lrn_f64_plan(fx.lrn_tables(5, 5 * 2.0 ** 20, 0.75, 1.0), 5, -8, "half_up") is None
    # k = 2**40: D >= K_Q = 2**56
    assert fx.lrn_f64_plan(fx.lrn_tables(5, 1e-4, 0.75, 2.0 ** 40), 5, 5, "half_up") is None
    assert fx.lrn_f64_plan(fx.lrn_tables(5, 1e-4, 0.75, 1.0), 5, 5, "half_up") is not None


def test_lrn_int64_fallback_matches_direct_loop():
    """alpha / n = 16 at frac -8 is outside the float64 proof (the worst case D is 3 * 2**66);
    on small data the engine's int64 path still equals the loop."""
    from refimpl import engine, kernels
    from refimpl.quantize import QLayer
    from refimpl.spec import LayerSpec
    layer = LayerSpec("n", "lrn", lrn_size=3, lrn_alpha=48.0, lrn_beta=0.25, lrn_k=1.0)
    ql = QLayer(name="n", kind="lrn", in_frac=-8, out_frac=-8)
    assert engine._lrn_plan(3, 48.0, 0.25, 1.0, -8, "half_up") is None
    x = np.random.default_rng(2).integers(-100, 101, (1, 4, 3, 5)).astype(np.int16)
    got, stats = engine.lrn(x, layer, ql)
    want, sat = kernels.lrn_direct(x[0], layer, ql)
    assert np.array_equal(got[0], want) and stats.saturations == sat


@pytest.mark.parametrize("size, alpha, beta, k, frac", [
    (5, 1e-4, 0.75, 2.0 ** 38, 5),      # K_Q = 2**54: D beyond 2**53 (float64), within 2**63
    (3, 1e-4, 4.0, 2.0 ** -10, 0),      # d down to 2**-10, beta 4: the scale needs a left shift by 2
])
def test_lrn_int64_path_matches_direct_loop_over_the_int16_range(size, alpha, beta, k, frac):
    """Configurations outside the float64 proof but inside the int64 bounds run the engine's
    int64 path, equal to the Python-integer loop over the whole int16 range."""
    from refimpl import engine, kernels
    from refimpl.quantize import QLayer
    from refimpl.spec import LayerSpec
    layer = LayerSpec("n", "lrn", lrn_size=size, lrn_alpha=alpha, lrn_beta=beta, lrn_k=k)
    ql = QLayer(name="n", kind="lrn", in_frac=frac, out_frac=frac)
    assert engine._lrn_plan(size, alpha, beta, k, frac, "half_up") is None
    fx.lrn_int64_check(fx.lrn_tables(size, alpha, beta, k), size, frac)      # does not raise
    x = np.random.default_rng(2).integers(-32768, 32768, (1, 6, 3, 5)).astype(np.int16)
    x[0, :, 0, 0] = -32768                                                    # the largest window sum
    x[0, :, 1, 1] = 0
    x[0, 2, 2, 2] = 1                                                          # the smallest d
    got, stats = engine.lrn(x, layer, ql)
    want, sat = kernels.lrn_direct(x[0], layer, ql)
    assert np.array_equal(got[0], want) and stats.saturations == sat


@pytest.mark.parametrize("size, alpha, beta, k, frac, what", [
    (3, 48.0, 0.25, 1.0, -8, "denominator D reaches 2**67"),     # alpha/n = 16 at frac -8: 3 * 2**66
    (5, 1e-4, 0.75, 2.0 ** 47, 5, "denominator D reaches 2**63"),
    (3, 1e-4, 4.0, 2.0 ** -14, 0, "scale d**-beta reaches 2**56 at d = 2**-14"),
])
def test_lrn_outside_the_int64_bounds_is_refused(size, alpha, beta, k, frac, what):
    """Where lrn_scale's int64 steps would wrap on the input at hand (full-scale data here), the
    engine refuses the layer with one line naming it, instead of a silently wrong output."""
    from refimpl import engine
    from refimpl.errors import RefimplError
    from refimpl.quantize import QLayer
    from refimpl.spec import LayerSpec
    layer = LayerSpec("n", "lrn", lrn_size=size, lrn_alpha=alpha, lrn_beta=beta, lrn_k=k)
    x = np.full((1, 3, 2, 2), -32768, dtype=np.int16)
    with pytest.raises(RefimplError, match=f"layer n: LRN at input frac {frac}: the .*{re.escape(what)}"):
        engine.lrn(x, layer, QLayer(name="n", kind="lrn", in_frac=frac, out_frac=frac))


def test_lrn_int64_check_bounds_by_hand():
    """The bound arithmetic of lrn_int64_check on hand-derived cases."""
    t = fx.lrn_tables(3, 48.0, 0.25, 1.0)            # alpha/n = 16: ALPHA_Q = 2**14, ALPHA_FRAC = 10
    assert (t["ALPHA_Q"], t["ALPHA_FRAC"]) == (1 << 14, 10)
    # frac -8: sh = 10 - 16 - 16 = -22, D = 2**16 + ssq * 2**14 * 2**22: below 2**63 iff ssq < 2**27 - 1/64
    fx.lrn_int64_check(t, 3, -8, ssq_max=(1 << 27) - 1)
    with pytest.raises(Exception, match="2\\*\\*63"):
        fx.lrn_int64_check(t, 3, -8, ssq_max=1 << 27)
    t = fx.lrn_tables(3, 1e-4, 4.0, 2.0 ** -14)      # K_Q = 4: e = 2, s_e = 38 + 4 * (2 - 16) = -18
    fx.lrn_int64_check(t, 3, 0, ssq_max=0, a_max=(1 << 7) - 1)          # (2**7 - 1) * 2**38 << 18 < 2**63
    with pytest.raises(Exception, match="d = 2\\*\\*-14"):
        fx.lrn_int64_check(t, 3, 0, ssq_max=0, a_max=1 << 7)           # 2**7 * 2**38 << 18 = 2**63




@pytest.mark.parametrize("mode", fx.ROUNDING_MODES)
def test_round_f64_equals_round_shift(mode):
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.integers(-(1 << 53), (1 << 53) + 1, 20000), [0, 1, -1, 3, -3, 5, -5, 6, -6]])
    for s in (1, 2, 3, 17, 40, 52):
        want = fx.round_shift(x, s, mode)
        got = fx.round_f64(x.astype(np.float64) * 2.0 ** -s, mode)
        assert np.array_equal(got, want.astype(np.float64)), s
