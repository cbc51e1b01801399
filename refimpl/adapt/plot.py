"""PNG of a run: the trace, the chosen layer, codec and QF over time, and the camera queue.

Reads the Run logs only (simulate.py); matplotlib through refimpl.plotting.
"""
from __future__ import annotations

import numpy as np

from ..plotting import pyplot, save_figure
from .points import Table
from .simulate import Run
from .traces import Trace

STYLE = {"adaptive": ("tab:blue", "-"), "oracle": ("tab:orange", "--"), "paper-static": ("tab:gray", ":"),
         "partition-only": ("tab:green", "-."), "static-mean": ("tab:purple", ":")}


BINS = 300                      # the queue is averaged over T / BINS: per frame it flickers too fast to read


def _binned(run: Run, T: float):
    """(bin centres s, mean queue length in frames found by the arrivals of each bin)."""
    edges = np.linspace(0.0, T, BINS + 1)
    which = np.clip(np.searchsorted(edges, run.arrival_s, side="right") - 1, 0, BINS - 1)
    count = np.bincount(which, minlength=BINS)
    total = np.bincount(which, weights=run.queue, minlength=BINS)
    with np.errstate(invalid="ignore"):
        return (edges[:-1] + edges[1:]) / 2, total / count


def _coding(p) -> str:
    """A point's codec and QF as one label; a jpeg row without a QF is at the table's 1%-loss QF."""
    if p.qf is not None:
        return f"{p.codec} q{p.qf}"
    return f"{p.codec} (1%-loss QF)" if p.codec in ("jpeg", "jpeg-ft") else p.codec


def _coding_order(label: str):
    codec, _, rest = label.partition(" ")
    rank = {"raw": 0, "lossless": 1, "jpeg": 2, "jpeg-ft": 3, "top5": 4}.get(codec, 5)
    return rank, int(rest[1:]) if rest.startswith("q") else 0, label


def plot_runs(path, table: Table, trace: Trace, runs: list, title: str, shown=("adaptive", "oracle")):
    """Four panels sharing the time axis (s): rate (Mbps), partition layer, codec and QF, queue (frames)."""
    plt = pyplot()
    fig, ax = plt.subplots(4, 1, figsize=(10, 9), sharex=True,
                           gridspec_kw={"height_ratios": [2, 2, 1.3, 1.3]})
    T = trace.duration_s
    ax[0].step(np.append(trace.time_s, T), np.append(trace.rate_mbps, trace.rate_mbps[-1]), where="post",
               color="black", lw=1, label="trace rate")
    layers = list(dict.fromkeys(p.layer for p in table.points))
    codings = sorted(dict.fromkeys(_coding(p) for p in table.points), key=_coding_order)
    for run in runs:
        if run.policy not in shown:
            continue
        color, ls = STYLE.get(run.policy, ("tab:red", "-"))
        adm = run.point >= 0
        t = run.start_s[adm]
        pts = run.point[adm]
        if run.policy == "adaptive":
            ax[0].step(t, run.estimate_mbps[adm], where="post", color=color, lw=1, label="controller estimate")
            ax[3].plot(*_binned(run, T), color=color, lw=1.2, label=run.policy)
        layer_ix = np.array([layers.index(table.points[i].layer) for i in pts])
        coding_ix = np.array([codings.index(_coding(table.points[i])) for i in pts])
        ax[1].step(t, layer_ix, where="post", color=color, ls=ls, lw=1.2, label=run.policy)
        ax[2].step(t, coding_ix, where="post", color=color, ls=ls, lw=1.2, label=run.policy)
        if run.policy != "adaptive":
            ax[3].plot(*_binned(run, T), color=color, ls=ls, lw=1.2, label=run.policy)
    ax[0].set_ylabel("rate (Mbps)")
    ax[0].set_yscale("log")
    ax[0].legend(loc="upper right", fontsize=8)
    ax[1].set_yticks(range(len(layers)), layers, fontsize=7)
    ax[1].set_ylabel("partition layer")
    ax[1].legend(loc="upper right", fontsize=8)
    ax[2].set_yticks(range(len(codings)), codings, fontsize=7)
    ax[2].set_ylabel("codec, QF")
    ax[3].set_ylabel(f"queue (frames,\nmean per {T / BINS:.3g} s)")
    ax[3].set_ylim(0, 1.1 * max([1.0] + [float(np.nanmax(_binned(r, T)[1])) for r in runs if r.policy in shown]))
    ax[3].set_xlabel("time (s)")
    ax[3].legend(loc="upper right", fontsize=8)
    ax[3].set_xlim(0, T)
    for a in ax:
        a.grid(True, alpha=0.3)
    ax[0].set_title(title, fontsize=9)
    save_figure(fig, path)
