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
from cocotb_tools.runner import get_runner  # noqa: E402

from refimpl.scoreboard import load_tile  # noqa: E402


def simulate(tmp_path, monkeypatch, defines=None):
    """Build mac_tile.v with the tile's parameters and run the testbench; the out folder.
    The runner hands the simulator's Python this process's sys.path (not extra_env's PYTHONPATH)."""
    monkeypatch.syspath_prepend(str(BENCH))
    tile = load_tile(GOLDEN, *TILE)
    runner = get_runner("icarus")
    runner.build(sources=[ROOT / "tools" / "rtl" / "mac_tile.v"], hdl_toplevel="mac_tile",
                 parameters=tile.parameters, defines=defines or {}, build_dir=tmp_path / "build", always=True,
                 timescale=("1ns", "1ps"))
    out = tmp_path / "out"
    runner.test(hdl_toplevel="mac_tile", test_module="test_mac_tile", test_dir=tmp_path / "run",
                extra_env={"REFIMPL_GOLDEN": str(GOLDEN), "REFIMPL_TILE": "/".join(map(str, TILE)),
                           "REFIMPL_OUT": str(out)})
    return out


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
