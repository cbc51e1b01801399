"""The controller: before each frame, pick the operating point for that frame.

Rule (``choose``), at a rate r (Mbps) and radio power P (mW):

1. eligible: the expected top-1 loss against the unsplit model is within the
   allowed loss (default 1 point, the issue's floor "1 point below the unsplit
   model"; ``--accuracy-floor A`` allows ``unsplit - A``); a point whose loss
   is unknown is not eligible (points.py states how each row's loss is known);
2. with an energy budget E: a point's energy per frame at (r, P) must fit it
   (a limit, without margin; the throughput hysteresis of step 3 keeps a point
   from flapping across it).  When no eligible point fits, the eligible point
   of least energy is taken (the run counts the frames over budget);
3. the throughput of a point is ``min(F, 1 / max(inference, encode +
   bits / r))`` frames/s, capped by the camera rate F: past F nothing more is
   delivered.  A challenger's uncapped throughput is discounted by the factor
   ``1 + h`` (hysteresis h, default 10 %) before the cap: it must be more than
   h faster than the current point to take over, and it counts as keeping up
   with the camera only with h of headroom, while the current point keeps its
   own figure.  A change of rate that moves no challenger h ahead never
   switches;
4. order: highest throughput, then least expected loss (when several points
   keep up with the camera, the channel buys accuracy: the QF rises), then the
   hedge -- the most frames/s (capped at F) should the link fall to its slowest
   mode, since the controller learns of a drop only from the frames it has
   sent -- then least energy per frame, then the current point, then table
   order.  With ``prefer="energy"`` (``--prefer energy``) energy comes before
   the loss and the hedge: the channel buys battery instead.

Switching cost: none on the edge.  Every point runs the same layers in the same
order and the edge only stops after another layer and codes the map with
another codec or QF; the weights of every layer are in its DRAM anyway.  The
host must hold the tail of the network from the earliest partition layer the
table offers (for a jpeg-ft point, the fine-tuned tail of that layer too) and
reads the layer, codec and QF of each frame from the bitstream header, where
the abbreviated JPEG container makes the host rebuild the quantization table
from the QF (README, "Partitioned inference"): no extra bytes, no round trip,
no pipeline bubble.  The simulator charges nothing for a switch.

Policies (``Policy``): the adaptive controller (estimated rate, hysteresis),
fixed points (the paper's static design; the best static point for the trace's
mean rate), partition-only (raw features only, the layer re-picked every frame
from the same estimate, no hysteresis, as Neurosurgeon re-partitions per query)
and the oracle (the true mean rate and power of each candidate's own time on
the air, no hysteresis).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import RefimplError
from .points import Table, frame_energy_j, pipeline_fps

DEFAULT_HYSTERESIS = 0.10       # a challenger must be 10 % faster (stated design choice, issue 16 point 3)
PREFER = ("accuracy", "energy")  # what a throughput tie (points that keep up with the camera) is settled by
DEFAULT_LOSS_PTS = 1.0          # default floor: 1 point of top-1 below the unsplit model (issue 16)
RAW_CODECS = ("raw", "top5")    # what partition-only (Neurosurgeon) may send: the features as they are


def choose(arr: dict, rate_mbps, power_mw, fps: float, eligible: np.ndarray, budget_j=None,
           current=None, hysteresis: float = 0.0, prefer: str = "accuracy", slow_mbps=None) -> int:
    """Index of the point to run next (rule in the module docstring).

    ``rate_mbps`` and ``power_mw`` are scalars or (n,) arrays (the oracle's
    per-point rates); ``eligible`` a boolean (n,) mask with at least one True;
    ``slow_mbps`` the slowest link mode's rate, for the hedge of step 4.
    """
    fps_pipe = pipeline_fps(arr, rate_mbps) * np.ones(len(eligible))
    energy = frame_energy_j(arr, rate_mbps, power_mw) * np.ones(len(eligible))
    ok = eligible.copy()
    if budget_j is not None:
        fits = energy <= budget_j
        if not (ok & fits).any():
            cand = np.flatnonzero(eligible)
            return int(cand[np.argmin(energy[cand])])
        ok &= fits
    score = np.minimum(fps_pipe / (1.0 + hysteresis), fps)
    if current is not None:
        score[current] = min(fps, fps_pipe[current])
    acc = np.where(np.isnan(arr["top1_loss_pts"]), -np.inf, -arr["top1_loss_pts"])
    is_cur = np.zeros(len(eligible))
    if current is not None:
        is_cur[current] = 1.0
    idx = np.flatnonzero(ok)
    robust = np.zeros(len(eligible)) if slow_mbps is None else np.minimum(pipeline_fps(arr, slow_mbps), fps)
    if prefer == "accuracy":
        order = np.lexsort((idx, -is_cur[idx], energy[idx], -robust[idx], -acc[idx], -score[idx]))
    else:
        order = np.lexsort((idx, -is_cur[idx], -acc[idx], -robust[idx], energy[idx], -score[idx]))
    return int(idx[order[0]])


@dataclass(frozen=True)
class Policy:
    """How a run picks its points: ``mode`` 'fixed' (point ``fixed``), 'estimate' or 'oracle'."""

    name: str
    mode: str
    eligible: tuple              # indices of the points it may use
    fixed: int | None = None
    hysteresis: float = 0.0
    prefer: str = "accuracy"

    def mask(self, n: int) -> np.ndarray:
        m = np.zeros(n, bool)
        m[list(self.eligible)] = True
        return m


def max_loss_pts(table: Table, floor_pct=None) -> float:
    """Allowed top-1 loss (points): unsplit - floor_pct, or the default 1 point when no floor is given."""
    if floor_pct is None:
        return DEFAULT_LOSS_PTS
    unsplit = table.unsplit_top1_pct()
    if unsplit is None:
        raise RefimplError(f"{table.source}: an accuracy floor in % needs the unsplit model's top-1, and no "
                           "raw or lossless row has a top1_pct (the table gives losses only: the default floor, "
                           "1 point below the unsplit model, applies)")
    return unsplit - floor_pct


def floor_mask(table: Table, max_loss: float) -> np.ndarray:
    """Points whose expected top-1 loss is known and at most ``max_loss`` points."""
    loss = table.arrays()["top1_loss_pts"]
    ok = ~np.isnan(loss) & (loss <= max_loss + 1e-9)
    if not ok.any():
        unsplit = table.unsplit_top1_pct()
        floor = f"{unsplit - max_loss:g} %" if unsplit is not None else f"a loss of {max_loss:g} points"
        best = f"the least loss is {np.nanmin(loss):g} points" if not np.isnan(loss).all() else "no point has a loss"
        raise RefimplError(f"no operating point reaches the accuracy floor {floor} ({best})")
    return ok


def paper_point(table: Table) -> int:
    """The paper's static design: conv5 (the stage labelled conv5, else the layer) jpeg at the 1%-loss QF.

    A ``jpeg`` row without a QF is at the 1%-loss QF by the ratio table's
    definition; with several QFs, the lowest whose loss is at most 1 point (the
    QF the paper's Fig. 5b finds).  Without conv5, the last conv layer's.
    """
    jpeg = [p for p in table.points if p.codec == "jpeg"]
    cands = [p for p in jpeg if p.stage == "conv5"] or [p for p in jpeg if p.layer == "conv5"]
    if not cands:
        conv = [p for p in jpeg if (p.stage or p.layer).startswith("conv")]
        if not conv:
            raise RefimplError(f"{table.source}: no jpeg point at a conv layer: the paper's static design "
                               "(conv5 at the 1%-loss QF) is not in the table")
        layers = list(dict.fromkeys(p.layer for p in table.points))
        last = max((p.layer for p in conv), key=layers.index)
        cands = [p for p in conv if p.layer == last]
    good = [p for p in cands if p.top1_loss_pts is not None and p.top1_loss_pts <= DEFAULT_LOSS_PTS + 1e-9]
    best = min(good or cands, key=lambda p: (p.qf if p.qf is not None else 0))
    return table.points.index(best)


def policies(table: Table, eligible: np.ndarray, fps: float, mean_rate_mbps: float, mean_power_mw: float,
             budget_j=None, hysteresis: float = DEFAULT_HYSTERESIS, prefer: str = "accuracy") -> list:
    """The controller and the four baselines of issue 16, in report order."""
    arr = table.arrays()
    elig = tuple(int(i) for i in np.flatnonzero(eligible))
    raw = tuple(i for i in elig if table.points[i].codec in RAW_CODECS)
    slow = table.links[0].rate_mbps
    mean_best = choose(arr, mean_rate_mbps, mean_power_mw, fps, eligible, budget_j, prefer=prefer, slow_mbps=slow)
    out = [Policy("adaptive", "estimate", elig, hysteresis=hysteresis, prefer=prefer),
           Policy("paper-static", "fixed", (paper_point(table),), fixed=paper_point(table)),
           Policy("static-mean", "fixed", (mean_best,), fixed=mean_best)]
    if raw:
        out.append(Policy("partition-only", "estimate", raw, prefer=prefer))
    out.append(Policy("oracle", "oracle", elig, prefer=prefer))
    return out
