"""PNG plots of the sweep's rows (one figure per paper figure; rows = profiles).

Plots only read the rows sweep.py returns; every axis names its unit.
Through refimpl/plotting.py (the ``plot`` extra; one clear line without it).
"""
from __future__ import annotations

from pathlib import Path

from .. import plotting
from . import pipeline

PART_COLORS = dict(mac="#4c72b0", buffer="#55a868", register="#8172b2", dram_weights="#c44e52",
                   dram_features="#dd8452", weight_decoder="#937860", static="#8c8c8c", encoder="#da8bc3",
                   radio="#ccb974")
SHORT = {"host-only": "host-only", "edge-only": "edge-only", "best partition (throughput)": "best for fps",
         "best partition (energy)": "best for energy"}


def _profiles(rows):
    return list(dict.fromkeys(r["profile"] for r in rows))


def _case_title(case: str) -> str:
    return {"a": "(a) without encoding (raw features)",
            "b": "(b) lossy encoding (jpeg at the ratio table's 1 %-loss QF)"}.get(
        case, f"feature codec {case}")


def _grid(plt, nrows, ncols, w=5.2, h=3.6):
    fig, axes = plt.subplots(nrows, ncols, figsize=(w * ncols, h * nrows), squeeze=False)
    return fig, axes


def fig07(rows, path, title: str = ""):
    plt = plotting.pyplot()
    profs = _profiles(rows)
    cases = list(dict.fromkeys(r["case"] for r in rows))
    fig, axes = _grid(plt, len(profs), len(cases), w=6.2)
    for i, prof in enumerate(profs):
        for j, case in enumerate(cases):
            ax = axes[i][j]
            rs = [r for r in rows if r["profile"] == prof and r["case"] == case]
            x = range(len(rs))
            ax.bar([k - 0.2 for k in x], [r["inference_latency_s"] * 1e3 for r in rs], 0.4, label="inference",
                   color="#4c72b0")
            ax.bar([k + 0.2 for k in x], [r["stage2_latency_s"] * 1e3 for r in rs], 0.4,
                   label="encode + transmit", color="#ccb974")
            ax.set_yscale("log")
            ax.set_ylabel("stage latency (ms per frame)")
            ax.set_xticks(list(x))
            ax.set_xticklabels([r["point"] for r in rs], rotation=45, ha="right")
            ax2 = ax.twinx()
            ax2.plot(list(x), [r["throughput_fps"] for r in rs], "ko-", label="throughput")
            ax2.set_ylabel("throughput (frames/s)")
            ax2.set_ylim(0, max(r["throughput_fps"] for r in rs) * 1.15)
            ax.set_title(f"{prof}: {_case_title(case)}", fontsize=9)
            if i == 0 and j == 0:
                h1, l1 = ax.get_legend_handles_labels()
                h2, l2 = ax2.get_legend_handles_labels()
                fig.legend(h1 + h2, l1 + l2, fontsize=8, loc="lower center", ncol=3)
    fig.suptitle(title or "Fig. 7: system throughput of the edge, AlexNet, 2 Mbps (weights as each profile stores them)")
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    plotting.save_figure(fig, path)


def fig08(rows, path, title: str = ""):
    plt = plotting.pyplot()
    profs = _profiles(rows)
    cases = list(dict.fromkeys(r["case"] for r in rows))
    fig, axes = _grid(plt, len(profs), len(cases))
    handles = {}
    for i, prof in enumerate(profs):
        for j, case in enumerate(cases):
            ax = axes[i][j]
            rs = [r for r in rows if r["profile"] == prof and r["case"] == case]
            x = list(range(len(rs)))
            bottom = [0.0] * len(rs)
            for part in pipeline.PARTS:
                vals = [r[f"energy_{part}_j"] * 1e3 for r in rs]
                if any(v > 0 for v in vals):
                    ax.bar(x, vals, 0.7, bottom=bottom, label=part.replace("_", " "), color=PART_COLORS[part])
                    bottom = [b + v for b, v in zip(bottom, vals)]
            for k, b in zip(x, bottom):
                ax.annotate(f"{b:.3g}", (k, b), ha="center", va="bottom", fontsize=6)
            ax.set_ylabel("energy (mJ per frame)")
            ax.set_ylim(0, max(bottom) * 1.12)
            ax.set_xticks(x)
            ax.set_xticklabels([r["point"] for r in rs], rotation=45, ha="right")
            ax.set_title(f"{prof}: {_case_title(case)}", fontsize=9)
            for h, lab in zip(*ax.get_legend_handles_labels()):
                handles.setdefault(lab, h)
    order = [p.replace("_", " ") for p in pipeline.PARTS if p.replace("_", " ") in handles]
    fig.legend([handles[k] for k in order], order, fontsize=8, loc="lower center", ncol=len(order))
    fig.suptitle(title or "Fig. 8: energy breakdown of the edge per frame, AlexNet, 2 Mbps")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    plotting.save_figure(fig, path)


PAPER_FIG9 = {"raw": (4.5, 7.5, 1.2, 1.15), "jpeg-ft": (15.3, 16.5, 2.3, 2.5)}   # paper section 4.2


def fig09(rows, path):
    plt = plotting.pyplot()
    profs = _profiles(rows)
    fig, axes = _grid(plt, 1, len(profs), w=6.0)
    keys = (("energy_x_host", "energy eff. vs host-only"), ("throughput_x_host", "throughput vs host-only"),
            ("energy_x_edge", "energy eff. vs edge-only"), ("throughput_x_edge", "throughput vs edge-only"))
    colors = ("#55a868", "#4c72b0", "#8fd19e", "#8fb0e0")
    for i, prof in enumerate(profs):
        ax = axes[0][i]
        rs = [r for r in rows if r["profile"] == prof]
        for k, ((key, lab), col) in enumerate(zip(keys, colors)):
            xs = [c + (k - 1.5) * 0.2 for c in range(len(rs))]
            ax.bar(xs, [r[key] for r in rs], 0.2, label=lab, color=col)
            for c, r in enumerate(rs):
                if r["feature_codec"] in PAPER_FIG9:
                    ax.plot(xs[c], PAPER_FIG9[r["feature_codec"]][k], "k_", markersize=12, mew=2,
                            label="paper" if (k == 0 and c == 0) else None)
        ax.axhline(1.0, color="k", lw=0.6)
        ax.set_yscale("log")
        ax.set_ylabel("improvement of the best partition (x)")
        ax.set_xticks(range(len(rs)))
        ax.set_xticklabels([r["feature_codec"] for r in rs])
        ax.set_xlabel("feature codec")
        ax.set_title(f"{prof}", fontsize=9)
        if i == 0:
            fig.legend(*ax.get_legend_handles_labels(), fontsize=8, loc="lower center", ncol=5)
    fig.suptitle("Fig. 9: improvement of the best partition, AlexNet, 2 Mbps (black bars: the paper's figures)")
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    plotting.save_figure(fig, path)


def _approach_panel(ax, rs, title):
    sel = rs
    names = [SHORT.get(r["approach"], "last conv stage") for r in sel]
    x = range(len(sel))
    ax.bar([k - 0.2 for k in x], [r["throughput_fps"] for r in sel], 0.4, color="#4c72b0", label="throughput (frames/s)")
    ax.bar([k + 0.2 for k in x], [r["frames_per_j"] for r in sel], 0.4, color="#55a868",
           label="energy efficiency (frames/J)")
    ax.set_yscale("log")
    ax.set_ylabel("frames/s or frames/J")
    ax.set_xticks(list(x))
    ax.set_xticklabels([f"{n}\n({r['point']})" if n != r["point"] else n for n, r in zip(names, sel)], fontsize=7)
    ax.set_title(title, fontsize=9)


def fig10(rows, demand, path):
    plt = plotting.pyplot()
    profs = _profiles(rows)
    fig, axes = _grid(plt, len(profs), 3)
    for i, prof in enumerate(profs):
        for j, net in enumerate(("vgg16", "resnet50")):
            _approach_panel(axes[i][j], [r for r in rows if r["profile"] == prof and r["network"] == net],
                            f"{prof}: ({'ab'[j]}) {net}, jpeg-ft, 2 Mbps")
        ax = axes[i][2]
        ds = [d for d in demand if d["profile"] == prof]
        x = range(len(ds))
        ax.bar([k - 0.2 for k in x], [d["macs"] / 1e9 for d in ds], 0.4, color="#4c72b0", label="MACs (G)")
        ax.bar([k + 0.2 for k in x], [d["dram_weight_bytes"] / 1e6 for d in ds], 0.4, color="#c44e52",
               label="weight DRAM (MB, as stored)")
        ax.set_yscale("log")
        ax.set_ylabel("G MACs or MB per frame")
        ax.set_xticks(list(x))
        ax.set_xticklabels([d["network"] for d in ds])
        ax.set_title(f"{prof}: (c) inference demand per frame", fontsize=9)
        if i == 0:
            axes[i][0].legend(fontsize=7)
            ax.legend(fontsize=7)
    fig.suptitle("Fig. 10: host-only, edge-only and the best partition for VGG-16 and ResNet-50")
    fig.tight_layout()
    plotting.save_figure(fig, path)


def fig11(rows, path):
    plt = plotting.pyplot()
    profs = _profiles(rows)
    names = list(dict.fromkeys(r["link"] for r in rows))
    fig, axes = _grid(plt, len(profs), len(names))
    for i, prof in enumerate(profs):
        for j, name in enumerate(names):
            rs = [r for r in rows if r["profile"] == prof and r["link"] == name]
            _approach_panel(axes[i][j], rs, f"{prof}: {rs[0]['rate_mbps']:g} Mbps, {rs[0]['power_mw']:g} mW")
        axes[i][0].legend(fontsize=7)
    fig.suptitle("Fig. 11: AlexNet with jpeg-ft features at each link mode of the paper's transmitter")
    fig.tight_layout()
    plotting.save_figure(fig, path)


def fig12(rows, labels: list, path):
    """Heat maps of the optimal point (colour = point, in network order) over rate x energy per bit."""
    plt = plotting.pyplot()
    from matplotlib.colors import BoundaryNorm, ListedColormap
    profs = _profiles(rows)
    fig, axes = _grid(plt, len(profs), 2, w=5.6, h=4.2)
    cmap = ListedColormap(plt.get_cmap("tab10").colors[:len(labels)])
    norm = BoundaryNorm([k - 0.5 for k in range(len(labels) + 1)], len(labels))
    for i, prof in enumerate(profs):
        rs = [r for r in rows if r["profile"] == prof]
        rates = sorted({r["rate_mbps"] for r in rs})
        ebits = sorted({r["nj_per_bit"] for r in rs})
        for j, key in enumerate(("best_throughput", "best_energy")):
            ax = axes[i][j]
            cell = {(r["rate_mbps"], r["nj_per_bit"]): labels.index(r[key]) for r in rs}
            z = [[cell[(rate, e)] for e in ebits] for rate in rates]
            m = ax.pcolormesh(ebits, rates, z, cmap=cmap, norm=norm, shading="nearest")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("radio energy (nJ per bit)")
            ax.set_ylabel("link rate (Mbps)")
            for rate, mw in ((1, 62.7), (2, 99.0), (22, 660.0)):
                ax.plot(mw / rate, rate, "w*", markersize=10, markeredgecolor="k")
            ax.set_title(f"{prof}: optimal point for {'throughput' if j == 0 else 'energy'}", fontsize=9)
            cb = fig.colorbar(m, ax=ax, ticks=range(len(labels)))
            cb.ax.set_yticklabels(labels, fontsize=7)
    fig.suptitle("Fig. 12: optimal partition, AlexNet, jpeg-ft (stars: the Redpine module's 1, 2, 22 Mbps modes)")
    fig.tight_layout()
    plotting.save_figure(fig, path)


def write_all(out: dict, folder: Path, labels: list) -> list:
    """Every figure's PNG into ``folder``; returns the file names."""
    names = []
    for name, call in (("fig07.png", lambda p: fig07(out["fig07-08"], p)),
                       ("fig08.png", lambda p: fig08(out["fig07-08"], p)),
                       ("fig09.png", lambda p: fig09(out["fig09"], p)),
                       ("fig10.png", lambda p: fig10(out["fig10"], out["fig10c"], p)),
                       ("fig11.png", lambda p: fig11(out["fig11"], p)),
                       ("fig12.png", lambda p: fig12(out["fig12"], labels, p))):
        call(folder / name)
        names.append(name)
    return names
