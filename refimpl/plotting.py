"""The one door to matplotlib (the optional ``plot`` extra).

Every ``--plot`` option calls :func:`pyplot` first, so a missing extra is one
clear line (``refimpl: error: ...``, exit 2) and never an ImportError.  The
non-interactive Agg backend is selected before pyplot is imported: the tool
runs on headless machines and writes PNG files only.
"""
from .errors import RefimplError
from .fileio import atomic_write

INSTALL_HINT = "pip install 'refimpl[plot]' (matplotlib)"


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend, or RefimplError naming the extra."""
    try:
        import matplotlib
    except ImportError:
        raise RefimplError(f"--plot needs the 'plot' extra: {INSTALL_HINT}") from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    return plt


def save_figure(fig, path) -> None:
    """Write ``fig`` to ``path`` (PNG, 120 dpi) atomically and close it."""
    import io
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120, bbox_inches="tight")
    pyplot().close(fig)
    atomic_write(path, buf.getvalue())
