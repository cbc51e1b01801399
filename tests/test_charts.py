"""refimpl cost --plot and refimpl features --plot (refimpl.charts on the 'plot' extra).

The drawn numbers are checked against independent values: hand-derived MAC
counts of alexnet-cifar and a hand-made feature report; titles and axis
labels must carry their units.  Without matplotlib, --plot is one line naming
the extra, before any work.
"""
import builtins

import numpy as np
import pytest

from refimpl import charts, cost, networks, profile
from refimpl.cli import main

PNG = b"\x89PNG\r\n\x1a\n"
# alexnet-cifar MACs per layer, by hand: Cout*H*W * Cin/groups*k*k (fc: Nout*Nin)
MACS = {"conv1": 64 * 32 * 32 * 3 * 25, "conv2": 128 * 15 * 15 * 32 * 25, "conv3": 192 * 7 * 7 * 128 * 9,
        "conv4": 192 * 7 * 7 * 96 * 9, "conv5": 128 * 7 * 7 * 96 * 9, "fc6": 512 * 1152, "fc7": 256 * 512,
        "fc8": 10 * 256}
pytest.importorskip("matplotlib", reason="the plot extra (matplotlib) is not installed")


def labels(fig):
    return [(ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) for ax in fig.axes]


def test_cost_plot_cli_writes_a_png_and_keeps_stdout(tmp_path, capsys):
    assert main(["cost", "--network", "alexnet-cifar", "--plot", str(tmp_path / "c.png")]) == 0
    out, err = capsys.readouterr()
    assert (tmp_path / "c.png").read_bytes()[:8] == PNG
    assert err == f"wrote {tmp_path / 'c.png'}\n"
    assert main(["cost", "--network", "alexnet-cifar"]) == 0
    assert out == capsys.readouterr()[0]


def test_cost_figure_draws_the_report():
    spec = networks.get("alexnet-cifar")
    rep = cost.network_cost(spec, profile.load_profile("paper-28nm"))
    fig = charts.cost_figure(rep)
    (a, b, c, d, d_twin) = fig.axes
    names = [l.name for l in spec.layers]
    macs = np.cumsum([MACS.get(n, 0) for n in names]) / 1e9
    assert np.array_equal(d.lines[0].get_ydata(), macs)                      # Fig. 3a: cumulative GMAC
    assert np.allclose(d_twin.lines[0].get_ydata(), np.cumsum([r["dram_bytes"] for r in rep["layers"]]) / 1e6)
    assert [p.get_height() for p in a.patches] == [r["cycles"] / 1e3 for r in rep["layers"]]
    util = [p.get_height() for p in b.patches]
    assert util[names.index("conv1")] == pytest.approx(100 * MACS["conv1"] / (144 * rep["layers"][0]["cycles"]))
    assert util[names.index("pool1")] == 0
    stacked = np.zeros(len(names))
    for p in c.patches:
        stacked[round(p.get_x() + p.get_width() / 2)] += p.get_height()
    assert np.allclose(stacked, [r["energy_pj"]["total"] / 1e6 for r in rep["layers"]])   # the parts add up
    text = labels(fig)
    assert text[0][2] == "clock cycles (thousands)" and "ms at 200 MHz" in text[0][0]
    assert text[1][2] == "utilisation (%)" and text[2][2] == "energy (\u00b5J)"
    assert text[3][2] == "cumulative computation (GMAC)" and text[4][2] == "cumulative DRAM traffic (MB)"
    assert all(t[1] == "layer" for t in text[:4])
    assert fig._suptitle.get_text() == "alexnet-cifar on profile paper-28nm (200 MHz), one frame"


def feature_report():
    """A hand-made feature report: three layers, two qualities."""
    rows = [dict(layer=n, raw_bytes=raw, lossless_bytes=ll, entropy_bits=h, nonzero=nz,
                 jpeg=[dict(qf=10, bytes=j10), dict(qf=50, bytes=j50)])
            for n, raw, ll, h, nz, j10, j50 in [("input", 6144, 2560, 8.0, 1.0, 300, 450),
                                                ("conv1", 131072, 50000, 5.5, 0.38, 1800, 6000),
                                                ("fc8", 20, 110, 3.3, 1.0, 100, 105)]]
    return dict(network="net", frames=2, mapping="shift", mosaic="packed", qf=[10, 50], layers=rows)


def test_features_figure_draws_the_report(tmp_path):
    fig = charts.features_figure(feature_report())
    (a, b, b_twin) = fig.axes
    assert [p.get_height() for p in a.patches] == [6.144, 131.072, 0.02]                # kB
    assert [list(l.get_ydata()) for l in a.lines] == [[2.56, 50.0, 0.11], [0.3, 1.8, 0.1], [0.45, 6.0, 0.105]]
    assert [l.get_label() for l in a.lines] == ["lossless bitstream", "JPEG q10 bitstream", "JPEG q50 bitstream"]
    assert a.get_yscale() == "log"
    assert [p.get_height() for p in b.patches] == [8.0, 5.5, 3.3]
    assert list(b_twin.lines[0].get_ydata()) == [100.0, 38.0, 100.0]
    assert labels(fig) == [("(a) feature size per layer (paper Fig. 3b)", "layer", "size per frame (kB, log scale)"),
                           ("(b) entropy and non-zero ratio (paper Fig. 4a)", "layer", "entropy (bits per value)"),
                           ("", "", "non-zero ratio (%)")]
    assert "mean over 2 frames" in fig._suptitle.get_text()
    charts.write(fig, tmp_path / "f.png")
    assert (tmp_path / "f.png").read_bytes()[:8] == PNG


@pytest.mark.parametrize("argv", [["cost", "--plot", "x.png"], ["features", "--plot", "x.png"]])
def test_plot_without_the_extra_is_one_line(monkeypatch, tmp_path, capsys, argv):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == ("refimpl: error: --plot needs the 'plot' extra: "
                                 "pip install 'refimpl[plot]' (matplotlib)\n")
    assert not (tmp_path / "x.png").exists()


def test_unwritable_plot_path_is_one_line_and_no_table(tmp_path, capsys):
    (tmp_path / "f").write_text("a file, not a folder")
    assert main(["cost", "--network", "alexnet-cifar", "--plot", str(tmp_path / "f" / "c.png")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(f"refimpl: error: {tmp_path / 'f' / 'c.png'}: ") and err.count("\n") == 1
