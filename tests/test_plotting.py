"""The plot door: a PNG when matplotlib is there, one clear line when it is not."""
import builtins

import pytest

from refimpl import plotting
from refimpl.errors import RefimplError


def test_missing_extra_is_one_line(monkeypatch):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(RefimplError, match=r"'plot' extra: pip install 'refimpl\[plot\]'"):
        plotting.pyplot()


def test_save_figure_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib", reason="the plot extra (matplotlib) is not installed")
    plt = plotting.pyplot()
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    out = tmp_path / "f.png"
    plotting.save_figure(fig, out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
