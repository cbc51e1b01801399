"""compare: strict where a testbench bug would pass as data, usable where testbenches are messy.

Every case runs ``refimpl compare`` as a subprocess and checks the exit status
and the message; the expected words come from the golden .npy files (the
writer's independent second format), never from compare's own output.
"""
import errno
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, strategies as st

from refimpl import compare, fileio
from refimpl.wordfile import read_hex

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "golden" / "smoke"
OUT = "layers/conv1/output"             # int16 [64][32][32]
PSUMS = "tiles/conv1/t0000/psums"       # 40-bit words in int64 [64][15][32]


def cli(*args):
    p = subprocess.run([sys.executable, "-m", "refimpl", *map(str, args)], capture_output=True, text=True,
                       cwd=ROOT, timeout=120)
    return p.returncode, p.stdout, p.stderr


def words(stem):
    return np.load(SMOKE / f"{stem}.npy").reshape(-1).astype(np.int64)


def hex_text(values, bits, digits=None, prefix="", newline="\n"):
    """Hex dump text written here with Python's format (not the package's writer)."""
    digits = digits or -(-bits // 4)
    return "".join(f"{prefix}{v & ((1 << bits) - 1):0{digits}x}{newline}" for v in values)


@pytest.fixture
def rtl(tmp_path):
    d = tmp_path / "rtl"
    (d / "layers/conv1").mkdir(parents=True)
    (d / "tiles/conv1/t0000").mkdir(parents=True)
    return d


def dump(rtl, rel, data):
    (rtl / rel).write_bytes(data if isinstance(data, bytes) else data.encode())


def one_error(rc, out, err, message):
    assert rc == 2, (rc, out, err)
    assert err.count("\n") == 1 and err.startswith("refimpl: error: ") and message in err, err
    assert "Traceback" not in err


def test_independent_dump_matches(rtl):
    dump(rtl, f"{OUT}.hex", hex_text(words(OUT), 16))
    dump(rtl, f"{PSUMS}.hex", "// written by a testbench\n" + hex_text(words(PSUMS), 40))
    rc, out, err = cli("compare", SMOKE, rtl)
    assert (rc, err) == (0, ""), (out, err)
    assert f"match    {OUT}.hex: 65536 words" in out and f"match    {PSUMS}.hex: 30720 words" in out


def test_0x_prefix_is_not_a_hex_word(rtl):
    dump(rtl, f"{PSUMS}.hex", hex_text(words(PSUMS), 40, prefix="0x"))
    one_error(*cli("compare", SMOKE, rtl), f"{rtl / PSUMS}.hex:1: not a hex word: '0x")
    dump(rtl, f"{OUT}.hex", "0000\n0x044b\n")                      # a short file: the word is named first
    one_error(*cli("compare", SMOKE, rtl), f"{rtl / OUT}.hex:2: not a hex word: '0x044b'")
    (rtl / f"{OUT}.hex").unlink()
    # with a header, the line named is the first word's line; 0x044b style on a 16-bit dump
    dump(rtl, f"{PSUMS}.hex", hex_text(words(PSUMS), 40))
    dump(rtl, f"{OUT}.hex", "// header\n// header\n" + hex_text(words(OUT), 16, digits=4, prefix="0x"))
    rc, out, err = cli("compare", SMOKE, rtl)
    one_error(rc, out, err, f"{rtl / OUT}.hex:3: not a hex word: '0x{words(OUT)[0] & 0xffff:04x}' "
                            f"($readmemh words are bare hex digits, no 0x prefix)")


@pytest.mark.parametrize("extend", ["sign", "zero"])
def test_wider_words_rejected_both_ways(rtl, extend):
    """32-bit words for a 16-bit tensor: sign-extended (ffff8000) and zero-extended (00000123) alike."""
    v = words(OUT)
    w = v.copy()
    if extend == "zero":
        w = v & 0xffff                 # a 16-bit pattern in a 32-bit word: its value fits, the width does not
    dump(rtl, f"{OUT}.hex", hex_text(w, 32))
    rc, out, err = cli("compare", SMOKE, rtl)
    one_error(rc, out, err, f"{rtl / OUT}.hex:1: word '{int(w[0]) & 0xffffffff:08x}' has 8 hex digits; "
                            f"the golden width is 16 bits (4 digits)")


def test_wider_value_in_narrow_digits(rtl):
    """40-bit psums need 10 digits; a 10-digit word is fine, an 11th digit is a width error."""
    v = words(PSUMS)
    dump(rtl, f"{PSUMS}.hex", hex_text(v, 44, digits=11))
    one_error(*cli("compare", SMOKE, rtl), "has 11 hex digits; the golden width is 40 bits (10 digits)")


@pytest.mark.parametrize("fmt", ["npy", "bin"])
def test_zero_extended_npy_bin_rejected(rtl, fmt):
    """40-bit psums written unsigned into int64 (negative words become 2**40 - |v|): a width bug."""
    v = words(PSUMS)
    assert v.min() < 0
    z = v & ((1 << 40) - 1)
    if fmt == "npy":
        np.save(rtl / f"{PSUMS}.npy", z.reshape(64, 15, 32))
    else:
        dump(rtl, f"{PSUMS}.bin", z.astype("<i8").tobytes())
    i = int(np.flatnonzero(v < 0)[0])
    one_error(*cli("compare", SMOKE, rtl), f"{rtl / PSUMS}.{fmt}: word {i} = {int(z[i])} does not fit the golden "
                                           f"width of 40 bits (signed -549755813888..549755813887)")


def test_npy_wrong_shape_and_junk(rtl):
    v = words(OUT)
    np.save(rtl / f"{OUT}.npy", v.astype(np.int16))                        # flat: right size, wrong shape
    one_error(*cli("compare", SMOKE, rtl), f"{rtl / OUT}.npy: npy shape [65536], expected [64, 32, 32]")
    np.save(rtl / f"{OUT}.npy", v.astype(np.int16).reshape(32, 64, 32))    # permuted
    one_error(*cli("compare", SMOKE, rtl), "npy shape [32, 64, 32], expected [64, 32, 32]")
    dump(rtl, f"{OUT}.npy", b"this is not numpy\n")
    one_error(*cli("compare", SMOKE, rtl), f"{rtl / OUT}.npy: not an npy file")
    dump(rtl, f"{OUT}.npy", b"\x93NUMPY\x01\x00\xff\xff")                 # truncated header
    one_error(*cli("compare", SMOKE, rtl), f"{rtl / OUT}.npy: not an npy file")
    np.save(rtl / f"{OUT}.npy", v.astype(np.float32).reshape(64, 32, 32))
    one_error(*cli("compare", SMOKE, rtl), "npy holds float32, expected integer words")
    np.save(rtl / f"{OUT}.npy", v.astype(np.int32).reshape(64, 32, 32))    # a wider container is fine
    rc, out, err = cli("compare", SMOKE, rtl)
    assert (rc, err) == (0, "") and f"match    {OUT}.npy: 65536 words" in out


def test_bom_named_crlf_accepted(rtl):
    body = hex_text(words(OUT), 16)
    dump(rtl, f"{OUT}.hex", b"\xef\xbb\xbf" + body.encode())
    one_error(*cli("compare", SMOKE, rtl), f"{rtl / OUT}.hex:1: starts with a UTF-8 byte-order mark (EF BB BF)")
    dump(rtl, f"{OUT}.hex", "// crlf\r\n" + hex_text(words(OUT), 16, newline="\r\n"))
    rc, out, err = cli("compare", SMOKE, rtl)
    assert (rc, err) == (0, "") and f"match    {OUT}.hex: 65536 words" in out
    # CRLF with a changed word: the mismatch is found (the \r is not part of the word)
    v = words(OUT).copy()
    v[5] += 1
    dump(rtl, f"{OUT}.hex", hex_text(v, 16, newline="\r\n"))
    rc, out, err = cli("compare", SMOKE, rtl)
    assert rc == 1 and "1 of 65536 words differ" in out and "channel=0 row=0 col=5" in out


def test_addresses(rtl):
    v = words(OUT)
    text = "@0\n" + hex_text(v[:10], 16) + "@a\n" + hex_text(v[10:], 16)
    dump(rtl, f"{OUT}.hex", text)
    assert cli("compare", SMOKE, rtl)[0] == 0
    dump(rtl, f"{OUT}.hex", "@-1\n" + hex_text(v, 16))
    one_error(*cli("compare", SMOKE, rtl), f"{rtl / OUT}.hex:1: bad address '@-1'")
    dump(rtl, f"{OUT}.hex", hex_text(v, 16) + "@10000\n0000\n")
    one_error(*cli("compare", SMOKE, rtl), "address '@10000' = 65536 is past the 65536 words expected")


def test_ignore_globs_and_not_dumped(rtl, tmp_path):
    dump(rtl, f"{OUT}.hex", hex_text(words(OUT), 16))
    dump(rtl, "sim.log", "VCS simulation log\n")
    (rtl / "waves").mkdir()
    dump(rtl, "waves/top.vcd", "$date today $end\n")
    one_error(*cli("compare", SMOKE, rtl), f"{rtl / 'sim.log'}: no golden counterpart")
    rc, out, err = cli("compare", SMOKE, rtl, "--ignore", "*.log")
    one_error(rc, out, err, f"{rtl / 'waves/top.vcd'}: no golden counterpart")
    rc, out, err = cli("compare", SMOKE, rtl, "--ignore", "*.log", "--ignore", "waves")
    assert (rc, err) == (0, ""), err
    golden_stems = sorted({p.relative_to(SMOKE).as_posix().rsplit(".", 1)[0] for p in SMOKE.rglob("*.npy")})
    missing = [s for s in golden_stems if s != OUT]
    assert len(missing) == 8
    for stem in missing:
        assert f"skipped  {stem}: not dumped by the RTL" in out
    assert out.splitlines()[-1] == "compare: 1 files, 1 match, 0 mismatch; 8 golden tensors not dumped by the RTL"
    rc, out, err = cli("compare", SMOKE, rtl, "--ignore", "*.log", "--ignore", "waves/*", "--require-all")
    assert rc == 1 and f"MISSING  {PSUMS}: not dumped by the RTL" in out and "(--require-all: fail)" in out


def test_junit(rtl, tmp_path):
    v = words(OUT).copy()
    v[1234] += 5
    dump(rtl, f"{OUT}.hex", hex_text(v, 16))
    junit = tmp_path / "report.xml"
    rc, out, err = cli("compare", SMOKE, rtl, "--junit", junit)
    assert rc == 1, err
    suite = ET.parse(junit).getroot()
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props == {"golden": str(SMOKE), "rtl": str(rtl)}
    cases = {f"{c.get('classname')}.{c.get('name')}": c for c in suite.iter("testcase")}
    assert len(cases) == 9 and suite.get("tests") == "9"
    assert suite.get("skipped") == "8" and suite.get("failures") == "1"
    assert cases["layers.conv1.output.hex"].find("failure").get("message") == "1 of 65536 words differ"
    assert cases["tiles.conv1.t0000.psums"].find("skipped").get("message") == "not dumped by the RTL"
    rc, out, err = cli("compare", SMOKE, rtl, "--junit", junit, "--require-all")
    suite = ET.parse(junit).getroot()
    assert rc == 1 and suite.get("failures") == "9" and suite.get("skipped") == "0"


@pytest.mark.parametrize("make, message", [
    (lambda r: (r / f"{PSUMS}.hex").mkdir(), "is a folder, not a dump file"),
    (lambda r: (r / f"{PSUMS}.hex").symlink_to(r / "nowhere.hex"), "dangling symlink"),
    (lambda r: os.mkfifo(r / f"{PSUMS}.hex"), "is a FIFO, not a dump file"),
    (lambda r: (r / "tiles/more").symlink_to(r / "layers"), "is a symlink to a folder, not a dump file"),
])
def test_bad_dump_paths_beside_good_ones(rtl, make, message):
    dump(rtl, f"{OUT}.hex", hex_text(words(OUT), 16))
    make(rtl)
    one_error(*cli("compare", SMOKE, rtl), message)


def test_symlink_to_a_dump_is_read(rtl, tmp_path):
    (tmp_path / "elsewhere.hex").write_text(hex_text(words(OUT), 16))
    (rtl / f"{OUT}.hex").symlink_to(tmp_path / "elsewhere.hex")
    rc, out, err = cli("compare", SMOKE, rtl)
    assert (rc, err) == (0, "") and f"match    {OUT}.hex" in out


def test_junit_to_a_device_keeps_the_verdict(rtl):
    v = words(OUT).copy()
    v[0] += 1
    dump(rtl, f"{OUT}.hex", hex_text(v, 16))
    rc, out, err = cli("compare", SMOKE, rtl, "--junit", "/dev/full")
    assert rc == 1 and "1 of 65536 words differ" in out
    assert err == ("refimpl: error: JUnit report not written: /dev/full: cannot write (exists and is not a regular "
                   "file); exit status 1 is the comparison's\n"), err
    assert Path("/dev/full").is_char_device()


_fdopen = os.fdopen


class _FullDisk:
    """A file object whose writes fail as on a full disk."""

    def __init__(self, fd, mode):
        self.f = _fdopen(fd, mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()

    def write(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("status", [0, 1])
def test_junit_on_a_full_disk(rtl, tmp_path, monkeypatch, status):
    v = words(OUT).copy()
    v[0] += status
    dump(rtl, f"{OUT}.hex", hex_text(v, 16))
    junit = tmp_path / "reports" / "compare.xml"
    junit.parent.mkdir()
    monkeypatch.setattr(fileio.os, "fdopen", _FullDisk)
    lines, errs = [], []
    rc = compare.run(SMOKE, rtl, junit=str(junit), out=lines.append, err=errs.append)
    assert rc == status
    assert errs == [f"refimpl: error: JUnit report not written: {junit}: cannot write (No space left on device); "
                    f"exit status {status} is the comparison's"]
    assert list(junit.parent.iterdir()) == []                   # no temporary left behind


def test_golden_on_a_full_disk(tmp_path, monkeypatch, capsys):
    """Writing a set on a full disk names the set's folder and the file, and leaves nothing behind."""
    from refimpl.cli import main
    real = Path.write_bytes

    def full(self, data):
        if self.name == "weights.hex":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", full)
    out = tmp_path / "g"
    assert main(["golden", "--set", "smoke", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == f"refimpl: error: {out}: cannot write layers/conv1/weights.hex (No space left on device)\n", err
    assert list(tmp_path.iterdir()) == []


@given(st.data())
def test_hex_reader_fast_and_slow_paths_agree_with_python(data):
    """Fixed-width dumps take a vectorised path, anything else the token loop: both give the words
    Python's int(word, 16) and two's complement give (the oracle)."""
    bits = data.draw(st.sampled_from([8, 10, 16, 32, 40, 62]))
    signed = data.draw(st.booleans())
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    values = data.draw(st.lists(st.integers(lo, hi), min_size=1, max_size=50))
    fixed = hex_text(values, bits).encode()
    messy = ("// c\n" + hex_text(values, bits, newline=" // w\r\n").replace("0", "_0", 1)).encode()
    for text in (fixed, b"// header\n" + fixed, messy):
        got, xz = read_hex(text, len(values), bits, signed, "t.hex")
        assert got.tolist() == values and not xz.any()
