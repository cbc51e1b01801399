"""RTL co-simulation: tools/rtl/cosim.sh runs tools/rtl/mac_tile.v (Icarus Verilog)
on the first complete tile of the smoke golden set and `refimpl compare`s it.

The normal build must match bit for bit; the FAULT build (truncating
requantization) must fail with the first mismatch named.  Both are skipped
when Icarus Verilog is not installed.
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COSIM = ROOT / "tools" / "rtl" / "cosim.sh"
TIMEOUT = 120        # seconds per run: golden set + compile + simulation (a few seconds on a small tile)


def run_cosim(tmp_path, **extra_env):
    if shutil.which("iverilog") is None:
        pytest.skip("iverilog not on PATH: install Icarus Verilog (Debian: apt-get install iverilog)")
    env = dict(os.environ, **extra_env)
    env.setdefault("PYTHON", sys.executable)             # the interpreter running these tests ...
    env.setdefault("REFIMPL", f"{sys.executable} -m refimpl")   # ... and this checkout's refimpl
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    env["TMPDIR"] = str(tmp_path)                        # temp dirs (KEEP=1 too) land in pytest's tmp
    proc = subprocess.run(["bash", str(COSIM)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT)
    return proc, proc.stdout + proc.stderr


def tile_line(out):
    """'cosim: tile: layer L tile T (STEM) M=.. TK=.. ...' -> (layer, stem, {param: int})."""
    m = re.search(r"^cosim: tile: layer (\S+) tile \S+ \((\S+)\) (.*)$", out, re.M)
    assert m, out
    params = {k: int(v) for k, v in re.findall(r"(\w+)=(-?\d+)", m.group(3))}
    return m.group(1), m.group(2), params


def hex_words(path):
    """Words of a hex dump ($writememh or golden): skip `//` lines, two's complement int16."""
    words = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("//"):
            v = int(line, 16)
            words.append(v - 0x10000 if v >= 0x8000 else v)
    return words


def test_cosim_matches(tmp_path):
    proc, out = run_cosim(tmp_path)
    assert proc.returncode == 0, out
    compare_out = out.split("compare ", 1)[-1]
    assert "match" in compare_out.lower(), out
    tile_line(out)


def test_cosim_fault_is_caught(tmp_path):
    proc, out = run_cosim(tmp_path, FAULT="1", KEEP="1")
    layer, stem, p = tile_line(out)
    if p["SHIFT"] <= 0:
        pytest.skip(f"tile {stem} has SHIFT {p['SHIFT']} <= 0: no rounding, the FAULT build is identical")
    assert proc.returncode == 1, out                     # refimpl compare: 1 = mismatch
    kept = re.search(r"^cosim: temp dir kept: (\S+)$", out, re.M)
    assert kept, out
    tmp = Path(kept.group(1))
    golden = hex_words(tmp / "golden" / f"{stem}.hex")
    rtl = hex_words(tmp / "rtl" / f"{stem}.hex")
    assert len(golden) == len(rtl) == p["M"] * p["OUT_ROWS"] * p["OUT_COLS"]
    first = next(i for i, (g, r) in enumerate(zip(golden, rtl)) if g != r)
    m, rest = divmod(first, p["OUT_ROWS"] * p["OUT_COLS"])
    oy, ox = divmod(rest, p["OUT_COLS"])
    # what compare printed (after cosim's own "... compare GOLDEN RTL" line)
    report = out.split(f"compare {tmp}/golden {tmp}/rtl", 1)[-1]
    assert layer in report or stem in report, f"layer/tile not named:\n{out}"
    # the three numbers in order on one line, e.g. "(0, 1, 6)" or "out_channel=0 row=1 col=6"
    coords = re.compile(rf"(?<!\d){m}\D{{1,20}}{oy}\D{{1,20}}{ox}(?!\d)")
    assert any(coords.search(line) for line in report.splitlines()), \
        f"first mismatch (m, y, x) = ({m}, {oy}, {ox}) not named:\n{out}"
