"""Engine profiles: the shipped one loads; bad ones get one line naming the key."""
import copy
import sys

import pytest

from refimpl.cli import main
from refimpl.errors import RefimplError
from refimpl.profile import load_profile, parse_profile

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

from importlib import resources

PAPER_DOC = tomllib.loads((resources.files("refimpl") / "profiles" / "paper-28nm.toml").read_text())


def test_paper_profile_numbers():
    p = load_profile("paper-28nm")
    assert p.array.macs == 144 and p.array.rows * p.array.cols == 144
    assert p.dram.e_access_pj == 640.0 and p.dram.access_bits == 32     # the paper
    assert p.dram.gbps == 12.8                                          # LPDDR4 x32 3200 MT/s: 3200e6 * 4 B
    assert p.dram_bytes_per_cycle == 12.8e9 / 200e6
    # ping-pong halves of 16-bit words: 128 KiB / 2 B / 2 = 32768, 64 KiB -> 16384
    assert (p.feature_words, p.weight_words) == (32768, 16384)
    # e_mac: (0.2 * 4 + 0.1 * 40 / 32) * 28 / 45 = 0.5756
    assert abs(p.energy.e_mac_pj - (0.2 * 4 + 0.1 * 40 / 32) * 28 / 45) < 0.001
    # buffer: sqrt(16/8) * 10 pJ / 2 * 28 / 45 = 4.40
    assert abs(p.energy.e_buffer_read_pj - 10 * 2 ** 0.5 / 2 * 28 / 45) < 0.01


def mutated(change):
    doc = copy.deepcopy(PAPER_DOC)
    change(doc)
    return doc


@pytest.mark.parametrize("change, message", [
    (lambda d: d["array"].pop("clock_mhz"), "missing key 'array.clock_mhz'"),
    (lambda d: d.pop("dram"), r"missing section \[dram\]"),
    (lambda d: d["buffer"].__setitem__("feature_kib", 0), "key 'buffer.feature_kib' must be > 0"),
    (lambda d: d["dram"].__setitem__("gbps", -1.0), "key 'dram.gbps' must be > 0"),
    (lambda d: d["energy"].__setitem__("e_mac_pj", -0.1), "key 'energy.e_mac_pj' must be >= 0"),
    (lambda d: d["array"].__setitem__("rows", 1.5), "key 'array.rows' must be an integer"),
    (lambda d: d["array"].__setitem__("macs", 100), "key 'array.macs' = 100 but rows x cols = 144"),
    (lambda d: d["buffer"].__setitem__("double_buffered", 1), "key 'buffer.double_buffered' must be true or false"),
    (lambda d: d["dram"].__setitem__("bandwith", 3), "unknown key 'dram.bandwith'"),
    (lambda d: d["jpeg"].__setitem__("weight_compression", 0.5), "key 'jpeg.weight_compression' must be >= 1.0"),
])
def test_bad_profiles(change, message):
    with pytest.raises(RefimplError, match=message):
        parse_profile(mutated(change), "my.toml")


def test_profile_files(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("name = 'x'\n[array\n")
    with pytest.raises(RefimplError, match="bad.toml: not valid TOML"):
        load_profile(str(bad))
    with pytest.raises(RefimplError, match="no such profile file"):
        load_profile(str(tmp_path / "none.toml"))
    with pytest.raises(RefimplError, match="unknown profile 'fast-7nm'"):
        load_profile("fast-7nm")
    tiny = tmp_path / "tiny.toml"
    text = (resources.files("refimpl") / "profiles" / "paper-28nm.toml").read_text()
    tiny.write_text(text.replace("feature_kib = 128", "feature_kib = 1"))
    assert main(["cost", "--profile", str(tiny)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "buffer.feature_kib (1) or buffer.weight_kib (64) too small for any tile of layer conv1" in err


def at_bounds(high_cost: bool) -> dict:
    """paper-28nm with every rate and energy at the end of its accepted range that makes the
    counts largest (high_cost) or smallest; buffers and the array as shipped."""
    from refimpl.profile import LIMITS
    doc = copy.deepcopy(PAPER_DOC)
    pick = {"gbps": 0, "clock_mhz": 1, "encoder_pixels_per_cycle": 0, "decoder_pixels_per_cycle": 0,
            "weight_compression": 0}
    for section in ("dram", "energy", "jpeg"):
        for key in doc[section]:
            lo, hi, _, _ = LIMITS[key]
            if key == "access_bits":
                continue
            if key == "weight_compression":
                doc[section][key] = 1.0 if high_cost else hi
            elif key in pick:
                doc[section][key] = (lo, hi)[pick[key] if high_cost else 1 - pick[key]]
            else:
                doc[section][key] = hi if high_cost else lo
    doc["array"]["clock_mhz"] = LIMITS["clock_mhz"][1] if high_cost else LIMITS["clock_mhz"][0]
    return doc


@pytest.mark.parametrize("high_cost", [True, False])
@pytest.mark.parametrize("net", ["alexnet", "alexnet-cifar", "vgg16", "resnet50"])
def test_profiles_at_the_accepted_bounds_give_finite_counts(net, high_cost):
    """The LIMITS derivation: at the extreme ends every counter stays an int below 2**63 and
    every energy and latency finite."""
    import math

    from refimpl import cost, networks
    rep = cost.network_cost(networks.get(net), parse_profile(at_bounds(high_cost), "bounds.toml"))
    for rec in rep["layers"] + [rep["total"]]:
        for key, value in rec.items():
            if isinstance(value, dict):
                assert all(math.isfinite(v) for v in value.values()), (key, value)
            elif isinstance(value, float):
                assert math.isfinite(value), key
            elif isinstance(value, int):
                assert 0 <= value < 2 ** 63, (key, value)
    assert rep["total"]["cycles"] > 0
