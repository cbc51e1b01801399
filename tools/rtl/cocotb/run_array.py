"""run_array.py GOLDEN LAYER/INDEX [--fault stuck|skew] [--out DIR] [--waves]

Build tools/rtl/array_ctrl.v + array_os.v with the parameters of one golden
tile's pass vectors (a first input-channel chunk of a set written with
refimpl golden --passes all or first:N; refimpl.scoreboard.load_array_tile)
and run the cocotb 2.x testbench test_array.py on it with Icarus Verilog,
through cocotb_tools.runner.  The scoreboard's report (refimpl compare's
wording) and the cycle check go to DIR/out/scoreboard.txt, the monitor's
dumps to DIR/out/rtl/ (so `refimpl compare GOLDEN DIR/out/rtl` reads them).
Exit status: 0 the tile matches in the model's cycles, 1 it does not, 2 bad input.
tests/test_cocotb_array.py runs the same simulate() from pytest.
"""
import sys
from pathlib import Path

import bench_runner

HERE = Path(__file__).resolve().parent
RTL = [HERE.parent / "array_ctrl.v", HERE.parent / "array_os.v"]
# array_os.v's deliberate bugs (FAULT_CARRY of array_ctrl.v needs a chunk sequence: tools/rtl/cosim_array.sh)
FAULTS = {"stuck": "FAULT_STUCK", "skew": "FAULT_SKEW"}


def simulate(golden, layer: str, index: int, work, defines=None, waves: bool = False, log: bool = False) -> Path:
    """Build and run one tile (bench_runner.simulate); the results XML."""
    from refimpl.scoreboard import load_array_tile

    tile = load_array_tile(golden, layer, index)
    return bench_runner.simulate(sources=RTL, toplevel="array_ctrl", test_module="test_array",
                                 parameters=tile.parameters, golden=golden, tile=f"{layer}/{index}", work=work,
                                 defines=defines,
                                 waves=waves, log=log)


def main(argv=None) -> int:
    return bench_runner.main(argv, prog="run_array", doc=__doc__,
                             golden_help="golden set folder (refimpl golden --set NAME --passes all --out DIR)",
                             tile_help="a first input-channel chunk, e.g. conv1/0", faults=FAULTS,
                             fault_help="build a deliberate bug of array_os.v", simulate_tile=simulate)


if __name__ == "__main__":
    sys.exit(main())
