"""run_tile.py GOLDEN LAYER/INDEX [--fault rounding|overflow] [--out DIR] [--waves]

Build tools/rtl/mac_tile.v with the parameters of one golden tile (from the
set's verified manifest, refimpl.scoreboard.load_tile) and run the cocotb 2.x
testbench test_mac_tile.py on it with Icarus Verilog, through cocotb_tools.runner.
The scoreboard's report (refimpl compare's wording) goes to DIR/scoreboard.txt
and the monitor's dumps to DIR/rtl/ (so `refimpl compare GOLDEN DIR/rtl` reads
them).  Exit status: 0 the tile matches, 1 it does not, 2 bad input.
tests/test_cocotb.py runs the same build() and test() from pytest.
"""
import sys
from pathlib import Path

import bench_runner

HERE = Path(__file__).resolve().parent
RTL = [HERE.parent / "mac_tile.v"]
FAULTS = {"rounding": "FAULT", "overflow": "FAULT_OVERFLOW"}      # mac_tile.v's deliberate bugs


def simulate(golden, layer: str, index: int, work, defines=None, waves: bool = False, log: bool = False) -> Path:
    """Build and run one tile (bench_runner.simulate); the results XML."""
    from refimpl.scoreboard import load_tile

    tile = load_tile(golden, layer, index)
    return bench_runner.simulate(sources=RTL, toplevel="mac_tile", test_module="test_mac_tile",
                                 parameters=tile.parameters, golden=golden, tile=f"{layer}/{index}", work=work,
                                 defines=defines,
                                 waves=waves, log=log)


def main(argv=None) -> int:
    return bench_runner.main(argv, prog="run_tile", doc=__doc__,
                             golden_help="golden set folder (refimpl golden --set NAME --out DIR)",
                             tile_help="e.g. conv1/2", faults=FAULTS,
                             fault_help="build a deliberate bug of mac_tile.v", simulate_tile=simulate)


if __name__ == "__main__":
    sys.exit(main())
