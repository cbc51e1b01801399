"""Golden sets: checked-in sets regenerate byte for byte; verify and compare behave."""
import io
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from refimpl import vectors
from refimpl.cli import main

from contract_oracle import layer_direct, load, manifest, per_channel, requantize, tile_direct

ROOT = Path(__file__).resolve().parents[1]
CHECKED_IN = ["smoke", "jpeg-encoder", "wrap-acc32"]


def tree(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("name", CHECKED_IN)
def test_checked_in_sets_regenerate_byte_for_byte(name, tmp_path):
    vectors.build_set(vectors.load_set(name), tmp_path / name)
    want, got = tree(ROOT / "golden" / name), tree(tmp_path / name)
    assert sorted(got) == sorted(want)
    changed = [k for k in want if want[k] != got[k]]
    assert not changed, f"golden/{name}: regenerated files differ: {changed[:5]}"


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    d = tmp_path_factory.mktemp("g") / "smoke"
    assert main(["golden", "--set", "smoke", "--out", str(d)]) == 0
    return d


def test_default_twice_identical(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["golden", "--out", str(a)]) == 0
    assert main(["golden", "--out", str(b)]) == 0
    assert tree(a) == tree(b)
    doc = json.loads((a / "manifest.json").read_text())
    assert doc["network"] == "alexnet" and doc["set"] == "default"
    assert [l["name"] for l in doc["layers"]][-1] == "conv5"
    assert main(["verify", str(a)]) == 0
    assert "OK" in capsys.readouterr().out


def test_hex_files_are_readmemh_ready(smoke):
    doc = json.loads((smoke / "manifest.json").read_text())
    for e in doc["files"]:
        if e["format"] != "hex":
            continue
        text = (smoke / e["path"]).read_text()
        assert text.endswith("\n")
        lines = text.splitlines()
        head = [l for l in lines if l.startswith("//")]
        words = [l for l in lines if not l.startswith("//")]
        assert head and lines[:len(head)] == head
        width = -(-e["word_bits"] // 4)
        assert all(len(w) == width for w in words)
        assert len(words) == int(np.prod(e["shape"]))
        # the words are the npy values in two's complement, row-major
        npy = np.load(smoke / (e["path"][:-4] + ".npy")).reshape(-1).astype(np.int64)
        vals = np.array([int(w, 16) for w in words], dtype=np.int64)
        signed = np.where(vals >= 1 << (e["word_bits"] - 1), vals - (1 << e["word_bits"]), vals)
        assert np.array_equal(signed if not e["dtype"].startswith("u") else vals, npy), e["path"]


def test_tile_psums_independent(smoke):
    """The first conv1 tile's psums and outputs recomputed from its own input/weight/bias files."""
    doc = json.loads((smoke / "manifest.json").read_text())
    layer = doc["layers"][0]
    t = layer["tiles"][0]
    f = {k: np.load(smoke / (v + ".npy")).astype(np.int64) for k, v in t["files"].items()}
    p = t["params"]
    acc = np.zeros((p["m"], p["out_rows"], p["out_cols"]), np.int64)
    for c in range(p["tk"]):
        for ky in range(p["k"]):
            for kx in range(p["k"]):
                patch = f["inputs"][c, ky:ky + p["stride"] * p["out_rows"]:p["stride"],
                                    kx:kx + p["stride"] * p["out_cols"]:p["stride"]]
                acc += f["weights"][:, c, ky, kx, None, None] * patch[None]
    acc += (f["bias"] << p["bias_shift"])[:, None, None]
    assert np.array_equal(acc, f["psums"])
    s = p["shift"]
    y = np.clip((acc + (1 << (s - 1))) >> s, -32768, 32767)
    assert np.array_equal(np.maximum(y, 0) if p["relu"] else y, f["outputs"])
    # the expected cycles of the tile: ceil(m/12) * ceil(pixels/12) * K compute cycles
    k = p["tk"] * p["k"] ** 2
    assert t["expected"]["compute_cycles"] == -(-p["m"] // 12) * -(-(p["out_rows"] * p["out_cols"]) // 12) * k


def test_jpeg_vectors_match_pillow():
    g = ROOT / "golden" / "jpeg-encoder"
    doc = json.loads((g / "manifest.json").read_text())
    for j in doc["jpeg"]:
        img = np.load(g / (j["files"]["image"] + ".npy"))
        buf = io.BytesIO()
        kw = {"subsampling": j["subsampling"]} if j["subsampling"] else {}
        Image.fromarray(img).save(buf, "JPEG", quality=j["quality"], **kw)
        assert buf.getvalue() == (g / j["files"]["jpeg"]).read_bytes(), j["name"]


def copy(src, tmp_path):
    dst = tmp_path / "copy"
    shutil.copytree(src, dst)
    return dst


@pytest.mark.parametrize("damage, message", [
    (lambda d: (d / "layers/conv1/output.hex").write_bytes((d / "layers/conv1/output.hex").read_bytes()[:-7]), "truncated"),
    (lambda d: (d / "layers/conv1/weights.npy").unlink(), "missing"),
    (lambda d: (d / "layers/conv1/extra.hex").write_text("0000\n"), "extra file"),
    (lambda d: (d / "layers/conv1/bias.hex").write_bytes((d / "layers/conv1/bias.hex").read_bytes().replace(b"\n0", b"\n1", 1)), "altered"),
])
def test_verify_detects(smoke, tmp_path, capsys, damage, message):
    d = copy(smoke, tmp_path)
    damage(d)
    assert main(["verify", str(d)]) == 1
    assert message in capsys.readouterr().out


def rtl_dump(smoke, tmp_path, rel="layers/conv1/output.hex"):
    rtl = tmp_path / "rtl"
    (rtl / rel).parent.mkdir(parents=True)
    shutil.copy(smoke / rel, rtl / rel)
    return rtl, rtl / rel


def test_compare_self_and_one_changed_word(smoke, tmp_path, capsys):
    assert main(["compare", str(smoke), str(smoke)]) == 0
    capsys.readouterr()
    rtl, f = rtl_dump(smoke, tmp_path)
    lines = f.read_text().splitlines()
    body = [i for i, l in enumerate(lines) if not l.startswith("//")]
    # word 1234 of conv1's output [64][32][32]: channel 1, row 6, col 18
    i = body[1234]
    lines[i] = f"{(int(lines[i], 16) + 5) & 0xffff:04x}"
    f.write_text("\n".join(lines) + "\n")
    junit = tmp_path / "report.xml"
    assert main(["compare", str(smoke), str(rtl), "--junit", str(junit)]) == 1
    out = capsys.readouterr().out
    assert "MISMATCH layers/conv1/output.hex: 1 of 65536 words differ" in out
    assert "layer=conv1 channel=1 row=6 col=18" in out
    suite = ET.parse(junit).getroot()
    assert suite.get("failures") == "1" and suite.find("testcase/failure") is not None


def test_compare_x_digits(smoke, tmp_path, capsys):
    rtl, f = rtl_dump(smoke, tmp_path)
    lines = f.read_text().splitlines()
    body = [i for i, l in enumerate(lines) if not l.startswith("//")]
    lines[body[0]] = "xxxx"
    lines[body[1]] = "0z1x"
    f.write_text("\n".join(lines) + "\n")
    assert main(["compare", str(smoke), str(rtl)]) == 1
    out = capsys.readouterr().out
    assert "2 of 65536 words differ (2 X/Z)" in out and "got X/Z" in out


@pytest.mark.parametrize("edit, message", [
    (lambda t: "\n".join(t.splitlines()[:-3]) + "\n", "words, expected 65536"),
    (lambda t: t.replace("\n0", "\nhello", 1), "not a hex word: 'hello"),
    (lambda t: t + "0000\n", "more than the 65536 words expected"),
])
def test_compare_unusable(smoke, tmp_path, capsys, edit, message):
    rtl, f = rtl_dump(smoke, tmp_path)
    f.write_text(edit(f.read_text()))
    assert main(["compare", str(smoke), str(rtl)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_compare_refuses_corrupted_golden(smoke, tmp_path, capsys):
    g = copy(smoke, tmp_path)
    (g / "layers/conv1/output.npy").write_bytes(b"0")
    rtl, _ = rtl_dump(smoke, tmp_path)
    assert main(["compare", str(g), str(rtl)]) == 2
    assert "fails verification" in capsys.readouterr().err


def test_compare_other_inputs(smoke, tmp_path, capsys):
    rtl = tmp_path / "rtl"
    (rtl / "layers/conv1").mkdir(parents=True)
    (rtl / "layers/conv1/bogus.hex").write_text("0000\n")
    assert main(["compare", str(smoke), str(rtl)]) == 2
    assert "no golden counterpart" in capsys.readouterr().err
    (rtl / "layers/conv1/bogus.hex").unlink()
    assert main(["compare", str(smoke), str(rtl)]) == 2
    assert "no dumped files" in capsys.readouterr().err
    # a bin dump of the right length that matches, and one that is short
    want = np.load(smoke / "layers/conv1/output.npy")
    (rtl / "layers/conv1/output.bin").write_bytes(want.astype("<i2").tobytes())
    assert main(["compare", str(smoke), str(rtl)]) == 0
    (rtl / "layers/conv1/output.bin").write_bytes(want.astype("<i2").tobytes()[:-2])
    assert main(["compare", str(smoke), str(rtl)]) == 2
    assert "131070 bytes, expected 131072" in capsys.readouterr().err


def test_golden_errors(tmp_path, capsys):
    for argv, message in [(["golden", "--set", "nope"], "unknown golden set 'nope'"),
                          (["golden", "--set", "smoke", "--tiles", "some"], "tiles 'some' must be"),
                          (["golden", "--set", "smoke", "--format", "vcd"], "format 'vcd' unknown"),
                          (["golden", "--set", "smoke", "--layers", "conv9"], "unknown layer 'conv9'"),
                          (["golden", "--network", "resnet50"], "geometry-only")]:
        assert main(argv + ["--out", str(tmp_path / "g")]) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, (argv, err)
    assert not (tmp_path / "g").exists()


def test_unwritable_output_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    assert main(["golden", "--set", "smoke", "--out", str(blocker / "g")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot create output folder" in err
    assert main(["golden", "--set", "smoke", "--out", str(blocker)]) == 2
    assert "exists and is not a folder" in capsys.readouterr().err


# ---------------------------------------------------------------- golden sets for every contract
# Accumulator overflows per layer, as stated in vectors/*.toml and the README;
# the tests count them again with the direct loop of tests/contract_oracle.py.
WRAP_OVERFLOWS = {"conv1": 6}
TRUNCATE_OVERFLOWS = {"conv1": 6, "conv2": 106, "conv3": 3, "conv4": 22, "conv5": 5}
CONTRACT_SETS = {"wrap-acc32": dict(acc_bits=32, overflow="wrap", rounding="half_up", bias_bits=16, per_channel=False),
                 "truncate": dict(acc_bits=32, overflow="saturate", rounding="truncate", bias_bits=16,
                                  per_channel=False),
                 "half-even-per-channel": dict(acc_bits=40, overflow="saturate", rounding="half_even", bias_bits=32,
                                               per_channel=True)}


def check_layers_and_tiles(folder):
    """Every layer and tile of a set recomputed by the direct loop from its own files:
    returns ({layer: overflowed outputs}, {layer: {tile index: overflowed outputs}}, {layer: psums})."""
    doc = manifest(folder)
    layer_over, tile_over, layer_acc = {}, {}, {}
    for layer in doc["layers"]:
        acc, over, y = layer_direct(folder, layer)
        assert np.array_equal(y, load(folder, layer["files"]["output"])), layer["name"]
        layer_over[layer["name"]], layer_acc[layer["name"]] = int(over.sum()), acc
        tile_over[layer["name"]] = {}
        for t in layer["tiles"]:
            psums, t_over, outputs = tile_direct(folder, t)
            assert np.array_equal(psums, load(folder, t["files"]["psums"])), (layer["name"], t["index"])
            if t["last_chunk"]:
                assert np.array_equal(outputs, load(folder, t["files"]["outputs"])), (layer["name"], t["index"])
            tile_over[layer["name"]][t["index"]] = int(t_over.sum())
    return layer_over, tile_over, layer_acc


@pytest.mark.parametrize("name", sorted(CONTRACT_SETS))
def test_contract_sets_record_their_contract(contract_sets, name):
    doc = manifest(contract_sets[name])
    want = CONTRACT_SETS[name]
    assert doc["contract"] == want
    for layer in doc["layers"]:
        got = {k: layer[k] for k in ("acc_bits", "overflow", "rounding", "bias_bits", "per_channel")}
        assert got == want, layer["name"]
        for t in layer["tiles"]:
            p = t["params"]
            assert {k: p[k] for k in ("acc_bits", "overflow", "rounding", "bias_bits")} == \
                {k: want[k] for k in ("acc_bits", "overflow", "rounding", "bias_bits")}
            m = t["m1"] - t["m0"]
            assert p["m"] == m and (not want["per_channel"] or len(p["shift"]) == len(p["bias_shift"]) == m)
    for e in doc["files"]:
        if e["path"].endswith("bias.hex"):
            assert e["word_bits"] == want["bias_bits"] and f"bias={want['bias_bits']}b" in e["tag"]
        if e["path"].endswith("psums.hex"):
            assert e["word_bits"] == want["acc_bits"]


def test_wrap_set_overflows_counted_by_direct_loop(contract_sets):
    folder = contract_sets["wrap-acc32"]
    layer_over, tile_over, _ = check_layers_and_tiles(folder)
    assert layer_over == WRAP_OVERFLOWS
    assert tile_over == {"conv1": {0: 0, 1: 6, 2: 0}}          # all six in tile 1 (rows 15..29)
    doc = manifest(folder)
    assert {l["name"]: l["acc_overflows"] for l in doc["layers"]} == WRAP_OVERFLOWS
    # the wrapping is visible in the data: a saturating accumulator would give other psums
    t = doc["layers"][0]["tiles"][1]
    saturating = dict(t, params=dict(t["params"], overflow="saturate"))
    assert not np.array_equal(tile_direct(folder, saturating)[0], load(folder, t["files"]["psums"]))


def test_truncate_set_overflows_and_floor(contract_sets):
    folder = contract_sets["truncate"]
    layer_over, _, layer_acc = check_layers_and_tiles(folder)
    assert layer_over == TRUNCATE_OVERFLOWS
    doc = manifest(folder)
    assert {l["name"]: l["acc_overflows"] for l in doc["layers"]} == TRUNCATE_OVERFLOWS
    # truncation is visible: half up would change outputs of every layer
    for layer in doc["layers"]:
        acc, y = layer_acc[layer["name"]], load(folder, layer["files"]["output"])
        shift = layer["in_frac"] + per_channel(layer["w_frac"], acc.shape[0]) - layer["out_frac"]
        assert (requantize(acc, shift, "half_up", layer["relu"]) != y).sum() > 0, layer["name"]
    # grouped layers: group-1 tiles read input channels of group 1 and weights indexed within it
    conv2 = next(l for l in doc["layers"] if l["name"] == "conv2")
    x, w = load(folder, conv2["files"]["input"]), load(folder, conv2["files"]["weights"])
    t = next(t for t in conv2["tiles"] if t["index"] == 7)
    assert (t["group"], t["m0"], t["m1"], t["c0"], t["c1"]) == (1, 76, 88, 32, 64)
    assert np.array_equal(load(folder, t["files"]["weights"]), w[76:88, 0:32])
    pad = conv2["pad"]
    assert np.array_equal(load(folder, t["files"]["inputs"])[:, pad:-pad, pad:-pad], x[32:64])


def test_half_even_set_has_ties_chunks_and_per_channel_formats(contract_sets):
    folder = contract_sets["half-even-per-channel"]
    _, _, layer_acc = check_layers_and_tiles(folder)
    doc = manifest(folder)
    ties = {}
    for layer in doc["layers"]:
        assert isinstance(layer["w_frac"], list)
        acc, y = layer_acc[layer["name"]], load(folder, layer["files"]["output"])
        shift = layer["in_frac"] + per_channel(layer["w_frac"], acc.shape[0]) - layer["out_frac"]
        ties[layer["name"]] = int((requantize(acc, shift, "half_up", layer["relu"]) != y).sum())
        assert np.load(folder / (layer["files"]["bias"] + ".npy")).dtype == np.int32
        assert np.abs(load(folder, layer["files"]["bias"])).max() > 1 << 15       # needs the 32-bit word
    # exact ties (where half_even and half_up differ) occur on thousands of outputs
    assert ties == {"conv1": 0, "conv2": 5893, "conv3": 1045, "conv4": 937, "conv5": 656}
    assert len(set(next(l for l in doc["layers"] if l["name"] == "conv3")["w_frac"])) > 1
    # conv3..conv5: t0000 is the first input-channel chunk, t0001 continues from its psums
    for name in ("conv3", "conv4", "conv5"):
        t0, t1 = next(l for l in doc["layers"] if l["name"] == name)["tiles"]
        assert (t0["first_chunk"], t0["last_chunk"], t1["first_chunk"], t1["last_chunk"]) == (True, False, False, True)
        assert t0["psums_in"] is None and t1["psums_in"] == t0["files"]["psums"]
        assert (t0["m0"], t0["m1"], t0["c1"]) == (t1["m0"], t1["m1"], t1["c0"])
        assert "bias" not in t1["files"] and "outputs" not in t0["files"]


@pytest.mark.parametrize("text, message", [
    ("acc_bits = 31", "key 'acc_bits' = 31 must be an integer 32..62"),
    ("acc_bits = true", "key 'acc_bits' = True must be an integer 32..62"),
    ("overflow = 'clamp'", "key 'overflow' = 'clamp' must be one of saturate, wrap, error"),
    ("rounding = 'nearest'", "key 'rounding' = 'nearest' must be one of half_up, half_even, truncate"),
    ("bias_bits = 24", "key 'bias_bits' = 24 must be 16 or 32"),
    ("per_channel = 1", "key 'per_channel' = 1 must be true or false"),
    ("synthetic_weight_bits = 1", "key 'synthetic_weight_bits' = 1 must be an integer 2..8 (0: full precision)"),
])
def test_bad_contract_key_in_set_toml(tmp_path, text, message):
    f = tmp_path / "bad.toml"
    f.write_text(f'name = "bad"\nnetwork = "alexnet-cifar"\nlayers = ["conv1"]\n{text}\n')
    proc = subprocess.run([sys.executable, "-m", "refimpl", "golden", "--set", str(f), "--out", str(tmp_path / "g")],
                          capture_output=True, text=True, cwd=tmp_path, env=_env())
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == f"refimpl: error: {f}: {message}\n"
    assert not (tmp_path / "g").exists()


@pytest.mark.parametrize("flags, message", [
    (["--acc-bits", "31"], "--acc-bits 31: must be an integer 32..62"),
    (["--acc-bits", "63"], "--acc-bits 63: must be an integer 32..62"),
    (["--overflow", "clamp"], "--overflow clamp: must be one of saturate, wrap, error"),
    (["--rounding", "nearest"], "--rounding nearest: must be one of half_up, half_even, truncate"),
    (["--bias-bits", "24"], "--bias-bits 24: must be 16 or 32"),
    (["--acc-bits", "x"], "argument --acc-bits: invalid int value: 'x'"),
    (["--per-channel=yes"], "argument --per-channel/--no-per-channel: ignored explicit argument 'yes'"),
])
def test_bad_contract_flag(tmp_path, flags, message):
    proc = subprocess.run([sys.executable, "-m", "refimpl", "golden", "--set", "smoke", *flags,
                           "--out", str(tmp_path / "g")], capture_output=True, text=True, cwd=tmp_path, env=_env())
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("refimpl: error: ") and message in proc.stderr
    assert not (tmp_path / "g").exists()


def test_contract_flags_override_the_set(tmp_path):
    out = tmp_path / "g"
    assert main(["golden", "--set", "smoke", "--acc-bits", "32", "--overflow", "wrap", "--rounding", "truncate",
                 "--bias-bits", "32", "--per-channel", "--out", str(out)]) == 0
    doc = manifest(out)
    assert doc["contract"] == dict(acc_bits=32, overflow="wrap", rounding="truncate", bias_bits=32, per_channel=True)
    layer = doc["layers"][0]
    assert (layer["acc_bits"], layer["overflow"], layer["rounding"], layer["bias_bits"]) == (32, "wrap", "truncate", 32)
    assert isinstance(layer["w_frac"], list) and layer["per_channel"] is True
    check_layers_and_tiles(out)
    assert main(["golden", "--set", "half-even-per-channel", "--no-per-channel", "--layers", "conv1", "--tiles", "none",
                 "--out", str(tmp_path / "h")]) == 0
    assert manifest(tmp_path / "h")["layers"][0]["per_channel"] is False


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    return env


def test_error_policy_on_overflowing_data_is_one_line(tmp_path):
    """wrap-acc32's data overflow a 32-bit accumulator: under policy error the set is refused."""
    proc = subprocess.run([sys.executable, "-m", "refimpl", "golden", "--set", "wrap-acc32", "--overflow", "error",
                           "--out", str(tmp_path / "g")], capture_output=True, text=True, cwd=tmp_path, env=_env())
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("refimpl: error: layer conv1: ")
    assert "32-bit accumulator overflow" in proc.stderr
    assert not (tmp_path / "g").exists()
