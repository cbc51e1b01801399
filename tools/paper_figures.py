"""Markdown tables of the paper experiments from their JSON reports (README "Paper experiments").

    python tools/paper_figures.py [--dir refimpl/data/experiments]

Reads sparsity.json, compression.json, qf-sweep*.json and input.json (those
present) as `refimpl experiment NAME` wrote them and prints one markdown table
each; the README's tables are this output, so they can be regenerated after a
rerun.  Reads files only; computes nothing but formatting.
"""
import argparse
import json
import sys
from pathlib import Path

DEFAULT = Path(__file__).resolve().parents[1] / "refimpl" / "data" / "experiments"


def _load(d: Path, name: str):
    p = d / f"{name}.json"
    return json.loads(p.read_text()) if p.exists() else None


def _table(head, rows, align):
    out = ["| " + " | ".join(head) + " |", "| " + " | ".join("---:" if a == "r" else "---" for a in align) + " |"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def sparsity(rep):
    rows = [[r["layer"], "x".join(map(str, r["shape"])), f"{r['entropy_bits']:.2f}", f"{100 * r['nonzero']:.1f}"]
            for r in rep["layers"]]
    return _table(["layer", "CxHxW", "entropy (bits/value)", "non-zero (%)"], rows, "llrr")


def compression(rep):
    rows = []
    for r in rep["layers"]:
        j, k = r["jpeg"], r["kbit"]
        row = [r["layer"], "x".join(map(str, r["shape"])), f"{r['raw_bytes']:,}", f"{r['lossless']['bytes']:,.1f}",
               f"{r['lossless']['ratio']:.2f}x"]
        if j:
            row += [f"{j['mapping']}/{j['mosaic']} QF {j['qf']}", f"{j['val']['loss_pp']:.2f}",
                    f"{j['test']['bytes']:,.1f}", f"**{j['test']['ratio']:.1f}x**", f"{j['test']['top1_pct']:.2f}",
                    f"{j['test']['loss_pp']:.2f}"]
        else:
            row += ["none meets 1 %", "", "", "", "", ""]
        if k:
            row += [f"k = {k['k']}", f"{k['test']['bytes']:,.1f}", f"{k['test']['ratio']:.1f}x",
                    f"{k['test']['loss_pp']:.2f}"]
        else:
            row += ["none", "", "", ""]
        row.append(("JPEG" if j["test"]["bytes"] < k["test"]["bytes"] else "k-bit") if j and k else "")
        rows.append(row)
    head = ["layer", "CxHxW", "raw (B)", "lossless (B)", "lossless ratio", "JPEG operating point (val)",
            "val loss (points)", "JPEG test (B)", "JPEG test ratio", "JPEG test top-1 (%)", "JPEG test loss (points)",
            "k-bit peer (val)", "k-bit test (B)", "k-bit ratio", "k-bit test loss (points)", "fewer bytes"]
    return _table(head, rows, "llrrrlrrrrrlrrrl")


def sweep(rep):
    rows = [[p["qf"], f"{p['bytes']:,.1f}", f"{p['ratio']:.2f}x", f"{p['top1_pct']:.2f}", f"{p['loss_pp']:.2f}",
             f"{100 * p['agreement']:.2f}"] for p in rep["points"]]
    return _table(["QF", "bytes per frame", "ratio", "top-1 (%)", "loss (points)", "agreement with unsplit (%)"],
                  rows, "rrrrrr")


def inputs(rep):
    rows = [[p["qf"], f"{p['bytes']:,.1f}", f"{p['ratio']:.2f}x", f"{p['full_bytes']:,.1f}", f"{p['full_ratio']:.2f}x",
             f"{p['top1_pct']:.2f}", f"{p['loss_pp']:.2f}"] for p in rep["points"]]
    return _table(["QF", "abbreviated (B)", "ratio", "JFIF file (B)", "JFIF ratio", "top-1 (%)", "loss (points)"],
                  rows, "rrrrrrr")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default=str(DEFAULT), help="folder of the JSON reports (default refimpl/data/experiments)")
    d = Path(ap.parse_args(argv).dir)
    found = False
    for name, fn in (("sparsity", sparsity), ("compression", compression), ("input", inputs)):
        rep = _load(d, name)
        if rep:
            found = True
            print(f"### {name}\n\n{fn(rep)}\n")
    for p in sorted(d.glob("qf-sweep*.json")):
        rep = json.loads(p.read_text())
        found = True
        print(f"### {p.stem}: {rep['layer']}, {rep['weights']}\n\n{sweep(rep)}\n")
    if not found:
        print(f"tools/paper_figures.py: error: no experiment reports in {d}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
