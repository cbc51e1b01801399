"""Charts of the cost and feature reports (``refimpl cost --plot``, ``refimpl features --plot``).

Plots only read the report records (cost.network_cost, split.analysis.feature_rows):
every number drawn is a number of the table or JSON the same command prints.
matplotlib comes through refimpl.plotting (the 'plot' extra).

cost:     (a) clock cycles per layer, (b) MAC-array utilisation per layer (%),
          (c) energy per layer by component (microjoules, stacked), (d) cumulative MACs
          (GMAC) and cumulative DRAM traffic (MB) over the layers: the paper's Fig. 3a.
features: (a) feature-map size per layer: raw int16, lossless and JPEG bitstreams
          (kB per frame, log scale): the paper's Fig. 3b with the coded sizes beside it;
          (b) zeroth-order entropy (bits per value) and non-zero ratio (%) per layer: Fig. 4a.
"""
from __future__ import annotations

import numpy as np

from .plotting import pyplot, save_figure

PJ_PER_UJ = 1e6
BYTES_PER_KB = 1e3          # SI kilo- and megabytes, as the paper's "MB"
BYTES_PER_MB = 1e6
MACS_PER_GMAC = 1e9


def _layer_axis(ax, names):
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=60, ha="right", fontsize=8)
    ax.set_xlabel("layer")
    ax.grid(axis="y", alpha=0.3)


def cost_figure(rep: dict):
    """Four panels of a cost report (module text)."""
    plt = pyplot()
    rows = rep["layers"]
    names = [r["name"] for r in rows]
    x = np.arange(len(rows))
    fig, axes = plt.subplots(2, 2, figsize=(13, 8.5))
    fig.suptitle(f"{rep['network']} on profile {rep['profile']} ({rep['clock_mhz']:g} MHz), one frame")

    ax = axes[0, 0]
    cycles = np.array([r["cycles"] for r in rows], dtype=float)
    scale, unit = (1e6, "millions") if cycles.max() >= 1e6 else (1e3, "thousands")
    ax.bar(x, cycles / scale, color="tab:blue")
    ax.set_title(f"(a) cycles per layer (total {rep['total']['latency_s'] * 1e3:,.3f} ms at {rep['clock_mhz']:g} MHz)")
    ax.set_ylabel(f"clock cycles ({unit})")
    _layer_axis(ax, names)

    ax = axes[0, 1]
    ax.bar(x, [100 * r["utilization"] for r in rows], color="tab:green")
    ax.set_title("(b) MAC-array utilisation (MACs / (array MACs x cycles));\n"
                 "LRN and pool layers run on the post-processing unit: 0", fontsize=10)
    ax.set_ylabel("utilisation (%)")
    ax.set_ylim(0, 100)
    _layer_axis(ax, names)

    ax = axes[1, 0]
    parts = [k for k in rows[0]["energy_pj"] if k != "total"]
    bottom = np.zeros(len(rows))
    for k in parts:
        v = np.array([r["energy_pj"][k] for r in rows]) / PJ_PER_UJ
        if v.any():
            ax.bar(x, v, bottom=bottom, label=k.replace("_", " "))
            bottom += v
    ax.set_title(f"(c) energy per layer by component (total {rep['total']['energy_pj']['total'] / PJ_PER_UJ:,.1f} \u00b5J)")
    ax.set_ylabel("energy (\u00b5J)")
    ax.legend(fontsize=8)
    _layer_axis(ax, names)

    ax = axes[1, 1]
    macs = np.cumsum([r["macs"] for r in rows]) / MACS_PER_GMAC
    dram = np.cumsum([r["dram_bytes"] for r in rows]) / BYTES_PER_MB
    ax.plot(x, macs, "o-", color="tab:red", label="computation")
    ax.set_ylabel("cumulative computation (GMAC)", color="tab:red")
    ax.set_ylim(bottom=0)
    twin = ax.twinx()
    twin.plot(x, dram, "s--", color="tab:purple", label="DRAM traffic")
    twin.set_ylabel("cumulative DRAM traffic (MB)", color="tab:purple")
    twin.set_ylim(bottom=0)
    ax.set_title("(d) cumulative demand up to each layer (paper Fig. 3a)")
    _layer_axis(ax, names)
    fig.tight_layout()
    return fig


def features_figure(rep: dict):
    """Two panels of a feature report (module text)."""
    plt = pyplot()
    rows = rep["layers"]
    names = [r["layer"] for r in rows]
    x = np.arange(len(rows))
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
    frames = rep["frames"]
    fig.suptitle(f"{rep['network']} feature maps, mean over {frames} frame{'s' if frames != 1 else ''} "
                 f"(mapping {rep['mapping']}, mosaic {rep['mosaic']})")

    ax = axes[0]
    ax.bar(x, [r["raw_bytes"] / BYTES_PER_KB for r in rows], color="lightgray", label="raw int16 map")
    ax.plot(x, [r["lossless_bytes"] / BYTES_PER_KB for r in rows], "o-", label="lossless bitstream")
    for i, qf in enumerate(rep["qf"]):
        ax.plot(x, [r["jpeg"][i]["bytes"] / BYTES_PER_KB for r in rows], ".--", label=f"JPEG q{qf} bitstream")
    ax.set_yscale("log")
    ax.set_title("(a) feature size per layer (paper Fig. 3b)")
    ax.set_ylabel("size per frame (kB, log scale)")
    ax.legend(fontsize=8)
    _layer_axis(ax, names)

    ax = axes[1]
    ax.bar(x, [r["entropy_bits"] for r in rows], color="tab:blue", label="entropy")
    ax.set_ylabel("entropy (bits per value)", color="tab:blue")
    twin = ax.twinx()
    twin.plot(x, [100 * r["nonzero"] for r in rows], "o-", color="tab:orange", label="non-zero ratio")
    twin.set_ylabel("non-zero ratio (%)", color="tab:orange")
    twin.set_ylim(0, 105)
    ax.set_title("(b) entropy and non-zero ratio (paper Fig. 4a)")
    _layer_axis(ax, names)
    fig.tight_layout()
    return fig


def write(fig, path) -> None:
    """The figure as a PNG, atomically (refimpl.plotting.save_figure)."""
    save_figure(fig, path)
