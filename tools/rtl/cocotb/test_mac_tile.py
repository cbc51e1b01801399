"""cocotb 2.x testbench of tools/rtl/mac_tile.v on one tile of a golden set.

Run by tests/test_cocotb.py through cocotb_tools.runner (Icarus Verilog); the
design's parameters come from the tile's manifest entry
(refimpl.scoreboard.load_tile) and are read back from the design here, never
retyped.  Environment (set by the runner):

    REFIMPL_GOLDEN  golden set folder          REFIMPL_TILE  LAYER/INDEX, e.g. conv1/2
    REFIMPL_OUT     folder for the scoreboard report (scoreboard.txt) and the
                    monitor's dumps at the golden paths (for refimpl compare)

Driver: the tile's memories (patch, weights, psums in; read asynchronously by
the design: address out, data back in the same cycle) answer on every falling
clock edge, half a period after the address registers moved; bias and shift
words are static.  Monitor: on every rising edge with out_valid, the psums and
(last chunk) int16 outputs of all M lanes of pixel out_addr go to the
scoreboard, X/Z per lane kept.  The test fails on any mismatch and on any word
not seen exactly once, and logs refimpl compare's report lines.
"""
import os
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge, with_timeout

from buses import lanes, pack
from refimpl.scoreboard import Scoreboard, load_tile

PERIOD_NS = 10          # any period works: the design is one clock domain, checked cycle-free
SHIFT_BITS = 8          # mac_tile.v SHIFT_BITS: signed per-lane shift words
WORD_BITS = 16          # mac_tile.v WORD_BITS: activations, weights, outputs


async def memories(dut, tile, p):
    """The asynchronous memories around the tile, answering on falling edges."""
    patch = [int(v) for v in tile.inputs.reshape(-1)]
    taps = tile.weights.reshape(p["M"], -1)                         # (M, TK*K*K), taps in (c, ky, kx) order
    w_words = [pack(taps[:, t], WORD_BITS) for t in range(taps.shape[1])]
    psum_words = None
    if not p["FIRST_CHUNK"]:
        pix = tile.init.reshape(p["M"], -1)                         # (M, OUT_ROWS*OUT_COLS)
        psum_words = [pack(pix[:, i], p["ACC_BITS"]) for i in range(pix.shape[1])]
    while True:
        await FallingEdge(dut.clk)
        a = int(dut.in_addr.value)
        dut.in_data.value = patch[a] if a < len(patch) else 0       # beyond the patch: never used by a correct tile
        a = int(dut.w_addr.value)
        dut.w_data.value = w_words[a] if a < len(w_words) else 0
        if psum_words is not None:
            a = int(dut.pix_addr.value)
            dut.psum_in_data.value = psum_words[a] if a < len(psum_words) else 0


async def monitor(dut, tile, p, sb):
    """Every out_valid pixel of every lane to the scoreboard."""
    m, cols = p["M"], p["OUT_COLS"]
    while True:
        await RisingEdge(dut.clk)
        await ReadOnly()
        if str(dut.out_valid.value) != "1":
            continue
        row, col = divmod(int(dut.out_addr.value), cols)
        for lane, got in enumerate(lanes(dut.psum_data.value, m, p["ACC_BITS"])):
            sb.check(tile.files["psums"], (lane, row, col), got)
        if "outputs" in tile.files:
            for lane, got in enumerate(lanes(dut.out_data.value, m, WORD_BITS)):
                sb.check(tile.files["outputs"], (lane, row, col), got)


@cocotb.test()
async def tile_matches_golden(dut):
    golden, out = Path(os.environ["REFIMPL_GOLDEN"]), Path(os.environ["REFIMPL_OUT"])
    layer, index = os.environ["REFIMPL_TILE"].split("/")
    tile = load_tile(golden, layer, int(index))
    p = {name: int(getattr(dut, name).value) for name in tile.parameters}      # read back from the design
    assert p == tile.parameters, f"design parameters {p} differ from the manifest's {tile.parameters}"
    sb = Scoreboard(golden, list(tile.files.values()))

    Clock(dut.clk, PERIOD_NS, unit="ns").start()
    dut.start.value = 0
    dut.rst.value = 1
    if p["FIRST_CHUNK"]:
        dut.bias_data.value = pack(tile.init, p["BIAS_BITS"])
    else:
        dut.bias_data.value = 0
    dut.shift_data.value = pack(tile.shifts, SHIFT_BITS)
    dut.bias_shift_data.value = pack(tile.bias_shifts, SHIFT_BITS)
    dut.in_data.value = 0
    dut.w_data.value = 0
    dut.psum_in_data.value = 0
    cocotb.start_soon(memories(dut, tile, p))
    cocotb.start_soon(monitor(dut, tile, p, sb))
    for _ in range(2):
        await RisingEdge(dut.clk)
    dut.rst.value = 0
    await RisingEdge(dut.clk)
    dut.start.value = 1
    await RisingEdge(dut.clk)
    dut.start.value = 0
    pixels, taps = p["OUT_ROWS"] * p["OUT_COLS"], p["TK"] * p["K"] ** 2
    budget = pixels * (taps + 2) + 16                  # mac_tile.v: LOAD + TAPS MAC + OUT cycles per pixel
    await with_timeout(RisingEdge(dut.done), budget * PERIOD_NS, "ns")
    await FallingEdge(dut.clk)                         # the monitor has taken the last pixel
    overflows = int(dut.ovf_count.value)

    lines, ok = sb.report()
    out.mkdir(parents=True, exist_ok=True)
    sb.write_dumps(out / "rtl")
    (out / "scoreboard.txt").write_text("\n".join(lines + [f"ovf_count {overflows}"]) + "\n")
    for line in lines:
        dut._log.info(line)
    dut._log.info("tile %s/%s: %d accumulator overflows (ovf_count)", layer, index, overflows)
    assert ok, "scoreboard: " + "; ".join(l.strip() for l in lines if not l.startswith("match"))[:2000]
