"""What run_tile.py and run_array.py share: build a Verilog top with one golden
tile's parameters on Icarus Verilog through cocotb_tools.runner, run its cocotb
test, and the command line around it (exit 0 match, 1 mismatch, 2 bad input).
"""
import argparse
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def simulate(*, sources, toplevel: str, test_module: str, parameters: dict, golden, tile: str, work,
             defines=None, waves: bool = False, log: bool = False) -> Path:
    """Build ``sources`` with ``parameters`` and run ``test_module`` on ``toplevel``; the results
    XML (under pytest a failed test raises SystemExit).  The testbench reads the golden set and
    tile from REFIMPL_GOLDEN / REFIMPL_TILE and writes to ``work``/out; ``log``: the tools'
    output goes to ``work``/build.log and ``work``/sim.log instead of stdout."""
    from cocotb_tools.runner import get_runner

    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))                # the runner passes sys.path to the simulator's Python
    work = Path(work)
    runner = get_runner("icarus")
    runner.build(sources=list(sources), hdl_toplevel=toplevel, parameters=parameters, defines=defines or {},
                 build_dir=work / "build", always=True, timescale=("1ns", "1ps"), waves=waves,
                 log_file=work / "build.log" if log else None)
    return runner.test(hdl_toplevel=toplevel, test_module=test_module, test_dir=work / "run", waves=waves,
                       log_file=work / "sim.log" if log else None,
                       extra_env={"REFIMPL_GOLDEN": str(Path(golden).resolve()), "REFIMPL_TILE": tile,
                                  "REFIMPL_OUT": str((work / "out").resolve())})


def main(argv, *, prog: str, doc: str, golden_help: str, tile_help: str, faults: dict, fault_help: str,
         simulate_tile) -> int:
    """The command line of a run_*.py script; ``simulate_tile(golden, layer, index, work, defines,
    waves, log)`` builds and runs one tile and returns the results XML."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[1], prog=f"{prog}.py")
    ap.add_argument("golden", help=golden_help)
    ap.add_argument("tile", metavar="LAYER/INDEX", help=tile_help)
    ap.add_argument("--fault", choices=sorted(faults), help=fault_help)
    ap.add_argument("--out", help="work folder, kept: build.log, sim.log, out/ (default: a temporary one)")
    ap.add_argument("--waves", action="store_true", help="dump waveforms (FST) in the work folder")
    args = ap.parse_args(argv)
    from cocotb_tools.check_results import get_results

    from refimpl.errors import RefimplError
    layer, _, index = args.tile.partition("/")
    if not index.isdigit():
        print(f"{prog}: error: tile {args.tile!r} is not LAYER/INDEX", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.out or tmp)
        try:
            xml = simulate_tile(args.golden, layer, int(index), work, {faults[args.fault]: 1} if args.fault else {},
                                args.waves, log=True)
        except RefimplError as exc:
            print(f"{prog}: error: {exc}", file=sys.stderr)
            return 2
        report = work / "out" / "scoreboard.txt"
        print(report.read_text() if report.exists() else f"{prog}: no scoreboard report", end="")
        _, failed = get_results(Path(xml))
    return 1 if failed else 0
