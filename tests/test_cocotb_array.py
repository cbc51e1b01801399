"""The cocotb 2.x testbench of the 12x12 MAC array (tools/rtl/cocotb/test_array.py on
array_ctrl.v + array_os.v), run through cocotb_tools.runner on Icarus Verilog: parameterised
from a golden tile's pass vectors in the manifest, it passes on the normal build with the
cycle count of refimpl/array/timing.py and fails on the FAULT_STUCK build (MAC (2, 5)'s
multiplier stuck at 0), whose wrong words are predicted here from the golden streams alone
(the MAC keeps its start psum; its outputs are that psum requantized by the direct loop of
tests/contract_oracle.py).  The scoreboard's report lines are exactly what `refimpl compare`
prints for the words the monitor saw.

Tile: the smoke set's conv1 tile 0 written with --passes first:12 (channel block 0, pixel
blocks 0-11 of 40; K = 3 x 5 x 5 = 75; 925 cycles, about 1.5 s of simulation each).
Skipped when cocotb (the rtl extra) or Icarus Verilog is missing.
"""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from clihelp import cli
from contract_oracle import load, requantize

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "tools" / "rtl" / "cocotb"
PASSES = 12
GRID = "tiles/conv1/t0000/passes"

pytest.importorskip("cocotb", reason="the rtl extra (cocotb) is not installed: pip install 'refimpl[rtl]'")
if shutil.which("iverilog") is None:
    pytest.skip("iverilog not on PATH: install Icarus Verilog (Debian: apt-get install iverilog)",
                allow_module_level=True)


@pytest.fixture(scope="module")
def golden(tmp_path_factory):
    out = tmp_path_factory.mktemp("cocotb-array") / "smoke"
    code, _, err = cli("golden", "--set", "smoke", "--passes", f"first:{PASSES}", "--out", out, "--quiet")
    assert code == 0, err
    return out


def report(out):
    return (out / "scoreboard.txt").read_text().splitlines()


def compare_lines(golden, out):
    """refimpl compare's lines for the monitor's dumps, without the skipped/summary lines."""
    code, text, _ = cli("compare", golden, out / "rtl")
    return code, [l for l in text.splitlines() if not l.startswith(("skipped", "compare:"))]


def hex_words(path, bits):
    v = np.array([int(l, 16) for l in Path(path).read_text().split()], dtype=np.int64)
    return np.where(v >> (bits - 1), v - (1 << bits), v)


def test_testbench_passes_in_the_models_cycles(golden, tmp_path):
    proc = subprocess.run([sys.executable, BENCH / "run_array.py", golden, "conv1/0", "--out", tmp_path],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    words = PASSES * 12 * 12
    # 12 passes of K = 75 back to back (I = max(75, 24)), then 12 + 12 + 1 cycles of fill and drain
    lines = [f"match    {GRID}/outputs.hex: {words} words", f"match    {GRID}/psums_end.hex: {words} words",
             f"cycles   RTL {11 * 75 + 75 + 25}, model 925"]
    assert proc.stdout.splitlines() == lines == report(tmp_path / "out")
    assert "array_matches_golden passed" in (tmp_path / "sim.log").read_text()
    code, cmp = compare_lines(golden, tmp_path / "out")
    assert code == 0 and cmp == lines[:2]


def test_stuck_mac_fails_with_compares_report(golden, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))          # the runner passes sys.path to the simulator's Python
    from run_array import simulate
    with pytest.raises(SystemExit) as exc:           # cocotb_tools.runner under pytest: a failed test
        simulate(golden, "conv1", 0, tmp_path, defines={"FAULT_STUCK": 1})
    assert exc.value.code == 1
    out = tmp_path / "out"
    lines = report(out)
    code, cmp = compare_lines(golden, out)
    assert code == 1 and lines[:len(cmp)] == cmp     # the same words, coordinates and wording
    assert lines[-1] == "cycles   RTL 925, model 925"
    # MAC (row 2, col 5) keeps its start psum (the aligned bias); every other MAC is right
    start, end = load(golden, f"{GRID}/psums_start"), load(golden, f"{GRID}/psums_end")
    want = end.copy()
    want[:, 2, 5] = start[:, 2, 5]
    assert np.array_equal(hex_words(out / "rtl" / f"{GRID}/psums_end.hex", 40).reshape(end.shape), want)
    p = json.loads((golden / "manifest.json").read_text())["layers"][0]["tiles"][0]["params"]
    outputs = load(golden, f"{GRID}/outputs")
    fault_y = requantize(start[:, 2, 5], p["shift"], p["rounding"], p["relu"])
    n_y, n_p = int((fault_y != outputs[:, 2, 5]).sum()), int((start[:, 2, 5] != end[:, 2, 5]).sum())
    assert n_y > 0 and n_p == PASSES
    assert f"MISMATCH {GRID}/outputs.hex: {n_y} of {PASSES * 144} words differ" in lines
    i = lines.index(f"MISMATCH {GRID}/psums_end.hex: {n_p} of {PASSES * 144} words differ")
    assert lines[i + 1] == (f"  layer=conv1 tile=0 pass=0 row=2 col=5: expected 0x{int(end[0, 2, 5]) & (1 << 40) - 1:010x} "
                            f"({int(end[0, 2, 5])}), got 0x{int(start[0, 2, 5]) & (1 << 40) - 1:010x} "
                            f"({int(start[0, 2, 5])})")


def test_unusable_tiles_are_refused_in_one_line(golden, tmp_path):
    from refimpl.errors import RefimplError
    from refimpl.scoreboard import load_array_tile
    with pytest.raises(RefimplError, match=r"tile conv1/2 has no pass vectors \(write the set with refimpl golden "
                                           r"--passes all or first:N\)"):
        load_array_tile(ROOT / "golden" / "wrap-acc32", "conv1", 2)
    bad = subprocess.run([sys.executable, BENCH / "run_array.py", golden, "conv1/9"], capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "no tile conv1/9 (tiles: conv1/0)" in bad.stderr
