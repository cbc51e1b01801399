"""One PNG per paper figure, drawn from the experiments' report dicts only
(matplotlib through refimpl.plotting: one clear error when the extra is missing)."""
from __future__ import annotations

from ..plotting import pyplot, save_figure


def _title(rep, text):
    n = rep.get("images") or rep.get("sets", {}).get("test", {}).get("images")
    return f"{text}\n{rep['network']}, {n:,} CIFAR-10 test images" + (" (--quick)" if rep.get("quick") else "")


def sparsity(rep, path):
    """Fig. 4a: entropy (bits/value) and non-zero ratio (%) per layer."""
    plt = pyplot()
    rows = rep["layers"]
    names = [r["layer"] for r in rows]
    x = range(len(rows))
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.bar([i - 0.2 for i in x], [r["entropy_bits"] for r in rows], width=0.4, color="tab:blue", label="entropy")
    ax.set_ylabel("entropy (bits per value)")
    ax2 = ax.twinx()
    ax2.bar([i + 0.2 for i in x], [100 * r["nonzero"] for r in rows], width=0.4, color="tab:orange", label="non-zero")
    ax2.set_ylabel("non-zero values (%)")
    ax2.set_ylim(0, 105)
    ax.set_xticks(list(x), names, rotation=45)
    ax.set_xlabel("layer whose output is coded")
    fig.legend(loc="upper center", bbox_to_anchor=(0.5, 0.88), ncol=2)
    ax.set_title(_title(rep, "Fig. 4a: entropy and non-zero ratio of the features"))
    save_figure(fig, path)


def compression(rep, path):
    """Fig. 4b: lossless ratio and lossy ratio at 1 % loss per layer (and the k-bit peer)."""
    plt = pyplot()
    rows = rep["layers"]
    names = [r["layer"] for r in rows]
    x = list(range(len(rows)))
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.plot(x, [r["lossless"]["ratio"] for r in rows], "o-", label="lossless (run-length + Huffman)")
    ax.plot(x, [r["jpeg"]["test"]["ratio"] if r["jpeg"] else float("nan") for r in rows], "s-",
            label="JPEG at 1 % loss (QF on val, test figure)")
    ax.plot(x, [r["kbit"]["test"]["ratio"] if r["kbit"] else float("nan") for r in rows], "^--",
            label="k-bit uniform + lossless at 1 % loss")
    for i, r in enumerate(rows):
        if r["jpeg"]:
            ax.annotate(f"QF {r['jpeg']['qf']}", (i, r["jpeg"]["test"]["ratio"]), textcoords="offset points",
                        xytext=(0, 6), ha="center", fontsize=7)
    ax.set_yscale("log")
    from matplotlib.ticker import FuncFormatter
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" if f"{v:g}"[0] in "25" else ""))
    ax.set_ylabel("compression ratio (16-bit raw bytes / bitstream bytes)")
    ax.set_xticks(x, names, rotation=45)
    ax.set_xlabel("layer whose output is coded")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(_title(rep, "Fig. 4b: compression ratio per layer"))
    save_figure(fig, path)


def qf_sweep(rep, path, others=()):
    """Fig. 5b: compression ratio and accuracy loss against QF (with any other sweep of
    the same layer, e.g. after fine-tuning, overlaid)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax2 = ax.twinx()
    curves = [rep] + [o for o in others if o and o.get("layer") == rep["layer"]]
    for c, style in zip(curves, ("-", "--", ":", "-.")):
        tag = "shipped" if c["weights"].startswith("trained weights") else c["weights"].split("/")[-1]
        qf = [p["qf"] for p in c["points"]]
        ax.plot(qf, [p["ratio"] for p in c["points"]], "o" + style, color="tab:blue", ms=3, label=f"ratio ({tag})")
        ax2.plot(qf, [p["loss_pp"] for p in c["points"]], "s" + style, color="tab:red", ms=3, label=f"loss ({tag})")
    ax2.axhline(rep["loss_pp_target"], color="grey", lw=0.8, ls=":")
    ax.set_xlabel("JPEG quality factor (QF)")
    ax.set_ylabel("compression ratio (x)", color="tab:blue")
    ax2.set_ylabel("top-1 accuracy loss (percentage points)", color="tab:red")
    ax.grid(True, alpha=0.3)
    fig.legend(loc="center right", fontsize=7, bbox_to_anchor=(0.86, 0.6))
    ax.set_title(_title(rep, f"Fig. 5b: {rep['layer']} features, {rep['mapping']}/{rep['mosaic']}"))
    save_figure(fig, path)


def input_jpeg(rep, path):
    """Host-only: ratio of the JPEG-coded picture and top-1 against QF."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax2 = ax.twinx()
    qf = [p["qf"] for p in rep["points"]]
    ax.plot(qf, [p["ratio"] for p in rep["points"]], "o-", color="tab:blue", ms=3, label="ratio, abbreviated")
    ax.plot(qf, [p["full_ratio"] for p in rep["points"]], "o--", color="tab:blue", ms=3, label="ratio, JFIF file")
    ax2.plot(qf, [p["top1_pct"] for p in rep["points"]], "s-", color="tab:red", ms=3, label="top-1")
    ref = rep["points"][0]["ref_top1_pct"]
    ax2.axhline(ref - rep["loss_pp_target"], color="grey", lw=0.8, ls=":", label="reference - 1 point")
    ax.set_xlabel("JPEG quality factor (QF) of the picture")
    ax.set_ylabel("compression ratio against 16-bit input (x)", color="tab:blue")
    ax2.set_ylabel("top-1 (%)", color="tab:red")
    ax.grid(True, alpha=0.3)
    fig.legend(loc="upper center", fontsize=7, ncol=2, bbox_to_anchor=(0.5, 0.88))
    ax.set_title(_title(rep, "Host-only inference on the JPEG-coded picture"))
    save_figure(fig, path)
