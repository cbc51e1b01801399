"""run_tile.py GOLDEN LAYER/INDEX [--fault rounding|overflow] [--out DIR] [--waves]

Build tools/rtl/mac_tile.v with the parameters of one golden tile (from the
set's verified manifest, refimpl.scoreboard.load_tile) and run the cocotb 2.x
testbench test_mac_tile.py on it with Icarus Verilog, through cocotb_tools.runner.
The scoreboard's report (refimpl compare's wording) goes to DIR/scoreboard.txt
and the monitor's dumps to DIR/rtl/ (so `refimpl compare GOLDEN DIR/rtl` reads
them).  Exit status: 0 the tile matches, 1 it does not, 2 bad input.
tests/test_cocotb.py runs the same build() and test() from pytest.
"""
import argparse
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
RTL = HERE.parent / "mac_tile.v"
FAULTS = {"rounding": "FAULT", "overflow": "FAULT_OVERFLOW"}      # mac_tile.v's deliberate bugs


def simulate(golden, layer: str, index: int, work, defines=None, waves: bool = False, log: bool = False) -> Path:
    """Build and run one tile; the results XML (cocotb_tools.runner; under pytest a failed
    test raises SystemExit).  Outputs in ``work``/out; ``log``: the tools' output goes to
    ``work``/build.log and ``work``/sim.log instead of stdout."""
    from cocotb_tools.runner import get_runner

    from refimpl.scoreboard import load_tile

    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))                # the runner passes sys.path to the simulator's Python
    tile = load_tile(golden, layer, index)
    work = Path(work)
    runner = get_runner("icarus")
    runner.build(sources=[RTL], hdl_toplevel="mac_tile", parameters=tile.parameters, defines=defines or {},
                 build_dir=work / "build", always=True, timescale=("1ns", "1ps"), waves=waves,
                 log_file=work / "build.log" if log else None)
    return runner.test(hdl_toplevel="mac_tile", test_module="test_mac_tile", test_dir=work / "run", waves=waves,
                       log_file=work / "sim.log" if log else None,
                       extra_env={"REFIMPL_GOLDEN": str(Path(golden).resolve()), "REFIMPL_TILE": f"{layer}/{index}",
                                  "REFIMPL_OUT": str((work / "out").resolve())})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[1], prog="run_tile.py")
    ap.add_argument("golden", help="golden set folder (refimpl golden --set NAME --out DIR)")
    ap.add_argument("tile", metavar="LAYER/INDEX", help="e.g. conv1/2")
    ap.add_argument("--fault", choices=sorted(FAULTS), help="build a deliberate bug of mac_tile.v")
    ap.add_argument("--out", help="work folder, kept: build.log, sim.log, out/ (default: a temporary one)")
    ap.add_argument("--waves", action="store_true", help="dump waveforms (FST) in the work folder")
    args = ap.parse_args(argv)
    from cocotb_tools.check_results import get_results

    from refimpl.errors import RefimplError
    layer, _, index = args.tile.partition("/")
    if not index.isdigit():
        print(f"run_tile: error: tile {args.tile!r} is not LAYER/INDEX", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.out or tmp)
        try:
            xml = simulate(args.golden, layer, int(index), work, {FAULTS[args.fault]: 1} if args.fault else {},
                           args.waves, log=True)
        except RefimplError as exc:
            print(f"run_tile: error: {exc}", file=sys.stderr)
            return 2
        report = work / "out" / "scoreboard.txt"
        print(report.read_text() if report.exists() else "run_tile: no scoreboard report", end="")
        _, failed = get_results(Path(xml))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
