"""Frame-level simulation of the edge's two-stage pipeline on a channel trace.

Model (times in s, from the trace's start):

* the camera captures frame k at ``a_k = k / F`` for every ``a_k`` before the
  trace's end T;
* a frame waits in the camera queue for stage 1; a frame that arrives while
  ``queue_depth`` frames are already waiting is dropped (never processed);
* stage 1 (inference up to the partition layer) takes frame k at
  ``s1_k = max(a_k, f1_{k-1}, f2_{k-2})`` -- the stage is free and one of the
  two halves of the ping-pong feature buffer is: frame k-2's map has left --
  and ends at ``f1_k = s1_k + edge_latency_s``;
* stage 2 (encoder, then radio) starts at ``s2_k = max(f1_k, f2_{k-1})``; the
  encoder takes ``encode_latency_s``; the radio then sends ``bits_per_frame``
  over the trace's rate (integrated exactly: a frame on the air during a rate
  change sends at both rates) and ends at ``f2_k``;
* the point of frame k is chosen at ``s1_k``, from what is known then: the
  frames finished on the air by ``s1_k`` (estimator.py);
* energy of frame k: inference + encoder + the integral of the radio power
  over its time on the air; the radio's idle power is not charged (the paper
  gives none);
* a frame is delivered when its last bit is sent by T; its latency is
  ``f2_k - a_k`` (capture to last bit at the host; the host's own inference is
  not modelled).  Frames still in the pipeline at T are counted apart.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import traces
from .controller import Policy, choose
from .estimator import DEFAULT_WINDOW, harmonic_estimate
from .points import Table, radio_power_mw

TIME_EPS_S = 1e-9               # events closer than 1 ns count as simultaneous (float sums of latencies)
DEFAULT_QUEUE_DEPTH = 2         # frames waiting for stage 1 (a double-buffered camera frame store)


@dataclass
class Run:
    """Per-frame log of one policy (arrays (n,) over captured frames; -1 / NaN for dropped frames)."""

    policy: str
    arrival_s: np.ndarray
    queue: np.ndarray            # frames waiting for stage 1 when this one arrived
    point: np.ndarray            # index into the table, -1 when dropped
    start_s: np.ndarray          # s1: the decision and the start of inference
    done_s: np.ndarray           # f2: last bit sent
    on_air_s: np.ndarray         # f2 - (s2 + encode): time on the radio
    energy_j: np.ndarray
    estimate_mbps: np.ndarray    # the rate the decision used (oracle: NaN)


def simulate(table: Table, trace: traces.Trace, policy: Policy, fps: float, queue_depth: int = DEFAULT_QUEUE_DEPTH,
             budget_j=None, window: int = DEFAULT_WINDOW, prior_mbps: float | None = None) -> Run:
    """Run ``policy`` over ``trace`` with a camera at ``fps`` frames/s (model in the module docstring).

    ``prior_mbps``: the estimate before the first frame has been sent (default:
    the trace's rate at time 0, the PHY rate the radio associated at).
    """
    if prior_mbps is None:
        prior_mbps = float(trace.rate_mbps[0])
    trace = trace.with_power(lambda r: radio_power_mw(r, table.links))
    arr = table.arrays()
    n_pts = len(table.points)
    mask = policy.mask(n_pts)
    lat1, enc, bits = arr["edge_latency_s"], arr["encode_latency_s"], arr["bits_per_frame"]
    e_fixed = arr["edge_energy_j"] + arr["encode_energy_j"]
    slow = table.links[0].rate_mbps            # the hedge of controller.choose: the slowest link mode
    n = int(np.ceil(trace.duration_s * fps - 1e-9))
    arrival = np.arange(n) / fps
    queue = np.zeros(n, np.int64)
    point = np.full(n, -1, np.int64)
    start, done, on_air, energy, est = (np.full(n, np.nan) for _ in range(5))
    starts, dones, samples = [], [], []     # of admitted frames, in order
    waiting_from = 0                        # first admitted frame not yet started at the current arrival
    seen = 0                                # admitted frames whose sample the estimator has
    f1_prev, f2_prev, f2_prev2 = -np.inf, -np.inf, -np.inf
    current = policy.fixed
    for k in range(n):
        a = arrival[k]
        while waiting_from < len(starts) and starts[waiting_from] <= a + TIME_EPS_S:
            waiting_from += 1
        queue[k] = len(starts) - waiting_from
        if queue[k] >= queue_depth:
            continue
        s1 = max(a, f1_prev, f2_prev2)
        while seen < len(dones) and dones[seen] <= s1 + TIME_EPS_S:
            seen += 1
        if policy.mode == "fixed":
            p = policy.fixed
        elif policy.mode == "estimate":
            r_hat = harmonic_estimate(samples[max(0, seen - window):seen], window, prior_mbps)
            est[k] = r_hat
            p = choose(arr, r_hat, radio_power_mw(r_hat, table.links), fps, mask, budget_j,
                       current, policy.hysteresis, policy.prefer, slow)
        else:                               # oracle: each candidate's own time on the air
            s2c = np.maximum(s1 + lat1, f2_prev)
            tx0 = s2c + enc
            f2c = traces.time_of_bits(trace, traces.bits_at(trace, tx0) + bits)
            air = f2c - tx0
            e_air = traces.energy_at(trace, f2c) - traces.energy_at(trace, tx0)
            with np.errstate(divide="ignore", invalid="ignore"):
                rate = np.where(air > 0, bits / air / traces.MBPS, trace.rate_at(tx0))
                power = np.where(air > 0, e_air / air * 1e3, trace.power_mw[0])
            p = choose(arr, rate, power, fps, mask, budget_j, prefer=policy.prefer, slow_mbps=slow)
        current = p
        f1 = s1 + lat1[p]
        tx0 = max(f1, f2_prev) + enc[p]
        f2 = float(traces.time_of_bits(trace, traces.bits_at(trace, tx0) + bits[p]))
        point[k], start[k], done[k], on_air[k] = p, s1, f2, f2 - tx0
        energy[k] = e_fixed[p] + float(traces.energy_at(trace, f2) - traces.energy_at(trace, tx0))
        starts.append(s1)
        dones.append(f2)
        samples.append(bits[p] / (f2 - tx0) / traces.MBPS if f2 > tx0 else trace.rate_at(tx0))
        f1_prev, f2_prev2, f2_prev = f1, f2_prev, f2
    return Run(policy.name, arrival, queue, point, start, done, on_air, energy, est)


def share_of_time(run: Run, duration_s: float, n_points: int) -> np.ndarray:
    """(n_points,) fraction of [0, T] during which each point was the current choice.

    A choice made at s1_k holds until the next decision; before the first one
    the first frame's point is counted.
    """
    adm = run.point >= 0
    t = np.clip(run.start_s[adm], 0.0, duration_s)
    pts = run.point[adm]
    share = np.zeros(n_points)
    if not len(pts):
        return share
    edges = np.concatenate([[0.0], t[1:], [duration_s]])
    np.add.at(share, pts, np.diff(edges))
    return share / duration_s


def summarize(run: Run, table: Table, trace: traces.Trace, budget_j=None) -> dict:
    """The figures of issue 16 point 4 for one run (units in the keys)."""
    T = trace.duration_s
    adm = run.point >= 0
    delivered = adm & (run.done_s <= T + TIME_EPS_S)
    lat = (run.done_s - run.arrival_s)[delivered]
    pts = run.point[delivered]
    loss = table.arrays()["top1_loss_pts"][pts] if len(pts) else np.array([])
    unsplit = table.unsplit_top1_pct()
    mean_loss = float(loss.mean()) if len(loss) and not np.isnan(loss).any() else None     # None: a loss unknown
    share = share_of_time(run, T, len(table.points))
    seq = run.point[adm]
    out = {
        "policy": run.policy,
        "captured_frames": int(len(run.arrival_s)),
        "delivered_frames": int(delivered.sum()),
        "dropped_frames": int((~adm).sum()),
        "in_flight_at_end": int((adm & ~delivered).sum()),
        "delivered_fps": float(delivered.sum() / T),
        "latency_p50_ms": float(np.percentile(lat, 50) * 1e3) if len(lat) else None,
        "latency_p99_ms": float(np.percentile(lat, 99) * 1e3) if len(lat) else None,
        "energy_per_frame_mj": float(run.energy_j[delivered].mean() * 1e3) if len(lat) else None,
        "mean_top1_loss_pts": mean_loss,
        "mean_top1_pct": None if mean_loss is None or unsplit is None else unsplit - mean_loss,
        "switches": int(np.count_nonzero(seq[1:] != seq[:-1])) if len(seq) > 1 else 0,
        "share_of_time": {table.points[i].name: float(share[i]) for i in np.argsort(-share, kind="stable")
                          if share[i] > 0},
    }
    if budget_j is not None:
        out["frames_over_budget"] = int(np.count_nonzero(run.energy_j[delivered] > budget_j * (1 + 1e-12)))
    return out


def compare(table: Table, trace: traces.Trace, fps: float, queue_depth: int = DEFAULT_QUEUE_DEPTH,
            max_loss_pts: float = 1.0, budget_j=None, hysteresis: float = 0.10,
            window: int = DEFAULT_WINDOW, prefer: str = "accuracy") -> tuple:
    """The controller and every baseline on one trace: (result dict with settings, units and one
    summary per policy, [Run]).  ``fps_vs_oracle_pct`` is each policy's delivered frames/s in % of
    the oracle's."""
    from .controller import floor_mask, policies
    eligible = floor_mask(table, max_loss_pts)
    mean_rate = trace.mean_rate_mbps()
    pols = policies(table, eligible, fps, mean_rate, float(radio_power_mw(mean_rate, table.links)), budget_j,
                    hysteresis, prefer)
    runs = [simulate(table, trace, pol, fps, queue_depth, budget_j, window) for pol in pols]
    summaries = [summarize(r, table, trace, budget_j) for r in runs]
    oracle = next(s for s in summaries if s["policy"] == "oracle")["delivered_fps"]
    for s in summaries:
        s["fps_vs_oracle_pct"] = 100.0 * s["delivered_fps"] / oracle if oracle > 0 else None
    unsplit = table.unsplit_top1_pct()
    result = {
        "settings": {"trace": trace.source, "duration_s": trace.duration_s, "mean_rate_mbps": mean_rate,
                     "fps": fps, "queue_depth": queue_depth, "points": table.source,
                     "n_points": len(table.points),
                     "links": [{"name": l.name, "rate_mbps": l.rate_mbps, "power_mw": l.power_mw} for l in table.links],
                     "unsplit_top1_pct": unsplit,
                     "accuracy_floor_pct": None if unsplit is None else unsplit - max_loss_pts,
                     "max_top1_loss_pts": max_loss_pts,
                     "energy_budget_mj": None if budget_j is None else budget_j * 1e3, "hysteresis": hysteresis,
                     "prefer": prefer,
                     "window": window, "prior_mbps": float(trace.rate_mbps[0])},
        "units": {"delivered_fps": "frames/s over the trace", "latency_*_ms": "capture to last bit sent, ms",
                  "energy_per_frame_mj": "inference + encoder + radio, mJ per delivered frame",
                  "mean_top1_pct": "expected top-1 of the delivered frames' points, % (null: unsplit unknown)",
                  "mean_top1_loss_pts": "expected top-1 loss against the unsplit model, points",
                  "share_of_time": "fraction of the trace at each point", "fps_vs_oracle_pct": "% of the oracle's"},
        "policies": summaries,
    }
    return result, runs
