"""Issue 8 section 6: machine-readable and discoverable output.

run --format table|csv|json, cost csv/json/columns, list, --help, format-clamping
warnings, the weights file's sha256, progress on a terminal.  CLI as a subprocess.
"""
import csv
import hashlib
import io
import json
import math
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from clihelp import cli
from refimpl import networks, quantize

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
RUN = ("run", "--network", "alexnet-cifar", "--weights", "synthetic", "--until", "pool2")
RUN_KEYS = ["layer", "type", "output_shape", "macs", "in_frac_bits", "w_frac_bits", "out_frac_bits",
            "acc_overflow_outputs", "saturated_outputs", "outputs", "sqnr_db"]
# alexnet-cifar up to pool2, by hand: conv1 64 x 32 x 32 outputs, K = 3*5*5 = 75; conv2 in 2 groups,
# 128 x 15 x 15 outputs, K = 32*5*5 = 800; pools 3x3 stride 2: 32 -> 15 -> 7.
HAND = {"conv1": ([64, 32, 32], 64 * 32 * 32 * 75), "norm1": ([64, 32, 32], 0), "pool1": ([64, 15, 15], 0),
        "conv2": ([128, 15, 15], 128 * 15 * 15 * 800), "norm2": ([128, 15, 15], 0), "pool2": ([128, 7, 7], 0)}


def float_conv1(spec, params, pixels):
    """conv1 of alexnet-cifar in float64 by a direct sum over (ky, kx): 5x5, pad 2, stride 1, ReLU."""
    x = quantize.pixels_to_float(pixels, spec)               # (x - mean) in float64
    x = x[0] if x.ndim == 4 else x
    w, b = params["conv1.weight"].astype(np.float64), params["conv1.bias"].astype(np.float64)
    xp = np.pad(x, ((0, 0), (2, 2), (2, 2)))
    y = np.zeros((64, 32, 32)) + b[:, None, None]
    for ky in range(5):
        for kx in range(5):
            y += np.einsum("oc,chw->ohw", w[:, :, ky, kx], xp[:, ky:ky + 32, kx:kx + 32])
    return np.maximum(y, 0)


def test_run_json_values(tmp_path):
    code, out, err = cli(*RUN, "--format", "json", "--dump", tmp_path / "d")
    assert code == 0, err
    doc = json.loads(out)                                   # stdout is pure JSON
    assert err == f"dumped 6 layers to {tmp_path / 'd'}\n"
    assert doc["network"] == "alexnet-cifar" and doc["mode"] == "fast" and doc["profile"] is None
    assert [r["layer"] for r in doc["layers"]] == list(HAND)
    for r in doc["layers"]:
        assert list(r) == RUN_KEYS
        assert (r["output_shape"], r["macs"]) == HAND[r["layer"]]
        assert r["outputs"] == math.prod(r["output_shape"])
    assert doc["total"]["macs"] == sum(m for _, m in HAND.values())
    conv1 = doc["layers"][0]
    assert conv1["in_frac_bits"] == 7                       # the shipped networks' input format
    # SQNR of conv1 against an independent float conv of the same synthetic weights
    spec = networks.get("alexnet-cifar")
    from refimpl import image
    ref = float_conv1(spec, quantize.synthetic_params(spec, 0, until="conv1"), image.load(None, spec.input_shape))
    q = np.load(tmp_path / "d" / "conv1_output.npy").astype(np.float64) * 2.0 ** -conv1["out_frac_bits"]
    sqnr = 10 * math.log10(np.sum(ref ** 2) / np.sum((ref - q) ** 2))
    assert abs(conv1["sqnr_db"] - sqnr) < 1e-3 + 1e-9           # the JSON rounds to 3 decimals


def test_run_csv_and_table_carry_the_json_values():
    _, js, _ = cli(*RUN, "--format", "json")
    code, out, err = cli(*RUN, "--format", "csv")
    assert code == 0 and err == ""
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == RUN_KEYS
    for row, rec in zip(rows, json.loads(js)["layers"], strict=True):
        assert row["output_shape"] == "x".join(map(str, rec["output_shape"]))
        for k in ("macs", "in_frac_bits", "out_frac_bits", "acc_overflow_outputs", "saturated_outputs", "outputs"):
            assert int(row[k]) == rec[k], k
        assert float(row["sqnr_db"]) == rec["sqnr_db"]
        assert row["w_frac_bits"] == ("" if rec["w_frac_bits"] is None else str(rec["w_frac_bits"]))
    code, out, _ = cli(*RUN)
    lines = out.splitlines()
    assert lines[0].startswith("alexnet-cifar: ") and lines[1].startswith("layer ")
    conv1 = json.loads(js)["layers"][0]
    assert re.search(rf"^conv1 .* 4,915,200 .* 7/{conv1['w_frac_bits']}/{conv1['out_frac_bits']} ", lines[3])


def test_run_per_channel_formats_in_json_and_csv():
    _, js, _ = cli("run", "--network", "alexnet-cifar", "--until", "conv1", "--per-channel", "--format", "json")
    wf = json.loads(js)["layers"][0]["w_frac_bits"]
    assert isinstance(wf, list) and len(wf) == 64
    _, out, _ = cli("run", "--network", "alexnet-cifar", "--until", "conv1", "--per-channel", "--format", "csv")
    assert next(csv.DictReader(io.StringIO(out)))["w_frac_bits"] == f"{min(wf)}..{max(wf)}"


def test_tiled_run_adds_tiles_and_cycles_equal_to_the_cost_model():
    code, js, err = cli(*RUN, "--mode", "tiled", "--format", "json")
    assert code == 0, err
    doc = json.loads(js)
    assert doc["mode"] == "tiled" and doc["profile"] == "paper-28nm"
    _, cj, _ = cli("cost", "--network", "alexnet-cifar", "--until", "pool2", "--format", "json")
    cost = json.loads(cj)["layers"]
    for r, c in zip(doc["layers"], cost, strict=True):
        assert list(r) == RUN_KEYS + ["tiles", "cycles"]
        assert (r["tiles"], r["cycles"]) == (c["tiles"], c["cycles"]), r["layer"]
    assert doc["total"]["cycles"] == sum(c["cycles"] for c in cost)
    code, out, _ = cli("run", "--network", "alexnet-cifar", "--until", "conv1", "--mode", "tiled", "--format", "csv")
    assert out.splitlines()[0].endswith(",sqnr_db,tiles,cycles")
    assert out.splitlines()[1].endswith(f",{cost[0]['tiles']},{cost[0]['cycles']}")


COST_CSV = ["layer", "type", "tiling", "tiles", "macs", "mac_slots", "compute_cycles", "cycles", "stall_cycles",
            "utilization_fraction", "buffer_reads_words", "buffer_writes_words", "register_accesses", "dram_bytes",
            "decoded_weights_words", "alu_ops", "energy_mac_pj", "energy_buffer_pj", "energy_register_pj",
            "energy_dram_pj", "energy_weight_decoder_pj", "energy_static_pj", "energy_total_pj", "latency_s"]


def significant_digits(text: str) -> int:
    mantissa = text.lower().split("e")[0].replace("-", "").replace(".", "").lstrip("0")
    return len(mantissa.rstrip("0")) if "." in text.split("e")[0] else len(mantissa)


@pytest.mark.parametrize("net", ["alexnet", "vgg16"])
def test_cost_csv_is_the_json_without_float_noise(net):
    _, js, _ = cli("cost", "--network", net, "--format", "json")
    code, out, err = cli("cost", "--network", net, "--format", "csv")
    assert code == 0 and err == ""
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == COST_CSV
    rep = json.loads(js)
    for row, rec in zip(rows, rep["layers"] + [dict(rep["total"], name="total", type="", tiling="")], strict=True):
        flat = dict(rec, layer=rec["name"], utilization_fraction=rec["utilization"],
                    buffer_reads_words=rec["buffer_reads"], buffer_writes_words=rec["buffer_writes"],
                    decoded_weights_words=rec["decoded_weights"],
                    **{f"energy_{k}_pj": v for k, v in rec["energy_pj"].items()})
        for k in COST_CSV:
            if k in ("layer", "type", "tiling"):
                assert row[k] == flat[k]
                continue
            assert float(row[k]) == flat[k], (row["layer"], k)
            if "." in row[k] or "e" in row[k]:
                assert significant_digits(row[k]) <= 12, (k, row[k])   # no 60.61373999999999
        # units, independently: 640 pJ per 32-bit DRAM access, 200 MHz, 144 MACs (paper-28nm)
        assert float(row["energy_dram_pj"]) == pytest.approx(int(row["dram_bytes"]) / 4 * 640, rel=1e-11)
        assert float(row["latency_s"]) == pytest.approx(int(row["cycles"]) / 200e6, rel=1e-11)
        if int(row["macs"]):
            assert float(row["utilization_fraction"]) == pytest.approx(int(row["macs"]) / (144 * int(row["cycles"])),
                                                                       rel=1e-11)


@pytest.mark.parametrize("net", ["alexnet", "alexnet-cifar", "vgg16", "resnet50"])
def test_cost_default_table_fits_100_columns(net):
    code, out, _ = cli("cost", "--network", net)
    assert code == 0 and max(len(line) for line in out.splitlines()) <= 100
    header = out.splitlines()[1].split()
    assert header[:4] == ["layer", "type", "tiles", "MACs"]


def test_cost_columns_all_and_a_selection():
    code, out, _ = cli("cost", "--network", "alexnet-cifar", "--columns", "all")
    assert code == 0
    for head in ("stall cycles", "buffer rd (words)", "E DRAM (uJ)", "E static (uJ)", "tiling"):
        assert head in out.splitlines()[1]
    code, out, _ = cli("cost", "--network", "alexnet-cifar", "--columns", "layer,cycles", "--format", "csv")
    lines = out.splitlines()
    assert lines[0] == "layer,cycles" and lines[1].startswith("conv1,") and len(lines) == 15


def test_list_shows_the_shipped_sets_and_profiles_with_descriptions():
    code, out, err = cli("list")
    assert code == 0 and err == ""
    sets = [tomllib.loads(p.read_text()) for p in sorted((ROOT / "vectors").glob("*.toml"))]
    assert len(sets) >= 5
    for s in sets:
        assert re.search(rf"^{re.escape(s['name'])} +{re.escape(s['network'])} +{re.escape(s['description'])}$",
                         out, re.M), s["name"]
    profiles = [tomllib.loads(p.read_text()) for p in sorted((ROOT / "refimpl" / "profiles").glob("*.toml"))]
    for p in profiles:
        assert re.search(rf"^{re.escape(p['name'])} .*{re.escape(p['description'])}$", out, re.M), p["name"]
    for net in ("alexnet", "alexnet-cifar", "vgg16", "resnet50"):
        assert re.search(rf"^{net} ", out, re.M)
    assert re.search(r"^resnet50 .* geometry only", out, re.M)
    assert cli("golden", "--list")[1] == cli("list", "sets")[1]
    assert cli("cost", "--list-profiles")[1] == cli("list", "profiles")[1]


def subcommands():
    from refimpl.cli import build_parser
    action = build_parser()._subparsers._group_actions[0]
    return action.choices


def test_every_subcommand_has_a_description():
    subs = subcommands()
    assert {"run", "cost", "golden", "verify", "compare", "jpeg", "list"} <= set(subs)
    for name, parser in subs.items():
        assert parser.description and len(parser.description) > 30, name


@pytest.mark.parametrize("name", ["run", "cost", "golden", "verify", "compare", "list"])
def test_help_prints_the_description(name):
    code, out, err = cli(name, "--help")
    assert code == 0 and err == ""
    assert out.startswith(f"usage: refimpl {name}")
    first_words = " ".join(subcommands()[name].description.split()[:4])
    assert first_words in " ".join(out.split())


def scaled_weights(path, factor, which=("weight",)):
    spec = networks.get("alexnet-cifar")
    p = quantize.synthetic_params(spec, 0)
    p = {k: v * factor if k.rsplit(".", 1)[1] in which else v for k, v in p.items()}
    np.savez(path, **p)
    return p


def test_clamp_warning_names_the_layer_saturated(tmp_path):
    """Weights and biases x 1e6 (the issue's case): conv1's outputs need a fractional length
    below -8: max|y| * 2**-8 > 32767 in an independent float conv."""
    p = scaled_weights(tmp_path / "w.npz", 1e6, ("weight", "bias"))
    spec = networks.get("alexnet-cifar")
    from refimpl import image
    ref = float_conv1(spec, p, image.load(None, spec.input_shape))
    assert np.floor(np.abs(ref).max() * 2.0 ** -8 + 0.5) > 32767
    code, out, err = cli("run", "--network", "alexnet-cifar", "--until", "conv1", "--weights", tmp_path / "w.npz",
                         "--format", "json", "--dump", tmp_path / "d")
    assert code == 0
    assert err == ("refimpl: warning: layer conv1: outputs out_frac clamped at -8 (values too large: saturated) "
                   "[formats are kept within -8..24]\n" f"dumped 1 layers to {tmp_path / 'd'}\n")
    rec = json.loads(out)["layers"][0]
    assert rec["out_frac_bits"] == -8
    # the saturation count, independently: exact integer conv of the dumped tensors, half-up
    # requantization, outputs outside int16 before ReLU
    d = json.loads((tmp_path / "d" / "layers.json").read_text())["layers"][0]
    x = np.pad(np.load(tmp_path / "d" / "conv1_input.npy").astype(np.int64), ((0, 0), (2, 2), (2, 2)))
    w = np.load(tmp_path / "d" / "conv1_weights.npy").astype(np.int64)
    acc = np.zeros((64, 32, 32), np.int64) + (np.load(tmp_path / "d" / "conv1_bias.npy").astype(np.int64)
                                               << (d["in_frac"] + d["w_frac"] - d["b_frac"]))[:, None, None]
    for ky in range(5):
        for kx in range(5):
            acc += np.einsum("oc,chw->ohw", w[:, :, ky, kx], x[:, ky:ky + 32, kx:kx + 32])
    s = d["in_frac"] + d["w_frac"] - d["out_frac"]
    v = (acc + (1 << (s - 1))) >> s
    assert rec["saturated_outputs"] == int(np.count_nonzero((v > 32767) | (v < -32768))) > 30000


def test_clamp_warning_names_the_layer_precision_lost(tmp_path):
    """Weights x 1e-9: max|w| < 2**-24 / 2 rounds to zero at w_frac 24, the limit."""
    p = scaled_weights(tmp_path / "w.npz", 1e-9)
    assert np.abs(p["conv1.weight"]).max() * 2.0 ** 25 < 32767
    code, _, err = cli("run", "--network", "alexnet-cifar", "--until", "conv1", "--weights", tmp_path / "w.npz")
    assert code == 0
    assert err == ("refimpl: warning: layer conv1: weights w_frac clamped at 24 (values too small: precision lost) "
                   "[formats are kept within -8..24]\n")


def test_no_clamp_warning_for_the_default_runs():
    for argv in (("run", "--network", "alexnet-cifar"), ("run", "--network", "alexnet-cifar", "--weights", "synthetic"),
                 ("run", "--network", "alexnet-cifar", "--weights", "synthetic", "--per-channel", "--bias-bits", "32")):
        code, _, err = cli(*argv)
        assert code == 0 and err == "", argv


def test_trained_conv1_bias_clamp_is_named():
    # trained conv1: max |b| = 0.498 < 2**-1, so a 32-bit bias word would take
    # 31 + 1 = 32 fractional bits; the -8..24 limit clamps it, and the warning says so
    code, _, err = cli("run", "--network", "alexnet-cifar", "--per-channel", "--bias-bits", "32")
    assert code == 0 and err.startswith("refimpl: warning: layer conv1: bias b_frac clamped at 24"), err


def test_manifest_and_dump_record_the_weights_sha256(tmp_path):
    scaled_weights(tmp_path / "w.npz", 1.0)
    digest = hashlib.sha256((tmp_path / "w.npz").read_bytes()).hexdigest()
    (tmp_path / "s.toml").write_text('name = "mine"\nnetwork = "alexnet-cifar"\nweights = "w.npz"\n'
                                     'layers = ["conv1"]\nformats = ["npy"]\n')
    code, _, err = cli("golden", "--set", tmp_path / "s.toml", "--out", tmp_path / "g")
    assert code == 0, err
    doc = json.loads((tmp_path / "g" / "manifest.json").read_text())
    assert doc["weights_sha256"] == digest and doc["weights"] == "w.npz"
    code, out, err = cli("run", "--network", "alexnet-cifar", "--until", "conv1", "--weights", tmp_path / "w.npz",
                         "--dump", tmp_path / "d", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["weights_sha256"] == digest
    assert json.loads((tmp_path / "d" / "layers.json").read_text())["weights_sha256"] == digest


def run_with_tty_stderr(*argv):
    """(exit code, stdout, what the terminal on stderr received)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "refimpl", *argv], stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:                      # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    out = proc.stdout.read().decode()
    proc.wait()
    os.close(master)
    return proc.returncode, out, b"".join(chunks).decode()


def test_progress_only_on_a_terminal_and_not_with_quiet(tmp_path):
    argv = ("run", "--network", "alexnet-cifar", "--until", "pool2")
    code, plain, err = cli(*argv)
    assert code == 0 and err == ""                                       # not a terminal: no progress
    code, out, term = run_with_tty_stderr(*argv)
    assert code == 0 and out == plain                                    # stdout unchanged
    for i, name in enumerate(HAND, 1):
        assert f"refimpl: layer {i}/6 {name}" in term
    assert term.endswith("\r\x1b[K")                                     # the line is cleared at the end
    code, out, term = run_with_tty_stderr(*argv, "--quiet")
    assert code == 0 and out == plain and term == ""
    code, out, term = run_with_tty_stderr("golden", "--set", "smoke", "--out", str(tmp_path / "g"))
    assert code == 0 and "refimpl: layer 1/1 conv1" in term and out.startswith("golden set 'smoke'")
