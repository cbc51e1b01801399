"""The manifest is validated, not trusted: a tampered-manifest battery through `verify` and `compare`.

Each tampering keeps the files' sizes and sha256 consistent with the manifest
(where the tampering is of the data), so only the schema and the agreement of
manifest and data can catch it.  Every case runs the CLI as a subprocess and
checks the exit status (2) and the one line naming the entry and the field.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "golden" / "smoke"
PSUMS = "tiles/conv1/t0000/psums"
OUT = "layers/conv1/output"


def cli(*args):
    p = subprocess.run([sys.executable, "-m", "refimpl", *map(str, args)], capture_output=True, text=True,
                       cwd=ROOT, timeout=120)
    return p.returncode, p.stdout, p.stderr


def entry(doc, path):
    return next(e for e in doc["files"] if e["path"] == path)


def reseal(g: Path, doc, path):
    """Make the manifest's size and sha256 of ``path`` match the file as it is now (a forger's step)."""
    data = (g / path).read_bytes()
    e = entry(doc, path)
    e["bytes"], e["sha256"] = len(data), hashlib.sha256(data).hexdigest()


@pytest.fixture
def g(tmp_path):
    d = tmp_path / "golden"
    shutil.copytree(SMOKE, d)
    return d


@pytest.fixture
def rtl(tmp_path):
    """A correct RTL dump of conv1's output (what compare would otherwise match)."""
    d = tmp_path / "rtl"
    (d / "layers/conv1").mkdir(parents=True)
    shutil.copy(SMOKE / f"{OUT}.hex", d / f"{OUT}.hex")
    return d


def edit(g: Path, change):
    doc = json.loads((g / "manifest.json").read_text())
    change(g, doc)
    (g / "manifest.json").write_text(json.dumps(doc))


def t_path_escape(g, doc):
    shutil.copy(g / f"{OUT}.hex", g.parent / "outside.hex")
    entry(doc, f"{OUT}.hex")["path"] = "../outside.hex"


def t_absolute(g, doc):
    data = Path("/etc/hostname").read_bytes() if Path("/etc/hostname").is_file() else b""
    doc["files"].append(dict(path="/etc/hostname", bytes=len(data), sha256=hashlib.sha256(data).hexdigest(),
                             format="raw", dtype="uint8", shape=[len(data)], word_bits=8, axes=["byte"], tag="x"))


def t_symlink(g, doc):
    shutil.copy(g / f"{OUT}.hex", g.parent / "outside.hex")
    (g / f"{OUT}.hex").unlink()
    (g / f"{OUT}.hex").symlink_to(g.parent / "outside.hex")


def t_symlinked_folder(g, doc):
    shutil.move(g / "layers", g.parent / "elsewhere")
    (g / "layers").symlink_to(g.parent / "elsewhere")


def t_folder(g, doc):
    (g / f"{OUT}.hex").unlink()
    (g / f"{OUT}.hex").mkdir()


def t_fifo(g, doc):
    (g / f"{OUT}.hex").unlink()
    os.mkfifo(g / f"{OUT}.hex")


def t_shape_permuted(g, doc):
    for fmt in ("hex", "npy"):
        entry(doc, f"{OUT}.{fmt}")["shape"] = [32, 64, 32]


def t_shape_permuted_hex_only(g, doc):
    doc["files"].remove(entry(doc, f"{OUT}.npy"))
    (g / f"{OUT}.npy").unlink()
    entry(doc, f"{OUT}.hex")["shape"] = [32, 64, 32]


def t_shape_size(g, doc):
    for fmt in ("hex", "npy"):
        entry(doc, f"{OUT}.{fmt}")["shape"] = [64, 32, 31]


def t_shape_huge(g, doc):
    entry(doc, f"{OUT}.hex")["shape"] = [10 ** 12, 10 ** 18, 1]


def t_shape_abc(g, doc):
    entry(doc, f"{OUT}.hex")["shape"] = "abc"


def t_shape_negative(g, doc):
    entry(doc, f"{OUT}.hex")["shape"] = [-64, 32, -32]


def t_word_bits_48(g, doc):
    for fmt in ("hex", "npy"):
        entry(doc, f"{PSUMS}.{fmt}")["word_bits"] = 48


def t_word_bits_48_npy_only(g, doc):
    doc["files"].remove(entry(doc, f"{PSUMS}.hex"))
    (g / f"{PSUMS}.hex").unlink()
    entry(doc, f"{PSUMS}.npy")["word_bits"] = 48


def t_word_bits_narrow(g, doc):
    for fmt in ("hex", "npy"):
        entry(doc, f"{PSUMS}.{fmt}")["word_bits"] = 32       # a width the writer does produce, too narrow here


def t_word_bits_unknown(g, doc):
    entry(doc, f"{OUT}.hex")["word_bits"] = 12


def t_dtype(g, doc):
    entry(doc, f"{OUT}.npy")["dtype"] = "int32"
    entry(doc, f"{OUT}.npy")["word_bits"] = 32


def t_dtype_unknown(g, doc):
    entry(doc, f"{OUT}.npy")["dtype"] = "float32"


def t_format(g, doc):
    entry(doc, f"{OUT}.hex")["format"] = "bin"


def t_missing_format(g, doc):
    del entry(doc, f"{OUT}.hex")["format"]


def t_missing_shape(g, doc):
    del entry(doc, f"{OUT}.hex")["shape"]


def t_path_5(g, doc):
    entry(doc, f"{OUT}.hex")["path"] = 5


def t_path_null(g, doc):
    entry(doc, f"{OUT}.hex")["path"] = None


def t_hex_npy_disagree(g, doc):
    lines = (g / f"{OUT}.hex").read_text().splitlines()
    i = next(k for k, line in enumerate(lines) if not line.startswith("//")) + 100
    lines[i] = f"{(int(lines[i], 16) + 1) & 0xffff:04x}"
    (g / f"{OUT}.hex").write_text("\n".join(lines) + "\n")
    reseal(g, doc, f"{OUT}.hex")


def t_npy_forged_shape(g, doc):
    a = np.load(g / f"{OUT}.npy")
    np.save(g / f"{OUT}.npy", a.reshape(32, 64, 32))
    reseal(g, doc, f"{OUT}.npy")


BATTERY = [
    (t_path_escape, "'path' \"../outside.hex\" leaves the set ('..')"),
    (t_absolute, "'path' \"/etc/hostname\" must be a relative POSIX path"),
    (t_symlink, "'path' names a symlink, not a regular file"),
    (t_symlinked_folder, "names a symlink (its component 'layers' is)"),
    (t_folder, "'path' names a folder, not a regular file"),
    (t_fifo, "'path' names a FIFO, not a regular file"),
    (t_shape_permuted, "npy shape [64, 32, 32], expected [32, 64, 32]"),
    (t_shape_permuted_hex_only, "manifest 'shape' [32, 64, 32], the file's header says shape=64x32x32"),
    (t_shape_size, "npy shape [64, 32, 32], expected [64, 32, 31]"),
    (t_shape_huge, "manifest 'shape' [1000000000000, 1000000000000000000, 1] is 1000000000000000000000000000000 words"),
    (t_shape_abc, "'shape' must be a list of non-negative integers, got \"abc\""),
    (t_shape_negative, "'shape' must be a list of non-negative integers"),
    (t_word_bits_48, "manifest 'word_bits' 48, the file's header says word_bits=40"),
    (t_word_bits_48_npy_only, "'word_bits' 48 but layers[0].tiles[0] params acc_bits is 40"),
    (t_word_bits_narrow, "'word_bits' 32 but layers[0].tiles[0] params acc_bits is 40"),
    (t_word_bits_unknown, "'word_bits' 12 is not a width the writer produces for int16 (16)"),
    (t_dtype, "npy holds int16, manifest 'dtype' says int32"),
    (t_dtype_unknown, "'dtype' \"float32\" is not a dtype the writer produces"),
    (t_format, "'format' \"bin\" but the path ends in \".hex\""),
    (t_missing_format, "'format' missing"),
    (t_missing_shape, "'shape' missing"),
    (t_path_5, "files[4]: 'path' must be a non-empty string, got 5"),
    (t_path_null, "files[4]: 'path' must be a non-empty string, got null"),
    (t_hex_npy_disagree, "the hex and npy files hold different words (1 differ, first at flat index 100"),
    (t_npy_forged_shape, "npy shape [32, 64, 32], expected [64, 32, 32]"),
]


@pytest.mark.parametrize("tamper, message", BATTERY, ids=[t.__name__[2:] for t, _ in BATTERY])
def test_tampered_manifest_verify_and_compare(g, rtl, tamper, message):
    edit(g, tamper)
    rc, out, err = cli("verify", g)
    assert rc == 2, (out, err)
    lines = [line for line in err.splitlines() if message in line]
    assert lines and all(line.startswith(f"refimpl: error: {g}: manifest.json: ") for line in lines), err
    assert "Traceback" not in err
    rc, out, err = cli("compare", g, rtl)
    assert rc == 2, (out, err)
    assert any(message in line for line in err.splitlines()), err
    assert err.splitlines()[-1].endswith("refusing to compare") and not out and "Traceback" not in err


@pytest.mark.parametrize("text, message", [
    ("[" * 100_000 + "]" * 100_000, "JSON nested too deeply"),
    ('{"schema": 1, "files": ' + "[" * 100_000 + "]" * 100_000 + "}", "JSON nested too deeply"),
    ("{not json", "manifest.json: unreadable (Expecting property name"),
    ('{"schema": 2, "files": []}', "not a schema-1 golden manifest"),
    ('{"schema": 1, "files": {}}', "not a schema-1 golden manifest"),
    ('{"schema": 1, "files": [5]}', "files[0]: 'entry' must be a JSON object, got 5"),
])
def test_malformed_manifest_one_line(g, rtl, text, message):
    (g / "manifest.json").write_text(text)
    rc, out, err = cli("verify", g)
    assert rc == 2 and message in err and "Traceback" not in err, err
    if "files[0]" not in message:
        assert err.count("\n") == 1 and not out, (out, err)
    rc, out, err = cli("compare", g, rtl)
    assert rc == 2 and message in err and "Traceback" not in err, err


def test_each_violation_is_its_own_line(g):
    def two(g, doc):
        entry(doc, f"{OUT}.hex")["shape"] = "abc"
        del entry(doc, f"{PSUMS}.npy")["dtype"]
    edit(g, two)
    rc, out, err = cli("verify", g)
    assert rc == 2 and err.count("\n") == 2, err
    assert f"files[4] \"{OUT}.hex\": 'shape' must be" in err and f"\"{PSUMS}.npy\": 'dtype' missing" in err
    assert "2 manifest violation(s)" in out


def test_verify_missing_dir_is_unusable(tmp_path):
    rc, out, err = cli("verify", tmp_path / "nope")
    assert rc == 2 and err == f"refimpl: error: {tmp_path / 'nope'}: no such folder\n" and not out
    rc, out, err = cli("verify", tmp_path)
    assert rc == 2 and err == f"refimpl: error: {tmp_path}: manifest.json: missing (not a golden set)\n"


@pytest.mark.parametrize("make, message", [
    (lambda g: (g / "layers/link").symlink_to("/etc"), "layers/link: extra symlink, not in the manifest"),
    (lambda g: (g / "layers/dangling.hex").symlink_to(g / "nowhere"), "layers/dangling.hex: extra symlink"),
    (lambda g: os.mkfifo(g / "layers/conv1/pipe"), "layers/conv1/pipe: extra FIFO, not in the manifest"),
    (lambda g: (g / "layers/conv9").mkdir(), "layers/conv9: extra folder, not in the manifest"),
    (lambda g: (g / ".smoke.tmp-abc/layers").mkdir(parents=True), ".smoke.tmp-abc: extra folder"),
])
def test_unlisted_things_are_extra(g, rtl, make, message):
    make(g)
    rc, out, err = cli("verify", g)
    assert rc == 1 and f"FAIL {message}" in out and not err, (out, err)
    rc, out, err = cli("compare", g, rtl)
    assert rc == 2 and message in err and "fails verification" in err


def test_untampered_sets_verify(tmp_path):
    for name in ("smoke", "jpeg-encoder"):
        rc, out, err = cli("verify", ROOT / "golden" / name)
        assert (rc, err) == (0, "") and out.endswith(": OK\n"), (name, out, err)


def test_bin_forged_against_hex_and_npy(tmp_path, rtl):
    """A three-format set: a bin file with one changed word and a resealed manifest is refused."""
    g = tmp_path / "g3"
    rc, out, err = cli("golden", "--set", "smoke", "--format", "hex,bin,npy", "--out", g)
    assert rc == 0, err
    assert cli("verify", g)[0] == 0

    def forge(g, doc):
        v = np.fromfile(g / f"{OUT}.bin", "<i2").copy()
        v[7] ^= 0x100
        (g / f"{OUT}.bin").write_bytes(v.tobytes())
        reseal(g, doc, f"{OUT}.bin")
    edit(g, forge)
    message = f"tensor \"{OUT}\": the bin and hex files hold different words (1 differ, first at flat index 7"
    rc, out, err = cli("verify", g)
    assert rc == 2 and message in err, err
    assert "the bin and npy files hold different words" in err
    rc, out, err = cli("compare", g, rtl)
    assert rc == 2 and message in err and "refusing to compare" in err
