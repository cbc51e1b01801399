"""Golden sets: checked-in sets regenerate byte for byte; verify and compare behave."""
import io
import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from refimpl import vectors
from refimpl.cli import main

ROOT = Path(__file__).resolve().parents[1]
CHECKED_IN = ["smoke", "jpeg-encoder"]


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
