"""refimpl cost: MAC totals equal the specs, every unit named, JSON layout, errors."""
import json

import pytest

from refimpl.cli import main

SPEC_TOTALS = {"alexnet": 724_406_816, "vgg16": 15_470_264_320, "resnet50": 4_089_184_256}


@pytest.mark.parametrize("net", list(SPEC_TOTALS))
def test_json_totals(net, capsys):
    assert main(["cost", "--network", net, "--format", "json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["network"] == net and rep["profile"] == "paper-28nm"
    assert rep["total"]["macs"] == SPEC_TOTALS[net]
    assert sum(l["macs"] for l in rep["layers"]) == SPEC_TOTALS[net]
    for l in rep["layers"]:
        assert {"name", "macs", "cycles", "utilization", "dram_bytes", "energy_pj", "latency_s"} <= set(l)
        assert l["energy_pj"]["total"] == pytest.approx(sum(v for k, v in l["energy_pj"].items() if k != "total"))
        assert l["cycles"] >= l["compute_cycles"] >= 0
        if l["macs"]:
            # utilisation = MACs / (144 * cycles)
            assert l["utilization"] == pytest.approx(l["macs"] / (144 * l["cycles"]))
            assert l["latency_s"] == pytest.approx(l["cycles"] / 200e6)
    assert rep["total"]["cycles"] == sum(l["cycles"] for l in rep["layers"])


def test_alexnet_conv1_compute_cycles_hand_derived(capsys):
    """conv1 (96 x 55 x 55, K = 3*11*11 = 363) in tiles of 36 channels x 5 rows x all 3 inputs:
    channel tiles 36, 36, 24 -> ceil(c/12) = 3 + 3 + 2 = 8 row-passes; 11 row tiles of
    5 * 55 = 275 pixels -> ceil(275/12) = 23 column-passes; 11 * 8 * 23 * 363 = 734,712 cycles.
    The tiling rule: weights tm * 363 <= 16384 words -> tm = 36 (a multiple of 12); features
    3 * ((th-1)*4 + 11) * 227 + 36 * th * 55 <= 32768 -> th = 5 (28,287 words; th = 6 needs 32,991)."""
    assert main(["cost", "--format", "json", "--until", "conv1"]) == 0
    l = json.loads(capsys.readouterr().out)["layers"][0]
    assert l["tiling"].startswith("36ch x 5rows x 3in")
    assert l["compute_cycles"] == 734_712
    assert l["macs"] == 105_415_200


def test_table_and_csv_name_units(capsys):
    assert main(["cost", "--network", "alexnet-cifar"]) == 0
    out = capsys.readouterr().out
    for unit in ("uJ", "bytes", "ms", "%", "MHz"):
        assert unit in out
    assert main(["cost", "--network", "alexnet-cifar", "--columns", "all"]) == 0
    out = capsys.readouterr().out
    for unit in ("(uJ)", "bytes", "(words)", "ms", "%", "MHz"):
        assert unit in out
    assert main(["cost", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("layer,type,") and lines[-1].startswith("total,")
    assert len(lines) == 1 + 13 + 1


@pytest.mark.parametrize("argv, message", [
    (["cost", "--format", "xml"], "unknown format 'xml'"),
    (["cost", "--network", "lenet"], "unknown network 'lenet'"),
    (["cost", "--profile", "fast-7nm"], "unknown profile 'fast-7nm'"),
    (["cost", "--until", "fc9"], "unknown layer 'fc9'"),
])
def test_cost_errors(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
