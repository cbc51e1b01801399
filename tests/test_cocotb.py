"""The cocotb 2.x testbench (tools/rtl/cocotb/test_mac_tile.py) on mac_tile.v, run through
cocotb_tools.runner on Icarus Verilog: parameterised from a golden tile's manifest entry, it
passes on the normal build and fails on the FAULT build (the requantizer rounds with the wrong
mode), and its scoreboard's report lines are exactly what `refimpl compare` prints for the
words the monitor saw.  The number of differing outputs of the FAULT build is recomputed with
the direct loop of tests/contract_oracle.py.

Tile: wrap-acc32 conv1/2 (checked in under golden/: 64 lanes x 2x32 pixels, 32-bit wrapping
accumulator, 4,928 clock cycles; about 2 s of simulation each).
Skipped when cocotb (the rtl extra) or Icarus Verilog is missing.
"""
import shutil
from pathlib import Path

import numpy as np
import pytest

from clihelp import cli
from contract_oracle import per_channel, requantize, tile_direct

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "tools" / "rtl" / "cocotb"
GOLDEN = ROOT / "golden" / "wrap-acc32"
TILE = ("conv1", 2)

pytest.importorskip("cocotb", reason="the rtl extra (cocotb) is not installed: pip install 'refimpl[rtl]'")
if shutil.which("iverilog") is None:
    pytest.skip("iverilog not on PATH: install Icarus Verilog (Debian: apt-get install iverilog)",
                allow_module_level=True)


def simulate(tmp_path, monkeypatch, defines=None):
    """tools/rtl/cocotb/run_tile.py's build and run of the tile; the out folder."""
    monkeypatch.syspath_prepend(str(BENCH))         # the runner passes sys.path to the simulator's Python
    from run_tile import simulate as run
    run(GOLDEN, *TILE, tmp_path, defines)
    return tmp_path / "out"


def report(out):
    return (out / "scoreboard.txt").read_text().splitlines()


def compare_lines(out):
    """refimpl compare's lines for the monitor's dumps, without the skipped/summary lines."""
    code, text, err = cli("compare", GOLDEN, out / "rtl")
    return code, [l for l in text.splitlines() if not l.startswith(("skipped", "compare:"))]


def test_testbench_passes_on_the_normal_build(tmp_path, monkeypatch):
    out = simulate(tmp_path, monkeypatch)
    lines = report(out)
    assert lines == ["match    tiles/conv1/t0002/outputs.hex: 4096 words",
                     "match    tiles/conv1/t0002/psums.hex: 4096 words",
                     f"ovf_count {int(tile_direct(GOLDEN, tile_doc())[1].sum())}"]
    code, cmp = compare_lines(out)
    assert code == 0 and cmp == lines[:2]


def tile_doc():
    import json
    doc = json.loads((GOLDEN / "manifest.json").read_text())
    return next(t for l in doc["layers"] if l["name"] == TILE[0] for t in l["tiles"] if t["index"] == TILE[1])


def test_testbench_fails_on_the_fault_build_with_compares_report(tmp_path, monkeypatch):
    with pytest.raises(SystemExit) as exc:                  # cocotb_tools.runner under pytest: a failed test
        simulate(tmp_path, monkeypatch, defines={"FAULT": 1})
    assert exc.value.code == 1
    lines = report(tmp_path / "out")
    code, cmp = compare_lines(tmp_path / "out")
    assert code == 1
    assert lines[:len(cmp)] == cmp                          # the same words, coordinates and wording
    # FAULT rounds half_up data by truncation: the outputs whose dropped bits are >= one half differ
    t = tile_doc()
    psums, _, outputs = tile_direct(GOLDEN, t)
    p = t["params"]
    fault = requantize(psums, per_channel(p["shift"], p["m"]), "truncate", p["relu"])
    n = int((fault != outputs).sum())
    assert n > 0 and lines[0] == f"MISMATCH tiles/conv1/t0002/outputs.hex: {n} of 4096 words differ"
    assert lines[11] == "match    tiles/conv1/t0002/psums.hex: 4096 words"      # after 10 mismatch lines
    first = np.argwhere(fault != outputs)[0]
    assert lines[1] == (f"  layer=conv1 tile=2 out_channel={first[0]} row={first[1]} col={first[2]}: "
                        f"expected 0x{int(outputs[tuple(first)]) & 0xffff:04x} ({int(outputs[tuple(first)])}), "
                        f"got 0x{int(fault[tuple(first)]) & 0xffff:04x} ({int(fault[tuple(first)])})")


def test_run_tile_script_exit_status(tmp_path):
    import subprocess
    import sys
    script = BENCH / "run_tile.py"
    ok = subprocess.run([sys.executable, script, GOLDEN, "conv1/2", "--out", tmp_path / "a"],
                        capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert ok.stdout == ("match    tiles/conv1/t0002/outputs.hex: 4096 words\n"
                         "match    tiles/conv1/t0002/psums.hex: 4096 words\novf_count 0\n")
    assert "tile_matches_golden passed" in (tmp_path / "a" / "sim.log").read_text()
    bad = subprocess.run([sys.executable, script, GOLDEN, "conv1/9"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "no tile conv1/9 (tiles: conv1/0, conv1/1, conv1/2)" in bad.stderr
