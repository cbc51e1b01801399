"""Cycles of one tile (one input-channel chunk) on the array, in closed form.

The cycle-level model (model.py) and the RTL (tools/rtl/array_os.v) count
these cycles; this module states them so the cost model can be reconciled.
Edge 0 is the clock edge that samples start and loads step 0 of pass 0 into
the feed registers.  Pass p's step k is fed at edge p*I + k with

  I = max(K, rows + cols)              the pass interval (passes back to back when K >= 24)

and MAC (r, j) multiplies it at edge p*I + k + 2 + r + j (feed register, then
r + j skew and operand-register stages).  The last MAC (rows-1, cols-1) ends
pass p at edge p*I + K + rows + cols - 1; the next edge captures the 144 psums,
the one after writes them (and their requantized outputs).  So a tile of P
passes takes

  T = (P - 1) * I + K + rows + cols + 1
    = P * K                              compute_cycles of refimpl/cost.py
    + (P - 1) * (I - K)                  pass_gap_cycles: 0 unless K < rows + cols
    + rows + cols + 1                    fill_drain_cycles: 25 on 12 x 12

cycles from the start edge to the edge of the last write.  The cost model
charges compute_cycles only (it has no fill or drain); the array's extra is
the two named terms, counted per tile.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TileTiming:
    passes: int
    kc: int                # K: products per output in this chunk (tk*kh*kw)
    interval: int          # I, cycles between the starts of two passes
    compute_cycles: int    # passes * K (the cost model's compute cycles)
    pass_gap_cycles: int   # (passes - 1) * (I - K)
    fill_drain_cycles: int # rows + cols + 1
    cycles: int            # the sum: start edge to the last write

    def as_dict(self) -> dict:
        return dict(passes=self.passes, kc=self.kc, interval=self.interval, compute_cycles=self.compute_cycles,
                    pass_gap_cycles=self.pass_gap_cycles, fill_drain_cycles=self.fill_drain_cycles,
                    cycles=self.cycles)


def pass_interval(kc: int, rows: int, cols: int) -> int:
    """I: a MAC's capture must happen before its next pass ends (see the module docstring)."""
    return max(kc, rows + cols)


def tile_timing(passes: int, kc: int, rows: int, cols: int) -> TileTiming:
    i = pass_interval(kc, rows, cols)
    compute, gaps, fill = passes * kc, (passes - 1) * (i - kc), rows + cols + 1
    return TileTiming(passes, kc, i, compute, gaps, fill, compute + gaps + fill)
