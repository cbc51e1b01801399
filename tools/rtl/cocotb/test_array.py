"""cocotb 2.x testbench of tools/rtl/array_ctrl.v (+ array_os.v) on one golden tile's pass vectors.

Run by tests/test_cocotb_array.py through cocotb_tools.runner (Icarus Verilog)
via run_array.py; the design's parameters come from the tile's manifest entry
(refimpl.scoreboard.load_array_tile) and are read back from the design here,
never retyped.  Environment (set by the runner):

    REFIMPL_GOLDEN  golden set folder (refimpl golden --passes all|first:N)
    REFIMPL_TILE    LAYER/INDEX of a first input-channel chunk, e.g. conv1/0
    REFIMPL_OUT     folder for the scoreboard report (scoreboard.txt) and the
                    monitor's dumps at the golden paths (for refimpl compare)

Driver: the controller's memories (read asynchronously: address out, data
back in the same cycle) answer on every falling clock edge, half a period
after the registers moved: s_addr -> w_data / x_data (one step of all rows /
columns of the w_stream / x_stream files), pre_blk -> bias_data and
bias_shift_data, out_blk -> shift_data of a channel block's rows.  One start
pulse runs the chunk (first_chunk = 1, k_len = K, s_base = 0).  Monitor: on
every rising edge with out_valid, the ROWS x COLS psums and (last chunk)
requantized outputs of pass out_pass go to the scoreboard as the pass-grid
words, and, on a whole-tile run, the unpadded ones also as the tile's
[M][rows][cols] words.  The test fails on any mismatch, on any word not seen
exactly once, and on a cycle count (start edge to done, as tools/rtl/tb_array.v
counts it) other than refimpl/array/timing.py's.
"""
import os
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge, with_timeout
from cocotb.utils import get_sim_time

from buses import lanes, pack
from refimpl.scoreboard import Scoreboard, load_array_tile

PERIOD_NS = 10          # any period works: one clock domain, cycles counted from sim time
SHIFT_BITS = 8          # array_ctrl.v SB: signed shift words
WORD_BITS = 16          # array_ctrl.v: operands and outputs are int16


def block_words(values, block: int, rows: int, m: int, bits: int) -> int:
    """Channel block ``block``'s rows of per-channel ``values`` packed, 0 on rows past the tile's m."""
    return pack([values[block * rows + r] if block * rows + r < m else 0 for r in range(rows)], bits)


async def memories(dut, tile, p):
    """The step, bias and shift memories around the controller, answering on falling edges."""
    rows, k = p["ROWS"], tile.w_stream.shape[1]
    w_words = [pack(step, WORD_BITS) for step in tile.w_stream.reshape(-1, rows)]      # address p*K + k
    x_words = [pack(step, WORD_BITS) for step in tile.x_stream.reshape(-1, p["COLS"])]
    assert len(w_words) == len(x_words) and len(w_words) % k == 0
    m, nblk = p["M"], -(-p["M"] // rows)
    bias = [block_words(tile.bias, b, rows, m, p["BIAS_BITS"]) for b in range(nblk)]
    bshift = [block_words(tile.bias_shifts, b, rows, m, SHIFT_BITS) for b in range(nblk)]
    shift = [block_words(tile.shifts, b, rows, m, SHIFT_BITS) for b in range(nblk)]
    while True:
        await FallingEdge(dut.clk)
        a = int(dut.s_addr.value)
        dut.w_data.value = w_words[a] if a < len(w_words) else 0      # past the last step: never used
        dut.x_data.value = x_words[a] if a < len(x_words) else 0
        b = int(dut.pre_blk.value)
        dut.bias_data.value = bias[b] if b < nblk else 0
        dut.bias_shift_data.value = bshift[b] if b < nblk else 0
        b = int(dut.out_blk.value)
        dut.shift_data.value = shift[b] if b < nblk else 0


async def monitor(dut, tile, p, sb):
    """Every out_valid pass to the scoreboard: pass grid, and on a whole tile the tile's words."""
    rows, cols, m, npix = p["ROWS"], p["COLS"], p["M"], p["NPIX"]
    npb = -(-npix // cols)
    f = tile.files
    while True:
        await RisingEdge(dut.clk)
        await ReadOnly()
        if str(dut.out_valid.value) != "1":
            continue
        q_pass = int(dut.out_pass.value)
        psums = lanes(dut.out_psum.value, rows * cols, p["ACC_BITS"])
        outs = lanes(dut.out_y.value, rows * cols, WORD_BITS) if "pass_outputs" in f else None
        for r in range(rows):
            for j in range(cols):
                i = r * cols + j
                sb.check(f["psums_end"], (q_pass, r, j), psums[i])
                if outs is not None:
                    sb.check(f["pass_outputs"], (q_pass, r, j), outs[i])
                ch, q = (q_pass // npb) * rows + r, (q_pass % npb) * cols + j
                if tile.whole and ch < m and q < npix:             # padded MACs are not written back
                    pix = (ch, q // tile.out_cols, q % tile.out_cols)
                    sb.check(f["psums"], pix, psums[i])
                    if "outputs" in f:
                        sb.check(f["outputs"], pix, outs[i])


@cocotb.test()
async def array_matches_golden(dut):
    golden, out = Path(os.environ["REFIMPL_GOLDEN"]), Path(os.environ["REFIMPL_OUT"])
    layer, index = os.environ["REFIMPL_TILE"].split("/")
    tile = load_array_tile(golden, layer, int(index))
    p = {name: int(getattr(dut, name).value) for name in tile.parameters}      # read back from the design
    assert p == tile.parameters, f"design parameters {p} differ from the manifest's {tile.parameters}"
    sb = Scoreboard(golden, list(tile.files.values()))
    k = tile.w_stream.shape[1]

    Clock(dut.clk, PERIOD_NS, unit="ns").start()
    dut.rst.value = 1
    dut.start.value = 0
    dut.first_chunk.value = 1
    dut.last_chunk.value = int("pass_outputs" in tile.files)
    dut.k_len.value = k
    dut.s_base.value = 0
    for name in ("w_data", "x_data", "bias_data", "bias_shift_data", "shift_data"):
        getattr(dut, name).value = 0
    cocotb.start_soon(memories(dut, tile, p))
    cocotb.start_soon(monitor(dut, tile, p, sb))
    for _ in range(2):
        await RisingEdge(dut.clk)
    dut.rst.value = 0
    await RisingEdge(dut.clk)
    dut.start.value = 1
    await RisingEdge(dut.clk)                          # edge 0: samples start and step 0 of pass 0
    t0 = get_sim_time("ns")
    dut.start.value = 0
    budget = 2 * tile.cycles + 64                      # a hung controller fails, not the CI job
    await with_timeout(RisingEdge(dut.done), budget * PERIOD_NS, "ns")
    cycles = round((get_sim_time("ns") - t0) / PERIOD_NS)
    await FallingEdge(dut.clk)                         # the monitor has taken the last pass

    lines, ok = sb.report()
    lines.append(f"cycles   RTL {cycles}, model {tile.cycles}" + ("" if cycles == tile.cycles else "  DIFFER"))
    out.mkdir(parents=True, exist_ok=True)
    sb.write_dumps(out / "rtl")
    (out / "scoreboard.txt").write_text("\n".join(lines) + "\n")
    for line in lines:
        dut._log.info(line)
    assert ok, "scoreboard: " + "; ".join(l.strip() for l in lines if not l.startswith(("match", "cycles")))[:2000]
    assert cycles == tile.cycles, f"RTL took {cycles} cycles, refimpl/array/timing.py {tile.cycles}"
